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

The scan log is written while this runs (the old pods serve during a migration): the index is made
without holding its writers up (``shared/online_index.py``), and a run that failed half-way is finished by
the next.
"""

from collections.abc import Sequence

from alembic import op

from shared.online_index import create_index_online

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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


def upgrade() -> None:
    # Waiting long for a lock would hold the scan log's writers up behind us: fail instead, and rerun.
    op.execute("SET lock_timeout = '5s'")
    op.execute("ALTER TABLE stamps.scan ADD COLUMN IF NOT EXISTS first_scan boolean NOT NULL DEFAULT false")
    # The column is committed before the backfill and the builds, which take long.
    create_index_online(
        op, "stamps", "scan", "ix_scan_first", "(batch_id, scanned_at) WHERE first_scan", suffix="first",
        first=[BACKFILL],
    )  # fmt: skip


def downgrade() -> None:
    op.execute("SET lock_timeout = '5s'")
    op.execute("DROP INDEX stamps.ix_scan_first")
    op.execute("ALTER TABLE stamps.scan DROP COLUMN first_scan")
    op.execute("RESET lock_timeout")
