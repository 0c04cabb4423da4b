"""round places: a round's admitted and reserves per occurrence, and each applicant's result, in rows

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 06:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'round_places',
        sa.Column('round_id', sa.String(36), primary_key=True),
        sa.Column('occurrence_id', sa.String(200), primary_key=True),
        sa.Column('application_id', sa.String(36), primary_key=True),
        sa.Column('outcome', sa.String(10), nullable=False),
        sa.Column('position', sa.Integer()),
        sa.Column('choice_rank', sa.Integer()),
        sa.Column('priority_group', sa.Integer()),
    )
    op.create_table(
        'round_results',
        sa.Column('round_id', sa.String(36), primary_key=True),
        sa.Column('application_id', sa.String(36), primary_key=True),
        sa.Column('result', sa.Text(), nullable=False),
    )
    with op.batch_alter_table('rounds') as batch:
        batch.add_column(sa.Column('occurrences', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('rounds') as batch:
        batch.drop_column('occurrences')
    op.drop_table('round_results')
    op.drop_table('round_places')
