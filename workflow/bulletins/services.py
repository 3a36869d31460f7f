"""情况通报: the office opens a bulletin for a plan and a month, quarter or half-year, edits its lead and
next-steps paragraphs, and publishes it: frozen, numbered for the year, archived as PDF and .docx, mailed once
to every department head and leader, and listed for everyone.

What it says comes from the ledger's rows (workflow.ledger.services) of the plan's reporting periods that end
in the bulletin's span, so its figures and the 台账's agree by construction; open escalations (督办) are named
from their own table. A draft is computed afresh each time it is shown; publishing stores what it said.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Select, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from models import (
    Assignment,
    Bulletin,
    BulletinStatus,
    CompletionReport,
    CompletionStatus,
    Escalation,
    EscalationStatus,
    Period,
    Plan,
    PlanStatus,
    Progress,
    Role,
    Task,
    TaskStatus,
    User,
)
from models.audit import record
from workflow import notify
from workflow.bulletins import archive, documents
from workflow.calendar.lateness import days_late
from workflow.calendar.office import office_calendar
from workflow.calendar.periods import Cadence, PeriodError, parse_period_key, period_label
from workflow.calendar.workdays import WorkdayCalendar
from workflow.clock import LOCAL_TZ, local
from workflow.domain import Conflict, ValidationFailed, require
from workflow.extension_requests import services as extension_services
from workflow.extensions import db
from workflow.labels import chinese, label
from workflow.ledger.services import LedgerFilters, LedgerRow, ledger_rows, tally_by, total
from workflow.transitions import apply_transition, check, check_version, committed

TEXT_LIMIT = 4000
# The spans a bulletin covers, tried in this order on the key the office types.
SPAN_CADENCES = (Cadence.QUARTERLY, Cadence.MONTHLY, Cadence.HALF_YEARLY)
DEFAULT_NEXT_STEPS = ("各责任单位要对照本通报，逐项梳理逾期未报送和进展滞后的任务，明确整改措施和完成时限，按时报送下一期"
                      "进展情况；被督办的单位要在 3 个工作日内向领导小组办公室书面说明情况。领导小组办公室将持续跟踪督办，"
                      "并将报送情况纳入年度评估。")


@dataclass(frozen=True)
class Span:
    kind: str      # a BulletinKind: monthly, quarterly, half-yearly
    key: str       # 2026-07, 2026Q3, 2026H1
    start: date
    end: date
    label: str     # 2026年第三季度

    @property
    def year(self) -> int:
        return self.start.year


def bulletin_span(key: str) -> Span:
    """The month, quarter or half-year a key names; anything else is a field error."""
    text = (key or "").strip()
    for cadence in SPAN_CADENCES:
        try:
            start, end = parse_period_key(cadence, text)
        except PeriodError:
            continue
        return Span(kind=cadence.value, key=text, start=start, end=end, label=period_label(cadence, text))
    raise ValidationFailed({"period": _("通报期间“%(key)s”无法识别：季度写作 2026Q3，月度写作 2026-07，半年度写作 2026H1。",
                                        key=text)})


def covered_periods(plan: Plan, span: Span) -> list[Period]:
    """The plan's reporting periods that end within the span (a half-year: its two quarters)."""
    return list(db.session.scalars(select(Period).where(Period.plan_id == plan.id, Period.end >= span.start,
                                                        Period.end <= span.end).order_by(Period.start)))


def _checked_span(plan: Plan, period_key: str, *, now: datetime) -> tuple[Span, list[Period]]:
    span = bulletin_span(period_key)
    if plan.status != PlanStatus.PUBLISHED:
        raise ValidationFailed({"plan": _("方案 #%(id)s 尚未发布，还没有可通报的报送情况。", id=plan.id)})
    if span.start > local(now).date():
        raise ValidationFailed({"period": _("%(label)s尚未开始（%(start)s 起），不能生成通报。", label=span.label,
                                            start=span.start.isoformat())})
    periods = covered_periods(plan, span)
    if not periods:
        raise ValidationFailed({"period": _("方案在%(label)s内没有结束的报送周期，无可通报的报告。", label=span.label)})
    return span, periods


def find_bulletin(plan: Plan, period_key: str) -> Bulletin | None:
    return db.session.scalar(select(Bulletin).where(Bulletin.plan_id == plan.id,
                                                    Bulletin.period_key == period_key.strip()))


def default_lead(plan: Plan, span: Span) -> str:
    return f"为推动{plan.title}各项任务落实落地，现将{span.label}各责任单位任务报送和推进情况通报如下。"


