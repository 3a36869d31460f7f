from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms import apply_errors
from forms.plans import MembersForm, PlanConfirmForm, PlanUploadForm
from models import Department
from workflow.clock import utcnow
from workflow.domain import Conflict, ValidationFailed
from workflow.errors import forbid_unless
from workflow.extensions import db
from workflow.plans import services
from workflow.plans.importer import PlanImportError, find_plan_by_sha
from workflow.plans.parsing import PlanParseError, read_plan_bytes
from workflow.plans.registry import suggested_matches
from workflow.plans.review import corrections_from_form, review_rows, revision_rows

bp = Blueprint("plans", __name__, url_prefix="/plans")


@bp.route("/")
@login_required
def index():
    forbid_unless(current_user.sees_everything)
    return render_template("plans/index.html", plans=services.list_plans())


@bp.route("/upload", methods=["GET", "POST"])
@login_required
def upload():
    forbid_unless(current_user.can_import_plans())
    form = PlanUploadForm()
    form.revises.choices = services.revisable_choices()
    if request.method == "GET" and request.args.get("revises", "").isdigit():
        form.revises.data = int(request.args["revises"])
    if form.validate_on_submit():
        storage = form.file.data
        data = storage.read()
        try:
            key = services.stage_upload(data, storage.filename or "plan.txt", revises=form.revises.data or None)
        except PlanParseError as exc:
            form.file.errors.append(str(exc))
        except PlanImportError as exc:
            form.revises.errors.append(str(exc))
        else:
            return redirect(url_for("plans.review", key=key))
    return render_template("plans/upload.html", form=form)


@bp.route("/review/<key>", methods=["GET", "POST"])
@login_required
def review(key: str):
    forbid_unless(current_user.can_import_plans())
    staged = services.load_staged(key)
    if staged is None:
        flash(_("上传的文件已失效，请重新上传。"), "warning")
        return redirect(url_for("plans.upload"))
    data, filename = staged
    draft = services.parse_upload(data, filename)
    revising = services.staged_revision(key)       # (plan, revision number) for a revised plan, else None
    form = PlanConfirmForm()
    errors: dict[str, str] = {}
    corrections = None
    values = request.form if request.method == "POST" else None
    duplicate = find_plan_by_sha(key)
    if form.validate_on_submit() and duplicate is None:
        corrections, errors = corrections_from_form(request.form, draft)
        if not errors:
            try:
                if revising:
                    revision, diff = services.confirm_revision(
                        key, corrections=corrections, actor=current_user, now=utcnow(),
                        unrelated_ok=bool(request.form.get("unrelated_ok")))
                else:
                    plan = services.confirm_import(key, corrections=corrections, actor=current_user, now=utcnow())
            except ValidationFailed as exc:
                errors = exc.errors
            except (PlanImportError, PlanParseError, Conflict) as exc:
                flash(str(exc), "error")
            else:
                if revising:
                    flash(_("方案已修订（第 %(n)d 次）：新增 %(added)d 项，修改 %(changed)d 项，撤销 %(removed)d 项，"
                            "未变 %(unchanged)d 项。", n=revision.number, **diff.counts), "success")
                    return redirect(url_for("plans.show", plan_id=revision.plan_id))
                flash(_("方案已导入：%(n)d 项任务。", n=len(plan.tasks)), "success")
                return redirect(url_for("plans.show", plan_id=plan.id))
    diff = (services.revision_preview(revising[0], draft, None if errors else corrections)
            if revising else None)
    return render_template(
        "plans/review.html", form=form, draft=draft, filename=filename, key=key,
        source=read_plan_bytes(data, filename), errors=errors,
        rows=review_rows(draft, values, suggested_matches([d.name for d in draft.departments]), diff),
        duplicate=duplicate, revises=revising[0] if revising else None,
        revision=revision_rows(diff) if diff else None,
    )


@bp.route("/<id:plan_id>")
@login_required
def show(plan_id: int):
    plan = services.load_plan(plan_id) or abort(404)
    forbid_unless(plan.visible_to(current_user))
    return render_template("plans/show.html", plan=plan, outline=services.outline_tree(plan))


@bp.route("/departments")
@login_required
def departments():
    forbid_unless(current_user.sees_everything)
    return render_template("plans/departments.html", rows=services.departments_overview())


@bp.route("/departments/<id:department_id>", methods=["GET", "POST"])
@login_required
def department(department_id: int):
    dept = db.session.get(Department, department_id) or abort(404)
    forbid_unless(dept.visible_to(current_user))
    form = MembersForm(data={"members": "、".join(m.name for m in dept.members)}) if dept.is_collective else None
    status = 200
    if request.method == "POST":
        forbid_unless(form is not None and current_user.can_import_plans())
        if form.validate_on_submit():
            try:
                services.set_members(dept, form.members.data or "", actor=current_user, now=utcnow())
            except ValidationFailed as exc:
                apply_errors(form, exc.errors)
                status = 422
            else:
                flash(_("已保存成员单位。"), "success")
                return redirect(url_for("plans.department", department_id=dept.id), 303)
    return render_template("plans/department.html", department=dept, items=services.department_tasks(dept),
                           members_form=form), status
