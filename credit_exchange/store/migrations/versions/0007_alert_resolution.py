"""alerts closed by hand keep who closed them and why

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 00:20:00

``resolved_by`` is the admin (page user, or ``qianwei-hub alerts resolve``'s actor) or NULL
when the hub closed the alert itself (a later run that succeeded); ``resolution_note`` is the
note they gave, masked. The same facts go to Airflow's audit log; the store keeps them next to
the alert, so ``qianwei-hub alerts list --all`` and the retention rules see them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolved_by', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('resolution_note', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_column('resolution_note')
        batch_op.drop_column('resolved_by')
