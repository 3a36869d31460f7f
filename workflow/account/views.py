"""账户: the profile (role, department, language, personal API tokens) and the in-app inbox."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from forms import apply_errors
from forms.account import LocaleForm, PasswordChangeForm, TokenForm
from workflow.account import services
from workflow.auth import tokens
from workflow.clock import utcnow
from workflow.converters import page_arg, parse_ids
from workflow.domain import ValidationFailed
from workflow.extensions import db

bp = Blueprint("account", __name__, url_prefix="/account")


def render_profile(*, token_form: TokenForm | None = None, new_token: str | None = None,
                   password_form: PasswordChangeForm | None = None, status: int = 200):
    locale_form = LocaleForm(formdata=None, data={"locale": session.get("locale") or current_user.locale
                                                  or "zh_Hans_CN"})
    return render_template("account/profile.html", token_form=token_form or TokenForm(formdata=None),
                           password_form=password_form or PasswordChangeForm(formdata=None),
                           locale_form=locale_form, tokens=tokens.tokens_of(current_user), new_token=new_token), status


@bp.route("/")
@login_required
def profile():
    return render_profile()


@bp.route("/tokens", methods=["POST"])
@login_required
def create_token():
    form = TokenForm()
    if not form.validate():
        return render_profile(token_form=form, status=422)
    _row, token = tokens.create_token(current_user, name=form.name.data or "", now=utcnow(), actor=current_user)
    # Shown in this response only: it is stored as a hash and never put in the session or a redirect.
    body, status = render_profile(new_token=token)
    return body, status, {"Cache-Control": "no-store"}


@bp.route("/tokens/<id:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    row = tokens.revoke_token(token_id, actor=current_user, now=utcnow())
    flash(_("已撤销令牌 %(prefix)s…", prefix=row.prefix), "success")
    return redirect(url_for("account.profile"))


@bp.route("/password", methods=["POST"])
@login_required
def change_password():
    form = PasswordChangeForm()
    try:
        services.change_password(current_user, current=form.current_password.data or "",
                                 new=form.new_password.data or "", confirm=form.confirm_password.data or "",
                                 now=utcnow())
    except ValidationFailed as exc:
        db.session.rollback()
        apply_errors(form, exc.errors)
        return render_profile(password_form=form, status=422)
    # Every other session ended with the old epoch; this one continues under the new one.
    login_user(current_user._get_current_object(),
               remember=bool(request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token"))))
    flash(_("密码已修改，其他设备上的登录已失效。"), "success")
    return redirect(url_for("account.profile"))


@bp.route("/sessions/end", methods=["POST"])
@login_required
def end_sessions():
    services.end_sessions(current_user, now=utcnow())
    logout_user()
    flash(_("已在所有设备上退出登录。"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
@login_required
def set_language():
    form = LocaleForm()
    try:
        services.set_locale(current_user, form.locale.data or "")
    except ValidationFailed:
        db.session.rollback()
        abort(400)
    session["locale"] = current_user.locale
    flash(_("语言偏好已保存。"), "success")
    return redirect(url_for("account.profile"))


@bp.route("/inbox")
@login_required
def inbox():
    return render_template("account/inbox.html", inbox=services.inbox(current_user, page_arg()))


@bp.route("/inbox/read", methods=["POST"])
@login_required
def mark_read():
    """标为已读 for the ticked (or the one button's) rows; 全部标为已读 with all=1."""
    ids = None if request.form.get("all") else parse_ids(request.form.getlist("ids"))
    n = services.mark_read(current_user, ids, utcnow())
    if n:
        flash(_("已将 %(n)d 条消息标为已读。", n=n), "success")
    page = page_arg(request.form)
    return redirect(url_for("account.inbox", page=page if page > 1 else None))


def _safe_link(link: str) -> str:
    """Only same-site paths: a notification link never sends the user elsewhere."""
    parts = urlsplit(link or "")
    if link and not parts.scheme and not parts.netloc and link.startswith("/") and not link.startswith("//"):
        return link
    return url_for("account.inbox")


@bp.route("/inbox/<id:notification_id>")
@login_required
def open_notification(notification_id: int):
    note = services.open_notification(current_user, notification_id, utcnow())
    return redirect(_safe_link(note.link))
