"""The API's request and response models (pydantic v2): the one source of its validation, its JSON and its
OpenAPI document (workflow.api.openapi builds the document from these classes).

Responses: canonical department names, decimals as JSON numbers, times ISO 8601 in UTC (+00:00), dates as
YYYY-MM-DD, states as the model enums, each beside its `*_label` (its display name from workflow.labels, in the
request's language). Field names are the public contract (CONTRACT.md): add, never rename.
Requests: types are checked here (422 per field, 400 for a query parameter); what a value means (a percentage
in range, a known target, a complete report) is checked by the services.
"""
from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, Self, TypeVar, get_args

from flask import url_for
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from models import (
    AdjustmentStatus,
    AssignmentRole,
    AssignmentStatus,
    BulletinKind,
    Comparator,
    ContributionStatus,
    DepartmentKind,
    PlanStatus,
    Progress,
    ReportStatus,
    Role,
)
from workflow.calendar.lateness import Lateness, is_outstanding
from workflow.converters import MAX_ID
from workflow.labels import label
from workflow.targets.services import TrackStatus

if TYPE_CHECKING:
    import models
    from workflow.targets.services import TrackedTarget as TrackedTargetRow

MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 50
MAX_PAGE = 2**31 - 1  # (page - 1) * per_page stays far inside a 64-bit OFFSET


# -- value types -----------------------------------------------------------------------------------------

def number(value) -> int | float | None:
    """Decimal (or a decimal string) as a JSON number: 1000, not 1000.000000; None stays None."""
    if value is None or value == "":
        return None
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    return int(d) if d == d.to_integral_value() else float(d)


