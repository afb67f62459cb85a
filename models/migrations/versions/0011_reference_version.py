"""reference_version: the token a process checks before reusing the units' succession and the catalogue

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-03
"""

import uuid

from alembic import op
import sqlalchemy as sa


revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "reference_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_version")),
    )
    op.bulk_insert(table, [{"id": 1, "token": uuid.uuid4().hex}])


def downgrade() -> None:
    op.drop_table("reference_version")
