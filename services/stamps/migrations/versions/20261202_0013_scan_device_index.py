"""The scan log by device: the anomaly detector reads a scanner's latest scans by IP hash or by device

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

R10 (enumeration) looks at what one IP or one device scanned within the hour. The detector read every scan
of the hour of the round's scanners in one statement: with no index on devices, that was a walk over the
whole hour's log each round, and a scanner with many scans (an enumerating one, a load test) sent all of
them. It now reads, per scanner, its latest scans from an index (``ix_scan_ip`` and this one). Scans
without a device id (browsers) stay out of it.

The scan log is written while this runs (the old pods serve during a migration): the index is made
without holding its writers up (``shared/online_index.py``).
"""

from collections.abc import Sequence

from alembic import op

from shared.online_index import create_index_online

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_index_online(
        op, "stamps", "scan", "ix_scan_device", "(device_hash, scanned_at) WHERE device_hash IS NOT NULL",
        suffix="device",
    )  # fmt: skip


def downgrade() -> None:
    op.execute("DROP INDEX stamps.ix_scan_device")
