"""initial schema: staff accounts, sign-ins, uploads waiting for a confirmation

Revision ID: 0001
Revises:
Create Date: 2026-12-03 05:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'staff',
        sa.Column('username', sa.String(80), primary_key=True),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('role', sa.String(20), nullable=False),
        sa.Column('municipality', sa.String(4)),
        sa.Column('password_hash', sa.String(200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('disabled_at', sa.DateTime(timezone=True)),
    )
    op.create_table(
        'sign_ins',
        sa.Column('token_hash', sa.String(64), primary_key=True),
        sa.Column('username', sa.String(80), nullable=False),
        sa.Column('csrf', sa.String(64), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_sign_ins_expiry', 'sign_ins', ['expires_at'])
    op.create_table(
        'uploads',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('username', sa.String(80), nullable=False),
        sa.Column('municipality', sa.String(4), nullable=False),
        sa.Column('content_type', sa.String(40), nullable=False),
        sa.Column('filename', sa.String(200), nullable=False),
        sa.Column('body', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('uploads')
    op.drop_index('ix_sign_ins_expiry', 'sign_ins')
    op.drop_table('sign_ins')
    op.drop_table('staff')
