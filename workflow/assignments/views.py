"""Assignments, the liaison's side: 签收 and 申请调整 from 我的任务.

The office's routes (the adjustment requests it decides) live in office_views.py on the same blueprint
(imported by workflow.review.views, so they exist before the blueprint is registered).
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from models import Assignment
from workflow.assignments import services
from workflow.clock import utcnow
from workflow.dashboard.views import render_my_tasks
from workflow.domain import DomainError, NotFound, PermissionDenied, ValidationFailed
from workflow.errors import forbid_unless
from workflow.extensions import db

bp = Blueprint("assignments", __name__, url_prefix="/assignments")


def _assignment_or_abort(assignment_id: int) -> Assignment:
    assignment = db.session.get(Assignment, assignment_id) or abort(404)
    forbid_unless(assignment.can_view(current_user))
    return assignment


def _version() -> int | None:
    raw = request.form.get("version", "")
    return int(raw) if raw.isdigit() else None


def _back(assignment: Assignment):
    return redirect(url_for("dashboard.my_tasks", _anchor=f"a{assignment.id}"))


def _refused(exc: DomainError, *, adjust: dict | None = None):
    """A service said no: 403/404 as such, anything else back on 我的任务 with the message and its status."""
    db.session.rollback()
    if isinstance(exc, (PermissionDenied, NotFound)):
        abort(exc.status)
    flash(exc.message, "error")
    return render_my_tasks(adjust=adjust, status=exc.status)


@bp.route("/")
@login_required
def index():
    """Where notifications about assignments point: the department's 我的任务, or the office's requests."""
    if current_user.department_id is not None and not current_user.sees_everything:
        return redirect(url_for("dashboard.my_tasks"))
    if current_user.is_reviewer:
        return redirect(url_for("assignments.adjustments"))
    return redirect(url_for("dashboard.home"))


@bp.route("/<int:assignment_id>/acknowledge", methods=["POST"])
@login_required
def acknowledge(assignment_id: int):
    assignment = _assignment_or_abort(assignment_id)
    try:
        services.acknowledge(assignment, actor=current_user, now=utcnow(), version=_version())
    except DomainError as exc:
        return _refused(exc)
    flash(_("已签收任务 %(code)s。", code=assignment.task.code), "success")
    return _back(assignment)


@bp.route("/<int:assignment_id>/adjustment", methods=["POST"])
@login_required
def adjust(assignment_id: int):
    assignment = _assignment_or_abort(assignment_id)
    typed = {"reason": request.form.get("reason", ""), "proposed_department": request.form.get("proposed_department", "")}
    try:
        services.request_adjustment(assignment, reason=typed["reason"], proposed_department=typed["proposed_department"],
                                    actor=current_user, now=utcnow(), version=_version())
    except ValidationFailed as exc:
        db.session.rollback()
        return render_my_tasks(adjust={"id": assignment.id, "values": typed, "errors": exc.errors}, status=422)
    except DomainError as exc:
        return _refused(exc, adjust={"id": assignment.id, "values": typed, "errors": {}})
    flash(_("已提交任务 %(code)s 的调整申请，等待领导小组办公室处理。", code=assignment.task.code), "success")
    return _back(assignment)
