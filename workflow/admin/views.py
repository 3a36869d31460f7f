"""The admin pages: users (list, create, edit, deactivate / reactivate, reset password) and departments.

Admins only; administration gives no review rights and the office has no admin rights."""
from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from forms.admin import (
    ActionForm,
    AliasForm,
    DepartmentForm,
    MergeForm,
    UserCreateForm,
    UserEditForm,
    UserFilterForm,
    department_choices,
)
from models import Department, Role, User
from workflow.admin import services
from workflow.clock import utcnow
from workflow.domain import DomainError, ValidationFailed
from workflow.errors import forbid_unless, refused
from workflow.extensions import db, login_manager

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def require_admin():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    forbid_unless(current_user.is_admin)
    return None


def _departments() -> list[Department]:
    return list(db.session.scalars(select(Department).order_by(Department.kind, Department.id)))


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


# -- users -----------------------------------------------------------------------------------------------

@bp.get("/users")
def users():
    departments = _departments()
    form = UserFilterForm(formdata=request.args)
    form.department.choices = department_choices(departments, _("全部单位"))
    dept_ids = {str(d.id): d.id for d in departments}
    filters = services.UserFilters(
        role=form.role.data if form.role.data in set(Role) else None,
        department_id=dept_ids.get(form.department.data or ""),
        q=(form.q.data or "")[:100],
        active={"1": True, "0": False}.get(form.active.data or ""),
    )
    rows = db.session.scalars(services.users_query(filters).options(selectinload(User.department))).all()
    return render_template("admin/users.html", form=form, users=rows,
                           action_form=ActionForm())


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    form = UserCreateForm()
    form.department.choices = department_choices(_departments(), _("（无）"))
    status = 200
    if form.is_submitted():
        status = 422
        if form.validate():
            try:
                user, password = services.create_account(
                    actor=current_user, now=utcnow(), username=form.username.data or "", role=form.role.data,
                    department_id=form.department_id(), display_name=form.display_name.data or "",
                    email=form.email.data or "", password=form.password.data or "")
            except ValidationFailed as exc:
                refused(exc, form)
            else:
                if form.password.data:
                    flash(_("已创建用户 %(u)s。", u=user.username), "success")
                    return redirect(url_for("admin.users"))
                return _no_store(make_response(render_template(
                    "admin/password.html", user=user, password=password, created=True)))
    return render_template("admin/user_form.html", form=form, user=None), status


@bp.route("/users/<id:user_id>", methods=["GET", "POST"])
def user_edit(user_id: int):
    user = db.get_or_404(User, user_id)
    form = UserEditForm(obj=None if request.method == "POST" else user)
    form.department.choices = department_choices(_departments(), _("（无）"))
    if request.method == "GET":
        form.department.data = str(user.department_id or "")
        form.email.data = user.email or ""
    status = 200
    if form.is_submitted():
        status = 422
        if form.validate():
            try:
                services.update_user(user, actor=current_user, now=utcnow(), role=form.role.data,
                                     department_id=form.department_id(), display_name=form.display_name.data or "",
                                     email=form.email.data or "")
            except ValidationFailed as exc:
                refused(exc, form)
            else:
                flash(_("已保存用户 %(u)s 的信息。", u=user.username), "success")
                return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=user,
                           locked=user.is_locked(utcnow())), status


def _user_action(user_id: int, action, success: str):
    """A button on the users list: check the CSRF token, run the service, flash the outcome (a refusal too, such
    as deactivating oneself), back to the list."""
    user = db.get_or_404(User, user_id)
    if not ActionForm().validate():
        abort(400)
    try:
        action(user)
    except DomainError as exc:
        refused(exc)
    else:
        flash(success % {"u": user.username}, "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<id:user_id>/deactivate")
def user_deactivate(user_id: int):
    return _user_action(user_id, lambda u: services.deactivate_user(u, actor=current_user, now=utcnow()),
                        _("已停用 %(u)s，该账号不能再登录。"))


