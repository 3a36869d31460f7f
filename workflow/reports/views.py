"""报送, the department's side: the list of its reports and contributions, the report page (form, co-departments'
contributions, attachments, audit trail, what changed since a return) and the contribution page.

Everyone who may view a page sees it read-only unless the service rules say they may edit (report.can_edit).
The office's approve / return panel is included from review/_actions.html."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from forms.closure import ApproveForm, ExtensionForm, RefuseForm
from forms.reports import AttachmentForm, ContributionForm, ReportForm, plain_number
from models import (
    Attachment,
    AuditEvent,
    Contribution,
    ContributionStatus,
    Period,
    Report,
    ReportStatus,
    Task,
)
from models.audit import trail
from models.instruction import is_department_member
from workflow import files
from workflow.assignments.services import open_all_due_periods
from workflow.calendar.lateness import ON_TIME, Lateness, days_late, is_outstanding
from workflow.calendar.office import office_calendar
from workflow.calendar.workdays import WorkdayCalendar
from workflow.clock import local, utcnow
from workflow.converters import page_arg
from workflow.domain import Conflict, PermissionDenied, TooLarge, ValidationFailed
from workflow.errors import forbid_unless, refused
from workflow.extensions import db
from workflow.instructions.services import instructions_on
from workflow.reports import services
from workflow.reports.queries import visible_items_page

bp = Blueprint("reports", __name__, url_prefix="/reports")


# -- the list --------------------------------------------------------------------------------------------

@dataclass
class Row:
    """One line of 报送: a report (牵头) or a contribution (配合)."""

    kind: str
    item: Report | Contribution
    late: Lateness = ON_TIME


@dataclass
class PeriodGroup:
    period: Period
    rows: list[Row] = field(default_factory=list)


def overdue(item: Report | Contribution, today: date, calendar: WorkdayCalendar) -> Lateness:
    """How late something not yet handed in is (nothing once it is handed in: the list is about what to do)."""
    return days_late(item, today, calendar) if is_outstanding(item) else ON_TIME


def grouped_by_period(reports: list[Report], contributions: list[Contribution], today: date) -> list[PeriodGroup]:
    groups: dict[int, PeriodGroup] = {}
    calendar = office_calendar()
    for kind, items in (("report", reports), ("contribution", contributions)):
        for item in items:
            group = groups.setdefault(item.period_id, PeriodGroup(item.period))
            group.rows.append(Row(kind, item, overdue(item, today, calendar)))
    for group in groups.values():
        group.rows.sort(key=lambda r: (r.kind != "report", r.item.task.plan_id, r.item.task.position, r.item.id))
    return sorted(groups.values(), key=lambda g: (g.period.start, g.period.plan_id), reverse=True)


@bp.route("/")
@login_required
def index():
    now = utcnow()
    open_all_due_periods(now=now)
    if current_user.is_overseer:
        return redirect(url_for("review.queue"))
    department = None if current_user.sees_everything else current_user.department
    page, reports, contributions = visible_items_page(current_user, department=department, page=page_arg())
    groups = grouped_by_period(reports, contributions, local(now).date())
    return render_template("reports/index.html", groups=groups, department=department, page=page)


# -- one report ------------------------------------------------------------------------------------------

def _report_or_abort(report_id: int) -> Report:
    report = db.session.scalar(
        select(Report).where(Report.id == report_id)
        .options(selectinload(Report.task).selectinload(Task.targets), selectinload(Report.values),
                 selectinload(Report.period), selectinload(Report.department), selectinload(Report.attachments))
    ) or abort(404)
    forbid_unless(report.can_view(current_user))
    return report


def _own_department_liaison(item: Report | Contribution) -> bool:
    """The liaison who could edit it, were it in an editable state (so a refusal is a conflict, not a 403)."""
    return current_user.is_liaison_of(item.department_id)


def audit_trail(object_type: str, object_id: int) -> list[AuditEvent]:
    return list(db.session.scalars(trail((object_type, object_id))))


def _readable(diff: dict | None) -> dict | None:
    """Target values in a diff as people write them ('90', not '9E+1')."""
    if diff is not None:
        diff["values"] = {tid: tuple(_plain(v) for v in pair) for tid, pair in diff["values"].items()}
    return diff


def _plain(value: str | None) -> str | None:
    try:
        return plain_number(Decimal(value)) if value is not None else None
    except InvalidOperation:
        return value


def _extension_forms(report: Report, today: date, *, extension_form=None, approve_form=None,
                     refuse_form=None) -> dict:
    """The 延期申请 panel's forms: the lead's request while one may be made, the office's decision on the
    pending one (a refused POST passes its form back with the input and errors)."""
    pending = report.pending_extension
    may_ask = report.can_request_extension(current_user) and pending is None and today <= report.deadline
    if extension_form is None and may_ask:
        extension_form = ExtensionForm(formdata=None)
    decide = pending is not None and pending.can_decide(current_user)
    if approve_form is None and decide:
        approve_form = ApproveForm(formdata=None, data={"version": pending.version})
    if refuse_form is None and decide:
        refuse_form = RefuseForm(formdata=None, data={"version": pending.version})
    return {"extension_form": extension_form, "approve_form": approve_form if decide else None,
            "refuse_form": refuse_form if decide else None, "pending_extension": pending}


def render_report(report: Report, *, form: ReportForm | None = None, upload_form: AttachmentForm | None = None,
                  conflict: bool = False, status: int = 200, **extension_forms):
    editable = report.can_edit(current_user)
    if form is None and editable:
        form = ReportForm.for_report(report, formdata=None)
    if upload_form is None and editable:
        upload_form = AttachmentForm(formdata=None)
    contributions = services.contributions_for(report)
    events = audit_trail("report", report.id)
    today = local(utcnow()).date()
    # the latest 催报 of each contribution, from the trail already loaded (no query per contribution)
    chased = {e.data["contribution_id"]: e for e in events if e.action == "report.chase" and e.data}
    previous = services.previous_values(report)
    return render_template(
        "reports/show.html", report=report, task=report.task, period=report.period, form=form,
        editable=editable, conflict=conflict, upload_form=upload_form,
        chased=chased, chased_today={cid for cid, e in chased.items() if local(e.at).date() == today},
        can_chase=report.can_chase(current_user),
        instructions=instructions_on(user=current_user, report=report),
        saved_values={t.id: plain_number(report.value_for(t.id)) for t in report.task.targets},
        previous={tid: (plain_number(value), label) for tid, (value, label) in previous.items()},
        jumps=services.value_jumps(report, previous) if current_user.can_review(report) else {},
        contributions=contributions,
        attachments=[a for a in report.attachments if not a.removed],
        trail=events,
        diff=_readable(services.resubmission_diff(report)),
        targets_by_id={str(t.id): t for t in report.task.targets},
        late=overdue(report, today, office_calendar()),
        upload_types=list(files.ALLOWED), upload_accept=",".join(f".{kind}" for kind in files.ALLOWED),
        upload_limit=current_app.config.get("ATTACHMENT_MAX_BYTES") or files.DEFAULT_MAX_BYTES,
        **_extension_forms(report, today, **extension_forms),
    ), status


@bp.route("/<id:report_id>", methods=["GET", "POST"])
@login_required
def show(report_id: int):
    report = _report_or_abort(report_id)
    if request.method == "GET":
        return render_report(report)
    forbid_unless(_own_department_liaison(report))  # can_edit, or refused below as a conflict
    form = ReportForm.for_report(report)
    try:
        services.save_report(report, form.to_input(), actor=current_user, now=utcnow(),
                             version=form.version_number, submit=form.submitting)
    except ValidationFailed as exc:
        form.add_errors(refused(exc))
        flash(exc.message, "error")
        return render_report(report, form=form, status=422)
    except Conflict as exc:
        return _report_conflict(report, form, exc.message)
    except PermissionDenied:
        if _own_department_liaison(report):  # it was submitted meanwhile: keep what was typed, say why
            return _report_conflict(report, form, _("该报告已提交或已审核，不能再修改。"))
        abort(403)
    if report.status == ReportStatus.SUBMITTED:
        flash(_("报告已提交，等待领导小组办公室审核。"), "success")
    else:
        flash(_("草稿已保存（版本 %(v)d）。", v=report.version), "success")
    return redirect(url_for("reports.show", report_id=report.id))


def _report_conflict(report: Report, form: ReportForm, message: str):
    """Someone saved first: the typed text stays in the form, the saved version is shown beside it, and the
    form now carries the current version so that saving again (after merging) is accepted."""
    db.session.rollback()
    db.session.refresh(report)
    form.version.data = str(report.version)
    flash(message, "error")
    return render_report(report, form=form, conflict=True, status=409)


@bp.post("/<id:report_id>/withdraw")
@login_required
def withdraw(report_id: int):
    """撤回 (the page's button asks to confirm first): too late, or a stale page, is answered on the report, 409."""
    report = _report_or_abort(report_id)
    forbid_unless(is_department_member(current_user, report.department_id))
    try:
        services.withdraw_report(report, actor=current_user, now=utcnow(), version=request.form.get("version"))
    except Conflict as exc:
        refused(exc)
        return render_report(report, status=exc.status)
    flash(_("报告已撤回为草稿，修改后请重新提交。"), "success")
    return redirect(url_for("reports.show", report_id=report.id))


@bp.post("/<id:report_id>/contributions/<id:contribution_id>/chase")
@login_required
def chase(report_id: int, contribution_id: int):
    """催报: the refusal (already chased today, already submitted) is answered on the report page, 409."""
    report = _report_or_abort(report_id)
    forbid_unless(report.can_chase(current_user))
    contribution = db.get_or_404(Contribution, contribution_id)
    try:
        services.chase_contribution(report, contribution, actor=current_user, now=utcnow())
    except Conflict as exc:
        refused(exc)
        return render_report(report, status=exc.status)
    flash(_("已催报%(dept)s，其联络员会收到提醒。", dept=contribution.department.name), "success")
    return redirect(url_for("reports.show", report_id=report.id, _anchor="contributions"))


@bp.route("/<id:report_id>/attachments", methods=["POST"])
@login_required
def upload(report_id: int):
    report = _report_or_abort(report_id)
    if not report.can_edit(current_user):
        if not _own_department_liaison(report):
            abort(403)
        flash(_("该报告已提交或已审核，不能再添加附件。"), "error")
        return render_report(report, status=409)
    # The upload button belongs to the report form: what was typed is saved as the draft first, so neither an
    # accepted nor a refused file loses it.
    form = ReportForm.for_report(report) if "version" in request.form else None
    if form is not None:
        try:
            services.save_report(report, form.to_input(), actor=current_user, now=utcnow(),
                                 version=form.version_number, submit=False)
        except ValidationFailed as exc:
            form.add_errors(refused(exc))
            flash(_("附件未上传：请先改正报告中的错误。"), "error")
            return render_report(report, form=form, status=422)
        except Conflict as exc:
            return _report_conflict(report, form, exc.message)
        form.version.data = str(report.version)
    upload_form = AttachmentForm()
    if not upload_form.validate():
        return render_report(report, form=form, upload_form=upload_form, status=422)
    file = upload_form.file.data
    try:
        attachment = services.add_attachment(report, file.stream, file.filename or "", actor=current_user, now=utcnow())
    except (ValidationFailed, TooLarge) as exc:
        db.session.rollback()
        messages = exc.errors.values() if isinstance(exc, ValidationFailed) else [exc.message]
        upload_form.file.errors = [*upload_form.file.errors, *messages]
        return render_report(report, form=form, upload_form=upload_form, status=exc.status)
    flash(_("已上传附件：%(name)s", name=attachment.filename), "success")
    return redirect(url_for("reports.show", report_id=report.id, _anchor="attachments"))


@bp.route("/attachments/<id:attachment_id>/remove", methods=["POST"])
@login_required
def remove_attachment(attachment_id: int):
    item = db.session.get(Attachment, attachment_id) or abort(404)
    if not item.report.can_view(current_user):
        abort(403)
    services.remove_attachment(item, actor=current_user, now=utcnow())
    flash(_("已删除附件：%(name)s", name=item.filename), "success")
    return redirect(url_for("reports.show", report_id=item.report_id, _anchor="attachments"))


@bp.route("/attachments/<id:attachment_id>")
@login_required
def attachment(attachment_id: int):
    item = db.session.get(Attachment, attachment_id) or abort(404)
    forbid_unless(item.can_view(current_user))
    if item.removed:
        abort(404)
    try:
        response = files.send_stored(services.attachment_area(), item.sha256,
                                     mimetype=item.content_type or "application/octet-stream")
    except FileNotFoundError:
        abort(404)
    response.headers["Content-Disposition"] = files.content_disposition(item.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    return response


# -- one contribution (配合情况) ---------------------------------------------------------------------------

def _contribution_or_abort(contribution_id: int) -> Contribution:
    contribution = db.session.scalar(
        select(Contribution).where(Contribution.id == contribution_id)
        .options(selectinload(Contribution.task).selectinload(Task.targets),
                 selectinload(Contribution.task).selectinload(Task.assignments),
                 selectinload(Contribution.period), selectinload(Contribution.department))
    ) or abort(404)
    forbid_unless(contribution.can_view(current_user))
    return contribution


def render_contribution(contribution: Contribution, *, form: ContributionForm | None = None, conflict: bool = False,
                        status: int = 200):
    editable = contribution.can_edit(current_user)
    if form is None and editable:
        form = ContributionForm.for_contribution(contribution, formdata=None)
    return render_template(
        "reports/contribution.html", contribution=contribution, task=contribution.task,
        period=contribution.period, form=form, editable=editable, conflict=conflict,
        trail=audit_trail("contribution", contribution.id),
        late=overdue(contribution, local(utcnow()).date(), office_calendar()),
    ), status


@bp.route("/contributions/<id:contribution_id>", methods=["GET", "POST"])
@login_required
def contribution(contribution_id: int):
    item = _contribution_or_abort(contribution_id)
    if request.method == "GET":
        return render_contribution(item)
    forbid_unless(_own_department_liaison(item))  # can_edit, or refused below as a conflict
    form = ContributionForm.for_contribution(item)
    try:
        services.save_contribution(item, form.text.data or "", actor=current_user, now=utcnow(),
                                   version=form.version_number, submit=form.submitting)
    except ValidationFailed as exc:
        form.add_errors(refused(exc))
        flash(exc.message, "error")
        return render_contribution(item, form=form, status=422)
    except (Conflict, PermissionDenied) as exc:
        if isinstance(exc, PermissionDenied) and not _own_department_liaison(item):
            abort(403)
        db.session.rollback()
        db.session.refresh(item)
        form.version.data = str(item.version)
        flash(exc.message, "error")
        return render_contribution(item, form=form, conflict=True, status=409)
    if item.status == ContributionStatus.SUBMITTED:
        flash(_("配合情况已提交，牵头单位可以看到。"), "success")
    else:
        flash(_("草稿已保存（版本 %(v)d）。", v=item.version), "success")
    return redirect(url_for("reports.contribution", contribution_id=item.id))
