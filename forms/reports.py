"""The liaison's report form (with one input per target of the task), the contribution form, attachments.

The forms carry what was typed; the domain rules (completeness on submit, 0–100, numbers) live in
workflow.reports.services and come back as field errors, so the API and the web check exactly the same things.
"""
from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice

from forms import BaseForm
from workflow.converters import parse_version
from workflow.reports.services import ReportInput

PROGRESS_CHOICES = [
    SelectChoice("on_track", _l("进展顺利")),
    SelectChoice("at_risk", _l("存在风险")),
    SelectChoice("behind", _l("滞后")),
    SelectChoice("completed", _l("已完成")),
]


def plain_number(value: Decimal | None) -> str:
    """Decimal('95.500000') → '95.5', Decimal('1000') → '1000' (never '1E+3')."""
    if value is None:
        return ""
    return format(value.normalize(), "f")


class VersionedForm(BaseForm):
    """A form over a versioned row: the hidden version, and field errors handed back by a service."""

    version = HiddenField()

    @property
    def version_number(self) -> int | None:
        return parse_version(self.version.data)

    def add_errors(self, errors: dict[str, str]) -> None:
        """Put the service's field errors on the fields; errors for no field go to form_errors."""
        extra = []
        for name, message in errors.items():
            if name in self:
                self[name].errors = [*self[name].errors, message]
            else:
                extra.append(message)
        self.form_errors = [*self.form_errors, *extra]


class ReportForm(VersionedForm):
    narrative = TextAreaField(_l("工作进展"), render_kw={"rows": 8})
    percent_complete = StringField(_l("完成百分比（%）"),
                                   render_kw={"type": "number", "min": 0, "max": 100, "step": 1, "inputmode": "numeric"})
    progress = SelectField(_l("进展状态"), choices=[SelectChoice("", _l("请选择")), *PROGRESS_CHOICES], validate_choice=False)
    difficulties = TextAreaField(_l("存在困难和问题"), render_kw={"rows": 3})
    next_steps = TextAreaField(_l("下一步工作计划"), render_kw={"rows": 3})
    save = SubmitField(_l("保存草稿"))
    submit = SubmitField(_l("提交报告"))

    @classmethod
    def for_report(cls, report, **kwargs) -> ReportForm:
        """The form with one numeric input per target of the report's task, named value-<target id>.

        Without form data (a GET) it is filled from the saved report.
        """
        targets = list(report.task.targets)
        form_class = type("ReportFormForTask", (cls,), {
            f"value-{t.id}": StringField(t.metric or _l("指标"), render_kw={"type": "number", "step": "any",
                                                                          "inputmode": "decimal"})
            for t in targets
        })
        data = {name: getattr(report, name) for name in ("narrative", "difficulties", "next_steps")}
        data.update(percent_complete="" if report.percent_complete is None else str(report.percent_complete),
                    progress=report.progress or "", version=str(report.version))
        data.update({f"value-{t.id}": plain_number(report.value_for(t.id)) for t in targets})
        form = form_class(data=data, **kwargs)
        form.targets = targets
        return form

    def value_field(self, target):
        return self[f"value-{target.id}"]

    @property
    def submitting(self) -> bool:
        return bool(self.submit.data)

    def to_input(self) -> ReportInput:
        return ReportInput(
            narrative=self.narrative.data or "", percent_complete=self.percent_complete.data,
            progress=self.progress.data or None, difficulties=self.difficulties.data or "",
            next_steps=self.next_steps.data or "",
            values={t.id: self.value_field(t).data for t in self.targets},
        )


class ContributionForm(VersionedForm):
    text = TextAreaField(_l("配合情况"), render_kw={"rows": 8})
    save = SubmitField(_l("保存草稿"))
    submit = SubmitField(_l("提交"))

    @classmethod
    def for_contribution(cls, contribution, **kwargs) -> ContributionForm:
        return cls(data={"text": contribution.text, "version": str(contribution.version)}, **kwargs)

    @property
    def submitting(self) -> bool:
        return bool(self.submit.data)


class AttachmentForm(BaseForm):
    file = FileField(_l("附件"), validators=[FileRequired(message=_l("请选择要上传的文件。"))])
    upload = SubmitField(_l("上传"))
