"""Input normalisation and bracket-aware splitting shared by the outline, clause and target rules."""
from __future__ import annotations

import re

from workflow.plans.parsing.numerals import _FULLWIDTH_DIGITS

_OPEN = "(（〔[【{「［"
_CLOSE = ")）〕]】}」］"


def _split_top(s: str, seps: str) -> list[str]:
    """Split on separators outside brackets, so '各县（市、区）政府' stays one name."""
    parts, cur, depth = [], [], 0
    for ch in s:
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
        if depth == 0 and ch in seps:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _depths(s: str) -> list[int]:
    """Bracket depth before each character."""
    out, depth = [], 0
    for ch in s:
        if ch in _CLOSE:
            depth = max(0, depth - 1)
        out.append(depth)
        if ch in _OPEN:
            depth += 1
    return out


def _trailing_group(s: str) -> int | None:
    """Index of the opening bracket that matches the closing bracket ending `s`."""
    if not s or s[-1] not in _CLOSE:
        return None
    depth = 0
    for i in range(len(s) - 1, -1, -1):
        if s[i] in _CLOSE:
            depth += 1
        elif s[i] in _OPEN:
            depth -= 1
            if depth == 0:
                return i
    return None


def _clean_lines(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    text = re.sub(r"[\u200b\u200c\u200d\ufeff]", "", text).translate(_FULLWIDTH_DIGITS)
    out = []
    for line in text.split("\n"):
        line = line.strip(" \t\u3000\xa0\x0b\x0c")
        if line:
            out.append(line)
    return out


def _dedupe(names) -> list[str]:
    out: list[str] = []
    for n in names:
        if n not in out:
            out.append(n)
    return out


def _quoted_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r"《[^《》]*》", text)]
