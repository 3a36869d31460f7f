"""The search index's database objects are the search migration's (migrations/versions/22458ef7f5a7_search_index.py),
not the models': FTS5 tables and their shadow tables on SQLite, trigram indexes on PostgreSQL, all named
search_*. Autogenerate and the schema test skip them through this hook, so `flask db migrate` never drops them."""
from __future__ import annotations

PREFIX = "search_"


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's include_name: everything but the search index's tables and indexes."""
    return not (type_ in ("table", "index") and name is not None and name.startswith(PREFIX))
