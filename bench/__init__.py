"""Benchmarks of the suite's hot paths; run with ``make bench`` (never part of ``make test``)."""
