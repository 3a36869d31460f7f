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


def test_down_and_up_again_on_sqlite_keeps_every_row(tmp_path):
    """A migration that rebuilds a SQLite table (batch_alter_table) must not cascade-delete what references it:
    with the demo year on the database, stepping back three revisions and forward again loses no row."""
    import flask_migrate
    from alembic.script import ScriptDirectory
    from sqlalchemy import func, select, text

    from models import Assignment, Contribution, Report, ReportValue, Target, Task
    from tests.conftest import _config
    from tests.factories import published_fushun
    from workflow import create_app

    app = create_app(_config(f"sqlite:///{tmp_path / 'upgrade.sqlite'}", UPLOAD_DIR=str(tmp_path / "uploads")))
    with app.app_context():
        flask_migrate.upgrade()
        published_fushun()
        tables = (Task, Assignment, Report, Contribution, Target, ReportValue)
        before = {t.__tablename__: db.session.scalar(select(func.count()).select_from(t)) for t in tables}
        assert before["assignment"] > 0 and before["report"] > 0
        db.session.remove()
        script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
        back = list(script.walk_revisions())[3].revision
        flask_migrate.downgrade(revision=back)
        flask_migrate.upgrade()
        after = {t.__tablename__: db.session.scalar(select(func.count()).select_from(t)) for t in tables}
        assert after == before
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        db.engine.dispose()
