"""The office's forms: queue filters (GET), approve / return, bulk approve, adjustment decisions, publishing a
plan and moving a period's deadline."""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import Length, Optional, ValidationError

from forms import BaseForm
from models import ReportStatus
from workflow.calendar.periods import MAX_DEADLINE_WORKDAYS, Cadence
from workflow.labels import names

CADENCE_CHOICES = [
    (Cadence.MONTHLY.value, _l("月度")),
    (Cadence.QUARTERLY.value, _l("季度")),
    (Cadence.HALF_YEARLY.value, _l("半年度")),
    (Cadence.YEARLY.value, _l("年度")),
]

# The queue's filter: what awaits review first.
STATUS_CHOICES = [(status.value, names("report_status")[status]) for status in (
    ReportStatus.SUBMITTED, ReportStatus.DRAFT, ReportStatus.RETURNED, ReportStatus.APPROVED)]
STATUS_CHOICES.append(("all", _l("全部状态")))

# Not yet late, by how near the deadline is (the overview's report states; the plan's due-soon working days).
DUE_CHOICES = [("", _l("全部期限")), ("due_soon", names("report_state")["due_soon"]),
               ("not_due", names("report_state")["not_due"])]

COMMENT_LIMIT = 2000


def max_length(n: int) -> Length:
    """A length limit with a Chinese message."""
    return Length(max=n, message=_l("不能超过 %(max)d 字（当前 %(length)d 字）。"))


def select_choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as the options of a SelectField."""
    return [SelectChoice(str(value), label) for value, label in pairs]


class QueueFilterForm(BaseForm):
    """The review queue's filters: a GET form, so no CSRF token and links can be bookmarked."""

    class Meta:
        csrf = False

    area = SelectField(_l("领域"), choices=[], validate_choice=False)
    department = SelectField(_l("责任单位"), choices=[], validate_choice=False)
    status = SelectField(_l("状态"), choices=select_choices(STATUS_CHOICES), default="submitted", validate_choice=False)
    period = SelectField(_l("报送周期"), choices=[], validate_choice=False)
    plan = SelectField(_l("实施方案"), choices=[], validate_choice=False)
    year = SelectField(_l("年度"), choices=[], validate_choice=False)
    due = SelectField(_l("期限"), choices=select_choices(DUE_CHOICES), validate_choice=False)
    overdue = BooleanField(_l("仅看逾期"))


class ReviewForm(BaseForm):
    """Approve (comment optional) or return (reason required; the service says so as a field error)."""

    version = HiddenField()
    comment = TextAreaField(_l("审核意见（可选）"), validators=[Optional(), max_length(COMMENT_LIMIT)])
    reason = TextAreaField(_l("退回理由"), validators=[Optional(), max_length(COMMENT_LIMIT)])


class BulkApproveForm(BaseForm):
    comment = TextAreaField(_l("审核意见（可选）"), validators=[Optional(), max_length(COMMENT_LIMIT)])
    submit = SubmitField(_l("批量通过"))


class AdjustmentDecisionForm(BaseForm):
    decision = HiddenField()
    reason = TextAreaField(_l("意见"), validators=[Optional(), max_length(COMMENT_LIMIT)])


def _deadline_workdays(form, field) -> None:
    text = (field.data or "").strip()
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= MAX_DEADLINE_WORKDAYS:
        raise ValidationError(_l("请填写 0–%(n)d 之间的整数。", n=MAX_DEADLINE_WORKDAYS))


class PublishForm(BaseForm):
    cadence = SelectField(_l("报送周期"), choices=select_choices(CADENCE_CHOICES), default=Cadence.QUARTERLY.value,
                          validate_choice=False)
    first_period = StringField(_l("首个报送周期"), validators=[max_length(10)])
    deadline_workdays = StringField(_l("报送期限（周期结束后第几个工作日）"), default="5",
                                    validators=[_deadline_workdays])
    previewed = HiddenField()
    preview = SubmitField(_l("预览"))
    confirm = SubmitField(_l("确认发布"))

    def validate_cadence(self, field) -> None:
        if field.data not in {value for value, _label in CADENCE_CHOICES}:
            raise ValidationError(_l("请选择报送周期。"))

    def values(self) -> tuple[str, str, int]:
        return self.cadence.data, (self.first_period.data or "").strip(), int(self.deadline_workdays.data)

    def signature(self) -> str:
        cadence, first, workdays = self.values()
        return f"{cadence}|{first}|{workdays}"


def parse_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


class DeadlineForm(BaseForm):
    deadline = StringField(_l("新的报送期限"), render_kw={"type": "date"})
    reason = StringField(_l("调整理由"), validators=[max_length(COMMENT_LIMIT)])

    def validate_deadline(self, field) -> None:
        if not (field.data or "").strip():
            raise ValidationError(_l("请选择新的报送期限。"))
        if parse_date(field.data) is None:
            raise ValidationError(_l("日期格式不对，应为 2026-04-15 这样的格式。"))
