"""schedule: its own reminder offsets (hours before the collection deadline; NULL: TONGKET_REMINDER_HOURS) and
the number of days before a period ends that its communes are asked for their figures (NULL: when the run starts)

Revision ID: 0015
Revises: 0007
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminder_hours", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("request_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.drop_column("request_days")
        batch_op.drop_column("reminder_hours")
