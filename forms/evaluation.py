"""The annual evaluation's forms. Numbers are plain text inputs checked by workflow.evaluation.services, so the
web, the CLI and the tests get the same messages; these forms carry CSRF, choices and the typed values."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField

from forms import BaseForm
from forms.review import max_length, select_choices
from workflow.evaluation.services import groups_text
from workflow.labels import choices

REASON_LIMIT = 2000



class OpenForm(BaseForm):
    plan = SelectField(_l("方案"), choices=[], validate_choice=False)
    year = StringField(_l("评估年度"), render_kw={"inputmode": "numeric", "placeholder": "2026"})


class SettingsForm(BaseForm):
    """Field names are ASCII; SERVICE_KEYS maps them to the service's setting keys (and its errors back)."""

    weight_lead = StringField(_l("牵头任务权重"))
    weight_co = StringField(_l("配合任务权重"))
    part_timeliness = StringField(_l("报送及时性"))
    part_quality = StringField(_l("报送质量"))
    part_attainment = StringField(_l("目标完成"))
    part_rating = StringField(_l("办公室评价"))
    threshold_excellent = StringField(_l("优秀分数线"))
    threshold_good = StringField(_l("良好分数线"))
    threshold_fair = StringField(_l("一般分数线"))
    late_points_per_day = StringField(_l("逾期每天扣分"))
    late_floor = StringField(_l("逾期最低分"))
    escalation_points = StringField(_l("每次督办扣分"))
    escalation_cap = StringField(_l("督办扣分上限"))
    base_year = StringField(_l("基期年份"))
    group_by = SelectField(_l("排名分组"), choices=select_choices(choices("ranking_group_by")),
                           validate_choice=False)
    groups = TextAreaField(_l("自定义分组（每行一组）"), validators=[max_length(10000)], render_kw={
        "rows": 4, "placeholder": _l("组名：单位、单位，例如\n市直部门：甲局、乙委\n县区：甲区、乙县")})
    min_items = StringField(_l("参与排名的最少事项数"))
    workload_weight = StringField(_l("工作量权重（%）"))
    target_load = StringField(_l("每项指标折合任务数"))
    extension_on_time = SelectField(_l("批准延期的报告"), choices=select_choices([("yes", _l("按新期限计算是否逾期")),
                                                                                  ("no", _l("仍按原期限计算"))]),
                                    validate_choice=False)
    closed_on_time = SelectField(_l("提前销号的任务"), choices=select_choices([("yes", _l("其后各期按按时报送计分")),
                                                                              ("no", _l("其后各期不计分"))]),
                                 validate_choice=False)

    SERVICE_KEYS = {"threshold_excellent": "threshold_优秀", "threshold_good": "threshold_良好",
                    "threshold_fair": "threshold_一般"}

    def fill(self, settings: dict) -> None:
        """Show the effective settings in the inputs."""
        self.weight_lead.data, self.weight_co.data = settings["role_weights"]["lead"], settings["role_weights"]["co"]
        for part in ("timeliness", "quality", "attainment", "rating"):
            getattr(self, f"part_{part}").data = settings["part_weights"][part]
        for name, key in self.SERVICE_KEYS.items():
            getattr(self, name).data = settings["thresholds"][key.split("_", 1)[1]]
        for name in ("late_points_per_day", "late_floor", "escalation_points", "escalation_cap", "base_year",
                     "group_by", "min_items", "workload_weight", "target_load"):
            getattr(self, name).data = settings[name]
        self.groups.data = groups_text(settings["groups"])
        for name in ("extension_on_time", "closed_on_time"):
            getattr(self, name).data = "yes" if settings[name] else "no"

    def service_values(self) -> dict:
        return {self.SERVICE_KEYS.get(name, name): field.data for name, field in self._fields.items()
                if name != "csrf_token"}

    def field_errors(self, errors: dict[str, str]) -> dict[str, str]:
        back = {v: k for k, v in self.SERVICE_KEYS.items()}
        return {back.get(key, key): message for key, message in errors.items()}


class AdjustForm(BaseForm):
    department = SelectField(_l("单位"), choices=[], validate_choice=False)
    points = StringField(_l("调整分值"), render_kw={"placeholder": _l("例如 +2 或 -1.5")})
    reason = TextAreaField(_l("理由（必填）"), validators=[max_length(REASON_LIMIT)], render_kw={"rows": 2})


class RatingForm(BaseForm):
    task = SelectField(_l("任务"), choices=[], validate_choice=False)
    score = StringField(_l("评分（0–100）"), render_kw={"inputmode": "numeric"})
    comment = TextAreaField(_l("评语"), validators=[max_length(REASON_LIMIT)], render_kw={"rows": 2})


class MilestoneForm(BaseForm):
    target = SelectField(_l("指标"), choices=[], validate_choice=False)
    year = StringField(_l("年份"), render_kw={"inputmode": "numeric"})
    value = StringField(_l("节点值（留空则删除）"))


class SignOffForm(BaseForm):
    note = TextAreaField(_l("签认意见（可选）"), validators=[max_length(REASON_LIMIT)], render_kw={"rows": 2})
    confirm = BooleanField(_l("我已核对各单位的得分、等次和分组排名，确认签认并冻结"))
    version = HiddenField()


class ReopenForm(BaseForm):
    reason = TextAreaField(_l("重新开启的理由（必填）"), validators=[max_length(REASON_LIMIT)], render_kw={"rows": 2})


class GenerateForm(BaseForm):
    kind = HiddenField(default="pdf")
    department = SelectField(_l("单位"), choices=[], validate_choice=False)
