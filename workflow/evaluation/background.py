"""The evaluation PDF as a background job, for plans too big to render inside a web request
(EVALUATION_PDF_INLINE_MAX_TASKS); the same archive as the inline path (archive.generate_pdf)."""
from __future__ import annotations

from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from models import Department, Job, Task, User
from models.evaluation import Evaluation, EvaluationFile
from workflow import jobs
from workflow.evaluation import archive
from workflow.extensions import db

KIND = "evaluation_pdf"


def runs_in_background(evaluation: Evaluation) -> bool:
    """Whether the plan is big enough that its PDF is made by the worker."""
    tasks = db.session.scalar(select(func.count(Task.id)).where(Task.plan_id == evaluation.plan_id)) or 0
    return tasks > current_app.config.get("EVALUATION_PDF_INLINE_MAX_TASKS", 200)


def request_pdf(evaluation: Evaluation, *, department: Department | None, actor: User, now) -> Job:
    return jobs.enqueue(KIND, {"evaluation_id": evaluation.id, "department_id": department.id if department else None},
                        actor=actor, now=now)


def _title(job: Job) -> str:
    evaluation = db.session.get(Evaluation, job.params["evaluation_id"])
    if evaluation is None:
        return _("年度评估报告 PDF")
    department = db.session.get(Department, job.params["department_id"]) if job.params.get("department_id") else None
    return _("%(plan)s %(year)s 年度评估报告 PDF", plan=evaluation.plan.title, year=evaluation.year) + (
        f"（{department.name}）" if department else "")


def _link(job: Job) -> tuple[str, str] | None:
    file_id = (job.result or {}).get("evaluation_file")
    if not file_id or db.session.get(EvaluationFile, file_id) is None:
        return None
    return url_for("evaluation.download", file_id=file_id), _("下载 PDF")


def _back(job: Job) -> tuple[str, str] | None:
    evaluation = db.session.get(Evaluation, job.params["evaluation_id"])
    if evaluation is None:
        return None
    if job.params.get("department_id"):
        return url_for("evaluation.department", plan_id=evaluation.plan_id, year=evaluation.year,
                       department_id=job.params["department_id"]), _("返回评估结果")
    return url_for("evaluation.show", plan_id=evaluation.plan_id, year=evaluation.year), _("返回评估结果")


@jobs.handler(KIND, title=_title, link=_link, back=_back)
def make_pdf(job: Job, progress: jobs.Progress) -> dict:
    evaluation = db.session.get(Evaluation, job.params["evaluation_id"])
    if evaluation is None:
        raise LookupError(_("评估已不存在。"))
    department_id = job.params.get("department_id")
    department = db.session.get(Department, department_id) if department_id else None
    archived = archive.generate_pdf(evaluation, department=department, actor=job.requested_by, now=job.started_at,
                                    progress=progress)
    return {"evaluation_file": archived.id, "sha256": archived.sha256}