def timestamp(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat() if dt else None


def clean_text(value: str) -> str:
    """NUL and lone surrogates cannot be stored (PostgreSQL refuses NUL, UTF-8 has no surrogates)."""
    if "\x00" in value:
        raise ValueError("text_nul")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text_surrogate") from None
    return value


def _whole_number(value: Any) -> Any:
    """A version is a JSON integer, and 1.0 is one (JSON Schema says so); "1", true and 1.5 are not."""
    if isinstance(value, bool | str):
        raise ValueError("int_type")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("int_type")
        return int(value)
    return value


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("number_type")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("finite_number")
    return value


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


Text = Annotated[str, AfterValidator(clean_text)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Version = Annotated[int, BeforeValidator(_whole_number), Field(ge=1, description="the version you edited; a stale "
                                                                                 "one is 409")]
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]
Timestamp = Annotated[datetime | None, PlainSerializer(timestamp, return_type=str | None),
                      WithJsonSchema({"type": ["string", "null"], "format": "date-time",
                                      "description": "ISO 8601, UTC with offset (+00:00)"})]
# A typed value: a number, or a string the service reads as one ("95.5", "1,000"); null clears it.
InputNumber = Annotated[int | float | str | None, BeforeValidator(_no_bool),
                        WithJsonSchema({"type": ["number", "string", "null"]})]
Percent = Annotated[int | float | str | None, BeforeValidator(_no_bool),
                    WithJsonSchema({"type": ["integer", "string", "null"], "description": "0–100"})]
QueryText = Annotated[Text | None, BeforeValidator(_blank_to_none)]
Label = Annotated[str, Field(description="display name of the code beside it, in the request's language")]


class Out(BaseModel):
    """A response body: built from the models by its `of`, validated on construction, dumped as JSON."""

    model_config = ConfigDict(populate_by_name=True)

    def dump(self) -> dict:
        return self.model_dump(mode="json", by_alias=True)


# -- problems --------------------------------------------------------------------------------------------

class Problem(Out):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: dict[str, str] | None = Field(
        None, description="field → reason (422; also on 400 for a bad query parameter)")
    current_version: int | None = Field(None, description="the record's current version (409)")
    max_bytes: int | None = Field(None, description="the upload size limit (413)")


class ValidationProblem(Problem):
    errors: dict[str, str]


class ConflictProblem(Problem):
    current_version: int | None = Field(None, description="the record's current version, when it has one (a "
                                                          "stale version or a versioned record's wrong state)")


# -- people and departments ------------------------------------------------------------------------------

class Me(Out):
    id: int
    username: str
    display_name: str
    role: Role
    role_label: Label
    department: str | None
    department_id: int | None
    email: str | None

    @classmethod
    def of(cls, user: models.User) -> Self:
        return cls(id=user.id, username=user.username, display_name=user.display, role=user.role,
                   role_label=label("role", user.role),
                   department=user.department.name if user.department else None,
                   department_id=user.department_id, email=user.email)


class Department(Out):
    id: int
    name: str
    aliases: list[str]
    kind: DepartmentKind
    kind_label: Label
    active: bool
    members: list[str] = Field(description="a collective's member units, which take its place at publish")

    @classmethod
    def of(cls, d: models.Department) -> Self:
        return cls(id=d.id, name=d.name, aliases=d.alias_names, kind=d.kind,
                   kind_label=label("department_kind", d.kind), active=d.active, members=[m.name for m in d.members])


# -- plans and tasks -------------------------------------------------------------------------------------

class Target(Out):
    id: int
    year: int | None
    value: Number
    unit: str
    comparator: Comparator
    metric: str
    sentence: str
    task_id: int | None

    @classmethod
    def fields_of(cls, t: models.Target) -> dict:
        return {"id": t.id, "year": t.year, "value": number(t.value), "unit": t.unit, "comparator": t.comparator,
                "metric": t.metric, "sentence": t.sentence, "task_id": t.task_id}

    @classmethod
    def of(cls, t: models.Target) -> Self:
        return cls(**cls.fields_of(t))


class Period(Out):
    id: int
    key: str = Field(examples=["2026Q1"])
    label: str
    start: date
    end: date
    deadline: date
    computed_deadline: date
    deadline_reason: str
    opened: bool

    @classmethod
    def of(cls, p: models.Period) -> Self:
        return cls(id=p.id, key=p.key, label=p.label, start=p.start, end=p.end, deadline=p.deadline,
                   computed_deadline=p.computed_deadline, deadline_reason=p.deadline_reason, opened=p.opened)


class PlanSummary(Out):
    id: int
    title: str
    status: PlanStatus
    status_label: Label
    issuing_body: str
    valid_from: int | None
    valid_to: int | None
    cadence: str
    deadline_workdays: int
    source_filename: str
    created_at: Timestamp
    published_at: Timestamp
    implied_units: list[str]
    task_count: int

    @classmethod
    def fields_of(cls, p: models.Plan, task_count: int) -> dict:
        return {"id": p.id, "title": p.title, "status": p.status, "status_label": label("plan_status", p.status),
                "issuing_body": p.issuing_body,
                "valid_from": p.valid_from, "valid_to": p.valid_to, "cadence": p.cadence,
                "deadline_workdays": p.deadline_workdays, "source_filename": p.source_filename,
                "created_at": p.created_at, "published_at": p.published_at,
                "implied_units": p.implied_unit_names, "task_count": task_count}

    @classmethod
    def of(cls, p: models.Plan, task_count: int) -> Self:
        return cls(**cls.fields_of(p, task_count))


class OutlineNode(Out):
    id: int
    code: str
    level: int
    marker: str
    title: str
    text: str
    task_id: int | None
    task_code: str | None
    children: list[OutlineNode]

    @classmethod
    def of(cls, item) -> Self:
        node, task_row = item.node, item.task
        return cls(id=node.id, code=node.code, level=node.level, marker=node.marker, title=node.title,
                   text=node.text, task_id=task_row.id if task_row else None,
                   task_code=task_row.code if task_row else None, children=[cls.of(c) for c in item.children])


class TaskBrief(Out):
    id: int
    code: str
    title: str


class PlanDetail(PlanSummary):
    outline: list[OutlineNode]
    periods: list[Period]
    targets: list[Target] = Field(description="plan-level targets")
    tasks: list[TaskBrief]

    @classmethod
    def of(cls, p: models.Plan, *, outline, periods) -> Self:
        return cls(**PlanSummary.fields_of(p, len(p.tasks)), outline=[OutlineNode.of(i) for i in outline],
                   periods=[Period.of(x) for x in periods], targets=[Target.of(t) for t in p.targets],
                   tasks=[TaskBrief(id=t.id, code=t.code, title=t.title) for t in p.tasks])


class Task(Out):
    id: int
    plan_id: int
    code: str
    title: str
    text: str
    clause: str
    leads: list[str] = Field(description="lead departments (牵头), canonical names")
    co: list[str] = Field(description="co-responsible departments (配合)")
    implied: list[str] = Field(description="units named once for the whole plan")
    targets: list[Target]
    due: str | None = Field(None, description="完成时限: a date (YYYY-MM-DD), 'ongoing' (持续推进/长期) or null")
    status: Literal["open", "closed"] = Field(description="closed once the office confirmed its 办结 (销号)")
    status_label: Label
    closed_at: Timestamp
    close_reason: str

    @classmethod
    def of(cls, t: models.Task) -> Self:
        return cls(id=t.id, plan_id=t.plan_id, code=t.code, title=t.title, text=t.text, clause=t.clause,
                   leads=[d.name for d in t.leads], co=[d.name for d in t.co], implied=[d.name for d in t.implied],
                   targets=[Target.of(x) for x in t.targets], due=t.due_label, status=t.status,
                   status_label=label("task_status", t.status), closed_at=t.closed_at, close_reason=t.close_reason)


class Extension(Out):
    """A 延期申请 on one report."""

    id: int
    report_id: int
    task_id: int
    task_code: str
    department: str
    period: str
    status: Literal["pending", "approved", "refused"]
    status_label: Label
    reason: str
    progress: str
    current_deadline: date = Field(description="the report's deadline when the request was made")
    new_deadline: date = Field(description="the date asked for; the report's deadline once approved")
    deadline: date = Field(description="the report's deadline now")
    requested_at: Timestamp
    decided_at: Timestamp
    decision_reason: str
    version: int

    @classmethod
    def of(cls, e: models.ExtensionRequest) -> Self:
        r = e.report
        return cls(id=e.id, report_id=r.id, task_id=r.task_id, task_code=r.task.code, department=r.department.name,
                   period=r.period.key, status=e.status, status_label=label("extension_status", e.status),
                   reason=e.reason, progress=e.progress, current_deadline=e.current_deadline,
                   new_deadline=e.new_deadline, deadline=r.deadline, requested_at=e.requested_at,
                   decided_at=e.decided_at, decision_reason=e.decision_reason, version=e.version)


class CompletionValue(Out):
    target_id: int
    value: Number


class Completion(Out):
    """A 办结报告 and the office's decision (销号 closes the task)."""

    id: int
    task_id: int
    task_code: str
    task_status: Literal["open", "closed"]
    department: str
    status: Literal["submitted", "confirmed", "returned"]
    status_label: Label
    summary: str
    values: list[CompletionValue]
    attachments: list[str] = Field(description="file names")
    submitted_at: Timestamp
    decided_at: Timestamp
    decision_reason: str
    version: int

    @classmethod
    def of(cls, c: models.CompletionReport) -> Self:
        values = [CompletionValue(target_id=v["target_id"], value=_json_number(v["value"])) for v in c.values]
        return cls(id=c.id, task_id=c.task_id, task_code=c.task.code, task_status=c.task.status,
                   department=c.department.name, status=c.status, status_label=label("completion_status", c.status),
                   summary=c.summary, values=values, attachments=[f["filename"] for f in c.files],
                   submitted_at=c.submitted_at, decided_at=c.decided_at, decision_reason=c.decision_reason,
                   version=c.version)


def _json_number(text: str) -> int | float:
    number = float(text)
    return int(number) if number.is_integer() else number


# -- the indicator tracker -------------------------------------------------------------------------------

class TrendPoint(Out):
    period: str = Field(examples=["2026Q1"])
    value: Number


class TrackedTarget(Out):
    """One target as one department reports it (workflow.targets.services.TrackedTarget)."""

    target_id: int
    plan_id: int
    task_id: int | None = Field(description="null for a plan-level target")
    task_code: str | None
    area: str | None = Field(description="code of the outline part the task is under, e.g. 3.4")
    metric: str
    year: int | None = Field(description="the year the target is for")
    value: Number = Field(description="the target value")
    unit: str
    comparator: Comparator
    label: str = Field(examples=["≥ 1000兆瓦"])
    department: str | None = Field(description="the department that reports it (a lead of the task); null for a "
                                               "plan-level target or a task nobody leads")
    latest: Number | None = Field(description="the latest value an approved report gave")
    latest_period: str | None = Field(description="the period of that report")
    due_year: int
    due: Number | None = Field(description="what is due by the end of due_year, as the annual evaluation computes "
                                           "it; null when there is no base value for the linear path")
    due_basis: Literal["target", "linear", "milestone", "no_base"]
    due_basis_label: Label
    attainment: float | None = Field(description="the evaluation's attainment of the latest value, 0–100")
    status: TrackStatus = Field(description="on_track: the latest value meets what is due; off_track: it falls "
                                            "short; no_value: nothing approved yet or nothing to compare with")
    status_label: Label
    trend: list[TrendPoint] = Field(description="approved values, oldest period first")

    @classmethod
    def of(cls, r: TrackedTargetRow) -> Self:
        t = r.target
        return cls(target_id=t.id, plan_id=t.plan_id, task_id=t.task_id, task_code=r.task.code if r.task else None,
                   area=r.area, metric=t.metric, year=t.year, value=number(t.value), unit=t.unit,
                   comparator=t.comparator, label=t.label, department=r.department.name if r.department else None,
                   latest=r.latest, latest_period=r.latest_period.key if r.latest_period else None, due_year=r.year,
                   due=None if r.due is None else round(r.due, 6), due_basis=r.basis,
                   due_basis_label=label("attainment_basis", r.basis),
                   attainment=None if r.attainment is None else round(r.attainment, 2), status=r.status,
                   status_label=label("target_status", r.status),
                   trend=[TrendPoint(period=key, value=value) for key, value in r.trend])


# -- assignments -----------------------------------------------------------------------------------------

class Adjustment(Out):
    id: int
    assignment_id: int
    reason: str
    proposed_department: str
    status: AdjustmentStatus
    status_label: Label
    requested_at: Timestamp
    decided_at: Timestamp
    decision_reason: str

    @classmethod
    def fields_of(cls, r: models.AdjustmentRequest) -> dict:
        return {"id": r.id, "assignment_id": r.assignment_id, "reason": r.reason,
                "proposed_department": r.proposed_name, "status": r.status,
                "status_label": label("adjustment_status", r.status), "requested_at": r.requested_at,
                "decided_at": r.decided_at, "decision_reason": r.decision_reason}

    @classmethod
    def of(cls, r: models.AdjustmentRequest) -> Self:
        return cls(**cls.fields_of(r))


class Assignment(Out):
    id: int
    task_id: int
    task_code: str
    task_title: str
    plan_id: int
    department: str
    role: AssignmentRole
    role_label: Label
    implied: bool
    status: AssignmentStatus
    status_label: Label
    acknowledged_at: Timestamp
    version: int
    pending_adjustment: Adjustment | None

    @classmethod
    def of(cls, a: models.Assignment) -> Self:
        pending = a.pending_adjustment
        return cls(id=a.id, task_id=a.task_id, task_code=a.task.code, task_title=a.task.title,
                   plan_id=a.task.plan_id, department=a.department.name, role=a.role,
                   role_label=label("assignment_role", a.role), implied=a.implied, status=a.status,
                   status_label=label("assignment_status", a.status), acknowledged_at=a.acknowledged_at,
                   version=a.version,
                   pending_adjustment=Adjustment.of(pending) if pending else None)


class AdjustmentCreated(Adjustment):
    assignment: Assignment

    @classmethod
    def of(cls, r: models.AdjustmentRequest, assignment: models.Assignment) -> Self:
        return cls(**Adjustment.fields_of(r), assignment=Assignment.of(assignment))


# -- reports ---------------------------------------------------------------------------------------------

class ReportSummary(Out):
    id: int
    task_id: int
    task_code: str
    task_title: str
    plan_id: int
    department: str
    period: str = Field(description="period key, e.g. 2026Q1")
    period_label: str
    deadline: date
    status: ReportStatus
    status_label: Label
    version: int
    percent_complete: int | None
    progress: Progress | None
    progress_label: Label | None
    overdue: bool
    days_late: int = Field(description="working days past the deadline on the office calendar: to today while "
                                       "outstanding, else to the first submission")
    submitted_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def fields_of(cls, r: models.Report, late: Lateness) -> dict:
        """`late` is lateness.days_late(r, ...): overdue while outstanding, and the working days either way."""
        return {"id": r.id, "task_id": r.task_id, "task_code": r.task.code, "task_title": r.task.title,
                "plan_id": r.task.plan_id, "department": r.department.name, "period": r.period.key,
                "period_label": r.period.label, "deadline": r.deadline, "status": r.status,
                "status_label": label("report_status", r.status), "version": r.version,
                "percent_complete": r.percent_complete, "progress": r.progress,
                "progress_label": label("progress", r.progress) if r.progress else None,
                "overdue": bool(late) and is_outstanding(r), "days_late": late.working,
                "submitted_at": r.submitted_at, "updated_at": r.updated_at}

    @classmethod
    def of(cls, r: models.Report, *, late: Lateness) -> Self:
        return cls(**cls.fields_of(r, late))


class ReportValue(Out):
    target_id: int
    value: Number | None


class Attachment(Out):
    id: int
    report_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: Timestamp
    url: str = Field(description="download path (GET /api/v1/attachments/{id})")

    @classmethod
    def of(cls, a: models.Attachment) -> Self:
        return cls(id=a.id, report_id=a.report_id, filename=a.filename, content_type=a.content_type, size=a.size,
                   sha256=a.sha256, uploaded_at=a.uploaded_at,
                   url=url_for("api.download_attachment", attachment_id=a.id))


class Contribution(Out):
    id: int
    task_id: int
    task_code: str
    task_title: str
    department: str
    period: str
    period_label: str
    deadline: date
    status: ContributionStatus
    status_label: Label
    text: str
    version: int
    submitted_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, c: models.Contribution) -> Self:
        return cls(id=c.id, task_id=c.task_id, task_code=c.task.code, task_title=c.task.title,
                   department=c.department.name, period=c.period.key, period_label=c.period.label,
                   deadline=c.period.deadline, status=c.status,
                   status_label=label("contribution_status", c.status), text=c.text, version=c.version,
                   submitted_at=c.submitted_at, updated_at=c.updated_at)


