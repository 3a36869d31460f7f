"""Search (搜索) across tasks (code, title, text), departments (name, aliases) and reports (narrative), limited to
what the user may see by the models' visible_filter rules: a liaison finds its department's reports and the tasks
it has a part in, never another department's report.

One function, `search(user, q, page=...)`, on both databases. Chinese is written without spaces, so both match
substrings by trigrams rather than by words: on PostgreSQL ILIKE served by pg_trgm's GIN indexes, ranked by
similarity(); on SQLite the FTS5 trigram tables (MATCH, ranked by bm25()). A trigram needs three characters, so a
term of one or two (`碳`, `光伏`) is matched with LIKE instead (on SQLite the trigram table cannot answer it;
PostgreSQL scans). The migration 22458ef7f5a7 creates the indexes and, on SQLite, the triggers that keep them in
step with every write.

The query is split on spaces into terms that must all occur (in any searched field of the item). Terms are
data, never syntax: LIKE wildcards are escaped, and every FTS term is one quoted string, so `%`, `_`, quotes,
`*`, `NEAR`, `AND` or `-` are looked for as typed. Departments are a few hundred rows at most and are matched
with LIKE on both databases.

Ranking, best first: an exact task code or department name; then items whose title or name holds every term;
then the rest; within each, the database's score (similarity or bm25), then kind and id, so pages are stable.
Highlighting escapes the text first, then marks the hits (`<mark>`), in Python, the same on both databases."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from flask_sqlalchemy.pagination import Pagination
from markupsafe import Markup, escape
from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    case,
    cast,
    column,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    union_all,
)
from sqlalchemy.orm import selectinload

from models import Assignment, Department, DepartmentAlias, Report, Task, User
from models.base import contains
from workflow.extensions import db
from workflow.pagination import paginate

PER_PAGE = 20
MAX_QUERY = 100      # characters of the query that are used
MAX_TERMS = 8
TRIGRAM = 3          # the shortest term a trigram index can answer
EXCERPT = 90         # characters of text shown around the first hit
KINDS = ("department", "task", "report")   # also the order of equally ranked hits

# The SQLite FTS5 tables of the search migration (rowid = the row's id).
_FTS = {
    "task": table("search_task", column("rowid")),
    "report": table("search_report", column("rowid")),
}
_FTS_WEIGHTS = {"task": (8.0, 4.0, 1.0), "report": (1.0,)}   # bm25 weights: code, title, text / narrative


@dataclass(frozen=True)
class Query:
    text: str                 # the normalised query (spaces collapsed, cut at MAX_QUERY)
    terms: tuple[str, ...]    # what must all occur, longest first


def parse_query(q: str | None) -> Query | None:
    """The query as searched, or None when nothing is left to look for."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in (q or ""))
    words = cleaned.split()
    normalised = " ".join(words)[:MAX_QUERY].strip()
    terms: list[str] = []
    for word in normalised.split():
        if word.casefold() not in {t.casefold() for t in terms}:
            terms.append(word)
    if not terms:
        return None
    return Query(normalised, tuple(sorted(terms[:MAX_TERMS], key=len, reverse=True)))


# -- highlighting ------------------------------------------------------------------------------------------

def _pattern(terms: tuple[str, ...]) -> re.Pattern:
    return re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)


def highlight(value: str | None, terms: tuple[str, ...]) -> Markup:
    """The text, HTML-escaped, with every occurrence of a term wrapped in <mark>."""
    value = value or ""
    out, last = [], 0
    for hit in _pattern(terms).finditer(value):
        out.append(escape(value[last:hit.start()]))
        out.append(Markup("<mark>%s</mark>") % hit.group(0))
        last = hit.end()
    out.append(escape(value[last:]))
    return Markup("").join(out)


