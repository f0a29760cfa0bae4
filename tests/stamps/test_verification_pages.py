"""The verification pages: what each outcome shows, in Vietnamese and English, escaped, in a phone's Chromium."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, Page, Response, Route, expect
from sqlalchemy import text

from services.stamps.config import StampsSettings
from services.stamps.main import create_app
from services.stamps.verification.pages import COLOURS, STRINGS, render_error, render_verdict, text_colour
from services.stamps.verification.verdicts import (
    MALFORMED,
    OUTCOMES,
    Certificate,
    ScanHistory,
    StampFacts,
    Verdict,
    history_after,
    judge,
)
from shared import gs1
from tests.builders import active_stamps, generated_batch, png, serials_of, stamped_product
from tests.conftest import asgi_client, in_process_events, test_jwks
from tests.support.database import TestDatabase
from tests.support.processes import free_port

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
TODAY = date(2026, 12, 2)
SERIAL = "7K3Q9M2XH4TB8VNCF9"
GTIN = "08930000000015"
URI = f"https://ocop.gov.vn/01/{GTIN}/21/{SERIAL}"
# Pages are served under this address by the test's route handler: nothing leaves the machine.
ORIGIN = "http://127.0.0.1:9"
PHONE = {"width": 360, "height": 740}
# A producer's long name without spaces must wrap, not widen the page.
LONG_NAME = "Mật ong hoa cà phê Đắk Lắk nguyên chất " + "Ngọt" * 12
HEADLINES_VI = {
    "genuine": "Sản phẩm OCOP chính hãng",
    "caution": "Cần thận trọng trước khi mua",
    "suspected": "Nghi ngờ hàng giả",
    "revoked": "Đã bị thu hồi — không mua",
    "not_activated": "Tem chưa kích hoạt — không mua",
    "unknown": "Không phải tem chính thức",
    "malformed": "Mã không hợp lệ",
}


def stamp_facts(**changes: object) -> StampFacts:
    """An active stamp of a 4-star product whose certificate is in force, never verified before."""
    facts = StampFacts(
        serial=SERIAL, batch_id=uuid.uuid4(), gtin=GTIN, state="active", lot="L2026-11",
        production_date=date(2026, 11, 1), expiry_date=date(2027, 11, 1),
        activated_at=datetime(2026, 11, 2, tzinfo=UTC), product_id=uuid.uuid4(), entity_id=uuid.uuid4(),
        product_code="OCOP-22-0001", product_name=LONG_NAME, product_name_en="Dak Lak coffee-blossom honey",
        image=None, producer_name="HTX Nông nghiệp Ea Tu", commune_name="Xã Ea Tu",
        province_name="Đắk Lắk", province_code="66",
        certificate=Certificate(
            number="123/QĐ-UBND", star=4, level="province", status="active", issued_on=date(2025, 3, 1),
            expires_on=date(2028, 3, 1), issuing_authority="UBND tỉnh Đắk Lắk", revocation_ground=None,
        ),
        scan_count=0, first_scanned_at=None, first_scan_province=None, risk_score=0, risk_rules=(),
    )  # fmt: skip
    return dataclasses.replace(facts, **changes)


# The facts that lead the verdict rules to each outcome.
SCENARIOS: dict[str, StampFacts | None] = {
    "genuine": stamp_facts(),
    "caution": stamp_facts(state="suspended"),
    "suspected": stamp_facts(
        risk_score=75,
        risk_rules=("R5",),
        scan_count=4,
        first_scanned_at=datetime(2026, 11, 20, 2, tzinfo=UTC),
        first_scan_province="Hà Nội",
    ),
    "revoked": stamp_facts(state="revoked"),
    "not_activated": stamp_facts(state="issued", activated_at=None),
    "unknown": None,
}


def scenario(outcome: str) -> tuple[Verdict, StampFacts | None, ScanHistory | None]:
    """The verdict, facts and history of a scan whose outcome is ``outcome``, as the rules decide them."""
    if outcome == "malformed":
        return MALFORMED, None, None
    facts = SCENARIOS[outcome]
    verdict = judge(facts, gtin=GTIN, lot=None, today=TODAY, now=NOW)
    assert verdict.outcome == outcome
    return verdict, facts, history_after(facts, earlier_in_batch=0, now=NOW, province="Đắk Lắk")


def page_of(outcome: str, lang: str = "vi", **changes: object) -> str:
    """The page of a scan with ``outcome``, with the facts changed by ``changes``."""
    verdict, facts, history = scenario(outcome)
    if facts is not None and changes:
        facts = dataclasses.replace(facts, **changes)
        verdict = judge(facts, gtin=GTIN, lot=None, today=TODAY, now=NOW)
    other = "en" if lang == "vi" else "vi"
    return render_verdict(
        verdict=verdict, facts=facts, history=history, serial=SERIAL, lang=lang, uri=URI,
        switch_href=f"?lang={other}",
    )  # fmt: skip


def block_of(html: str, lang: str) -> str:
    """The part of a page in ``lang`` (a page holds both languages; CSS shows the one of <html lang>)."""
    return html.split(f'<div class="l-{lang}" lang="{lang}">', 1)[1].split('<div class="l-', 1)[0]


def rgb(colour: str) -> str:
    """``#13773a`` (or ``#fff``) as the browser's computed ``rgb(19, 119, 58)``."""
    if len(colour) == 4:
        colour = "#" + "".join(char * 2 for char in colour[1:])
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


