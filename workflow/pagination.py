"""One page of a list: Flask-SQLAlchemy's db.paginate, held to the pages that exist."""
from __future__ import annotations

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
