"""One builder per resource, used by every test that needs one.

Administrative units are reference data and are inserted with SQL on the test's own connection;
everything else goes through the API, as its users would, so the registry's rules apply, and every
set-up call asserts its status. A test sees only its own rows, so names and codes need not be
random: a counter keeps the keys that must be unique (tax codes, GTINs, product names) distinct.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import itertools
import struct
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import openpyxl
from sqlalchemy import column, insert, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.admin_units.service import REFORM_DATE
from services.registry.products.identifiers import gtin_check_digit
from services.scoring.criteria.arithmetic import Node as SheetNode
from services.scoring.criteria.arithmetic import Option, SheetTree, score_card
from shared import clock
from shared.events.envelope import Envelope
from shared.events.relay import Destination, delivery_request
from shared.text import fold
from tests.conftest import auth
from tests.support.keys import EVENT_SECRETS

ADMIN = auth("admin", sub="quan-tri")
SCORING = auth("service", "scoring")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_serial = itertools.count(1)
# Rows a template is filled with come from another range: a test on a clone made by another worker
# process must not draw the template's tax codes again.
TEMPLATE_SERIALS = 900_001


def serial() -> int:
    """A number no other call in this process returns."""
    return next(_serial)


@contextlib.contextmanager
def filling_a_template() -> Iterator[None]:
    """Number what is built meanwhile from the templates' range."""
    global _serial
    tests, _serial = _serial, itertools.count(TEMPLATE_SERIALS)
    try:
        yield
    finally:
        _serial = tests


def tax_code() -> str:
    """A well-formed 10-digit tax code (mã số thuế) not used before in this process."""
    return f"57{serial():08d}"


def gtin(body12: str | None = None) -> str:
    """A GTIN-13 with a correct check digit (Vietnam's 893 prefix unless ``body12`` is given)."""
    body = body12 or f"893{serial():09d}"
    return body + str(gtin_check_digit(body))


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


# Image files


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


# Administrative units


@dataclass(frozen=True)
class Unit:
    """A province and one of its communes, valid today."""

    province_code: str
    commune_code: str
    commune_id: int
    commune_name: str


async def unit(
    db: asyncpg.Connection, *, province_code: str | None = None, commune_name: str = "Xã Thử Nghiệm"
) -> Unit:
    """A commune valid today, in a new province 90–99 unless ``province_code`` names one of them."""
    if province_code is None:
        province_code = await db.fetchval(
            """SELECT min(code)::text FROM (SELECT generate_series(90, 99)::text AS code) free
               WHERE code NOT IN (SELECT code FROM registry.admin_unit WHERE level = 'province')"""
        )
        assert province_code is not None, "a test may create ten provinces"
        await db.execute(
            """INSERT INTO registry.admin_unit (code, name, name_folded, level, unit_type, province_code)
               VALUES ($1, 'Tỉnh Thử', 'tinh thu', 'province', 'tỉnh', $1)""",
            province_code,
        )
    count = await db.fetchval(
        "SELECT count(*) FROM registry.admin_unit WHERE level = 'commune' AND province_code = $1",
        province_code,
    )
    commune_code = f"{province_code}{count + 1:03d}"
    commune_id = await db.fetchval(
        """INSERT INTO registry.admin_unit (code, name, name_folded, level, unit_type, parent_code, province_code)
           VALUES ($1, $2, $3, 'commune', 'xã', $4, $4) RETURNING id""",
        commune_code, commune_name, fold(commune_name), province_code,
    )  # fmt: skip
    return Unit(province_code, commune_code, commune_id, commune_name)


@dataclass(frozen=True)
class ReformedCommune:
    """A province with one commune that the 2025 reform replaced by another."""

    province_code: str
    old: Unit
    new: Unit


async def reformed_commune(db: asyncpg.Connection) -> ReformedCommune:
    """A new province (90–99), a commune valid until the reform, and its successor valid from it."""
    old = await unit(db, commune_name="Xã Cũ")
    new = await unit(db, province_code=old.province_code, commune_name="Xã Mới")
    await db.execute(
        "UPDATE registry.admin_unit SET valid_to = $1 WHERE id = $2", REFORM_DATE, old.commune_id
    )
    await db.execute(
        "UPDATE registry.admin_unit SET valid_from = $1 WHERE id = $2", REFORM_DATE, new.commune_id
    )
    await db.execute(
        "INSERT INTO registry.admin_unit_succession (predecessor_id, successor_id, partial) VALUES ($1, $2, false)",
        old.commune_id, new.commune_id,
    )  # fmt: skip
    return ReformedCommune(old.province_code, old, new)


# Entities and their people


def entity_body(unit: Unit, **overrides: Any) -> dict[str, Any]:
    """A valid entity registration in ``unit``, with a tax code of its own."""
    return {
        "entity_type": "cooperative",
        "legal_name": "Hợp tác xã Nông sản Sạch Tiên Yên",
        "tax_code": tax_code(),
        "representative_name": "Nguyễn Thị Hoa",
        "representative_gender": "female",
        "representative_ethnicity": "Tày",
        "commune_code": unit.commune_code,
        "address": "Thôn Đồng Rui, xã Tiên Yên",
        "phone": "0203 3876 555",
        "email": "htx@example.vn",
        "members_count": 12,
        "local_workers_count": 30,
        "raw_material_area_ha": "12.50",
        "certifications": ["VietGAP"],
        **overrides,
    }