class FieldChange(Out):
    from_: Any = Field(alias="from")
    to: Any


class ValueChange(Out):
    target_id: int
    from_: Number | None = Field(alias="from")
    to: Number | None


class ResubmissionDiff(Out):
    from_version: int
    to_version: int
    narrative: list[str] = Field(description="ndiff lines: '  ' same, '- ' removed, '+ ' added")
    fields: dict[str, FieldChange]
    values: list[ValueChange]

    @classmethod
    def of(cls, diff: dict | None) -> Self | None:
        if diff is None:
            return None
        return cls(from_version=diff["from_version"], to_version=diff["to_version"], narrative=diff["narrative"],
                   fields={name: FieldChange(from_=old, to=new) for name, (old, new) in diff["fields"].items()},
                   values=[ValueChange(target_id=int(tid), from_=number(old), to=number(new))
                           for tid, (old, new) in diff["values"].items()])


class ReportTarget(Target):
    reported_value: Number | None


class Permissions(Out):
    edit: bool
    review: bool


class ReportDetail(ReportSummary):
    narrative: str
    difficulties: str
    next_steps: str
    values: list[ReportValue]
    targets: list[ReportTarget] = Field(description="the task's targets with the value this report gives")
    attachments: list[Attachment]
    contributions: list[Contribution] = Field(
        description="the co-departments' contributions for the same task and period")
    missing_contributions: list[str] = Field(description="departments whose contribution is not submitted")
    last_return_reason: str | None = Field(description="the office's reason when it last returned it")
    return_count: int
    first_submitted_at: Timestamp
    reviewed_at: Timestamp
    resubmission_diff: ResubmissionDiff | None
    permissions: Permissions

    @classmethod
    def of(cls, r: models.Report, *, user: models.User, contributions: list[models.Contribution],
           diff: dict | None, late: Lateness) -> Self:
        values = {v.target_id: v.value for v in r.values}
        return cls(
            **ReportSummary.fields_of(r, late),
            narrative=r.narrative, difficulties=r.difficulties, next_steps=r.next_steps,
            values=[ReportValue(target_id=v.target_id, value=number(v.value)) for v in r.values],
            targets=[ReportTarget(**Target.fields_of(t), reported_value=number(values.get(t.id)))
                     for t in r.task.targets],
            attachments=[Attachment.of(a) for a in r.attachments if not a.removed],
            # Every co-department's name and status is the task's public business; a draft's text is not.
            contributions=[Contribution.of(c) for c in contributions if c.can_view(user)],
            missing_contributions=[c.department.name for c in contributions if c.status != "submitted"],
            last_return_reason=r.last_return_reason or None, return_count=r.return_count,
            first_submitted_at=r.first_submitted_at, reviewed_at=r.reviewed_at,
            resubmission_diff=ResubmissionDiff.of(diff),
            permissions=Permissions(edit=r.can_edit(user), review=r.can_review(user)),
        )


