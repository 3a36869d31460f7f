"""A background job's page: its progress bar, refreshing itself (meta refresh, no script) until the job is
finished, then the link to what it made. The requester, the office and the admins see it."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from models import Job
from workflow.errors import forbid_unless
from workflow.extensions import db
from workflow.jobs import HANDLERS

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


@bp.get("/<id:job_id>")
@login_required
def show(job_id: int):
    job = db.get_or_404(Job, job_id)
    forbid_unless(job.can_view(current_user))
    handler = HANDLERS[job.kind]
    return render_template("jobs/show.html", job=job, title=handler.title(job),
                           result=handler.link(job) if job.status == "done" else None,
                           back=handler.back(job) if handler.back else None)
