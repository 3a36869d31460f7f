"""设置 pages: 放假调休安排 (office, admin), 代理人 (liaisons and heads for themselves, the admin for anyone),
a plan's 提醒规则 (office), 提醒接收方式 (everyone), 单位提醒渠道 (office, admin); and the calendar banner's
context processor."""
from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from forms import apply_errors
from forms.review import select_choices
from forms.settings import (
    RULE_LABELS,
    DepartmentChannelsForm,
    HolidayForm,
    NotificationForm,
    ReminderRulesForm,
    SubstituteForm,
)
from models import Channel, Department, HolidayEntry, Plan, Substitute, User
from workflow.calendar.office import missing_years_warning
from workflow.calendar.workdays import package_has_year
from workflow.clock import local, utcnow
from workflow.config import channel_settings
from workflow.domain import ValidationFailed
from workflow.errors import forbid_unless, refused
from workflow.extensions import db, login_manager
from workflow.labels import label
from workflow.mail.channels import route_for
from workflow.scheduling.reminders import DEFAULT_RULES, rules_for
from workflow.settings import services

bp = Blueprint("settings", __name__, url_prefix="/settings")


@bp.before_request
def require_login():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


@bp.context_processor
def settings_permissions():
    user = current_user
    return {"settings_can": {
        "calendar": user.can_manage_calendar(),
        "substitutes": user.can_name_substitutes(),
        "rules": user.can_edit_reminder_rules(),
        "channels": user.can_manage_department_channels(),
    }}


def _today():
    return local(utcnow()).date()


def _who(user: User) -> str:
    """张三（zhangsan） · 联络员 · 市某某局: enough to tell two people of one department apart."""
    name = f"{user.display_name}（{user.username}）" if user.display_name else user.username
    parts = [name, label("role", user.role)]
    if user.department:
        parts.append(user.department.name)
    return " · ".join(dict.fromkeys(p for p in parts if p != user.display_name))


# -- the calendar banner (every page; registered in create_app) ---------------------------------------------------

def calendar_banner_context() -> dict:
    """{"calendar_missing_years": [...]} for office and admin users: this year and the coming one when neither
    the package nor the entries know them. One query (the entered days), none for everyone else."""
    years: list[int] = []
    if has_request_context():
        user = current_user
        if getattr(user, "is_authenticated", False) and user.can_manage_calendar():
            today = _today()
            if not all(package_has_year(y) for y in (today.year, today.year + 1)):
                try:
                    years = missing_years_warning(today)
                except SQLAlchemyError:  # a banner never breaks a page (e.g. the error page itself)
                    db.session.rollback()
                    current_app.logger.exception("calendar banner")
    return {"calendar_missing_years": years}


# -- index -------------------------------------------------------------------------------------------------------

@bp.get("/")
def index():
    plans = []
    if current_user.can_edit_reminder_rules():
        plans = db.session.scalars(select(Plan).order_by(Plan.id.desc())).all()
    return render_template("settings/index.html", plans=plans, default_rules=DEFAULT_RULES)


# -- 放假调休安排 ----------------------------------------------------------------------------------------------

def _last_builtin_year(today) -> int:
    year = today.year
    if not package_has_year(year):
        while year > 2004 and not package_has_year(year):
            year -= 1
        return year
    while package_has_year(year + 1):
        year += 1
    return year


def _render_holidays(form: HolidayForm, status: int = 200):
    today = _today()
    return render_template(
        "settings/holidays.html", form=form, today=today, coverage=services.year_coverage(today),
        years=services.entries_by_year(), stale=services.stale_deadlines(today),
        last_builtin=_last_builtin_year(today),
        max_days=services.MAX_HOLIDAY_DAYS), status


@bp.route("/holidays", methods=["GET", "POST"])
def holidays():
    forbid_unless(current_user.can_manage_calendar())
    form = HolidayForm()
    if not form.is_submitted():
        return _render_holidays(form)
    if form.validate():
        try:
            rows = services.add_arrangement(name=form.name.data or "", start=form.start.data, end=form.end.data,
                                            workdays=form.workdays(), actor=current_user, now=utcnow())
        except ValidationFailed as exc:
            refused(exc, form)
        else:
            off = [r for r in rows if r.kind == "holiday"]
            on = [r for r in rows if r.kind == "workday"]
            parts = []
            if off:
                parts.append(_("放假 %(a)s 至 %(b)s，共 %(n)d 天", a=off[0].day.isoformat(), b=off[-1].day.isoformat(),
                               n=len(off)))
            if on:
                parts.append(_("调休上班 %(days)s", days="、".join(r.day.isoformat() for r in on)))
            flash(_("已录入%(name)s：%(what)s。", name=rows[0].name, what="；".join(parts)), "success")
            return redirect(url_for("settings.holidays"))
    return _render_holidays(form, 422)


