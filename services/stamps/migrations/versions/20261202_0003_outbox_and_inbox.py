"""integration events: the outbox (events and their deliveries) and the inbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

The tables are declared once in shared/events/tables.py; every service creates the same ones in its
own schema.
"""

from collections.abc import Sequence

from alembic import op

from shared.events.tables import create_inbox, create_outbox, drop_inbox, drop_outbox

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "stamps"


def upgrade() -> None:
    create_outbox(op, SCHEMA)
    create_inbox(op, SCHEMA)


def downgrade() -> None:
    drop_inbox(op, SCHEMA)
    drop_outbox(op, SCHEMA)
