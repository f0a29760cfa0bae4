"""RSA key pairs for signing test tokens, one per label for the whole run."""

from __future__ import annotations

from functools import cache

from shared.security.keys import generate_rsa_pair


@cache
def rsa_pair(label: str = "test") -> tuple[str, str]:
    """A (private PEM, public PEM) pair for ``label``; another label gives another key."""
    return generate_rsa_pair()


# The integration events' signing secret of each source, in every test (in-process apps and processes).
EVENT_SECRETS = {
    "registry": "tests-registry-events-0f4e9b7c2d1a",
    "scoring": "tests-scoring-events-6c3b8a5e9f02",
    "stamps": "tests-stamps-events-91d7e2f4b6a3",
}