def open_bulletin(plan: Plan, period_key: str, *, actor: User | None, now: datetime) -> Bulletin:
    """The plan's bulletin for that span, created as a draft (with the default paragraphs) the first time.
    `actor` None is the operator's command line. A span not yet begun or without a period is a field error."""
    require(actor is None or actor.can_manage_bulletins(), _("只有领导小组办公室可以编写情况通报。"))
    span, _periods = _checked_span(plan, period_key, now=now)
    existing = find_bulletin(plan, span.key)
    if existing is not None:
        return existing
    bulletin = Bulletin(plan=plan, period_key=span.key, kind=span.kind, year=span.year,
                        lead=default_lead(plan, span), next_steps=DEFAULT_NEXT_STEPS, created_at=now,
                        created_by=actor, status=BulletinStatus.DRAFT)
    db.session.add(bulletin)
    try:
        db.session.flush()
        record("bulletin.create", bulletin, actor=actor, now=now, to_state=BulletinStatus.DRAFT)
        db.session.commit()
    except IntegrityError:   # opened by someone else a moment ago
        db.session.rollback()
        return find_bulletin(plan, span.key)
    return bulletin


def update_text(bulletin: Bulletin, *, lead: str, next_steps: str, actor: User, now: datetime,
                version: int | None = None) -> Bulletin:
    """The office's two paragraphs; a published bulletin is frozen, a stale version a conflict (the typed
    text is kept by the page)."""
    require(actor.can_manage_bulletins(), _("只有领导小组办公室可以编写情况通报。"))
    if bulletin.published:
        raise Conflict(_("该情况通报已发布（%(number)s），不能再修改。", number=bulletin.number_label))
    check_version(bulletin, version)
    lead, next_steps = (lead or "").strip(), (next_steps or "").strip()
    errors = {}
    for name, text in (("lead", lead), ("next_steps", next_steps)):
        if not text:
            errors[name] = _("请填写这一段。")
        elif len(text) > TEXT_LIMIT:
            errors[name] = _("不能超过 %(max)d 字（当前 %(length)d 字）。", max=TEXT_LIMIT, length=len(text))
    if errors:
        raise ValidationFailed(errors)
    with committed(bulletin):
        bulletin.lead, bulletin.next_steps, bulletin.updated_at = lead, next_steps, now
        db.session.flush()
        record("bulletin.edit", bulletin, actor=actor, now=now)
    return bulletin


# -- what it says --------------------------------------------------------------------------------------------

def compute(bulletin: Bulletin, *, now: datetime) -> dict:
    """The bulletin's content as JSON-able data, from the records as they stand at `now`."""
    plan = bulletin.plan
    span = bulletin_span(bulletin.period_key)
    periods = covered_periods(plan, span)
    calendar = office_calendar()
    rows = ledger_rows(LedgerFilters(plan_id=plan.id, periods=tuple(p.key for p in periods)), viewer=None, now=now,
                       calendar=calendar)
    with chinese():
        return {
            "plan": {"id": plan.id, "title": plan.title, "issuing_body": plan.issuing_body},
            "office": current_app.config.get("OFFICE_NAME", "领导小组办公室"),
            "period": {"key": span.key, "kind": span.kind, "kind_label": label("bulletin_kind", span.kind),
                       "label": span.label, "start": span.start.isoformat(), "end": span.end.isoformat()},
            "periods": [{"key": p.key, "label": p.label, "deadline": p.deadline.isoformat()} for p in periods],
            "title": f"关于{span.label}{plan.title}任务推进情况的通报",
            "as_of": local(now).date().isoformat(),
            "overall": total(rows).as_dict(),
            "areas": _areas(rows),
            "departments": [{"name": name, **t.as_dict()}
                            for name, t in tally_by(sorted(rows, key=lambda r: r.lead), lambda r: r.lead).items()],
            "late_departments": _late_departments(rows),
            "behind": _behind(rows),
            "escalations": _open_escalations(plan, periods, now=now, calendar=calendar),
            "extensions": _extensions(periods),
            "closed": _closed_tasks(plan, span, now=now),
            "lead": bulletin.lead, "next_steps": bulletin.next_steps,
            "number": bulletin.number_label, "published": bulletin.published,
        }


def _code_key(code: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in (code or "").split("."))


def _areas(rows: list[LedgerRow]) -> list[dict]:
    ordered = sorted(rows, key=lambda r: _code_key(r.area_code or ""))
    titles = {r.area_code: r.area for r in rows}
    return [{"code": code, "name": titles[code] or "（未分领域）", "tasks": len(t.tasks), **t.as_dict()}
            for code, t in tally_by(ordered, lambda r: r.area_code).items()]


