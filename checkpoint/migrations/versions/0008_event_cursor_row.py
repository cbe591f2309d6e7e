"""event_cursor.last_uid, last_at: the row a cursor points at, to notice the log's ids going back

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-14 10:00:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('event_cursor', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_uid', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('last_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('event_cursor', schema=None) as batch_op:
        batch_op.drop_column('last_at')
        batch_op.drop_column('last_uid')
