"""The one registry of user-visible names: statuses, progress, roles, department kinds, grades, score parts,
escalation levels and causes, actions. Pages, PDFs, workbooks, emails and the API's display fields all read
them here, so a state has one name everywhere.

The names are lazy strings (Flask-Babel), translated when shown in the locale active then: pages and the API
in the user's language, emails in the recipient's (outbox.render_digest forces it). PDFs and workbooks are
Chinese documents and are rendered under `chinese()`, so one asked for from an English page stays Chinese;
notification titles, stored once for every reader, take `chinese_label()`. Outside a request (CLI, scheduler)
the locale is the default, Chinese.

Choices made where the code used to disagree: a report in `submitted` is 待审核 (it waits for the office's
review; 已报送 is kept for a submitted contribution, which nobody reviews); a `draft` is 草稿 while it is being
written. Where a page or the evaluation counts what was filed, an item nobody has submitted (a draft, or no
row yet) is 未报送: the absence of a submission, not a state (`submission`, `item_status`).
"""
from __future__ import annotations

from contextlib import contextmanager

from flask_babel import force_locale

from models import (
    AdjustmentStatus,
    AssignmentRole,
    AssignmentStatus,
    BulletinKind,
    BulletinStatus,
    Channel,
    CompletionStatus,
    ContributionStatus,
    DepartmentKind,
    EmailStatus,
    EscalationStatus,
    EvaluationStatus,
    ExtensionStatus,
    InstructionStatus,
    JobStatus,
    NoticeStatus,
    PlanStatus,
    Progress,
    ReportStatus,
    Role,
    TaskStatus,
)
from workflow.i18n import lazy_gettext as _l

CHINESE = "zh_Hans_CN"

