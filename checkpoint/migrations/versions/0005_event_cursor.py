"""event_cursor: how far each events-out sink (mqtt, webhook) has delivered each table of the local log

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10 10:00:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'event_cursor',
        sa.Column('gate_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('sink', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('last_id', sa.Integer(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('gate_id', 'sink', 'source'),
    )


def downgrade() -> None:
    op.drop_table('event_cursor')