def _late_departments(rows: list[LedgerRow]) -> list[dict]:
    """Every department with a report handed in late or not at all by a passed deadline, most first."""
    late: dict[str, dict] = {}
    for row in rows:
        if row.state in ("late", "missing"):
            entry = late.setdefault(row.lead, {"name": row.lead, "late": 0, "missing": 0, "tasks": []})
            entry[row.state] += 1
            entry["tasks"].append({"code": row.task_code, "state": row.state, "days_late": row.late.working})
    return sorted(late.values(), key=lambda d: (-d["missing"], -(d["late"] + d["missing"]), d["name"]))


def _behind(rows: list[LedgerRow]) -> list[dict]:
    """Tasks behind schedule: a report not filed by its deadline, or a report that says 滞后."""
    behind = []
    for row in sorted(rows, key=lambda r: (_code_key(r.task_code), r.lead, r.period_key)):
        reasons = []
        if row.state == "missing":
            reasons.append(f"逾期未报送（逾期 {row.late.working} 个工作日）")
        if row.progress == Progress.BEHIND:
            reasons.append("自评进展滞后")
        if reasons:
            behind.append({"code": row.task_code, "title": row.task_title, "lead": row.lead,
                           "period": row.period_label, "situation": "；".join(reasons)})
    return behind


def _open_escalations(plan: Plan, periods: list[Period], *, now: datetime, calendar: WorkdayCalendar) -> list[dict]:
    """The 督办 items still open on the span's reports and contributions, named, each as late as days_late
    says today (the stored figure is the last reminder pass's)."""
    found = db.session.scalars(
        select(Escalation).where(Escalation.plan_id == plan.id, Escalation.status == EscalationStatus.OPEN,
                                 Escalation.period_id.in_([p.id for p in periods]))
        .options(selectinload(Escalation.department), selectinload(Escalation.task),
                 selectinload(Escalation.period), selectinload(Escalation.report),
                 selectinload(Escalation.contribution))
        .order_by(Escalation.department_id, Escalation.opened_at, Escalation.id)).all()
    today = local(now).date()
    return [{"department": e.department.name, "task": e.task.code, "task_title": e.task.title,
             "period": e.period.key, "period_label": e.period.label,
             "what": label("item_kind", "report" if e.report_id else "contribution"),
             "cause": label("escalation_cause", e.cause),
             "days_late": days_late(e.report or e.contribution, today, calendar).working,
             "opened": local(e.opened_at).date().isoformat()} for e in found]


def _extensions(periods: list[Period]) -> list[dict]:
    """延期批准: the extensions the office approved on the span's reports, by task."""
    found = extension_services.approved_for_periods([p.id for p in periods])
    rows = [{"department": e.report.department.name, "task": e.report.task.code, "task_title": e.report.task.title,
             "period_label": e.report.period.label, "from": e.current_deadline.isoformat(),
             "to": e.new_deadline.isoformat(), "reason": e.reason} for e in found]
    return sorted(rows, key=lambda r: (_code_key(r["task"]), r["department"], r["period_label"]))


def _closed_tasks(plan: Plan, span: Span, *, now: datetime) -> list[dict]:
    """办结销号: the plan's tasks closed from the span's start up to the bulletin's date, with what they achieved
    (the confirmed completion report, when the closure was one)."""
    start = datetime.combine(span.start, time(), tzinfo=LOCAL_TZ)
    tasks = db.session.scalars(select(Task).where(Task.plan_id == plan.id, Task.status == TaskStatus.CLOSED,
                                                  Task.closed_at >= start, Task.closed_at <= now)
                               .options(selectinload(Task.assignments).selectinload(Assignment.department))
                               .order_by(Task.position)).all()
    summaries = dict(db.session.execute(
        select(CompletionReport.task_id, CompletionReport.summary)
        .where(CompletionReport.task_id.in_([t.id for t in tasks]),
               CompletionReport.status == CompletionStatus.CONFIRMED)
        .order_by(CompletionReport.decided_at)).all()) if tasks else {}
    return [{"task": t.code, "title": t.title, "leads": "、".join(d.name for d in t.leads),
             "closed": local(t.closed_at).date().isoformat(), "summary": summaries.get(t.id) or t.close_reason}
            for t in tasks]


def content(bulletin: Bulletin, *, now: datetime) -> dict:
    """What the bulletin says: frozen once published, else as of now."""
    return bulletin.data if bulletin.published and bulletin.data else compute(bulletin, now=now)


def late_department_names(data: dict) -> list[str]:
    return [d["name"] for d in data["late_departments"]]


def escalated_department_names(data: dict) -> list[str]:
    return sorted({e["department"] for e in data["escalations"]})


