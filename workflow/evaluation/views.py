"""年度评估 pages: the office computes, sets, rates, adjusts and reopens; a leader signs off; office, leaders and
admins read everything; a department's own users read and download only their department's result.

Every POST validates its form, calls one service, flashes and redirects; a service's field errors come back on
the form (422), a conflict (frozen, stale version) as a message above the re-shown form (409).
"""
from __future__ import annotations

import unicodedata

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

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
from models import Department, Plan, PlanStatus, Target, Task, User
from models.evaluation import (
    DepartmentScore,
    Evaluation,
    EvaluationFile,
    ScoreAdjustment,
    TargetMilestone,
    TaskRating,
)
from pdf.render import FONT_MESSAGE, PdfError, PdfUnavailable
from workflow.clock import local, utcnow
from workflow.converters import parse_id, parse_version
from workflow.domain import Conflict, DomainError, ValidationFailed
from workflow.errors import forbid_unless, refused, require_valid
from workflow.evaluation import archive, background, documents, scoring, services
from workflow.extensions import db
from workflow.files import content_disposition
from workflow.labels import names
from workflow.security import limit

bp = Blueprint("evaluation", __name__, url_prefix="/evaluation")

MIMETYPES = archive.MIMETYPES


@bp.context_processor
def _helpers() -> dict:
    """The pages share the PDF's formatting; the names of the codes in the scores come from the registry."""
    return {"fmt": documents.fmt, "signed": documents.signed, "part_names": names("score_part"),
            "grade_names": names("grade"), "role_names": names("assignment_role")}


# -- finding ------------------------------------------------------------------------------------------------

def _evaluation_or_404(plan_id: int, year: int) -> Evaluation:
    if not services.MIN_YEAR <= year <= services.MAX_YEAR:
        abort(404)
    evaluation = services.find_evaluation(db.get_or_404(Plan, plan_id), year)
    if evaluation is None:
        abort(404)
    return evaluation


def _department_or_404(evaluation: Evaluation, department_id) -> Department | None:
    """The evaluated department a form or URL names (None when it names none); 404 when it is not evaluated."""
    if department_id in (None, "", 0, "0"):
        return None
    wanted = parse_id(department_id)
    score = next((s for s in evaluation.scores if s.department_id == wanted), None) if wanted else None
    if score is None:
        abort(404)
    return score.department


# -- pages --------------------------------------------------------------------------------------------------

def _index_rows(this_year: int) -> list[dict]:
    """Office, leaders, admins: every evaluation, plus this year's for each published plan not yet computed.
    A department's users: the evaluations their department is scored in, with its own score only."""
    evaluations = db.session.scalars(
        select(Evaluation).options(selectinload(Evaluation.plan), selectinload(Evaluation.scores),
                                   selectinload(Evaluation.signed_off_by))
        .order_by(Evaluation.year.desc(), Evaluation.plan_id)).all()
    if not current_user.sees_everything:
        rows = []
        for e in evaluations:
            own = next((s for s in e.scores if s.department_id == current_user.department_id), None)
            if own is not None and current_user.department_id is not None:
                rows.append({"plan": e.plan, "year": e.year, "evaluation": e, "own": own})
        return rows
    rows = [{"plan": e.plan, "year": e.year, "evaluation": e, "own": None} for e in evaluations]
    found = {(e.plan_id, e.year) for e in evaluations}
    for plan in _published_plans():
        if (plan.id, this_year) not in found:
            rows.append({"plan": plan, "year": this_year, "evaluation": None, "own": None})
    rows.sort(key=lambda r: (-r["year"], r["plan"].id))
    return rows


def _published_plans() -> list[Plan]:
    return list(db.session.scalars(select(Plan).where(Plan.status == PlanStatus.PUBLISHED).order_by(Plan.id)))


def _render_index(form: OpenForm | None = None, status: int = 200):
    this_year = local(utcnow()).year
    plans = _published_plans()
    if form is None:
        form = OpenForm(formdata=None)
        form.year.data = str(this_year)
    form.plan.choices = select_choices((p.id, p.title) for p in plans)
    return render_template("evaluation/index.html", rows=_index_rows(this_year), form=form, plans=plans,
                           this_year=this_year, can_manage=current_user.can_manage_evaluations(),
                           can_view_all=current_user.sees_everything), status


@bp.get("/")
@login_required
def index():
    forbid_unless(current_user.sees_everything or current_user.department_id is not None)
    return _render_index()[0]


