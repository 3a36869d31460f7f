"""`parse_plan`: front matter, outline, clauses and targets put together into a PlanDraft."""
from __future__ import annotations

import re

from workflow.plans.parsing.clauses import _BACKREF, _implied_units, _Registry, declared_rules, unit_role
from workflow.plans.parsing.deadlines import due_of
from workflow.plans.parsing.draft import PlanDraft, PlanParseError, TargetDraft, TaskDraft
from workflow.plans.parsing.front import _find_title, _issuing_body, _validity
from workflow.plans.parsing.outline import (
    _analyse,
    _build_outline,
    _match_marker,
    _Node,
    _number_nodes,
    _outline_draft,
    _walk,
    plain_headings,
)
from workflow.plans.parsing.reading import read_plan_bytes
from workflow.plans.parsing.targets import _targets
from workflow.plans.parsing.text import _clean_lines, _dedupe

_PREAMBLE_TITLES = re.compile(r"总体要求|指导思想|基本原则|工作原则|主要目标|工作目标|总体目标|发展目标|组织实施|保障措施|组织保障|"
                              r"实施保障|工作要求|总则|附则|背景|现状|形势|编制依据|适用范围")


def parse_plan(text: str) -> PlanDraft:
    """Parse plan text; raises PlanParseError only when there is no measure at all."""
    if not isinstance(text, str) or not text.strip():
        raise PlanParseError("方案内容为空 (the plan text is empty)")
    lines = _clean_lines(text)
    first_marker = next((i for i, line in enumerate(lines) if _match_marker(line)), len(lines))
    title_index, title, notice = _find_title(lines, first_marker)
    headings = plain_headings(lines, 0 if title_index is None else title_index + 1)
    first_marker = min([first_marker, *headings])
    head = lines[title_index + 1:first_marker] if title_index is not None else lines[:first_marker]
    roots = _build_outline(lines[first_marker:], {i - first_marker for i in headings})
    preface = "\n".join(head)
    warnings: list[str] = []
    if not title:
        warnings.append("no title line found")

    nodes = list(_walk(roots))
    for node in nodes:
        _analyse(node)
    _number_nodes(roots, "", 1, warnings)

    any_clause = any(n.parsed for n in nodes)
    for root in roots:
        subtree = list(_walk([root]))
        part_has_clause = any(n.parsed for n in subtree)
        task_part = part_has_clause or (not any_clause and not _PREAMBLE_TITLES.search(root.title))
        for n in subtree:
            if n.parsed:
                n.role = "task"
            elif n.children:
                n.role = "group"
            elif task_part and (n.title or n.body):
                n.role = "unassigned"
            else:
                n.role = "preamble"
    if not any(n.role in ("task", "unassigned") for n in nodes):
        raise PlanParseError("未找到任何措施条目 (no measures found in the plan)")

    registry = _Registry()
    for n in nodes:
        if n.parsed:
            for unit in n.parsed.units:
                registry.add_aliases(unit)
    decided = _decide_leads(nodes, preface, registry)
    # A blanket sentence ('以下均需…落实，不再列出') applies to the tasks after the node that carries it.
    implied_units: list[str] = []

    def imply(text: str) -> None:
        for unit in _implied_units(text):
            if unit_role(unit[0]):
                continue
            registry.add_aliases(unit)
            name = registry.see(unit[0])
            if name not in implied_units:
                implied_units.append(name)

    imply(preface)
    pending = list(implied_units)
    tasks: list[TaskDraft] = []
    unassigned: list[TaskDraft] = []
    plan_targets: list[TargetDraft] = _targets(preface)
    for n in nodes:
        if n.role == "task" and n.parsed:
            leads, co, placeholders, rule = decided[id(n)]
            leads = _dedupe(registry.see(u) for u in leads)
            co = [c for c in _dedupe(registry.see(u) for u in co) if c not in leads]
            implied = [u for u in pending if u not in leads and u not in co]
            draft = TaskDraft(code=n.code, title=n.title, text=n.body, leads=leads, co=co, implied=implied,
                              targets=_targets(n.body), clause=n.clause, lead_rule=rule if leads else "",
                              placeholders=placeholders, due=due_of(n.parsed.deadlines, n.own))
            tasks.append(draft)
            if not leads:
                warnings.append(f"measure {n.code} has no lead unit")
        elif n.role == "unassigned":
            unassigned.append(TaskDraft(code=n.code, title=n.title, text=n.body, leads=[], co=[], implied=[],
                                        targets=_targets(n.body), clause="", due=due_of([], n.own)))
            warnings.append(f"measure {n.code} has no department clause")
        else:
            plan_targets.extend(_targets(n.own))
        imply(n.own)
        pending = list(implied_units)

    valid_from, valid_to = _validity(title, lines[title_index + 1 if title_index is not None else 0:])
    return PlanDraft(
        title=title,
        issuing_body=_issuing_body(lines, title, notice, first_marker),
        valid_from=valid_from,
        valid_to=valid_to,
        outline=[_outline_draft(r) for r in roots],
        tasks=tasks,
        unassigned=unassigned,
        targets=plan_targets,
        implied_units=implied_units,
        departments=registry.departments(),
        warnings=warnings,
    )


