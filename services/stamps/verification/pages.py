"""The verification page a consumer's browser gets: pure functions from a verdict to one HTML document.

Built for a phone on a weak connection: one response, no build step, no external assets (inline CSS,
inline SVG icons, system fonts, one line of script); an image only when the product has one.
Vietnamese by default, English on ``?lang=en``; both are in the document, so switching sends no request
(which would log another scan). Every value from the database is escaped: producers write product
names. Each outcome has its own colour, icon and headline so nobody mistakes one for another.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import date, datetime
from html import escape
from typing import Final, Literal
from urllib.parse import urlsplit

from services.stamps.traceability.schemas import TraceStep
from services.stamps.verification.verdicts import Outcome, ScanHistory, StampFacts, Verdict
from shared.clock import VIETNAM
from shared.gs1 import grouped

Lang = Literal["vi", "en"]
LANGS: Final[tuple[Lang, ...]] = ("vi", "en")

# Each outcome's colour (background of its banner; its text is white, dark on caution's yellow: a contrast
# of at least 4.5:1 either way).
COLOURS: Final[dict[Outcome, str]] = {
    "genuine": "#13773a",
    "caution": "#fbbf24",
    "suspected": "#c2410c",
    "revoked": "#a1121b",
    "not_activated": "#6b21a8",
    "unknown": "#1f2937",
    "malformed": "#475569",
}
# Outcomes where the stamp is ours and in use: only there does the scan history mean anything to a buyer.
IN_USE: Final = ("genuine", "caution", "suspected")
DARK_TEXT: Final = "#111827"


def text_colour(outcome: Outcome) -> str:
    """The colour of the text on ``outcome``'s banner."""
    return DARK_TEXT if outcome == "caution" else "#fff"


_STROKE = (
    'fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round"'
)
_QUESTION = '<path d="M9.2 9.2a2.9 2.9 0 1 1 4.1 2.6c-.8.4-1.3 1-1.3 1.9v.6"/><path d="M12 17.3v.1"/>'
# Inline SVG, 24×24 in a circle: a tick, an exclamation mark, a cross, a no-entry bar, a lock, a question mark.
_GLYPHS: Final[dict[Outcome, str]] = {
    "genuine": '<path d="M7 12.5l3.2 3.2L17 8.8"/>',
    "caution": '<path d="M12 7v6"/><path d="M12 16.8v.1"/>',
    "suspected": '<path d="M8.5 8.5l7 7M15.5 8.5l-7 7"/>',
    "revoked": '<path d="M7.5 12h9"/>',
    "not_activated": '<rect x="8" y="11" width="8" height="6" rx="1"/><path d="M9.8 11V9.2a2.2 2.2 0 0 1 4.4 0V11"/>',
    "unknown": _QUESTION,
    "malformed": _QUESTION,
}

