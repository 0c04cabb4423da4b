"""needs analyses: the region's imported needs per education area, which the seat distribution starts from

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 05:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'needs_analyses',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('basis', sa.String(10), nullable=False),
        sa.Column('rows', sa.Text(), nullable=False),
        sa.Column('weights', sa.Text(), nullable=False),
        sa.Column('imported_by', sa.String(200), nullable=False),
        sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_offers_created', 'offers', ['created_at'])
    op.create_index('ix_applications_confirmed', 'applications', ['confirmed_at'])


def downgrade() -> None:
    op.drop_index('ix_applications_confirmed', 'applications')
    op.drop_index('ix_offers_created', 'offers')
    op.drop_table('needs_analyses')
