"""One page of a list: Flask-SQLAlchemy's db.paginate, held to the pages that exist; and the same for a list
already in memory (rows computed in Python from a fixed number of queries, such as the overview's tasks)."""
from __future__ import annotations

from flask_sqlalchemy.pagination import Pagination, SelectPagination
from sqlalchemy import Select, func, select

from workflow.extensions import db


class CountedPagination(SelectPagination):
    """db.paginate's page, its total counted from `count_from` when given: the same rows selected without what
    only the page's order reads (a join per row of every report, for a count); or the `total` the caller has
    already counted (the review queue's counts per state add up to it)."""

    def _query_count(self) -> int:
        if self._query_args.get("total") is not None:
            return self._query_args["total"]
        lean = self._query_args.get("count_from")
        if lean is None:
            return super()._query_count()
        return self._query_args["session"].execute(select(func.count()).select_from(lean.subquery())).scalar()


class RowPagination(CountedPagination):
    """A page of rows of several columns (db.paginate gives the first column's values only)."""

    def _query_items(self) -> list:
        select = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(self._query_args["session"].execute(select).all())


def paginate(query: Select, *, page: int, per_page: int, rows: bool = False, count_from: Select | None = None,
             total: int | None = None, held: bool = True, max_per_page: int | None = 100) -> Pagination:
    """The page asked for, or (`held`, for pages) the last one when it is past the end (an old link after rows
    went away, a typed number): a list page never shows an empty page while there are rows; the API answers a
    page past the end with no items. `page` comes from converters.page_arg. With `rows`, a select of plain
    columns (a search's union of kinds and ids) gives Row tuples as items. `count_from`: the select the total
    is counted from, or `total` already counted (CountedPagination)."""
    kind = RowPagination if rows else CountedPagination

    def one(number: int) -> Pagination:  # what db.paginate(query, error_out=False) builds
        return kind(select=query, session=db.session(), page=number, per_page=per_page, max_per_page=max_per_page,
                    error_out=False, count_from=count_from, total=total)

    pagination = one(max(page, 1))
    if held and pagination.page > 1 and pagination.page > pagination.pages:
        pagination = one(max(pagination.pages, 1))
    return pagination


class ListPagination(Pagination):
    """db.paginate's page over rows already in memory: lists whose order is computed, not queried (the indicator
    tracker sorts by how far each target is off track), with the same attributes the pager and the API read."""

    def _query_items(self) -> list:
        rows = self._query_args["rows"]
        return rows[self._query_offset:self._query_offset + self.per_page]

    def _query_count(self) -> int:
        return len(self._query_args["rows"])


def paginate_list(rows: list, *, page: int, per_page: int, held: bool = True) -> Pagination:
    """`paginate` for a list: the page asked for, or (`held`, for pages) the last one when it is past the end;
    the API answers a page past the end with no items, as its other lists do."""
    if held:
        page = min(max(page, 1), max((len(rows) + per_page - 1) // per_page, 1))
    return ListPagination(page=page, per_page=per_page, max_per_page=None, error_out=False, rows=rows)
