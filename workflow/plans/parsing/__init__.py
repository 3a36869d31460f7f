"""Turn the text of a 督办 plan (实施方案, 工作方案, 行动计划 ...) into an outline, tasks, units and targets.

Everything here is a rule about the shape of Chinese government plans: outline markers, department
clauses at the end of a measure, target sentences.  Nothing names a particular plan or department, because
the parser is used on plans nobody here has seen.  Pure: no Flask, no database, no I/O except
`read_plan_bytes`, which turns an upload into text.  One module per job: `draft` (the public shapes),
`text` and `numerals` (normalising), `outline`, `clauses`, `targets`, `front` (title, issuer, years),
`reading` and `docx` (uploads), `plan` (`parse_plan`, which puts them together).
"""
from workflow.plans.parsing.clauses import department_kind
from workflow.plans.parsing.draft import (
    DepartmentDraft,
    OutlineNodeDraft,
    PlanDraft,
    PlanParseError,
    TargetDraft,
    TaskDraft,
)
from workflow.plans.parsing.plan import parse_plan, parse_plan_bytes
from workflow.plans.parsing.reading import read_plan_bytes

__all__ = [
    "DepartmentDraft", "OutlineNodeDraft", "PlanDraft", "PlanParseError", "TargetDraft", "TaskDraft",
    "department_kind", "parse_plan", "parse_plan_bytes", "read_plan_bytes",
]
