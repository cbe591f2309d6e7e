"""entry: covering indexes for the visitor log's filters and sorts (issue 16)

ix_entry_log_time / ix_entry_log_temp walk every entry by decision time or by temperature with each filter
column in the index (dates, gate, outcome, primary reason, temperature), so any filter is an index-only walk;
ix_entry_notable_time / ix_entry_notable_temp hold the same for the entries that are not plainly allowed
(another outcome, a reason or a flag; about a tenth of the log), with the reasons, for the reason, primary and
outcome filters. The predicate is checkpoint.models.NOTABLE, written out here as it was at this revision.

Building them reads the whole table once: about 10 s per million entries on SQLite, less on PostgreSQL, where
CREATE INDEX holds inserts back meanwhile (gates keep their entries in their outbox and forward them after).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-12 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

NOTABLE = "outcome <> 'allowed' OR reasons <> '' OR primary_reason <> ''"
COLUMNS = ('local_date', 'gate_id', 'outcome', 'primary_reason')
INDEXES = (
    ('ix_entry_log_time', ('decided_at', 'id', *COLUMNS, 'body_c'), False),
    ('ix_entry_log_temp', ('body_c', 'id', 'decided_at', *COLUMNS), False),
    ('ix_entry_notable_time', ('decided_at', 'id', *COLUMNS, 'body_c', 'reasons'), True),
    ('ix_entry_notable_temp', ('body_c', 'id', 'decided_at', *COLUMNS, 'reasons'), True),
)


def upgrade() -> None:
    for name, columns, partial in INDEXES:
        where = dict(sqlite_where=sa.text(NOTABLE), postgresql_where=sa.text(NOTABLE)) if partial else {}
        op.create_index(name, 'entry', list(columns), unique=False, **where)


def downgrade() -> None:
    for name, _, _ in reversed(INDEXES):
        op.drop_index(name, table_name='entry')
