"""SQLAlchemy 2.0 typed models, one module per domain. Importing this package registers every table."""
from models.audit import AuditEvent
from models.bulletin import Bulletin, BulletinFile, BulletinKind, BulletinStatus
from models.calendar import HolidayEntry, SchedulerLease
from models.evaluation import (
                         DepartmentScore,
                         Evaluation,
                         EvaluationFile,
                         EvaluationStatus,
                         ScoreAdjustment,
                         TargetMilestone,
                         TaskRating,
)
from models.extension import CompletionReport, CompletionStatus, ExtensionRequest, ExtensionStatus
from models.instruction import Instruction, InstructionStatus
from models.job import Job, JobStatus
from models.notify import (
                         EmailStatus,
                         Escalation,
                         EscalationStatus,
                         Notice,
                         NoticeStatus,
                         Notification,
                         NumberSeries,
                         OutboxEmail,
)
from models.org import ApiToken, Channel, Department, DepartmentAlias, DepartmentKind, Role, Substitute, User
from models.plan import (
                         ACTIVE_ASSIGNMENT,
                         AREA_LEVEL,
                         ENDED_ASSIGNMENT,
                         AdjustmentRequest,
                         AdjustmentStatus,
                         Assignment,
                         AssignmentRole,
                         AssignmentStatus,
                         Comparator,
                         OutlineNode,
                         Plan,
                         PlanRevision,
                         PlanStatus,
                         Target,
                         Task,
                         TaskStatus,
                         TaskVersion,
)
from models.ratelimit import RateLimitCounter
from models.report import (
                         Attachment,
                         Contribution,
                         ContributionStatus,
                         Period,
                         Progress,
                         Report,
                         ReportRevision,
                         ReportStatus,
                         ReportValue,
)

__all__ = [
    "ACTIVE_ASSIGNMENT", "AREA_LEVEL", "AdjustmentRequest", "AdjustmentStatus", "ApiToken", "Assignment", "AssignmentRole",
    "AssignmentStatus", "Attachment", "AuditEvent", "Comparator", "Contribution", "ContributionStatus",
    "Department", "DepartmentAlias", "DepartmentKind", "Notification", "OutlineNode", "Period", "Plan",
    "PlanStatus", "Progress", "Report", "ReportRevision", "ReportStatus", "ReportValue", "Role", "Target",
    "Task", "TaskStatus", "User", "HolidayEntry", "SchedulerLease", "EmailStatus", "Escalation", "EscalationStatus",
    "OutboxEmail", "Substitute", "DepartmentScore", "Evaluation", "EvaluationFile", "EvaluationStatus",
    "ScoreAdjustment", "TargetMilestone", "TaskRating", "RateLimitCounter", "Bulletin", "BulletinFile",
    "BulletinKind", "BulletinStatus", "Instruction", "InstructionStatus", "Notice", "NoticeStatus", "NumberSeries",
    "Channel", "CompletionReport", "CompletionStatus", "ENDED_ASSIGNMENT", "ExtensionRequest", "ExtensionStatus",
    "PlanRevision", "TaskVersion", "Job", "JobStatus",
]