class Revision(Out):
    version: int
    status: ReportStatus
    created_at: Timestamp
    actor: str | None
    narrative: str
    percent_complete: int | None
    progress: Progress | None
    difficulties: str
    next_steps: str
    values: list[ReportValue]

    @classmethod
    def of(cls, rev: models.ReportRevision) -> Self:
        data = rev.data or {}
        return cls(version=rev.version, status=rev.status, created_at=rev.created_at,
                   actor=rev.actor.username if rev.actor else None, narrative=data.get("narrative", ""),
                   percent_complete=data.get("percent_complete"), progress=data.get("progress"),
                   difficulties=data.get("difficulties", ""), next_steps=data.get("next_steps", ""),
                   values=[ReportValue(target_id=int(tid), value=number(v))
                           for tid, v in (data.get("values") or {}).items()])


class AuditEvent(Out):
    id: int
    at: Timestamp
    actor: str | None = Field(description="username")
    actor_name: str | None
    action: str = Field(examples=["report.submit", "report.return", "attachment.add"])
    from_: str | None = Field(alias="from")
    to: str | None
    comment: str

    @classmethod
    def of(cls, e: models.AuditEvent) -> Self:
        return cls(id=e.id, at=e.at, actor=e.actor.username if e.actor else None,
                   actor_name=e.actor.display if e.actor else None, action=e.action, from_=e.from_state,
                   to=e.to_state, comment=e.comment)


