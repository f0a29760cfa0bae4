"""The demo's history (``ocop seed --demo``): councils, rounds, results and certificates of the registry's demo products."""
