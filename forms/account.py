"""The user's own pages: API tokens, language."""
from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from forms import BaseForm


class TokenForm(BaseForm):
    name = StringField(_l("令牌名称"), validators=[Length(max=100, message=_l("名称不能超过 100 个字。"))],
                       render_kw={"placeholder": _l("例如：OA 平台对接")})
    create = SubmitField(_l("创建令牌"))


class LocaleForm(BaseForm):
    locale = SelectField(_l("界面语言"), choices=[SelectChoice("zh_Hans_CN", "中文"), SelectChoice("en", "English")])
    save = SubmitField(_l("保存"))


class PasswordChangeForm(BaseForm):
    current_password = PasswordField(_l("当前密码"), render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(_l("新密码"), render_kw={"autocomplete": "new-password"})
    confirm_password = PasswordField(_l("再次输入新密码"), render_kw={"autocomplete": "new-password"})
    change = SubmitField(_l("修改密码"))
