"""Commands of the stamps service (run from a shell; no library code)."""
