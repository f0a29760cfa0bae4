"""Run the anomaly detector of the stamps service on its own.

    python -m services.stamps.commands.detect_anomalies [--exit-with-parent]

The stamps service starts it as its child (``STAMPS_ANOMALY_DETECTOR=process``, the default) with
``--exit-with-parent``; a deployment may instead run it as a process of its own and set
``STAMPS_ANOMALY_DETECTOR=inline`` with ``STAMPS_ANOMALY_JOB_EVERY_S=0`` on the service's replicas.
Detectors in several processes take turns (the state row is locked per round). The process lowers its
CPU priority by ``STAMPS_ANOMALY_DETECTOR_NICE`` so that the requests' processes come first.
"""

from __future__ import annotations

import argparse
import os

import uvloop

from services.stamps.anomalies.runner import run_alone
from services.stamps.config import get_settings
from shared.children import WITH_PARENT
from shared.logging import configure_logging


def main() -> None:
    """Parse the flags, lower the priority, run until stopped."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(WITH_PARENT, dest="with_parent", action="store_true", help="exit when stdin closes")
    args = parser.parse_args()
    settings = get_settings()
    if settings.anomaly_job_every_s <= 0:
        parser.error("STAMPS_ANOMALY_JOB_EVERY_S must be above 0 for the process that runs the detector")
    configure_logging("stamps-detector", settings.log_level)
    if not args.with_parent:  # a supervising parent has lowered it already
        os.nice(settings.anomaly_detector_nice)
    uvloop.run(run_alone(settings, with_parent=args.with_parent))


if __name__ == "__main__":
    main()