STRINGS: Final[dict[Lang, dict[str, str]]] = {
    "vi": {
        "lang": "vi",
        "title": "Xác thực tem OCOP",
        "switch": "English",
        "switch_lang": "en",
        "genuine": "Sản phẩm OCOP chính hãng",
        "caution": "Cần thận trọng trước khi mua",
        "suspected": "Nghi ngờ hàng giả",
        "revoked": "Đã bị thu hồi — không mua",
        "not_activated": "Tem chưa kích hoạt — không mua",
        "unknown": "Không phải tem chính thức",
        "malformed": "Mã không hợp lệ",
        "advice_genuine": "Tem do hệ thống OCOP cấp và đang có hiệu lực.",
        "advice_caution": "Hãy kiểm tra kỹ bao bì, tem và hỏi người bán trước khi mua.",
        "advice_suspected": "Không nên mua. Hãy báo cho người bán và cơ quan quản lý OCOP địa phương.",
        "advice_revoked": "Không mua, không sử dụng sản phẩm này.",
        "advice_not_activated": "Tem này chưa được nhà sản xuất kích hoạt nên không được có trên hàng đang bán. "
        "Có thể tem đã bị đánh cắp. Hãy báo cho cơ quan quản lý OCOP địa phương.",
        "advice_unknown": "Mã này không do hệ thống OCOP cấp. Hãy kiểm tra bạn đã quét đúng tem chính thức "
        "trên bao bì.",
        "advice_malformed": "Hãy kiểm tra bạn đã quét đúng tem OCOP chính thức trên bao bì.",
        "reason_stamp_void": "Tem này đã bị hủy.",
        "reason_stamp_revoked": "Tem này đã bị thu hồi.",
        "reason_stamp_suspended": "Tem này đang bị tạm dừng để kiểm tra.",
        "reason_certificate_revoked": "Chứng nhận OCOP của sản phẩm đã bị thu hồi.",
        "reason_certificate_expired": "Chứng nhận OCOP của sản phẩm đã hết hiệu lực.",
        "reason_certificate_none": "Sản phẩm hiện không có chứng nhận OCOP còn hiệu lực.",
        "reason_lot_mismatch": "Số lô trong mã không khớp với lô của tem.",
        "reason_gtin_mismatch": "Mã sản phẩm (GTIN) trong đường dẫn không khớp với tem.",
        "reason_unknown_serial": "Số sê-ri này chưa từng được cấp.",
        "reason_scanned_before_activation": "Tem được quét trước thời điểm kích hoạt — dữ liệu bất thường.",
        "reason_risk": "Lịch sử quét của tem này có dấu hiệu bất thường.",
        "reason_not_activated": "Tem chưa được kích hoạt.",
        "expired": "Sản phẩm đã hết hạn sử dụng từ ngày {date}. Đây không phải dấu hiệu hàng giả, "
        "nhưng không nên sử dụng.",
        "first": "Bạn là người đầu tiên xác thực sản phẩm này.",
        "again": "Tem này đã được xác thực {count} lần (kể cả lần này), lần đầu vào ngày {date}{place}. "
        "Nếu bạn vừa mua sản phẩm còn nguyên niêm phong và chưa từng quét, đây có thể là hàng sao chép.",
        "again_place": " tại {province}",
        "product": "Sản phẩm",
        "producer": "Chủ thể sản xuất",
        "origin": "Xuất xứ",
        "ocop": "Hạng OCOP",
        "star": "{star} sao",
        "certificate": "Giấy chứng nhận",
        "validity": "Hiệu lực",
        "authority": "Cơ quan cấp",
        "level_district": "cấp huyện",
        "level_province": "cấp tỉnh",
        "level_central": "cấp trung ương",
        "not_in_force": "không còn hiệu lực",
        "lot": "Số lô",
        "journey": "Hành trình sản phẩm",
        "production_date": "Ngày sản xuất",
        "expiry_date": "Hạn sử dụng",
        "serial": "Mã tem",
        "domain": "Tem OCOP chính thức chỉ dẫn đến trang {domain}. Hãy kiểm tra địa chỉ trên trình duyệt "
        "trước khi tin kết quả.",
        "error_400": "Mã không hợp lệ",
        "error_404": "Không tìm thấy trang",
        "error_429": "Quá nhiều lượt quét — vui lòng thử lại sau ít phút",
        "error_5xx": "Hệ thống đang bận — vui lòng thử lại sau",
        "error_other": "Không thể xác thực lúc này",
        "hint_400": "Mã bạn quét không đúng định dạng tem OCOP. Hãy kiểm tra bạn đã quét đúng tem chính thức "
        "trên bao bì; tem giả thường dẫn đến trang web khác.",
        "hint_other": "Vui lòng thử lại. Nếu lỗi vẫn còn, hãy quét lại tem sau.",
        "details": "Chi tiết kỹ thuật",
        "field": "Trường",
        "status": "Mã lỗi",
        "error_token": "Liên kết kết quả đã hết hạn hoặc không hợp lệ",
        "hint_token": "Hãy quét lại mã QR trên tem để xem kết quả xác thực.",
        "geo_title": "Giúp phát hiện tem giả",
        "geo_text": "Nếu bạn đồng ý, hãy chia sẻ vị trí của lượt quét này để cơ quan quản lý phát hiện tem bị sao "
        "chép. Vị trí chỉ gắn với lượt quét này.",
        "geo_button": "Chia sẻ vị trí của tôi",
        "geo_done": "Cảm ơn bạn, vị trí đã được ghi nhận.",
        "geo_denied": "Bạn chưa cho phép trình duyệt truy cập vị trí.",
        "geo_failed": "Không gửi được vị trí. Vui lòng thử lại.",
        "report": "Báo cáo sản phẩm đáng ngờ",
        "report_kind": "Vấn đề",
        "kind_suspected_fake": "Nghi ngờ hàng giả",
        "kind_stamp_damaged": "Tem bị rách, bóc ra hoặc dán lại",
        "kind_product_mismatch": "Sản phẩm không khớp với thông tin trên trang",
        "kind_expired": "Hết hạn hoặc hư hỏng",
        "kind_other": "Vấn đề khác",
        "report_text": "Mô tả",
        "report_shop": "Tên cửa hàng (không bắt buộc)",
        "report_address": "Địa chỉ cửa hàng (không bắt buộc)",
        "report_photo": "Ảnh (không bắt buộc; JPEG, PNG hoặc WebP, tối đa 5 MB)",
        "report_send": "Gửi báo cáo",
        "report_sent": "Cảm ơn bạn. Báo cáo đã được gửi đến cơ quan quản lý OCOP.",
        "report_failed": "Không gửi được báo cáo. Vui lòng kiểm tra lại và thử lần nữa.",
    },
    "en": {
        "lang": "en",
        "title": "OCOP stamp verification",
        "switch": "Tiếng Việt",
        "switch_lang": "vi",
        "genuine": "Genuine OCOP product",
        "caution": "Caution before you buy",
        "suspected": "Suspected counterfeit",
        "revoked": "Revoked — do not buy",
        "not_activated": "Stamp not activated — do not buy",
        "unknown": "Not an official stamp",
        "malformed": "Invalid code",
        "advice_genuine": "This stamp was issued by the OCOP system and is in force.",
        "advice_caution": "Check the packaging and the stamp carefully and ask the seller before you buy.",
        "advice_suspected": "Do not buy. Tell the seller and the local OCOP authority.",
        "advice_revoked": "Do not buy or use this product.",
        "advice_not_activated": "The producer has not activated this stamp, so it should not be on goods for "
        "sale. It may have been stolen. Tell the local OCOP authority.",
        "advice_unknown": "The OCOP system never issued this code. Check that you scanned the official stamp "
        "on the packaging.",
        "advice_malformed": "Check that you scanned the official OCOP stamp on the packaging.",
        "reason_stamp_void": "This stamp has been voided.",
        "reason_stamp_revoked": "This stamp has been revoked.",
        "reason_stamp_suspended": "This stamp is suspended while it is checked.",
        "reason_certificate_revoked": "The product's OCOP certificate has been revoked.",
        "reason_certificate_expired": "The product's OCOP certificate has expired.",
        "reason_certificate_none": "The product has no OCOP certificate in force.",
        "reason_lot_mismatch": "The lot in the code does not match the stamp's lot.",
        "reason_gtin_mismatch": "The product code (GTIN) in the link does not match this stamp.",
        "reason_unknown_serial": "This serial number was never issued.",
        "reason_scanned_before_activation": "The stamp was scanned before it was activated — irregular data.",
        "reason_risk": "This stamp's scan history looks irregular.",
        "reason_not_activated": "The stamp has not been activated.",
        "expired": "This product passed its expiry date on {date}. That is not a sign of a counterfeit, "
        "but do not consume it.",
        "first": "You are the first to verify this product.",
        "again": "This stamp has been verified {count} times (this one included), first on {date}{place}. "
        "If you just bought this sealed product and did not scan it before, it may be a copy.",
        "again_place": " in {province}",
        "product": "Product",
        "producer": "Producer",
        "origin": "Origin",
        "ocop": "OCOP rating",
        "star": "{star} stars",
        "certificate": "Certificate",
        "validity": "Valid",
        "authority": "Issued by",
        "level_district": "district level",
        "level_province": "province level",
        "level_central": "central level",
        "not_in_force": "no longer in force",
        "lot": "Lot",
        "journey": "The product's journey",
        "production_date": "Production date",
        "expiry_date": "Best before",
        "serial": "Stamp code",
        "domain": "Official OCOP stamps only lead to {domain}. Check the address in your browser before you "
        "trust the result.",
        "error_400": "Invalid code",
        "error_404": "Page not found",
        "error_429": "Too many scans — please try again in a few minutes",
        "error_5xx": "The service is busy — please try again later",
        "error_other": "Verification is not possible right now",
        "hint_400": "The code you scanned is not in the format of an OCOP stamp. Check that you scanned the "
        "official stamp on the packaging; fake stamps often lead to another website.",
        "hint_other": "Please try again. If the problem persists, scan the stamp again later.",
        "details": "Technical details",
        "field": "Field",
        "status": "Error code",
        "error_token": "This result link has expired or is not valid",
        "hint_token": "Scan the QR code on the stamp again to see its verification.",
        "geo_title": "Help find fake stamps",
        "geo_text": "If you agree, share where this scan took place so the authority can detect copied stamps. "
        "The location is tied to this scan only.",
        "geo_button": "Share my location",
        "geo_done": "Thank you, your location was recorded.",
        "geo_denied": "You did not allow the browser to use your location.",
        "geo_failed": "The location could not be sent. Please try again.",
        "report": "Report a suspicious product",
        "report_kind": "What is wrong",
        "kind_suspected_fake": "I think it is a counterfeit",
        "kind_stamp_damaged": "The stamp is torn, peeled off or stuck back",
        "kind_product_mismatch": "The product does not match this page",
        "kind_expired": "Expired or spoiled",
        "kind_other": "Something else",
        "report_text": "Description",
        "report_shop": "Shop name (optional)",
        "report_address": "Shop address (optional)",
        "report_photo": "Photo (optional; JPEG, PNG or WebP, at most 5 MB)",
        "report_send": "Send report",
        "report_sent": "Thank you. Your report was sent to the OCOP authority.",
        "report_failed": "The report could not be sent. Please check it and try again.",
    },
}
# The page's one script. The language switch without a request (a request would log another scan): show the
# other block, keep the address (so a reload stays in that language); without script the link still
# works. On a scan's page: share the location with consent (POST /s/{token}/geo), send a report (POST
# /v1/counterfeit-reports) and say how it went, in both languages' blocks at once.
_SCRIPT: Final = (
    "function each(q,f){Array.prototype.forEach.call(document.querySelectorAll(q),f)}"
    'function say(k,v){each("[data-"+k+"]",function(p){p.hidden=p.getAttribute("data-"+k)!==v})}'
    'document.addEventListener("click",function(e){var a=e.target.closest("a[data-lang]");if(a){'
    "e.preventDefault();document.documentElement.lang=a.dataset.lang;document.title=a.dataset.title;"
    'history.replaceState(null,"",a.href);return}var b=e.target.closest("button[data-geo]");if(!b)return;'
    'if(!navigator.geolocation){say("geo-state","failed");return}'
    "navigator.geolocation.getCurrentPosition(function(p){var c=p.coords;"
    'fetch(b.dataset.geo,{method:"POST",headers:{"content-type":"application/json"},body:JSON.stringify('
    "{lat:c.latitude,lon:c.longitude,accuracy:Math.min(c.accuracy,100000)})}).then(function(r){"
    'if(r.ok||r.status===409){say("geo-state","done");each("button[data-geo]",function(x){x.hidden=true})}'
    'else say("geo-state","failed")},function(){say("geo-state","failed")})},'
    'function(){say("geo-state","denied")},{enableHighAccuracy:true,timeout:20000,maximumAge:60000})});'
    'document.addEventListener("submit",function(e){var f=e.target.closest("form[data-report]");if(!f)return;'
    'e.preventDefault();fetch(f.action,{method:"POST",body:new FormData(f)}).then(function(r){'
    'if(r.ok){each("form[data-report]",function(x){x.hidden=true});say("report-state","sent")}'
    'else say("report-state","failed")},function(){say("report-state","failed")})})'
)
_SCRIPT_HASH: Final = "sha256-" + base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
_MONTHS_EN: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Mobile first: one column, large type, nothing wider than the screen (long names wrap anywhere).
_CSS: Final = (
    "*{box-sizing:border-box}"
    "html[lang=vi] .l-en,html[lang=en] .l-vi{display:none}"
    "html{-webkit-text-size-adjust:100%}"
    "body{margin:0;background:#f3f4f6;color:#111827;line-height:1.45;"
    'font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif;'
    "overflow-wrap:anywhere}"
    "main{max-width:36rem;margin:0 auto;padding:0 0 1.5rem}"
    ".top{display:flex;justify-content:space-between;align-items:center;padding:.5rem 1rem;font-size:.9rem}"
    ".top a{color:#1d4ed8;padding:.35rem .6rem;border:1px solid #93a3b8;border-radius:1rem;"
    "text-decoration:none;background:#fff}"
    ".verdict{padding:1.25rem 1rem 1.1rem;text-align:center}"
    ".verdict svg{width:4rem;height:4rem;display:block;margin:0 auto .5rem}"
    ".verdict h1{font-size:1.55rem;line-height:1.2;margin:0 0 .4rem}"
    ".verdict p{margin:.25rem 0;font-size:1rem}"
    ".verdict ul{margin:.25rem 0 .4rem;padding:0;list-style:none;font-weight:600}"
    ".banner{margin:.75rem 1rem 0;padding:.75rem;border-radius:.5rem;background:#fef3c7;"
    "border:2px solid #b45309;color:#78350f;font-weight:600}"
    ".card{background:#fff;margin:.75rem 1rem 0;padding:1rem;border-radius:.5rem;"
    "box-shadow:0 1px 2px rgba(0,0,0,.08)}"
    ".card h2{font-size:1.2rem;margin:0 0 .5rem}"
    ".timeline h3{font-size:1rem;margin:0 0 .5rem}.timeline ol{margin:0;padding-left:1.2rem}"
    ".timeline time{font-weight:600}"
    ".card img{display:block;max-width:100%;height:auto;max-height:14rem;margin:0 auto .75rem;"
    "border-radius:.4rem}"
    "dl{margin:0}dt{font-size:.8rem;color:#4b5563;margin-top:.55rem}dt:first-child{margin-top:0}"
    "dd{margin:0;font-weight:600}"
    ".stars{color:#b45309;letter-spacing:.1em}"
    ".muted{color:#b91c1c;font-weight:400}"
    ".card p{margin:0}"
    ".card dl+.hint{margin-top:.75rem}"
    ".serial{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:1.1rem;letter-spacing:.04em}"
    ".hint{font-size:.9rem;color:#374151}"
    "details{font-size:.85rem;color:#374151;margin-top:.75rem}"
    "[hidden]{display:none!important}"
    ".geo button,.report button{font:inherit;font-weight:600;padding:.6rem 1rem;border-radius:.5rem;"
    "border:0;background:#1d4ed8;color:#fff;margin-top:.6rem}"
    ".geo h3{font-size:1rem;margin:0 0 .4rem}.geo p+p{margin-top:.5rem}.geo [data-geo-state]{font-weight:600}"
    ".report summary{font-weight:700;cursor:pointer;color:#a1121b;font-size:1.05rem}"
    ".report details{margin:0;font-size:1rem;color:inherit}"
    ".report label{display:block;font-size:.9rem;margin-top:.6rem}"
    ".report select,.report textarea,.report input{display:block;width:100%;font:inherit;margin-top:.2rem;"
    "padding:.4rem;border:1px solid #93a3b8;border-radius:.35rem;background:#fff}"
    ".report textarea{min-height:5rem}"
    ".report [data-report-state]{font-weight:600;margin-top:.6rem}"
)
# Outcomes whose page offers the report form: a consumer has something to tell the authority.
REPORTABLE: Final = ("caution", "suspected", "revoked", "not_activated", "unknown")
REPORT_KINDS: Final = ("suspected_fake", "stamp_damaged", "product_mismatch", "expired", "other")
REPORT_TEXT_MAX = 2000


