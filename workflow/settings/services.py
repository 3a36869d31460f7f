"""The settings operations: 放假调休安排 (holiday ranges and make-up workdays for years the calendar package does
not know), substitutes, a plan's reminder rules, a user's mail frequency and reminder channel, and a
department's default channel and group robots.

Every change takes the actor and the time, checks permission, answers bad input with ValidationFailed (field
name → message), writes audit rows and commits once. Entered days take effect at once: deadlines and reminders
are computed through workflow.calendar.office.office_calendar, which reads the HolidayEntry rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from models import Channel, Department, HolidayEntry, Period, Plan, PlanStatus, Role, Substitute, User
from models.audit import record
from models.org import ROBOT_CHANNELS
from workflow.admin.services import EMAIL_RE
from workflow.calendar.office import office_calendar
from workflow.calendar.workdays import package_has_year
from workflow.clock import local
from workflow.config import channel_settings
from workflow.domain import ValidationFailed, require
from workflow.extensions import db
from workflow.labels import label
from workflow.mail.channels import chosen_channel, normal_phone, phone_problem, webhook_problem
from workflow.scheduling.reminders import DEFAULT_RULES, rules_for

MAX_HOLIDAY_DAYS = 15        # the longest official holiday (春节 or 国庆) is 8–9 days; 15 catches typos
MAX_YEARS_AHEAD = 10         # arrangements are published a year ahead; ten years is generous
COVERAGE_YEARS = 5           # the coverage table: this year and the next four
MAX_SUBSTITUTE_DAYS = 366    # a forgotten substitute should not receive reminders for ever
RULE_MIN, RULE_MAX = 0, 30
DIGEST_FREQUENCIES = ("pass", "daily")


# -- 放假调休安排 --------------------------------------------------------------------------------------------

def describe_entry(entry: HolidayEntry) -> str:
    return _("%(day)s %(name)s（%(kind)s）", day=f"{entry.day:%Y-%m-%d}", name=entry.name,
             kind=label("holiday_kind", entry.kind))


def _year_problem(days: list[date], today: date) -> str | None:
    """Why these days may not be entered, or None: the package knows their year, or it is out of range."""
    for year in sorted({d.year for d in days}):
        if package_has_year(year):
            return _("该年份的官方安排已内置（%(year)s 年），无需录入。", year=year)
        if year < today.year:
            return _("不能录入往年（%(year)s 年）的安排。", year=year)
        if year > today.year + MAX_YEARS_AHEAD:
            return _("只能录入 %(first)s–%(last)s 年的安排。", first=today.year, last=today.year + MAX_YEARS_AHEAD)
    return None


def add_arrangement(*, name: str, start: date | None = None, end: date | None = None,
                    workdays: list[date | None] | tuple = (), actor: User, now: datetime) -> list[HolidayEntry]:
    """One holiday of a year's arrangement: the days off from `start` to `end` and/or its make-up workdays.

    `workdays` holds the form's slots in order (None for an empty one); their errors are keyed workday_1,
    workday_2, ... Either everything is saved, or nothing and ValidationFailed says why.
    """
    require(actor is not None and actor.can_manage_calendar(), _("只有领导小组办公室和系统管理员可以录入放假调休安排。"))
    today = local(now).date()
    name = (name or "").strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = _("请填写节日名称，例如“春节”。")
    elif len(name) > 60:
        errors["name"] = _("节日名称不能超过 60 字。")

    holidays: list[date] = []
    if start is None and end is not None:
        errors["start"] = _("请填写放假开始日期。")
    elif start is not None and end is None:
        errors["end"] = _("请填写放假结束日期（只放一天时与开始日期相同）。")
    elif start is not None and end is not None:
        length = (end - start).days + 1
        if end < start:
            errors["end"] = _("结束日期不能早于开始日期。")
        elif length > MAX_HOLIDAY_DAYS:
            errors["end"] = _("一次放假最长 %(max)s 天，当前为 %(length)s 天，请检查日期。", max=MAX_HOLIDAY_DAYS,
                                   length=length)
        else:
            holidays = [start + timedelta(days=i) for i in range(length)]
            problem = _year_problem(holidays, today)
            if problem:
                errors["start"] = problem
                holidays = []

    extra: list[tuple[str, date]] = []
    for i, day in enumerate(workdays, 1):
        if day is None:
            continue
        key = f"workday_{i}"
        problem = _year_problem([day], today)
        if day.weekday() < 5:
            errors[key] = _("调休上班日应是周六或周日，%(day)s 是%(weekday)s。", day=f"{day:%Y-%m-%d}",
                            weekday=label("weekday", day.weekday()))
        elif problem:
            errors[key] = problem
        elif start is not None and end is not None and start <= day <= end:
            errors[key] = _("调休上班日不能在本次录入的放假日期之内。")
        elif any(day == d for _k, d in extra):
            errors[key] = _("与上面的调休上班日重复。")
        else:
            extra.append((key, day))

    if start is None and end is None and all(d is None for d in workdays):
        errors["start"] = _("请填写放假日期或调休上班日期。")

    wanted = holidays + [d for _k, d in extra]
    if wanted:
        existing = {e.day: e for e in db.session.scalars(select(HolidayEntry).where(HolidayEntry.day.in_(wanted)))}
        clash = next((existing[d] for d in holidays if d in existing), None)
        if clash is not None and "start" not in errors:
            errors["start"] = _("与已录入的 %(entry)s重叠。", entry=describe_entry(clash))
        for key, day in extra:
            if day in existing:
                errors[key] = _("与已录入的 %(entry)s重叠。", entry=describe_entry(existing[day]))
    if errors:
        raise ValidationFailed(errors)

    rows = [HolidayEntry(day=d, kind="holiday", name=name, created_at=now, created_by_id=actor.id) for d in holidays]
    rows += [HolidayEntry(day=d, kind="workday", name=name, created_at=now, created_by_id=actor.id) for _k, d in extra]
    db.session.add_all(rows)
    try:
        db.session.flush()
    except IntegrityError:  # someone entered one of these days a moment ago
        db.session.rollback()
        raise ValidationFailed({"start": _("刚刚有其他用户录入了其中的日期，请刷新页面后核对。")}) from None
    for row in rows:
        record("calendar.add", row, actor=actor, now=now, to_state=row.kind,
               data={"day": row.day.isoformat(), "name": row.name})
    db.session.commit()
    return rows


def delete_entry(entry: HolidayEntry, actor: User, now: datetime) -> None:
    require(actor is not None and actor.can_manage_calendar(), _("只有领导小组办公室和系统管理员可以修改放假调休安排。"))
    record("calendar.delete", entry, actor=actor, now=now, from_state=entry.kind,
           data={"day": entry.day.isoformat(), "name": entry.name})
    db.session.delete(entry)
    db.session.commit()


@dataclass
class YearCoverage:
    year: int
    status: str  # 'builtin' (the package knows it), 'entered', 'missing'
    holidays: int = 0
    workdays: int = 0

    @property
    def days(self) -> int:
        return self.holidays + self.workdays


def year_coverage(today: date) -> list[YearCoverage]:
    """This year and the next four: built in, entered (how many days), or missing (weekends only)."""
    years = range(today.year, today.year + COVERAGE_YEARS)
    counts: dict[int, dict[str, int]] = {}
    for day, kind in db.session.execute(select(HolidayEntry.day, HolidayEntry.kind).where(
            HolidayEntry.day >= date(years[0], 1, 1), HolidayEntry.day <= date(years[-1], 12, 31))):
        c = counts.setdefault(day.year, {"holiday": 0, "workday": 0})
        c[kind] = c.get(kind, 0) + 1
    out = []
    for year in years:
        c = counts.get(year, {})
        if package_has_year(year):
            status = "builtin"
        elif c:
            status = "entered"
        else:
            status = "missing"
        out.append(YearCoverage(year, status, c.get("holiday", 0), c.get("workday", 0)))
    return out


@dataclass
class EntryGroup:
    """Consecutive days of one kind under one name, e.g. 春节 2027-02-06..2027-02-13 放假."""

    name: str
    kind: str
    entries: list[HolidayEntry] = field(default_factory=list)

    @property
    def first(self) -> date:
        return self.entries[0].day

    @property
    def last(self) -> date:
        return self.entries[-1].day


def entries_by_year() -> list[tuple[int, list[EntryGroup]]]:
    """Every entered day, by year, grouped into runs (a holiday range, a make-up workday)."""
    years: dict[int, list[EntryGroup]] = {}
    for e in db.session.scalars(select(HolidayEntry).order_by(HolidayEntry.day)):
        groups = years.setdefault(e.day.year, [])
        last = groups[-1] if groups else None
        if last and last.kind == e.kind and last.name == e.name and e.day - last.last == timedelta(days=1):
            last.entries.append(e)
        else:
            groups.append(EntryGroup(e.name, e.kind, [e]))
    return sorted(years.items())


@dataclass
class StaleDeadline:
    period: Period
    plan: Plan
    recomputed: date


def stale_deadlines(today: date) -> list[StaleDeadline]:
    """Future periods of published plans whose computed deadline differs from what the calendar now gives.

    Deadlines are fixed when a plan is published; an arrangement entered later does not move them by itself
    (a deadline people already know must not change silently), so the page lists them for the office to
    adjust on the plan's 报送期限 page.
    """
    cal = office_calendar()
    rows = db.session.execute(
        select(Period, Plan).join(Plan, Period.plan_id == Plan.id)
        .where(Plan.status == PlanStatus.PUBLISHED, Period.deadline >= today)
        .order_by(Period.deadline, Plan.id)
    ).all()
    out = []
    for period, plan in rows:
        recomputed = cal.add_workdays(period.end, plan.deadline_workdays)
        if recomputed != period.computed_deadline:
            out.append(StaleDeadline(period, plan, recomputed))
    return out


# -- substitutes -----------------------------------------------------------------------------------------------

def substitute_candidates(principal: User) -> list[User]:
    """Who may stand in for `principal`: an active liaison or head of the same department, or an office member
    (they can act on the department's reports or chase them). Someone without a department (an office member
    the admin names a substitute for): another active user of the same role."""
    q = select(User).options(selectinload(User.department)).where(User.active.is_(True), User.id != principal.id)
    if principal.department_id is not None:
        q = q.where(or_(
            (User.department_id == principal.department_id) & User.role.in_([Role.LIAISON, Role.DEPT_HEAD]),
            User.role == Role.OFFICE))
    else:
        q = q.where(User.role == principal.role)
    return list(db.session.scalars(q.order_by(User.role != Role.OFFICE, User.role, User.username)))


def substitute_principals() -> list[User]:
    """Whom the admin may name a substitute for: the people reminders go to."""
    return list(db.session.scalars(
        select(User).options(selectinload(User.department))
        .where(User.active.is_(True), User.role.in_([Role.LIAISON, Role.DEPT_HEAD, Role.OFFICE]))
        .order_by(User.department_id.is_(None), User.department_id, User.role, User.username)))


def add_substitute(*, principal: User, substitute: User | None, start: date | None, end: date | None,
                   actor: User, now: datetime) -> Substitute:
    require(actor is not None and actor.can_manage_substitutes_of(principal), _("只能为本人设置代理人（系统管理员可为任何人设置）。"))
    today = local(now).date()
    errors: dict[str, str] = {}
    if substitute is None:
        errors["substitute"] = _("请选择代理人。")
    elif substitute.id == principal.id:
        errors["substitute"] = _("代理人不能是本人。")
    elif substitute.id not in {u.id for u in substitute_candidates(principal)}:
        errors["substitute"] = (_("代理人须是本单位在用的联络员、单位负责人，或领导小组办公室人员。")
                                if principal.department_id else _("代理人须是同一角色的在用账户。"))
    if start is None:
        errors["start"] = _("请填写开始日期。")
    if end is None:
        errors["end"] = _("请填写结束日期。")
    if start is not None and end is not None:
        if end < start:
            errors["end"] = _("结束日期不能早于开始日期。")
        elif end < today:
            errors["end"] = _("结束日期已过，无需设置。")
        elif (end - start).days + 1 > MAX_SUBSTITUTE_DAYS:
            errors["end"] = _("一次最长设置 %(max)s 天。", max=MAX_SUBSTITUTE_DAYS)
        else:
            clash = db.session.scalar(
                select(Substitute).options(selectinload(Substitute.substitute))
                .where(Substitute.user_id == principal.id, Substitute.start_date <= end, Substitute.end_date >= start)
                .order_by(Substitute.start_date))
            if clash is not None:
                errors["start"] = _("与已设置的代理（%(who)s，%(start)s 至 %(end)s）重叠。", who=clash.substitute.display,
                                    start=f"{clash.start_date:%Y-%m-%d}", end=f"{clash.end_date:%Y-%m-%d}")
    if errors:
        raise ValidationFailed(errors)
    row = Substitute(user_id=principal.id, substitute_id=substitute.id, start_date=start, end_date=end,
                     created_at=now)
    db.session.add(row)
    db.session.flush()
    record("substitute.add", row, actor=actor, now=now, data={
        "user": principal.username, "substitute": substitute.username,
        "start": start.isoformat(), "end": end.isoformat()})
    db.session.commit()
    return row


def delete_substitute(row: Substitute, actor: User, now: datetime) -> None:
    require(actor is not None and actor.can_manage_substitutes_of(row.user), _("只能删除本人的代理设置（系统管理员可删除任何人的）。"))
    record("substitute.delete", row, actor=actor, now=now, data={
        "user": row.user.username, "substitute": row.substitute.username,
        "start": row.start_date.isoformat(), "end": row.end_date.isoformat()})
    db.session.delete(row)
    db.session.commit()


def _substitutes_query():
    return select(Substitute).options(
        selectinload(Substitute.user).selectinload(User.department),
        selectinload(Substitute.substitute).selectinload(User.department),
    )


def current_substitutes(actor: User, today: date) -> list[Substitute]:
    """Current and future substitutes: the actor's own, or everyone's for the admin."""
    q = _substitutes_query().where(Substitute.end_date >= today)
    if not actor.is_admin:
        q = q.where(Substitute.user_id == actor.id)
    return list(db.session.scalars(q.order_by(Substitute.start_date, Substitute.id)))


def covering_for(user: User, today: date) -> list[Substitute]:
    """Current and future ranges in which `user` stands in for someone else."""
    return list(db.session.scalars(_substitutes_query().where(
        Substitute.substitute_id == user.id, Substitute.end_date >= today).order_by(Substitute.start_date)))


# -- reminder rules ------------------------------------------------------------------------------------------

RULE_KEYS = tuple(DEFAULT_RULES)


def _as_int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value if value is not None else "").strip()
    if text.isascii() and text.lstrip("-").isdigit() and text.count("-") <= 1:
        return int(text)
    return None


def set_reminder_rules(plan: Plan, values: dict | None, actor: User, now: datetime) -> dict:
    """Save the plan's reminder rules (working days; ints or digit strings), or None to restore the defaults.

    Returns the rules now in force.
    """
    require(actor is not None and actor.can_edit_reminder_rules(), _("只有领导小组办公室可以修改提醒规则。"))
    before = rules_for(plan)
    if values is None:
        plan.reminder_rules = None
        action = "plan.reminder_rules_reset"
    else:
        errors: dict[str, str] = {}
        clean: dict[str, int] = {}
        for key in RULE_KEYS:
            number = _as_int(values.get(key))
            if number is None:
                errors[key] = _("请填写 %(min)s–%(max)s 之间的整数。", min=RULE_MIN, max=RULE_MAX)
            elif not RULE_MIN <= number <= RULE_MAX:
                errors[key] = _("应在 %(min)s–%(max)s 之间。", min=RULE_MIN, max=RULE_MAX)
            else:
                clean[key] = number
        levels = [clean.get(f"level{n}_late") for n in (1, 2, 3)]
        if levels[0] is not None and levels[1] is not None and levels[1] <= levels[0]:
            errors["level2_late"] = _("二级催办应晚于一级提醒（大于 %(n)s 个工作日）。", n=levels[0])
        if levels[1] is not None and levels[2] is not None and levels[2] <= levels[1]:
            errors["level3_late"] = _("三级督办应晚于二级催办（大于 %(n)s 个工作日）。", n=levels[1])
        if errors:
            raise ValidationFailed(errors)
        # Store only what differs from the defaults: a plan that keeps a default follows it if it changes.
        plan.reminder_rules = {k: v for k, v in clean.items() if v != DEFAULT_RULES[k]} or None
        action = "plan.reminder_rules"
    after = rules_for(plan)
    record(action, plan, actor=actor, now=now, data={"before": before, "after": after})
    db.session.commit()
    return after


# -- mail frequency --------------------------------------------------------------------------------------------

def set_notification_prefs(user: User, *, digest_frequency: str, email: str, actor: User, now: datetime,
                           channel: str | None = None, phone: str | None = None) -> User:
    """How often the user gets digests ('pass' or 'daily'), where (a blank address means in-app only), by which
    channel ('' for the department's default; None leaves it) and the mobile number (None leaves it)."""
    require(actor is not None and actor.can_edit_settings_of(user), _("只能修改本人的设置。"))
    email = (email or "").strip()
    errors: dict[str, str] = {}
    if digest_frequency not in DIGEST_FREQUENCIES:
        errors["digest_frequency"] = _("请选择邮件接收频率。")
    if email and (len(email) > 200 or not EMAIL_RE.fullmatch(email)):
        errors["email"] = _("电子邮箱格式不对，例如 zhangsan@example.gov.cn。")
    new_phone = user.phone if phone is None else (normal_phone(phone) or None)
    if phone is not None and new_phone and (problem := phone_problem(new_phone)):
        errors["phone"] = problem
    new_channel = user.channel if channel is None else channel
    errors.update(_channel_problems(user, new_channel, new_phone))
    if errors:
        raise ValidationFailed(errors)
    before = {"digest_frequency": user.digest_frequency, "email": user.email, "channel": user.channel,
              "phone": user.phone}
    user.digest_frequency, user.email, user.channel, user.phone = digest_frequency, email or None, new_channel, new_phone
    record("user.notification_prefs", user, actor=actor, now=now, data={
        "before": before, "after": {"digest_frequency": user.digest_frequency, "email": user.email,
                                    "channel": user.channel, "phone": user.phone}})
    db.session.commit()
    return user


def channel_choices(user: User) -> list[str]:
    """The channels the user may choose now: the department's default (''), email, SMS when a gateway is set,
    the department's group robots that have a webhook."""
    choices = ["", Channel.EMAIL]
    if channel_settings().sms_configured:
        choices.append(Channel.SMS)
    if user.department is not None:
        choices += [c for c in ROBOT_CHANNELS if user.department.webhook(c)]
    return choices


def _channel_problems(user: User, channel: str, phone: str | None) -> dict[str, str]:
    if channel not in ("", *Channel):
        return {"channel": _("请选择提醒接收方式。")}
    if channel == Channel.SMS:
        if not channel_settings().sms_configured:
            return {"channel": _("系统尚未配置短信网关，暂不能选择短信。")}
        if not phone:
            return {"phone": _("选择短信提醒须填写手机号码。")}
    if channel in ROBOT_CHANNELS and channel not in channel_choices(user):
        return {"channel": _("本单位尚未设置%(c)s，请联系领导小组办公室或系统管理员。", c=label("channel", channel))
                if user.department is not None else _("单位群机器人只能由单位的联络员和负责人选择。")}
    return {}


# -- a department's reminder channels ------------------------------------------------------------------------

def department_channels() -> list[Department]:
    return list(db.session.scalars(select(Department).order_by(Department.kind, Department.id)))


def department_people(department: Department) -> list[tuple[User, str]]:
    """The department's active people with the channel their reminders take (their own or the default)."""
    people = db.session.scalars(select(User).where(User.department_id == department.id, User.active.is_(True))
                                .order_by(User.role, User.username)).all()
    return [(u, chosen_channel(u)) for u in people]


def set_department_channels(department: Department, *, default_channel: str, dingtalk_webhook: str,
                            dingtalk_secret: str, clear_secret: bool, wecom_webhook: str, actor: User,
                            now: datetime) -> Department:
    """The department's default channel and its group robots. A blank secret keeps the stored one (it is never
    shown again), unless `clear_secret`; a default robot needs its webhook, SMS a configured gateway."""
    require(actor is not None and actor.can_manage_department_channels(),
            _("只有领导小组办公室和系统管理员可以设置单位的提醒渠道。"))
    dingtalk_webhook, wecom_webhook = (dingtalk_webhook or "").strip(), (wecom_webhook or "").strip()
    secret = (dingtalk_secret or "").strip()
    errors: dict[str, str] = {}
    for name, url in (("dingtalk_webhook", dingtalk_webhook), ("wecom_webhook", wecom_webhook)):
        if url and (problem := webhook_problem(url)):
            errors[name] = problem
    if len(secret) > 200 or any(c.isspace() for c in secret):
        errors["dingtalk_secret"] = _("加签密钥应为不含空格的一串字符（不超过 200 个），例如 SEC 开头的密钥。")
    if default_channel not in set(Channel):
        errors["default_channel"] = _("请选择默认提醒渠道。")
    elif default_channel == Channel.SMS and not channel_settings().sms_configured:
        errors["default_channel"] = _("系统尚未配置短信网关，暂不能选择短信。")
    elif default_channel in ROBOT_CHANNELS and not {Channel.DINGTALK: dingtalk_webhook,
                                                    Channel.WECOM: wecom_webhook}[default_channel]:
        errors["default_channel"] = _("默认使用%(c)s，须填写它的地址。", c=label("channel", default_channel))
    if errors:
        raise ValidationFailed(errors)

    def shown() -> dict:   # what the audit keeps: never the secret itself
        return {"default_channel": department.default_channel, "dingtalk_webhook": department.dingtalk_webhook,
                "dingtalk_secret": bool(department.dingtalk_secret), "wecom_webhook": department.wecom_webhook}

    before = shown()
    department.default_channel, department.dingtalk_webhook = default_channel, dingtalk_webhook
    department.wecom_webhook = wecom_webhook
    if clear_secret or not dingtalk_webhook:
        department.dingtalk_secret = ""
    elif secret:
        department.dingtalk_secret = secret
    record("department.channels", department, actor=actor, now=now, data={"before": before, "after": shown()})
    db.session.commit()
    return department
