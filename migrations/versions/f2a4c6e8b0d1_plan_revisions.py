"""plan revisions (年度调整): the revision rows, the task versions they replaced, assignments withdrawn by one

New tables only, plus the assignment status check: assignment (not task or report) is recreated on SQLite, so
no search trigger is touched.

Revision ID: f2a4c6e8b0d1
Revises: e1a2b3c4d5f6
Create Date: 2026-12-02 05:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f2a4c6e8b0d1'
down_revision = 'e1a2b3c4d5f6'
branch_labels = None
depends_on = None

STATUSES = "'draft', 'pending', 'acknowledged', 'adjustment', 'transferred'"


def upgrade():
    op.create_table(
        'plan_revision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('plan_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('source_filename', sa.String(length=300), nullable=False),
        sa.Column('source_sha256', sa.String(length=64), nullable=False),
        sa.Column('revised_at', sa.DateTime(), nullable=False),
        sa.Column('revised_by_id', sa.Integer(), nullable=True),
        sa.Column('summary', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['plan_id'], ['plan.id'], name=op.f('fk_plan_revision_plan_id_plan'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['revised_by_id'], ['user_account.id'],
                                name=op.f('fk_plan_revision_revised_by_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_revision')),
        sa.UniqueConstraint('plan_id', 'number', name=op.f('uq_plan_revision_plan_id_number')),
        sa.UniqueConstraint('source_sha256', name=op.f('uq_plan_revision_source_sha256')),
    )
    op.create_index(op.f('ix_plan_revision_plan_id'), 'plan_revision', ['plan_id'], unique=False)
    op.create_table(
        'task_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('revision_id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('clause', sa.Text(), nullable=False),
        sa.Column('due', sa.Date(), nullable=True),
        sa.Column('ongoing', sa.Boolean(), nullable=False),
        sa.Column('leads', sa.JSON(), nullable=False),
        sa.Column('co', sa.JSON(), nullable=False),
        sa.Column('targets', sa.JSON(), nullable=False),
        sa.Column('changed', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['revision_id'], ['plan_revision.id'],
                                name=op.f('fk_task_version_revision_id_plan_revision'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_task_version_task_id_task'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_task_version')),
    )
    op.create_index(op.f('ix_task_version_revision_id'), 'task_version', ['revision_id'], unique=False)
    op.create_index(op.f('ix_task_version_task_id'), 'task_version', ['task_id'], unique=False)
    with op.batch_alter_table('assignment') as batch_op:
        batch_op.drop_constraint(op.f('ck_assignment_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_assignment_status'), f"status IN ({STATUSES}, 'withdrawn')")


def downgrade():
    op.execute("UPDATE assignment SET status = 'transferred' WHERE status = 'withdrawn'")
    with op.batch_alter_table('assignment') as batch_op:
        batch_op.drop_constraint(op.f('ck_assignment_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_assignment_status'), f"status IN ({STATUSES})")
    op.drop_index(op.f('ix_task_version_task_id'), table_name='task_version')
    op.drop_index(op.f('ix_task_version_revision_id'), table_name='task_version')
    op.drop_table('task_version')
    op.drop_index(op.f('ix_plan_revision_plan_id'), table_name='plan_revision')
    op.drop_table('plan_revision')
