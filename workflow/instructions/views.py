"""领导批示 pages: the list (leaders and the office see every instruction, a department its own), writing one on a
task, a report or an escalation (/instructions/new?report=ID …), one instruction with the department's answer
form and the leader's close button."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms import apply_errors
from forms.instructions import AnswerForm, CloseInstructionForm, InstructionForm
from models import Instruction, Role
from models.audit import trail
from models.instruction import is_department_member, may_close
from workflow.calendar.office import office_calendar
from workflow.clock import local, utcnow
from workflow.converters import id_arg, page_arg
from workflow.domain import DomainError, ValidationFailed
from workflow.errors import forbid_unless, refused, require_valid
from workflow.extensions import db
from workflow.instructions import services

bp = Blueprint("instructions", __name__, url_prefix="/instructions")

PER_PAGE = 50
SUBJECT_ARGS = ("escalation", "report", "task")


# -- the list ----------------------------------------------------------------------------------------------

@bp.get("/")
@login_required
def index():
    forbid_unless(current_user.can_list_instructions())
    tab = request.args.get("tab", "all")
    tab = tab if tab in services.TABS else "all"
    departments = services.instruction_departments(current_user) if current_user.is_overseer else []
    department_id = id_arg("department")
    if department_id not in {d.id for d in departments}:
        department_id = None
    args = {"tab": tab, "department": department_id}
    page = services.instruction_page(current_user, tab=tab, department_id=department_id, page=page_arg(),
                                     per_page=PER_PAGE)
    today, cal = local(utcnow()).date(), office_calendar()
    late = {i.id: services.instruction_lateness(i, today, cal) for i in page.items}
    query = {k: v for k, v in args.items() if v not in (None, "", "all")}
    return render_template("instructions/index.html", page=page, rows=page.items, late=late, args=args,
                           query=query, departments=departments, tabs=services.TABS,
                           counts=services.instruction_counts(current_user, department_id=department_id))


# -- writing one -------------------------------------------------------------------------------------------

def _subject_or_404() -> tuple[services.Subject, dict]:
    """The subject named in the query string (?escalation= / ?report= / ?task=) and that argument."""
    for name in SUBJECT_ARGS:
        if name in request.args:
            subject_id = id_arg(name)
            subject = services.subject_for(**{f"{name}_id": subject_id}) if subject_id else None
            if subject is None:
                abort(404)
            return subject, {name: subject_id}
    abort(404)


def _render_new(subject: services.Subject, arg: dict, form: InstructionForm, *, status: int = 200):
    is_office = current_user.role != Role.LEADER
    form.department.choices = [(str(d.id), d.name) for d in subject.departments]
    if is_office:
        form.leader.choices = [("", _("请选择"))] + [(str(u.id), u.display) for u in services.leaders()]
    return render_template("instructions/new.html", subject=subject, arg=arg, form=form, is_office=is_office), status


@bp.get("/new")
@login_required
def new():
    forbid_unless(current_user.can_write_instructions())
    subject, arg = _subject_or_404()
    form = InstructionForm(formdata=None)
    if subject.own_department is not None:
        form.department.data = str(subject.own_department.id)
    return _render_new(subject, arg, form)


@bp.post("/new")
@login_required
def create():
    forbid_unless(current_user.can_write_instructions())
    subject, arg = _subject_or_404()
    form = InstructionForm()
    try:
        require_valid(form)
        instruction = services.create_instruction(
            subject, text=form.text.data, due_date=form.due, department_id=form.department_id,
            leader_id=form.leader_id, actor=current_user, now=utcnow())
    except ValidationFailed as exc:
        db.session.rollback()
        form = InstructionForm()   # fresh field errors: the typed values stay, each error shown once
        apply_errors(form, exc.errors)
        return _render_new(subject, arg, form, status=exc.status)
    except DomainError as exc:
        refused(exc)
        return _render_new(subject, arg, form, status=exc.status)
    flash(_("批示已交办%(dept)s，办理期限 %(due)s。", dept=instruction.department.name,
            due=f"{instruction.due_date:%Y-%m-%d}"), "success")
    return redirect(url_for("instructions.show", instruction_id=instruction.id))


# -- one instruction ---------------------------------------------------------------------------------------

def _instruction_or_404(instruction_id: int) -> Instruction:
    instruction = db.get_or_404(Instruction, instruction_id)
    forbid_unless(instruction.can_view(current_user))
    return instruction


def _render_show(instruction: Instruction, *, answer_form: AnswerForm | None = None,
                 close_form: CloseInstructionForm | None = None, status: int = 200):
    if answer_form is None and instruction.can_answer(current_user):
        answer_form = AnswerForm(formdata=None, data={"version": instruction.version})
    if close_form is None and instruction.can_close(current_user):
        close_form = CloseInstructionForm(formdata=None, data={"version": instruction.version})
    report = instruction.report
    return render_template(
        "instructions/show.html", i=instruction, answer_form=answer_form, close_form=close_form,
        late=services.instruction_lateness(instruction, local(utcnow()).date(), office_calendar()),
        report_visible=report is not None and report.can_view(current_user),
        escalation_visible=instruction.escalation is not None and instruction.escalation.can_view(current_user),
        trail=list(db.session.scalars(trail(("instruction", instruction.id)))),
    ), status


@bp.get("/<id:instruction_id>")
@login_required
def show(instruction_id: int):
    return _render_show(_instruction_or_404(instruction_id))


@bp.post("/<id:instruction_id>/answer")
@login_required
def answer(instruction_id: int):
    instruction = _instruction_or_404(instruction_id)
    forbid_unless(is_department_member(current_user, instruction.department_id))  # else: answered, a conflict
    form = AnswerForm()
    try:
        require_valid(form)
        services.answer_instruction(instruction, form.answer.data, actor=current_user, now=utcnow(),
                                    version=form.version_number)
    except DomainError as exc:
        refused(exc, form)
        db.session.refresh(instruction)
        if instruction.can_answer(current_user):
            form.version.data = str(instruction.version)   # saving again after a conflict is accepted
        return _render_show(instruction, answer_form=form, status=exc.status)
    flash(_("办理情况已报送，已告知批示领导。"), "success")
    return redirect(url_for("instructions.show", instruction_id=instruction.id))


@bp.post("/<id:instruction_id>/close")
@login_required
def close(instruction_id: int):
    instruction = _instruction_or_404(instruction_id)
    forbid_unless(may_close(instruction, current_user))  # else: not answered yet or closed, a conflict
    form = CloseInstructionForm()
    try:
        require_valid(form)
        services.close_instruction(instruction, form.comment.data, actor=current_user, now=utcnow(),
                                   version=form.version_number)
    except DomainError as exc:
        refused(exc, form)
        db.session.refresh(instruction)
        return _render_show(instruction, close_form=form if instruction.can_close(current_user) else None,
                            status=exc.status)
    flash(_("批示已办结。"), "success")
    return redirect(url_for("instructions.show", instruction_id=instruction.id))

