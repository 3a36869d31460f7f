"""The evaluation's PDF and workbook as background jobs, for plans too big to make inside a web request
(EVALUATION_PDF_INLINE_MAX_TASKS, EVALUATION_WORKBOOK_INLINE_MAX_TASKS); the same archive as the inline path
(archive.generate_pdf, archive.generate_workbook)."""
from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from models import Department, Job, Task, User
from models.evaluation import Evaluation, EvaluationFile
from workflow import jobs
from workflow.evaluation import archive
from workflow.extensions import db

KINDS = {"pdf": "evaluation_pdf", "xlsx": "evaluation_workbook"}


def runs_in_background(evaluation: Evaluation, kind: str = "pdf") -> bool:
    """Whether the plan is big enough that this file (pdf, xlsx) is made by the worker."""
    tasks = db.session.scalar(select(func.count(Task.id)).where(Task.plan_id == evaluation.plan_id)) or 0
    return jobs.runs_in_background(KINDS[kind], tasks)


def request_file(evaluation: Evaluation, kind: str, *, department: Department | None, actor: User, now) -> Job:
    return jobs.enqueue(KINDS[kind], {"evaluation_id": evaluation.id,
                                      "department_id": department.id if department else None},
                        actor=actor, now=now)


def request_pdf(evaluation: Evaluation, *, department: Department | None, actor: User, now) -> Job:
    return request_file(evaluation, "pdf", department=department, actor=actor, now=now)


def _title(job: Job) -> str:
    evaluation = db.session.get(Evaluation, job.params["evaluation_id"])
    what = _("年度评估报告 PDF") if job.kind == KINDS["pdf"] else _("年度评估 Excel 工作簿")
    if evaluation is None:
        return what
    department = db.session.get(Department, job.params["department_id"]) if job.params.get("department_id") else None
    return f"{evaluation.plan.title} {evaluation.year} {what}" + (f"（{department.name}）" if department else "")


def _link(job: Job) -> tuple[str, str] | None:
    file_id = (job.result or {}).get("evaluation_file")
    if not file_id or db.session.get(EvaluationFile, file_id) is None:
        return None
    return url_for("evaluation.download", file_id=file_id), (
        _("下载 PDF") if job.kind == KINDS["pdf"] else _("下载 Excel"))


def _back(job: Job) -> tuple[str, str] | None:
    evaluation = db.session.get(Evaluation, job.params["evaluation_id"])
    if evaluation is None:
        return None
    if job.params.get("department_id"):
        return url_for("evaluation.department", plan_id=evaluation.plan_id, year=evaluation.year,
                       department_id=job.params["department_id"]), _("返回评估结果")
    return url_for("evaluation.show", plan_id=evaluation.plan_id, year=evaluation.year), _("返回评估结果")


def _evaluation(job: Job) -> Evaluation:
    evaluation = db.session.get(Evaluation, job.params["evaluation_id"])
    if evaluation is None:
        raise LookupError(_("评估已不存在。"))
    return evaluation


@jobs.handler(KINDS["pdf"], title=_title, link=_link, back=_back, inline_max="EVALUATION_PDF_INLINE_MAX_TASKS")
def make_pdf(job: Job, progress: jobs.Progress) -> dict:
    evaluation = _evaluation(job)
    department_id = job.params.get("department_id")
    department = db.session.get(Department, department_id) if department_id else None
    archived = archive.generate_pdf(evaluation, department=department, actor=job.requested_by, now=job.started_at,
                                    progress=progress)
    return {"evaluation_file": archived.id, "sha256": archived.sha256}


@jobs.handler(KINDS["xlsx"], title=_title, link=_link, back=_back, inline_max="EVALUATION_WORKBOOK_INLINE_MAX_TASKS")
def make_workbook(job: Job, progress: jobs.Progress) -> dict:
    archived = archive.generate_workbook(_evaluation(job), actor=job.requested_by, now=job.started_at,
                                         progress=progress)
    return {"evaluation_file": archived.id, "sha256": archived.sha256}
