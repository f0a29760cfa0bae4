"""Products: registration, reading and (later) their lifecycle."""
