"""Dates on the SQL side, the same on PostgreSQL and SQLite: the local (Beijing) day of a stored UTC moment, a
date or moment written into a key as Python's strftime writes it (so a set-based rule can look a key up without
loading the row it names), and a number per day computed in Python by the calendar, looked up by a column (so
an UPDATE sets working days late without loading the rows)."""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Date, Integer, String, bindparam, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from workflow.clock import LOCAL_TZ

__all__ = ["formatted", "local_date", "looked_up"]

_PG_PATTERN = {"%Y": "YYYY", "%m": "MM", "%d": "DD", "%H": "HH24", "%M": "MI", "%S": "SS"}


def _offset_hours() -> int:
    """Asia/Shanghai keeps one offset all year (no daylight saving since 1991), so a fixed shift is exact."""
    offset = LOCAL_TZ.utcoffset(datetime(2000, 1, 1))
    assert offset == LOCAL_TZ.utcoffset(datetime(2000, 7, 1)), "a zone with daylight saving needs a zone-aware SQL day"
    return int(offset.total_seconds() // 3600)


class formatted(FunctionElement):
    """`formatted(column, "%Y%m%d%H%M%S")`: a date or naive-UTC timestamp column as text (the codes of _PG_PATTERN)."""

    type = String()
    name = "formatted"
    inherit_cache = True

    def __init__(self, column, fmt: str):
        super().__init__(column, literal_column(f"'{fmt}'"))   # the format is part of the statement (and its cache key)


class local_date(FunctionElement):
    """The local day of a stored (naive UTC) timestamp."""

    type = Date()
    name = "local_date"
    inherit_cache = True


def _parts(element, compiler, **kw) -> tuple[str, str]:
    column, fmt = list(element.clauses)
    return compiler.process(column, **kw), fmt.name.strip("'")


@compiles(formatted, "postgresql")
def _formatted_pg(element, compiler, **kw):
    column, fmt = _parts(element, compiler, **kw)
    for code, pattern in _PG_PATTERN.items():
        fmt = fmt.replace(code, pattern)
    return f"to_char({column}, '{fmt}')"


@compiles(formatted, "sqlite")
def _formatted_sqlite(element, compiler, **kw):
    column, fmt = _parts(element, compiler, **kw)
    return f"strftime('{fmt}', {column})"


@compiles(local_date, "postgresql")
def _local_date_pg(element, compiler, **kw):
    return f"CAST({compiler.process(list(element.clauses)[0], **kw)} + INTERVAL '{_offset_hours()} hours' AS DATE)"


@compiles(local_date, "sqlite")
def _local_date_sqlite(element, compiler, **kw):
    return f"date({compiler.process(list(element.clauses)[0], **kw)}, '+{_offset_hours()} hours')"


class _looked_up(FunctionElement):
    type = Integer()
    name = "looked_up"
    inherit_cache = True


def looked_up(values: dict[str, int], key) -> FunctionElement:
    """`values[key]` in SQL (NULL when absent), the table passed as one JSON parameter: one statement and one
    cached compilation whatever its size (a CASE per entry would be neither)."""
    return _looked_up(bindparam(None, json.dumps(values), type_=String), key)


@compiles(_looked_up, "postgresql")
def _looked_up_pg(element, compiler, **kw):
    table, key = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST((CAST({table} AS JSONB) ->> ({key})) AS INTEGER)"


@compiles(_looked_up, "sqlite")
def _looked_up_sqlite(element, compiler, **kw):
    table, key = (compiler.process(c, **kw) for c in element.clauses)
    return f"""CAST(json_extract({table}, '$."' || ({key}) || '"') AS INTEGER)"""   # a quoted label: keys are dates
