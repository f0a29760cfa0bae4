"""The registry's command-line entry points (``python -m services.registry.commands.<name>``); no library code."""