# The pages as text


def test_each_outcome_has_its_own_colour_headline_and_icon() -> None:
    pages = {outcome: page_of(outcome) for outcome in OUTCOMES}
    assert len(set(COLOURS.values())) == len(OUTCOMES)
    assert {outcome: STRINGS["vi"][outcome] for outcome in OUTCOMES} == HEADLINES_VI
    assert len({STRINGS["en"][outcome] for outcome in OUTCOMES}) == len(OUTCOMES)
    for outcome, html in pages.items():
        assert f'data-state="{outcome}"' in html
        assert f"<h1>{HEADLINES_VI[outcome]}</h1>" in html
        assert f"background:{COLOURS[outcome]}" in html
        assert "<svg" in html
    # The question mark is shared by the two outcomes that say "this is no stamp of ours".
    icons = {outcome: html.split("<svg", 1)[1].split("</svg>", 1)[0] for outcome, html in pages.items()}
    assert len(set(icons.values())) == len(OUTCOMES) - 1


def test_the_page_is_self_contained_utf8_and_vietnamese_by_default() -> None:
    html = page_of("genuine")
    assert html.startswith('<!DOCTYPE html><html lang="vi"')
    assert '<meta charset="utf-8">' in html
    assert 'name="viewport" content="width=device-width,initial-scale=1"' in html
    # One inline script (the language switch), allowed by its hash and by nothing else.
    [script] = re.findall(r"<script>(.*?)</script>", html)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in html
    assert "<script " not in html
    assert "<link" not in html
    assert "@import" not in html
    assert "url(" not in html
    # The only absolute addresses are the official domain, named as text, and nothing is fetched from it.
    assert "http://" not in html
    assert "https://" not in html
    assert 'lang="en" data-lang="en" data-title="OCOP stamp verification">English</a>' in html
    assert 'href="?lang=en"' in html


def test_a_genuine_page_shows_the_product_its_certificate_and_the_stamp() -> None:
    html = page_of("genuine")
    for shown in (
        LONG_NAME, "HTX Nông nghiệp Ea Tu", "Xã Ea Tu, Đắk Lắk", "★★★★☆", "4 sao", "123/QĐ-UBND (cấp tỉnh)",
        "01/03/2025 – 01/03/2028", "UBND tỉnh Đắk Lắk", "L2026-11", "01/11/2026", "01/11/2027",
        "7K3Q-9M2X-H4TB-8VNC-F9", "ocop.gov.vn", "Bạn là người đầu tiên xác thực sản phẩm này.",
    ):  # fmt: skip
        assert shown in html, shown
    assert "không còn hiệu lực" not in html
    assert 'role="alert"' not in html  # no expiry banner


def test_english_uses_the_english_name_and_dates() -> None:
    html = page_of("genuine", "en")
    assert html.startswith('<!DOCTYPE html><html lang="en"')
    for shown in (
        "Genuine OCOP product", "Dak Lak coffee-blossom honey", "4 stars", "(province level)",
        "1 Mar 2025 – 1 Mar 2028", "You are the first to verify this product.", 'data-lang="vi" data-title="Xác thực tem OCOP">Tiếng Việt</a>',
        "Official OCOP stamps only lead to ocop.gov.vn",
    ):  # fmt: skip
        assert shown in html, shown
    assert LONG_NAME not in block_of(html, "en")
    assert LONG_NAME in block_of(html, "vi")


def test_later_scans_say_how_often_since_when_and_where() -> None:
    facts = stamp_facts(scan_count=2, first_scanned_at=datetime(2026, 11, 30, 20, tzinfo=UTC),
                        first_scan_province="Hà Nội")  # fmt: skip
    history = history_after(facts, earlier_in_batch=0, now=NOW, province="Đắk Lắk")
    verdict = judge(facts, gtin=GTIN, lot=None, today=TODAY, now=NOW)
    pages = {
        lang: render_verdict(
            verdict=verdict,
            facts=facts,
            history=history,
            serial=SERIAL,
            lang=lang,
            uri=URI,
            switch_href="?lang=en",
        )
        for lang in ("vi", "en")
    }
    # 20:00 UTC on 30 November is 1 December in Vietnam.
    assert "đã được xác thực 3 lần (kể cả lần này), lần đầu vào ngày 01/12/2026 tại Hà Nội." in pages["vi"]
    assert "đây có thể là hàng sao chép" in pages["vi"]
    assert "verified 3 times (this one included), first on 1 Dec 2026 in Hà Nội." in pages["en"]
    assert "it may be a copy" in pages["en"]
    assert "người đầu tiên" not in pages["vi"]
    unplaced = dataclasses.replace(history, first_province=None)
    html = render_verdict(verdict=verdict, facts=facts, history=unplaced, serial=SERIAL, lang="vi", uri=URI,
                          switch_href="?lang=en")  # fmt: skip
    assert "lần đầu vào ngày 01/12/2026. Nếu" in html


