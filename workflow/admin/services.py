"""Accounts and departments: created by the demo loader, the CLI and the admin pages through the same functions.

The admin pages' operations take the acting admin and the time, check fields into ValidationFailed errors and
write an audit row with the change. Administration gives no review rights: that is the office's role."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import Select, delete, func, or_, select, update

from models import Assignment, Department, DepartmentAlias, DepartmentKind, DepartmentScore, Role, User
from models.audit import record
from models.base import contains
from models.org import department_member
from workflow.auth.passwords import password_problem
from workflow.domain import PermissionDenied, ValidationFailed, require
from workflow.extensions import db

USERNAME_RE = re.compile(r"[A-Za-z0-9_.\-]{3,80}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"  # no 0/O, 1/l/I
TEMP_PASSWORD_LENGTH = 12


class AccountError(ValueError):
    pass


def create_user(username: str, password: str, role: str, *, now: datetime, department: Department | None = None,
                display_name: str = "", email: str | None = None) -> User:
    """Add (not commit) a user; the caller commits with whatever else belongs to the same change."""
    if role not in set(Role):
        raise AccountError(_("未知角色：%(role)s", role=role))
    if role in (Role.LIAISON, Role.DEPT_HEAD) and department is None:
        raise AccountError(_("联络员和单位负责人必须属于一个单位。"))
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(_("用户名已存在：%(username)s", username=username))
    user = User(username=username, role=role, department=department, display_name=display_name,
                email=email, created_at=now)
    user.set_password(password)
    db.session.add(user)
    return user


def generate_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(TEMP_PASSWORD_LENGTH))


def _require_admin(actor: User) -> None:
    require(actor is not None and actor.is_admin, _("只有系统管理员可以管理用户和单位。"))


def _check_profile(errors: dict[str, str], *, role: str, department_id: int | None, display_name: str,
                   email: str) -> Department | None:
    """Shared checks of the create and edit forms; returns the department (or None)."""
    if role not in set(Role):
        errors["role"] = _("请选择角色。")
    department = db.session.get(Department, department_id) if department_id else None
    if department_id and department is None:
        errors["department"] = _("所选单位不存在。")
    elif role in (Role.LIAISON, Role.DEPT_HEAD) and department is None:
        errors["department"] = _("联络员和单位负责人必须选择所属单位。")
    if len(display_name) > 120:
        errors["display_name"] = _("姓名不能超过 120 字。")
    if email and (len(email) > 200 or not EMAIL_RE.fullmatch(email)):
        errors["email"] = _("电子邮箱格式不对。")
    return department


def create_account(*, actor: User, now: datetime, username: str, role: str, department_id: int | None = None,
                   display_name: str = "", email: str = "", password: str = "") -> tuple[User, str]:
    """Create a user from the admin form; returns (user, the password to hand over).

    A blank password means "generate one": it is returned once and never stored in clear."""
    _require_admin(actor)
    username, display_name, email = (username or "").strip(), (display_name or "").strip(), (email or "").strip()
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = _("请填写用户名。")
    elif not USERNAME_RE.fullmatch(username):
        errors["username"] = _("用户名为 3–80 位字母、数字或 _ . -。")
    elif db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
        errors["username"] = _("用户名“%(username)s”已被使用。", username=username)
    department = _check_profile(errors, role=role, department_id=department_id, display_name=display_name,
                                email=email)
    if password and (problem := password_problem(password, role, (username, display_name))):
        errors["password"] = _("初始%(problem)s留空则由系统生成。", problem=problem)
    if errors:
        raise ValidationFailed(errors)
    password = password or generate_password()
    try:
        user = create_user(username, password, role, now=now, department=department, display_name=display_name,
                           email=email or None)
    except AccountError as exc:  # a race with another admin; the checks above cover the rest
        raise ValidationFailed({"username": str(exc)}) from exc
    db.session.flush()
    record("user.create", user, actor=actor, now=now, to_state="active",
           data={"username": username, "role": role, "department": department.name if department else None})
    db.session.commit()
    return user, password


def update_user(user: User, *, actor: User, now: datetime, role: str, department_id: int | None,
                display_name: str = "", email: str = "") -> User:
    """Change a user's profile, role or department; the audit row lists what changed."""
    _require_admin(actor)
    display_name, email = (display_name or "").strip(), (email or "").strip()
    errors: dict[str, str] = {}
    department = _check_profile(errors, role=role, department_id=department_id, display_name=display_name,
                                email=email)
    if user.id == actor.id and role != Role.ADMIN and "role" not in errors:
        errors["role"] = _("不能取消自己的管理员角色，请由其他管理员操作。")
    if errors:
        raise ValidationFailed(errors)
    before = {"role": user.role, "department": user.department.name if user.department else None,
              "display_name": user.display_name, "email": user.email or ""}
    after = {"role": role, "department": department.name if department else None, "display_name": display_name,
             "email": email}
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if not changes:
        return user
    user.role, user.department, user.display_name, user.email = role, department, display_name, email or None
    record("user.update", user, actor=actor, now=now, data={"changes": changes})
    db.session.commit()
    return user


def deactivate_user(user: User, *, actor: User, now: datetime, comment: str = "") -> User:
    """A deactivated user cannot log in; everything they did stays attributed to them."""
    _require_admin(actor)
    if user.id == actor.id:
        raise PermissionDenied(_("不能停用自己的账号。"))
    if not user.active:
        return user
    user.active = False
    user.end_sessions()
    record("user.deactivate", user, actor=actor, now=now, comment=comment, from_state="active", to_state="inactive")
    db.session.commit()
    return user


