"""The 督办通知单 as a document: when an escalation opens, its notice takes the next number of the year
(督办〔2026〕第 N 号, no gaps), its date (the opening day) and its facts, frozen as a JSON snapshot; printing it again
renders from the snapshot, so every print is the same document whatever has changed since.

The reminder pass freezes the notice in the transaction that opens the escalation; escalations opened before
notices existed get theirs at the next pass, numbered in the order they opened (reads never write, and the facts
come from these rules, which a migration must not import). Nothing here imports the reminder rules: the caller
passes the deadline the lateness counts from.
"""
from __future__ import annotations

from datetime import date, datetime

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from models import Escalation, Notice, NumberSeries
from workflow.calendar.lateness import lateness, resubmission_due
from workflow.calendar.periods import period_name
from workflow.calendar.workdays import WorkdayCalendar
from workflow.clock import local
from workflow.extensions import db
from workflow.labels import chinese, label

NOTICE_SERIES = "notice"
DEFAULT_OFFICE_NAME = "领导小组办公室"
RESPONSE_WORKDAYS = 3
EXCERPT_CHARS = 160


def office_name() -> str:
    name = current_app.config.get("OFFICE_NAME") if has_app_context() else None
    return name or DEFAULT_OFFICE_NAME


def cn_date(d: date) -> str:
    """2026-04-08 → '2026年4月8日' (the form official documents use; in English, 4/8/2026)."""
    return _("%(year)s年%(month)s月%(day)s日", year=d.year, month=d.month, day=d.day)


def notice_title(year: int, number: int | None) -> str:
    return _("督办〔%(year)s〕第 %(number)s 号", year=year, number=number if number is not None else "—")


def _excerpt(text: str, title: str = "", limit: int = EXCERPT_CHARS) -> str:
    """The task's text without its opening title sentence, collapsed and cut to `limit` characters."""
    text = " ".join((text or "").split())
    if title and text.startswith(title):
        text = text[len(title):].lstrip("。.;；，, ") or text
    return text if len(text) <= limit else text[:limit].rstrip("，,。；; ") + "……"


def deadline_of(escalation: Escalation, grace_workdays: int, calendar: WorkdayCalendar) -> date:
    """The deadline the days late count from: the period's, or for a returned report the end of its grace
    (the return day plus `grace_workdays`), as the reminder rules count it."""
    if escalation.cause == "returned" and escalation.report is not None and escalation.report.reviewed_at:
        return resubmission_due(escalation.report, grace_workdays, calendar)
    return escalation.report.deadline if escalation.report is not None else escalation.period.deadline


def notice_facts(escalation: Escalation, *, deadline: date, calendar: WorkdayCalendar) -> dict:
    """What the notice says, as of the day its escalation opened: JSON values only (dates as ISO text), its words
    in Chinese (an official document, whoever is reading; a page shows them in its reader's language by
    `notice_wording` from the same facts)."""
    task, period = escalation.task, escalation.period
    is_report = escalation.report is not None   # the relationship: a just-opened escalation has no ids yet
    issued = local(escalation.opened_at).date()
    facts = {
        "year": issued.year,
        "department": escalation.department.name,
        "task_code": task.code,
        "task_title": task.title,
        "task_excerpt": _excerpt(task.text or task.title, task.title),
        "period_key": period.key,
        "subject": "report" if is_report else "contribution",
        "deadline": deadline.isoformat(),
        "days_late": lateness(deadline, issued, calendar).working,
        "cause_key": escalation.cause,
        "return_reason": (escalation.report.last_return_reason
                          if escalation.cause == "returned" and escalation.report is not None else ""),
        "office_name": office_name(),
        "date": issued.isoformat(),
    }
    with chinese():
        return {**facts, **notice_wording(facts)}


