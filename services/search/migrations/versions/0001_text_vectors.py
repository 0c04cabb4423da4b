"""text vectors shared by every replica and embed worker

Revision ID: 0001
Revises:
Create Date: 2026-12-02 07:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('text_vectors',
    sa.Column('signature', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=24), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('embedded_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('signature', 'key')
    )


def downgrade() -> None:
    op.drop_table('text_vectors')
