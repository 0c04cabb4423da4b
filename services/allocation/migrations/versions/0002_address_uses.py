"""address uses: applications per e-mail address in the last day, for the intake's limit

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 14:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('address_uses',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('email_key', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_address_uses_key_time', 'address_uses', ['email_key', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_address_uses_key_time', table_name='address_uses')
    op.drop_table('address_uses')