TOKEN = "AAAAAAAAAHsABmGd5U4VgMpzWIfvDLN_oAF4BVlKyW8"


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_the_page_of_a_scan_offers_the_location_and_on_a_worrying_outcome_a_report(outcome: str) -> None:
    verdict, facts, history = scenario(outcome)
    html = render_verdict(
        verdict=verdict, facts=facts, history=history, serial=SERIAL, lang="vi", uri=URI, switch_href="?lang=en",
        token=TOKEN,
    )  # fmt: skip
    # Both languages' blocks carry them; the script posts to our own paths only (connect-src 'self').
    assert html.count(f'data-geo="/s/{TOKEN}/geo"') == 2
    assert "connect-src 'self'; form-action 'self'" in html
    reportable = outcome in ("caution", "suspected", "revoked", "not_activated", "unknown")
    assert (html.count('<form method="post" action="/v1/counterfeit-reports"') == 2) is reportable
    assert (f'<input type="hidden" name="token" value="{TOKEN}">' in html) is reportable
    for lang, button in (("vi", "Chia sẻ vị trí của tôi"), ("en", "Share my location")):
        assert button in block_of(html, lang)
    [script] = re.findall(r"<script>(.*?)</script>", html)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in html
    located = render_verdict(
        verdict=verdict, facts=facts, history=history, serial=SERIAL, lang="vi", uri=URI, switch_href="?lang=en",
        token=TOKEN, located=True,
    )  # fmt: skip
    assert "data-geo=" not in located
    assert '<p data-geo-state="done">Cảm ơn bạn, vị trí đã được ghi nhận.</p>' in located
    # Without a token (a page rendered elsewhere) there is nothing to post to.
    assert 'class="card geo"' not in page_of(outcome)
    assert "/v1/counterfeit-reports" not in page_of(outcome)


def test_an_invalid_scan_token_page_says_to_scan_again() -> None:
    for status in (404, 410):
        html = render_error(
            status=status, lang="vi", problem_title="No such scan", detail="", field=None, rescan=True
        )
        assert "<h1>Liên kết kết quả đã hết hạn hoặc không hợp lệ</h1>" in html
        assert "Hãy quét lại mã QR trên tem để xem kết quả xác thực." in html
        assert "Scan the QR code on the stamp again to see its verification." in block_of(html, "en")


@pytest.mark.parametrize("outcome", ["revoked", "not_activated"])
def test_a_stamp_out_of_use_does_not_reassure_with_its_scan_history(outcome: str) -> None:
    html = page_of(outcome)
    assert "người đầu tiên" not in html
    assert "đã được xác thực" not in html


def test_the_reasons_are_spelled_out() -> None:
    assert "Tem này đã bị thu hồi." in page_of("revoked")
    assert "Tem này đã bị hủy." in page_of("revoked", state="void")
    assert "Chứng nhận OCOP của sản phẩm đã bị thu hồi." in page_of(
        "revoked",
        state="active",
        certificate=dataclasses.replace(SCENARIOS["genuine"].certificate, status="revoked"),
    )
    caution = page_of("caution")
    assert "Tem này đang bị tạm dừng để kiểm tra." in caution
    lapsed = page_of("genuine", certificate=None)
    assert "Sản phẩm hiện không có chứng nhận OCOP còn hiệu lực." in lapsed
    assert "Cần thận trọng trước khi mua" in lapsed
    assert "Lịch sử quét của tem này có dấu hiệu bất thường." in page_of("suspected")
    assert "Số sê-ri này chưa từng được cấp." in page_of("unknown")


def test_an_expired_certificate_is_marked_not_in_force() -> None:
    certificate = dataclasses.replace(SCENARIOS["genuine"].certificate, expires_on=date(2026, 12, 1))
    html = page_of("genuine", certificate=certificate)
    assert "Chứng nhận OCOP của sản phẩm đã hết hiệu lực." in html
    assert "01/03/2025 – 01/12/2026 <span" in html
    assert "không còn hiệu lực" in html


def test_a_product_past_its_expiry_date_gets_a_banner_not_a_counterfeit_verdict() -> None:
    html = page_of("genuine", expiry_date=date(2026, 12, 1))
    assert 'data-state="genuine"' in html
    assert "Sản phẩm đã hết hạn sử dụng từ ngày 01/12/2026. Đây không phải dấu hiệu hàng giả" in html
    assert "passed its expiry date on 1 Dec 2026" in page_of("genuine", "en", expiry_date=date(2026, 12, 1))


