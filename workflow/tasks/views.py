"""The task page, /tasks/<id>: the task's text and departments, its targets' values over time, every period's
report and contributions, its escalations, 延期申请 and 办结销号, and its audit trail; linked from wherever a task
is named (templates/macros/tasks.html task_link). The lead files its completion report here; the office confirms
(销号) or returns it, and reopens a closed task; a refusal re-renders the page with the input kept."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.closure import CompletionForm, ConfirmForm, ReopenForm, ReturnCompletionForm
from models.extension import is_lead_member
from workflow.clock import utcnow
from workflow.converters import page_arg
from workflow.domain import DomainError
from workflow.errors import forbid_unless, refused, require_valid
from workflow.tasks import closure, completion, services

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


def _task_or_abort(task_id: int):
    task = services.load_task(task_id) or abort(404)
    forbid_unless(task.visible_to(current_user))
    return task


def _render(task, *, status: int = 200, completion_form=None, confirm_form=None, return_form=None,
            reopen_form=None, typed_values=None):
    page = services.task_page(task, user=current_user, now=utcnow(), audit_page=page_arg())
    pending = next((c for c in page.completions if c.is_pending), None)
    may_file = not task.is_closed and pending is None and is_lead_member(current_user, task)
    decide = pending is not None and pending.can_decide(current_user)
    if completion_form is None and may_file:
        completion_form = CompletionForm(formdata=None)
    if decide:
        confirm_form = confirm_form or ConfirmForm(formdata=None, data={"version": pending.version})
        return_form = return_form or ReturnCompletionForm(formdata=None, data={"version": pending.version})
    if reopen_form is None and task.is_closed and current_user.is_reviewer:
        reopen_form = ReopenForm(formdata=None)
    return render_template("tasks/show.html", page=page, task=task, pending_completion=pending,
                           completion_form=completion_form if may_file else None,
                           confirm_form=confirm_form if decide else None, return_form=return_form if decide else None,
                           reopen_form=reopen_form if task.is_closed and current_user.is_reviewer else None,
                           typed_values=typed_values or {}), status


@bp.get("/<id:task_id>")
@login_required
def show(task_id: int):
    return _render(_task_or_abort(task_id))


@bp.post("/<id:task_id>/completion")
@login_required
def file_completion(task_id: int):
    task = _task_or_abort(task_id)
    forbid_unless(is_lead_member(current_user, task))
    form = CompletionForm()
    typed = {t.id: (request.form.get(f"value_{t.id}") or "").strip() for t in task.targets}
    try:
        require_valid(form)
        completion.file_completion(task, summary=form.summary.data, values=typed,
                                   uploads=request.files.getlist(form.files.name), actor=current_user, now=utcnow())
    except DomainError as exc:
        errors = refused(exc, form)
        return _render(task, status=exc.status, completion_form=form,
                       typed_values={"values": typed, "errors": errors})
    flash(_("办结报告已报送，等待领导小组办公室确认销号。"), "success")
    return redirect(url_for("tasks.show", task_id=task.id, _anchor="completion"))


def _completion_or_abort(completion_id: int):
    found = completion.load_completion(completion_id) or abort(404)
    forbid_unless(found.can_view(current_user))
    return found


@bp.post("/completions/<id:completion_id>/confirm")
@login_required
def confirm(completion_id: int):
    found = _completion_or_abort(completion_id)
    forbid_unless(current_user.is_reviewer)
    form = ConfirmForm()
    try:
        require_valid(form)
        completion.confirm_completion(found, actor=current_user, now=utcnow(), comment=form.comment.data,
                                      version=form.version_number)
    except DomainError as exc:
        refused(exc, form)
        return _render(found.task, status=exc.status, confirm_form=form)
    flash(_("已确认办结，任务 %(code)s 已销号。", code=found.task.code), "success")
    return redirect(url_for("tasks.show", task_id=found.task_id, _anchor="completion"))


@bp.post("/completions/<id:completion_id>/return")
@login_required
def return_(completion_id: int):
    found = _completion_or_abort(completion_id)
    forbid_unless(current_user.is_reviewer)
    form = ReturnCompletionForm()
    try:
        require_valid(form)
        completion.return_completion(found, form.reason.data, actor=current_user, now=utcnow(),
                                     version=form.version_number)
    except DomainError as exc:
        refused(exc, form)
        return _render(found.task, status=exc.status, return_form=form)
    flash(_("办结报告已退回，已告知牵头单位。"), "success")
    return redirect(url_for("tasks.show", task_id=found.task_id, _anchor="completion"))


@bp.post("/<id:task_id>/reopen")
@login_required
def reopen(task_id: int):
    task = _task_or_abort(task_id)
    forbid_unless(current_user.is_reviewer)
    form = ReopenForm()
    try:
        require_valid(form)
        closure.reopen_task(task, actor=current_user, now=utcnow(), reason=form.reason.data)
    except DomainError as exc:
        refused(exc, form)
        return _render(task, status=exc.status, reopen_form=form)
    flash(_("任务 %(code)s 已重新开启，自下一报送周期起恢复报送。", code=task.code), "success")
    return redirect(url_for("tasks.show", task_id=task.id))


@bp.get("/completions/<id:completion_id>/files/<sha256>")
@login_required
def completion_file(completion_id: int, sha256: str):
    found = _completion_or_abort(completion_id)
    try:
        return completion.completion_file(found, sha256) or abort(404)
    except FileNotFoundError:
        abort(404)
