"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 16:13:57.288861
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_app_user_username'), ['username'], unique=True)

    op.create_table('entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('gate_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('local_date', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('local_hour', sa.Integer(), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('flagged', sa.Boolean(), nullable=False),
    sa.Column('reasons', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('primary_reason', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('body_c', sa.Float(), nullable=True),
    sa.Column('object_c', sa.Float(), nullable=True),
    sa.Column('ambient_c', sa.Float(), nullable=True),
    sa.Column('calibration', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('offset_c', sa.Float(), nullable=False),
    sa.Column('sensor_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('readings', sa.Integer(), nullable=False),
    sa.Column('mask_class', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('mask_confidence', sa.Float(), nullable=True),
    sa.Column('face_seen', sa.Boolean(), nullable=False),
    sa.Column('visit_started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('rules', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('face_image', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('forwarded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uid', name='uq_entry_uid')
    )
    with op.batch_alter_table('entry', schema=None) as batch_op:
        batch_op.create_index('ix_entry_counts',
                              ['local_date', 'outcome', 'primary_reason', 'local_hour', 'flagged', 'gate_id'],
                              unique=False)
        batch_op.create_index('ix_entry_decided_at', ['decided_at'], unique=False)
        batch_op.create_index('ix_entry_forward', ['forwarded_at', 'id'], unique=False)
        batch_op.create_index('ix_entry_gate_date', ['gate_id', 'local_date'], unique=False)

    op.create_table('exit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('gate_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('local_date', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('by_user', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('forwarded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uid', name='uq_exit_uid')
    )
    with op.batch_alter_table('exit', schema=None) as batch_op:
        batch_op.create_index('ix_exit_gate_date', ['gate_id', 'local_date'], unique=False)
        batch_op.create_index('ix_exit_forward', ['forwarded_at', 'id'], unique=False)

    op.create_table('gate_status',
    sa.Column('gate_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('components', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('backlog', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('gate_id')
    )
    op.create_table('override',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('entry_uid', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('gate_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('by_user', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('forwarded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uid', name='uq_override_uid')
    )
    with op.batch_alter_table('override', schema=None) as batch_op:
        batch_op.create_index('ix_override_entry', ['entry_uid'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('override', schema=None) as batch_op:
        batch_op.drop_index('ix_override_entry')

    op.drop_table('override')
    op.drop_table('gate_status')
    with op.batch_alter_table('exit', schema=None) as batch_op:
        batch_op.drop_index('ix_exit_forward')
        batch_op.drop_index('ix_exit_gate_date')

    op.drop_table('exit')
    with op.batch_alter_table('entry', schema=None) as batch_op:
        batch_op.drop_index('ix_entry_gate_date')
        batch_op.drop_index('ix_entry_forward')
        batch_op.drop_index('ix_entry_decided_at')
        batch_op.drop_index('ix_entry_counts')

    op.drop_table('entry')
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_app_user_username'))

    op.drop_table('app_user')
