"""fanout: one report per unit of a level under a scope; run.fanout_id; schedule.each_level

Revision ID: 0013
Revises: 0007
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = "0013"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fanout",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope_unit_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("period_id", sa.String(length=16), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["scope_unit_id"], ["unit.id"], name=op.f("fk_fanout_scope_unit_id_unit")),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["schedule.id"], name=op.f("fk_fanout_schedule_id_schedule"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fanout")),
        sa.UniqueConstraint("scope_unit_id", "level", "kind", "period_id", name=op.f("uq_fanout_scope_unit_id")),
    )
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fanout_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_run_fanout_id"), ["fanout_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_run_fanout_id_fanout"), "fanout", ["fanout_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.add_column(sa.Column("each_level", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.drop_column("each_level")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_run_fanout_id_fanout"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_run_fanout_id"))
        batch_op.drop_column("fanout_id")
    op.drop_table("fanout")
