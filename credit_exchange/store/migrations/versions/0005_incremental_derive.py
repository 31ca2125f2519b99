"""incremental derive: subjects pending, per-subject review dates, derive runs

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 15:45:00

An upgraded store has no derive run yet, so the first derive after the upgrade decides every
subject (a full run) and fills the review dates; from then on merge marks the subjects it
touches in ``subjects_pending``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('subjects_pending',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('subject_key', sa.String(length=128), nullable=False),
    sa.Column('marked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('subjects_pending', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subjects_pending_subject_key'), ['subject_key'], unique=False)

    op.create_table('subject_reviews',
    sa.Column('subject_key', sa.String(length=128), nullable=False),
    sa.Column('review_on', sa.String(length=10), nullable=True),
    sa.Column('decided_on', sa.String(length=10), nullable=False),
    sa.PrimaryKeyConstraint('subject_key')
    )
    with op.batch_alter_table('subject_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subject_reviews_review_on'), ['review_on'], unique=False)

    op.create_table('derive_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_date', sa.String(length=10), nullable=False),
    sa.Column('rules_hash', sa.String(length=64), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('subjects', sa.Integer(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('due', sa.Integer(), nullable=False),
    sa.Column('new_versions', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('derive_runs')
    with op.batch_alter_table('subject_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subject_reviews_review_on'))

    op.drop_table('subject_reviews')
    with op.batch_alter_table('subjects_pending', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subjects_pending_subject_key'))

    op.drop_table('subjects_pending')