@bp.post("/users/<id:user_id>/reactivate")
def user_reactivate(user_id: int):
    return _user_action(user_id, lambda u: services.reactivate_user(u, actor=current_user, now=utcnow()),
                        _("已启用 %(u)s。"))


@bp.post("/users/<id:user_id>/unlock")
def user_unlock(user_id: int):
    return _user_action(user_id, lambda u: services.unlock_user(u, actor=current_user, now=utcnow()),
                        _("已解除 %(u)s 的登录锁定。"))


@bp.post("/users/<id:user_id>/reset-password")
def user_reset_password(user_id: int):
    """The temporary password is shown on this one response only (not flashed into the session cookie)."""
    user = db.get_or_404(User, user_id)
    if not ActionForm().validate():
        abort(400)
    try:
        password = services.reset_password(user, actor=current_user, now=utcnow())
    except DomainError as exc:
        refused(exc)
        return redirect(url_for("admin.users"))
    return _no_store(make_response(render_template("admin/password.html", user=user, password=password,
                                                   created=False)))


# -- departments -----------------------------------------------------------------------------------------

def _render_departments(form: DepartmentForm, *, alias_errors: dict | None = None, merge_errors: dict | None = None,
                        status: int = 200):
    departments = db.session.scalars(
        select(Department).options(selectinload(Department.aliases)).order_by(Department.kind, Department.id)).all()
    user_counts = dict(db.session.execute(
        select(User.department_id, func.count()).where(User.department_id.is_not(None))
        .group_by(User.department_id)).all())
    return render_template("admin/departments.html", form=form, departments=departments, user_counts=user_counts,
                           alias_errors=alias_errors or {}, merge_errors=merge_errors or {}), status


@bp.route("/departments", methods=["GET", "POST"])
def departments():
    form = DepartmentForm()
    if form.is_submitted():
        if form.validate():
            try:
                department = services.create_department(actor=current_user, now=utcnow(), name=form.name.data or "",
                                                        kind=form.kind.data)
            except ValidationFailed as exc:
                refused(exc, form)
            else:
                flash(_("已新增单位：%(n)s。", n=department.name), "success")
                return redirect(url_for("admin.departments"))
        return _render_departments(form, status=422)
    return _render_departments(form)


@bp.post("/departments/<id:department_id>/aliases")
def department_alias(department_id: int):
    department = db.get_or_404(Department, department_id)
    form = AliasForm()
    try:
        if not form.validate():
            raise ValidationFailed({"alias": form.errors.get("alias", [_("别名有误。")])[0]})
        services.add_alias(department, form.alias.data or "", actor=current_user, now=utcnow())
    except ValidationFailed as exc:
        refused(exc)
        return _render_departments(DepartmentForm(formdata=None),
                                   alias_errors={department.id: (exc.errors.get("alias", exc.message),
                                                                 form.alias.data or "")},
                                   status=exc.status)
    flash(_("已为%(d)s添加别名“%(a)s”。", d=department.name, a=form.alias.data), "success")
    return redirect(url_for("admin.departments") + f"#department-{department.id}")



@bp.post("/departments/<id:department_id>/merge")
def department_merge(department_id: int):
    department = db.get_or_404(Department, department_id)
    form = MergeForm()
    name = department.name
    try:
        if not form.validate():
            raise ValidationFailed({"target": form.errors.get("target", [_("单位名称有误。")])[0]})
        target = services.merge_departments(department, form.target.data or "", actor=current_user, now=utcnow())
    except ValidationFailed as exc:
        return _render_departments(DepartmentForm(formdata=None),
                                   merge_errors={department.id: (exc.errors.get("target", exc.message),
                                                                 form.target.data or "")},
                                   status=exc.status)
    flash(_("已把%(d)s合并到%(t)s：任务、报告、账号和历史都已转入，原名保留为别名。", d=name, t=target.name), "success")
    return redirect(url_for("admin.departments") + f"#department-{target.id}")
