"""The one mechanism for state changes: a transition table per stateful thing, applied by `apply_transition`.

A transition, in one database transaction: check permission → check the optimistic version and the current
state → change → audit row → effects other domains registered with `on` → notifications → commit. Two writers
racing never both win: a versioned model (version_id_col) makes the loser's UPDATE match no row at flush
(StaleDataError, turned into a Conflict by `committed`); the other models move by a conditional UPDATE on their
state, so the loser matches no row there. State is changed nowhere else in the code.
"""
from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm.exc import StaleDataError

from models import (
    ACTIVE_ASSIGNMENT,
    AdjustmentRequest,
    AdjustmentStatus,
    Assignment,
    AssignmentStatus,
    Bulletin,
    BulletinStatus,
    CompletionReport,
    CompletionStatus,
    Contribution,
    ContributionStatus,
    EmailStatus,
    Escalation,
    EscalationStatus,
    Evaluation,
    EvaluationStatus,
    ExtensionRequest,
    ExtensionStatus,
    Instruction,
    InstructionStatus,
    Job,
    JobStatus,
    Notice,
    NoticeStatus,
    OutboxEmail,
    Plan,
    PlanStatus,
    Report,
    ReportStatus,
    Task,
    TaskStatus,
    User,
)
from models.audit import record
from models.instruction import is_department_member, may_close
from models.notify import is_head_of
from workflow.clock import local
from workflow.domain import Conflict, PermissionDenied
from workflow.extensions import db
from workflow.labels import label

Permission = Callable[[Any, User | None], bool]
Effect = Callable[..., None]


@dataclass(frozen=True)
class Transition:
    sources: tuple[str, ...]
    target: str
    # Who may ask for it; None marks the system's own move (the scheduler, an effect of another transition).
    permission: Permission | None = None
    denied: str = _l("无权执行此操作。")   # lazy: rendered in the locale active when refused
    refused: Callable[[Any], str] | None = None   # the wrong-state message, when not the table's
    audit: str | None = None                       # the audit action, when not "<table>.<action>"


@dataclass(frozen=True)
class Table:
    model: type
    states: type[enum.StrEnum]
    transitions: dict[str, Transition]
    refused: Callable[[Any, str], str] | None = None   # the wrong-state message, when not the generic one
    stale: Callable[[Any, str], str] = field(default=lambda obj, expected: _("该记录已被他人修改，请刷新后再操作。"))

    @property
    def kind(self) -> str:
        return self.model.__tablename__

    @property
    def versioned(self) -> bool:
        return self.model.__mapper__.version_id_col is not None


def _own_liaison(obj, user: User | None) -> bool:
    return user is not None and user.is_liaison_of(obj.department_id)


def _reviewer(_obj, user: User | None) -> bool:
    return user is not None and user.is_reviewer


def _revising(_obj, user: User | None) -> bool:
    """The office, or the operations CLI (no user) importing a revised plan."""
    return user is None or user.can_import_plans()


def _may(ability: Callable[[User], bool]) -> Permission:
    """A table whose rule is the actor's alone: one of User's permission methods (models/org.py)."""
    return lambda _obj, user: user is not None and ability(user)


# -- the tables ----------------------------------------------------------------------------------------------

def _report_refused(obj, action: str) -> str:
    states = "contribution_status" if isinstance(obj, Contribution) else "report_status"
    return _("当前状态为“%(state)s”，不能%(action)s。", state=label(states, obj.status), action=label("action", action))


def _withdraw_refused(report) -> str:
    if report.status in (ReportStatus.APPROVED, ReportStatus.RETURNED):
        return _("领导小组办公室已审核该报告（%(state)s），不能再撤回。", state=label("report_status", report.status))
    return _("该报告尚未提交（%(state)s），无需撤回。", state=label("report_status", report.status))


def _content_stale(obj, expected: str) -> str:
    return _("该内容已被他人修改（当前版本 %(version)s，您编辑的是版本 %(expected)s）。"
             "您填写的内容已保留，请核对后再保存。", version=obj.version, expected=expected)


def _escalation_closed(escalation) -> str:
    if escalation.close_reason == "submitted":
        return _("该督办事项已因报送而自动关闭，无需再关闭。")
    return _("该督办事项已被关闭，无需重复关闭。")