def _last_rule(text: str) -> str:
    rules = declared_rules(text)
    return rules[-1][2] if rules else ""


def _decide_leads(nodes: list[_Node], preface: str, registry: _Registry) -> dict[int, tuple]:
    """node id → (leads, co, placeholders, lead rule) in canonical names.

    A convention declared in the preface, in a measure's text or in a clause with 下同 holds from there on;
    placeholders ('有关部门') are set aside, and back-references ('各配合单位', '上述单位') are resolved to the
    units they point at (the tasks under the measure, else the measure above it, else the previous task)."""
    convention = _last_rule(preface)
    raw: dict[int, tuple[list[str], list[str], str]] = {}
    for n in nodes:
        convention = _last_rule(n.body if n.parsed else n.own) or convention
        if not n.parsed:
            continue
        leads, co, rule = n.parsed.decide(convention)
        if n.parsed.rule and n.parsed.persistent:
            convention = n.parsed.rule
        raw[id(n)] = ([registry.canon(u[0]) for u in leads], [registry.canon(u[0]) for u in co], rule)

    def pointed(n: _Node, role: str | None) -> list[str]:
        def pick(entry):
            leads, co = [x for x in entry[0] if not unit_role(x)], [x for x in entry[1] if not unit_role(x)]
            return leads if role in ("牵头", "责任") else co if role else leads + co
        if role is None:    # '上述单位': the units listed beside it, else those of the previous task
            if any(not unit_role(x) for x in raw[id(n)][0] + raw[id(n)][1]):
                return []
            before = [m for m in nodes[:nodes.index(n)] if id(m) in raw]
            return pick(raw[id(before[-1])]) if before else []
        below = [m for m in _walk(n.children) if id(m) in raw]
        if below:
            return _dedupe(x for m in below for x in pick(raw[id(m)]))
        parent = n.parent
        while parent is not None and id(parent) not in raw:
            parent = parent.parent
        return pick(raw[id(parent)]) if parent is not None else []

    decided = {}
    for n in nodes:
        if id(n) not in raw:
            continue
        leads, co, rule = raw[id(n)]
        out: tuple[list[str], list[str]] = ([], [])
        placeholders: list[str] = []
        for names, target in ((leads, out[0]), (co, out[1])):
            for name in names:
                kind = unit_role(name)
                if kind == "backref":
                    m = _BACKREF.fullmatch(name)
                    role = m.group("role") if m else None
                    resolved = pointed(n, role)
                    target.extend(resolved)
                    if not resolved and (role or not any(not unit_role(x) for x in leads + co)):
                        placeholders.append(name)
                elif kind == "placeholder":
                    placeholders.append(name)
                else:
                    target.append(name)
        decided[id(n)] = (out[0], out[1], _dedupe(placeholders), rule)
    return decided


def parse_plan_bytes(data: bytes, filename: str) -> PlanDraft:
    return parse_plan(read_plan_bytes(data, filename))