# -- bulletins (情况通报) ---------------------------------------------------------------------------------

class BulletinFile(Out):
    kind: Literal["pdf", "docx"]
    filename: str
    size: int
    pages: int | None
    sha256: str
    url: str = Field(description="download path (GET /api/v1/bulletins/{id}/file?kind=…)")

    @classmethod
    def of(cls, f: models.BulletinFile) -> Self:
        return cls(kind=f.kind, filename=f.filename, size=f.size, pages=f.pages, sha256=f.sha256,
                   url=url_for("api.download_bulletin", bulletin_id=f.bulletin_id, kind=f.kind))


class BulletinCounts(Out):
    """Reports of the bulletin's periods: due (deadline passed or handed in), handed in on time or late, not
    handed in by a passed deadline (missing), not yet due (pending), returned at least once, approved."""

    reports: int
    due: int
    on_time: int
    late: int
    missing: int
    pending: int
    returned: int
    approved: int
    escalated: int
    on_time_rate: Number | None = Field(description="on time / due, in per cent")


class BulletinEscalation(Out):
    department: str
    task: str = Field(description="task code")
    period: str
    what: str = Field(description="报告 (the lead's report) or 配合情况 (a co-department's contribution)")
    cause: str
    days_late: int


class Bulletin(Out):
    id: int
    plan_id: int
    period: str = Field(examples=["2026Q3"], description="the month, quarter or half-year it covers")
    period_label: str
    kind: BulletinKind
    kind_label: Label
    number: str = Field(examples=["2026年第3期"])
    title: str
    published_at: Timestamp
    late_departments: list[str] = Field(description="departments with a report late or missing, most first")
    open_escalations: list[BulletinEscalation]
    files: list[BulletinFile]

    @classmethod
    def fields_of(cls, b: models.Bulletin) -> dict:
        data = b.data or {}
        return {"id": b.id, "plan_id": b.plan_id, "period": b.period_key, "period_label": data["period"]["label"],
                "kind": b.kind, "kind_label": label("bulletin_kind", b.kind), "number": b.number_label,
                "title": data["title"], "published_at": b.published_at,
                "late_departments": [d["name"] for d in data["late_departments"]],
                "open_escalations": [BulletinEscalation(**{k: e[k] for k in BulletinEscalation.model_fields})
                                     for e in data["escalations"]],
                "files": [BulletinFile.of(f) for f in b.files]}

    @classmethod
    def of(cls, b: models.Bulletin) -> Self:
        return cls(**cls.fields_of(b))


