"""A revised plan (年度调整) against the stored one: which new measure is which old task, and what changed.

Pure (no database): both sides are PlanDrafts, the stored plan through `plan_to_draft` (the plan as it stands). Measures are matched by
their text, not by their number, because a revision that drops or inserts a measure renumbers everything after
it: character bigrams of the normalised text (punctuation, spaces and half/full width do not count) give a
similarity, the same code and the same leads add a little to it, and pairs are taken best first, one to one.
A pair with the same normalised text, departments, targets and due date is unchanged whatever its number; a
weaker pair is the same task reworded (changed, with the fields that differ); what is left over is added or
removed. `canon` maps a department name as the document spells it to the registry's names (an alias to its
department, a collective with members to its members, as publishing expanded it), so a renamed department
that the registry knows is no change.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from workflow.plans.parsing import PlanDraft, TargetDraft, TaskDraft

FIELDS = ("title", "text", "leads", "co", "targets", "due")
UNCHANGED, CHANGED, ADDED, REMOVED = "unchanged", "changed", "added", "removed"
KINDS = (CHANGED, ADDED, REMOVED, UNCHANGED)

MATCH = 0.5          # a pair scoring at least this is one task (reworded at worst)
RELATED = 0.3        # an added measure this close to an old one is shown as probably split from it
SAME_CODE = 0.15     # the same number makes a reworded pair likelier ...
SAME_LEADS = 0.15    # ... and so do the same leading departments
EXACT = 2.0          # identical text outranks any similarity

_NOT_TEXT = re.compile(r"[\W_]+")

Canon = Callable[[str], list[str]]


def normalised(text: str) -> str:
    """Text without spaces and punctuation, full-width letters and digits folded: '1.开展,改造' ≈ '1．开展，改造'."""
    folded = "".join(chr(ord(c) - 0xFEE0) if "！" <= c <= "～" else c for c in text)
    return _NOT_TEXT.sub("", folded).lower()


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)} or ({text} if text else set())


@dataclass
class TaskChange:
    kind: str
    old: TaskDraft | None
    new: TaskDraft | None
    fields: list[str] = field(default_factory=list)
    similarity: float = 0.0
    related: str | None = None          # an added measure: the old code it was probably split from

    @property
    def code(self) -> str:
        return (self.new or self.old).code

    @property
    def renumbered(self) -> bool:
        return self.old is not None and self.new is not None and self.old.code != self.new.code

    def to_dict(self) -> dict:
        out = {"code": self.code, "title": (self.new or self.old).title}
        if self.old is not None and self.new is not None:
            out["old_code"] = self.old.code
        if self.kind == CHANGED:
            out["fields"] = list(self.fields)
        if self.related:
            out["related"] = self.related
        return out


@dataclass
class PlanDiff:
    changes: list[TaskChange]

    def of(self, kind: str) -> list[TaskChange]:
        return [c for c in self.changes if c.kind == kind]

    @property
    def matched(self) -> int:
        return sum(1 for c in self.changes if c.kind in (UNCHANGED, CHANGED))

    @property
    def counts(self) -> dict[str, int]:
        return {kind: len(self.of(kind)) for kind in KINDS}

    def for_new(self, code: str) -> TaskChange | None:
        return next((c for c in self.changes if c.new is not None and c.new.code == code), None)

    def to_dict(self) -> dict:
        return {kind: [c.to_dict() for c in self.of(kind)] for kind in (ADDED, REMOVED, CHANGED, UNCHANGED)}


def inline_diff(old: str, new: str) -> list[tuple[str, str]]:
    """The new wording against the old as ('same' | 'del' | 'ins', text) pieces, for the review page to mark."""
    pieces: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append(("same", old[i1:i2]))
            continue
        if i2 > i1:
            pieces.append(("del", old[i1:i2]))
        if j2 > j1:
            pieces.append(("ins", new[j1:j2]))
    return pieces


def all_tasks(draft: PlanDraft) -> list[TaskDraft]:
    return [*draft.tasks, *draft.unassigned]


def _names(names: Iterable[str], canon: Canon) -> set[str]:
    return {c for n in names for c in canon(n)}


def _targets(targets: list[TargetDraft]) -> set[tuple]:
    return {(t.year, float(t.value), t.unit, t.comparator) for t in targets}


def changed_fields(old: TaskDraft, new: TaskDraft, canon: Canon = lambda n: [n]) -> list[str]:
    """The fields of FIELDS that differ. A new measure that names no department at all keeps the task's
    departments (the office assigned it by hand, or the revision only restates the text): no change there."""
    out = []
    if normalised(old.title) != normalised(new.title):
        out.append("title")
    if normalised(old.text) != normalised(new.text):
        out.append("text")
    if new.leads or new.co:
        if _names(old.leads, canon) != _names(new.leads, canon):
            out.append("leads")
        if _names([*old.co, *old.implied], canon) != _names([*new.co, *new.implied], canon):
            out.append("co")
    if _targets(old.targets) != _targets(new.targets):
        out.append("targets")
    if (old.due or None) != (new.due or None):
        out.append("due")
    return out


def diff_plans(old: PlanDraft, new: PlanDraft, canon: Canon = lambda n: [n]) -> PlanDiff:
    """Match the revised draft's measures to the stored ones and classify every task (see the module doc)."""
    olds, news = all_tasks(old), all_tasks(new)
    old_grams = [_bigrams(normalised(t.text or t.title)) for t in olds]
    new_grams = [_bigrams(normalised(t.text or t.title)) for t in news]
    index: dict[str, list[int]] = {}
    for i, grams in enumerate(old_grams):
        for g in grams:
            index.setdefault(g, []).append(i)
    old_norm = [normalised(t.text or t.title) for t in olds]
    old_leads = [_names(t.leads, canon) for t in olds]

    pairs: list[tuple[float, int, int, float]] = []
    best_old: dict[int, tuple[float, int]] = {}
    for j, grams in enumerate(new_grams):
        shared = Counter(i for g in grams for i in index.get(g, ()))
        norm, leads = normalised(news[j].text or news[j].title), _names(news[j].leads, canon)
        for i, n in shared.items():
            sim = 2 * n / (len(old_grams[i]) + len(grams))   # Dice coefficient of the bigram sets
            best_old[j] = max(best_old.get(j, (0.0, -1)), (sim, i))
            if sim < MATCH - SAME_CODE - SAME_LEADS:
                continue
            score = (EXACT if norm == old_norm[i] else sim) \
                + (SAME_CODE if olds[i].code == news[j].code else 0) \
                + (SAME_LEADS if leads and leads == old_leads[i] else 0)
            pairs.append((score, i, j, sim))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))

    taken_old: set[int] = set()
    matched: dict[int, tuple[int, float]] = {}
    for score, i, j, sim in pairs:
        if score < MATCH or i in taken_old or j in matched:
            continue
        taken_old.add(i)
        matched[j] = (i, sim)

    changes: list[TaskChange] = []
    for j, new_task in enumerate(news):
        if j in matched:
            i, sim = matched[j]
            fields = changed_fields(olds[i], new_task, canon)
            changes.append(TaskChange(CHANGED if fields else UNCHANGED, olds[i], new_task, fields, round(sim, 3)))
        else:
            sim, i = best_old.get(j, (0.0, -1))
            related = olds[i].code if i >= 0 and sim >= RELATED else None
            changes.append(TaskChange(ADDED, None, new_task, similarity=round(sim, 3), related=related))
    changes.extend(TaskChange(REMOVED, t, None) for i, t in enumerate(olds) if i not in taken_old)
    return PlanDiff(changes)
