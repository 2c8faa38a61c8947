"""api token expiry

Revision ID: 2c951eb6b489
Revises: 351557e82684
Create Date: 2026-11-29 12:54:53.571164
"""
from datetime import datetime, timedelta, timezone

from alembic import op
import sqlalchemy as sa


revision = '2c951eb6b489'
down_revision = '351557e82684'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
    # Tokens issued before expiry existed get the default 90 days from now: every one
    # ends, and none stops an integration the moment the portal is upgraded.
    until = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(days=90)
    op.get_bind().execute(sa.text("UPDATE api_tokens SET expires_at = :until"), {"until": until})
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(), nullable=False)


def downgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
