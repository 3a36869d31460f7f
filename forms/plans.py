from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import SubmitField, TextAreaField

from forms import BaseForm


class PlanUploadForm(BaseForm):
    file = FileField(_l("方案文件（.txt、.docx 或 .pdf）"), validators=[FileRequired(message=_l("请选择要上传的文件"))])
    submit = SubmitField(_l("上传并分解"))


class PlanConfirmForm(BaseForm):
    """The review page's form; the per-task and per-department inputs are read by corrections_from_form()."""

    submit = SubmitField(_l("确认导入"))


class MembersForm(BaseForm):
    members = TextAreaField(_l("成员单位（用顿号、逗号或换行分隔）"))
    submit = SubmitField(_l("保存成员单位"))
