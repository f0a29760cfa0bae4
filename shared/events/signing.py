"""The delivery signature: HMAC-SHA256 over the timestamp and the body, checked within a replay window.

Header: ``X-OCOP-Signature: t=<unix seconds>,v1=<hex digest of "<t>.<body>">``. A receiver accepts
several secrets at once (rotation, one per source) and refuses a timestamp outside the window, so a
captured delivery cannot be replayed later; inside the window a replay is a duplicate, which the
inbox turns into a no-op.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping

SIGNATURE_HEADER = "X-OCOP-Signature"
REPLAY_WINDOW_S = 300
UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The signature header's value for ``body`` sent now (or at ``timestamp``)."""
    moment = int(time.time()) if timestamp is None else timestamp
    return f"t={moment},v1={signature(secret, body, moment)}"


def verify(
    header: str | None,
    body: bytes,
    secrets: Iterable[str],
    *,
    now: float | None = None,
    window_s: int = REPLAY_WINDOW_S,
) -> bool:
    """Whether ``header`` signs ``body`` with one of ``secrets`` at a time within the replay window."""
    if not header:
        return False
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    stamps = parts.get("t", [])
    # ASCII digits only: str.isdigit() also admits "²", which int() refuses.
    if len(stamps) != 1 or not UNIX_SECONDS.fullmatch(stamps[0]):
        return False
    timestamp = int(stamps[0])
    if abs((time.time() if now is None else now) - timestamp) > window_s:
        return False
    expected = [signature(secret, body, timestamp).encode() for secret in secrets if secret]
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (a header may carry any).
    given = [value.encode("utf-8", "surrogateescape") for value in parts.get("v1", [])]
    return any(hmac.compare_digest(value, wanted) for value in given for wanted in expected)


def verified_source(
    header: str | None,
    body: bytes,
    secrets_by_source: Mapping[str, Iterable[str]],
    *,
    now: float | None = None,
    window_s: int = REPLAY_WINDOW_S,
) -> str | None:
    """The source whose secret signs ``body`` within the window, or None."""
    for source, secrets in secrets_by_source.items():
        if verify(header, body, secrets, now=now, window_s=window_s):
            return source
    return None
