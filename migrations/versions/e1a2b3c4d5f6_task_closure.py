"""task closure: task status (open/closed) with when and why; reports and contributions withdrawn by a closure

Plain added columns (no foreign key, no check): SQLite adds and drops them in place, so task and report are
never recreated and their search triggers stay.

Revision ID: e1a2b3c4d5f6
Revises: d4e6f8a0b2c4
Create Date: 2026-12-02 05:10:00

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = 'e1a2b3c4d5f6'
down_revision = 'd4e6f8a0b2c4'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('task', sa.Column('status', sa.String(length=20), server_default='open', nullable=False))
    op.add_column('task', sa.Column('closed_at', sa.DateTime(), nullable=True))
    op.add_column('task', sa.Column('close_reason', sa.Text(), server_default='', nullable=False))
    op.create_index(op.f('ix_task_status'), 'task', ['status'], unique=False)
    op.add_column('report', sa.Column('withdrawn_at', sa.DateTime(), nullable=True))
    op.add_column('contribution', sa.Column('withdrawn_at', sa.DateTime(), nullable=True))


def downgrade():
    op.drop_column('contribution', 'withdrawn_at')
    op.drop_column('report', 'withdrawn_at')
    op.drop_index(op.f('ix_task_status'), table_name='task')
    op.drop_column('task', 'close_reason')
    op.drop_column('task', 'closed_at')
    op.drop_column('task', 'status')
