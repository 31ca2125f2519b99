"""lineage per Airflow run: the dag run that took a file, prepared a county batch or wrote a city file

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 23:45:00

``received_files`` had the run id alone, which is not unique across DAGs (every nightly ingest has a
``scheduled__...`` run of the same name): it gains the DAG id. County batches and city files gain
both. Rows written before the upgrade keep NULL there: the page per run lists what later runs
recorded, and the lineage search still finds the older rows by record, subject or file name.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

def upgrade() -> None:
    with op.batch_alter_table('received_files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dag_id', sa.String(length=250), nullable=True))
        batch_op.create_index('ix_received_files_dag_run', ['dag_id', 'run_id'], unique=False)
    for table in ('batches', 'city_files'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('dag_id', sa.String(length=250), nullable=True))
            batch_op.add_column(sa.Column('run_id', sa.String(length=255), nullable=True))
            batch_op.create_index(f'ix_{table}_dag_run', ['dag_id', 'run_id'], unique=False)


def downgrade() -> None:
    for table in ('city_files', 'batches'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f'ix_{table}_dag_run')
            batch_op.drop_column('run_id')
            batch_op.drop_column('dag_id')
    with op.batch_alter_table('received_files', schema=None) as batch_op:
        batch_op.drop_index('ix_received_files_dag_run')
        batch_op.drop_column('dag_id')