LABELS = {
    "report_status": {
        ReportStatus.DRAFT: _l("草稿"),
        ReportStatus.SUBMITTED: _l("待审核"),
        ReportStatus.RETURNED: _l("已退回"),
        ReportStatus.APPROVED: _l("已通过"),
    },
    "contribution_status": {
        ContributionStatus.DRAFT: _l("草稿"),
        ContributionStatus.SUBMITTED: _l("已报送"),
    },
    "progress": {
        Progress.ON_TRACK: _l("进展顺利"),
        Progress.AT_RISK: _l("存在风险"),
        Progress.BEHIND: _l("滞后"),
        Progress.COMPLETED: _l("已完成"),
    },
    "role": {
        Role.LIAISON: _l("联络员"),
        Role.DEPT_HEAD: _l("单位负责人"),
        Role.OFFICE: _l("领导小组办公室"),
        Role.LEADER: _l("领导"),
        Role.ADMIN: _l("系统管理员"),
    },
    "department_kind": {
        DepartmentKind.MUNICIPAL: _l("市直部门"),
        DepartmentKind.COUNTY: _l("县区政府"),
        DepartmentKind.ZONE: _l("开发区"),
        DepartmentKind.OTHER: _l("其他"),
        DepartmentKind.COLLECTIVE: _l("集合单位"),
    },
    "assignment_role": {AssignmentRole.LEAD: _l("牵头"), AssignmentRole.CO: _l("配合")},
    "assignment_status": {
        AssignmentStatus.DRAFT: _l("待下达"),
        AssignmentStatus.PENDING: _l("待签收"),
        AssignmentStatus.ACKNOWLEDGED: _l("已签收"),
        AssignmentStatus.ADJUSTMENT: _l("申请调整中"),
        AssignmentStatus.TRANSFERRED: _l("已转交"),
        AssignmentStatus.WITHDRAWN: _l("方案修订后撤销"),
    },
    "adjustment_status": {
        AdjustmentStatus.PENDING: _l("待处理"),
        AdjustmentStatus.ACCEPTED: _l("已同意"),
        AdjustmentStatus.REJECTED: _l("已驳回"),
    },
    "plan_status": {PlanStatus.IMPORTED: _l("待发布"), PlanStatus.PUBLISHED: _l("已发布")},
    "escalation_status": {EscalationStatus.OPEN: _l("未关闭"), EscalationStatus.CLOSED: _l("已关闭")},
    "escalation_level": {1: _l("逾期提醒"), 2: _l("逾期催办"), 3: _l("督办")},
    "escalation_cause": {"overdue": _l("逾期未报送"), "returned": _l("退回后逾期未重新报送")},
    "escalation_close_reason": {"submitted": _l("自动：已报送"), "office": _l("办公室"),
                                "task_closed": _l("自动：任务已销号")},
    "task_status": {TaskStatus.OPEN: _l("进行中"), TaskStatus.CLOSED: _l("已销号")},
    "extension_status": {ExtensionStatus.PENDING: _l("待审批"), ExtensionStatus.APPROVED: _l("已批准"),
                         ExtensionStatus.REFUSED: _l("未批准")},
    "completion_status": {CompletionStatus.SUBMITTED: _l("待确认"), CompletionStatus.CONFIRMED: _l("已销号"),
                          CompletionStatus.RETURNED: _l("已退回")},
    "bulletin_status": {BulletinStatus.DRAFT: _l("草稿"), BulletinStatus.PUBLISHED: _l("已发布")},
    "bulletin_kind": {BulletinKind.MONTHLY: _l("月度"), BulletinKind.QUARTERLY: _l("季度"),
                      BulletinKind.HALF_YEARLY: _l("半年度")},
    "evaluation_status": {EvaluationStatus.DRAFT: _l("草稿"), EvaluationStatus.FROZEN: _l("已签认")},
    "channel": {Channel.EMAIL: _l("邮件"), Channel.SMS: _l("短信"), Channel.DINGTALK: _l("钉钉群机器人"),
                Channel.WECOM: _l("企业微信群机器人")},
    "job_status": {JobStatus.QUEUED: _l("排队中"), JobStatus.RUNNING: _l("生成中"), JobStatus.DONE: _l("已完成"),
                   JobStatus.FAILED: _l("失败")},
    "email_status": {EmailStatus.PENDING: _l("待发送"), EmailStatus.SENT: _l("已发送"),
                     EmailStatus.PARKED: _l("已搁置")},
    # Grades are stored by their Chinese name (DepartmentScore.grade), best first.
    "grade": {"优秀": _l("优秀"), "良好": _l("良好"), "一般": _l("一般"), "较差": _l("较差")},
    # The evaluation's ranking groups when they are not the office's own (scoring.group_names).
    "ranking_group": {"lead": _l("牵头单位"), "co": _l("仅配合单位"), "all": _l("全部单位")},
    "ranking_group_by": {"role": _l("牵头单位与仅配合单位分开排名"), "kind": _l("按单位类别分组"),
                         "custom": _l("按办公室自定义的分组"), "none": _l("全部单位一起排名")},
    "score_part": {"timeliness": _l("报送及时性"), "quality": _l("报送质量"), "attainment": _l("目标完成"),
                   "rating": _l("办公室评价")},
    "score_part_short": {"timeliness": _l("及时"), "quality": _l("质量"), "attainment": _l("目标"),
                         "rating": _l("评价")},
    "attainment_basis": {"target": _l("目标值"), "linear": _l("线性路径"), "milestone": _l("节点值"),
                         "no_base": _l("无基期值")},
    # The overview (workflow/overview/lights.py): a task's light and why, a report's state there, a target's.
    "light": {"red": _l("红灯"), "yellow": _l("黄灯"), "green": _l("绿灯"), "grey": _l("灰灯"), "done": _l("已完成")},
    "light_short": {"red": _l("红"), "yellow": _l("黄"), "green": _l("绿"), "grey": _l("灰"), "done": _l("完成")},
    "light_reason": {"closed": _l("已销号"), "completed": _l("已完成"), "escalated": _l("督办中"), "overdue": _l("逾期未报送"),
                     "behind": _l("进展滞后"), "returned": _l("退回待重报"), "late": _l("已过期限"),
                     "due_soon": _l("即将到期"), "at_risk": _l("存在风险"), "handed_in": _l("按期报送"),
                     "not_started": _l("尚未开始")},
    "report_state": {"not_due": _l("未到期"), "due_soon": _l("即将到期"), "overdue": _l("逾期未报"),
                     "submitted": _l("待审核"), "returned": _l("已退回"), "approved": _l("已通过")},
    "target_state": {"on_track": _l("达到年度要求"), "off_track": _l("未达年度要求"), "no_value": _l("尚无审定值")},
    "holiday_kind": {"holiday": _l("放假"), "workday": _l("调休上班")},
    "weekday": dict(enumerate((_l("周一"), _l("周二"), _l("周三"), _l("周四"), _l("周五"), _l("周六"), _l("周日")))),
    "submission": {"submitted": _l("已报送"), "missing": _l("未报送")},
    # How a report stands against its deadline in the ledger and the bulletin (workflow/ledger/services.py).
    "ledger_state": {"on_time": _l("按时报送"), "late": _l("逾期报送"), "missing": _l("逾期未报送"),
                     "pending": _l("待报送"), "withdrawn": _l("已撤销")},
    "search_kind": {"task": _l("任务"), "report": _l("报告"), "department": _l("单位")},
    "item_kind": {"report": _l("报告"), "contribution": _l("配合情况"), "instruction": _l("领导批示"),
                  "task": _l("任务")},
    "instruction_status": {InstructionStatus.OPEN: _l("待办理"), InstructionStatus.ANSWERED: _l("已反馈"),
                           InstructionStatus.CLOSED: _l("已办结")},
    "instruction_action": {"answer": _l("报送办理情况"), "close": _l("办结")},
    # What an instruction was written on.
    "instruction_subject": {"task": _l("任务"), "report": _l("报告"), "escalation": _l("督办事项")},
    "notice_status": {NoticeStatus.ISSUED: _l("待整改反馈"), NoticeStatus.ANSWERED: _l("已整改反馈")},
    # A transition's verb, as in “cannot <action>” (reports and contributions).
    "action": {"submit": _l("提交"), "approve": _l("审核通过"), "return": _l("退回修改"), "withdraw": _l("撤回")},
    # The audit trail's entries (AuditEvent.action).
    "audit_action": {"report.submit": _l("提交报告"), "report.approve": _l("审核通过"), "report.return": _l("退回修改"),
                     "report.withdraw": _l("撤回报告"), "attachment.add": _l("上传附件"), "attachment.remove": _l("删除附件"),
                     "contribution.submit": _l("提交配合情况"), "report.chase": _l("催报配合单位"),
                     "instruction.create": _l("作出批示"), "instruction.answer": _l("报送办理情况"),
                     "instruction.close": _l("批示办结"), "notice.answer": _l("报送整改反馈"),
                     "escalation.close": _l("办公室关闭督办"), "escalation.settle": _l("报送后自动关闭"),
                     "assignment.publish": _l("下达任务"), "assignment.acknowledge": _l("签收"),
                     "assignment.request_adjustment": _l("申请调整"), "assignment.transfer": _l("转交其他单位"),
                     "assignment.adjustment_rejected": _l("调整申请未获同意"),
                     "assignment.withdraw": _l("方案修订后撤销分工"), "assignment.restore": _l("方案修订后恢复分工"),
                     "assignment.role_changed": _l("方案修订后调整牵头/配合"), "task.revised": _l("方案修订：任务修改"),
                     "task.renumbered": _l("方案修订：重新编号"), "task.added_by_revision": _l("方案修订：新增任务"),
                     "plan.revise": _l("修订方案"),
                     "report.extension_requested": _l("申请延期"), "report.deadline_extended": _l("批准延期"),
                     "report.extension_refused": _l("延期申请未获批准"),
                     "extension_request.create": _l("申请延期"), "extension_request.approve": _l("批准延期"),
                     "extension_request.refuse": _l("延期申请未获批准"),
                     "task.completion_filed": _l("报送办结报告"), "task.completion_returned": _l("退回办结报告"),
                     "task.close": _l("办结销号"), "task.withdraw": _l("撤销未报送的报告"),
                     "task.reopen": _l("重新开启任务"),
                     "completion_report.create": _l("报送办结报告"), "completion_report.confirm": _l("确认销号"),
                     "completion_report.return": _l("退回办结报告")},
    # A revised plan's diff (workflow/plans/diff.py): what became of a task, and which of its fields changed.
    "revision_change": {"added": _l("新增"), "removed": _l("撤销"), "changed": _l("修改"), "unchanged": _l("未变")},
    "task_field": {"title": _l("标题"), "text": _l("内容"), "leads": _l("牵头单位"), "co": _l("配合单位"),
                   "targets": _l("量化目标"), "due": _l("完成时限")},
    # The indicator tracker's verdict on a target (workflow/targets/services.py).
    "target_status": {"on_track": _l("符合进度"), "off_track": _l("未达进度"), "no_value": _l("暂无数值")},
}


def label(kind: str, value) -> str:
    """The name of `value` in the current locale; an unknown value shows as itself, a missing one as '—'."""
    if value is None or value == "":
        return "—"
    name = LABELS[kind].get(value)
    return str(name) if name is not None else str(value)


def item_status(kind: str, status: str) -> str:
    """A counted report's or contribution's status (kind 'report' or 'contribution'): 未报送 while a draft."""
    return label("submission", "missing") if status == "draft" else label(f"{kind}_status", status)


def names(kind: str) -> dict:
    """value → lazy name, in the registry's order (a template's legend or a workbook's column)."""
    return dict(LABELS[kind])


def choices(kind: str) -> list[tuple[str, object]]:
    """(value, lazy name) pairs for a form's select field."""
    return [(str(value), name) for value, name in LABELS[kind].items()]


@contextmanager
def chinese():
    """Render a document in Chinese whatever the request's language (PDFs, workbooks)."""
    with force_locale(CHINESE):
        yield


def chinese_label(kind: str, value) -> str:
    """The Chinese name, for text stored once for every reader (notification titles)."""
    with chinese():
        return label(kind, value)
