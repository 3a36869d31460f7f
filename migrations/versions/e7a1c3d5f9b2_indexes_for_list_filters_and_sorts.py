"""indexes for the list pages' filters and sorts and the reminder pass (issue 18)

A record's audit trail by its object (it scanned the whole table: only `at` was indexed), notifications by kind
(the reminder pass) and by recipient and read state (the unread count, the inbox), reports and contributions by
department and state (the department's home and lists, the queue's department filter). Plain CREATE INDEX: no
table is recreated, so SQLite's search triggers stay as they are.

Revision ID: e7a1c3d5f9b2
Revises: 7fec95dfaa24
Create Date: 2026-12-02 05:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e7a1c3d5f9b2'
down_revision = '7fec95dfaa24'
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_audit_event_object", "audit_event", ["object_type", "object_id", "at"]),
    ("ix_notification_kind", "notification", ["kind"]),
    ("ix_notification_unread", "notification", ["user_id", "read_at", "id"]),
    ("ix_report_department_status", "report", ["department_id", "status"]),
    ("ix_contribution_department_status", "contribution", ["department_id", "status"]),
)


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
