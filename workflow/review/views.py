"""The office's pages: the review queue, approve / return, bulk approve, publishing a plan, its periods.

Leaders see the queue and the periods read-only; everyone else gets 403. Every transition goes through
workflow.review.services or workflow.assignments.services."""
from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from werkzeug.routing import BuildError

from forms.review import (
    CADENCE_CHOICES,
    BulkApproveForm,
    DeadlineForm,
    PublishForm,
    QueueFilterForm,
    ReviewForm,
    parse_date,
    select_choices,
)
from models import Period, Plan, PlanStatus, Report, ReportStatus
from workflow.assignments import office_views  # noqa: F401  (registers routes)
from workflow.assignments import services as assignments
from workflow.calendar.lateness import days_late
from workflow.calendar.office import office_calendar
from workflow.calendar.periods import PeriodError, PeriodSpec, generate_periods, period_for, period_name
from workflow.clock import local, utcnow
from workflow.converters import page_arg, parse_ids, parse_version
from workflow.domain import DomainError, ValidationFailed
from workflow.errors import forbid_unless, refused
from workflow.extensions import db
from workflow.labels import label
from workflow.review import services

bp = Blueprint("review", __name__, url_prefix="/review")

PER_PAGE = 50
FEEDBACK_KEY = "review_feedback"
# What the office typed goes back to the report page through the session cookie (about 4 KB in all); longer
# text is answered on a page of its own so that nothing is lost.
SESSION_TEXT_LIMIT = 300


def report_url(report_id: int) -> str:
    """The liaison side's report page (reports.show)."""
    try:
        return url_for("reports.show", report_id=report_id)
    except BuildError:
        return f"/reports/{report_id}"


def missing_years(deadlines) -> list[int]:
    """Deadline years computed without an official holiday arrangement (weekends only)."""
    return office_calendar().years_without_data({d.year for d in deadlines})


def year_ranges(years: list[int]) -> str:
    """[2027, 2028, 2029, 2031] → '2027–2029、2031'."""
    runs: list[list[int]] = []
    for year in sorted(years):
        if runs and year == runs[-1][-1] + 1:
            runs[-1].append(year)
        else:
            runs.append([year])
    return "、".join(str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)


def calendar_warning(years: list[int]) -> str:
    if not years:
        return ""
    return _("%(years)s 年尚无官方放假安排，期限按周末计算", years=year_ranges(years))


@bp.app_template_global()
def review_feedback(report) -> dict:
    """What the office typed into the approve / return forms before an error sent it back (shown once)."""
    stored = session.get(FEEDBACK_KEY)
    if not stored or stored.get("report_id") != getattr(report, "id", None):
        return {}
    session.pop(FEEDBACK_KEY, None)
    return stored


# -- the queue -------------------------------------------------------------------------------------------

def _filters(form: QueueFilterForm, choices: dict) -> services.QueueFilters:
    """Read the GET filters; unknown values are ignored rather than failing the page."""
    areas = {code for code, _title in choices["areas"]}
    departments = {str(d.id): d.id for d in choices["departments"]}
    plans = {str(plan_id): plan_id for plan_id, _title in choices["plans"]}
    years = {str(y): y for y in choices["years"]}
    status = form.status.data if form.status.data in {c.value for c in form.status.choices} else "submitted"
    form.status.data = status
    return services.QueueFilters(
        status=None if status == "all" else status,
        department_id=departments.get(form.department.data or ""),
        period_key=form.period.data if form.period.data in choices["periods"] else None,
        area=form.area.data if form.area.data in areas else None,
        overdue=bool(form.overdue.data),
        plan_id=plans.get(form.plan.data or ""),
        year=years.get(form.year.data or ""),
        due=form.due.data if form.due.data in services.DUE_CHOICES else None,
        page=page_arg(),
        per_page=PER_PAGE,
    )


def _list_args() -> dict:
    """The queue's filters as query arguments, without the page (a change of filter starts at page 1)."""
    return {k: v for k, v in request.args.items() if k != "page" and v not in (None, "")}


def queue_url(**changes) -> str:
    return url_for("review.queue", **{k: v for k, v in {**_list_args(), **changes}.items() if v not in (None, "")})


@bp.get("/")
@login_required
def queue():
    forbid_unless(current_user.is_overseer)
    now = utcnow()
    assignments.open_all_due_periods(now=now)
    calendar = office_calendar()
    choices = services.queue_choices()
    form = QueueFilterForm(formdata=request.args)
    form.area.choices = select_choices([("", _("全部领域"))] + [(c, f"{c} {t}") for c, t in choices["areas"]])
    form.department.choices = select_choices([("", _("全部单位"))] + [(d.id, d.name) for d in choices["departments"]])
    form.period.choices = select_choices([("", _("全部周期"))] + [(key, period_name(key)) for key in choices["periods"]])
    form.plan.choices = select_choices([("", _("全部方案"))] + list(choices["plans"]))
    form.year.choices = select_choices([("", _("全部年度"))] + [(y, y) for y in choices["years"]])
    filters = _filters(form, choices)
    page, counts = services.review_queue(filters, now=now, calendar=calendar)
    today = local(now).date()
    return render_template(
        "review/queue.html", form=form, rows=page.items, total=page.total, counts=counts, filters=filters,
        page=page, page_args=_list_args(), today=today, days_late=lambda r: days_late(r, today, calendar),
        queue_url=queue_url, report_url=report_url,
        can_act=current_user.is_reviewer, next_url=request.full_path,
    )


