"""Publishing a bulletin as a background job, for plans too big to render its PDF and .docx inside a web request
(BULLETIN_INLINE_MAX_TASKS, the plan's tasks: jobs.runs_in_background). The job calls the one publishing
service (services.publish) with the requester as its actor and the version the office saw, so the bulletin is
frozen, numbered, archived and circulated exactly as when it is published at once."""
from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from models import Bulletin, Job, Task, User
from workflow import jobs
from workflow.bulletins import services
from workflow.extensions import db
from workflow.transitions import check

KIND = "bulletin_publish"


def runs_in_background(bulletin: Bulletin) -> bool:
    tasks = db.session.scalar(select(func.count(Task.id)).where(Task.plan_id == bulletin.plan_id)) or 0
    return jobs.runs_in_background(KIND, tasks)


def request_publish(bulletin: Bulletin, *, actor: User, version: int | None, now) -> Job:
    """Queue the publishing, refused now (as publishing at once would be) if the actor may not or the bulletin
    changed or was published meanwhile."""
    check(bulletin, "publish", actor=actor, version=version)
    return jobs.enqueue(KIND, {"bulletin_id": bulletin.id, "version": version}, actor=actor, now=now)


def _bulletin(job: Job) -> Bulletin | None:
    return db.session.get(Bulletin, job.params["bulletin_id"])


def _title(job: Job) -> str:
    bulletin = _bulletin(job)
    if bulletin is None:
        return _("情况通报")
    return f"{bulletin.plan.title} {services.bulletin_span(bulletin.period_key).label} {_('情况通报')}"


def _link(job: Job) -> tuple[str, str] | None:
    bulletin = _bulletin(job)
    if bulletin is None or not bulletin.published:
        return None
    return url_for("bulletins.show", bulletin_id=bulletin.id), _("查看情况通报")


def _back(job: Job) -> tuple[str, str] | None:
    return url_for("bulletins.show", bulletin_id=job.params["bulletin_id"]), _("返回情况通报")


@jobs.handler(KIND, title=_title, link=_link, back=_back, inline_max="BULLETIN_INLINE_MAX_TASKS")
def make_publish(job: Job, progress: jobs.Progress) -> dict:
    bulletin = _bulletin(job)
    if bulletin is None:
        raise LookupError(_("情况通报已不存在。"))
    # published already: an earlier attempt committed it and its worker died before finishing the job, or
    # another job of the office's did it; either way it is published once
    if not bulletin.published:
        services.publish(bulletin, actor=job.requested_by, now=job.started_at, version=job.params["version"],
                         progress=progress)
    return {"bulletin_id": bulletin.id, "number": bulletin.number_label}
