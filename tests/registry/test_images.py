"""Uploaded images are what they claim to be, and private ones stay out of shared caches."""

from __future__ import annotations

import httpx
import pytest

from shared.images import image_type
from tests import builders
from tests.builders import Producer, jpeg, png, webp

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
    return str((await builders.product(client, producer))["id"])


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
