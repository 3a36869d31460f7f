"""年度评估 pages: the office computes, sets, rates, adjusts and reopens; a leader signs off; office, leaders and
admins read everything; a department's own users read and download only their department's result.

Every POST validates its form, calls one service, flashes and redirects; a service's field errors come back on
the form (422), a conflict (frozen, stale version) as a flash.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from forms import apply_errors
from forms.evaluation import (
    AdjustForm,
    GenerateForm,
    MilestoneForm,
    OpenForm,
    RatingForm,
    ReopenForm,
    SettingsForm,
    SignOffForm,
)
from forms.review import select_choices
from models import Department, Plan, PlanStatus, Target, Task
from models.evaluation import Evaluation, EvaluationFile
from pdf.render import PdfError, PdfUnavailable
from workflow.clock import local, utcnow
from workflow.domain import DomainError, ValidationFailed
from workflow.evaluation import documents, scoring, services
from workflow.extensions import db
from workflow.reports.storage import content_disposition

bp = Blueprint("evaluation", __name__, url_prefix="/evaluation")

MIMETYPES = {"pdf": "application/pdf", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


# -- finding ------------------------------------------------------------------------------------------------

def _evaluation_or_404(plan_id: int, year: int) -> Evaluation:
    if not services.MIN_YEAR <= year <= services.MAX_YEAR:
        abort(404)
    evaluation = services.find_evaluation(db.get_or_404(Plan, plan_id), year)
    if evaluation is None:
        abort(404)
    return evaluation


def _department_or_404(evaluation: Evaluation, department_id: int | None) -> Department | None:
    if department_id in (None, "", 0):
        return None
    try:
        wanted = int(department_id)
    except (TypeError, ValueError):
        abort(404)
    score = next((s for s in evaluation.scores if s.department_id == wanted), None)
    if score is None:
        abort(404)
    return score.department


def _require(allowed: bool) -> None:
    if not allowed:
        abort(403)


# -- pages --------------------------------------------------------------------------------------------------

@bp.get("/")
@login_required
def index():
    plans = db.session.scalars(select(Plan).where(Plan.status == PlanStatus.PUBLISHED).order_by(Plan.id)).all()
    evaluations = db.session.scalars(select(Evaluation).order_by(Evaluation.year.desc(), Evaluation.plan_id)).all()
    own = {}
    if not services.can_view_all(current_user):
        own = {e.id: next((s for s in e.scores if s.department_id == current_user.department_id), None)
               for e in evaluations}
        evaluations = [e for e in evaluations if own[e.id] is not None]
    form = OpenForm()
    form.plan.choices = select_choices((p.id, p.title) for p in plans)
    form.year.data = form.year.data or str(local(utcnow()).year)
    return render_template("evaluation/index.html", evaluations=evaluations, own=own, form=form, plans=plans,
                           can_manage=services.can_manage(current_user))


@bp.post("/open")
@login_required
def open_evaluation():
    _require(services.can_manage(current_user))
    form = OpenForm()
    plan = db.session.get(Plan, int(form.plan.data)) if (form.plan.data or "").isdigit() else None
    year = int(form.year.data) if (form.year.data or "").isdigit() else 0
    if plan is None or not form.validate():
        flash(_("请选择实施方案。"), "error")
        return redirect(url_for("evaluation.index"))
    try:
        evaluation = services.get_or_create(plan, year, now=utcnow())
        services.compute_evaluation(evaluation, actor=current_user, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.errors.get("year", exc.message) if isinstance(exc, ValidationFailed) else exc.message, "error")
        return redirect(url_for("evaluation.index"))
    return redirect(url_for("evaluation.show", plan_id=plan.id, year=year))


def _forms(evaluation: Evaluation, **given) -> dict:
    """The page's forms with their choices; `given` replaces one with the submitted (erroneous) form."""
    settings_form = given.get("settings_form") or SettingsForm(formdata=None)
    if "settings_form" not in given:
        settings_form.fill(scoring.effective_settings(evaluation))
    forms = {
        "settings_form": settings_form,
        "adjust_form": given.get("adjust_form") or AdjustForm(formdata=None),
        "rating_form": given.get("rating_form") or RatingForm(formdata=None),
        "milestone_form": given.get("milestone_form") or MilestoneForm(formdata=None),
        "sign_off_form": given.get("sign_off_form") or SignOffForm(formdata=None, version=evaluation.version),
        "reopen_form": given.get("reopen_form") or ReopenForm(formdata=None),
        "generate_form": GenerateForm(formdata=None),
    }
    departments = [(s.department_id, s.department.name) for s in evaluation.scores]
    forms["adjust_form"].department.choices = select_choices(departments)
    forms["generate_form"].department.choices = select_choices([("", _("全部单位")), *departments])
    tasks = db.session.scalars(select(Task).where(Task.plan_id == evaluation.plan_id).order_by(Task.position)).all()
    forms["rating_form"].task.choices = select_choices((t.id, f"{t.code} {t.title[:30]}") for t in tasks)
    targets = [t for task in tasks for t in task.targets]
    forms["milestone_form"].target.choices = select_choices(
        (t.id, f"{t.task.code} {t.metric[:24]} {t.label}（{t.year or '—'}）") for t in targets)
    return forms


