"""The admin mailbox: every outbox message on every channel (mail, SMS, group robots; pending, sent, parked),
one message's bodies, and retrying a parked one.

Its own blueprint under /admin (admins only). Without MAIL_SERVER this page is where the mail "goes"."""
from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from forms.admin import ActionForm
from models import Channel, Notification, OutboxEmail, User
from models.notify import EmailStatus
from workflow.admin.views import require_admin
from workflow.clock import utcnow
from workflow.config import channel_settings, mail_settings
from workflow.converters import page_arg
from workflow.extensions import db
from workflow.mail.smtp import retry_parked
from workflow.pagination import paginate

bp = Blueprint("mailbox", __name__, url_prefix="/admin")
bp.before_request(require_admin)

PER_PAGE = 50


def _failures() -> tuple[int, list[OutboxEmail]]:
    """Messages whose last attempt failed (parked, or pending a retry): how many, and the latest few."""
    failing = (OutboxEmail.last_error != "") & (
        (OutboxEmail.status == EmailStatus.PARKED)
        | ((OutboxEmail.status == EmailStatus.PENDING) & (OutboxEmail.attempts > 0)))
    count = db.session.scalar(select(func.count(OutboxEmail.id)).where(failing)) or 0
    latest = db.session.scalars(select(OutboxEmail).where(failing).order_by(OutboxEmail.id.desc()).limit(3)).all()
    return count, list(latest)


@bp.get("/mailbox")
def mailbox():
    status = request.args.get("status", "")
    status = status if status in set(EmailStatus) else ""
    q = (request.args.get("q") or "").strip()[:100]
    channel = request.args.get("channel", "")
    channel = channel if channel in set(Channel) else ""

    query = select(OutboxEmail)
    if status:
        query = query.where(OutboxEmail.status == status)
    if channel:
        query = query.where(OutboxEmail.channel == channel)
    if q:
        like = f"%{q}%"
        query = query.outerjoin(OutboxEmail.user).where(or_(
            OutboxEmail.to_address.ilike(like), OutboxEmail.subject.ilike(like),
            User.username.ilike(like), User.display_name.ilike(like)))
    page = paginate(query.options(selectinload(OutboxEmail.user))
                    .order_by(OutboxEmail.created_at.desc(), OutboxEmail.id.desc()), page=page_arg(), per_page=PER_PAGE)
    counts = dict(db.session.execute(
        select(OutboxEmail.status, func.count(OutboxEmail.id)).group_by(OutboxEmail.status)).all())
    failure_count, failures = _failures()
    return render_template("admin/mailbox.html", rows=page.items, status=status, q=q, page=page, channel=channel,
                           channels=list(Channel), total=page.total, counts=counts, settings=mail_settings(),
                           channel_settings=channel_settings(), failure_count=failure_count, failures=failures,
                           action_form=ActionForm())


PREVIEW_BASE = '<base target="_blank">'


def preview_html(html: str) -> str:
    """The HTML body as its preview frame shows it: links open in a new tab, outside the sandbox, as in a mail
    client. Followed inside the frame they would frame the application, which its CSP (frame-src) and
    X-Frame-Options refuse, leaving a broken-page icon where the mail was."""
    head = re.search(r"<head\b[^>]*>", html, re.I)
    at = head.end() if head else 0
    return html[:at] + PREVIEW_BASE + html[at:]


@bp.get("/mailbox/<id:email_id>")
def mailbox_message(email_id: int):
    row = db.session.scalar(select(OutboxEmail).where(OutboxEmail.id == email_id).options(
        selectinload(OutboxEmail.user), selectinload(OutboxEmail.notifications).selectinload(Notification.user)))
    if row is None:
        abort(404)
    return render_template("admin/mailbox_message.html", row=row, settings=mail_settings(),
                           preview=preview_html(row.html_body) if row.html_body else "",
                           channel_settings=channel_settings(), action_form=ActionForm())


@bp.post("/mailbox/<id:email_id>/retry")
def mailbox_retry(email_id: int):
    if not ActionForm().validate():
        abort(400)
    retry_parked(email_id, actor=current_user, now=utcnow())
    flash(_("已放回发送队列，下一轮发送时投递。"), "success")
    return redirect(url_for("mailbox.mailbox_message", email_id=email_id))
