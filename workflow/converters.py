"""URL converters. `<id:name>` matches a database id, 1 to 2**31-1: the primary keys are INTEGER columns, and
a larger number overflows PostgreSQL's INTEGER (SQLite's at 2**63), a 500. No such id can exist, so it is no
match: a 404, like any unknown id."""
from __future__ import annotations

from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # the largest value of an INTEGER primary key


def _at_most(limit: str) -> str:
    """A regex for the numbers with as many digits as `limit` that are not above it."""
    branches = [limit]
    for i, digit in enumerate(map(int, limit)):
        low, rest = (1 if i == 0 else 0), len(limit) - i - 1
        if digit > low:
            span = str(low) if digit - 1 == low else f"[{low}-{digit - 1}]"
            branches.append(limit[:i] + span + (rf"\d{{{rest}}}" if rest else ""))
    return "|".join(branches)


class IdConverter(IntegerConverter):
    # The bound is in the pattern, not only in to_python: werkzeug answers 405 instead of 404 when a path
    # matches a rule of another method and this one's value is then refused.
    regex = rf"(?:[1-9]\d{{0,{len(str(MAX_ID)) - 2}}}|{_at_most(str(MAX_ID))})"

    def __init__(self, url_map, *args, **kwargs):
        super().__init__(url_map, min=1, max=MAX_ID)