def test_every_value_from_a_producer_is_escaped() -> None:
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    html = page_of(
        "genuine", product_name=hostile, producer_name=hostile, commune_name=hostile, lot='"><b>lot',
        image='https://img.example/p.png" onerror="alert(3)',
    )  # fmt: skip
    assert html.count("<script>") == 1  # the switch's own
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert '"><b>' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'src="https://img.example/p.png&quot; onerror=&quot;alert(3)"' in html
    page = render_verdict(verdict=MALFORMED, facts=None, history=None, serial='<b>"x', lang="vi", uri=URI,
                          switch_href='"><script>')  # fmt: skip
    assert "<b>" not in page
    assert page.count("<script>") == 1


@pytest.mark.parametrize(
    ("image", "shown"),
    [("https://cdn.ocop.gov.vn/p/1.jpg", True), ("/media/p/1.jpg", True), ("javascript:alert(1)", False),
     ("data:image/svg+xml,<svg onload=alert(1)>", False), ("//evil.example/p.png", False),
     ("http://cdn.example/p.png", False), (None, False)],
)  # fmt: skip
def test_only_a_web_image_is_shown(image: str | None, shown: bool) -> None:
    assert ("<img" in page_of("genuine", image=image)) is shown


def test_unknown_and_malformed_pages_show_no_product() -> None:
    for outcome in ("unknown", "malformed"):
        html = page_of(outcome)
        assert "Chủ thể sản xuất" not in html
        assert "7K3Q-9M2X-H4TB-8VNC-F9" in html
        assert "ocop.gov.vn" in html


def test_the_malformed_link_page_names_the_field_and_says_to_check_the_stamp() -> None:
    html = render_error(status=400, lang="vi", problem_title="Invalid identifier",
                        detail="serial: check pair <AB> is wrong", field="serial")  # fmt: skip
    assert html.startswith('<!DOCTYPE html><html lang="vi" data-state="error-400"')
    assert "<h1>Mã không hợp lệ</h1>" in html
    assert "Hãy kiểm tra bạn đã quét đúng tem chính thức" in html
    assert "<dd>serial</dd>" in html
    assert "check pair &lt;AB&gt; is wrong" in html
    assert 'href="?lang=en"' in html
    english = render_error(status=400, lang="en", problem_title="Invalid identifier", detail="", field=None)
    assert "Check that you scanned the official stamp" in english
    assert "Field" not in english


@pytest.mark.parametrize(
    ("status", "headline"),
    [(404, "Không tìm thấy trang"), (429, "Quá nhiều lượt quét"), (500, "Hệ thống đang bận"),
     (503, "Hệ thống đang bận"), (409, "Không thể xác thực lúc này")],
)  # fmt: skip
def test_other_errors_get_a_generic_page(status: int, headline: str) -> None:
    html = render_error(status=status, lang="vi", problem_title="Error", detail="", field=None)
    assert f"<h1>{headline}" in html
    assert "Vui lòng thử lại" in html
    assert "tem chính thức" not in html


def test_an_unknown_language_falls_back_to_vietnamese() -> None:
    assert page_of("genuine", "fr").startswith('<!DOCTYPE html><html lang="vi"')
    assert render_error(status=400, lang="", problem_title="x", detail="", field=None).startswith(
        '<!DOCTYPE html><html lang="vi"'
    )


# The pages in a phone's Chromium


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each outcome's screenshot goes (printed by the test that writes it)."""
    return tmp_path_factory.mktemp("verification-pages")


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[tuple[Page, list[str]]]:
    """A page at a phone's viewport that serves the verification pages under ORIGIN, and the URLs it requested.

    Every request is recorded; ORIGIN's are answered by rendering the page for the path's outcome (in the
    query's language), and anything else is aborted: nothing leaves the machine.
    """
    context = await browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True)
    requested: list[str] = []

    async def serve(route: Route) -> None:
        url = route.request.url
        requested.append(url)
        if not url.startswith(ORIGIN):
            await route.abort()
            return
        parts = urlsplit(url)
        outcome = parts.path.rsplit("/", 1)[-1]
        lang = parse_qs(parts.query).get("lang", ["vi"])[0]
        # No charset in the Content-Type: the page's own <meta charset> must make the Vietnamese right.
        await route.fulfill(status=200, content_type="text/html", body=page_of(outcome, lang).encode())

    await context.route("**/*", serve)
    page = await context.new_page()
    try:
        yield page, requested
    finally:
        await context.close()


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_each_outcome_in_a_phone_browser(
    phone: tuple[Page, list[str]], outcome: str, screenshots: Path
) -> None:
    page, requested = phone
    await page.goto(f"{ORIGIN}/v/{outcome}")
    headline = page.locator("h1:visible")
    await expect(headline).to_have_text(HEADLINES_VI[outcome])
    await expect(headline).to_be_visible()
    banner = page.locator(".verdict:visible")
    assert await banner.evaluate("e => getComputedStyle(e).backgroundColor") == rgb(COLOURS[outcome])
    assert await banner.evaluate("e => getComputedStyle(e).color") == rgb(text_colour(outcome))
    box = await headline.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] < PHONE["height"]  # the verdict is seen without scrolling
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert await page.evaluate("document.documentElement.lang") == "vi"
    await expect(page.locator(".serial:visible")).to_have_text("7K3Q-9M2X-H4TB-8VNC-F9")
    await page.screenshot(path=screenshots / f"{outcome}-vi.png", full_page=True)

    # The switch shows the English half of the page: no request (it would log another scan).
    await page.get_by_role("link", name="English").click()
    await expect(headline).to_have_text(STRINGS["en"][outcome])
    assert await page.evaluate("document.documentElement.lang") == "en"
    assert await page.title() == "OCOP stamp verification"
    assert urlsplit(page.url).query == "lang=en"
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.screenshot(path=screenshots / f"{outcome}-en.png", full_page=True)
    await page.get_by_role("link", name="Tiếng Việt").click()
    await expect(headline).to_have_text(HEADLINES_VI[outcome])
    assert urlsplit(page.url).query == "lang=vi"

    assert requested == [f"{ORIGIN}/v/{outcome}"]
    print(f"screenshots of {outcome}: {screenshots}")  # noqa: T201


