"""One page of a list: Flask-SQLAlchemy's db.paginate, held to the pages that exist; and the same for a list
already in memory (rows computed in Python from a fixed number of queries, such as the overview's tasks)."""
from __future__ import annotations

from collections.abc import Sequence

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select

from workflow.extensions import db


def paginate(query: Select, *, page: int, per_page: int) -> Pagination:
    """The page asked for, or the last one when it is past the end (an old link after rows went away, a typed
    number): a list page never shows an empty page while there are rows. `page` comes from converters.page_arg."""
    pagination = db.paginate(query, page=max(page, 1), per_page=per_page, error_out=False)
    if pagination.page > 1 and pagination.page > pagination.pages:
        pagination = db.paginate(query, page=max(pagination.pages, 1), per_page=per_page, error_out=False)
    return pagination


class ListPagination(Pagination):
    """A Pagination over a sequence, so templates/macros/pager.html serves it like a query's."""

    def _query_items(self) -> list:
        rows = self._query_args["rows"]
        return list(rows[self._query_offset:self._query_offset + self.per_page])

    def _query_count(self) -> int:
        return len(self._query_args["rows"])


def paginate_list(rows: Sequence, *, page: int, per_page: int) -> Pagination:
    """As paginate(), over rows in memory."""
    last = max((len(rows) + per_page - 1) // per_page, 1)
    return ListPagination(page=min(max(page, 1), last), per_page=per_page, max_per_page=None, error_out=False,
                          rows=rows)
