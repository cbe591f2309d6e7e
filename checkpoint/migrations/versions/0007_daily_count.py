"""daily_count: the daily counts of local days whose entries the retention period deleted (issue 15)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-13 10:00:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'daily_count',
        sa.Column('gate_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('day', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('allowed', sa.Integer(), nullable=False),
        sa.Column('denied', sa.Integer(), nullable=False),
        sa.Column('remeasure', sa.Integer(), nullable=False),
        sa.Column('flagged', sa.Integer(), nullable=False),
        sa.Column('overridden', sa.Integer(), nullable=False),
        sa.Column('exits', sa.Integer(), nullable=False),
        sa.Column('denied_by_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('hourly', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('entries_deleted', sa.Integer(), nullable=False),
        sa.Column('archived_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('gate_id', 'day'),
    )


def downgrade() -> None:
    op.drop_table('daily_count')