async def test_without_script_the_switch_loads_the_other_language(browser: Browser) -> None:
    context = await browser.new_context(viewport=PHONE, java_script_enabled=False)
    requested: list[str] = []

    async def serve(route: Route) -> None:
        requested.append(route.request.url)
        lang = parse_qs(urlsplit(route.request.url).query).get("lang", ["vi"])[0]
        await route.fulfill(status=200, content_type="text/html", body=page_of("genuine", lang).encode())

    try:
        await context.route("**/*", serve)
        page = await context.new_page()
        await page.goto(f"{ORIGIN}/v/genuine")
        await page.get_by_role("link", name="English").click()
        await expect(page.locator("h1:visible")).to_have_text("Genuine OCOP product")
        assert requested == [f"{ORIGIN}/v/genuine", f"{ORIGIN}/v/genuine?lang=en"]
    finally:
        await context.close()


async def test_the_product_details_render_in_vietnamese(phone: tuple[Page, list[str]]) -> None:
    page, _ = phone
    await page.goto(f"{ORIGIN}/v/genuine")
    await expect(
        page.get_by_text("Bạn là người đầu tiên xác thực sản phẩm này.").filter(visible=True)
    ).to_be_visible()
    await expect(page.locator("h2:visible")).to_have_text(LONG_NAME)
    await expect(page.get_by_text("★★★★☆").filter(visible=True)).to_be_visible()
    await expect(page.get_by_text("Xã Ea Tu, Đắk Lắk").filter(visible=True)).to_be_visible()
    # The long name wraps inside its card.
    card = await page.locator("h2:visible").bounding_box()
    assert card is not None
    assert card["x"] + card["width"] <= PHONE["width"]


async def test_a_hostile_product_name_is_text_in_the_browser(browser: Browser) -> None:
    context = await browser.new_context(viewport=PHONE)
    try:
        page = await context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
        await page.set_content(page_of("genuine", product_name=hostile))
        await expect(page.locator("h2:visible")).to_have_text(hostile)
        assert await page.locator("main img, main script").count() == 0
        assert dialogs == []
    finally:
        await context.close()


async def test_the_product_image_is_the_only_thing_fetched(browser: Browser) -> None:
    context = await browser.new_context(viewport=PHONE)
    requested: list[str] = []
    # A 1×1 PNG.
    pixel = bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360f8"
        "cf00000301010018dd8db00000000049454e44ae426082"
    )

    async def serve(route: Route) -> None:
        requested.append(route.request.url)
        await route.fulfill(status=200, content_type="image/png", body=pixel)

    try:
        await context.route("**/*", serve)
        page = await context.new_page()
        await page.set_content(page_of("genuine", image="https://cdn.ocop.gov.vn/p/1.png"))
        await expect(page.locator("main img:visible")).to_be_visible()
        assert requested == ["https://cdn.ocop.gov.vn/p/1.png"]
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        await context.close()


async def test_the_malformed_link_page_in_a_phone_browser(browser: Browser, screenshots: Path) -> None:
    context = await browser.new_context(viewport=PHONE, is_mobile=True)
    try:
        page = await context.new_page()
        await page.set_content(
            render_error(
                status=400,
                lang="vi",
                problem_title="Invalid identifier",
                detail="serial: 18 characters, the last two a GS1 check pair",
                field="serial",
            )
        )
        await expect(page.locator("h1:visible")).to_have_text("Mã không hợp lệ")
        await expect(
            page.get_by_text("Hãy kiểm tra bạn đã quét đúng tem chính thức", exact=False).filter(visible=True)
        ).to_be_visible()
        assert await page.locator(".verdict:visible").evaluate(
            "e => getComputedStyle(e).backgroundColor"
        ) == rgb(COLOURS["malformed"])
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await page.screenshot(path=screenshots / "error-400-vi.png", full_page=True)
    finally:
        await context.close()


