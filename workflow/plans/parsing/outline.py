"""Outline markers and the tree they build; each node is analysed into title, body and department clause."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from workflow.plans.parsing.clauses import _Clause, _find_clause
from workflow.plans.parsing.draft import OutlineNodeDraft
from workflow.plans.parsing.numerals import _CN_NUM, _cn_to_int

_MARKERS: list[tuple[str, re.Pattern[str]]] = [
    ("part", re.compile(rf"第([{_CN_NUM}0-9]{{1,4}})(?:部分|篇|编)")),
    ("chapter", re.compile(rf"第([{_CN_NUM}0-9]{{1,4}})章")),
    ("section", re.compile(rf"第([{_CN_NUM}0-9]{{1,4}})节")),
    ("article", re.compile(rf"第([{_CN_NUM}0-9]{{1,4}})条")),
    ("cn", re.compile(rf"([{_CN_NUM}]{{1,4}})\s*(?:、|[.．](?![0-9]))")),
    ("cn_paren", re.compile(rf"[(（]\s*([{_CN_NUM}]{{1,4}})\s*[)）]")),
    ("arabic_paren", re.compile(r"[(（]\s*([0-9]{1,3})\s*[)）]")),
    ("circled", re.compile(r"([\u2460-\u2473])")),
    ("decimal", re.compile(r"([0-9]{1,3}(?:[.．][0-9]{1,3}){1,4})(?![0-9万亿千百个倍%])[.．、]?")),
    ("arabic", re.compile(r"([0-9]{1,3})\s*(?:、|[.．](?![0-9]))")),
    ("arabic_rparen", re.compile(r"([0-9]{1,3})\s*[)）]")),
    ("dash", re.compile(r"(?:——|—|――|―|－－|--)")),
]


@dataclass
class _Marker:
    style: str
    marker: str
    number: int | None
    body: str


def _match_marker(line: str) -> _Marker | None:
    for style, pattern in _MARKERS:
        m = pattern.match(line)
        if not m:
            continue
        number = None
        if style == "decimal":
            parts = re.split(r"[.．]", m.group(1))
            style = f"decimal{len(parts)}"
            number = int(parts[-1])
        elif style == "circled":
            number = ord(m.group(1)) - 0x2460 + 1
        elif style != "dash":
            number = _cn_to_int(m.group(1))
        body = line[m.end():].strip().lstrip("：: \u3000")
        return _Marker(style, m.group(0).strip(), number, body)
    return None


def _open_styles(lines: list[str]) -> list[str]:
    """The marker styles open at the end of `lines` (the outline stack), used to place a docx table."""
    stack: list[str] = []
    for line in lines:
        m = _match_marker(line.strip())
        if m is None or m.style == "dash":
            continue
        if m.style in stack:
            del stack[stack.index(m.style):]
        stack.append(m.style)
    return stack


@dataclass
class _Node:
    style: str
    marker: str
    number: int | None
    lines: list[str]
    parent: _Node | None = None
    children: list[_Node] = field(default_factory=list)
    code: str = ""
    level: int = 1
    own: str = ""
    body: str = ""
    clause: str = ""
    parsed: _Clause | None = None
    title: str = ""
    text: str = ""
    role: str = ""   # 'task' | 'unassigned' | 'group' | 'preamble'


def plain_headings(lines: list[str], start: int) -> set[int]:
    """Unnumbered headings a document uses instead of markers: a short line without punctuation whose
    following text ends with a department clause.  Only when there are two or more, so a stray short line
    in an ordinary plan stays text."""
    found: set[int] = set()
    candidates = [i for i in range(start, len(lines) - 1)
                  if len(lines[i]) <= 30 and not re.search(r"[。；;，,：:！？!?、]", lines[i])
                  and not _match_marker(lines[i]) and not _match_marker(lines[i + 1])
                  and len(lines[i + 1]) > len(lines[i])]
    for k, i in enumerate(candidates):
        end = next((j for j in range(i + 1, len(lines)) if _match_marker(lines[j])), len(lines))
        if k + 1 < len(candidates):
            end = min(end, candidates[k + 1])
        if _find_clause("\n".join(lines[i + 1:end])):
            found.add(i)
    return found if len(found) >= 2 else set()


def _build_outline(lines: list[str], headings: set[int] = frozenset()) -> list[_Node]:
    """Nest marked lines like a stack of marker styles, so levels follow the order styles first appear;
    unmarked lines continue the last node, and —— items hang under the deepest numbered node.
    `headings` are the indices of unnumbered heading lines (style 'plain')."""
    roots: list[_Node] = []
    stack: list[_Node] = []
    last: _Node | None = None
    for i, line in enumerate(lines):
        m = _Marker("plain", "", None, line) if i in headings else _match_marker(line)
        if m is None:
            if last is not None:
                last.lines.append(line)
            continue
        node = _Node(m.style, m.marker, m.number, [m.body])
        if m.style == "dash":
            parent = stack[-1] if stack else None
        else:
            index = next((i for i, n in enumerate(stack) if n.style == m.style), None)
            if index is not None:
                del stack[index:]
            parent = stack[-1] if stack else None
            stack.append(node)
        node.parent = parent
        (parent.children if parent else roots).append(node)
        last = node
    return roots


def _walk(nodes: list[_Node]):
    for n in nodes:
        yield n
        yield from _walk(n.children)


def _first_sentence(text: str) -> str:
    text = text.strip()
    m = re.search(r"[。！？!?；;]", text)
    head = text[:m.start()] if m else text
    colon = re.search(r"[：:]", head)
    if colon and colon.start() <= 25:
        head = head[:colon.start()]
    return head.strip(" \t\n，,。、")


def _analyse(node: _Node) -> None:
    parts = [p for p in node.lines if p]
    node.own = "\n".join(parts)
    found = _find_clause(node.own)
    if found is None:
        # A clause may end an earlier paragraph of the measure, followed by a note.
        for k in range(len(parts) - 1, max(0, len(parts) - 4), -1):
            sub = _find_clause("\n".join(parts[:k]))
            if sub:
                found = (sub[0] + "\n" + "\n".join(parts[k:]), sub[1], sub[2])
                break
    if found:
        node.body, node.clause, node.parsed = found[0].strip(), found[1].strip(), found[2]
    else:
        node.body = node.own
    first = node.lines[0] if node.lines else ""
    first_body = node.body.split("\n")[0] if node.body else ""
    heading = bool(first) and len(first_body) <= 60 and not re.search(r"[。！？!?；;]", first_body.rstrip("。；; "))
    if heading:
        node.title = first_body.strip(" \t，,。；;：:")
        # A bare heading line: its text is what follows it ('' when nothing does).
        node.text = "\n".join(p for p in node.lines[1:] if p) if first == first_body else node.own
    else:
        node.title = _first_sentence(node.body)
        node.text = node.own


def _number_nodes(nodes: list[_Node], prefix: str, level: int, warnings: list[str],
                  running: dict[str, int] | None = None) -> None:
    """Positional codes ('3.4.3'); a written number that disagrees with the position is only a warning,
    unless it runs on through the whole document (measures 1–45 across sections)."""
    running = {} if running is None else running
    seen_styles: dict[str, int] = {}
    for i, node in enumerate(nodes, start=1):
        node.code = f"{prefix}{i}"
        node.level = level
        count = seen_styles[node.style] = seen_styles.get(node.style, 0) + 1
        if node.number is not None and node.style != "dash":
            if node.number not in (count, running.get(node.style, 0) + 1):
                warnings.append(f"outline {node.code}: marker '{node.marker}' is out of sequence")
            running[node.style] = node.number
        _number_nodes(node.children, f"{node.code}.", level + 1, warnings, running)


def _outline_draft(node: _Node) -> OutlineNodeDraft:
    return OutlineNodeDraft(code=node.code, level=node.level, marker=node.marker, title=node.title,
                            text=node.text, children=[_outline_draft(c) for c in node.children])
