"""The schema comes from the migrations: they must describe exactly what the models declare."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from models.base import render_migration_type
from workflow.extensions import db
from workflow.search.schema import include_name


def test_migrations_match_the_models(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name,
                                                         "render_item": render_migration_type})
        diff = compare_metadata(context, db.metadata)
    assert diff == []
