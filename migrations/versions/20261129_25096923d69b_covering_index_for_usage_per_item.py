"""covering index for usage per item: a period's counts read from the index alone

Revision ID: 25096923d69b
Revises: 85b1a409f85f
Create Date: 2026-11-29 13:55:02.417664
"""
from alembic import op


revision = '25096923d69b'
down_revision = '85b1a409f85f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('usage_events', schema=None) as batch_op:
        batch_op.create_index('ix_usage_events_time_use', ['occurred_at', 'item_id', 'kind', 'user_id', 'stage'], unique=False)


def downgrade():
    with op.batch_alter_table('usage_events', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_events_time_use')
