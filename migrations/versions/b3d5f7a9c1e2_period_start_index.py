"""index on period.start: the report lists (the API's, in period then task order) read period by period

Without it PostgreSQL joins every report to its period and task and sorts them all for one page of 50 (a
sequential scan of report and task, growing with the data); with it, it walks the periods in order and stops
once the page is full. Plain CREATE INDEX: no table is recreated, so SQLite's search triggers stay as they are.

Revision ID: b3d5f7a9c1e2
Revises: b8d2f4a6c0e1
Create Date: 2026-12-02 06:45:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b3d5f7a9c1e2'
down_revision = 'b8d2f4a6c0e1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_period_start", "period", ["start"])


def downgrade():
    op.drop_index("ix_period_start", table_name="period")