def _render_show(evaluation: Evaluation, status: int = 200, **given):
    grades = {g: sum(1 for s in evaluation.scores if s.grade == g) for g in scoring.GRADES}
    return render_template(
        "evaluation/show.html", evaluation=evaluation, settings=scoring.effective_settings(evaluation),
        grades=grades, part_names=scoring.PART_NAMES, parts=scoring.PARTS,
        files=documents.visible_files(evaluation, current_user), ratings=evaluation.ratings,
        milestones=services.milestones_of(evaluation),
        can_manage=services.can_manage(current_user), can_sign_off=services.can_sign_off(current_user),
        **_forms(evaluation, **given)), status


@bp.get("/<int:plan_id>/<int:year>/")
@login_required
def show(plan_id: int, year: int):
    evaluation = _evaluation_or_404(plan_id, year)
    if not services.can_view_all(current_user):
        department = current_user.department_id
        _require(any(s.department_id == department for s in evaluation.scores))
        return redirect(url_for("evaluation.department", plan_id=plan_id, year=year, department_id=department))
    return _render_show(evaluation)[0]


@bp.get("/<int:plan_id>/<int:year>/departments/<int:department_id>")
@login_required
def department(plan_id: int, year: int, department_id: int):
    evaluation = _evaluation_or_404(plan_id, year)
    _require(services.can_view_department(current_user, department_id))
    dept = _department_or_404(evaluation, department_id)
    return render_template("evaluation/department.html", evaluation=evaluation,
                           score=services.score_of(evaluation, dept),
                           settings=scoring.effective_settings(evaluation), part_names=scoring.PART_NAMES,
                           parts=scoring.PARTS, basis_names=documents.BASIS_NAMES, role_names=documents.ROLE_NAMES,
                           status_names=documents.ITEM_STATUS_NAMES,
                           files=[f for f in documents.visible_files(evaluation, current_user)
                                  if f.department_id == dept.id],
                           can_view_all=services.can_view_all(current_user), generate_form=GenerateForm(formdata=None))


# -- the office's and the leader's actions ----------------------------------------------------------------

def _act(evaluation: Evaluation, form, form_key: str, action, success: str):
    """Validate, call the service, flash, redirect; field errors re-render the page with the form (422)."""
    back = url_for("evaluation.show", plan_id=evaluation.plan_id, year=evaluation.year)
    try:
        if not form.validate():
            raise ValidationFailed({name: str(errors[0]) for name, errors in form.errors.items()})
        action()
    except ValidationFailed as exc:
        db.session.rollback()
        errors = form.field_errors(exc.errors) if hasattr(form, "field_errors") else exc.errors
        apply_errors(form, errors)
        return _render_show(evaluation, exc.status, **{form_key: form})
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back)
    flash(success, "success")
    return redirect(back)


@bp.post("/<int:plan_id>/<int:year>/compute")
@login_required
def compute(plan_id: int, year: int):
    evaluation = _evaluation_or_404(plan_id, year)
    _require(services.can_manage(current_user))
    services.compute_evaluation(evaluation, actor=current_user, now=utcnow())
    flash(_("已按当前数据重新计算。") if not evaluation.frozen else _("评估已签认冻结，显示的是签认时的结果。"),
          "success" if not evaluation.frozen else "info")
    return redirect(url_for("evaluation.show", plan_id=plan_id, year=year))


@bp.post("/<int:plan_id>/<int:year>/settings")
@login_required
def settings(plan_id: int, year: int):
    evaluation = _evaluation_or_404(plan_id, year)
    _require(services.can_manage(current_user))
    form = SettingsForm()
    return _act(evaluation, form, "settings_form", lambda: services.update_settings(
        evaluation, form.service_values(), actor=current_user, now=utcnow()), _("评估参数已保存并重新计算。"))


