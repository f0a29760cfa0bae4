"""The scan log marks a serial's first scan: R11 reads a batch's first scans from a partial index

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02

R11 (a batch burst) counts the scans of a batch within the hour that were their serial's first. The
detector found them with an anti-join over every scan of the round's batches in the window: under load
(one batch, 140,000 scans in the hour) each round read and anti-joined the whole hour of that batch,
~0.7 ms of PostgreSQL CPU per scan examined, growing with the log. The scan log now stores the fact it
already knows exactly (the stamp's summary had no scan before, the same fact as the verdict's "you are the
first"): ``scan.first_scan``, and the detector reads only the flagged scans through ``ix_scan_first``
(batch, time) ``WHERE first_scan``.

The column has a constant default: adding it rewrites nothing (PostgreSQL 11 and later). Scans of the last
day (R11's window is hours) are backfilled from the summaries (the scan at the serial's
``first_scanned_at``), in one statement of its own that takes no table lock; older ones stay false, so a
big log does not make a long migration. Scans logged by the old pods between this migration and their
replacement are not flagged (their code does not know the column): R11 may undercount them for the hour.

The scan log is written while this runs (the old pods serve during a migration): the index is made on the
partitioned table alone (``ON ONLY``), then on each partition ``CONCURRENTLY`` (writes go on), then each
is attached. Partitions made later get it by themselves.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = "(batch_id, scanned_at) WHERE first_scan"
PARTITIONS = sa.text("""
    SELECT child.relname FROM pg_inherits
    JOIN pg_class child ON child.oid = pg_inherits.inhrelid
    JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
    JOIN pg_namespace ON pg_namespace.oid = parent.relnamespace
    WHERE pg_namespace.nspname = 'stamps' AND parent.relname = 'scan'
    ORDER BY child.relname""")
# The scan the summary names as the serial's first (the lowest id, should two share its instant); only a
# known serial's counted scan (as the scan log counts them) can be one.
BACKFILL = """
    UPDATE stamps.scan s SET first_scan = true
    FROM stamps.stamp_scan summary
    WHERE summary.serial = s.serial AND s.scanned_at = summary.first_scanned_at
      AND s.scanned_at > now() - interval '1 day'
      AND s.batch_id IS NOT NULL AND s.verdict NOT IN ('unknown', 'malformed') AND NOT s.first_scan
      AND s.id = (
          SELECT min(e.id) FROM stamps.scan e
          WHERE e.serial = s.serial AND e.scanned_at = summary.first_scanned_at
            AND e.batch_id IS NOT NULL AND e.verdict NOT IN ('unknown', 'malformed')
      )"""


# A concurrent build that failed leaves an invalid index behind; a rerun drops it and builds again.
INVALID = sa.text("""
    SELECT 1 FROM pg_index JOIN pg_class ON pg_class.oid = pg_index.indexrelid
    JOIN pg_namespace ON pg_namespace.oid = pg_class.relnamespace
    WHERE pg_namespace.nspname = 'stamps' AND pg_class.relname = :name AND NOT pg_index.indisvalid""")


def upgrade() -> None:
    # Waiting long for a lock would hold the scan log's writers up behind us: fail instead, and rerun.
    # Every step may be run again: the column and the parent's index are committed before the rest.
    op.execute("SET lock_timeout = '5s'")
    op.execute("ALTER TABLE stamps.scan ADD COLUMN IF NOT EXISTS first_scan boolean NOT NULL DEFAULT false")
    op.execute(f"CREATE INDEX IF NOT EXISTS ix_scan_first ON ONLY stamps.scan {COLUMNS}")
    partitions = [row.relname for row in op.get_bind().execute(PARTITIONS)]
    # Committed first: the column's lock is let go before the backfill and the builds, which take long.
    with op.get_context().autocommit_block():
        # A concurrent build waits for every older transaction (a long report, an export being read):
        # that wait must not time out. Only the brief exclusive steps keep the 5 s limit.
        op.execute("SET lock_timeout = 0")
        op.execute(BACKFILL)
        for partition in partitions:
            name = f"{partition}_first"
            if op.get_bind().execute(INVALID, {"name": name}).first() is not None:
                op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS stamps."{name}"')
            op.execute(f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON stamps."{partition}" {COLUMNS}')
        op.execute("SET lock_timeout = '5s'")
    attached = sa.text("""
        SELECT 1 FROM pg_inherits JOIN pg_class ON pg_class.oid = pg_inherits.inhrelid
        JOIN pg_namespace ON pg_namespace.oid = pg_class.relnamespace
        WHERE pg_namespace.nspname = 'stamps' AND pg_class.relname = :name""")
    for partition in partitions:
        if op.get_bind().execute(attached, {"name": f"{partition}_first"}).first() is None:
            op.execute(f'ALTER INDEX stamps.ix_scan_first ATTACH PARTITION stamps."{partition}_first"')
    op.execute("RESET lock_timeout")


def downgrade() -> None:
    op.execute("SET lock_timeout = '5s'")
    op.execute("DROP INDEX stamps.ix_scan_first")
    op.execute("ALTER TABLE stamps.scan DROP COLUMN first_scan")
    op.execute("RESET lock_timeout")
