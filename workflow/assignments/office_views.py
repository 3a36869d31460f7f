"""The office's side of assignments: 调整申请 (adjustment requests) awaiting a decision, and their history.

Routes on the `assignments` blueprint; imported by workflow.review.views so they exist before it is registered.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from forms.review import AdjustmentDecisionForm
from models import AdjustmentRequest, AdjustmentStatus, Assignment, User
from workflow.assignments import services
from workflow.assignments.views import bp
from workflow.clock import utcnow
from workflow.domain import DomainError, ValidationFailed
from workflow.errors import forbid_unless, refused
from workflow.extensions import db

HISTORY_LIMIT = 100


def _render(*, errors: dict | None = None, typed: dict | None = None, status: int = 200):
    load = (selectinload(AdjustmentRequest.assignment).selectinload(Assignment.task),
            selectinload(AdjustmentRequest.assignment).selectinload(Assignment.department),
            selectinload(AdjustmentRequest.proposed_department))
    pending = db.session.scalars(
        select(AdjustmentRequest).where(AdjustmentRequest.status == AdjustmentStatus.PENDING)
        .options(*load).order_by(AdjustmentRequest.requested_at, AdjustmentRequest.id)).all()
    history = db.session.scalars(
        select(AdjustmentRequest).where(AdjustmentRequest.status != AdjustmentStatus.PENDING)
        .options(*load).order_by(AdjustmentRequest.decided_at.desc(), AdjustmentRequest.id.desc())
        .limit(HISTORY_LIMIT)).all()
    user_ids = {r.requested_by_id for r in [*pending, *history]} | {r.decided_by_id for r in history}
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids - {None})))}
    return render_template("assignments/adjustments.html", pending=pending, history=history, users=users,
                           errors=errors or {}, typed=typed or {}, can_act=current_user.is_reviewer), status


@bp.get("/adjustments")
@login_required
def adjustments():
    forbid_unless(current_user.is_overseer)
    return _render()


@bp.post("/adjustments/<id:request_id>/decide")
@login_required
def adjustment_decide(request_id: int):
    forbid_unless(current_user.is_reviewer)
    adjustment = db.get_or_404(AdjustmentRequest, request_id)
    form = AdjustmentDecisionForm()
    accept = form.decision.data == "accept"
    typed = {adjustment.id: {"reason": form.reason.data or "", "decision": form.decision.data or ""}}
    try:
        if form.decision.data not in ("accept", "reject"):
            raise ValidationFailed({"decision": _("请选择同意或驳回。")})
        if not form.validate():
            raise ValidationFailed({name: errors[0] for name, errors in form.errors.items()})
        services.decide_adjustment(adjustment, accept=accept, reason=form.reason.data or "", actor=current_user,
                                   now=utcnow())
    except DomainError as exc:
        return _render(errors={adjustment.id: refused(exc)}, typed=typed, status=exc.status)
    task = adjustment.assignment.task
    if accept:
        flash(_("已同意：任务 %(code)s 改由%(dept)s承担，原单位的记录已保留。", code=task.code,
                dept=adjustment.proposed_name), "success")
    else:
        flash(_("已驳回%(dept)s对任务 %(code)s 的调整申请。", dept=adjustment.assignment.department.name,
                code=task.code), "success")
    return redirect(url_for("assignments.adjustments"))