@bp.post("/<int:plan_id>/<int:year>/adjust")
@login_required
def adjust(plan_id: int, year: int):
    evaluation = _evaluation_or_404(plan_id, year)
    _require(services.can_manage(current_user))
    form = AdjustForm()
    dept = _department_or_404(evaluation, form.department.data)
    if dept is None:
        abort(404)
    return _act(evaluation, form, "adjust_form", lambda: services.adjust_score(
        evaluation, dept, points=form.points.data, reason=form.reason.data, actor=current_user, now=utcnow()),
        _("已调整 %(dept)s 的分数。", dept=dept.name))


@bp.post("/<int:plan_id>/<int:year>/rate")
@login_required
def rate(plan_id: int, year: int):
    evaluation = _evaluation_or_404(plan_id, year)
    _require(services.can_manage(current_user))
    form = RatingForm()
    task = db.session.get(Task, int(form.task.data)) if (form.task.data or "").isdigit() else None
    if task is None:
        abort(404)
    return _act(evaluation, form, "rating_form", lambda: services.rate_task(
        evaluation, task, score=form.score.data, comment=form.comment.data, actor=current_user, now=utcnow()),
        _("已保存任务 %(code)s 的评价。", code=task.code))


@bp.post("/<int:plan_id>/<int:year>/milestone")
@login_required
def milestone(plan_id: int, year: int):
    evaluation = _evaluation_or_404(plan_id, year)
    _require(services.can_manage(current_user))
    form = MilestoneForm()
    target = db.session.get(Target, int(form.target.data)) if (form.target.data or "").isdigit() else None
    if target is None:
        abort(404)
    return _act(evaluation, form, "milestone_form", lambda: services.set_milestone(
        evaluation, target, year=form.year.data, value=form.value.data, actor=current_user, now=utcnow()),
        _("已保存指标节点值。"))


@bp.post("/<int:plan_id>/<int:year>/sign-off")
@login_required
def sign_off(plan_id: int, year: int):
    evaluation = _evaluation_or_404(plan_id, year)
    _require(services.can_sign_off(current_user))
    form = SignOffForm()
    version = form.version.data if (form.version.data or "").isdigit() else None
    return _act(evaluation, form, "sign_off_form", lambda: services.sign_off(
        evaluation, actor=current_user, now=utcnow(), note=form.note.data, version=version),
        _("已签认，评估结果已冻结。"))


@bp.post("/<int:plan_id>/<int:year>/reopen")
@login_required
def reopen(plan_id: int, year: int):
    evaluation = _evaluation_or_404(plan_id, year)
    _require(services.can_manage(current_user))
    form = ReopenForm()
    return _act(evaluation, form, "reopen_form", lambda: services.reopen(
        evaluation, actor=current_user, now=utcnow(), reason=form.reason.data), _("评估已重新开启。"))


# -- files --------------------------------------------------------------------------------------------------

@bp.post("/<int:plan_id>/<int:year>/files")
@login_required
def generate(plan_id: int, year: int):
    """Generate (or, for a frozen evaluation, fetch the archived) PDF or workbook, then download it."""
    evaluation = _evaluation_or_404(plan_id, year)
    form = GenerateForm()
    if not form.validate() or form.kind.data not in MIMETYPES:
        abort(400)
    dept = _department_or_404(evaluation, form.department.data)
    _require(services.can_view_department(current_user, dept.id if dept else None))
    try:
        if form.kind.data == "xlsx":
            _require(services.can_view_all(current_user))
            archived = documents.generate_workbook(evaluation, actor=current_user, now=utcnow())
        else:
            archived = documents.generate_pdf(evaluation, department=dept, actor=current_user, now=utcnow())
    except PdfError as exc:
        db.session.rollback()
        current_app.logger.warning("evaluation PDF failed: %s", exc.message)
        flash(exc.message, "error")
        target = ("evaluation.department", {"department_id": dept.id}) if dept else ("evaluation.show", {})
        return render_template("evaluation/pdf_unavailable.html", message=exc.message,
                               back=url_for(target[0], plan_id=plan_id, year=year, **target[1])), (
            503 if isinstance(exc, PdfUnavailable) else 500)
    return redirect(url_for("evaluation.download", file_id=archived.id))


@bp.get("/files/<int:file_id>")
@login_required
def download(file_id: int):
    archived = db.get_or_404(EvaluationFile, file_id)
    _require(services.can_view_all(current_user) or (archived.department_id is not None and
                                                      services.can_view_department(current_user,
                                                                                   archived.department_id)))
    try:
        data = documents.read_file(archived)
    except FileNotFoundError:
        abort(404)
    response = current_app.response_class(data, mimetype=MIMETYPES[archived.kind])
    response.headers["Content-Disposition"] = content_disposition(archived.filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response
