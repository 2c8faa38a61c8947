"""index change ids never reused

On SQLite an INTEGER PRIMARY KEY reuses the highest deleted id; a drain deletes the
change records it applied by id, so a reused id would delete a newer change unapplied.
AUTOINCREMENT never reuses one. PostgreSQL's sequences never did: nothing to do there.

Revision ID: dd801d7ea20a
Revises: 262e3962152f
Create Date: 2026-11-29 12:55:40.648503
"""
from alembic import op


revision = 'dd801d7ea20a'
down_revision = '262e3962152f'
branch_labels = None
depends_on = None


def _recreate(autoincrement: bool):
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("index_changes", recreate="always",
                              table_kwargs={"sqlite_autoincrement": autoincrement}):
        pass


def upgrade():
    _recreate(True)


def downgrade():
    _recreate(False)
