"""台账 exports (xlsx, CSV) from the page's filters: made in the request up to LEDGER_EXPORT_INLINE_MAX_ROWS rows,
by the worker as a background job beyond (jobs.runs_in_background, the one rule). A job's export is cut to what
its requester may see, kept as the job's own file (jobs.keep_file) and downloadable by the requester alone
(Job.can_download); the rows are built in chunks, each one a step of the job's progress bar. `flask ledger
export` writes the same `build` (viewer None: the operator reads every department)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from models import Department, Job, Plan, Report, User
from workflow import jobs
from workflow.calendar.office import office_calendar
from workflow.clock import local
from workflow.extensions import db
from workflow.ledger import services
from workflow.ledger.workbook import build_csv, build_workbook

KIND = "ledger_export"
MIMETYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "csv": "text/csv; charset=utf-8"}
CHUNK = 1000   # reports per step of a job's progress


@dataclass(frozen=True)
class Export:
    data: bytes
    filename: str
    rows: int


def row_count(filters: services.LedgerFilters, viewer: User) -> int:
    query = services.ledger_query(filters, viewer).with_only_columns(Report.id).order_by(None)
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


def runs_in_background(rows: int) -> bool:
    return jobs.runs_in_background(KIND, rows)


def _what(fmt: str) -> str:
    return _("台账 Excel") if fmt == "xlsx" else _("台账 CSV")


def title(plan: Plan, fmt: str) -> str:
    """What the export is called on its offer, its job page and the requester's notification."""
    return f"{plan.title} {_what(fmt)}"


def filename(plan: Plan, filters: services.LedgerFilters, viewer: User | None, now: datetime, fmt: str) -> str:
    parts = [plan.title, "台账"]
    parts.extend(filters.periods)
    if filters.area:
        parts.append(filters.area)
    if filters.department_id:
        parts.append(db.session.get(Department, filters.department_id).name)
    elif viewer is not None and not viewer.sees_everything and viewer.department:
        parts.append(viewer.department.name)
    parts.append(f"{local(now):%Y%m%d}")
    return "-".join(parts) + f".{fmt}"


def _rows(filters: services.LedgerFilters, viewer: User | None, now: datetime, step: jobs.Progress
          ) -> list[services.LedgerRow]:
    """The viewer's rows in ledger order, a chunk of reports at a time (5–80 % of the bar)."""
    query = services.ledger_query(filters, viewer)
    ids = list(db.session.scalars(query.with_only_columns(Report.id)))
    calendar = office_calendar()
    rows: list[services.LedgerRow] = []
    for start in range(0, len(ids), CHUNK):
        step(5 + 75 * start // len(ids), _("正在汇总台账"))
        rows.extend(services.build_rows(query.where(Report.id.in_(ids[start:start + CHUNK])), now=now,
                                        calendar=calendar))
    return rows


def build(filters: services.LedgerFilters, fmt: str, *, viewer: User | None, now: datetime,
          progress: jobs.Progress | None = None) -> Export:
    """The viewer's ledger as xlsx or CSV: every row the page would show (viewer None: every department's)."""
    step = progress or (lambda percent, message: None)
    plan = db.session.get(Plan, filters.plan_id)
    rows = _rows(filters, viewer, now, step)
    step(85, _("正在写入表格"))
    data = build_workbook(plan, rows, now=now) if fmt == "xlsx" else build_csv(rows)
    return Export(data, filename(plan, filters, viewer, now, fmt), len(rows))


def request_export(filters: services.LedgerFilters, fmt: str, *, actor: User, now: datetime) -> Job:
    return jobs.enqueue(KIND, {"filters": {**asdict(filters), "periods": list(filters.periods)}, "format": fmt},
                        actor=actor, now=now)


def _filters(job: Job) -> services.LedgerFilters:
    given = job.params["filters"]
    return services.LedgerFilters(plan_id=given["plan_id"], periods=tuple(given["periods"]), area=given["area"],
                                  department_id=given["department_id"])


def _title(job: Job) -> str:
    plan = db.session.get(Plan, job.params["filters"]["plan_id"])
    return title(plan, job.params["format"]) if plan else _what(job.params["format"])


def _link(job: Job) -> tuple[str, str] | None:
    if jobs.result_file(job) is None:
        return None
    return url_for("jobs.download", job_id=job.id), (
        _("下载 Excel") if job.params["format"] == "xlsx" else _("下载 CSV"))


def _back(job: Job) -> tuple[str, str] | None:
    given = job.params["filters"]
    args = {"plan": given["plan_id"], "period": ",".join(given["periods"]), "area": given["area"],
            "department": given["department_id"]}
    return url_for("ledger.index", **{k: v for k, v in args.items() if v not in (None, "")}), _("返回台账")


@jobs.handler(KIND, title=_title, link=_link, back=_back, inline_max="LEDGER_EXPORT_INLINE_MAX_ROWS")
def make_export(job: Job, progress: jobs.Progress) -> dict:
    if job.requested_by is None:
        raise LookupError(_("申请人账号已不存在。"))
    fmt = job.params["format"]
    made = build(_filters(job), fmt, viewer=job.requested_by, now=job.started_at, progress=progress)
    progress(95, _("正在保存文件"))
    return jobs.keep_file(made.data, filename=made.filename, mimetype=MIMETYPES[fmt])
