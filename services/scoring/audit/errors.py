"""Audit errors (none of its own: an unknown record simply has no entries)."""
