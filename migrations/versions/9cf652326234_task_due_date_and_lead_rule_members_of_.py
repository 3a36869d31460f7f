"""task due date and lead rule; members of collective departments

Revision ID: 9cf652326234
Revises: 3b1398c2b532
Create Date: 2026-12-01 23:50:35.103497

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9cf652326234'
down_revision = '3b1398c2b532'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('department_member',
    sa.Column('collective_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['collective_id'], ['department.id'], name=op.f('fk_department_member_collective_id_department'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['department.id'], name=op.f('fk_department_member_member_id_department'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('collective_id', 'member_id', name=op.f('pk_department_member'))
    )
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('ongoing', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('lead_rule', sa.String(length=30), nullable=False, server_default=''))



def downgrade():
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_column('lead_rule')
        batch_op.drop_column('ongoing')
        batch_op.drop_column('due')

    op.drop_table('department_member')