# Through the real routes: the stamps app served by uvicorn on a free port, Chromium asking as browsers do

RESOLVER = "tem.ocop.example.vn"


@pytest.fixture
async def served(database: TestDatabase) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The stamps app on the test's database: an in-process client to build with, and its URL under uvicorn."""
    settings = StampsSettings(
        database_url=database.urls["stamps"], environment="test", jwt_public_keys=test_jwks(),
        events=in_process_events("stamps"), batch_job_every_s=0, anomaly_job_every_s=0, resolver_host=RESOLVER,
    )  # fmt: skip
    app = create_app(settings)
    port = free_port()
    async for client in asgi_client(app):
        # The client already runs the app's lifespan (its scan log); uvicorn only serves.
        config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        try:
            async with asyncio.timeout(30):
                while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
                    await asyncio.sleep(0.02)
            yield client, f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await serving


# Where the consumer stands (Hạ Long, Quảng Ninh), as the browser's Geolocation API reports it.
HA_LONG = {"latitude": 20.951, "longitude": 107.080, "accuracy": 30.0}


@pytest.fixture
async def browsing(browser: Browser) -> AsyncIterator[tuple[Page, list[str]]]:
    """A phone-sized page whose requests are recorded (anything not on this machine is aborted), allowed to
    read its location (HA_LONG)."""
    context = await browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, geolocation=HA_LONG, permissions=["geolocation"]
    )
    requested: list[str] = []

    async def record(route: Route) -> None:
        requested.append(route.request.url)
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            await route.abort()

    await context.route("**/*", record)
    try:
        yield await context.new_page(), requested
    finally:
        await context.close()


