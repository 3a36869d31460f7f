"""The user's own pages: API tokens, language."""
from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField, SubmitField
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