class BulletinDepartment(BulletinCounts):
    name: str


class BulletinDetail(Bulletin):
    as_of: date
    overall: BulletinCounts
    departments: list[BulletinDepartment]
    lead: str
    next_steps: str

    @classmethod
    def of(cls, b: models.Bulletin) -> Self:
        data = b.data
        return cls(**cls.fields_of(b), as_of=date.fromisoformat(data["as_of"]),
                   overall=BulletinCounts(**data["overall"]),
                   departments=[BulletinDepartment(**d) for d in data["departments"]],
                   lead=data["lead"], next_steps=data["next_steps"])


# -- pages -----------------------------------------------------------------------------------------------

Item = TypeVar("Item", bound=Out)


class Page(Out, Generic[Item]):
    """`{"items", "total", "page", "per_page"}` from a Flask-SQLAlchemy pagination."""

    items: list[Item]
    total: int
    page: int
    per_page: int

    @classmethod
    def of(cls, pagination, item=None) -> Self:
        """`item` builds one item from a row; by default the item model's own `of`."""
        build = item or get_args(cls.model_fields["items"].annotation)[0].of
        return cls(items=[build(x) for x in pagination.items], total=pagination.total or 0, page=pagination.page,
                   per_page=pagination.per_page)


class PlanPage(Page[PlanSummary]):
    pass


