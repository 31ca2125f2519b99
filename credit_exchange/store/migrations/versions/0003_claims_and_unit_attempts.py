"""claims with owner and lease; attempts of a received unit; the city's id of a record

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('claims',
    sa.Column('department', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('owner', sa.String(length=512), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('department', 'name')
    )
    with op.batch_alter_table('received_files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_error', sa.Text(), nullable=True))
    with op.batch_alter_table('city_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('city_id', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('city_state', schema=None) as batch_op:
        batch_op.drop_column('city_id')
    with op.batch_alter_table('received_files', schema=None) as batch_op:
        batch_op.drop_column('last_error')
        batch_op.drop_column('attempts')
    op.drop_table('claims')
