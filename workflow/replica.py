"""Reads of the heavy pages from a PostgreSQL read replica (DATABASE_REPLICA_URL), writes always to the primary.

When the setting is absent everything reads from the primary, as on one machine. When set, a second engine is
made once per app; for the GET and HEAD requests of the pages in HEAVY_READ_PAGES (overview, indicator tracker,
ledger, evaluation view, search) the request's session sends plain SELECTs to it (models.base.Session). Flushes,
INSERT/UPDATE/DELETE, SELECT ... FOR UPDATE and the rate-limit counters stay on the primary, so a page that had
to write would still write to the right place. A replica lags by its replication delay: the pages listed show
aggregate figures where a second's delay is harmless; pages whose reader just wrote (a report, the review queue)
are not listed."""
from __future__ import annotations

from flask import Flask, current_app, request
from sqlalchemy import Engine, create_engine

from models.base import READ_REPLICA
from workflow.extensions import db

HEAVY_READ_PAGES = frozenset({
    "overview.index", "overview.show", "overview.tasks",
    "targets.index",
    "ledger.index", "ledger.export",
    "evaluation.show", "evaluation.department",
    "search.index",
})
_KEY = "read_replica"


def init_app(app: Flask) -> None:
    url = app.config.get("DATABASE_REPLICA_URL")
    if not url:
        return
    app.extensions[_KEY] = create_engine(url, **(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}))
    app.before_request(_route_reads)
    app.teardown_request(_stop_routing)


def engine() -> Engine | None:
    """The replica's engine, or None when reads go to the primary."""
    return current_app.extensions.get(_KEY)


def _route_reads() -> None:
    if request.method in ("GET", "HEAD") and request.endpoint in HEAVY_READ_PAGES:
        db.session.info[READ_REPLICA] = current_app.extensions[_KEY]


def _stop_routing(_exc=None) -> None:
    """Tests (and the CLI) may keep one session across requests: the routing ends with the request."""
    db.session.info.pop(READ_REPLICA, None)