def language(lang: str | None) -> Lang:
    """The page's language: ``en`` when asked for, Vietnamese otherwise."""
    return "en" if lang == "en" else "vi"


def render_verdict(
    *,
    verdict: Verdict,
    facts: StampFacts | None,
    history: ScanHistory | None,
    serial: str,
    lang: str,
    uri: str,
    switch_href: str,
    trace: Sequence[TraceStep] = (),
    token: str | None = None,
    located: bool = False,
) -> str:
    """The verification page of one scan: the verdict first, then the product, its certificate and history,
    and a short timeline of the stamp's journey (``trace``: its first steps, from the EPCIS events).

    ``switch_href`` is this page's address in the other language (``?lang=en``); both languages are in
    the document and the switch shows the other one without a request, which would count as a new scan.
    With the scan's ``token`` (its page, ``/s/{token}``) the page offers to share the location (unless
    ``located`` already) and, on a worrying outcome, a report form.
    """
    shown = language(lang)
    hrefs = _hrefs(shown, switch_href)
    outcome = verdict.outcome
    blocks = {
        each: _verdict_block(
            STRINGS[each],
            verdict=verdict,
            facts=facts,
            history=history,
            serial=serial,
            uri=uri,
            switch_href=hrefs[each],
            trace=trace,
            token=token,
            located=located,
        )
        for each in LANGS
    }
    return _document(shown, COLOURS[outcome], outcome, blocks)


