"""The overview's forms: the office's light thresholds, and the task list's filters (GET)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField, SubmitField

from forms import BaseForm
from forms.review import select_choices
from workflow.labels import names
from workflow.overview.lights import DEFAULT_RULES

SCOPE_CHOICES = [("period", _l("本期")), ("year", _l("本年")), ("all", _l("已开始的全部周期"))]
WHAT_CHOICES = [("", _l("全部任务")), ("missing", _l("配合情况未报送")), ("level1", _l("一级逾期提醒")),
                ("level2", _l("二级逾期催办")), ("escalated", _l("督办中"))]


class LightRulesForm(BaseForm):
    """The two thresholds (whole working days; the service checks the range, as for the reminder rules)."""

    due_soon_workdays = StringField(_l("黄灯：到期前工作日"))
    red_workdays_late = StringField(_l("红灯：逾期工作日"))
    submit = SubmitField(_l("保存"))
    reset = SubmitField(_l("恢复默认"))

    RULE_FIELDS = tuple(DEFAULT_RULES)

    def values(self) -> dict[str, str]:
        return {name: getattr(self, name).data or "" for name in self.RULE_FIELDS}


class TaskFilterForm(BaseForm):
    """The task list's filters: a GET form, so no CSRF token and links can be bookmarked."""

    class Meta:
        csrf = False

    scope = SelectField(_l("范围"), choices=select_choices(SCOPE_CHOICES), validate_choice=False)
    light = SelectField(_l("亮灯"), choices=select_choices([("", _l("全部"))] + list(names("light").items())),
                        validate_choice=False)
    what = SelectField(_l("事项"), choices=select_choices(WHAT_CHOICES), validate_choice=False)
    target = SelectField(_l("指标"), choices=select_choices([("", _l("全部"))] + list(names("target_state").items())),
                         validate_choice=False)
    area = SelectField(_l("领域"), choices=[], validate_choice=False)
    department = SelectField(_l("责任单位"), choices=[], validate_choice=False)