def notice_wording(facts: dict) -> dict:
    """The notice's sentences and names from its facts, in the active language: the one place they are worded.
    Snapshots frozen before `subject` was kept tell a contribution by its role (配合)."""
    is_report = facts.get("subject", "contribution" if facts.get("role") == "配合" else "report") == "report"
    deadline, issued = date.fromisoformat(facts["deadline"]), date.fromisoformat(facts["date"])
    words = {"what": _("进展情况报告") if is_report else _("配合工作情况"), "role": _("牵头") if is_report else _("配合"),
             "period_label": period_name(facts["period_key"]), "deadline_text": cn_date(deadline),
             "date_text": cn_date(issued), "cause": label("escalation_cause", facts["cause_key"]),
             "request": _("请于收到本通知后 %(n)s 个工作日内报送并说明原因。", n=RESPONSE_WORKDAYS)}
    subject = {"role": words["role"], "code": facts["task_code"], "title": facts["task_title"],
               "period": words["period_label"], "what": words["what"], "deadline": words["deadline_text"],
               "n": facts["days_late"]}
    if facts["cause_key"] == "returned":
        words["body"] = _("你单位%(role)s承担的任务 %(code)s“%(title)s”%(period)s%(what)s经审核被退回后，"
                          "未在规定时间（%(deadline)s前）重新报送，至今已逾期 %(n)s 个工作日。", **subject)
    else:
        words["body"] = _("你单位%(role)s承担的任务 %(code)s“%(title)s”%(period)s%(what)s应于 "
                          "%(deadline)s前报送，至今未报送，已逾期 %(n)s 个工作日。", **subject)
    return words


def take_number(series: str, year: int, count: int = 1) -> int:
    """The next number of `series` in `year` (with `count`: the last of the next `count`), in the caller's
    transaction.

    One UPDATE … RETURNING: PostgreSQL locks the year's row until the caller commits, so a concurrent taker
    waits and then gets the following number; a rollback returns the number (no gaps). The year's first number
    creates the row in a savepoint; if another transaction created it meanwhile, take from theirs."""
    taken = db.session.execute(
        update(NumberSeries).where(NumberSeries.series == series, NumberSeries.year == year)
        .values(last=NumberSeries.last + count).returning(NumberSeries.last)
        .execution_options(synchronize_session=False)).scalar()
    if taken is not None:
        return taken
    try:
        with db.session.begin_nested():
            db.session.add(NumberSeries(series=series, year=year, last=count))
    except IntegrityError:
        return take_number(series, year, count)
    return count


def freeze_notices(opened: list[tuple[Escalation, date]], *, calendar: WorkdayCalendar,
                   now: datetime) -> list[Notice]:
    """Number, date and freeze the notices of just-opened (stored) escalations with their deadlines, in the
    caller's transaction, numbered in the order given: one UPDATE per year takes the whole run of numbers and
    one INSERT writes the notices (the reminder pass opens thousands at once at province size)."""
    if not opened:
        return []
    facts = [notice_facts(e, deadline=deadline, calendar=calendar) for e, deadline in opened]
    wanted: dict[int, int] = {}
    for f in facts:
        wanted[f["year"]] = wanted.get(f["year"], 0) + 1
    with db.session.no_autoflush:   # flushing the pending escalations first would cost a round trip each
        next_of = {year: take_number(NOTICE_SERIES, year, n) - n + 1 for year, n in sorted(wanted.items())}
    rows = []
    for (escalation, _deadline), f in zip(opened, facts, strict=True):
        number, next_of[f["year"]] = next_of[f["year"]], next_of[f["year"]] + 1
        rows.append({"escalation_id": escalation.id, "year": f["year"], "number": number,
                     "issued_on": date.fromisoformat(f["date"]), "facts": f, "frozen_at": now})
    db.session.execute(insert(Notice), rows)   # one executemany (RETURNING in order would be a row at a time)
    stored = {n.escalation_id: n for n in db.session.scalars(
        select(Notice).where(Notice.frozen_at == now))}   # this call's (and any frozen at the same moment)
    return [stored[row["escalation_id"]] for row in rows]