class TaskPage(Page[Task]):
    pass


class DepartmentPage(Page[Department]):
    pass


class AssignmentPage(Page[Assignment]):
    pass


class ReportSummaryPage(Page[ReportSummary]):
    pass


class RevisionPage(Page[Revision]):
    pass


class AuditEventPage(Page[AuditEvent]):
    pass


class ContributionPage(Page[Contribution]):
    pass


class TrackedTargetPage(Page[TrackedTarget]):
    pass


class BulletinPage(Page[Bulletin]):
    pass


# -- the overview ----------------------------------------------------------------------------------------

class ReportStates(Out):
    """Reports by state: drafts by how near their deadline is (not_due, due_soon, overdue: at least one working
    day late), the others by status."""

    not_due: int
    due_soon: int
    overdue: int
    submitted: int
    returned: int
    approved: int


class TaskLights(Out):
    """Tasks by light (the rule: workflow/overview/lights.py, printed on the overview page)."""

    red: int
    yellow: int
    green: int
    grey: int
    done: int


class EscalationLevels(Out):
    level1: int = Field(description="items not handed in at the reminder ladder's level 1 (逾期提醒)")
    level2: int = Field(description="… at level 2 (逾期催办)")
    level3: int = Field(description="open escalations (督办)")


class TargetStates(Out):
    on_track: int = Field(description="latest approved value meets what is due this year (as the evaluation)")
    off_track: int
    no_value: int = Field(description="no approved value yet")


class OverviewFigures(Out):
    reports: ReportStates
    tasks: TaskLights
    contributions_missing: int = Field(description="drafts at least one working day past their deadline")
    escalations: EscalationLevels
    targets: TargetStates

    @classmethod
    def fields_of(cls, f) -> dict:
        """`f`: a workflow.overview.services.Figures."""
        return {"reports": ReportStates(**f.reports), "tasks": TaskLights(**{str(k): v for k, v in f.tasks.items()}),
                "contributions_missing": f.contributions_missing,
                "escalations": EscalationLevels(**{f"level{k}": v for k, v in f.escalations.items()}),
                "targets": TargetStates(**f.targets)}


class OverviewRow(OverviewFigures):
    escalations_open: int

    @classmethod
    def fields_of(cls, f) -> dict:
        return {**OverviewFigures.fields_of(f), "escalations_open": f.escalations[3]}


class OverviewDepartment(OverviewRow):
    department: str = Field(description="canonical name; its tasks are the ones it leads")


class OverviewArea(OverviewRow):
    code: str = Field(description="the outline heading's code (e.g. 3.4); empty for tasks under none")
    title: str


class OverviewPeriod(OverviewFigures):
    key: str
    label: str
    deadline: date


class OverviewYear(OverviewFigures):
    year: int


class LightRules(Out):
    due_soon_workdays: int = Field(description="yellow: due within this many working days and not handed in")
    red_workdays_late: int = Field(description="red: this many working days late and not handed in")


class Overview(Out):
    """The overview of a plan: figures over every period opened so far (top level, per department and per
    area), and the same for the current period and the year."""

    plan_id: int
    as_of: date = Field(description="the day the figures are counted on (Asia/Shanghai)")
    reports: ReportStates
    tasks: TaskLights
    escalations_open: int
    departments: list[OverviewDepartment]
    contributions_missing: int
    escalations: EscalationLevels
    targets: TargetStates
    areas: list[OverviewArea]
    period: OverviewPeriod | None = Field(description="the current period: the latest that has ended, else the "
                                                      "running one; null before any has begun")
    year: OverviewYear = Field(description="the periods ending in the current year")
    rules: LightRules

    @classmethod
    def of(cls, o) -> Self:
        """`o`: a workflow.overview.services.Overview."""
        period = (OverviewPeriod(key=o.period.key, label=o.period.label, deadline=o.period.deadline,
                                 **OverviewFigures.fields_of(o.figures["period"])) if o.period else None)
        return cls(plan_id=o.plan.id, as_of=o.today, **OverviewRow.fields_of(o.figures["all"]),
                   departments=[OverviewDepartment(department=r.name, **OverviewRow.fields_of(r.figures))
                                for r in o.departments["all"]],
                   areas=[OverviewArea(code=r.key, title=r.name, **OverviewRow.fields_of(r.figures))
                          for r in o.areas["all"]],
                   period=period, year=OverviewYear(year=o.year, **OverviewFigures.fields_of(o.figures["year"])),
                   rules=LightRules(**o.rules.__dict__))


