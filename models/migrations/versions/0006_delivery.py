"""delivery: recipients per schedule, what each delivery sent, owner notices

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa


revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recipient", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schedule_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_recipient_schedule_id_schedule"), "schedule", ["schedule_id"], ["id"]
        )

    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=200), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("content", sa.String(length=16), nullable=True))

    op.create_table(
        "owner_notice",
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["schedule.id"], name=op.f("fk_owner_notice_schedule_id_schedule"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("schedule_id", name=op.f("pk_owner_notice")),
    )


def downgrade() -> None:
    op.drop_table("owner_notice")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("content")
        batch_op.drop_column("role")
    with op.batch_alter_table("recipient", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_recipient_schedule_id_schedule"), type_="foreignkey")
        batch_op.drop_column("schedule_id")
