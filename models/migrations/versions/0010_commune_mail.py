"""commune contacts, requests/reminders/receipts to communes, the intake mailbox

Revision ID: 0010
Revises: 0011
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_contact_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact")),
        sa.UniqueConstraint("unit_id", "email", name=op.f("uq_contact_unit_id")),
    )
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_contact_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "inbound_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox", sa.String(length=400), nullable=False),
        sa.Column("uid_validity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.String(length=400), nullable=False),
        sa.Column("sender", sa.String(length=400), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("raw_path", sa.Text(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "received",
                "processed",
                "quarantined",
                "refused",
                "duplicate",
                name="inboundstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_inbound_mail_contact_id_contact"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_inbound_mail_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_mail")),
        sa.UniqueConstraint("mailbox", "uid_validity", "uid", name=op.f("uq_inbound_mail_mailbox")),
    )
    with op.batch_alter_table("inbound_mail", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_mail_message_id"), ["message_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_inbound_mail_state"), ["state"], unique=False)

    op.create_table(
        "commune_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("request", "reminder", "receipt", name="mailkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("attachment", sa.Text(), nullable=True),
        sa.Column("in_reply_to", sa.String(length=400), nullable=True),
        sa.Column(
            "state",
            sa.Enum("pending", "sending", "sent", "failed", name="deliverystate", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], name=op.f("fk_commune_mail_run_id_run"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_commune_mail_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commune_mail")),
        sa.UniqueConstraint("key", name=op.f("uq_commune_mail_key")),
    )
    with op.batch_alter_table("commune_mail", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commune_mail_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_commune_mail_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_commune_mail_unit_id"), ["unit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("commune_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commune_mail_unit_id"))
        batch_op.drop_index(batch_op.f("ix_commune_mail_state"))
        batch_op.drop_index(batch_op.f("ix_commune_mail_run_id"))

    op.drop_table("commune_mail")
    with op.batch_alter_table("inbound_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_mail_state"))
        batch_op.drop_index(batch_op.f("ix_inbound_mail_message_id"))

    op.drop_table("inbound_mail")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_unit_id"))
        batch_op.drop_index(batch_op.f("ix_contact_email"))

    op.drop_table("contact")
