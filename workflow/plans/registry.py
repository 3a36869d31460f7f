"""One department registry across plans: which existing department a newly read name probably means.

A second plan names the same bureau differently (a full 发展和改革委员会 and its short 发展改革委, a 住房和城乡建设局 and a
住建局). Exact
names and aliases are reused at import (Department.lookup); the abbreviations found here are only *suggested*
on the review page — the office decides — because two similar names can be two units. Rules, not a list:
joining words (和/及/与) and 委员会→委 fold away, and a shorter name that keeps the longer one's characters in
order, with the same administrative prefix and the same kind of body at the end (局, 委, 办 …), abbreviates it
(住…建…局 in 住房城乡建设局, 人…社…局 in 人力资源社会保障局)."""
from __future__ import annotations

import re

from sqlalchemy import select

from models import Department, DepartmentKind
from workflow.extensions import db

_JOINERS = re.compile(r"(?<=[\u4e00-\u9fff])[和及与](?=[\u4e00-\u9fff])")


def folded(name: str) -> str:
    """The name without spaces and joining words, 委员会 shortened to 委: spellings of one name compare equal."""
    return _JOINERS.sub("", re.sub(r"\s+", "", name)).replace("委员会", "委")


def _in_order(short: str, long: str) -> bool:
    rest = iter(long)
    return all(ch in rest for ch in short)


def abbreviates(a: str, b: str) -> bool:
    """True when one name is a spelling or an abbreviation of the other (never for the same string)."""
    if a == b:
        return False
    x, y = sorted((folded(a), folded(b)), key=len)
    if x == y:
        return True
    return len(x) >= 3 and x[0] == y[0] and x[-1] == y[-1] and _in_order(x, y)


def suggested_matches(names: list[str]) -> dict[str, Department]:
    """For each name that is neither a department nor an alias yet: the existing department it probably
    abbreviates or spells out, when exactly one does (several candidates suggest nothing rather than guess)."""
    registry = db.session.scalars(select(Department).where(Department.kind != DepartmentKind.COLLECTIVE,
                                                           Department.active.is_(True))).all()
    known = {d.name for d in registry}
    for d in registry:
        known.update(d.alias_names)
    found: dict[str, Department] = {}
    for name in names:
        if name in known:
            continue
        candidates = [d for d in registry if any(abbreviates(name, n) for n in (d.name, *d.alias_names))]
        if len(candidates) == 1:
            found[name] = candidates[0]
    return found
