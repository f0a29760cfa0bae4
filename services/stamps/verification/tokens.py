"""Scan tokens: a short-lived, signed name of one logged scan, carried by the address of its page (``/s/{token}``).

The token is the scan's id and time (its key in the monthly-partitioned log) and an HMAC-SHA256 of both,
truncated to 128 bits, in URL-safe base64 without padding: 43 characters. Its life runs from the scan's
time. Pure functions: callers pass the key and the clock's ``now``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_PAYLOAD = struct.Struct(">qq")  # the scan's id, its time in microseconds since the epoch
MAC_BYTES = 16
TOKEN_LENGTH = 43
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A token may come from a clock this far ahead of ours (another process of the service).
CLOCK_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class ScanKey:
    """What a valid token names: the scan's id and the time it was logged."""

    id: int
    scanned_at: datetime


class InvalidScanToken(Exception):
    """Not a token of ours: malformed, or its signature does not match."""


class ExpiredScanToken(Exception):
    """A token of ours whose life has ended: the consumer scans the stamp again."""


def _micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, b"ocop-scan-token:" + payload, hashlib.sha256).digest()[:MAC_BYTES]


def issue(key: bytes, scan_id: int, scanned_at: datetime) -> str:
    """The token of the scan ``scan_id`` logged at ``scanned_at``."""
    payload = _PAYLOAD.pack(scan_id, _micros(scanned_at))
    return base64.urlsafe_b64encode(payload + _mac(key, payload)).decode().rstrip("=")


def read(key: bytes, token: str, *, now: datetime, life: timedelta) -> ScanKey:
    """The scan ``token`` names; InvalidScanToken if it is not ours, ExpiredScanToken once ``life`` has passed."""
    if len(token) != TOKEN_LENGTH or not token.isascii():
        raise InvalidScanToken("a scan token is 43 characters")
    try:
        raw = base64.urlsafe_b64decode(token + "=")
    except (binascii.Error, ValueError):
        raise InvalidScanToken("a scan token is URL-safe base64") from None
    payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    if not hmac.compare_digest(mac, _mac(key, payload)):
        raise InvalidScanToken("the token's signature does not match")
    scan_id, micros = _PAYLOAD.unpack(payload)
    scanned_at = _EPOCH + timedelta(microseconds=micros)
    if scanned_at > now + CLOCK_TOLERANCE:
        raise InvalidScanToken("the token names a scan in the future")
    if now - scanned_at > life:
        raise ExpiredScanToken("the token's life has ended")
    return ScanKey(scan_id, scanned_at)
