"""The scoring service's command-line entry points (``python -m services.scoring.commands.<name>``); no library code."""