def _back_to_queue() -> str:
    target = request.form.get("next") or ""
    if target.startswith("/review/") and not target.startswith("//"):
        return target
    return url_for("review.queue")


@bp.post("/bulk-approve")
@login_required
def bulk_approve():
    forbid_unless(current_user.is_reviewer)
    form = BulkApproveForm()
    if not form.validate():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(_back_to_queue())
    ids = parse_ids(request.form.getlist("report_ids"))
    if not ids:
        flash(_("请先勾选要通过的报告。"), "warning")
        return redirect(_back_to_queue())
    # Say plainly why a report that is not awaiting review was left alone; the service handles the rest
    # (and anything that changed in between).
    problems = []
    for report in db.session.scalars(select(Report).where(Report.id.in_(ids))):
        if report.status != ReportStatus.SUBMITTED:
            problems.append(_("%(code)s %(dept)s：当前状态为“%(status)s”，不在待审核中",
                              code=report.task.code, dept=report.department.name,
                              status=label("report_status", report.status)))
            ids.remove(report.id)
    approved, more = services.bulk_approve(ids, actor=current_user, now=utcnow(), comment=form.comment.data or "")
    problems += more
    if approved:
        flash(_("已通过 %(n)d 份报告。", n=approved), "success")
    if problems:
        flash(_("以下 %(n)d 份报告未能通过：", n=len(problems)) + "；".join(problems), "warning")
    return redirect(_back_to_queue())


# -- approve / return --------------------------------------------------------------------------------------

def _next_after(now: datetime) -> str:
    oldest = services.review_queue(services.QueueFilters(per_page=1), now=now)[0].items
    return report_url(oldest[0].id) if oldest else url_for("review.queue")


def _review(report_id: int, action: str):
    forbid_unless(current_user.is_reviewer)
    report = db.get_or_404(Report, report_id)
    form = ReviewForm()
    typed = {"comment": form.comment.data or "", "reason": form.reason.data or ""}
    now = utcnow()
    try:
        if not form.validate():
            raise ValidationFailed({name: errors[0] for name, errors in form.errors.items()})
        if action == "approve":
            services.approve_report(report, actor=current_user, now=now, comment=typed["comment"],
                                    version=parse_version(form.version.data))
        else:
            services.return_report(report, actor=current_user, now=now, reason=typed["reason"],
                                   version=parse_version(form.version.data))
    except ValidationFailed as exc:
        if sum(len(v) for v in typed.values()) <= SESSION_TEXT_LIMIT:
            session[FEEDBACK_KEY] = {"report_id": report.id, "action": action, "errors": exc.errors, **typed}
            flash(exc.message, "error")
            return redirect(report_url(report.id))
        # Too long to carry in the session cookie: answer here, with the text, rather than lose it.
        message = "；".join(exc.errors.values()) or exc.message
        return render_template("review/problem.html", status=exc.status, message=message, report=report,
                               report_url=report_url(report.id), action=action, typed=typed), exc.status
    except DomainError as exc:
        db.session.rollback()
        return render_template("review/problem.html", status=exc.status, message=exc.message, report=report,
                               report_url=report_url(report.id), action=action, typed=typed), exc.status
    if action == "approve":
        flash(_("已审核通过：%(code)s %(dept)s %(period)s", code=report.task.code, dept=report.department.name,
                period=period_name(report.period.key)), "success")
    else:
        flash(_("已退回：%(code)s %(dept)s %(period)s，单位将收到退回理由。", code=report.task.code,
                dept=report.department.name, period=period_name(report.period.key)), "success")
    return redirect(_next_after(now))


@bp.post("/reports/<id:report_id>/approve")
@login_required
def approve(report_id: int):
    return _review(report_id, "approve")


@bp.post("/reports/<id:report_id>/return")
@login_required
def return_report(report_id: int):
    return _review(report_id, "return")


# -- publishing a plan -------------------------------------------------------------------------------------

def _preview(plan: Plan, cadence: str, first: str, workdays: int) -> list[PeriodSpec]:
    """The periods publish_plan will create (same range: the first period through the plan's last year)."""
    last_year = max(plan.valid_to or 0, int(first[:4]) if first[:4].isascii() and first[:4].isdigit() else 0)
    return generate_periods(cadence, first, date(max(last_year, 2000), 12, 31), deadline_workdays=workdays,
                            calendar=office_calendar())