@bp.post("/holidays/<id:entry_id>/delete")
def delete_holiday(entry_id: int):
    forbid_unless(current_user.can_manage_calendar())
    entry = db.get_or_404(HolidayEntry, entry_id)
    what = services.describe_entry(entry)
    services.delete_entry(entry, actor=current_user, now=utcnow())
    flash(_("已删除 %(what)s。", what=what), "success")
    return redirect(url_for("settings.holidays"))


# -- 代理人 ------------------------------------------------------------------------------------------------------

def _render_substitutes(form: SubstituteForm, status: int = 200):
    today = _today()
    is_admin = current_user.is_admin
    if is_admin:
        form.user.choices = [("", _("请选择"))] + [(str(u.id), _who(u)) for u in services.substitute_principals()]
        candidates = db.session.scalars(select(User).where(User.active.is_(True))
                                        .order_by(User.department_id.is_(None), User.department_id, User.role,
                                                  User.username)).all()
    else:
        candidates = services.substitute_candidates(current_user)
    form.substitute.choices = [("", _("请选择"))] + [(str(u.id), _who(u)) for u in candidates]
    return render_template("settings/substitutes.html", form=form, is_admin=is_admin, today=today,
                           rows=services.current_substitutes(current_user, today),
                           covering=services.covering_for(current_user, today), who=_who,
                           max_days=services.MAX_SUBSTITUTE_DAYS), status


@bp.route("/substitutes", methods=["GET", "POST"])
def substitutes():
    forbid_unless(current_user.can_name_substitutes())
    form = SubstituteForm()
    if not form.is_submitted():
        return _render_substitutes(form)
    if form.validate():
        principal = current_user._get_current_object()
        if current_user.is_admin:
            principal_id = form.user_id(form.user)
            principal = db.session.get(User, principal_id) if principal_id else None
        sub_id = form.user_id(form.substitute)
        substitute = db.session.get(User, sub_id) if sub_id else None
        if principal is None:
            apply_errors(form, {"user": _("请选择被代理人。")})
        else:
            try:
                row = services.add_substitute(principal=principal, substitute=substitute, start=form.start.data,
                                              end=form.end.data, actor=current_user, now=utcnow())
            except ValidationFailed as exc:
                refused(exc, form)
            else:
                flash(_("已设置：%(a)s 至 %(b)s 期间由 %(who)s 代理 %(user)s，提醒将同时发给代理人。",
                        a=row.start_date.isoformat(), b=row.end_date.isoformat(), who=row.substitute.display,
                        user=row.user.display), "success")
                return redirect(url_for("settings.substitutes"))
    return _render_substitutes(form, 422)


@bp.post("/substitutes/<id:substitute_id>/delete")
def delete_substitute(substitute_id: int):
    forbid_unless(current_user.can_name_substitutes())
    row = db.get_or_404(Substitute, substitute_id)
    services.delete_substitute(row, actor=current_user, now=utcnow())
    flash(_("已删除代理设置。"), "success")
    return redirect(url_for("settings.substitutes"))


# -- 提醒规则 ----------------------------------------------------------------------------------------------------

RULE_HELP = {
    "due_soon_workdays": _l("报送期限前 %(n)d 个工作日起，提醒尚未报送的单位联络员（填 0 则不发到期前提醒）。"),
    "level1_late": _l("逾期满 %(n)d 个工作日仍未报送，向联络员发一级逾期提醒。"),
    "level2_late": _l("逾期满 %(n)d 个工作日，向单位负责人发二级逾期催办，并抄送联络员。"),
    "level3_late": _l("逾期满 %(n)d 个工作日，生成督办事项，通知领导小组办公室和单位负责人。"),
    "returned_grace_workdays": _l("报告被退回后须在 %(n)d 个工作日内重新报送，超过后按上面的逾期规则提醒。"),
    "review_grace_workdays": _l("报告报送后 %(n)d 个工作日仍未审核，提醒领导小组办公室。"),
    "task_due_soon_workdays": _l("任务完成时限（方案写明的）前 %(n)d 个工作日起，提醒牵头单位联络员；"
                                 "过了时限仍未办结销号的，提醒牵头单位和领导小组办公室。"),
}


