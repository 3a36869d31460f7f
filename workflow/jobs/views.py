"""A background job's page: its progress bar, refreshing itself (meta refresh, no script) until the job is
finished, then the link to what it made. The requester, the office and the admins see it; a file the job made
itself (a ledger export) is the requester's alone to download, until it expires (JOB_RESULT_DAYS)."""
from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from models import Job
from workflow import jobs
from workflow.clock import utcnow
from workflow.errors import forbid_unless
from workflow.extensions import db
from workflow.files import content_disposition

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


@bp.get("/<id:job_id>")
@login_required
def show(job_id: int):
    job = db.get_or_404(Job, job_id)
    forbid_unless(job.can_view(current_user))
    handler = jobs.HANDLERS[job.kind]
    kept_until, expired = jobs.kept_until(job), jobs.result_expired(job, now=utcnow())
    private = jobs.result_file(job) is not None and not expired and not job.can_download(current_user)
    return render_template("jobs/show.html", job=job, title=handler.title(job), private=private,
                           result=handler.link(job) if job.status == "done" and not private and not expired
                           else None, kept_until=kept_until,
                           back=handler.back(job) if handler.back else None)


@bp.get("/<id:job_id>/file")
@login_required
def download(job_id: int):
    job = db.get_or_404(Job, job_id)
    forbid_unless(job.can_download(current_user))
    try:
        response, filename = jobs.send_file(job, now=utcnow())
    except FileNotFoundError:
        abort(404)
    response.headers["Content-Disposition"] = content_disposition(filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response