@dataclass(frozen=True)
class Producer:
    """An entity registered by its commune officer, and the people who act on it."""

    unit: Unit
    entity: dict[str, Any]
    headers: dict[str, str]  # the producer's own
    commune_officer: dict[str, str]
    province_officer: dict[str, str]

    @property
    def entity_id(self) -> str:
        """The entity's id."""
        return str(self.entity["id"])


def officers(unit: Unit) -> tuple[dict[str, str], dict[str, str]]:
    """The headers of the unit's commune officer and of its province's officer."""
    return (
        auth("commune_officer", unit.commune_code, sub="can-bo-xa"),
        auth("province_officer", unit.province_code, sub="can-bo-tinh"),
    )


async def entity(
    client: httpx.AsyncClient, unit: Unit, *, headers: dict[str, str] | None = None, **overrides: Any
) -> dict[str, Any]:
    """An entity registered in ``unit`` (by its commune officer unless ``headers`` say who)."""
    body = entity_body(unit, **overrides)
    return _ok(await client.post("/v1/entities", json=body, headers=headers or officers(unit)[0]), 201)


async def producer(
    client: httpx.AsyncClient, db: asyncpg.Connection, unit_: Unit | None = None, **overrides: Any
) -> Producer:
    """An entity in ``unit_`` (a new unit unless given), with its producer's and officers' headers."""
    where = unit_ or await unit(db)
    registered = await entity(client, where, **overrides)
    commune_officer, province_officer = officers(where)
    return Producer(
        where,
        registered,
        auth("producer", str(registered["id"]), sub="chu-the"),
        commune_officer,
        province_officer,
    )


# Products and certificates


def product_body(entity_id: str, **overrides: Any) -> dict[str, Any]:
    """A valid product registration for the entity, with a name of its own."""
    return {
        "entity_id": entity_id,
        "name": f"Chả mực Hạ Long {serial()}",
        "product_set": 8,
        "description": "Chả mực giã tay từ mực tươi vùng biển Hạ Long",
        **overrides,
    }


async def product(
    client: httpx.AsyncClient, owner: Producer, *, headers: dict[str, str] | None = None, **overrides: Any
) -> dict[str, Any]:
    """A product of ``owner``'s entity, registered by its producer unless ``headers`` say who."""
    body = product_body(owner.entity_id, **overrides)
    return _ok(await client.post("/v1/products", json=body, headers=headers or owner.headers), 201)


PROVINCE_AUTHORITY = "Ủy ban nhân dân tỉnh Thử"
MINISTRY_AUTHORITY = "Bộ Nông nghiệp và Môi trường"
REVOCATION_GROUND = "Vi phạm quy định về ghi nhãn"


def certificate(
    product_id: str,
    *,
    star: int = 4,
    issued_on: date | str | None = None,
    level: str | None = None,
    status: str = "active",
    number: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A certificate's event as the scoring service sends it, a certificate of its own (5★ from the
    ministry, the rest from the province, issued a month ago unless said); the registry works out
    its 36 months' validity."""
    level = level or ("central" if star == 5 else "province")
    issued = issued_on or clock.today() - timedelta(days=30)
    return {
        "event_id": str(uuid.uuid4()),
        "product_id": product_id,
        "ocop_star": star,
        "certificate_number": number or f"QN-{serial():06d}",
        "issuing_authority": MINISTRY_AUTHORITY if level == "central" else PROVINCE_AUTHORITY,
        "issued_on": issued if isinstance(issued, str) else issued.isoformat(),
        "level": level,
        "status": status,
        **({"revocation_ground": REVOCATION_GROUND} if status == "revoked" else {}),
        **overrides,
    }


def later(event: dict[str, Any], status: str, **overrides: Any) -> dict[str, Any]:
    """The same certificate's next event: a new event id and ``status`` (a revocation gives a ground)."""
    ground = {"revocation_ground": REVOCATION_GROUND} if status == "revoked" else {}
    return {**event, "event_id": str(uuid.uuid4()), "status": status, **ground, **overrides}


CERTIFICATE_EVENT_TYPES = {
    "active": "issued", "superseded": "superseded", "expiring": "expiring", "expired": "expired", "revoked": "revoked",
}  # fmt: skip


