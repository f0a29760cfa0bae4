"""Load the demo data set through the registry's own rules: register its entities and products.

Entities and products are registered with the same service functions an officer's request uses, so
the demo holds nothing the registry would not accept from its users. Stars and certificates are not
written here: scoring's demo loader decides them (from the plan in ``services/scoring/demo/ratings.csv``)
and announces each certificate to the registry as it would any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.demo.generator import MARKER_TAX_CODE, generate
from services.registry.entities import service as entity_service
from services.registry.entities.repository import EntityRepository
from services.registry.entities.schemas import EntityCreate
from services.registry.products import service as product_service
from services.registry.products.schemas import ProductCreate
from shared.security.principal import Principal, Role

# Entities and products are registered as an administrator would.
REGISTRAR = Principal(sub="demo-seed", role=Role.admin)


@dataclass(frozen=True)
class DemoReport:
    """What a load wrote, and how many of its products scoring's plan rates."""

    entities: int
    products: int
    planned_ratings: int


async def demo_loaded(session: AsyncSession) -> bool:
    """Whether the demo data set is already in the database (its first tax code is registered)."""
    return await EntityRepository(session).get_by_tax_code(MARKER_TAX_CODE) is not None


async def load_demo(session: AsyncSession, today: date) -> DemoReport | None:
    """Register the demo's entities and products in the caller's transaction; None if already loaded."""
    if await demo_loaded(session):
        return None
    data = generate(today)
    entity_ids = {}
    for demo_entity in data.entities:
        entity = await entity_service.register_entity(
            session, principal=REGISTRAR, data=EntityCreate.model_validate(demo_entity.registration())
        )
        entity_ids[demo_entity.key] = entity.id
    for demo_product in data.products:
        registration = ProductCreate.model_validate(
            {**demo_product.registration(), "entity_id": entity_ids[demo_product.entity.key]}
        )
        await product_service.register_product(session, principal=REGISTRAR, data=registration)
    planned = sum(1 for product in data.products if product.ratings)
    return DemoReport(len(data.entities), len(data.products), planned)
