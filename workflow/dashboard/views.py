"""The start page and 我的任务: a department's assignments with their status, 签收 and 申请调整."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from models import AdjustmentRequest, Assignment, AssignmentRole, Department, Role, Task
from workflow.extensions import db

bp = Blueprint("dashboard", __name__)


@bp.route("/")
@login_required
def home():
    if current_user.role in (Role.LIAISON, Role.DEPT_HEAD) and current_user.department_id is not None:
        return redirect(url_for("dashboard.my_tasks"))
    if current_user.sees_everything:   # office, leaders, admins: how the plan as a whole is going
        return redirect(url_for("overview.index"))
    return redirect(url_for("plans.index"))


def department_assignments(department: Department) -> list[Assignment]:
    """The department's assignments (transferred ones too, as history), lead first, each in plan order, with
    everything the page shows loaded up front."""
    task = selectinload(Assignment.task)
    return list(db.session.scalars(
        select(Assignment).join(Task).where(Assignment.department_id == department.id)
        .options(task.selectinload(Task.assignments).selectinload(Assignment.department),
                 task.selectinload(Task.targets), task.selectinload(Task.plan),
                 selectinload(Assignment.adjustments).selectinload(AdjustmentRequest.proposed_department))
        .order_by(Assignment.role != AssignmentRole.LEAD, Task.plan_id, Task.position, Assignment.id)
    ))


def render_my_tasks(*, adjust: dict | None = None, status: int = 200):
    """The page; `adjust` re-opens one assignment's 申请调整 form with what was typed and the field errors."""
    dept = current_user.department
    if dept is None:
        abort(404)
    assignments = department_assignments(dept)
    names = db.session.scalars(select(Department.name).where(Department.active.is_(True))
                               .order_by(Department.name)).all()
    return render_template("dashboard/my_tasks.html", department=dept, items=[(a, a.task) for a in assignments],
                           department_names=names, adjust=adjust or {}), status


@bp.route("/my/tasks")
@login_required
def my_tasks():
    return render_my_tasks()