def _instruction_refused(instruction, action: str) -> str:
    return _("该批示当前为“%(state)s”，不能%(action)s。", state=label("instruction_status", instruction.status),
             action=label("instruction_action", action))


REVIEW_DENIED = _l("只有领导小组办公室可以审核报告。")
REVISION_DENIED = _l("只有领导小组办公室可以修订方案。")
ADJUSTMENT_DENIED = _l("只有领导小组办公室可以处理调整申请。")
EXTENSION_DENIED = _l("只有领导小组办公室可以审批延期申请。")
COMPLETION_DENIED = _l("只有领导小组办公室可以确认或退回办结报告。")

TABLES: dict[str, Table] = {t.kind: t for t in (
    Table(Report, ReportStatus, {
        "submit": Transition((ReportStatus.DRAFT, ReportStatus.RETURNED), ReportStatus.SUBMITTED, _own_liaison,
                             _l("该报告当前不能由您提交。")),
        "approve": Transition((ReportStatus.SUBMITTED,), ReportStatus.APPROVED, _reviewer, REVIEW_DENIED),
        "return": Transition((ReportStatus.SUBMITTED,), ReportStatus.RETURNED, _reviewer, REVIEW_DENIED),
        # 撤回: back to the department before the office has decided; its liaison or head.
        "withdraw": Transition((ReportStatus.SUBMITTED,), ReportStatus.DRAFT,
                               lambda report, user: is_department_member(user, report.department_id),
                               _l("只有本单位的联络员或负责人可以撤回报告。"), refused=_withdraw_refused),
    }, refused=_report_refused, stale=_content_stale),
    Table(Contribution, ContributionStatus, {
        "submit": Transition((ContributionStatus.DRAFT,), ContributionStatus.SUBMITTED, _own_liaison,
                             _l("该配合情况当前不能由您修改。")),
    }, refused=_report_refused, stale=_content_stale),
    Table(Plan, PlanStatus, {
        "publish": Transition((PlanStatus.IMPORTED,), PlanStatus.PUBLISHED,
                              lambda _plan, user: user is None or user.is_reviewer, _l("只有领导小组办公室可以发布方案。"),
                              refused=lambda plan: _("方案 #%(id)s 已于 %(date)s 发布，不能重复发布。", id=plan.id,
                                                     date=f"{local(plan.published_at):%Y-%m-%d}")),
    }),
    Table(Assignment, AssignmentStatus, {
        "publish": Transition((AssignmentStatus.DRAFT,), AssignmentStatus.PENDING,
                              lambda _a, user: user is None or user.is_reviewer, _l("只有领导小组办公室可以发布方案。")),
        "acknowledge": Transition((AssignmentStatus.PENDING,), AssignmentStatus.ACKNOWLEDGED, _own_liaison,
                                  _l("只有本单位联络员可以签收。"), refused=lambda a: _("当前状态（%(status)s）不能签收。",
                                                             status=label("assignment_status", a.status))),
        "request_adjustment": Transition((AssignmentStatus.PENDING,), AssignmentStatus.ADJUSTMENT, _own_liaison,
                                         _l("只有本单位联络员可以申请调整。"),
                                         refused=lambda a: _("当前状态（%(status)s）不能申请调整。",
                                                             status=label("assignment_status", a.status))),
        "transfer": Transition((AssignmentStatus.ADJUSTMENT,), AssignmentStatus.TRANSFERRED, _reviewer,
                               ADJUSTMENT_DENIED),
        "reject_adjustment": Transition((AssignmentStatus.ADJUSTMENT,), AssignmentStatus.PENDING, _reviewer,
                                        ADJUSTMENT_DENIED, audit="assignment.adjustment_rejected"),
        # A plan revision takes a department off a task, or names it again.
        "withdraw": Transition(ACTIVE_ASSIGNMENT, AssignmentStatus.WITHDRAWN, _revising, REVISION_DENIED),
        "restore": Transition((AssignmentStatus.WITHDRAWN,), AssignmentStatus.PENDING, _revising, REVISION_DENIED),
    }),
    Table(AdjustmentRequest, AdjustmentStatus, {
        "accept": Transition((AdjustmentStatus.PENDING,), AdjustmentStatus.ACCEPTED, _reviewer, ADJUSTMENT_DENIED),
        "reject": Transition((AdjustmentStatus.PENDING,), AdjustmentStatus.REJECTED, _reviewer, ADJUSTMENT_DENIED),
    }, refused=lambda request, action: _("该申请已处理。")),
    Table(Escalation, EscalationStatus, {
        "close": Transition((EscalationStatus.OPEN,), EscalationStatus.CLOSED, _may(User.can_close_escalations),
                            _l("只有领导小组办公室可以关闭督办事项。")),
        "settle": Transition((EscalationStatus.OPEN,), EscalationStatus.CLOSED),   # its work was submitted
    }, refused=lambda escalation, action: _escalation_closed(escalation)),
    Table(Evaluation, EvaluationStatus, {
        "sign_off": Transition((EvaluationStatus.DRAFT,), EvaluationStatus.FROZEN, _may(User.can_sign_off_evaluations),
                               _l("只有领导可以签认年度评估。"), refused=lambda ev: _("年度评估已签认。")),
        "reopen": Transition((EvaluationStatus.FROZEN,), EvaluationStatus.DRAFT, _may(User.can_manage_evaluations),
                             _l("只有领导小组办公室可以重新开启年度评估。"),
                             refused=lambda ev: _("年度评估尚未签认，无需重新开启。")),
    }, stale=lambda ev, expected: _("评估结果已被修改，请刷新后核对再签认。")),
    Table(Bulletin, BulletinStatus, {
        "publish": Transition((BulletinStatus.DRAFT,), BulletinStatus.PUBLISHED,
                              lambda _b, user: user is None or user.can_manage_bulletins(),
                              _l("只有领导小组办公室可以发布情况通报。"),
                              refused=lambda b: _("该情况通报已发布（%(number)s），不能重复发布。",
                                                  number=b.number_label or b.period_key)),
    }, stale=lambda b, expected: _("该情况通报刚被他人修改，请刷新后核对再操作。")),
    Table(Instruction, InstructionStatus, {
        "answer": Transition((InstructionStatus.OPEN,), InstructionStatus.ANSWERED,
                             lambda i, user: is_department_member(user, i.department_id),
                             _l("只有批示交办单位的联络员或负责人可以报送办理情况。")),
        "close": Transition((InstructionStatus.ANSWERED,), InstructionStatus.CLOSED, may_close,
                            _l("只有作出批示的领导或领导小组办公室可以办结批示。")),
    }, refused=_instruction_refused,
        stale=lambda i, expected: _("该批示刚被他人处理（当前版本 %(version)s），请刷新后再操作；您填写的内容已保留。",
                                    version=i.version)),
    Table(Notice, NoticeStatus, {
        "answer": Transition((NoticeStatus.ISSUED,), NoticeStatus.ANSWERED,
                             lambda n, user: is_head_of(user, n.escalation.department_id),
                             _l("只有被督办单位的负责人可以报送整改反馈。"),
                             refused=lambda n: _("该通知单的整改反馈已于 %(date)s 报送，不能重复报送。",
                                                 date=f"{local(n.feedback_at):%Y-%m-%d}" if n.feedback_at else "")),
    }),
    Table(ExtensionRequest, ExtensionStatus, {
        "approve": Transition((ExtensionStatus.PENDING,), ExtensionStatus.APPROVED, _reviewer, EXTENSION_DENIED),
        "refuse": Transition((ExtensionStatus.PENDING,), ExtensionStatus.REFUSED, _reviewer, EXTENSION_DENIED),
    }, refused=lambda e, action: _("该延期申请已处理（%(state)s），不能重复处理。",
                                   state=label("extension_status", e.status)),
        stale=lambda e, expected: _("该延期申请刚被他人处理，请刷新后再操作。")),
    Table(CompletionReport, CompletionStatus, {
        "confirm": Transition((CompletionStatus.SUBMITTED,), CompletionStatus.CONFIRMED, _reviewer, COMPLETION_DENIED),
        "return": Transition((CompletionStatus.SUBMITTED,), CompletionStatus.RETURNED, _reviewer, COMPLETION_DENIED),
    }, refused=lambda c, action: _("该办结报告已处理（%(state)s），不能重复处理。",
                                   state=label("completion_status", c.status)),
        stale=lambda c, expected: _("该办结报告刚被他人处理，请刷新后再操作。")),
    Table(Task, TaskStatus, {
        # None: the system's own move (a plan revision removing the task); people: the office.
        "close": Transition((TaskStatus.OPEN,), TaskStatus.CLOSED, lambda _t, user: user is None or user.is_reviewer,
                            _l("只有领导小组办公室可以办结销号。"),
                            refused=lambda t: _("任务 %(code)s 已于 %(date)s 销号，不能重复销号。", code=t.code,
                                                date=f"{local(t.closed_at):%Y-%m-%d}" if t.closed_at else "")),
        "reopen": Transition((TaskStatus.CLOSED,), TaskStatus.OPEN, lambda _t, user: user is None or user.is_reviewer,
                             _l("只有领导小组办公室可以重新开启任务。"),
                             refused=lambda t: _("任务 %(code)s 未销号，无需重新开启。", code=t.code)),
    }),
    # Background jobs move by the worker alone (workflow/jobs): claimed (again, once a dead worker's lease ran
    # out), finished, put back after a failed attempt, or failed for good.
    Table(Job, JobStatus, {
        "start": Transition((JobStatus.QUEUED, JobStatus.RUNNING), JobStatus.RUNNING),
        "finish": Transition((JobStatus.RUNNING,), JobStatus.DONE),
        "requeue": Transition((JobStatus.RUNNING,), JobStatus.QUEUED),
        "fail": Transition((JobStatus.QUEUED, JobStatus.RUNNING), JobStatus.FAILED),
    }),
    Table(OutboxEmail, EmailStatus, {
        "send": Transition((EmailStatus.PENDING,), EmailStatus.SENT),
        "park": Transition((EmailStatus.PENDING,), EmailStatus.PARKED),
        "retry": Transition((EmailStatus.PARKED,), EmailStatus.PENDING,
                            lambda _row, user: user is not None and user.is_admin,
                            _l("只有系统管理员可以重新发送邮件。"), refused=lambda row: _("只有已搁置的邮件可以重新发送。"),
                            audit="outbox_retry"),
    }),
)}


