"""A measure's deadline: a 完成时限 column or label, a deadline in its clause, or a '…年…月底前' phrase in its text.

Written out as an ISO date (the last day of the stated month, quarter, half or year) or 'ongoing' for standing
work (持续推进, 长期, 常态化).
"""
from __future__ import annotations

import calendar
import re

_DATE = re.compile(r"(?P<y>(?:19|20)[0-9]{2})\s*年\s*(?:(?P<m>[0-9]{1,2})\s*月(?:\s*(?P<d>[0-9]{1,2})\s*日)?"
                   r"|(?P<half>上半年|下半年)|(?:第?(?P<q>[一二三四1-4])\s*季度))?")
_ONGOING = re.compile(r"长期|持续推进|持续开展|持续实施|持续|常态化|长效|每年|定期")
_LABELLED = re.compile(r"(?:完成时限|完成时间|时间节点|时限要求|完成期限)\s*[】\]〕］]?\s*[:：]\s*(?P<v>[^。；;\n）)】]+)")
# In running text only a phrase that reads as a deadline counts ('2026年6月底前完成'), not a target year.
_PROSE = re.compile(r"(?:19|20)[0-9]{2}\s*年(?:\s*[0-9]{1,2}\s*月(?:\s*[0-9]{1,2}\s*日|底|末)?|底|末|上半年)?\s*(?:前|以前|之前)")


def _last_day(year: int, month: int) -> str:
    month = min(max(month, 1), 12)
    return f"{year:04d}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}"


def normalise_due(text: str) -> str | None:
    """'2026年6月底前' → '2026-06-30', '2026年' → '2026-12-31', '持续推进' → 'ongoing'; the latest date wins."""
    dates = []
    for m in _DATE.finditer(text):
        year = int(m.group("y"))
        if m.group("m"):
            month = int(m.group("m"))
            day = int(m.group("d")) if m.group("d") else None
            last = _last_day(year, month)
            dates.append(last if day is None or not 1 <= day <= int(last[-2:]) else f"{last[:8]}{day:02d}")
        elif m.group("half"):
            dates.append(_last_day(year, 6 if m.group("half") == "上半年" else 12))
        elif m.group("q"):
            dates.append(_last_day(year, 3 * ("一二三四".find(m.group("q")) + 1 if m.group("q") in "一二三四"
                                              else int(m.group("q")))))
        else:
            dates.append(_last_day(year, 12))
    if dates:
        return max(dates)
    return "ongoing" if _ONGOING.search(text) else None


def due_of(clause_deadlines: list[str], text: str) -> str | None:
    """The clause's own deadline first, then a labelled one anywhere in the measure, then one in its text."""
    for source in [*clause_deadlines, *(m.group("v") for m in _LABELLED.finditer(text))]:
        due = normalise_due(source)
        if due:
            return due
    phrases = [m.group(0) for m in _PROSE.finditer(text)]
    return max(d for d in map(normalise_due, phrases) if d) if phrases else None
