"""The admin pages' forms: users (filter, create, edit) and departments."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, SelectField, StringField, SubmitField
from wtforms.widgets import PasswordInput

from forms import BaseForm
from forms.review import max_length, select_choices
from models import DepartmentKind
from workflow.converters import parse_id
from workflow.labels import choices

ROLE_CHOICES = choices("role")
# A collective (one assignee for its members) comes from a plan's import; the admin form offers the single departments.
KIND_CHOICES = [c for c in choices("department_kind") if c[0] != DepartmentKind.COLLECTIVE]


def department_choices(departments, blank):
    return select_choices([("", blank)] + [(d.id, d.name) for d in departments])


class UserFilterForm(BaseForm):
    """A GET form: no CSRF token, so filtered lists can be bookmarked."""

    class Meta:
        csrf = False

    q = StringField(_l("搜索"), render_kw={"placeholder": _l("用户名、姓名或邮箱")})
    role = SelectField(_l("角色"), choices=select_choices([("", _l("全部角色")), *ROLE_CHOICES]), validate_choice=False)
    department = SelectField(_l("单位"), choices=[], validate_choice=False)
    active = SelectField(_l("状态"), choices=select_choices([("", _l("全部")), ("1", _l("启用")), ("0", _l("已停用"))]),
                         validate_choice=False)


class _ProfileFields(BaseForm):
    display_name = StringField(_l("姓名"), validators=[max_length(120)])
    email = StringField(_l("电子邮箱"), validators=[max_length(200)], render_kw={"type": "email"})
    role = SelectField(_l("角色"), choices=select_choices(ROLE_CHOICES), validate_choice=False)
    department = SelectField(_l("所属单位"), choices=[], validate_choice=False)

    def department_id(self) -> int | None:
        return parse_id(self.department.data)


class UserCreateForm(_ProfileFields):
    username = StringField(_l("用户名"), validators=[max_length(80)])
    # Kept on an error like every other field: the admin types it to hand it over.
    password = PasswordField(_l("初始密码"), widget=PasswordInput(hide_value=False), validators=[max_length(200)])
    submit = SubmitField(_l("创建用户"))


class UserEditForm(_ProfileFields):
    submit = SubmitField(_l("保存"))


class DepartmentForm(BaseForm):
    name = StringField(_l("单位名称"), validators=[max_length(200)])
    kind = SelectField(_l("类别"), choices=select_choices(KIND_CHOICES), default="municipal", validate_choice=False)
    submit = SubmitField(_l("新增单位"))


class AliasForm(BaseForm):
    alias = StringField(_l("别名"), validators=[max_length(200)])
    submit = SubmitField(_l("添加别名"))


class MergeForm(BaseForm):
    target = StringField(_l("合并到"), validators=[max_length(200)])
    submit = SubmitField(_l("合并"))


class ActionForm(BaseForm):
    """The buttons on the users list (deactivate, reactivate, reset password): just the CSRF token."""
