"""URL converters. `<id:name>` matches a database id, 1 to 2**63-1: anything larger would overflow the
database's BIGINT (a 500), so it is no match, a 404 like any unknown id."""
from __future__ import annotations

from werkzeug.routing import IntegerConverter

MAX_ID = 2**63 - 1


class IdConverter(IntegerConverter):
    def __init__(self, url_map, *args, **kwargs):
        super().__init__(url_map, min=1, max=MAX_ID)
