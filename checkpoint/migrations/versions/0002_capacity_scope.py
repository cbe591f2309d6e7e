"""capacity scope in the gate heartbeat

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:50:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('gate_status', schema=None) as batch_op:
        batch_op.add_column(sa.Column('capacity_scope', sqlmodel.sql.sqltypes.AutoString(length=16),
                                      nullable=False, server_default='gate'))


def downgrade() -> None:
    with op.batch_alter_table('gate_status', schema=None) as batch_op:
        batch_op.drop_column('capacity_scope')