# -- publishing ------------------------------------------------------------------------------------------------

def _next_number(bulletin: Bulletin) -> int:
    taken = db.session.scalar(select(func.max(Bulletin.number)).where(Bulletin.plan_id == bulletin.plan_id,
                                                                       Bulletin.year == bulletin.year))
    return (taken or 0) + 1


def publish(bulletin: Bulletin, *, actor: User | None, now: datetime, version: int | None = None,
            progress: Callable[[int, str], None] | None = None) -> Bulletin:
    """Freeze, number, archive (PDF and .docx from the same data), circulate, in one transaction; publishing
    twice is a conflict. The files are rendered before anything is written, so a rendering failure changes
    nothing. `progress(percent, message)` hears of each step (a background job's progress bar)."""
    step = progress or (lambda percent, message: None)
    check(bulletin, "publish", actor=actor, version=version)
    step(10, _("正在汇总通报数据"))
    number = _next_number(bulletin)
    data = {**compute(bulletin, now=now), "number": f"{bulletin.year}年第{number}期", "published": True,
            "published_at": local(now).date().isoformat()}
    step(40, _("正在排版 PDF"))
    pdf = documents.pdf(data)
    step(70, _("正在生成 Word 文档"))
    rendered = {"pdf": pdf, "docx": documents.docx(data, moment=now)}
    step(90, _("正在归档"))
    try:
        with committed(bulletin):
            for kind, (payload, pages) in rendered.items():
                archive.store(bulletin, kind=kind, data=payload, pages=pages, name=archive.filename(data, kind),
                              now=now)
            apply_transition(bulletin, "publish", actor=actor, now=now, commit=False, comment=data["number"],
                             changes={"number": number, "data": data, "published_at": now,
                                      "published_by_id": actor.id if actor else None},
                             notify=lambda: _circulate(bulletin, data, now=now))
    except IntegrityError as exc:   # published by someone else, or another bulletin took the number, meanwhile
        raise Conflict(_("情况通报刚被他人发布，编号或内容已变化，请刷新后查看。")) from exc
    return bulletin


def _circulate(bulletin: Bulletin, data: dict, *, now: datetime) -> None:
    """One notification (and so one email, in the recipient's next digest) per department head and leader."""
    readers = db.session.scalars(select(User).where(User.role.in_([Role.DEPT_HEAD, Role.LEADER]),
                                                    User.active.is_(True)).order_by(User.id))
    late = late_department_names(data)
    body = (f"逾期单位：{'、'.join(late)}。" if late else "本期各单位均按时报送。") + \
        (f"未关闭的督办事项 {len(data['escalations'])} 项。" if data["escalations"] else "")
    link = f"/bulletins/{bulletin.id}"
    known: set[str] = set()   # a bulletin is published once: nothing of it was queued before
    for user in readers:
        notify.queue(user, kind="bulletin", key=f"bulletin:{bulletin.id}", known_keys=known, now=now, link=link,
                     subject=f"【情况通报】{data['plan']['title']}{data['number']}（{data['period']['label']}）",
                     body=body, data={"link": link, "period": data["period"]["key"],
                                      "period_label": data["period"]["label"]})


def document(bulletin: Bulletin, kind: str, *, now: datetime, data: dict | None = None) -> tuple[bytes, int | None, str]:
    """(bytes, pages, filename) of the bulletin as PDF or .docx: the archived file once published, a draft
    (watermarked 草稿) rendered from the current records otherwise (or from `data`, computed already)."""
    if bulletin.published:
        row = bulletin.file(kind)
        return archive.read(row), row.pages, row.filename
    data = data or compute(bulletin, now=now)
    payload, pages = documents.pdf(data) if kind == "pdf" else documents.docx(data, moment=now)
    return payload, pages, archive.filename(data, kind)


# -- listing ---------------------------------------------------------------------------------------------------

def visible_bulletins(user: User, *, plan_id: int | None = None, published_only: bool = False) -> Select:
    """Newest first: published ones for everyone, drafts too for the office and leaders."""
    q = select(Bulletin).options(selectinload(Bulletin.plan), selectinload(Bulletin.files))
    if published_only or not user.can_read_bulletin_drafts():
        q = q.where(Bulletin.status == BulletinStatus.PUBLISHED)
    if plan_id:
        q = q.where(Bulletin.plan_id == plan_id)
    return q.order_by(case((Bulletin.status == BulletinStatus.DRAFT, 0), else_=1), Bulletin.year.desc(),
                      Bulletin.number.desc(), Bulletin.created_at.desc(), Bulletin.id.desc())