def table_of(obj_or_model) -> Table:
    model = obj_or_model if isinstance(obj_or_model, type) else type(obj_or_model)
    return TABLES[model.__tablename__]


# -- effects other domains register ------------------------------------------------------------------------

_effects: dict[tuple[str, str], list[Effect]] = defaultdict(list)


def on(kind: str, action: str) -> Callable[[Effect], Effect]:
    """Register `effect(obj, *, actor, now)` to run inside every `kind`/`action` transition, after its audit
    row; a domain registers at import (workflow/__init__ imports the effect modules), so none is forgotten."""
    if action not in TABLES[kind].transitions:
        raise KeyError(f"{kind} has no transition {action!r}")

    def register(effect: Effect) -> Effect:
        if effect not in _effects[(kind, action)]:
            _effects[(kind, action)].append(effect)
        return effect
    return register


def effects_for(kind: str, action: str) -> list[Effect]:
    return list(_effects[(kind, action)])


# -- applying ------------------------------------------------------------------------------------------------

def check_version(obj, expected) -> None:
    """The optimistic lock a form or an API call carries: the version the user saw must still be current."""
    if expected is not None and str(expected).strip() != str(obj.version):
        raise Conflict(table_of(obj).stale(obj, str(expected).strip()), current_version=obj.version)


