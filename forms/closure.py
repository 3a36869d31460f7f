"""延期申请 and 办结销号: the lead's request and completion report, the office's decisions, reopening a task.

The forms check only what a browser can get wrong (a date that is not one, lengths); the services check the rest
(required fields, the date's range, states), so the API shares the rules."""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf.file import MultipleFileField
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import Optional, ValidationError

from forms import BaseForm
from forms.review import max_length, parse_date
from workflow.converters import parse_version


class _Versioned(BaseForm):
    version = HiddenField()

    @property
    def version_number(self) -> int | None:
        return parse_version(self.version.data)


class ExtensionForm(BaseForm):
    new_deadline = StringField(_l("申请延至"), render_kw={"type": "date"})
    reason = TextAreaField(_l("延期理由"), validators=[Optional(), max_length(2000)], render_kw={"rows": 3})
    progress = TextAreaField(_l("目前进展"), validators=[Optional(), max_length(2000)], render_kw={"rows": 3})

    def validate_new_deadline(self, field) -> None:
        if (field.data or "").strip() and parse_date(field.data) is None:
            raise ValidationError(_l("日期格式不对，应为 2026-04-15 这样的格式。"))

    @property
    def date(self) -> date | None:
        return parse_date(self.new_deadline.data)


class ApproveForm(_Versioned):
    comment = TextAreaField(_l("审批意见（可选）"), validators=[Optional(), max_length(2000)], render_kw={"rows": 2})


class RefuseForm(_Versioned):
    reason = TextAreaField(_l("不予批准的理由"), validators=[Optional(), max_length(2000)], render_kw={"rows": 2})


class CompletionForm(BaseForm):
    """The target values come as value_<target id> fields, one per target of the task (the page lists them)."""

    summary = TextAreaField(_l("完成情况"), validators=[Optional(), max_length(4000)], render_kw={"rows": 5})
    files = MultipleFileField(_l("附件（验收材料等，可多选）"))


class ConfirmForm(_Versioned):
    comment = TextAreaField(_l("销号意见（可选）"), validators=[Optional(), max_length(2000)], render_kw={"rows": 2})


class ReturnCompletionForm(_Versioned):
    reason = TextAreaField(_l("退回理由"), validators=[Optional(), max_length(2000)], render_kw={"rows": 2})


class ReopenForm(BaseForm):
    reason = TextAreaField(_l("重新开启的理由"), validators=[Optional(), max_length(2000)], render_kw={"rows": 2})