@bp.post("/open")
@login_required
def open_evaluation():
    """Open (create if needed) and compute a plan's evaluation for a year; errors come back on the form."""
    forbid_unless(current_user.can_manage_evaluations())
    form = OpenForm()
    plan_id = parse_id(form.plan.data)
    plan = db.session.get(Plan, plan_id) if plan_id else None
    year_text = unicodedata.normalize("NFKC", form.year.data or "").strip()    # ２０２６ is 2026
    year = int(year_text) if year_text.isascii() and year_text.isdigit() and len(year_text) <= 6 else 0
    try:
        require_valid(form)
        if plan is None:
            raise ValidationFailed({"plan": _("请选择实施方案。")})
        evaluation = services.get_or_create(plan, year, now=utcnow())
        services.compute_evaluation(evaluation, actor=current_user, now=utcnow())
    except DomainError as exc:
        refused(exc, form)
        return _render_index(form, exc.status)
    flash(_("已计算 %(plan)s %(year)s 年度评估（草稿）。", plan=plan.title, year=year) if not evaluation.frozen
          else _("该年度评估已签认冻结，显示的是签认时的结果。"), "success" if not evaluation.frozen else "info")
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
    tasks = db.session.scalars(select(Task).where(Task.plan_id == evaluation.plan_id).order_by(Task.position)
                               .options(selectinload(Task.targets))).all()
    rated = {r.task_id: r.score for r in evaluation.ratings}
    forms["rating_form"].task.choices = select_choices(
        (t.id, f"{t.code} {_short(t.title, 24)}" + (_("（已评 %(n)s 分）", n=rated[t.id]) if t.id in rated else ""))
        for t in tasks)
    forms["milestone_form"].target.choices = select_choices(
        (t.id, f"{task.code} {_short(t.metric, 16)} {t.label}（{t.year or '—'}）")
        for task in tasks for t in task.targets)
    return forms


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n] + "…"


def _preload(evaluation: Evaluation) -> None:
    """The page's rows in a few queries (scores with their departments, ratings, adjustments), not one each."""
    db.session.scalars(select(Evaluation).where(Evaluation.id == evaluation.id).options(
        selectinload(Evaluation.scores).selectinload(DepartmentScore.department),
        selectinload(Evaluation.ratings).selectinload(TaskRating.task),
        selectinload(Evaluation.ratings).selectinload(TaskRating.rated_by),
        selectinload(Evaluation.adjustments).selectinload(ScoreAdjustment.department),
        selectinload(Evaluation.adjustments).selectinload(ScoreAdjustment.created_by),
        selectinload(Evaluation.computed_by), selectinload(Evaluation.signed_off_by),
    ).execution_options(populate_existing=True)).one()


def _with_authors(files: list[EvaluationFile]) -> list[EvaluationFile]:
    """The files with their authors loaded in one query."""
    ids = {f.created_by_id for f in files if f.created_by_id}
    authors = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    for f in files:
        set_committed_value(f, "created_by", authors.get(f.created_by_id))
    return files


def _milestones(evaluation: Evaluation) -> list[TargetMilestone]:
    """The plan's milestones, with each one's target and task loaded alongside."""
    return list(db.session.scalars(
        select(TargetMilestone).join(Target).where(Target.plan_id == evaluation.plan_id)
        .options(selectinload(TargetMilestone.target).selectinload(Target.task))
        .order_by(TargetMilestone.target_id, TargetMilestone.year)))


def _render_show(evaluation: Evaluation, status: int = 200, **given):
    _preload(evaluation)
    grades = {g: sum(1 for s in evaluation.scores if s.grade == g) for g in scoring.GRADES}
    return render_template(
        "evaluation/show.html", evaluation=evaluation, settings=scoring.effective_settings(evaluation),
        grades=grades, parts=scoring.PARTS, groups=documents.ranking_groups(evaluation.scores),
        ungrouped=[s.department.name for s in evaluation.scores if s.group_name == scoring.UNGROUPED],
        open_periods=services.open_periods(evaluation, local(utcnow()).date()),
        files=_with_authors(archive.visible_files(evaluation, current_user)), ratings=evaluation.ratings,
        milestones=_milestones(evaluation),
        can_manage=current_user.can_manage_evaluations(), can_sign_off=current_user.can_sign_off_evaluations(),
        **_forms(evaluation, **given)), status


@bp.get("/<id:plan_id>/<int:year>/")
@login_required
def show(plan_id: int, year: int):
    evaluation = _evaluation_or_404(plan_id, year)
    if not current_user.sees_everything:
        department = current_user.department_id
        forbid_unless(any(s.department_id == department for s in evaluation.scores))
        return redirect(url_for("evaluation.department", plan_id=plan_id, year=year, department_id=department))
    return _render_show(evaluation)[0]