def render_error(
    *, status: int, lang: str, problem_title: str, detail: str, field: str | None, rescan: bool = False
) -> str:
    """The page of a scan that could not be verified: 400 for a malformed link (with a hint), else generic;
    ``rescan`` for a scan's page whose token is not (or no longer) valid: scan the stamp again."""
    outcome: Outcome = "malformed" if status == 400 else "unknown"
    shown = language(lang)
    blocks = {
        each: _error_block(
            STRINGS[each],
            outcome=outcome,
            status=status,
            problem_title=problem_title,
            detail=detail,
            field=field,
            rescan=rescan,
        )
        for each in LANGS
    }
    return _document(shown, COLOURS[outcome], f"error-{status}", blocks)


# The parts of a page


def _hrefs(shown: Lang, switch_href: str) -> dict[Lang, str]:
    """Each language block's switch: the shown one links to ``switch_href``, the other one back."""
    other: Lang = "en" if shown == "vi" else "vi"
    back = switch_href.replace(f"lang={other}", f"lang={shown}")
    if back == switch_href:
        back = f"?lang={shown}"
    return {shown: switch_href, other: back}


def _document(shown: Lang, colour: str, state: str, blocks: dict[Lang, str]) -> str:
    # The CSP is a second line of defence behind escaping: only the switch's script runs (its hash),
    # nothing loads but images.
    return (
        f'<!DOCTYPE html><html lang="{shown}" data-state="{_e(state)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        f"script-src '{_SCRIPT_HASH}'; img-src 'self' https:; connect-src 'self'; form-action 'self'\">"
        f'<meta name="robots" content="noindex"><meta name="theme-color" content="{colour}">'
        f"<title>{_e(STRINGS[shown]['title'])}</title><style>{_CSS}</style></head><body><main>"
        + "".join(f'<div class="l-{each}" lang="{each}">{blocks[each]}</div>' for each in LANGS)
        + f"</main><script>{_SCRIPT}</script></body></html>"
    )