def check(obj, action: str, *, actor: User | None, version=None) -> Transition:
    """Permission, then version, then state: what apply_transition checks first, for a service that must
    know before it validates input or computes anything."""
    table = table_of(obj)
    transition = table.transitions[action]
    if transition.permission is not None and not transition.permission(obj, actor):
        raise PermissionDenied(str(transition.denied))
    if version is not None:
        check_version(obj, version)
    if obj.status not in transition.sources:
        raise _refusal(obj, table, action)
    return transition


def _refusal(obj, table: Table, action: str) -> Conflict:
    transition = table.transitions[action]
    if transition.refused is not None:
        message = transition.refused(obj)
    elif table.refused is not None:
        message = table.refused(obj, action)
    else:
        message = _("当前状态（%(state)s）不能执行该操作。", state=obj.status)
    return Conflict(message, **({"current_version": obj.version} if table.versioned else {}))


@contextmanager
def committed(obj):
    """Run the block and commit; a concurrent writer that got there first becomes a clear conflict, not a lost
    update (the version column makes the losing UPDATE match no row). Any other failure rolls the whole block
    back: nothing is half-written."""
    try:
        yield
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        db.session.refresh(obj)
        raise Conflict(_("该内容刚被他人修改，您的内容未保存但已保留，请核对后再保存。"),
                       current_version=obj.version) from exc
    except Exception:
        db.session.rollback()
        raise


