"""Declarative base with a naming convention (stable constraint names for Alembic) and shared column types."""
import re
from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import ColumnElement, DateTime, MetaData, TypeDecorator
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.selectable import GenerativeSelect

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


READ_REPLICA = "read_replica"
_READ_ONLY_SQL = re.compile(r"\s*SELECT\b(?!.*\bFOR\s+(UPDATE|SHARE|NO\s+KEY|KEY)\b)", re.IGNORECASE | re.DOTALL)


class Session(FlaskSession):
    """SELECTs (built or raw SQL) go to the engine in `session.info[READ_REPLICA]` when one is set
    (workflow/replica.py sets it for the heavy read pages); flushes, DML, SELECT ... FOR UPDATE/SHARE and other
    raw SQL go to the primary, and once one has, so does everything after it: a session reads its own writes,
    which the replica does not have yet."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        replica = self.info.get(READ_REPLICA)
        if replica is not None and bind is None and not self._flushing:
            if mapper is None and clause is None:  # get_bind() to learn the dialect: the replica's is the same
                return replica
            if isinstance(clause, GenerativeSelect) and clause._for_update_arg is None:
                return replica
            if isinstance(clause, TextClause) and _READ_ONLY_SQL.match(clause.text):
                return replica  # a function with side effects would fail loudly there: a replica is read-only
        if replica is not None and bind is None:
            del self.info[READ_REPLICA]
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


# Created here rather than in workflow.extensions so that models import it without a cycle; the extension
# module re-exports it and create_app() binds it.
db = SQLAlchemy(model_class=Base, session_options={"class_": Session})


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend: SQLite keeps no offset, so we store naive UTC and re-attach it."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; pass an aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def in_clause(*values: str) -> str:
    """SQL list for CHECK constraints that mirror a Python enum of state names."""
    return ", ".join(f"'{v}'" for v in values)


def contains(column, text: str) -> ColumnElement[bool]:
    """`column ILIKE '%text%'` with LIKE's wildcards in `text` escaped, so what a user typed is looked for as
    typed (`100%`, `A_1`): the text filters of lists, the API and search."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return column.ilike(pattern, escape="\\")


def render_migration_type(type_: str, obj, autogen_context):
    """Alembic hook: migrations spell UTCDateTime as plain sa.DateTime so they never import model code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False