def _verdict_block(
    text: dict[str, str], *, verdict: Verdict, facts: StampFacts | None, history: ScanHistory | None,
    serial: str, uri: str, switch_href: str, trace: Sequence[TraceStep] = (), token: str | None = None,
    located: bool = False,
) -> str:  # fmt: skip
    outcome = verdict.outcome
    parts = [_top(text, switch_href), _verdict(text, verdict)]
    if verdict.expired and facts is not None and facts.expiry_date is not None:
        expired = text["expired"].format(date=_day(facts.expiry_date, text))
        parts.append(f'<p class="banner" role="alert">{_e(expired)}</p>')
    if history is not None and outcome in IN_USE:
        parts.append(f'<section class="card history">{_history(text, history)}</section>')
    if facts is not None and outcome not in ("unknown", "malformed"):
        parts.append(_product(text, facts, verdict))
        if trace:
            parts.append(_timeline(text, trace))
    if token is not None and outcome in REPORTABLE:
        parts.append(_report(text, token))
    parts.append(_stamp(text, serial, uri))
    if token is not None:
        parts.append(_geo(text, token, located))
    return "".join(parts)


def _geo(text: dict[str, str], token: str, located: bool) -> str:
    states = "".join(
        f'<p data-geo-state="{state}"{"" if located and state == "done" else " hidden"}>'
        f"{_e(text['geo_' + state])}</p>"
        for state in ("done", "denied", "failed")
    )
    button = (
        ""
        if located
        else f'<button type="button" data-geo="/s/{_e(token)}/geo">{_e(text["geo_button"])}</button>'
    )
    return (
        f'<section class="card geo"><h3>{_e(text["geo_title"])}</h3><p class="hint">{_e(text["geo_text"])}</p>'
        f"{button}{states}</section>"
    )


