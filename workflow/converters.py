"""Typed ids from URLs, query strings and forms, with one bound: no number a visitor types reaches the database as
something its id columns cannot hold (INTEGER: PostgreSQL refuses 2**31 with DataError, SQLite 2**63 with
OverflowError; either would be a 500). A number out of range is no row of ours: 404, or the argument ignored."""
from __future__ import annotations

from collections.abc import Iterable

from flask import request
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1   # the largest value of an INTEGER primary key on PostgreSQL


class IdConverter(IntegerConverter):
    """`<id:report_id>`: 1 .. MAX_ID in ASCII digits; 0, negative, larger or other segments match no route (404)."""

    regex = r"[0-9]+"

    def __init__(self, map) -> None:
        super().__init__(map, min=1, max=MAX_ID)


def parse_id(value) -> int | None:
    """A positive id from a form or query value, else None (never an exception: '²', '1e3', '', 10**30)."""
    text = str(value if value is not None else "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def parse_version(value) -> int | None:
    """The version a form was rendered with, for the optimistic check: None when it sent none (no check), 0 when
    it sent anything but a version (no row has version 0: a conflict, never "any version")."""
    if not str(value if value is not None else "").strip():
        return None
    return parse_id(value) or 0


def parse_ids(values: Iterable) -> list[int]:
    """The valid ids among ticked checkboxes, each once, in order; the rest are ignored."""
    return sorted({n for n in map(parse_id, values) if n is not None})


def id_arg(name: str) -> int | None:
    """A positive integer query argument (an id filter), None when missing or not one."""
    return parse_id(request.args.get(name))


def page_arg(source=None) -> int:
    """The `page` argument of a list (query string, or the form that posts back to it): 1 unless a valid number."""
    return parse_id((request.args if source is None else source).get("page")) or 1
