"""Delivery signatures: what verifies, what does not, and that no header string can make verify raise."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shared.events.signing import REPLAY_WINDOW_S, sign, signature, verify

BODY = b'{"id":"e1","type":"scoring.certificate.issued"}'
NOW = 1_760_000_000


def test_a_signed_body_verifies_with_its_secret() -> None:
    """The round trip: sign now, verify now."""
    assert verify(sign("s3cret", BODY, timestamp=NOW), BODY, ["s3cret"], now=NOW)


def test_sign_without_a_timestamp_signs_now() -> None:
    """The default timestamp is the current time, so a fresh signature verifies against the clock."""
    assert verify(sign("s3cret", BODY), BODY, ["s3cret"])


def test_another_secret_does_not_verify() -> None:
    """A delivery signed with a secret the receiver does not hold is refused."""
    assert not verify(sign("other", BODY, timestamp=NOW), BODY, ["s3cret"], now=NOW)


def test_a_tampered_body_does_not_verify() -> None:
    """One byte changed in the body breaks the signature."""
    header = sign("s3cret", BODY, timestamp=NOW)
    assert not verify(header, BODY.replace(b"issued", b"revoked"), ["s3cret"], now=NOW)


def test_a_changed_timestamp_does_not_verify() -> None:
    """The timestamp is signed too: moving it (to slip into the window) breaks the signature."""
    digest = signature("s3cret", BODY, NOW - 10_000)
    assert not verify(f"t={NOW},v1={digest}", BODY, ["s3cret"], now=NOW)


def test_a_missing_header_does_not_verify() -> None:
    """No header, an empty one, or no secrets at all: refused."""
    assert not verify(None, BODY, ["s3cret"], now=NOW)
    assert not verify("", BODY, ["s3cret"], now=NOW)
    assert not verify(sign("s3cret", BODY, timestamp=NOW), BODY, [], now=NOW)
    assert not verify(sign("", BODY, timestamp=NOW), BODY, [""], now=NOW), "an empty secret signs nothing"


def test_malformed_headers_do_not_verify() -> None:
    """Missing parts, two timestamps, a signed value in the wrong field, non-ASCII digits: refused."""
    digest = signature("s3cret", BODY, NOW)
    for header in [
        f"v1={digest}",
        f"t={NOW}",
        f"t={NOW},t={NOW},v1={digest}",
        f"t={NOW},v0={digest}",
        f"t=+{NOW},v1={digest}",
        f"t={NOW}.0,v1={digest}",
        "t=²,v1=00",
        f"t={NOW},v1={digest.upper()}",
        "garbage",
        ",,,",
    ]:
        assert not verify(header, BODY, ["s3cret"], now=NOW), header


def test_timestamps_outside_the_window_do_not_verify_on_either_side() -> None:
    """A captured delivery replayed later, or one stamped in the future, is refused; the edges are inside."""
    for offset, accepted in [
        (-REPLAY_WINDOW_S - 1, False),
        (-REPLAY_WINDOW_S, True),
        (REPLAY_WINDOW_S, True),
        (REPLAY_WINDOW_S + 1, False),
    ]:
        header = sign("s3cret", BODY, timestamp=NOW + offset)
        assert verify(header, BODY, ["s3cret"], now=NOW) is accepted, offset
    assert not verify(sign("s3cret", BODY, timestamp=NOW - 61), BODY, ["s3cret"], now=NOW, window_s=60)


def test_any_of_several_secrets_verifies() -> None:
    """While a secret is rotated the receiver accepts the old and the new (and one per source)."""
    secrets = ["old", "new", "other-source"]
    for secret in secrets:
        assert verify(sign(secret, BODY, timestamp=NOW), BODY, secrets, now=NOW)
    assert not verify(sign("retired", BODY, timestamp=NOW), BODY, secrets, now=NOW)


def test_one_of_several_v1_values_verifies() -> None:
    """A sender mid-rotation signs with both secrets; one matching v1 value is enough."""
    header = f"t={NOW},v1={signature('old', BODY, NOW)},v1={signature('new', BODY, NOW)}"
    assert verify(header, BODY, ["new"], now=NOW)
    assert verify(header, BODY, ["old"], now=NOW)
    assert not verify(header, BODY, ["neither"], now=NOW)


@given(header=st.text(), body=st.binary(max_size=64))
def test_verify_never_raises_on_any_header(header: str, body: bytes) -> None:
    """Whatever a caller puts in the header (any characters, any shape), verify answers False."""
    assert verify(header, body, ["s3cret"], now=NOW) is False


@given(
    stamp=st.one_of(
        st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1), st.integers().map(str)
    ),
    digest=st.text(),
)
def test_verify_never_raises_on_odd_timestamps_and_digests(stamp: str, digest: str) -> None:
    """Unicode digits (``²``, ``١``), huge or negative numbers, non-ASCII digests: refused, not raised."""
    assert verify(f"t={stamp},v1={digest}", BODY, ["s3cret"], now=NOW) is False