def _report(text: dict[str, str], token: str) -> str:
    kinds = "".join(f'<option value="{kind}">{_e(text["kind_" + kind])}</option>' for kind in REPORT_KINDS)
    return (
        f'<section class="card report"><details><summary>{_e(text["report"])}</summary>'
        '<form method="post" action="/v1/counterfeit-reports" enctype="multipart/form-data" data-report>'
        f'<input type="hidden" name="token" value="{_e(token)}">'
        f'<label>{_e(text["report_kind"])}<select name="kind">{kinds}</select></label>'
        f'<label>{_e(text["report_text"])}<textarea name="description" required maxlength="{REPORT_TEXT_MAX}">'
        "</textarea></label>"
        f'<label>{_e(text["report_shop"])}<input name="shop_name" maxlength="200"></label>'
        f'<label>{_e(text["report_address"])}<input name="shop_address" maxlength="500"></label>'
        f'<label>{_e(text["report_photo"])}<input type="file" name="photo" accept="image/jpeg,image/png,image/webp">'
        f'</label><button type="submit">{_e(text["report_send"])}</button></form>'
        f'<p data-report-state="sent" hidden>{_e(text["report_sent"])}</p>'
        f'<p data-report-state="failed" hidden>{_e(text["report_failed"])}</p></details></section>'
    )


