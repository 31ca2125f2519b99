"""feeds, lists and city platform state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 02:15:38.425807
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('alerts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_kind'), ['kind'], unique=False)

    op.create_table('city_files',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('file_type', sa.String(length=16), nullable=False),
    sa.Column('record_count', sa.Integer(), nullable=False),
    sa.Column('sm3', sa.String(length=64), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('receipt_status', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('receipt_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('city_state',
    sa.Column('record_id', sa.String(length=255), nullable=False),
    sa.Column('record_type', sa.String(length=64), nullable=False),
    sa.Column('hub_version', sa.Integer(), nullable=False),
    sa.Column('op', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('record_id')
    )
    with op.batch_alter_table('city_state', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_city_state_file_name'), ['file_name'], unique=False)

    op.create_table('data_quality',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('subject_key', sa.String(length=128), nullable=False),
    sa.Column('record_id', sa.String(length=255), nullable=True),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('data_quality', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_quality_subject_key'), ['subject_key'], unique=False)

    op.create_table('list_state',
    sa.Column('subject_key', sa.String(length=128), nullable=False),
    sa.Column('list_type', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('qualified_since', sa.String(length=10), nullable=True),
    sa.Column('last_decided', sa.String(length=10), nullable=False),
    sa.Column('rules', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('subject_key', 'list_type')
    )
    op.create_table('watermarks',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('source_pairs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('department', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('announced_sm3', sa.String(length=64), nullable=False),
    sa.Column('announced_count', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_problem', sa.Text(), nullable=True),
    sa.Column('file_id', sa.Integer(), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['received_files.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('department', 'name', 'announced_sm3', name='uq_source_pairs_name_sm3')
    )



def downgrade() -> None:

    op.drop_table('source_pairs')
    op.drop_table('watermarks')
    op.drop_table('list_state')
    with op.batch_alter_table('data_quality', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_quality_subject_key'))

    op.drop_table('data_quality')
    with op.batch_alter_table('city_state', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_city_state_file_name'))

    op.drop_table('city_state')
    op.drop_table('city_files')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_kind'))

    op.drop_table('alerts')