def signed_event(
    event_type: str,
    data: dict[str, Any],
    *,
    event_id: str | None = None,
    subject: str | None = None,
    source: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A delivery as a relay posts it: the envelope's bytes and its headers, signed with the source's test secret."""
    source = source or event_type.split(".", 1)[0]
    envelope = Envelope(
        id=uuid.UUID(event_id) if event_id else uuid.uuid4(), type=event_type, occurred_at=clock.now(),
        source=source, subject=subject or f"product/{data.get('product_id', uuid.uuid4())}", data=data,
    )  # fmt: skip
    secret = EVENT_SECRETS.get(source, "unknown-source-secret")
    return delivery_request(Destination("test", "http://test/internal/events", secret), envelope)


async def post_event(
    client: httpx.AsyncClient, event_type: str, data: dict[str, Any], **options: Any
) -> httpx.Response:
    """POST a signed event to the service's /internal/events, as another service's relay would."""
    body, headers = signed_event(event_type, data, **options)
    return await client.post("/internal/events", content=body, headers=headers)


async def deliver(client: httpx.AsyncClient, event: dict[str, Any], status: int = 200) -> dict[str, Any]:
    """Deliver a certificate event to the registry as scoring's relay does; the product after it (or the problem)."""
    data = {name: value for name, value in event.items() if name != "event_id"}
    response = await post_event(
        client,
        f"scoring.certificate.{CERTIFICATE_EVENT_TYPES[event['status']]}",
        data,
        event_id=event["event_id"],
    )
    if response.status_code != 200:
        return _ok(response, status)
    return _ok(await client.get(f"/v1/products/{event['product_id']}", headers=ADMIN), status)


async def certify(client: httpx.AsyncClient, product_id: str, **fields: Any) -> dict[str, Any]:
    """A new certificate for the product; returns the product."""
    return await deliver(client, certificate(product_id, **fields))


async def certified_product(
    client: httpx.AsyncClient,
    owner: Producer,
    *,
    star: int = 4,
    issued_on: date | None = None,
    level: str | None = None,
    then: tuple[str, ...] = (),
    **fields: Any,
) -> dict[str, Any]:
    """A product ready for evaluation (registered by an admin), certified, then its certificate's later
    statuses (``then``: expiring, expired, revoked); returns the product."""
    registered = await product(client, owner, headers=ADMIN, status="ready_for_evaluation", **fields)
    event = certificate(str(registered["id"]), star=star, issued_on=issued_on, level=level)
    answer = await deliver(client, event)
    for status in then:
        answer = await deliver(client, later(event, status))
    return answer


# The OCOP cycle: ideas and business plans


def idea_body(owner: Producer, **overrides: Any) -> dict[str, Any]:
    """A valid idea registration for the producer's entity, with a product name of its own."""
    return {
        "entity_id": owner.entity_id,
        "product_name": f"Rượu ba kích {serial()}",
        "product_set": 9,
        "description": "Rượu ngâm ba kích tím Ba Chẽ, 29,5 độ",
        "raw_materials": "Ba kích tím trồng dưới tán rừng, xã Thanh Sơn",
        **overrides,
    }


async def idea(client: httpx.AsyncClient, owner: Producer, **overrides: Any) -> dict[str, Any]:
    """A draft idea registered by the producer."""
    return _ok(await client.post("/v1/ideas", json=idea_body(owner, **overrides), headers=owner.headers), 201)


async def submitted_idea(client: httpx.AsyncClient, owner: Producer) -> dict[str, Any]:
    """An idea handed in for review."""
    draft = await idea(client, owner)
    return _ok(await client.post(f"/v1/ideas/{draft['id']}/submit", headers=owner.headers))


async def approved_idea(client: httpx.AsyncClient, owner: Producer) -> dict[str, Any]:
    """An idea approved by the commune officer."""
    submitted = await submitted_idea(client, owner)
    return _ok(await client.post(f"/v1/ideas/{submitted['id']}/approve", headers=owner.commune_officer))


async def returned_idea(
    client: httpx.AsyncClient, owner: Producer, reason: str = "Bổ sung"
) -> dict[str, Any]:
    """An idea the commune officer gave back for changes."""
    submitted = await submitted_idea(client, owner)
    url = f"/v1/ideas/{submitted['id']}/return"
    return _ok(await client.post(url, json={"reason": reason}, headers=owner.commune_officer))


def plan_body(idea_id: str, **overrides: Any) -> dict[str, Any]:
    """A valid business plan for an idea."""
    return {
        "idea_id": idea_id,
        "summary": "Mở rộng vùng trồng 5 ha, đầu tư dây chuyền chiết rót và đóng chai",
        "market": "Cửa hàng OCOP Hạ Long, sàn Voso và Postmart",
        "budget_vnd": 350_000_000,
        **overrides,
    }


async def plan(client: httpx.AsyncClient, owner: Producer) -> dict[str, Any]:
    """A draft business plan of a freshly approved idea."""
    approved = await approved_idea(client, owner)
    return _ok(
        await client.post("/v1/business-plans", json=plan_body(approved["id"]), headers=owner.headers), 201
    )


async def submitted_plan(client: httpx.AsyncClient, owner: Producer) -> dict[str, Any]:
    """A business plan handed in for review."""
    draft = await plan(client, owner)
    return _ok(await client.post(f"/v1/business-plans/{draft['id']}/submit", headers=owner.headers))


# Import files and jobs

ENTITY_COLUMNS = [
    "entity_type", "legal_name", "tax_code", "business_registration_no", "business_registration_date",
    "business_registration_authority", "representative_name", "representative_gender",
    "representative_ethnicity", "address", "commune_code", "phone", "email", "website", "members_count",
    "local_workers_count", "raw_material_area_ha", "certifications", "gs1_company_prefix",
]  # fmt: skip
PRODUCT_COLUMNS = [
    "entity_tax_code", "name", "name_en", "description", "story", "product_set", "classification", "gtin",
    "external_id",
]  # fmt: skip
JOB_POLL_S = 0.05
JOB_LIMIT_S = 60.0


def entity_row(unit: Unit, **overrides: str) -> dict[str, str]:
    """A complete, valid entity row of an import file, with Vietnamese text."""
    number = serial()
    return {
        "entity_type": "cooperative",
        "legal_name": f"Hợp tác xã Nông sản Đầm Hà {number}",
        "tax_code": tax_code(),
        "business_registration_no": f"22G{number:06d}",
        "business_registration_date": "2020-05-17",
        "business_registration_authority": "Phòng Tài chính – Kế hoạch huyện Đầm Hà",
        "representative_name": "Nguyễn Thị Hường",
        "representative_gender": "female",
        "representative_ethnicity": "Sán Dìu",
        "address": "Thôn Đông Hải, xã Quảng Lợi",
        "commune_code": unit.commune_code,
        "phone": "0203 3826 123",
        "email": f"htx{number}@example.vn",
        "website": "https://damha.example.vn",
        "members_count": "25",
        "local_workers_count": "18",
        "raw_material_area_ha": "12.5",
        "certifications": "VietGAP; HACCP",
        "gs1_company_prefix": "8938505",
        **overrides,
    }


def product_row(entity_tax_code: str, **overrides: str) -> dict[str, str]:
    """A complete, valid product row of an import file, with Vietnamese text."""
    number = serial()
    return {
        "entity_tax_code": entity_tax_code,
        "name": f"Rượu ba kích Ba Chẽ {number}",
        "name_en": "Morinda wine",
        "description": "Rượu ngâm củ ba kích tím, đóng chai 500 ml.",
        "story": "Người Dao ở Ba Chẽ ngâm ba kích từ bao đời.",
        "product_set": "14",
        "classification": "148",
        "gtin": gtin(),
        "external_id": f"SKU-{number}",
        **overrides,
    }


def csv_file(
    columns: list[str], rows: list[dict[str, str]], *, bom: bool = True, delimiter: str = ","
) -> bytes:
    """A CSV file as Excel saves it ("CSV UTF-8"), optionally without the byte-order mark."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n", delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode()


def xlsx_file(columns: list[str], rows: list[list[Any]]) -> bytes:
    """A workbook whose first sheet holds the header and the rows (cells typed as given)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(columns)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def upload(
    client: httpx.AsyncClient,
    kind: str,
    content: bytes,
    *,
    filename: str = "danh-sach.csv",
    headers: dict[str, str] = ADMIN,
    valid_rows_only: bool = False,
) -> httpx.Response:
    """POST a file to /v1/imports (the caller checks the answer)."""
    media_type = XLSX if filename.endswith(".xlsx") else "text/csv"
    return await client.post(
        "/v1/imports",
        params={"kind": kind, "valid_rows_only": str(valid_rows_only).lower()},
        files={"file": (filename, content, media_type)},
        headers=headers,
    )


async def finished_job(
    client: httpx.AsyncClient, location: str, headers: dict[str, str] = ADMIN
) -> dict[str, Any]:
    """Poll an import job until it succeeds or fails (bounded), returning its final state."""
    async with asyncio.timeout(JOB_LIMIT_S):
        while True:
            job = _ok(await client.get(location, headers=headers))
            if job["status"] in ("succeeded", "failed"):
                return job
            await asyncio.sleep(JOB_POLL_S)


async def import_job(client: httpx.AsyncClient, kind: str, content: bytes, **options: Any) -> dict[str, Any]:
    """Upload a file, expect 202 with the job's Location, and wait for the job to end."""
    response = await upload(client, kind, content, **options)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/imports/{response.json()['id']}"
    return await finished_job(client, response.headers["location"], options.get("headers", ADMIN))


async def imported(client: httpx.AsyncClient, kind: str, content: bytes, **options: Any) -> dict[str, Any]:
    """An import job that succeeded."""
    job = await import_job(client, kind, content, **options)
    assert job["status"] == "succeeded", job["errors"]
    return job


# Scoring: councils and rounds

PROVINCE_MEMBERS = ("chu-tich-tinh", "uy-vien-tinh-1", "uy-vien-tinh-2")
CENTRAL_MEMBERS = ("chu-tich-tw", "uy-vien-tw-1", "uy-vien-tw-2")


def province_officer(province_code: str) -> dict[str, str]:
    """The headers of a province officer of ``province_code``."""
    return auth("province_officer", province_code, sub="can-bo-tinh")


@dataclass(frozen=True)
class Council:
    """A council in the scoring service with its chair, members and secretary, and who manages it."""

    council: dict[str, Any]
    manager: dict[str, str]
    scorers: tuple[str, ...]  # chair first
    secretary: str

    @property
    def id(self) -> str:
        """The council's id."""
        return str(self.council["id"])

    def member(self, sub: str) -> dict[str, str]:
        """The headers of one of its members (by subject)."""
        return auth("council_member", self.id, sub=sub)

    @property
    def chair(self) -> dict[str, str]:
        """The chair's headers."""
        return self.member(self.scorers[0])


async def council(
    scoring: httpx.AsyncClient,
    *,
    province_code: str | None,
    scorers: tuple[str, ...] | None = None,
    manager: dict[str, str] | None = None,
    **overrides: Any,
) -> Council:
    """A council (a province's when ``province_code`` is given, else the central one) with a chair, the
    other scorers as members and a secretary, set up by its province's officer (central: an admin)."""
    level = "province" if province_code else "central"
    manager = manager or (province_officer(province_code) if province_code else ADMIN)
    scorers = scorers or (PROVINCE_MEMBERS if province_code else CENTRAL_MEMBERS)
    body = {"name": f"Hội đồng OCOP {serial()}", "level": level, "province_code": province_code, **overrides}
    created = _ok(await scoring.post("/v1/councils", json=body, headers=manager), 201)
    secretary = f"thu-ky-{serial()}"
    roles = [("chair", scorers[0]), *(("member", sub) for sub in scorers[1:]), ("secretary", secretary)]
    for role, sub in roles:
        member = {"sub": sub, "full_name": f"Thành viên {sub}", "role": role}
        _ok(await scoring.post(f"/v1/councils/{created['id']}/members", json=member, headers=manager), 201)
    return Council(created, manager, scorers, secretary)


async def scoring_round(scoring: httpx.AsyncClient, of: Council, **overrides: Any) -> dict[str, Any]:
    """An open round of the council, opened by its manager."""
    body = {"council_id": of.id, "name": f"Đợt đánh giá {serial()}", "cut_off": "2026-12-30", **overrides}
    return _ok(await scoring.post("/v1/rounds", json=body, headers=of.manager), 201)


# Scoring: applications (dossiers)


@dataclass(frozen=True)
class Dossier:
    """A producer, one of its registry products and an application for it in the scoring service."""

    owner: Producer
    product: dict[str, Any]
    application: dict[str, Any]

    @property
    def id(self) -> str:
        """The application's id."""
        return str(self.application["id"])

    @property
    def url(self) -> str:
        """The application's URL."""
        return f"/v1/applications/{self.id}"


async def dossier(
    registry: httpx.AsyncClient,
    scoring: httpx.AsyncClient,
    db: asyncpg.Connection,
    *,
    owner: Producer | None = None,
    product_: dict[str, Any] | None = None,
    application_type: str = "new",
) -> Dossier:
    """A draft application, opened by its producer, for a new product of a new producer unless given."""
    owner = owner or await producer(registry, db)
    product_ = product_ or await product(registry, owner)
    body = {"product_id": str(product_["id"]), "type": application_type}
    created = _ok(await scoring.post("/v1/applications", json=body, headers=owner.headers), 201)
    return Dossier(owner, product_, created)


async def step(
    scoring: httpx.AsyncClient,
    of: Dossier,
    action: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One successful step of the dossier (``submit``, ``precheck`` …); returns the application."""
    return _ok(await scoring.post(f"{of.url}/{action}", json=body, headers=headers))


async def submitted(scoring: httpx.AsyncClient, of: Dossier) -> dict[str, Any]:
    """Self-assess the dossier (best options) and submit it."""
    await self_assessed(scoring, of)
    return await step(scoring, of, "submit", of.owner.headers)


async def eligible(scoring: httpx.AsyncClient, of: Dossier) -> dict[str, Any]:
    """Self-assess and submit the dossier, forward it at the commune and find it complete at the province."""
    await submitted(scoring, of)
    await step(scoring, of, "precheck", of.owner.commune_officer, {"decision": "forward"})
    return await step(scoring, of, "completeness", of.owner.province_officer, {"decision": "eligible"})


# Scoring: score sheets and the choices on them


async def sheet(scoring: httpx.AsyncClient, sheet_id: str) -> SheetTree:
    """A score sheet as the criteria API serves it, as the arithmetic's tree (to build and check cards)."""
    document = _ok(await scoring.get(f"/v1/score-sheets/{sheet_id}", headers=ADMIN))
    nodes: list[SheetNode] = []

    def walk(items: list[dict[str, Any]], parent: str | None, part: str | None) -> None:
        for item in items:
            nodes.append(
                SheetNode(
                    code=item["code"], part=part or item["code"], parent=parent, title=item["title"],
                    max_points=Decimal(item["max_points"]), mandatory_for_3_star=item["mandatory_for_3_star"],
                    eliminating=item["eliminating"],
                    options=tuple(Option(o["code"], o["label"], Decimal(o["points"])) for o in item["options"]),
                )
            )  # fmt: skip
            walk(item["children"], item["code"], part or item["code"])

    walk(document["nodes"], None, None)
    return SheetTree(tuple(nodes), uuid.UUID(sheet_id))


def _flagged(tree: SheetTree, leaf: SheetNode) -> bool:
    """Whether the leaf or one of its ancestors is mandatory for 3★ or eliminating."""
    node: SheetNode | None = leaf
    while node is not None:
        if node.mandatory_for_3_star or node.eliminating:
            return True
        node = tree.by_code[node.parent] if node.parent else None
    return False


def choices_for(tree: SheetTree, target: Decimal | int | None = None) -> dict[str, str]:
    """A card meeting every flagged criterion: the best option everywhere, or (with ``target``) the best
    but with unflagged leaves dropped to their worst option, one by one, while the total stays ≥ target."""
    choices = tree.best_choices()
    if target is None:
        return choices
    for leaf in tree.leaves:
        if _flagged(tree, leaf):
            continue
        worst = min(leaf.options, key=lambda option: option.points).code
        trial = {**choices, leaf.code: worst}
        if score_card(tree, trial).total >= Decimal(target):
            choices = trial
    return choices


def failing(tree: SheetTree, choices: dict[str, str], flag: str = "mandatory_for_3_star") -> dict[str, str]:
    """``choices`` with every leaf under the first node carrying ``flag`` at its worst (so that node fails)."""
    flagged = next(node for node in tree.nodes if getattr(node, flag))
    below = {flagged.code}
    for node in tree.nodes:
        if node.parent in below:
            below.add(node.code)
    worst = {
        leaf.code: min(leaf.options, key=lambda option: option.points).code
        for leaf in tree.leaves
        if leaf.code in below
    }
    return {**choices, **worst}


async def self_assessed(
    scoring: httpx.AsyncClient, of: Dossier, choices: dict[str, str] | None = None
) -> dict[str, Any]:
    """The producer's self-assessment of the dossier (the best option everywhere unless given)."""
    if choices is None:
        choices = choices_for(await sheet(scoring, of.application["sheet_id"]))
    body = {"choices": choices}
    return _ok(await scoring.put(f"{of.url}/self-assessment", json=body, headers=of.owner.headers))


@dataclass(frozen=True)
class Scoring:
    """A dossier in a scoring pass: its council, round and the score sheet it is pinned to."""

    dossier: Dossier
    council: Council
    round: dict[str, Any]
    tree: SheetTree


async def in_scoring(
    scoring: httpx.AsyncClient, of: Dossier, *, council_: Council | None = None, central: bool = False
) -> Scoring:
    """Bring an eligible (or, with ``central``, a proposed) dossier into a round and open its pass."""
    province_code = None if central else of.owner.unit.province_code
    council_ = council_ or await council(scoring, province_code=province_code)
    round_ = await scoring_round(scoring, council_)
    await step(
        scoring, of, "assign-central" if central else "assign", council_.manager, {"round_id": round_["id"]}
    )
    opened = await step(scoring, of, "start-scoring", council_.manager)
    return Scoring(of, council_, round_, await sheet(scoring, opened["sheet_id"]))


async def scorecard(
    scoring: httpx.AsyncClient, of: Scoring, sub: str, choices: dict[str, str], status: int = 201
) -> dict[str, Any]:
    """One member's card for the open pass (the answer: the card, or the problem)."""
    body = {"choices": choices}
    return _ok(
        await scoring.post(f"{of.dossier.url}/scorecards", json=body, headers=of.council.member(sub)), status
    )


async def score_all(
    scoring: httpx.AsyncClient, of: Scoring, targets: tuple[int | None, ...] | None = None
) -> dict[str, Any]:
    """Every scorer's card (each aiming at its ``targets`` total; best options by default); the application."""
    for index, sub in enumerate(of.council.scorers):
        target = targets[index] if targets else None
        await scorecard(scoring, of, sub, choices_for(of.tree, target))
    return _ok(await scoring.get(of.dossier.url, headers=ADMIN))


async def relay_outbox(session: AsyncSession, schema: str, to: httpx.AsyncClient) -> list[Envelope]:
    """Deliver the events ``session`` has emitted and not yet relayed to an in-process service, as a relay would
    (in emit order, signed); the envelopes delivered. For tests whose rows never commit: a real relay
    (shared/events/relay.py, tests/events and tests/e2e) reads only committed ones."""
    rows = await session.execute(
        text(f"""UPDATE "{schema}".outbox_event SET routed_at = now() WHERE routed_at IS NULL
                 RETURNING id, type, source, subject, occurred_at, data, request_id, seq""")
    )
    envelopes = [
        Envelope(id=row.id, type=row.type, occurred_at=row.occurred_at, source=row.source, subject=row.subject,
                 data=row.data, request_id=row.request_id)
        for row in sorted(rows, key=lambda row: row.seq)
    ]  # fmt: skip
    for envelope in envelopes:
        destination = Destination("test", "http://test/internal/events", EVENT_SECRETS[envelope.source])
        body, headers = delivery_request(destination, envelope)
        answer = await to.post("/internal/events", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
    return envelopes


# Stamps: the snapshot of products and certificates the stamps service keeps, fed as the registry and
# scoring feed it (their documented events, delivered signed to the stamps service's /internal/events)


def product_snapshot(product_id: uuid.UUID, entity_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    """A ``registry.product.updated`` snapshot of a Quảng Ninh product with a GTIN."""
    number = serial()
    return {
        "id": str(product_id), "version": number, "product_code": f"22-07090-{number:04d}-2026", "external_id": None,
        "name": f"Chả mực Hạ Long {number}", "name_en": None, "entity_id": str(entity_id),
        "entity_legal_name": "Hợp tác xã Thủy sản Hạ Long", "entity_tax_code": tax_code(), "product_set": 8,
        "product_group": "food", "sector": "Thực phẩm chế biến", "classification": "148", "gtin": gtin(),
        "status": "certified", "ocop_star": 4, "certificate_number": None, "certificate_status": None,
        "certificate_level": None, "certificate_issued_on": None, "certificate_expires_on": None,
        "certificate_authority": None, "images": [], "commune_code": "07090", "commune_name": "Phường Hạ Long",
        "province_code": "22", "province_name": "Tỉnh Quảng Ninh", "updated_at": clock.now().isoformat(),
        **overrides,
    }  # fmt: skip


def certificate_snapshot(product_id: uuid.UUID, entity_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    """A ``scoring.certificate.*`` event's data: a 4★ provincial certificate issued a month ago."""
    issued = clock.today() - timedelta(days=30)
    return {
        "certificate_id": str(uuid.uuid4()), "version": 1, "product_id": str(product_id), "entity_id": str(entity_id),
        "province_code": "22", "ocop_star": 4, "certificate_number": f"OCOP-22-2026-{serial():04d}",
        "issuing_authority": PROVINCE_AUTHORITY, "decision_number": "12/QĐ-UBND", "criteria_version": "148+1489",
        "issued_on": issued.isoformat(), "expires_on": clock.add_months(issued, 36).isoformat(), "level": "province",
        "status": "active", "revocation_ground": None, "superseded_by": None, **overrides,
    }  # fmt: skip


async def stamped_product(
    stamps: httpx.AsyncClient, *, status: str = "active", province: str = "22", entity: str | None = None,
    **product: Any,
) -> dict[str, Any]:  # fmt: skip
    """A product the stamps service knows (the registry's snapshot) with its certificate (scoring's event).

    The answer is the product's snapshot plus ``producer`` and ``officer``: headers of its own producer
    and of an officer of its province. ``status=""`` leaves it without a certificate; ``entity`` makes
    it another product of that producer.
    """
    product_id, entity_id = uuid.uuid4(), uuid.UUID(entity) if entity else uuid.uuid4()
    snapshot = product_snapshot(product_id, entity_id, province_code=province, **product)
    answer = await post_event(stamps, "registry.product.updated", snapshot, subject=f"product/{product_id}")
    assert answer.status_code == 200, answer.text
    if status:
        event = {"active": "issued"}.get(status, status)
        ground = {"revocation_ground": "quality_violation: mẫu không đạt"} if status == "revoked" else {}
        data = certificate_snapshot(product_id, entity_id, province_code=province, status=status, **ground)
        answer = await post_event(
            stamps, f"scoring.certificate.{event}", data, subject=f"product/{product_id}"
        )
        assert answer.status_code == 200, answer.text
        snapshot["certificate"] = data
    return {
        **snapshot,
        "producer": auth("producer", str(entity_id)),
        "officer": auth("province_officer", province),
    }


async def certificate_changed(
    stamps: httpx.AsyncClient, product: dict[str, Any], status: str
) -> httpx.Response:
    """Scoring's next event about ``product``'s certificate (from ``stamped_product``): now ``status``."""
    data = {**product["certificate"], "version": product["certificate"]["version"] + 1, "status": status}
    if status == "revoked":
        data["revocation_ground"] = "quality_violation: mẫu không đạt"
    event = f"scoring.certificate.{CERTIFICATE_EVENT_TYPES[status]}"
    return await post_event(stamps, event, data, subject=f"product/{product['id']}")


async def generated_batch(
    stamps: httpx.AsyncClient, product: dict[str, Any], *, quantity: int = 10, lot: str | None = None
) -> dict[str, Any]:
    """A batch of ``quantity`` reserved stamps of ``product``: requested, approved and generated."""
    from services.stamps.batches.runner import BatchJobs
    from shared.db import asyncpg_dsn

    body: dict[str, Any] = {"product_id": product["id"], "quantity": quantity}
    if lot is not None:
        body["lot"] = lot
    batch = _ok(await stamps.post("/v1/stamp-batches", json=body, headers=product["producer"]), 201)
    _ok(await stamps.post(f"/v1/stamp-batches/{batch['id']}/approve", headers=product["officer"]))
    app = stamps._transport.app  # type: ignore[attr-defined]
    runner = BatchJobs(
        lambda: app.state.db, asyncpg_dsn(app.state.settings.database_url.get_secret_value()), every_s=1
    )
    await runner.run_once()
    return _ok(await stamps.get(f"/v1/stamp-batches/{batch['id']}", headers=product["producer"]))


async def serials_of(stamps: httpx.AsyncClient, batch: dict[str, Any]) -> list[str]:
    """The serials of a generated batch (read from the service's own database: what its printer is sent)."""
    app = stamps._transport.app  # type: ignore[attr-defined]
    async with app.state.db.sessionmaker() as session:
        rows = await session.execute(
            text("SELECT serial FROM stamps.stamp WHERE batch_id = :batch ORDER BY serial"),
            {"batch": batch["id"]},
        )
        return [row.serial for row in rows]


async def active_stamps(
    stamps: httpx.AsyncClient, product: dict[str, Any], quantity: int = 10, *, lot: str | None = None,
    production_date: date | None = None, expiry_date: date | None = None,
) -> tuple[dict[str, Any], list[str]]:  # fmt: skip
    """A generated batch of ``product`` whose stamps are issued (by its officer) and activated (by its
    producer) through /v1/stamps: the batch and its serials."""
    batch = await generated_batch(stamps, product, quantity=quantity, lot=lot)
    issued = _ok(
        await stamps.post("/v1/stamps/issue", json={"batch_id": batch["id"]}, headers=product["officer"])
    )
    assert issued["changed"] == quantity, issued
    made = production_date or clock.today()
    body: dict[str, Any] = {
        "batch_id": batch["id"], "production_date": made.isoformat(),
        "expiry_date": (expiry_date or made + timedelta(days=365)).isoformat(),
    }  # fmt: skip
    activated = _ok(await stamps.post("/v1/stamps/activate", json=body, headers=product["producer"]))
    assert activated["changed"] == quantity, activated
    return batch, await serials_of(stamps, batch)


# The lifecycle actions that take a reserved stamp to each state (TRACEABILITY §4.4).
ACTIONS_TO = {
    "reserved": (), "issued": ("issue",), "active": ("issue", "activate"),
    "suspended": ("issue", "activate", "suspend"), "revoked": ("issue", "activate", "revoke"), "void": ("void",),
}  # fmt: skip


async def stamps_in_state(
    stamps: httpx.AsyncClient, product: dict[str, Any], serials: list[str], state: str
) -> None:
    """Take reserved stamps of ``product`` to ``state`` through /v1/stamps/{action}, as its officer and producer do."""
    for action in ACTIONS_TO[state]:
        body: dict[str, Any] = {"serials": serials}
        if action == "activate":
            body |= {"production_date": clock.today().isoformat(),
                     "expiry_date": (clock.today() + timedelta(days=365)).isoformat()}  # fmt: skip
        elif action in ("suspend", "revoke", "void"):
            body["reason"] = f"{action}: kiểm tra"
        who = product["producer"] if action == "activate" else product["officer"]
        changed = _ok(await stamps.post(f"/v1/stamps/{action}", json=body, headers=who))
        assert changed["changed"] == len(serials), (action, changed)


async def scan_summary(
    stamps: httpx.AsyncClient, serial: str, count: int, province: str | None = "22"
) -> None:
    """A stamp's scan summary (``stamps.stamp_scan``) as the verification path upserts it: ``count`` scans."""
    app = stamps._transport.app  # type: ignore[attr-defined]
    async with app.state.db.sessionmaker.begin() as session:
        await session.execute(
            text(
                "INSERT INTO stamps.stamp_scan (serial, scan_count, first_scanned_at, first_scan_province,"
                " last_scanned_at) VALUES (:serial, :count, now(), :province, now())"
            ),
            {"serial": serial, "count": count, "province": province},
        )


# The scan log as verification writes it: test set-up for the anomaly detector (the hot path is the real
# writer). Each scan is a dict of stamps.scan's columns; verdict "genuine" and channel "web" by default.
# ``first_scan`` is set as the scan log sets it (a known serial's first counted scan) unless given.
SCAN_LOG = table(
    "scan", *(column(name) for name in (
        "id", "scanned_at", "serial", "gtin", "lot", "batch_id", "verdict", "channel", "ip_hash", "device_hash",
        "latitude", "longitude", "accuracy_m", "province_code", "first_scan",
    )), schema="stamps",
)  # fmt: skip
# The scan log's first scan of a serial: no earlier scan of it that its summary counts.
FLAG_FIRST_SCANS = text("""
    UPDATE stamps.scan s SET first_scan = true
    WHERE s.id = ANY(:ids) AND s.batch_id IS NOT NULL AND s.verdict NOT IN ('unknown', 'malformed')
      AND NOT EXISTS (
          SELECT 1 FROM stamps.scan e
          WHERE e.serial = s.serial AND e.batch_id IS NOT NULL AND e.verdict NOT IN ('unknown', 'malformed')
            AND (e.scanned_at, e.id) < (s.scanned_at, s.id)
      )""")


async def logged_scans(stamps: httpx.AsyncClient, *scans: dict[str, Any]) -> list[int]:
    """Write ``scans`` into the stamps service's scan log in one transaction (committed); their ids in order."""
    app = stamps._transport.app  # type: ignore[attr-defined]
    given = [{"verdict": "genuine", "channel": "web", **scan} for scan in scans]
    names = {name for scan in given for name in scan}
    # Unstated first scans are false here, then flagged as the scan log would (NOT NULL: no None).
    rows = [
        {**{name: scan.get(name) for name in names}, "first_scan": bool(scan.get("first_scan"))}
        for scan in given
    ]
    async with app.state.db.sessionmaker.begin() as session:
        result = await session.execute(insert(SCAN_LOG).values(rows).returning(SCAN_LOG.c.id))
        ids = [row.id for row in result]
        unstated = [id_ for id_, scan in zip(ids, given, strict=True) if "first_scan" not in scan]
        if unstated:
            await session.execute(FLAG_FIRST_SCANS, {"ids": unstated})
        return ids


# EPCIS events: stored as the epcis package stores them (doc verbatim, indexed columns, one row per EPC)


def epcis_event(**fields: Any) -> dict[str, Any]:
    """An ObjectEvent (OBSERVE, shipping) on one new Quảng Ninh stamp's Digital Link; ``fields`` override."""
    return {
        "type": "ObjectEvent", "eventID": f"urn:uuid:{uuid.uuid4()}",
        "eventTime": "2026-11-20T08:00:00.000+07:00", "eventTimeZoneOffset": "+07:00", "action": "OBSERVE",
        "epcList": [f"https://id.gs1.org/01/{gtin()}/21/S{serial()}"], "bizStep": "shipping",
        "disposition": "in_transit", "readPoint": {"id": "urn:epc:id:sgln:8934567.00010.0"}, **fields,
    }  # fmt: skip


async def stored_epcis_events(
    stamps: httpx.AsyncClient, events: list[dict[str, Any]], *, entity_id: uuid.UUID | str | None,
    province_code: str | None = "22",
) -> list[dict[str, Any]]:  # fmt: skip
    """``events`` stored by the epcis package's own ``record_events`` as ``entity_id``'s (in ``province_code``)."""
    from services.stamps.epcis import service as epcis

    app = stamps._transport.app  # type: ignore[attr-defined]
    async with app.state.db.sessionmaker() as session, session.begin():
        await epcis.record_events(
            session, events=events, entity_id=uuid.UUID(str(entity_id)) if entity_id else None,
            province_code=province_code, origin="capture",
        )  # fmt: skip
    return events


# Producers' sites (EPCIS locations)


def location_body(**overrides: Any) -> dict[str, Any]:
    """A valid site registration in Hạ Long (Quảng Ninh, 22), with a name of its own and no GLN."""
    return {
        "name": f"Cơ sở chế biến chả mực Hạ Long {serial()}",
        "kind": "production_site",
        "address": "Tổ 5, khu 3, phường Hạ Long",
        "commune_code": "22001",
        "province_code": "22",
        "latitude": 20.951,
        "longitude": 107.080,
        **overrides,
    }


def gln(company_prefix: str = "8934567") -> str:
    """A GLN with a correct check digit under ``company_prefix``, not drawn before in this process."""
    body = f"{company_prefix}{serial():0{12 - len(company_prefix)}d}"
    return body + str(gtin_check_digit(body))


async def location(stamps: httpx.AsyncClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    """A site registered at the stamps service by ``headers``' producer (or an admin naming ``entity_id``)."""
    return _ok(await stamps.post("/v1/locations", json=location_body(**overrides), headers=headers), 201)
