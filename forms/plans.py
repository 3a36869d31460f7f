from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, SubmitField, TextAreaField

from forms import BaseForm


class PlanUploadForm(BaseForm):
    file = FileField(_l("方案文件（.txt、.docx 或 .pdf）"), validators=[FileRequired(message=_l("请选择要上传的文件"))])
    # Choices (0: a new plan, then the published plans) are set by the view; the service says why another
    # plan cannot be revised (unknown, not published), so the choice is not validated here.
    revises = SelectField(_l("这是已发布方案的修订稿"), coerce=int, default=0, validate_choice=False,
                          description=_l("选择被修订的方案：系统逐项对比新旧文本，核对后确认，已有任务的报告和记录保留。"))
    submit = SubmitField(_l("上传并分解"))


class PlanConfirmForm(BaseForm):
    """The review page's form; the per-task and per-department inputs are read by corrections_from_form()."""

    submit = SubmitField(_l("确认导入"))


class MembersForm(BaseForm):
    members = TextAreaField(_l("成员单位（用顿号、逗号或换行分隔）"))
    submit = SubmitField(_l("保存成员单位"))
