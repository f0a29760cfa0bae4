"""Uploaded images are what they claim to be, and private ones stay out of shared caches."""

from __future__ import annotations

import struct
import zlib

import httpx
import pytest

from services.registry.products.images import image_type
from tests.registry.conftest import Producer


def png(width: int = 1, height: int = 1) -> bytes:
    """A well-formed PNG of ``width`` × ``height`` black pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + bytes(width) for _ in range(height)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def jpeg() -> bytes:
    """SOI, a JFIF APP0 segment, a scan header, entropy-coded bytes and EOI."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sos = b"\x01\x01\x00\x00\x3f\x00"
    return (
        b"\xff\xd8"
        + b"\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0
        + b"\xff\xda" + struct.pack(">H", len(sos) + 2) + sos
        + b"\x12\x34\x56" + b"\xff\xd9"
    )  # fmt: skip


def webp() -> bytes:
    """A RIFF container holding one VP8L chunk."""
    body = b"WEBP" + b"VP8L" + struct.pack("<I", 5) + b"\x2f\x00\x00\x00\x00" + b"\x00"
    return b"RIFF" + struct.pack("<I", len(body)) + body


HTML_BEHIND_PNG = b"\x89PNG\r\n\x1a\n<html><script>alert(document.cookie)</script></html>"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (png(), "image/png"),
        (png(3, 2), "image/png"),
        (jpeg(), "image/jpeg"),
        (webp(), "image/webp"),
        (HTML_BEHIND_PNG, None),
        (png()[:-4] + b"\x00\x00\x00\x00", None),  # IEND's CRC broken
        (png() + b"<html>", None),  # something after IEND
        (b"\xff\xd8\xff<html></html>", None),
        (jpeg()[:-2], None),  # no EOI
        (b"RIFF\xff\xff\xff\xffWEBPVP8L<html>", None),
        (b"GIF89a....", None),
        (b"", None),
    ],
)
def test_image_type_checks_the_structure(data: bytes, expected: str | None) -> None:
    assert image_type(data) == expected


async def _product(client: httpx.AsyncClient, producer: Producer) -> str:
    response = await client.post(
        "/v1/products",
        json={"entity_id": str(producer.entity_id), "name": "Chả mực Hạ Long", "product_set": 8},
        headers=producer.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_an_html_file_behind_a_png_signature_is_refused(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    product_id = await _product(registry_client, producer)
    response = await registry_client.post(
        f"/v1/products/{product_id}/images",
        files={"file": ("cha-muc.png", HTML_BEHIND_PNG, "image/png")},
        headers=producer.headers,
    )
    assert response.status_code == 415, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("data", "media_type"), [(png(), "image/png"), (jpeg(), "image/jpeg"), (webp(), "image/webp")]
)
async def test_a_private_image_is_not_for_shared_caches(
    registry_client: httpx.AsyncClient, producer: Producer, data: bytes, media_type: str
) -> None:
    product_id = await _product(registry_client, producer)
    uploaded = await registry_client.post(
        f"/v1/products/{product_id}/images",
        files={"file": ("anh", data, media_type)},
        headers=producer.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    image = uploaded.json()["images"][0]
    assert image["content_type"] == media_type
    fetched = await registry_client.get(image["url"], headers=producer.headers)
    assert fetched.status_code == 200
    assert fetched.content == data
    assert fetched.headers["cache-control"].startswith("private")
    assert "public" not in fetched.headers["cache-control"]
    assert fetched.headers["vary"] == "Authorization"
    assert (await registry_client.get(image["url"])).status_code == 404
