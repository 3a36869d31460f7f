"""extension requests (延期申请) with a report's extended deadline, and completion reports (办结报告)

Revision ID: 7fec95dfaa24
Revises: f2a4c6e8b0d1
Create Date: 2026-12-02 05:03:13.802143

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7fec95dfaa24'
down_revision = 'f2a4c6e8b0d1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('completion_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('submitted', 'confirmed', 'returned')", name=op.f('ck_completion_report_status')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_completion_report_decided_by_id_user_account')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_completion_report_department_id_department')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['user_account.id'], name=op.f('fk_completion_report_submitted_by_id_user_account')),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_completion_report_task_id_task'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_completion_report'))
    )
    with op.batch_alter_table('completion_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_completion_report_decided_at'), ['decided_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_completion_report_department_id'), ['department_id'], unique=False)
        batch_op.create_index('ix_completion_report_one_submitted', ['task_id'], unique=True, sqlite_where=sa.text("status = 'submitted'"), postgresql_where=sa.text("status = 'submitted'"))
        batch_op.create_index(batch_op.f('ix_completion_report_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_completion_report_submitted_at'), ['submitted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_completion_report_task_id'), ['task_id'], unique=False)

    op.create_table('extension_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('progress', sa.Text(), nullable=False),
    sa.Column('current_deadline', sa.Date(), nullable=False),
    sa.Column('new_deadline', sa.Date(), nullable=False),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'approved', 'refused')", name=op.f('ck_extension_request_status')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_extension_request_decided_by_id_user_account')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_extension_request_department_id_department')),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_extension_request_report_id_report'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_extension_request_requested_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extension_request'))
    )
    with op.batch_alter_table('extension_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extension_request_decided_at'), ['decided_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_extension_request_department_id'), ['department_id'], unique=False)
        batch_op.create_index('ix_extension_request_one_pending', ['report_id'], unique=True, sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.create_index(batch_op.f('ix_extension_request_report_id'), ['report_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_extension_request_requested_at'), ['requested_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_extension_request_status'), ['status'], unique=False)

    op.add_column('report', sa.Column('extended_deadline', sa.Date(), nullable=True))   # in place: triggers stay



def downgrade():
    op.drop_column('report', 'extended_deadline')

    with op.batch_alter_table('extension_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extension_request_status'))
        batch_op.drop_index(batch_op.f('ix_extension_request_requested_at'))
        batch_op.drop_index(batch_op.f('ix_extension_request_report_id'))
        batch_op.drop_index('ix_extension_request_one_pending', sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_extension_request_department_id'))
        batch_op.drop_index(batch_op.f('ix_extension_request_decided_at'))

    op.drop_table('extension_request')
    with op.batch_alter_table('completion_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_completion_report_task_id'))
        batch_op.drop_index(batch_op.f('ix_completion_report_submitted_at'))
        batch_op.drop_index(batch_op.f('ix_completion_report_status'))
        batch_op.drop_index('ix_completion_report_one_submitted', sqlite_where=sa.text("status = 'submitted'"), postgresql_where=sa.text("status = 'submitted'"))
        batch_op.drop_index(batch_op.f('ix_completion_report_department_id'))
        batch_op.drop_index(batch_op.f('ix_completion_report_decided_at'))

    op.drop_table('completion_report')
