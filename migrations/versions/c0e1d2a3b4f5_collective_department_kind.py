"""department kind 'collective': one assignee standing for its member units (各区、县级市)

Revision ID: c0e1d2a3b4f5
Revises: 19345a9a09d3
Create Date: 2026-12-01 20:35:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c0e1d2a3b4f5'
down_revision = '19345a9a09d3'
branch_labels = None
depends_on = None

KINDS = "'municipal', 'county', 'zone', 'other'"


def upgrade():
    with op.batch_alter_table('department') as batch_op:
        batch_op.drop_constraint(op.f('ck_department_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_department_kind'), f"kind IN ({KINDS}, 'collective')")


def downgrade():
    op.execute("UPDATE department SET kind = 'other' WHERE kind = 'collective'")
    with op.batch_alter_table('department') as batch_op:
        batch_op.drop_constraint(op.f('ck_department_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_department_kind'), f"kind IN ({KINDS})")