@bp.route("/plans/<id:plan_id>/publish", methods=["GET", "POST"])
@login_required
def publish(plan_id: int):
    forbid_unless(current_user.is_reviewer)
    plan = db.get_or_404(Plan, plan_id)
    now = utcnow()
    today = local(now).date()
    form = PublishForm()
    if request.method == "GET":
        form.first_period.data = period_for(form.cadence.data, today)
    specs: list[PeriodSpec] = []
    status = 200
    if plan.status == PlanStatus.PUBLISHED:
        if request.method == "POST":
            flash(_("该方案已于 %(d)s 发布，不能重复发布。", d=f"{local(plan.published_at):%Y-%m-%d}"), "warning")
            status = 409
        return render_template("review/publish.html", plan=plan, form=form, specs=[], warning="", today=today,
                               no_data_years=set(), cadence_names=dict(CADENCE_CHOICES)), status
    if request.method == "GET" or form.validate():
        cadence, first, workdays = form.values()
        if not first:
            first = form.first_period.data = period_for(cadence, today)
        try:
            specs = _preview(plan, cadence, first, workdays)
        except PeriodError as exc:
            form.first_period.errors = [*form.first_period.errors, str(exc)]
            status = 422
        else:
            if form.confirm.data and form.previewed.data == form.signature():
                try:
                    periods = assignments.publish_plan(plan, actor=current_user, now=now, cadence=cadence,
                                                       first_period=first, deadline_workdays=workdays)
                except DomainError as exc:
                    for name, message in refused(exc).items():
                        field = getattr(form, name, form.first_period)
                        field.errors = [*field.errors, message]
                    status = exc.status
                else:
                    flash(_("方案已发布：%(n)d 个报送周期，任务已下达各责任单位。", n=len(periods)), "success")
                    return redirect(url_for("review.periods", plan_id=plan.id))
            elif form.confirm.data:
                flash(_("发布参数已改变，请核对下方新的预览后再确认发布。"), "warning")
            form.previewed.data = form.signature()
    else:
        status = 422
    no_data_years = missing_years(s.deadline for s in specs)
    return render_template("review/publish.html", plan=plan, form=form, specs=specs, today=today,
                           warning=calendar_warning(no_data_years), no_data_years=set(no_data_years),
                           cadence_names=dict(CADENCE_CHOICES),
                           collectives=assignments.draft_collectives(plan)), status


# -- periods and their deadlines ---------------------------------------------------------------------------

def _render_periods(plan: Plan, *, errors: dict | None = None, typed: dict | None = None, status: int = 200):
    periods = db.session.scalars(select(Period).where(Period.plan_id == plan.id).order_by(Period.start)).all()
    counts: dict[int, dict[str, int]] = {}
    for period_id, state, n in db.session.execute(
            select(Report.period_id, Report.status, func.count()).join(Period)
            .where(Period.plan_id == plan.id).group_by(Report.period_id, Report.status)):
        counts.setdefault(period_id, {})[state] = n
    no_data_years = missing_years(d for p in periods for d in (p.deadline, p.computed_deadline))
    return render_template("review/periods.html", plan=plan, periods=periods, counts=counts,
                           warning=calendar_warning(no_data_years), no_data_years=set(no_data_years),
                           errors=errors or {}, typed=typed or {}, can_act=current_user.is_reviewer), status


@bp.get("/plans/<id:plan_id>/periods")
@login_required
def periods(plan_id: int):
    forbid_unless(current_user.is_overseer)
    return _render_periods(db.get_or_404(Plan, plan_id))


@bp.post("/plans/<id:plan_id>/periods/<id:period_id>/deadline")
@login_required
def move_deadline(plan_id: int, period_id: int):
    forbid_unless(current_user.is_reviewer)
    plan = db.get_or_404(Plan, plan_id)
    period = db.get_or_404(Period, period_id)
    if period.plan_id != plan.id:
        abort(404)
    form = DeadlineForm()
    typed = {period.id: {"deadline": form.deadline.data or "", "reason": form.reason.data or ""}}
    try:
        if not form.validate():
            raise ValidationFailed({name: errors[0] for name, errors in form.errors.items()})
        assignments.move_deadline(period, parse_date(form.deadline.data), reason=form.reason.data or "",
                                  actor=current_user, now=utcnow())
    except DomainError as exc:
        return _render_periods(plan, errors={period.id: refused(exc)}, typed=typed, status=exc.status)
    flash(_("%(label)s 的报送期限已调整为 %(d)s。", label=period_name(period.key), d=f"{period.deadline:%Y-%m-%d}"), "success")
    return redirect(url_for("review.periods", plan_id=plan.id) + f"#period-{period.id}")
