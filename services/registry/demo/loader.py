"""Load the demo data set through the registry's own rules: register, then certify.

Entities and products are registered with the same service functions an officer's request uses,
and every star and certificate is written by ``products.service.apply_certification`` on behalf of
the scoring service, so the demo holds nothing the registry would not accept from its users.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.demo.generator import MARKER_TAX_CODE, generate
from services.registry.entities import service as entity_service
from services.registry.entities.repository import EntityRepository
from services.registry.entities.schemas import EntityCreate
from services.registry.products import service as product_service
from services.registry.products.schemas import CertificationIn, ProductCreate
from shared.security.principal import Principal, Role

# Entities are registered as an administrator would; certificates arrive as the scoring service's.
REGISTRAR = Principal(sub="demo-seed", role=Role.admin)
SCORING = Principal(sub="demo-seed", role=Role.service, scope="scoring")


@dataclass(frozen=True)
class DemoReport:
    """What a load wrote."""

    entities: int
    products: int
    certificates: int
    rated: dict[int, int]


async def demo_loaded(session: AsyncSession) -> bool:
    """Whether the demo data set is already in the database (its first tax code is registered)."""
    return await EntityRepository(session).get_by_tax_code(MARKER_TAX_CODE) is not None


async def load_demo(session: AsyncSession, today: date) -> DemoReport | None:
    """Load the demo data set as of ``today`` in the caller's transaction; None if already loaded."""
    if await demo_loaded(session):
        return None
    data = generate(today)
    entity_ids = {}
    for demo_entity in data.entities:
        entity = await entity_service.register_entity(
            session, principal=REGISTRAR, data=EntityCreate.model_validate(demo_entity.registration())
        )
        entity_ids[demo_entity.key] = entity.id
    certificates = 0
    for demo_product in data.products:
        registration = ProductCreate.model_validate(
            {**demo_product.registration(), "entity_id": entity_ids[demo_product.entity.key]}
        )
        product, _ = await product_service.register_product(session, principal=REGISTRAR, data=registration)
        for certificate in demo_product.certificates:
            event = CertificationIn(
                event_id=certificate.event_id(), product_id=product.id, ocop_star=certificate.star,
                certificate_number=certificate.number, issuing_authority=certificate.authority,
                decision_number=certificate.decision_number, issued_on=certificate.issued_on,
                expires_on=certificate.expires_on, level=certificate.level, status=certificate.status,
            )  # fmt: skip
            await product_service.apply_certification(session, certificate=event, actor=SCORING)
            certificates += 1
    rated = Counter(
        p.certificates[-1].star
        for p in data.products
        if p.certificates and p.certificates[-1].status == "active"
    )
    return DemoReport(len(data.entities), len(data.products), certificates, dict(sorted(rated.items())))
