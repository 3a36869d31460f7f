"""台账 page and download: the office, leaders and admins read every department's rows; a liaison or head only
their own department's (Report.visible_filter), in the page, the workbook and the CSV alike.

Filters are a GET form; a value the plan does not have is ignored, as in the review queue.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.ledger import LedgerFilterForm
from forms.review import select_choices
from models import Plan, Report
from workflow.calendar.office import office_calendar
from workflow.calendar.periods import period_name
from workflow.clock import local, utcnow
from workflow.converters import page_arg, parse_id
from workflow.errors import forbid_unless
from workflow.files import content_disposition
from workflow.ledger import exports, services
from workflow.pagination import paginate

bp = Blueprint("ledger", __name__, url_prefix="/ledger")

PER_PAGE = 50


def _may_read() -> bool:
    return current_user.sees_everything or current_user.department_id is not None


def _read_filters() -> tuple[LedgerFilterForm, dict, services.LedgerFilters | None, Plan | None]:
    form = LedgerFilterForm(formdata=request.args)
    plans = services.filter_choices(current_user, None)["plans"]
    wanted = parse_id(form.plan.data)
    plan = next((p for p in plans if p.id == wanted), plans[0] if plans else None)
    choices = services.filter_choices(current_user, plan)
    form.plan.choices = select_choices((p.id, p.title) for p in plans)
    form.area.choices = select_choices([("", _("全部领域"))] + [(c, f"{c} {t}") for c, t in choices["areas"]])
    form.department.choices = select_choices([("", _("全部单位"))] + [(d.id, d.name) for d in choices["departments"]])
    form.period.choices = select_choices([("", _("全部周期"))] + [(k, period_name(k)) for k, _label in choices["periods"]])
    if plan is None:
        return form, choices, None, None
    form.plan.data = str(plan.id)
    departments = {d.id for d in choices["departments"]}
    department_id = parse_id(form.department.data)
    filters = services.LedgerFilters(
        plan_id=plan.id,
        periods=(form.period.data,) if form.period.data in {k for k, _label in choices["periods"]} else (),
        area=form.area.data if form.area.data in {c for c, _title in choices["areas"]} else None,
        department_id=department_id if department_id in departments else None)
    return form, choices, filters, plan


def _args(filters: services.LedgerFilters | None) -> dict:
    if filters is None:
        return {}
    given = {"plan": filters.plan_id, "period": ",".join(filters.periods), "area": filters.area,
             "department": filters.department_id}
    return {k: v for k, v in given.items() if v not in (None, "")}


@bp.get("/")
@login_required
def index():
    forbid_unless(_may_read())
    form, choices, filters, plan = _read_filters()
    if filters is None:
        return render_template("ledger/index.html", form=form, plan=None, rows=[], summary={}, overall=None,
                               page=None, args={})
    now = utcnow()
    calendar = office_calendar()
    rows = services.ledger_rows(filters, viewer=current_user, now=now, calendar=calendar)
    query = services.ledger_query(filters, current_user)
    page = paginate(query, page=page_arg(), per_page=PER_PAGE)
    shown = services.build_rows(query.where(Report.id.in_([r.id for r in page.items])), now=now, calendar=calendar)
    return render_template(
        "ledger/index.html", form=form, plan=plan, rows=shown, page=page, args=_args(filters),
        summary=services.tally_by(sorted(rows, key=lambda r: r.lead), lambda r: r.lead),
        overall=services.total(rows), today=local(now).date(),
        own_department=None if current_user.sees_everything else current_user.department)


@bp.route("/export.<any(xlsx, csv):fmt>", methods=["GET", "POST"])
@login_required
def export(fmt: str):
    """The filtered ledger as a file; what the page shows, every row of it. A big one is a background job:
    GET offers it (a read writes nothing), POST queues it and shows the job's progress page."""
    forbid_unless(_may_read())
    _form, _choices, filters, plan = _read_filters()
    if filters is None:
        abort(404)
    now = utcnow()
    rows = exports.row_count(filters, current_user)
    if exports.runs_in_background(rows):
        if request.method == "GET":
            return render_template(
                "jobs/offer.html", title=exports.title(plan, fmt),
                detail=_("%(name)s，共 %(rows)s 行", name=exports.filename(plan, filters, current_user, now, fmt),
                         rows=rows),
                action=url_for("ledger.export", fmt=fmt, **_args(filters)),
                back=url_for("ledger.index", **_args(filters)))
        job = exports.request_export(filters, fmt, actor=current_user, now=now)
        return redirect(url_for("jobs.show", job_id=job.id))
    made = exports.build(filters, fmt, viewer=current_user, now=now)
    response = current_app.response_class(made.data, mimetype=exports.MIMETYPES[fmt])
    response.headers["Content-Disposition"] = content_disposition(made.filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response