def reactivate_user(user: User, *, actor: User, now: datetime) -> User:
    _require_admin(actor)
    if user.active:
        return user
    user.active = True
    record("user.reactivate", user, actor=actor, now=now, from_state="inactive", to_state="active")
    db.session.commit()
    return user


def unlock_user(user: User, *, actor: User, now: datetime) -> User:
    """Lift a lockout caused by wrong passwords before it runs out."""
    _require_admin(actor)
    user.failed_logins, user.locked_until = 0, None
    record("user.unlock", user, actor=actor, now=now)
    db.session.commit()
    return user


def reset_password(user: User, *, actor: User, now: datetime) -> str:
    """Set a generated temporary password and return it (shown once to the admin, never stored in clear)."""
    _require_admin(actor)
    password = generate_password()
    user.set_password(password)
    record("user.reset_password", user, actor=actor, now=now)
    db.session.commit()
    return password


# -- queries ---------------------------------------------------------------------------------------------

@dataclass
class UserFilters:
    role: str | None = None
    department_id: int | None = None
    q: str = ""
    active: bool | None = None


def users_query(f: UserFilters) -> Select:
    q = select(User).order_by(User.department_id.is_not(None), User.department_id, User.role, User.username)
    if f.role:
        q = q.where(User.role == f.role)
    if f.department_id:
        q = q.where(User.department_id == f.department_id)
    if f.active is not None:
        q = q.where(User.active.is_(f.active))
    text = (f.q or "").strip()
    if text:
        q = q.where(or_(contains(User.username, text), contains(User.display_name, text), contains(User.email, text)))
    return q


# -- departments -----------------------------------------------------------------------------------------

def create_department(*, actor: User, now: datetime, name: str, kind: str = DepartmentKind.MUNICIPAL) -> Department:
    _require_admin(actor)
    name = (name or "").strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = _("请填写单位名称。")
    elif len(name) > 200:
        errors["name"] = _("单位名称不能超过 200 字。")
    else:
        existing = Department.lookup(name)
        if existing is not None:
            errors["name"] = (_("“%(name)s”已存在。", name=name) if existing.name == name
                              else _("“%(name)s”已是%(other)s的别名。", name=name, other=existing.name))
    if kind not in set(DepartmentKind):
        errors["kind"] = _("请选择单位类别。")
    if errors:
        raise ValidationFailed(errors)
    department = Department(name=name, kind=kind)
    db.session.add(department)
    db.session.flush()
    record("department.create", department, actor=actor, now=now, data={"name": name, "kind": kind})
    db.session.commit()
    return department


def add_alias(department: Department, alias: str, *, actor: User, now: datetime) -> DepartmentAlias:
    """Record another name of a department (e.g. the name a plan uses for it)."""
    _require_admin(actor)
    alias = (alias or "").strip()
    if not alias:
        raise ValidationFailed({"alias": _("请填写别名。")})
    if len(alias) > 200:
        raise ValidationFailed({"alias": _("别名不能超过 200 字。")})
    existing = Department.lookup(alias)
    if existing is not None:
        raise ValidationFailed({"alias": _("“%(alias)s”已用于%(name)s。", alias=alias, name=existing.name)})
    row = DepartmentAlias(department=department, name=alias)
    db.session.add(row)
    record("department.add_alias", department, actor=actor, now=now, data={"alias": alias})
    db.session.commit()
    return row


def merge_departments(source: Department, target_name: str, *, actor: User, now: datetime) -> Department:
    """Merge a department into the one it duplicates (two plans spelled one bureau two ways): every row that
    names the source — assignments, reports, contributions, accounts, escalations, scores, whatever a later
    table adds — is moved to the target in one transaction, the source's names become the target's aliases, and
    the source row goes. Refused while both hold a part in one task or a score in one evaluation (a report each
    for one period cannot become one without someone choosing)."""
    _require_admin(actor)
    target = Department.lookup((target_name or "").strip())
    if target is None:
        raise ValidationFailed({"target": _("没有名为“%(name)s”的单位。", name=target_name)})
    if target.id == source.id:
        raise ValidationFailed({"target": _("不能把单位合并到它自己。")})
    shared_tasks = db.session.scalars(
        select(Assignment.task_id).where(Assignment.department_id == source.id)
        .intersect(select(Assignment.task_id).where(Assignment.department_id == target.id))).all()
    shared_scores = db.session.scalars(
        select(DepartmentScore.evaluation_id).where(DepartmentScore.department_id == source.id)
        .intersect(select(DepartmentScore.evaluation_id).where(DepartmentScore.department_id == target.id))).all()
    if shared_tasks or shared_scores:
        raise ValidationFailed({"target": _("两个单位在 %(n)d 项任务或评估中都有分工，不能自动合并：请先改派其中一方。",
                                            n=len(shared_tasks) + len(shared_scores))})
    names = [source.name, *source.alias_names]
    members = department_member.c
    for mine, other in ((members.member_id, members.collective_id), (members.collective_id, members.member_id)):
        taken = select(other).where(mine == target.id).scalar_subquery()
        db.session.execute(delete(department_member).where(mine == source.id, other.in_(taken)))
    for table in db.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == Department.__tablename__ and table.name != DepartmentAlias.__tablename__:
                db.session.execute(update(table).where(fk.parent == source.id).values({fk.parent.name: target.id}))
    db.session.execute(delete(DepartmentAlias).where(DepartmentAlias.department_id == source.id))
    db.session.execute(delete(department_member).where((members.member_id == target.id)
                                                       & (members.collective_id == target.id)))
    db.session.execute(delete(Department).where(Department.id == source.id))
    for name in names:
        db.session.add(DepartmentAlias(department_id=target.id, name=name))
    record("department.merge", target, actor=actor, now=now, data={"merged": names})
    db.session.commit()
    db.session.expire_all()
    return target
