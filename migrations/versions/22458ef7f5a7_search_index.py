"""search index: pg_trgm trigram indexes on PostgreSQL, FTS5 trigram tables on SQLite

Chinese has no spaces between words, so neither database's word tokenizer fits; trigrams need none. On
PostgreSQL the pg_trgm extension (created here when the role may; it is a trusted extension since 13) and GIN
trigram indexes on the searched columns serve ILIKE and similarity(). On SQLite, FTS5 tables with the trigram
tokenizer mirror the searched columns (external content, so nothing is stored twice), kept in sync by the
triggers below: every write of task or report, from any code path, updates them.

Everything here is named search_*: workflow/search/schema.py tells autogenerate to leave those alone. A later
migration that recreates task or report on SQLite (batch_alter_table) drops these triggers with the old table and
must create them again (tests/test_search.py fails if it does not).

Revision ID: 22458ef7f5a7
Revises: 9cf652326234
Create Date: 2026-12-02 10:00:00

"""
import logging

from alembic import op
from sqlalchemy.exc import DBAPIError

# revision identifiers, used by Alembic.
revision = '22458ef7f5a7'
down_revision = '9cf652326234'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# table -> the columns searched
COLUMNS = {"task": ("code", "title", "text"), "report": ("narrative",)}


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table, columns in COLUMNS.items():
            for column in columns:
                op.execute(f"DROP INDEX IF EXISTS search_{table}_{column}_trgm")
        return  # the extension stays: other objects may use it
    for table in COLUMNS:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS search_{table}_{trigger}")
        op.execute(f"DROP TABLE IF EXISTS search_{table}")


def _upgrade_postgresql():
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError as exc:
        log.warning("pg_trgm could not be created (%s); search works without its indexes and ranking. "
                    "A superuser can run CREATE EXTENSION pg_trgm and then `flask --app wsgi db downgrade -1` "
                    "and `db upgrade` to add them.", exc.orig)
        return
    # The extension may already live in another schema than the one being migrated (one per database, e.g. in
    # `public` or a DBA's `extensions` schema, while the tables go to a schema of their own): name its operator
    # class with that schema, since it need not be on the search path.
    schema = bind.exec_driver_sql(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'").scalar_one()
    opclass = f'"{schema}".gin_trgm_ops'
    for table, columns in COLUMNS.items():
        for column in columns:
            op.execute(f"CREATE INDEX IF NOT EXISTS search_{table}_{column}_trgm ON {table} "
                       f"USING gin ({column} {opclass})")


def _upgrade_sqlite():
    for table, columns in COLUMNS.items():
        fts = f"search_{table}"
        names = ", ".join(columns)
        new = ", ".join(f"new.{c}" for c in columns)
        old = ", ".join(f"old.{c}" for c in columns)
        op.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, content='{table}', content_rowid='id', "
                   f"tokenize='trigram')")
        op.execute(f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN "
                   f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new}); END")
        op.execute(f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN "
                   f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old}); END")
        op.execute(f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {names} ON {table} BEGIN "
                   f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old}); "
                   f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new}); END")
        op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
