"""Webhook signing secrets: drawn at random, kept in the database only sealed (AES-256-GCM).

The relay needs each secret in clear to sign deliveries, so it cannot be stored as a hash. It is
sealed under a key that lives in the registry's settings (``REGISTRY_WEBHOOK_SECRET_KEY``, from the
secret store), never in the database: a database dump or backup alone reveals no secret. The
subscription's id is the sealed text's associated data, so a sealed secret copied onto another
subscription does not open.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEALED_PREFIX = "v1."
SECRET_PREFIX = "whsec_"  # noqa: S105 - a label, not a secret
# Used only where no key is configured outside production (the settings refuse production without one).
DEVELOPMENT_KEY = "ocop-development-webhook-key-not-for-production"


def new_secret() -> str:
    """A new signing secret: 32 random bytes, URL-safe base64, with a prefix that says what it is."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


class SecretUnreadable(Exception):
    """A sealed secret that this key does not open (another key, or copied from another subscription)."""


class SecretBox:
    """Seals and opens webhook secrets under the deployment's key."""

    def __init__(self, key: str) -> None:
        # Any text of enough entropy serves as the key: it is stretched to 256 bits by SHA-256.
        self._aead = AESGCM(hashlib.sha256((key or DEVELOPMENT_KEY).encode()).digest())

    def seal(self, secret: str, *, subscription_id: uuid.UUID) -> str:
        """The secret encrypted and authenticated, bound to its subscription."""
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), subscription_id.bytes)
        return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str, *, subscription_id: uuid.UUID) -> str:
        """The secret in clear; SecretUnreadable if this key or subscription did not seal it."""
        if not sealed.startswith(SEALED_PREFIX):
            raise SecretUnreadable("unknown sealing format")
        raw = base64.urlsafe_b64decode(sealed[len(SEALED_PREFIX) :].encode())
        try:
            return self._aead.decrypt(raw[:12], raw[12:], subscription_id.bytes).decode()
        except InvalidTag as exc:
            raise SecretUnreadable("the secret was sealed under another key or subscription") from exc
