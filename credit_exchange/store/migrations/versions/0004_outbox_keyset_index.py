"""the outbox's (platform, status) index gains the id: pushes read it by keyset, a batch at a time

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_platform_status')
        batch_op.create_index('ix_outbox_platform_status_id', ['platform', 'status', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_platform_status_id')
        batch_op.create_index('ix_outbox_platform_status', ['platform', 'status'], unique=False)