def excerpt(value: str | None, terms: tuple[str, ...], width: int = EXCERPT) -> Markup:
    """About `width` characters of the text around its first hit (its start when there is none), highlighted,
    with … where it was cut."""
    value = " ".join((value or "").split())
    hit = _pattern(terms).search(value)
    start = max((hit.start() if hit else 0) - width // 3, 0)
    end = min(start + width, len(value))
    start = max(min(start, end - width), 0)
    return (Markup("…") if start else Markup("")) + highlight(value[start:end], terms) + \
        (Markup("…") if end < len(value) else Markup(""))


# -- the query ---------------------------------------------------------------------------------------------

def _dialect() -> str:
    return db.session.get_bind().dialect.name


@cache
def _has_trigram(url: str) -> bool:
    """pg_trgm's functions are installed and on the search path (the migration creates the extension when it may;
    installed in a schema the connection does not search, it is as good as absent); asked once per database per
    process."""
    return bool(db.session.scalar(text("SELECT to_regprocedure('word_similarity(text,text)') IS NOT NULL")))


def _trigram() -> bool:
    return _dialect() == "postgresql" and _has_trigram(str(db.session.get_bind().engine.url))


@dataclass(frozen=True)
class _Match:
    """How one kind's rows match the query: where-clauses, the score (lower is better) and, on SQLite, the
    FTS5 subquery the score comes from, to join."""

    where: list[ColumnElement[bool]]
    score: ColumnElement
    fts: object | None = None


def _matching(kind: str, fields: list, query: Query) -> _Match:
    """Every term must occur in one of `fields`: through the trigram table for long terms on SQLite (all in one
    MATCH, each a quoted string with its quotes doubled), LIKE for the others and on PostgreSQL."""
    fts = _FTS.get(kind) if _dialect() == "sqlite" else None
    long_terms = [t for t in query.terms if len(t) >= TRIGRAM] if fts is not None else []
    where = [or_(*(contains(f, t) for f in fields)) for t in query.terms if t not in long_terms]
    if long_terms:
        expression = " AND ".join('"' + t.replace('"', '""') + '"' for t in long_terms)
        ranked = (select(fts.c.rowid.label("id"), func.bm25(literal_column(fts.name), *_FTS_WEIGHTS[kind])
                         .label("score"))
                  .where(literal_column(fts.name).op("MATCH")(expression)).subquery())
        return _Match(where, ranked.c.score, ranked)
    if _trigram():
        return _Match(where, -sum((func.word_similarity(query.text, f) for f in fields), literal(0.0)))
    return _Match(where, literal(0.0))


def _rows(kind: str, model, match: _Match, tier: ColumnElement, visible: ColumnElement[bool]) -> Select:
    q = select(literal(kind).label("kind"), model.id.label("id"), tier.label("tier"),
               cast(match.score, Float).label("score"))
    if match.fts is not None:
        q = q.select_from(model).join(match.fts, match.fts.c.id == model.id)
    return q.where(visible, *match.where)


def _task_rows(user: User, query: Query) -> Select:
    tier = case((func.lower(Task.code) == query.text.lower(), 0),
                (and_(*(contains(Task.title, t) for t in query.terms)), 1), else_=2)
    return _rows("task", Task, _matching("task", [Task.code, Task.title, Task.text], query), tier,
                 Task.visible_filter(user))


def _report_rows(user: User, query: Query) -> Select:
    return _rows("report", Report, _matching("report", [Report.narrative], query), literal(2),
                 Report.visible_filter(user))


def _department_rows(user: User, query: Query) -> Select:
    def alias_has(term: str) -> ColumnElement[bool]:
        return exists().where(DepartmentAlias.department_id == Department.id, contains(DepartmentAlias.name, term))

    tier = case((func.lower(Department.name) == query.text.lower(), 0),
                (and_(*(contains(Department.name, t) for t in query.terms)), 1), else_=2)
    score = -func.similarity(Department.name, query.text) if _trigram() else literal(0.0)
    match = _Match([or_(contains(Department.name, t), alias_has(t)) for t in query.terms], score)
    return _rows("department", Department, match, tier, Department.visible_filter(user))


_ROWS = {"department": _department_rows, "task": _task_rows, "report": _report_rows}


# -- the answer --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Hit:
    kind: str                                   # 'task', 'report' or 'department'
    item: Task | Report | Department
    title: Markup                               # highlighted
    excerpt: Markup                             # highlighted


@dataclass
class Results:
    query: Query | None
    kind: str | None                            # the kind the list is limited to, if any
    counts: dict[str, int] = field(default_factory=dict)   # hits per kind, whatever `kind`
    page: Pagination | None = None              # of Hit

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def search(user: User, q: str | None, *, page: int = 1, kind: str | None = None,
           per_page: int = PER_PAGE) -> Results:
    """One page of what `user` may see that matches `q`, best first, with the number of hits per kind. `kind`
    limits the list to tasks, reports or departments (anything else: all kinds)."""
    query = parse_query(q)
    kind = kind if kind in KINDS else None
    if query is None:
        return Results(None, kind)
    parts = {name: build(user, query) for name, build in _ROWS.items()}
    hits = union_all(*parts.values()).subquery("hits")
    counts = {name: 0 for name in KINDS}
    for name, n in db.session.execute(select(hits.c.kind, func.count()).group_by(hits.c.kind)):
        counts[name] = n
    listed = parts[kind].subquery("hits") if kind else hits
    order = case({name: i for i, name in enumerate(KINDS)}, value=listed.c.kind)
    rows = paginate(select(listed.c.kind, listed.c.id).order_by(listed.c.tier, listed.c.score, order, listed.c.id),
                    page=page, per_page=per_page, rows=True)
    rows.items = _hits([(row.kind, row.id) for row in rows.items], query)
    return Results(query, kind, counts, rows)


def _hits(keys: list[tuple[str, int]], query: Query) -> list[Hit]:
    """The page's items loaded in one statement per kind (with what the page shows), highlighted, in order."""
    ids: dict[str, list[int]] = {name: [] for name in KINDS}
    for name, item_id in keys:
        ids[name].append(item_id)
    loaded: dict[tuple[str, int], object] = {}
    if ids["task"]:
        for t in db.session.scalars(select(Task).where(Task.id.in_(ids["task"])).options(
                selectinload(Task.plan), selectinload(Task.assignments).selectinload(Assignment.department))):
            loaded["task", t.id] = t
    if ids["report"]:
        for r in db.session.scalars(select(Report).where(Report.id.in_(ids["report"])).options(
                selectinload(Report.task), selectinload(Report.period), selectinload(Report.department))):
            loaded["report", r.id] = r
    if ids["department"]:
        for d in db.session.scalars(select(Department).where(Department.id.in_(ids["department"]))
                                    .options(selectinload(Department.aliases))):
            loaded["department", d.id] = d
    return [_hit(name, loaded[name, item_id], query.terms) for name, item_id in keys if (name, item_id) in loaded]


def _hit(kind: str, item, terms: tuple[str, ...]) -> Hit:
    if kind == "task":
        return Hit(kind, item, highlight(f"{item.code} {item.title}", terms), excerpt(item.text or item.title, terms))
    if kind == "report":
        return Hit(kind, item, highlight(f"{item.task.code} {item.task.title}", terms),
                   excerpt(item.narrative, terms))
    aliases = "、".join(item.alias_names)
    return Hit(kind, item, highlight(item.name, terms), highlight(aliases, terms) if aliases else Markup(""))