# -- request bodies --------------------------------------------------------------------------------------

class Body(BaseModel):
    """A JSON request body; fields it does not know are ignored, numbers must be finite."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    def given(self, name: str) -> bool:
        return name in self.model_fields_set


class VersionBody(Body):
    version: Version | None = None


class ValueInput(Body):
    target_id: int
    value: InputNumber = None


class ReportFields(Body):
    """Fields left out keep their saved value; null clears one."""

    narrative: Text | None = None
    percent_complete: Percent = None
    progress: Progress | None = None
    difficulties: Text | None = None
    next_steps: Text | None = None
    values: list[ValueInput] | dict[Text, InputNumber] | None = Field(
        None, description="[{target_id, value}] as GET shows them, or {target id: value}")


class ReportPatch(ReportFields):
    """Save the draft: the version you edited is required."""

    version: Version


class ReportSubmit(ReportFields):
    """Submit; the same fields as PATCH, when given, are saved and submitted in one step."""

    version: Version | None = None


class ApproveBody(Body):
    version: Version | None = None
    comment: Text | None = None


class ReturnBody(Body):
    version: Version | None = None
    reason: Text


class AdjustmentBody(Body):
    reason: Text
    proposed_department: Text = Field(
        description="canonical name or alias of the department that should take the task")
    version: Version | None = None


class ExtensionBody(Body):
    reason: Text | None = None
    new_deadline: date | None = Field(None, description="YYYY-MM-DD: after the current deadline, within a year")
    progress: Text | None = None


class DecisionBody(Body):
    version: Version | None = None
    comment: Text | None = None


class CompletionBody(Body):
    summary: Text | None = None
    values: list[ValueInput] | dict[Text, InputNumber] | None = Field(
        None, description="final target values: [{target_id, value}] or {target id: value}")


class ReasonBody(Body):
    version: Version | None = None
    reason: Text | None = None


class ContributionPatch(Body):
    version: Version
    text: Text | None = None


class ContributionSubmit(Body):
    version: Version | None = None
    text: Text | None = None


# -- query parameters ------------------------------------------------------------------------------------

class Query(BaseModel):
    """Query parameters: a value that is not what the parameter takes is a 400, never silently dropped."""

    model_config = ConfigDict(extra="ignore")


class PageQuery(Query):
    page: int = Field(1, ge=1, le=MAX_PAGE, description="page number, from 1")
    per_page: int = Field(DEFAULT_PER_PAGE, ge=1, le=MAX_PER_PAGE,
                          description="items per page; outside 1–200 is a 400")


DepartmentName = Annotated[QueryText, Field(
    description="department by canonical name or alias; an unknown name is a 400")]


class TaskQuery(PageQuery):
    plan_id: Id | None = None
    department: DepartmentName = None
    q: QueryText = Field(None, description="a task code, or words in its title or text")


class TargetQuery(PageQuery):
    plan_id: Id | None = Field(None, description="one plan; without it every published plan")
    department: DepartmentName = None
    area: QueryText = Field(None, description="code of an outline part, e.g. 3.4")


class AssignmentQuery(PageQuery):
    department: DepartmentName = None
    status: AssignmentStatus | None = None
    plan_id: Id | None = None


class ReportQuery(PageQuery):
    period: QueryText = Field(None, description="period key, e.g. 2026Q1")
    status: ReportStatus | None = None
    department: DepartmentName = None
    task_code: QueryText = Field(None, description="e.g. 3.4.3")
    overdue: bool = Field(False, description="not submitted and at least one working day past the deadline")
    plan_id: Id | None = None


class BulletinQuery(PageQuery):
    plan_id: Id | None = None


class BulletinFileQuery(Query):
    kind: Literal["pdf", "docx"] = Field("pdf", description="pdf or docx")


class ContributionQuery(PageQuery):
    report_id: Id | None = Field(None, description="the contributions for that report's task and period")
    department: DepartmentName = None
    period: QueryText = None
    status: ContributionStatus | None = None
