"""covering item index for usage per item: each item's events in a period read from the
index alone, in item order

Revision ID: ac2f9e75a7ae
Revises: dd801d7ea20a
Create Date: 2026-11-29 14:07:28.730372
"""
from alembic import op


revision = 'ac2f9e75a7ae'
down_revision = 'dd801d7ea20a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('usage_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usage_events_item_time'))
        batch_op.create_index('ix_usage_events_item_time', ['item_id', 'occurred_at', 'kind', 'user_id', 'stage'], unique=False)


def downgrade():
    with op.batch_alter_table('usage_events', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_events_item_time')
        batch_op.create_index(batch_op.f('ix_usage_events_item_time'), ['item_id', 'occurred_at'], unique=False)
