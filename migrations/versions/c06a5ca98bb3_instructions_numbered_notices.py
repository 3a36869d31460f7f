"""instructions, numbered notices

Leaders' instructions (instruction), the 督办通知单 as a frozen, numbered document (notice) and the per-year
number series. Escalations opened before this revision get their notice at the next reminder pass (the facts
come from the application's rules, which a migration must not import), numbered in the order they opened.

Revision ID: c06a5ca98bb3
Revises: 74e4910db432
Create Date: 2026-12-02 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c06a5ca98bb3'
down_revision = '74e4910db432'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('number_series',
    sa.Column('series', sa.String(length=40), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('series', 'year', name=op.f('pk_number_series'))
    )
    op.create_table('instruction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('escalation_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('leader_id', sa.Integer(), nullable=False),
    sa.Column('entered_by_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('close_comment', sa.Text(), nullable=False),
    sa.CheckConstraint("status IN ('open', 'answered', 'closed')", name=op.f('ck_instruction_status')),
    sa.ForeignKeyConstraint(['answered_by_id'], ['user_account.id'], name=op.f('fk_instruction_answered_by_id_user_account')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['user_account.id'], name=op.f('fk_instruction_closed_by_id_user_account')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_instruction_department_id_department')),
    sa.ForeignKeyConstraint(['entered_by_id'], ['user_account.id'], name=op.f('fk_instruction_entered_by_id_user_account')),
    sa.ForeignKeyConstraint(['escalation_id'], ['escalation.id'], name=op.f('fk_instruction_escalation_id_escalation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['leader_id'], ['user_account.id'], name=op.f('fk_instruction_leader_id_user_account')),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_instruction_report_id_report'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_instruction_task_id_task'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instruction'))
    )
    with op.batch_alter_table('instruction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instruction_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_instruction_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_instruction_due_date'), ['due_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_instruction_escalation_id'), ['escalation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_instruction_leader_id'), ['leader_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_instruction_report_id'), ['report_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_instruction_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_instruction_task_id'), ['task_id'], unique=False)

    op.create_table('notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('escalation_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('frozen_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('feedback', sa.Text(), nullable=False),
    sa.Column('feedback_at', sa.DateTime(), nullable=True),
    sa.Column('feedback_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('issued', 'answered')", name=op.f('ck_notice_status')),
    sa.ForeignKeyConstraint(['escalation_id'], ['escalation.id'], name=op.f('fk_notice_escalation_id_escalation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['feedback_by_id'], ['user_account.id'], name=op.f('fk_notice_feedback_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice')),
    sa.UniqueConstraint('escalation_id', name=op.f('uq_notice_escalation_id')),
    sa.UniqueConstraint('year', 'number', name=op.f('uq_notice_year_number'))
    )


def downgrade():
    op.drop_table('notice')
    with op.batch_alter_table('instruction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instruction_task_id'))
        batch_op.drop_index(batch_op.f('ix_instruction_status'))
        batch_op.drop_index(batch_op.f('ix_instruction_report_id'))
        batch_op.drop_index(batch_op.f('ix_instruction_leader_id'))
        batch_op.drop_index(batch_op.f('ix_instruction_escalation_id'))
        batch_op.drop_index(batch_op.f('ix_instruction_due_date'))
        batch_op.drop_index(batch_op.f('ix_instruction_department_id'))
        batch_op.drop_index(batch_op.f('ix_instruction_created_at'))

    op.drop_table('instruction')
    op.drop_table('number_series')