@bp.get("/<id:plan_id>/<int:year>/departments/<id:department_id>")
@login_required
def department(plan_id: int, year: int, department_id: int):
    evaluation = _evaluation_or_404(plan_id, year)
    dept = _department_or_404(evaluation, department_id)
    forbid_unless(dept.visible_to(current_user))
    score = services.score_of(evaluation, dept)
    return render_template("evaluation/department.html", evaluation=evaluation, score=score,
                           group_size=sum(1 for s in evaluation.scores if s.group_name == score.group_name),
                           settings=scoring.effective_settings(evaluation), parts=scoring.PARTS,
                           files=_with_authors([f for f in archive.visible_files(evaluation, current_user)
                                                if f.department_id == dept.id]),
                           can_view_all=current_user.sees_everything, generate_form=GenerateForm(formdata=None))


# -- the office's and the leader's actions ----------------------------------------------------------------

def _form_errors(form) -> dict[str, str]:
    return {name: str(errors[0]) for name, errors in form.errors.items()}


def _act(evaluation: Evaluation, form, form_key: str, action, success: str):
    """Validate, call the service, flash, redirect. Field errors re-render the page with the submitted form
    (422); a conflict (frozen, stale version, a concurrent change) re-renders it with the message (409), so
    nothing typed is lost."""
    try:
        if not form.validate():
            raise ValidationFailed(_form_errors(form))
        action()
    except ValidationFailed as exc:
        errors = refused(exc)
        apply_errors(form, form.field_errors(errors) if hasattr(form, "field_errors") else errors)
        return _render_show(evaluation, exc.status, **{form_key: form})
    except (DomainError, StaleDataError) as exc:
        if isinstance(exc, StaleDataError):
            exc = Conflict(_("评估刚被其他人修改，请核对后重试。"))
        refused(exc)
        if form_key == "sign_off_form":   # sign against what is shown now
            form.version.data = str(evaluation.version)
        return _render_show(evaluation, exc.status, **{form_key: form})
    flash(success, "success")
    return redirect(url_for("evaluation.show", plan_id=evaluation.plan_id, year=evaluation.year))


@bp.post("/<id:plan_id>/<int:year>/compute")
@login_required
def compute(plan_id: int, year: int):
    evaluation = _evaluation_or_404(plan_id, year)
    forbid_unless(current_user.can_manage_evaluations())
    try:
        services.compute_evaluation(evaluation, actor=current_user, now=utcnow())
    except StaleDataError:
        db.session.rollback()
        flash(_("评估刚被其他人修改，请核对后重试。"), "error")
        return redirect(url_for("evaluation.show", plan_id=plan_id, year=year))
    flash(_("已按当前数据重新计算。") if not evaluation.frozen else _("评估已签认冻结，显示的是签认时的结果。"),
          "success" if not evaluation.frozen else "info")
    return redirect(url_for("evaluation.show", plan_id=plan_id, year=year))


@bp.post("/<id:plan_id>/<int:year>/settings")
@login_required
def settings(plan_id: int, year: int):
    evaluation = _evaluation_or_404(plan_id, year)
    forbid_unless(current_user.can_manage_evaluations())
    form = SettingsForm()
    return _act(evaluation, form, "settings_form", lambda: services.update_settings(
        evaluation, form.service_values(), actor=current_user, now=utcnow()), _("评估参数已保存并重新计算。"))


@bp.post("/<id:plan_id>/<int:year>/adjust")
@login_required
def adjust(plan_id: int, year: int):
    evaluation = _evaluation_or_404(plan_id, year)
    forbid_unless(current_user.can_manage_evaluations())
    form = AdjustForm()
    dept = _department_or_404(evaluation, form.department.data)
    if dept is None:
        abort(404)
    return _act(evaluation, form, "adjust_form", lambda: services.adjust_score(
        evaluation, dept, points=form.points.data, reason=form.reason.data, actor=current_user, now=utcnow()),
        _("已调整 %(dept)s 的分数。", dept=dept.name))


