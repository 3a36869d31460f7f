"""reminder channels (SMS, DingTalk and WeCom group robots) and the evaluation's ranking within groups

Revision ID: d4e5f6a7b8c9
Revises: c06a5ca98bb3
Create Date: 2026-12-02 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4e5f6a7b8c9'
down_revision = 'c06a5ca98bb3'
branch_labels = None
depends_on = None

CHANNELS = "'email', 'sms', 'dingtalk', 'wecom'"


def upgrade():
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.add_column(sa.Column('default_channel', sa.String(length=20), server_default='email', nullable=False))
        batch_op.add_column(sa.Column('dingtalk_webhook', sa.String(length=500), server_default='', nullable=False))
        batch_op.add_column(sa.Column('dingtalk_secret', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('wecom_webhook', sa.String(length=500), server_default='', nullable=False))
        batch_op.create_check_constraint(op.f('ck_department_default_channel'), f"default_channel IN ({CHANNELS})")

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=20), server_default='', nullable=False))
        batch_op.add_column(sa.Column('phone', sa.String(length=20), nullable=True))
        batch_op.create_check_constraint(op.f('ck_user_account_channel'), f"channel IN ('', {CHANNELS})")

    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('channel', sa.String(length=20), server_default='email', nullable=False))
        batch_op.add_column(sa.Column('department_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('data', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_email_channel'), ['channel'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_email_department_id'), ['department_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_outbox_email_key'), ['key'])
        batch_op.create_foreign_key(batch_op.f('fk_outbox_email_department_id_department'), 'department',
                                    ['department_id'], ['id'], ondelete='SET NULL')
        batch_op.create_check_constraint(op.f('ck_outbox_email_channel'), f"channel IN ({CHANNELS})")

    with op.batch_alter_table('department_score', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_name', sa.String(length=100), server_default='', nullable=False))
        batch_op.add_column(sa.Column('position', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('ranking_score', sa.Numeric(precision=6, scale=2), nullable=True))
        batch_op.alter_column('rank', existing_type=sa.Integer(), nullable=True)
    # Scores computed before keep their order until they are computed again.
    op.execute("UPDATE department_score SET position = rank")


def downgrade():
    op.execute("UPDATE department_score SET rank = position WHERE rank IS NULL")
    with op.batch_alter_table('department_score', schema=None) as batch_op:
        batch_op.alter_column('rank', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('ranking_score')
        batch_op.drop_column('position')
        batch_op.drop_column('group_name')

    op.execute("DELETE FROM outbox_email WHERE channel <> 'email'")
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_outbox_email_channel'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_outbox_email_department_id_department'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_outbox_email_key'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_outbox_email_department_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_email_channel'))
        batch_op.drop_column('data')
        batch_op.drop_column('department_id')
        batch_op.drop_column('channel')
        batch_op.drop_column('key')

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_user_account_channel'), type_='check')
        batch_op.drop_column('phone')
        batch_op.drop_column('channel')

    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_department_default_channel'), type_='check')
        batch_op.drop_column('wecom_webhook')
        batch_op.drop_column('dingtalk_secret')
        batch_op.drop_column('dingtalk_webhook')
        batch_op.drop_column('default_channel')
