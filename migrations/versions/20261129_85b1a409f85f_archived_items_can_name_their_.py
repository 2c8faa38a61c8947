"""archived items can name their replacement

Revision ID: 85b1a409f85f
Revises: 2c951eb6b489
Create Date: 2026-11-29 13:05:55.152602
"""
from alembic import op
import sqlalchemy as sa


revision = '85b1a409f85f'
down_revision = '2c951eb6b489'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('content_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replaced_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_content_items_replaced_by_id_content_items'), 'content_items', ['replaced_by_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('content_items', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_content_items_replaced_by_id_content_items'), type_='foreignkey')
        batch_op.drop_column('replaced_by_id')
