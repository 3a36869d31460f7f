"""The start page: the department's home (本单位首页) for liaisons and heads, where 签收 and 申请调整 are answered
in its task list; everyone else goes on to their own first page."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user, login_required

from models import Role
from workflow.assignments.services import open_all_due_periods
from workflow.clock import utcnow
from workflow.converters import page_arg
from workflow.dashboard import services

bp = Blueprint("dashboard", __name__)


@bp.route("/")
@login_required
def home():
    if current_user.role in (Role.LIAISON, Role.DEPT_HEAD) and current_user.department_id is not None:
        return redirect(url_for("dashboard.department_home"))
    if current_user.is_reviewer:
        return redirect(url_for("review.queue"))
    return redirect(url_for("plans.index"))


def render_department_home(*, page: int, adjust: dict | None = None, status: int = 200):
    """The page; `adjust` re-opens one assignment's 申请调整 form with what was typed and the field errors."""
    if current_user.department is None or current_user.sees_everything:
        abort(404)
    now = utcnow()
    open_all_due_periods(now=now)  # a period begun since the scheduler's last pass (idempotent, else one SELECT)
    home = services.department_home(current_user, now=now, page=page)
    return render_template("dashboard/home.html", home=home, department=home.department,
                           department_names=services.department_names(), adjust=adjust or {}), status


@bp.route("/my/")
@login_required
def department_home():
    return render_department_home(page=page_arg())


@bp.route("/my/tasks")
@login_required
def my_tasks():
    """The old address of the task list, now the home's last section (kept for bookmarks and old messages)."""
    page = page_arg()
    return redirect(url_for("dashboard.department_home", page=page if page > 1 else None, _anchor="tasks"))
