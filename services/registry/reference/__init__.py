"""Reference data shipped with the registry (read with importlib.resources; sources in SOURCES.md)."""
