"""Assignments, the liaison's side: 签收 and 申请调整 from the task list of the department's home.

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
from workflow.converters import page_arg, parse_version
from workflow.dashboard.views import render_department_home
from workflow.domain import Conflict, ValidationFailed
from workflow.errors import forbid_unless, refused
from workflow.extensions import db

bp = Blueprint("assignments", __name__, url_prefix="/assignments")


def _assignment_or_abort(assignment_id: int) -> Assignment:
    assignment = db.session.get(Assignment, assignment_id) or abort(404)
    forbid_unless(assignment.can_view(current_user))
    return assignment


def _page() -> int:
    """The page of the home's task list the form was on (its hidden `page` field)."""
    return page_arg(request.form)


def _back(assignment: Assignment):
    page = _page()
    return redirect(url_for("dashboard.department_home", page=page if page > 1 else None, _anchor=f"a{assignment.id}"))


@bp.route("/")
@login_required
def index():
    """Where notifications about assignments point: the department's home, or the office's requests."""
    if current_user.department_id is not None and not current_user.sees_everything:
        return redirect(url_for("dashboard.department_home", _anchor="tasks"))
    if current_user.is_reviewer:
        return redirect(url_for("assignments.adjustments"))
    return redirect(url_for("dashboard.home"))


@bp.route("/<id:assignment_id>/acknowledge", methods=["POST"])
@login_required
def acknowledge(assignment_id: int):
    assignment = _assignment_or_abort(assignment_id)
    try:
        services.acknowledge(assignment, actor=current_user, now=utcnow(), version=parse_version(request.form.get("version")))
    except Conflict as exc:  # acknowledged meanwhile (or a stale page): the home as it is now, with the message
        refused(exc)
        return render_department_home(page=_page(), status=exc.status)
    flash(_("已签收任务 %(code)s。", code=assignment.task.code), "success")
    return _back(assignment)


@bp.route("/<id:assignment_id>/adjustment", methods=["POST"])
@login_required
def adjust(assignment_id: int):
    assignment = _assignment_or_abort(assignment_id)
    typed = {"reason": request.form.get("reason", ""), "proposed_department": request.form.get("proposed_department", "")}
    try:
        services.request_adjustment(assignment, reason=typed["reason"], proposed_department=typed["proposed_department"],
                                    actor=current_user, now=utcnow(), version=parse_version(request.form.get("version")))
    except (ValidationFailed, Conflict) as exc:  # back on the home with what was typed; 403/404 as such
        return render_department_home(page=_page(), adjust={"id": assignment.id, "values": typed,
                                                            "errors": refused(exc)}, status=exc.status)
    flash(_("已提交任务 %(code)s 的调整申请，等待领导小组办公室处理。", code=assignment.task.code), "success")
    return _back(assignment)
