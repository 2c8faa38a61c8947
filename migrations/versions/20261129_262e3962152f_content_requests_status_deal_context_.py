"""content requests: status, deal context, answer, decision

Revision ID: 262e3962152f
Revises: 85b1a409f85f
Create Date: 2026-11-29 13:47:10.427860
"""
from alembic import op
import sqlalchemy as sa


revision = '262e3962152f'
down_revision = '85b1a409f85f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('content_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stage', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('stakeholder', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('asked_from_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False,
                                      server_default='open'))
        batch_op.add_column(sa.Column('answered_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('decided_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('decided_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=False, server_default=''))
        batch_op.create_index(batch_op.f('ix_content_requests_status'), ['status'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_content_requests_decided_by_id_users'), 'users', ['decided_by_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_content_requests_answered_by_id_content_items'), 'content_items', ['answered_by_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_content_requests_asked_from_id_content_items'), 'content_items', ['asked_from_id'], ['id'], ondelete='SET NULL')
    # A request marked done before statuses existed was answered: it is completed.
    op.execute("UPDATE content_requests SET status = 'completed' WHERE done")
    with op.batch_alter_table('content_requests', schema=None) as batch_op:
        batch_op.alter_column('status', server_default=None)
        batch_op.alter_column('note', server_default=None)
        batch_op.drop_column('done')


def downgrade():
    with op.batch_alter_table('content_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('done', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.execute("UPDATE content_requests SET done = (status IN ('completed', 'declined'))")
    with op.batch_alter_table('content_requests', schema=None) as batch_op:
        batch_op.alter_column('done', server_default=None)
        batch_op.drop_constraint(batch_op.f('fk_content_requests_asked_from_id_content_items'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_content_requests_answered_by_id_content_items'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_content_requests_decided_by_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_content_requests_status'))
        batch_op.drop_column('note')
        batch_op.drop_column('decided_at')
        batch_op.drop_column('decided_by_id')
        batch_op.drop_column('answered_by_id')
        batch_op.drop_column('status')
        batch_op.drop_column('asked_from_id')
        batch_op.drop_column('stakeholder')
        batch_op.drop_column('stage')
