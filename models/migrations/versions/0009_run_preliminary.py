"""run: a preliminary report, asked for before its period was over; schedule: the coverage its reports need

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preliminary", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.add_column(sa.Column("min_coverage", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.drop_column("min_coverage")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("preliminary")
