from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user, login_required

from workflow.plans import services

bp = Blueprint("dashboard", __name__)


@bp.route("/")
@login_required
def home():
    if current_user.department is not None and not current_user.sees_everything:
        return redirect(url_for("dashboard.my_tasks"))
    return redirect(url_for("plans.index"))


@bp.route("/my/tasks")
@login_required
def my_tasks():
    dept = current_user.department
    if dept is None:
        abort(404)
    return render_template("dashboard/my_tasks.html", department=dept, items=services.department_tasks(dept))
