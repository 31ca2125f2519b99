"""initial store

Revision ID: 0001
Revises:
Create Date: 2026-11-29 02:04:40.658179
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('batches',
    sa.Column('batch_id', sa.String(length=64), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('record_count', sa.Integer(), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('body_enc', sa.LargeBinary(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('batch_id')
    )
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('record_id', sa.String(length=255), nullable=False),
    sa.Column('hub_version', sa.Integer(), nullable=False),
    sa.Column('op', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('batch_id', sa.String(length=64), nullable=True),
    sa.Column('result', sa.String(length=16), nullable=True),
    sa.Column('result_code', sa.String(length=64), nullable=True),
    sa.Column('result_message', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'record_id', 'hub_version', name='uq_outbox_platform_record_version')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index('ix_outbox_platform_status', ['platform', 'status'], unique=False)

    op.create_table('received_files',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('department', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stored_path', sa.String(length=512), nullable=True),
    sa.Column('finished', sa.Boolean(), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('stale', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('received_files', schema=None) as batch_op:
        batch_op.create_index('ix_received_files_dept_name', ['department', 'name', 'sha256'], unique=False)

    op.create_table('source_state',
    sa.Column('record_id', sa.String(length=255), nullable=False),
    sa.Column('dept_version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('op', sa.String(length=16), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('record_id')
    )
    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('position', sa.String(length=64), nullable=False),
    sa.Column('record_id', sa.String(length=255), nullable=True),
    sa.Column('department', sa.String(length=32), nullable=False),
    sa.Column('record_type', sa.String(length=64), nullable=False),
    sa.Column('dept_record_id', sa.String(length=128), nullable=True),
    sa.Column('dept_version', sa.Integer(), nullable=True),
    sa.Column('op', sa.String(length=16), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('data_enc', sa.Text(), nullable=True),
    sa.Column('merged', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['received_files.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_file_ordinal', ['file_id', 'ordinal'], unique=True)
        batch_op.create_index(batch_op.f('ix_deliveries_record_id'), ['record_id'], unique=False)
        batch_op.create_index('ix_deliveries_unmerged', ['outcome', 'merged'], unique=False)

    op.create_table('receipts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('department', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('written_to', sa.String(length=512), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['received_files.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('file_id')
    )
    op.create_table('record_versions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('record_id', sa.String(length=255), nullable=False),
    sa.Column('hub_version', sa.Integer(), nullable=False),
    sa.Column('op', sa.String(length=16), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('data_enc', sa.Text(), nullable=False),
    sa.Column('subject_enc', sa.Text(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('record_id', 'hub_version', name='uq_record_versions_id_version')
    )
    op.create_table('records',
    sa.Column('record_id', sa.String(length=255), nullable=False),
    sa.Column('department', sa.String(length=32), nullable=False),
    sa.Column('record_type', sa.String(length=64), nullable=False),
    sa.Column('hub_version', sa.Integer(), nullable=False),
    sa.Column('op', sa.String(length=16), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('data_enc', sa.Text(), nullable=False),
    sa.Column('subject_key', sa.String(length=128), nullable=True),
    sa.Column('subject_kind', sa.String(length=32), nullable=True),
    sa.Column('subject_name', sa.String(length=255), nullable=True),
    sa.Column('delivery_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], ),
    sa.PrimaryKeyConstraint('record_id')
    )
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_records_record_type'), ['record_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_records_subject_key'), ['subject_key'], unique=False)

    op.create_table('rejects',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.String(length=64), nullable=False),
    sa.Column('dept_record_id', sa.String(length=128), nullable=True),
    sa.Column('field', sa.String(length=128), nullable=True),
    sa.Column('field_code', sa.String(length=128), nullable=True),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], ),
    sa.ForeignKeyConstraint(['file_id'], ['received_files.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rejects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rejects_file_id'), ['file_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('rejects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rejects_file_id'))

    op.drop_table('rejects')
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_records_subject_key'))
        batch_op.drop_index(batch_op.f('ix_records_record_type'))

    op.drop_table('records')
    op.drop_table('record_versions')
    op.drop_table('receipts')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_unmerged')
        batch_op.drop_index(batch_op.f('ix_deliveries_record_id'))
        batch_op.drop_index('ix_deliveries_file_ordinal')

    op.drop_table('deliveries')
    op.drop_table('source_state')
    with op.batch_alter_table('received_files', schema=None) as batch_op:
        batch_op.drop_index('ix_received_files_dept_name')

    op.drop_table('received_files')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_platform_status')
        batch_op.drop_index(batch_op.f('ix_outbox_batch_id'))

    op.drop_table('outbox')
    op.drop_table('batches')

