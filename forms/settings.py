"""The settings pages' forms: 放假调休安排, substitutes, a plan's reminder rules, how reminders reach a user, a
department's reminder channels.

Dates use DayField (an <input type="date"> with a Chinese error; a bad value is shown back as typed). The rule
numbers are plain text inputs checked by the service, so the same checks answer the web, the API and the CLI.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, PasswordField, RadioField, SelectField, StringField, SubmitField
from wtforms.validators import Optional
from wtforms.widgets import PasswordInput

from forms import BaseForm
from forms.review import max_length, select_choices
from workflow.converters import parse_id
from workflow.scheduling.reminders import DEFAULT_RULES


class DayField(DateField):
    """An optional date; the service decides whether it is required, so its message names the context."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators or [Optional()], **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(str(_l("日期格式不对，请按“年-月-日”填写，例如 2027-01-01。"))) from exc


class HolidayForm(BaseForm):
    """One holiday of a year's arrangement: the days off and, optionally, its make-up working days."""

    name = StringField(_l("节日名称"), validators=[max_length(60)], render_kw={"placeholder": _l("例如：春节")})
    start = DayField(_l("放假开始"))
    end = DayField(_l("放假结束"))
    workday_1 = DayField(_l("调休上班日"))
    workday_2 = DayField(_l("调休上班日（第二天）"))
    submit = SubmitField(_l("保存"))

    WORKDAY_FIELDS = ("workday_1", "workday_2")

    def workdays(self):
        return [getattr(self, name).data for name in self.WORKDAY_FIELDS]


class SubstituteForm(BaseForm):
    """Name a substitute for a date range; `user` (whose substitute) is shown to the admin only."""

    user = SelectField(_l("被代理人"), choices=[], validate_choice=False)
    substitute = SelectField(_l("代理人"), choices=[], validate_choice=False)
    start = DayField(_l("开始日期"))
    end = DayField(_l("结束日期"))
    submit = SubmitField(_l("保存"))

    @staticmethod
    def user_id(field) -> int | None:
        return parse_id(field.data)


RULE_LABELS = {
    "due_soon_workdays": _l("到期前提醒"),
    "level1_late": _l("一级逾期提醒"),
    "level2_late": _l("二级逾期催办"),
    "level3_late": _l("三级督办"),
    "returned_grace_workdays": _l("退回后重报期限"),
    "review_grace_workdays": _l("待审核提醒"),
    "task_due_soon_workdays": _l("任务完成时限前提醒"),
}


class ReminderRulesForm(BaseForm):
    """The numbers of DEFAULT_RULES (working days), and 恢复默认."""

    due_soon_workdays = StringField(RULE_LABELS["due_soon_workdays"])
    level1_late = StringField(RULE_LABELS["level1_late"])
    level2_late = StringField(RULE_LABELS["level2_late"])
    level3_late = StringField(RULE_LABELS["level3_late"])
    returned_grace_workdays = StringField(RULE_LABELS["returned_grace_workdays"])
    review_grace_workdays = StringField(RULE_LABELS["review_grace_workdays"])
    task_due_soon_workdays = StringField(RULE_LABELS["task_due_soon_workdays"])
    submit = SubmitField(_l("保存"))
    reset = SubmitField(_l("恢复默认"))

    RULE_FIELDS = tuple(DEFAULT_RULES)

    def values(self) -> dict[str, str]:
        return {name: getattr(self, name).data or "" for name in self.RULE_FIELDS}


DIGEST_CHOICES = [
    ("pass", _l("每次提醒都发")),
    ("daily", _l("每天最多一封")),
]


def _kept_none(value):
    """A radio's value as posted; None when the form did not carry it (the service then keeps the setting)."""
    return None if value is None else str(value)


class NotificationForm(BaseForm):
    """The page offers the channels `channel_choices` allows the user; the service checks them again."""

    channel = RadioField(_l("提醒接收方式"), choices=[], coerce=_kept_none, default=None, validate_choice=False)
    digest_frequency = RadioField(_l("邮件接收频率"), choices=select_choices(DIGEST_CHOICES), default="pass",
                                  validate_choice=False)
    email = StringField(_l("电子邮箱"), validators=[max_length(200)],
                        render_kw={"type": "email", "placeholder": _l("例如：zhangsan@example.gov.cn")})
    phone = StringField(_l("手机号码"), validators=[max_length(20)],
                        render_kw={"inputmode": "tel", "placeholder": _l("例如：13800000000")})
    submit = SubmitField(_l("保存"))


CHANNEL_CHOICES = [
    ("email", _l("邮件")),
    ("sms", _l("短信")),
    ("dingtalk", _l("钉钉群机器人")),
    ("wecom", _l("企业微信群机器人")),
]


class DepartmentChannelsForm(BaseForm):
    """A department's default reminder channel and its group robots' webhooks (checked by the service)."""

    default_channel = RadioField(_l("本单位默认提醒渠道"), choices=select_choices(CHANNEL_CHOICES), default="email",
                                 validate_choice=False)
    dingtalk_webhook = StringField(_l("钉钉群机器人 Webhook 地址"), validators=[max_length(500)], render_kw={
        "placeholder": "https://oapi.dingtalk.com/robot/send?access_token=…", "inputmode": "url"})
    # typed back into the form when the page comes back with errors (never on a GET: the stored one is not shown)
    dingtalk_secret = PasswordField(_l("钉钉加签密钥（可选）"), validators=[max_length(200)],
                                    widget=PasswordInput(hide_value=False),
                                    render_kw={"autocomplete": "off", "placeholder": "SEC…"})
    clear_secret = BooleanField(_l("清除已保存的加签密钥"))
    wecom_webhook = StringField(_l("企业微信群机器人 Webhook 地址"), validators=[max_length(500)], render_kw={
        "placeholder": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…", "inputmode": "url"})
    submit = SubmitField(_l("保存"))
