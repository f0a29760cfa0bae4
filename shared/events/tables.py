"""The outbox and inbox tables, declared in the calling service's own schema (and created by its migrations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP

from shared.db import schema_metadata

DELIVERY_STATUSES = ("pending", "delivered", "dead")
INBOX_OUTCOMES = ("applied", "ignored")


@dataclass(frozen=True)
class OutboxTables:
    """The events a service emitted and one delivery row per event and destination."""

    event: sa.Table
    delivery: sa.Table

    @property
    def schema(self) -> str:
        """The schema both tables live in."""
        assert self.event.schema is not None  # noqa: S101 - declared by outbox_tables with the metadata's schema
        return self.event.schema


def _event_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Uuid, primary_key=True),
        # The commit order of emits; per-subject order follows it.
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), nullable=False, unique=True),
        sa.Column("type", sa.String(120), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(240), nullable=False),
        sa.Column("occurred_at", TIMESTAMP(timezone=True), nullable=False),
        sa.Column("data", JSONB, nullable=False),
        sa.Column("request_id", sa.String(200)),
        # Set when the relay has written the event's deliveries (who receives it is the relay's configuration).
        sa.Column("routed_at", TIMESTAMP(timezone=True)),
    ]


def _delivery_columns(schema: str) -> list[sa.Column[Any] | sa.Constraint]:
    return [
        sa.Column(
            "event_id",
            sa.Uuid,
            sa.ForeignKey(f"{schema}.outbox_event.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("destination", sa.String(120), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("subject", sa.String(240), nullable=False),
        sa.Column("status", sa.String(12), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()),
        # A relay that claimed the row and then died leaves a lease that simply runs out.
        sa.Column("leased_until", TIMESTAMP(timezone=True)),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("last_attempt_at", TIMESTAMP(timezone=True)),
        sa.Column("delivered_at", TIMESTAMP(timezone=True)),
        sa.CheckConstraint(f"status IN {DELIVERY_STATUSES}", name="status"),
    ]


def _delivery_indexes(table_name: str) -> list[tuple[str, list[str], dict[str, Any]]]:
    pending = {"postgresql_where": sa.text("status = 'pending'")}
    return [
        # The head of each destination's subject, and the due rows in commit order.
        (f"ix_{table_name}_pending_subject", ["destination", "subject", "seq"], pending),
        (f"ix_{table_name}_pending_due", ["next_attempt_at", "seq"], pending),
        (f"ix_{table_name}_dead", ["destination", "seq"], {"postgresql_where": sa.text("status = 'dead'")}),
    ]


def outbox_tables(metadata: sa.MetaData) -> OutboxTables:
    """Declare ``outbox_event`` and ``outbox_delivery`` in the metadata's schema."""
    schema = metadata.schema or "public"
    event = sa.Table("outbox_event", metadata, *_event_columns())
    delivery = sa.Table("outbox_delivery", metadata, *_delivery_columns(schema))
    for name, columns, options in _delivery_indexes("outbox_delivery"):
        sa.Index(name, *(delivery.c[column] for column in columns), **options)
    sa.Index("ix_outbox_event_unrouted", event.c.seq, postgresql_where=sa.text("routed_at IS NULL"))
    return OutboxTables(event, delivery)


def inbox_table(metadata: sa.MetaData) -> sa.Table:
    """Declare ``inbox_event``: the id of every event this service has handled, recorded with its effect."""
    return sa.Table(
        "inbox_event",
        metadata,
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("type", sa.String(120), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(240), nullable=False),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("received_at", TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(f"outcome IN {INBOX_OUTCOMES}", name="outcome"),
    )


def create_outbox(op: Any, schema: str) -> None:
    """Create the outbox tables in a migration (``op`` is alembic's), named as the models name them."""
    tables = outbox_tables(schema_metadata(schema))
    tables.event.metadata.create_all(op.get_bind(), tables=[tables.event, tables.delivery])


def create_inbox(op: Any, schema: str) -> None:
    """Create the inbox table in a migration (``op`` is alembic's)."""
    table = inbox_table(schema_metadata(schema))
    table.metadata.create_all(op.get_bind(), tables=[table])


def drop_outbox(op: Any, schema: str) -> None:
    """Drop the outbox tables in a downgrade."""
    op.drop_table("outbox_delivery", schema=schema)
    op.drop_table("outbox_event", schema=schema)


def drop_inbox(op: Any, schema: str) -> None:
    """Drop the inbox table in a downgrade."""
    op.drop_table("inbox_event", schema=schema)
