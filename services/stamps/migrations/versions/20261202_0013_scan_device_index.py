"""The scan log by device: the anomaly detector reads a scanner's latest scans by IP hash or by device

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

R10 (enumeration) looks at what one IP or one device scanned within the hour. The detector read every scan
of the hour of the round's scanners in one statement: with no index on devices, that was a walk over the
whole hour's log each round, and a scanner with many scans (an enumerating one, a load test) sent all of
them. It now reads, per scanner, its latest scans from an index (``ix_scan_ip`` and this one). Scans
without a device id (browsers) stay out of it.

The scan log is written while this runs (the old pods serve during a migration): the index is made on the
partitioned table alone (``ON ONLY``), then on each partition ``CONCURRENTLY`` (writes go on), then each
is attached. Partitions made later get it by themselves.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = "(device_hash, scanned_at) WHERE device_hash IS NOT NULL"
PARTITIONS = sa.text("""
    SELECT child.relname FROM pg_inherits
    JOIN pg_class child ON child.oid = pg_inherits.inhrelid
    JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
    JOIN pg_namespace ON pg_namespace.oid = parent.relnamespace
    WHERE pg_namespace.nspname = 'stamps' AND parent.relname = 'scan'
    ORDER BY child.relname""")


def upgrade() -> None:
    # Waiting long for a lock would hold the scan log's writers up behind us: fail instead, and rerun.
    op.execute("SET lock_timeout = '5s'")
    op.execute(f"CREATE INDEX ix_scan_device ON ONLY stamps.scan {COLUMNS}")
    partitions = [row.relname for row in op.get_bind().execute(PARTITIONS)]
    with op.get_context().autocommit_block():
        for partition in partitions:
            op.execute(
                f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{partition}_device" ON stamps."{partition}" {COLUMNS}'
            )
    for partition in partitions:
        op.execute(f'ALTER INDEX stamps.ix_scan_device ATTACH PARTITION stamps."{partition}_device"')
    op.execute("RESET lock_timeout")


def downgrade() -> None:
    op.execute("DROP INDEX stamps.ix_scan_device")
