"""review: a run's draft goes to its owners first and the final to the recipients on approval

Revision ID: 0012
Revises: 0007
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = "0012"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        # "awaiting_approval" is longer than the 16 characters the other states needed.
        batch_op.alter_column("state", existing_type=sa.String(length=16), type_=sa.String(length=24))
        batch_op.add_column(sa.Column("review", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("owners", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column("approved_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review", sa.Boolean(), nullable=True))
    op.create_table(
        "report_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("blocks", sa.JSON(), nullable=False),
        sa.Column("changed", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], name=op.f("fk_report_draft_run_id_run"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_draft")),
        sa.UniqueConstraint("run_id", "number", name=op.f("uq_report_draft_run_id")),
    )
    with op.batch_alter_table("report_draft", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_draft_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report_draft", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_draft_run_id"))
    op.drop_table("report_draft")
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.drop_column("review")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("approved_at")
        batch_op.drop_column("approved_by")
        batch_op.drop_column("owners")
        batch_op.drop_column("review")
        batch_op.alter_column("state", existing_type=sa.String(length=24), type_=sa.String(length=16))
