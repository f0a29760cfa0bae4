"""certificates reach the registry as outbox events: the announcement bookkeeping goes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Certificates written before this revision and not yet announced get one event each for their
current state, so the registry still hears of them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The event of each status, as services/scoring/certificates/events.py names them.
EVENT_TYPE = """'scoring.certificate.' || CASE c.status WHEN 'active' THEN 'issued' ELSE c.status END"""
DATA = """jsonb_build_object(
    'certificate_id', c.id, 'version', c.version, 'product_id', c.product_id, 'entity_id', c.entity_id,
    'province_code', c.province_code, 'ocop_star', c.star, 'certificate_number', c.number,
    'issuing_authority', c.issuing_authority, 'decision_number', c.decision_number,
    'criteria_version', CASE WHEN c.criteria_version IN ('1048', '1048+781', '148', '148+1489', '26/2026')
                             THEN c.criteria_version END,
    'issued_on', c.issued_on, 'expires_on', c.expires_on, 'level', c.level, 'status', c.status,
    'revocation_ground', CASE WHEN c.status = 'revoked'
                              THEN left(c.revocation_ground || ': ' || c.revocation_reason, 1000) END,
    'superseded_by', c.superseded_by)"""


def upgrade() -> None:
    op.execute(
        f"""INSERT INTO scoring.outbox_event (id, type, source, subject, occurred_at, data)
            SELECT gen_random_uuid(), {EVENT_TYPE}, 'scoring', 'product/' || c.product_id, now(), {DATA}
            FROM scoring.certificate c WHERE c.synced_version < c.version
            ORDER BY c.issued_on, c.version"""
    )
    op.drop_index("ix_certificate_unsynced", table_name="certificate", schema="scoring")
    for column in ("synced_version", "sync_attempts", "next_sync_at", "last_sync_error"):
        op.drop_column("certificate", column, schema="scoring")


def downgrade() -> None:
    op.add_column("certificate", sa.Column("synced_version", sa.Integer(), server_default="0", nullable=False),
                  schema="scoring")  # fmt: skip
    op.add_column("certificate", sa.Column("sync_attempts", sa.Integer(), server_default="0", nullable=False),
                  schema="scoring")  # fmt: skip
    op.add_column(
        "certificate",
        sa.Column("next_sync_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        schema="scoring",
    )  # fmt: skip
    op.add_column("certificate", sa.Column("last_sync_error", sa.Text(), nullable=True), schema="scoring")
    op.create_index(
        "ix_certificate_unsynced", "certificate", ["next_sync_at"], unique=False, schema="scoring",
        postgresql_where=sa.text("synced_version < version"),
    )  # fmt: skip