@pytest.mark.commits
async def test_a_browser_scanning_a_stamp_is_sent_to_the_page_of_its_scan(
    served: tuple[httpx.AsyncClient, str], browsing: tuple[Page, list[str]], screenshots: Path
) -> None:
    stamps, base = served
    page, requested = browsing
    product = await stamped_product(stamps)
    _, active = await active_stamps(stamps, product, quantity=1, production_date=date(2026, 11, 20))
    reserved = await serials_of(stamps, await generated_batch(stamps, product, quantity=1))
    serials = [*active, *reserved]
    link = gs1.digital_link(product["gtin"], serials[0])

    answer = await page.goto(base + link.path())
    assert answer is not None
    # The scan is answered 307 (never cached) to the page of that scan, named by its token.
    redirect = await redirect_of(answer)
    assert redirect.status == 307
    assert redirect.headers["cache-control"] == "no-store"
    assert redirect.headers["link"] == f'<{link.uri(RESOLVER)}?linkType=linkset>; rel="linkset"'
    token_page = urlsplit(page.url).path
    assert token_page.startswith("/s/")
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["cache-control"] == "no-store"
    # A browser without a device id is given one with the redirect, kept two years, out of reach of scripts.
    cookie = await redirect.header_value("set-cookie")
    assert cookie is not None
    assert cookie.startswith("ocop_device=")
    for attribute in ("HttpOnly", "Max-Age=63072000", "Path=/", "SameSite=lax", "Secure"):
        assert attribute in cookie
    await expect(page.locator("h1:visible")).to_have_text("Sản phẩm OCOP chính hãng")
    first = page.get_by_text("Bạn là người đầu tiên xác thực sản phẩm này.").filter(visible=True)
    await expect(first).to_be_visible()
    await expect(page.locator("h2:visible")).to_have_text(product["name"])
    await expect(page.get_by_text("Phường Hạ Long, Tỉnh Quảng Ninh").filter(visible=True)).to_be_visible()
    # The journey: the activation's commissioning event (EPCIS, generated by the lifecycle).
    await expect(page.locator(".timeline h3:visible")).to_have_text("Hành trình sản phẩm")
    await expect(page.locator(".timeline li:visible")).to_have_count(1)
    await expect(page.locator(".serial:visible")).to_have_text(gs1.grouped(serials[0]))
    await expect(page.get_by_text("20/11/2026", exact=True).filter(visible=True)).to_be_visible()
    await expect(
        page.get_by_text(f"chỉ dẫn đến trang {RESOLVER}", exact=False).filter(visible=True)
    ).to_be_visible()
    # Nothing to report on a genuine stamp; the location may be shared.
    assert await page.locator("form[data-report]").count() == 0
    await expect(page.get_by_role("button", name="Chia sẻ vị trí của tôi")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.screenshot(path=screenshots / "served-genuine-vi.png", full_page=True)

    # A reload shows that scan again: the same count, no new scan.
    reloaded = await page.reload()
    assert reloaded is not None
    assert reloaded.status == 200
    assert urlsplit(page.url).path == token_page
    await expect(first).to_be_visible()
    assert len(await stamps_scans(stamps)) == 1

    await page.get_by_role("link", name="English").click()
    await expect(page.locator("h1:visible")).to_have_text("Genuine OCOP product")
    assert await page.evaluate("document.documentElement.lang") == "en"
    assert page.url == f"{base}{token_page}?lang=en"
    # Still the first verification: switching language is no new scan, nor is reloading in English.
    await expect(page.get_by_text("You are the first to verify this product.")).to_be_visible()
    await page.reload()
    await expect(page.get_by_text("You are the first to verify this product.")).to_be_visible()
    assert len(await stamps_scans(stamps)) == 1

    # The stamp not yet activated, by its short link.
    answer = await page.goto(f"{base}/v/{gs1.grouped(serials[1]).lower()}")
    assert answer is not None
    assert answer.status == 200
    assert (await redirect_of(answer)).status == 307
    await expect(page.locator("h1:visible")).to_have_text("Tem chưa kích hoạt — không mua")
    await expect(page.get_by_text("Báo cáo sản phẩm đáng ngờ").filter(visible=True)).to_be_visible()
    assert all(urlsplit(url).hostname == "127.0.0.1" for url in requested), requested

    # Every scan is logged once, on the html channel; an app asking for JSON still gets JSON, unredirected.
    rows = await stamps_scans(stamps)
    assert [(row["serial"], row["channel"]) for row in rows] == [(serials[0], "html"), (serials[1], "html")]
    # The second scan came with the cookie of the first: one device.
    assert rows[0]["device_hash"] is not None
    assert rows[0]["device_hash"] == rows[1]["device_hash"]
    second = await page.goto(f"{base}/v/{serials[1]}")
    assert second is not None
    assert await (await redirect_of(second)).header_value("set-cookie") is None
    async with httpx.AsyncClient(base_url=base) as app_client:
        json_answer = await app_client.get(link.path(), headers={"accept": "application/json"})
    assert json_answer.status_code == 200
    assert json_answer.headers["content-type"] == "application/json"
    assert json_answer.json()["outcome"] == "genuine"


@pytest.mark.commits
async def test_a_consumer_shares_the_location_of_a_scan_from_its_page(
    served: tuple[httpx.AsyncClient, str], browsing: tuple[Page, list[str]], screenshots: Path
) -> None:
    stamps, base = served
    page, requested = browsing
    product = await stamped_product(stamps)
    _, serials = await active_stamps(stamps, product, quantity=1)
    await page.goto(base + gs1.digital_link(product["gtin"], serials[0]).path())
    share = page.get_by_role("button", name="Chia sẻ vị trí của tôi")
    await share.click()
    await expect(
        page.get_by_text("Cảm ơn bạn, vị trí đã được ghi nhận.").filter(visible=True)
    ).to_be_visible()
    await expect(share).to_be_hidden()
    # The English half says so too, without a request.
    await page.get_by_role("link", name="English").click()
    await expect(
        page.get_by_text("Thank you, your location was recorded.").filter(visible=True)
    ).to_be_visible()
    await page.screenshot(path=screenshots / "served-geo-en.png", full_page=True)
    [row] = await stamps_scans(stamps)
    assert (row["latitude"], row["longitude"], row["accuracy_m"], row["province_code"]) == (
        HA_LONG["latitude"], HA_LONG["longitude"], HA_LONG["accuracy"], "22"
    )  # fmt: skip
    # A reload: no button any more, the thanks, still one scan.
    await page.reload()
    await expect(
        page.get_by_text("Thank you, your location was recorded.").filter(visible=True)
    ).to_be_visible()
    assert await page.get_by_role("button", name="Share my location").count() == 0
    assert len(await stamps_scans(stamps)) == 1
    assert all(urlsplit(url).hostname == "127.0.0.1" for url in requested), requested


@pytest.mark.commits
async def test_a_consumer_reports_a_revoked_stamp_with_a_photo(
    served: tuple[httpx.AsyncClient, str], browsing: tuple[Page, list[str]], screenshots: Path, tmp_path: Path
) -> None:
    stamps, base = served
    page, _ = browsing
    product = await stamped_product(stamps)
    _, serials = await active_stamps(stamps, product, quantity=1)
    revoked = await stamps.post(
        "/v1/stamps/revoke",
        json={"serials": serials, "reason": "revoke: thu hồi"},
        headers=product["officer"],
    )
    assert revoked.status_code == 200, revoked.text
    await page.goto(base + gs1.digital_link(product["gtin"], serials[0]).path())
    await expect(page.locator("h1:visible")).to_have_text("Đã bị thu hồi — không mua")
    await page.get_by_text("Báo cáo sản phẩm đáng ngờ").filter(visible=True).click()
    form = page.locator("form[data-report]:visible")
    await form.get_by_label("Vấn đề").select_option("stamp_damaged")
    await form.get_by_label("Mô tả").fill("Tem bị bóc ra và dán lại trên nắp chai.")
    await form.get_by_label("Tên cửa hàng (không bắt buộc)").fill("Tạp hóa Minh Anh")
    photo = tmp_path / "tem.png"
    photo.write_bytes(png())
    await form.get_by_label("Ảnh", exact=False).set_input_files(photo)
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.screenshot(path=screenshots / "served-report-vi.png", full_page=True)
    await form.get_by_role("button", name="Gửi báo cáo").click()
    sent = page.get_by_text("Cảm ơn bạn. Báo cáo đã được gửi đến cơ quan quản lý OCOP.").filter(visible=True)
    await expect(sent).to_be_visible()
    await expect(form).to_be_hidden()
    [report] = (await stamps.get("/v1/counterfeit-reports", headers=product["officer"])).json()["items"]
    assert (report["serial"], report["kind"], report["shop_name"], report["shop_address"], report["photo_type"]) == (
        serials[0], "stamp_damaged", "Tạp hóa Minh Anh", None, "image/png"
    )  # fmt: skip
    assert report["scan_id"] == (await stamps_scans(stamps))[0]["id"]
    # Without a photo the form is sent all the same (the browser sends an empty file part).
    await page.reload()
    await page.get_by_text("Báo cáo sản phẩm đáng ngờ").filter(visible=True).click()
    await page.locator("form[data-report]:visible").get_by_label("Mô tả").fill("Giá rẻ bất thường.")
    await page.locator("form[data-report]:visible").get_by_role("button", name="Gửi báo cáo").click()
    await expect(sent).to_be_visible()
    listed = (await stamps.get("/v1/counterfeit-reports", headers=product["officer"])).json()["items"]
    assert [(r["kind"], r["photo_type"]) for r in listed] == [
        ("suspected_fake", None),
        ("stamp_damaged", "image/png"),
    ]
    assert len(await stamps_scans(stamps)) == 1


async def redirect_of(answer: Response) -> Response:
    """The 307 a page's final answer was redirected from."""
    earlier = answer.request.redirected_from
    assert earlier is not None
    response = await earlier.response()
    assert response is not None
    return response


@pytest.mark.commits
async def test_a_browser_gets_the_unknown_and_malformed_pages_with_their_status(
    served: tuple[httpx.AsyncClient, str], browsing: tuple[Page, list[str]], screenshots: Path
) -> None:
    stamps, base = served
    page, requested = browsing
    product = await stamped_product(stamps)

    answer = await page.goto(base + gs1.digital_link(product["gtin"], gs1.new_serial()).path())
    assert answer is not None
    assert answer.status == 404
    await expect(page.locator("h1:visible")).to_have_text("Không phải tem chính thức")
    assert await page.locator(".verdict:visible").evaluate("e => getComputedStyle(e).backgroundColor") == rgb(
        COLOURS["unknown"]
    )

    answer = await page.goto(f"{base}/01/{product['gtin'].zfill(14)}/21/7K3Q9M2XH4TB8VNCAA?lang=en")
    assert answer is not None
    assert answer.status == 400
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    await expect(page.locator("h1:visible")).to_have_text("Invalid code")
    await expect(
        page.get_by_text("Check that you scanned the official stamp", exact=False).filter(visible=True)
    ).to_be_visible()
    await page.get_by_text("Technical details").filter(visible=True).click()
    await expect(page.locator("details dd:visible").nth(1)).to_have_text("serial")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.screenshot(path=screenshots / "served-malformed-en.png", full_page=True)
    await page.get_by_role("link", name="Tiếng Việt").click()
    await expect(page.locator("h1:visible")).to_have_text("Mã không hợp lệ")
    await expect(
        page.get_by_text("Hãy kiểm tra bạn đã quét đúng tem chính thức", exact=False)
    ).to_be_visible()

    answer = await page.goto(f"{base}/v/7K3Q9M2XH4TB8VNCF9?lat=91&lon=1")
    assert answer is not None
    assert answer.status == 400
    await expect(page.locator("details:visible")).to_contain_text("query.lat")
    assert all(urlsplit(url).hostname == "127.0.0.1" for url in requested), requested


async def stamps_scans(stamps: httpx.AsyncClient) -> list[dict[str, Any]]:
    """The scan log's rows, oldest first."""
    app = stamps._transport.app  # type: ignore[attr-defined]
    async with app.state.db.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT id, serial, channel, device_hash, latitude, longitude, accuracy_m, province_code"
                " FROM stamps.scan ORDER BY id"
            )
        )
        return [dict(row._mapping) for row in rows]


def test_the_resolver_routes_document_their_pages() -> None:
    document = create_app().openapi()
    for path in ("/01/{rest}", "/v/{code}"):
        responses = document["paths"][path]["get"]["responses"]
        for status in ("200", "400", "404", "503"):
            assert "text/html" in responses[status]["content"], (path, status)
        assert "application/json" in responses["200"]["content"]
        assert "application/problem+json" in responses["400"]["content"]
