"""run_unit: when a unit reported, whether late, and the last error while the run waited for it

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa


revision = "0003"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run_unit") as batch:
        batch.add_column(sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("late", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_unit") as batch:
        batch.drop_column("last_error")
        batch.drop_column("late")
        batch.drop_column("reported_at")