@bp.route("/plans/<id:plan_id>/reminders", methods=["GET", "POST"])
def reminder_rules(plan_id: int):
    forbid_unless(current_user.can_edit_reminder_rules())
    plan = db.get_or_404(Plan, plan_id)
    status = 200
    if request.method == "POST":
        form = ReminderRulesForm()
        status = 422
        if form.validate():
            try:
                services.set_reminder_rules(plan, None if form.reset.data else form.values(), actor=current_user,
                                            now=utcnow())
            except ValidationFailed as exc:
                refused(exc, form)
            else:
                flash(_("已恢复默认提醒规则。") if form.reset.data else _("提醒规则已保存，下一次提醒起生效。"), "success")
                return redirect(url_for("settings.reminder_rules", plan_id=plan.id))
    else:
        form = ReminderRulesForm(formdata=None, data={k: str(v) for k, v in rules_for(plan).items()})
    rules = rules_for(plan)
    return render_template("settings/reminder_rules.html", plan=plan, form=form, rules=rules,
                           defaults=DEFAULT_RULES, labels=RULE_LABELS,
                           help={k: str(v) % {"n": rules[k]} for k, v in RULE_HELP.items()}), status


# -- 提醒接收方式 ------------------------------------------------------------------------------------------------

def _channel_options(user: User) -> list[tuple[str, str]]:
    """The radio's options: the department's default (named), then each channel the user may choose."""
    default = user.department.default_channel if user.department is not None else Channel.EMAIL
    names = {"": _("按单位默认（%(c)s）", c=label("channel", default)) if user.department is not None
             else _("默认（邮件）"),
             Channel.DINGTALK: _("钉钉群机器人（本单位工作群）"), Channel.WECOM: _("企业微信群机器人（本单位工作群）")}
    return [(c, names.get(c) or label("channel", c)) for c in services.channel_choices(user)]


@bp.route("/notifications", methods=["GET", "POST"])
def notifications():
    status = 200
    user = current_user._get_current_object()
    if request.method == "POST":
        form = NotificationForm()
        status = 422
        if form.validate():
            try:
                services.set_notification_prefs(user, digest_frequency=form.digest_frequency.data or "",
                                                email=form.email.data or "", channel=form.channel.data,
                                                phone=form.phone.data, actor=user, now=utcnow())
            except ValidationFailed as exc:
                refused(exc, form)
            else:
                flash(_("提醒接收设置已保存。"), "success")
                return redirect(url_for("settings.notifications"))
    else:
        form = NotificationForm(formdata=None, data={"digest_frequency": user.digest_frequency or "pass",
                                                     "email": user.email or "", "channel": user.channel or "",
                                                     "phone": user.phone or ""})
    form.channel.choices = select_choices(_channel_options(user))
    if form.channel.data is None:
        form.channel.data = user.channel or ""
    return render_template("settings/notifications.html", form=form,
                           route=route_for(user, channel_settings())), status


# -- 单位提醒渠道 ------------------------------------------------------------------------------------------------

@bp.get("/departments")
def departments():
    forbid_unless(current_user.can_manage_department_channels())
    return render_template("settings/departments.html", departments=services.department_channels(),
                           sms_configured=channel_settings().sms_configured)


@bp.route("/departments/<id:department_id>", methods=["GET", "POST"])
def department_channels(department_id: int):
    forbid_unless(current_user.can_manage_department_channels())
    department = db.get_or_404(Department, department_id)
    status = 200
    if request.method == "POST":
        form = DepartmentChannelsForm()
        status = 422
        if form.validate():
            try:
                services.set_department_channels(
                    department, default_channel=form.default_channel.data or "",
                    dingtalk_webhook=form.dingtalk_webhook.data or "", dingtalk_secret=form.dingtalk_secret.data or "",
                    clear_secret=bool(form.clear_secret.data), wecom_webhook=form.wecom_webhook.data or "",
                    actor=current_user, now=utcnow())
            except ValidationFailed as exc:
                refused(exc, form)
            else:
                flash(_("已保存%(d)s的提醒渠道。", d=department.name), "success")
                return redirect(url_for("settings.departments"))
    else:
        form = DepartmentChannelsForm(formdata=None, data={
            "default_channel": department.default_channel, "dingtalk_webhook": department.dingtalk_webhook,
            "wecom_webhook": department.wecom_webhook})
    return render_template("settings/department_channels.html", form=form, department=department,
                           sms_configured=channel_settings().sms_configured,
                           people=services.department_people(department)), status
