"""confirmation: an application counts once its applicant has opened the link mailed to the address

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 18:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('applications') as batch:
        batch.add_column(sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True))
    # Applications from before the confirmation step were counted already: they stay counted.
    op.execute("UPDATE applications SET confirmed_at = created_at")


def downgrade() -> None:
    op.execute("DELETE FROM choices WHERE application_id IN "
               "(SELECT id FROM applications WHERE status = 'unconfirmed')")
    op.execute("DELETE FROM applications WHERE status = 'unconfirmed'")
    with op.batch_alter_table('applications') as batch:
        batch.drop_column('confirmed_at')
