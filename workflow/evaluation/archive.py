"""The evaluation's files: the report PDF (whole or one department's) and the Excel workbook, each archived
under its sha256 with its author and the evaluation state it shows.

A frozen file is generated once per sign-off and served again byte for byte; draft files carry a 草稿
watermark and are generated afresh each time.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Response
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from models import Department, User
from models.evaluation import Evaluation, EvaluationFile, EvaluationStatus
from pdf.render import render_document
from workflow import files
from workflow.evaluation import documents, services
from workflow.evaluation.workbook import build_workbook
from workflow.extensions import db

MIMETYPES = {"pdf": "application/pdf", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _root() -> files.Area:
    return files.area("evaluations")


def _filename(evaluation: Evaluation, department: Department | None, ext: str) -> str:
    who = f"-{department.name}" if department else ""
    state = "" if evaluation.frozen else "（草稿）"
    return f"{evaluation.plan.title}{evaluation.year}年度评估报告{who}{state}.{ext}"


def _moment(evaluation: Evaluation, now: datetime) -> datetime:
    """The date a file shows: the sign-off for a frozen evaluation (so regenerating it changes nothing)."""
    return evaluation.signed_off_at if evaluation.frozen and evaluation.signed_off_at else now


def _archived(evaluation: Evaluation, kind: str, department: Department | None) -> EvaluationFile | None:
    if not evaluation.frozen:
        return None
    return db.session.scalar(select(EvaluationFile).where(
        EvaluationFile.evaluation_id == evaluation.id, EvaluationFile.kind == kind,
        EvaluationFile.status == EvaluationStatus.FROZEN, EvaluationFile.freeze_round == evaluation.freeze_round,
        EvaluationFile.department_id == (department.id if department else None)).order_by(EvaluationFile.id))


def _archive(evaluation: Evaluation, *, kind: str, department: Department | None, data: bytes, pages: int | None,
             actor: User | None, now: datetime) -> EvaluationFile:
    digest, _size = files.write_blob(_root(), data)
    row = EvaluationFile(evaluation=evaluation, department=department, kind=kind,
                         filename=_filename(evaluation, department, kind), size=len(data), pages=pages,
                         sha256=digest, status=evaluation.status, freeze_round=evaluation.freeze_round,
                         created_at=now, created_by=actor)
    db.session.add(row)
    db.session.commit()
    return row


def generate_pdf(evaluation: Evaluation, *, department: Department | None = None, actor: User | None,
                 now: datetime, progress: Callable[[int, str], None] | None = None) -> EvaluationFile:
    """The whole report, or one department's; a frozen evaluation's file is made once per sign-off.
    `progress(percent, message)` hears of each step (a background job's progress bar)."""
    step = progress or (lambda percent, message: None)
    if department is not None:
        services.score_of(evaluation, department)
    existing = _archived(evaluation, "pdf", department)
    if existing is not None:
        return existing
    moment = _moment(evaluation, now)
    step(10, _("正在汇总评估数据"))
    html = documents.render_html(evaluation, department=department, generated_at=moment)
    step(40, _("正在排版 PDF"))
    rendered = render_document(html)
    step(90, _("正在归档"))
    return _archive(evaluation, kind="pdf", department=department, data=rendered.data, pages=rendered.pages,
                    actor=actor, now=now)


def generate_workbook(evaluation: Evaluation, *, actor: User | None, now: datetime,
                      progress: Callable[[int, str], None] | None = None) -> EvaluationFile:
    existing = _archived(evaluation, "xlsx", None)
    if existing is not None:
        return existing
    return _archive(evaluation, kind="xlsx", department=None, data=build_workbook(evaluation, progress),
                    pages=None, actor=actor, now=now)


def read_file(row: EvaluationFile) -> bytes:
    return files.read_stored(_root(), row.sha256)


def send_file(row: EvaluationFile) -> Response:
    """The archived file, streamed (FileNotFoundError when it is missing)."""
    return files.send_stored(_root(), row.sha256, mimetype=MIMETYPES[row.kind])


def visible_files(evaluation: Evaluation, user: User) -> list[EvaluationFile]:
    """Newest first; a department's users see only their own department's files."""
    query = (select(EvaluationFile).where(EvaluationFile.evaluation_id == evaluation.id)
             .options(selectinload(EvaluationFile.created_by), selectinload(EvaluationFile.department)))
    query = query.where(EvaluationFile.visible_filter(user))
    return list(db.session.scalars(query.order_by(EvaluationFile.created_at.desc(), EvaluationFile.id.desc())))
