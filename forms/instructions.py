"""Leaders' instructions: writing one (leader, department, due date, text), the department's answer, closing.

The forms check only what a browser can get wrong (a date that is not one, lengths); the services check the
rest (required fields, the date's range, the department), so the API or the CLI could share the rules."""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional, ValidationError

from forms import BaseForm
from forms.review import max_length, parse_date
from workflow.converters import parse_id, parse_version


class InstructionForm(BaseForm):
    leader = SelectField(_l("批示领导"), choices=[], validate_choice=False)
    department = SelectField(_l("承办单位"), choices=[], validate_choice=False)
    due_date = StringField(_l("办理期限"), render_kw={"type": "date"})
    text = TextAreaField(_l("批示内容"), validators=[Optional(), max_length(2000)], render_kw={"rows": 5})

    def validate_due_date(self, field) -> None:
        if (field.data or "").strip() and parse_date(field.data) is None:
            raise ValidationError(_l("日期格式不对，应为 2026-04-15 这样的格式。"))

    @property
    def due(self) -> date | None:
        return parse_date(self.due_date.data)

    @property
    def department_id(self) -> int | None:
        return parse_id(self.department.data)

    @property
    def leader_id(self) -> int | None:
        return parse_id(self.leader.data)


class AnswerForm(BaseForm):
    version = HiddenField()
    answer = TextAreaField(_l("办理情况"), validators=[Optional(), max_length(4000)], render_kw={"rows": 6})

    @property
    def version_number(self) -> int | None:
        return parse_version(self.version.data)


class CloseInstructionForm(BaseForm):
    version = HiddenField()
    comment = TextAreaField(_l("阅示意见（可选）"), validators=[Optional(), max_length(2000)], render_kw={"rows": 2})

    @property
    def version_number(self) -> int | None:
        return parse_version(self.version.data)