@bp.post("/<id:plan_id>/<int:year>/rate")
@login_required
def rate(plan_id: int, year: int):
    evaluation = _evaluation_or_404(plan_id, year)
    forbid_unless(current_user.can_manage_evaluations())
    form = RatingForm()
    task = db.session.get(Task, parse_id(form.task.data)) if parse_id(form.task.data) else None
    if task is None or task.plan_id != evaluation.plan_id:
        abort(404)
    return _act(evaluation, form, "rating_form", lambda: services.rate_task(
        evaluation, task, score=form.score.data, comment=form.comment.data, actor=current_user, now=utcnow()),
        _("已保存任务 %(code)s 的评价。", code=task.code))


@bp.post("/<id:plan_id>/<int:year>/milestone")
@login_required
def milestone(plan_id: int, year: int):
    evaluation = _evaluation_or_404(plan_id, year)
    forbid_unless(current_user.can_manage_evaluations())
    form = MilestoneForm()
    target = db.session.get(Target, parse_id(form.target.data)) if parse_id(form.target.data) else None
    if target is None or target.plan_id != evaluation.plan_id:
        abort(404)
    return _act(evaluation, form, "milestone_form", lambda: services.set_milestone(
        evaluation, target, year=form.year.data, value=form.value.data, actor=current_user, now=utcnow()),
        _("已保存指标节点值。"))


@bp.post("/<id:plan_id>/<int:year>/sign-off")
@login_required
def sign_off(plan_id: int, year: int):
    evaluation = _evaluation_or_404(plan_id, year)
    forbid_unless(current_user.can_sign_off_evaluations())
    form = SignOffForm()
    version = parse_version(form.version.data)

    def confirmed_sign_off():
        if not form.confirm.data:   # the leader ticks the confirmation: no sign-off by a stray click
            raise ValidationFailed({"confirm": _("请先勾选确认：签认后评估结果冻结，不能再修改。")})
        services.sign_off(evaluation, actor=current_user, now=utcnow(), note=form.note.data, version=version)

    return _act(evaluation, form, "sign_off_form", confirmed_sign_off, _("已签认，评估结果已冻结。"))


@bp.post("/<id:plan_id>/<int:year>/reopen")
@login_required
def reopen(plan_id: int, year: int):
    evaluation = _evaluation_or_404(plan_id, year)
    forbid_unless(current_user.can_manage_evaluations())
    form = ReopenForm()
    return _act(evaluation, form, "reopen_form", lambda: services.reopen(
        evaluation, actor=current_user, now=utcnow(), reason=form.reason.data), _("评估已重新开启。"))


# -- files --------------------------------------------------------------------------------------------------

@bp.post("/<id:plan_id>/<int:year>/files")
@login_required
@limit("PDF_RATE_LIMIT")
def generate(plan_id: int, year: int):
    """Generate (or, for a frozen evaluation, fetch the archived) PDF or workbook, then download it; a big plan's
    file is queued for the worker instead and the job's progress page shown."""
    evaluation = _evaluation_or_404(plan_id, year)
    form = GenerateForm()
    if not form.validate() or form.kind.data not in MIMETYPES:
        abort(400)
    dept = _department_or_404(evaluation, form.department.data)
    forbid_unless(dept.visible_to(current_user) if dept else current_user.sees_everything)
    if form.kind.data == "xlsx":
        forbid_unless(current_user.sees_everything)
        dept = None
    if background.runs_in_background(evaluation, form.kind.data):
        job = background.request_file(evaluation, form.kind.data, department=dept, actor=current_user, now=utcnow())
        return redirect(url_for("jobs.show", job_id=job.id))
    try:
        if form.kind.data == "xlsx":
            archived = archive.generate_workbook(evaluation, actor=current_user, now=utcnow())
        else:
            archived = archive.generate_pdf(evaluation, department=dept, actor=current_user, now=utcnow())
    except PdfError as exc:
        db.session.rollback()
        current_app.logger.warning("evaluation PDF failed: %s", exc.message)
        target = ("evaluation.department", {"department_id": dept.id}) if dept else ("evaluation.show", {})
        return render_template("evaluation/pdf_unavailable.html", message=exc.message,
                               font_missing=exc.message == FONT_MESSAGE,
                               back=url_for(target[0], plan_id=plan_id, year=year, **target[1])), (
            503 if isinstance(exc, PdfUnavailable) else 500)
    return redirect(url_for("evaluation.download", file_id=archived.id))


@bp.get("/files/<id:file_id>")
@login_required
def download(file_id: int):
    archived = db.get_or_404(EvaluationFile, file_id)
    forbid_unless(archived.can_view(current_user))
    try:
        response = archive.send_file(archived)
    except FileNotFoundError:
        abort(404)
    response.headers["Content-Disposition"] = content_disposition(archived.filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response
