"""Typed ids from URLs, query strings and forms. `<id:name>` matches a database id, 1 to 2**31-1: the primary keys
are INTEGER columns, and a larger number overflows PostgreSQL's INTEGER (SQLite's at 2**63), a 500. No such id
can exist, so it is no match: a 404, like any unknown id. The parse_* helpers hold form and query values to the
same bound (a value out of range is no choice, never an exception)."""
from __future__ import annotations

from collections.abc import Iterable

from flask import request
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # the largest value of an INTEGER primary key


def _at_most(limit: str) -> str:
    """A regex for the numbers with as many digits as `limit` that are not above it."""
    branches = [limit]
    for i, digit in enumerate(map(int, limit)):
        low, rest = (1 if i == 0 else 0), len(limit) - i - 1
        if digit > low:
            span = str(low) if digit - 1 == low else f"[{low}-{digit - 1}]"
            branches.append(limit[:i] + span + (f"[0-9]{{{rest}}}" if rest else ""))
    return "|".join(branches)


class IdConverter(IntegerConverter):
    # The bound is in the pattern, not only in to_python: werkzeug answers 405 instead of 404 when a path
    # matches a rule of another method and this one's value is then refused.
    regex = rf"(?:[1-9][0-9]{{0,{len(str(MAX_ID)) - 2}}}|{_at_most(str(MAX_ID))})"

    def __init__(self, url_map, *args, **kwargs):
        super().__init__(url_map, min=1, max=MAX_ID)


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
