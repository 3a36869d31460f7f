"""The public shapes a parse produces; key names in `to_dict` are a contract with the CLI, pages and export."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class TargetDraft:
    year: int | None
    value: float
    unit: str
    comparator: str
    metric: str
    sentence: str


@dataclass
class DepartmentDraft:
    name: str
    aliases: list[str]
    kind: str   # 'municipal' | 'county' | 'zone' | 'other' | 'collective' (one assignee for its members)


@dataclass
class OutlineNodeDraft:
    code: str
    level: int
    marker: str
    title: str
    text: str
    children: list[OutlineNodeDraft] = field(default_factory=list)


@dataclass
class TaskDraft:
    code: str
    title: str
    text: str
    leads: list[str]
    co: list[str]
    implied: list[str]
    targets: list[TargetDraft]
    clause: str
    # Which rule decided the leads: 'marked' (牵头/labels), 'single', 'first_group' (before the first comma),
    # 'first_listed', 'declared_joint' / 'declared_first' (a convention the document declares); '' unassigned.
    lead_rule: str = ""
    placeholders: list[str] = field(default_factory=list)   # '有关部门', unresolved '上述单位': to name or drop
    due: str | None = None                                    # 'YYYY-MM-DD', 'ongoing' or None


def _number(value: float) -> int | float:
    """JSON readers compare 1000 and 1000.0 differently; integral values are emitted as int."""
    return int(value) if float(value).is_integer() else value


def _target_dict(t: TargetDraft) -> dict:
    return {"year": t.year, "value": _number(t.value), "unit": t.unit, "comparator": t.comparator,
            "metric": t.metric, "sentence": t.sentence}


def _outline_dict(n: OutlineNodeDraft) -> dict:
    return {"code": n.code, "level": n.level, "marker": n.marker, "title": n.title, "text": n.text,
            "children": [_outline_dict(c) for c in n.children]}


@dataclass
class PlanDraft:
    title: str
    issuing_body: str
    valid_from: int | None
    valid_to: int | None
    outline: list[OutlineNodeDraft]
    tasks: list[TaskDraft]
    unassigned: list[TaskDraft]
    targets: list[TargetDraft]
    implied_units: list[str]
    departments: list[DepartmentDraft]
    warnings: list[str]

    def to_dict(self) -> dict:
        """The public JSON shape; key names are a contract with the CLI, the review page and the export."""
        return {
            "title": self.title,
            "issuing_body": self.issuing_body,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "implied_units": list(self.implied_units),
            "targets": [_target_dict(t) for t in self.targets],
            "tasks": [{"code": t.code, "title": t.title, "text": t.text, "clause": t.clause,
                       "leads": list(t.leads), "co": list(t.co), "implied": list(t.implied),
                       "lead_rule": t.lead_rule, "placeholders": list(t.placeholders), "due": t.due,
                       "targets": [_target_dict(x) for x in t.targets]} for t in self.tasks],
            "unassigned": [{"code": t.code, "title": t.title, "text": t.text, "placeholders": list(t.placeholders),
                            "due": t.due, "targets": [_target_dict(x) for x in t.targets]} for t in self.unassigned],
            "departments": [asdict(d) for d in self.departments],
            "outline": [_outline_dict(n) for n in self.outline],
            "warnings": list(self.warnings),
        }


class PlanParseError(ValueError):
    """Raised with a one-line Chinese-or-English message a CLI can print."""
