"""RSA key pairs for signing test tokens, one per label for the whole run."""

from __future__ import annotations

from functools import cache

from shared.security.keys import generate_rsa_pair


@cache
def rsa_pair(label: str = "test") -> tuple[str, str]:
    """A (private PEM, public PEM) pair for ``label``; another label gives another key."""
    return generate_rsa_pair()
