"""delivery and commune_mail: where each email actually went (SMTP host and port, or the .eml file), and when the whole
message had been sent (an attempt dying after that ends 'uncertain', not re-sent)

Revision ID: 0007
Revises: 0010
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = "0007"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("delivery", "commune_mail"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("destination", sa.Text(), nullable=True))
            batch_op.add_column(sa.Column("data_sent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in ("delivery", "commune_mail"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("data_sent_at")
            batch_op.drop_column("destination")
