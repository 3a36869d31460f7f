"""index on coalesce(report.submitted_at, report.updated_at): the review queue's order

The queue lists reports oldest hand-in first (Report.queue_moment). Without an index PostgreSQL joins every
report matching the filter to its period and task and sorts them all for a page of 50 (65 ms for every status
at the 0.1 province); with it, it walks the reports in that order and stops once the page is full (3 ms).
Plain CREATE INDEX: no table is recreated, so SQLite's search triggers stay as they are.

Revision ID: c19cf6d4ba0c
Revises: b3d5f7a9c1e2
Create Date: 2026-12-02 14:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c19cf6d4ba0c'
down_revision = 'b3d5f7a9c1e2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_report_queue_order", "report", [sa.text("coalesce(submitted_at, updated_at)")])


def downgrade():
    op.drop_index("ix_report_queue_order", table_name="report")