def _error_block(
    text: dict[str, str], *, outcome: Outcome, status: int, problem_title: str, detail: str, field: str | None,
    rescan: bool = False,
) -> str:  # fmt: skip
    key = {400: "error_400", 404: "error_404", 429: "error_429"}.get(
        status, "error_5xx" if status >= 500 else "error_other"
    )
    hint = "hint_400" if status == 400 else "hint_other"
    if rescan:
        key, hint = "error_token", "hint_token"
    technical = [f"<dt>{_e(text['status'])}</dt><dd>{status} {_e(problem_title)}</dd>"]
    if field:
        technical.append(f"<dt>{_e(text['field'])}</dt><dd>{_e(field)}</dd>")
    if detail:
        technical.append(f"<dd>{_e(detail)}</dd>")
    return (
        _top(text, f"?lang={text['switch_lang']}")
        + _banner(outcome, f"<h1>{_e(text[key])}</h1>")
        + f'<section class="card"><p class="hint">{_e(text[hint])}</p>'
        + f"<details><summary>{_e(text['details'])}</summary><dl>{''.join(technical)}</dl></details></section>"
    )


def _top(text: dict[str, str], switch_href: str) -> str:
    other = text["switch_lang"]
    return (
        f'<nav class="top"><strong>{_e(text["title"])}</strong><a href="{_e(switch_href)}" hreflang="{other}" '
        f'lang="{other}" data-lang="{other}" data-title="{_e(STRINGS[language(other)]["title"])}">'
        f"{_e(text['switch'])}</a></nav>"
    )


def _icon(outcome: Outcome) -> str:
    return (
        f'<svg viewBox="0 0 24 24" aria-hidden="true" {_STROKE}>'
        f'<circle cx="12" cy="12" r="10.5"/>{_GLYPHS[outcome]}</svg>'
    )


def _verdict(text: dict[str, str], verdict: Verdict) -> str:
    outcome = verdict.outcome
    reasons = "".join(f"<li>{_e(text[key])}</li>" for key in _reason_keys(verdict))
    # Why, then what to do.
    listed = f"<ul>{reasons}</ul>" if reasons else ""
    return _banner(outcome, f"<h1>{_e(text[outcome])}</h1>{listed}<p>{_e(text['advice_' + outcome])}</p>")


def _banner(outcome: Outcome, inner: str) -> str:
    return (
        f'<section class="verdict" style="background:{COLOURS[outcome]};color:{text_colour(outcome)}" '
        f'role="status">{_icon(outcome)}{inner}</section>'
    )


