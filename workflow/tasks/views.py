"""The task page, /tasks/<id>: the task's text and departments, its targets' values over time, every period's
report and contributions, its escalations and its audit trail; linked from wherever a task is named
(templates/macros/tasks.html task_link)."""
from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from workflow.clock import utcnow
from workflow.converters import page_arg
from workflow.errors import forbid_unless
from workflow.tasks import services

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


@bp.get("/<id:task_id>")
@login_required
def show(task_id: int):
    task = services.load_task(task_id) or abort(404)
    forbid_unless(task.visible_to(current_user))
    page = services.task_page(task, user=current_user, now=utcnow(), audit_page=page_arg())
    return render_template("tasks/show.html", page=page, task=task)
