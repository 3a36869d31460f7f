"""延期申请 on the report page: the lead's request form, the office's approve / refuse forms; a refusal re-renders
the report page with the typed input kept (reports.views.render_report)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.closure import ApproveForm, ExtensionForm, RefuseForm
from models.org import DEPARTMENT_ROLES
from workflow.clock import utcnow
from workflow.domain import DomainError
from workflow.errors import forbid_unless, refused, require_valid
from workflow.extension_requests import services
from workflow.reports.views import _report_or_abort, render_report

bp = Blueprint("extension_requests", __name__)


def _extension_or_abort(extension_id: int):
    extension = services.load_extension(extension_id) or abort(404)
    forbid_unless(extension.can_view(current_user))
    return extension


@bp.post("/reports/<id:report_id>/extension")
@login_required
def request_extension(report_id: int):
    report = _report_or_abort(report_id)
    forbid_unless(current_user.role in DEPARTMENT_ROLES and current_user.department_id == report.department_id)
    form = ExtensionForm()
    try:
        require_valid(form)
        services.request_extension(report, reason=form.reason.data, new_deadline=form.date,
                                   progress=form.progress.data, actor=current_user, now=utcnow())
    except DomainError as exc:
        refused(exc, form)
        return render_report(report, extension_form=form, status=exc.status)
    flash(_("延期申请已提交，等待领导小组办公室审批。"), "success")
    return redirect(url_for("reports.show", report_id=report.id, _anchor="extensions"))


@bp.get("/extensions/<id:extension_id>")
@login_required
def show(extension_id: int):
    """Where a notification points: the request on its report's page."""
    extension = _extension_or_abort(extension_id)
    return redirect(url_for("reports.show", report_id=extension.report_id, _anchor="extensions"))


@bp.post("/extensions/<id:extension_id>/approve")
@login_required
def approve(extension_id: int):
    extension = _extension_or_abort(extension_id)
    forbid_unless(current_user.is_reviewer)
    form = ApproveForm()
    try:
        require_valid(form)
        services.approve_extension(extension, actor=current_user, now=utcnow(), comment=form.comment.data,
                                   version=form.version_number)
    except DomainError as exc:
        refused(exc, form)
        return render_report(extension.report, approve_form=form, status=exc.status)
    flash(_("已批准延期，报送期限调整为 %(d)s。", d=f"{extension.new_deadline:%Y-%m-%d}"), "success")
    return redirect(url_for("reports.show", report_id=extension.report_id, _anchor="extensions"))


@bp.post("/extensions/<id:extension_id>/refuse")
@login_required
def refuse(extension_id: int):
    extension = _extension_or_abort(extension_id)
    forbid_unless(current_user.is_reviewer)
    form = RefuseForm()
    try:
        require_valid(form)
        services.refuse_extension(extension, form.reason.data, actor=current_user, now=utcnow(),
                                  version=form.version_number)
    except DomainError as exc:
        refused(exc, form)
        return render_report(extension.report, refuse_form=form, status=exc.status)
    flash(_("已不予批准该延期申请，已告知申请单位。"), "success")
    return redirect(url_for("reports.show", report_id=extension.report_id, _anchor="extensions"))