def apply_transition(obj, action: str, *, actor: User | None, now: datetime, version=None, comment: str = "",
                     data: dict | None = None, changes: dict | None = None, notify: Callable[[], None] | None = None,
                     commit: bool = True) -> str:
    """Move `obj` by `action` of its table and return the state it left.

    `changes` are the fields set with the state (submitted_at, closed_by_id ...); `notify` queues the
    notifications after the effects. commit=False leaves the commit to the caller's `committed(...)` block,
    for a service that does more in the same transaction.
    """
    table = table_of(obj)
    transition = check(obj, action, actor=actor, version=version)
    from_state, changes = obj.status, changes or {}
    if commit:
        with committed(obj):
            _move(obj, table, action, transition, changes)
            _after(obj, table, action, transition, from_state, actor, now, comment, data, notify)
    else:
        _move(obj, table, action, transition, changes)
        _after(obj, table, action, transition, from_state, actor, now, comment, data, notify)
    return from_state


def _move(obj, table: Table, action: str, transition: Transition, changes: dict) -> None:
    if table.versioned:
        obj.status = transition.target
        for name, value in changes.items():
            setattr(obj, name, value)
        return
    if not _compare_and_set(table.model, [table.model.id == obj.id], obj.status, transition.target, changes):
        db.session.rollback()
        db.session.refresh(obj)
        raise _refusal(obj, table, action)


def _compare_and_set(model, criteria: list, from_state: str, to_state: str, changes: dict) -> list[int]:
    """UPDATE … WHERE <criteria> AND status = from_state; the ids it moved (none when someone was first)."""
    return list(db.session.scalars(
        update(model).where(*criteria, model.status == from_state).values(status=to_state, **changes)
        .returning(model.id), execution_options={"synchronize_session": "fetch"}))


def _after(obj, table: Table, action: str, transition: Transition, from_state: str, actor: User | None,
           now: datetime, comment: str, data: dict | None, notify: Callable[[], None] | None) -> None:
    record(transition.audit or f"{table.kind}.{action}", obj, actor=actor, now=now, comment=comment,
           from_state=from_state, to_state=transition.target, data=data)
    for effect in _effects[(table.kind, action)]:
        effect(obj, actor=actor, now=now)
    if notify is not None:
        notify()


def apply_bulk(model, action: str, *criteria, actor: User | None, now: datetime, changes: dict | None = None,
               comment: str = "", data: dict | None = None) -> list:
    """The set-based form of a system move (no permission to check): every row matching `criteria` in a source
    state moves with one UPDATE per source state, each with its own audit row and effects, in the caller's
    transaction. Rows someone else moved first are simply not among those returned."""
    table = table_of(model)
    transition = table.transitions[action]
    if transition.permission is not None:
        raise TypeError(f"{table.kind}.{action} needs a permission check: apply it object by object")
    moved = []
    for from_state in transition.sources:
        ids = _compare_and_set(model, list(criteria), from_state, transition.target, changes or {})
        if not ids:
            continue
        rows = db.session.scalars(select(model).where(model.id.in_(ids)).order_by(model.id)
                                  .execution_options(populate_existing=True)).all()
        for obj in rows:
            _after(obj, table, action, transition, from_state, actor, now, comment, data, None)
        moved.extend(rows)
    return moved
