"""Consumers' reports of a suspicious product or stamp, and their review by officers."""