def _reason_keys(verdict: Verdict) -> list[str]:
    # product_expired has its own banner; the outcome's advice already says what not_activated means.
    keys = [
        f"reason_{reason}" for reason in verdict.reasons if reason not in ("product_expired", "malformed")
    ]
    return [key for key in keys if key in STRINGS["vi"] and key != f"reason_{verdict.outcome}"]


def _history(text: dict[str, str], history: ScanHistory) -> str:
    if history.is_first:
        return f"<p><strong>{_e(text['first'])}</strong></p>"
    first = history.first_at.astimezone(VIETNAM).date()
    place = text["again_place"].format(province=history.first_province) if history.first_province else ""
    return f"<p>{_e(text['again'].format(count=history.count, date=_day(first, text), place=place))}</p>"


def _product(text: dict[str, str], facts: StampFacts, verdict: Verdict) -> str:
    name = (
        (facts.product_name_en if text["lang"] == "en" else None)
        or facts.product_name
        or facts.product_code
        or ""
    )
    rows: list[tuple[str, str]] = []
    if facts.producer_name:
        rows.append((text["producer"], _e(facts.producer_name)))
    origin = ", ".join(part for part in (facts.commune_name, facts.province_name) if part)
    if origin:
        rows.append((text["origin"], _e(origin)))
    certificate = facts.certificate
    if certificate is not None:
        star = max(0, min(5, certificate.star))
        rows.append(
            (
                text["ocop"],
                f'<span class="stars" aria-hidden="true">{"★" * star}{"☆" * (5 - star)}</span> '
                f"{_e(text['star'].format(star=star))}",
            )
        )
        level = text.get(f"level_{certificate.level}", certificate.level)
        rows.append((text["certificate"], f"{_e(certificate.number)} ({_e(level)})"))
        lapsed = verdict.certificate_verdict in ("expired", "revoked", "none")
        validity = f"{_day(certificate.issued_on, text)} – {_day(certificate.expires_on, text)}"
        note = f' <span class="muted">({_e(text["not_in_force"])})</span>' if lapsed else ""
        rows.append((text["validity"], _e(validity) + note))
        if certificate.issuing_authority:
            rows.append((text["authority"], _e(certificate.issuing_authority)))
    if facts.lot:
        rows.append((text["lot"], _e(facts.lot)))
    if facts.production_date:
        rows.append((text["production_date"], _e(_day(facts.production_date, text))))
    if facts.expiry_date:
        rows.append((text["expiry_date"], _e(_day(facts.expiry_date, text))))
    image = _image(facts.image, name)
    described = "".join(f"<dt>{_e(label)}</dt><dd>{value}</dd>" for label, value in rows)
    return f'<section class="card">{image}<h2>{_e(name)}</h2><dl>{described}</dl></section>'


def _image(url: str | None, name: str) -> str:
    # Only https addresses or our own paths: a producer's "javascript:", "data:" or "http:" URL is not shown.
    if not url or not (url.startswith("https://") or (url.startswith("/") and not url.startswith("//"))):
        return ""
    return f'<img src="{_e(url)}" alt="{_e(name)}" width="320" height="224" loading="lazy" decoding="async">'


# The page shows the journey's first steps; the whole chain is at /v1/stamps/{serial}/trace.
TIMELINE_STEPS = 8


def _timeline(text: dict[str, str], trace: Sequence[TraceStep]) -> str:
    items = "".join(
        f"<li><time>{_e(_day(step.event_time.astimezone(VIETNAM), text))}</time> "
        f"{_e(step.summary_en if text['lang'] == 'en' else step.summary_vi)}</li>"
        for step in trace[:TIMELINE_STEPS]
    )
    return f'<section class="card timeline"><h3>{_e(text["journey"])}</h3><ol>{items}</ol></section>'


def _stamp(text: dict[str, str], serial: str, uri: str) -> str:
    domain = urlsplit(uri).hostname if "//" in uri else None
    hint = f'<p class="hint">{_e(text["domain"].format(domain=domain))}</p>' if domain else ""
    return (
        f'<section class="card"><dl><dt>{_e(text["serial"])}</dt>'
        f'<dd class="serial">{_e(grouped(serial))}</dd></dl>{hint}</section>'
    )


def _day(day: date | datetime, text: dict[str, str]) -> str:
    if text["lang"] == "en":
        return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def _e(value: object) -> str:
    return escape(str(value), quote=True)
