"""HTTP routes of /v1/products."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Path, Query, Request, Response, UploadFile, status

from services.registry.dependencies import IdempotencyDep
from services.registry.files import downloads
from services.registry.files.columns import PRODUCTS
from services.registry.products import service
from services.registry.products.schemas import (
    ProductChangeRead,
    ProductCreate,
    ProductRead,
    ProductSnapshot,
    ProductUpdate,
    Status,
    StatusChange,
)  # fmt: skip
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import Page, page_of, problems
from shared.security.dependencies import PrincipalDep

router = APIRouter(prefix="/v1/products", tags=["products"])


Sha256 = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]


def _read(product: object, warnings: list[object] | None = None) -> ProductRead:
    read = ProductRead.model_validate(product)
    return read.model_copy(update={"warnings": warnings or []})


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ProductRead,
    responses=problems(401, 403, 404, 409),
)
async def products_create(
    body: ProductCreate,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    idempotency: IdempotencyDep,
) -> ProductRead | Response:
    """Register a product for an entity (its producer, officers of its unit, admins); retry with Idempotency-Key."""

    async def register() -> ProductRead:
        product, warnings = await service.register_product(session, principal=principal, data=body)
        return _read(product, warnings)  # type: ignore[arg-type]

    return await idempotency.create(response, register, location=lambda product: f"/v1/products/{product.id}")


@router.get("", response_model=Page[ProductRead], responses=problems(401))
async def products_list(
    session: SessionDep,
    principal: PrincipalDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    status: Status | None = None,
    entity_id: uuid.UUID | None = None,
    product_set: Annotated[int | None, Query(ge=1, le=26)] = None,
    commune_code: Annotated[str | None, Query(pattern=r"^\d{5}$")] = None,
) -> Page[ProductRead]:
    """The products the caller may see (drafts included); the public view is /v1/catalogue."""
    page = await service.list_products(
        session, principal=principal, limit=limit, cursor=cursor,
        filters={"status": status, "entity_id": entity_id, "product_set": product_set, "commune_code": commune_code},
    )  # fmt: skip
    return page_of(ProductRead, page)


# Before the /{id} routes, so "export" is never read as an id.
@router.get("/export", response_class=Response, responses=problems(401, 403) | downloads.EXPORT_RESPONSES)
async def products_export(
    request: Request, session: SessionDep, principal: PrincipalDep, file_format: downloads.FormatQuery = "csv"
) -> Response:
    """The products the caller may see (entity named by tax code), as a file that imports back unchanged (staff)."""
    exported = await service.export(
        session, database=request.app.state.db, principal=principal, file_format=file_format
    )
    return downloads.download(PRODUCTS, exported)


@router.get("/{product_id}", response_model=ProductRead, responses=problems(401, 404))
async def products_read(product_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> ProductRead:
    """One product, with everything the registry holds about it."""
    return _read(await service.get_product(session, principal=principal, product_id=product_id))


@router.get("/{product_id}/snapshot", response_model=ProductSnapshot, responses=problems(401, 404))
async def products_snapshot(
    product_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> ProductSnapshot:
    """The product with its entity, commune and province in one call: what scoring pins at submission."""
    return ProductSnapshot.model_validate(
        await service.snapshot(session, principal=principal, product_id=product_id)
    )


@router.patch("/{product_id}", response_model=ProductRead, responses=problems(401, 403, 404, 409))
async def products_update(
    product_id: uuid.UUID, body: ProductUpdate, session: SessionDep, principal: PrincipalDep
) -> ProductRead:
    """Change a product's description, classification, GTIN or images (not its star or certificate)."""
    product, warnings = await service.update_product(
        session, principal=principal, product_id=product_id, data=body
    )
    return _read(product, warnings)  # type: ignore[arg-type]


@router.post("/{product_id}/status", response_model=ProductRead, responses=problems(401, 403, 404, 409))
async def products_change_status(
    product_id: uuid.UUID, body: StatusChange, session: SessionDep, principal: PrincipalDep
) -> ProductRead:
    """Move the product along the OCOP cycle; an illegal move is a 409 naming the current state."""
    return _read(
        await service.change_status(
            session, principal=principal, product_id=product_id, new_status=body.status
        )
    )


@router.get("/{product_id}/history", response_model=list[ProductChangeRead], responses=problems(401, 404))
async def products_history(
    product_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> list[ProductChangeRead]:
    """Every change to the product: who, when, what."""
    return [
        ProductChangeRead.model_validate(c)
        for c in await service.history(session, principal=principal, product_id=product_id)
    ]


@router.post(
    "/{product_id}/images", status_code=status.HTTP_201_CREATED, response_model=ProductRead,
    responses=problems(401, 403, 404, 413, 415),
)  # fmt: skip
async def products_add_image(
    product_id: uuid.UUID, session: SessionDep, principal: PrincipalDep,
    file: Annotated[UploadFile, File(description="JPEG, PNG or WebP, at most 5 MiB")],
) -> ProductRead:  # fmt: skip
    """Attach an image; it is stored once by the SHA-256 of its content."""
    data = await file.read(service.MAX_IMAGE_BYTES + 1)
    return _read(await service.add_image(session, principal=principal, product_id=product_id, data=data))


@router.get(
    "/{product_id}/images/{sha256}",
    response_class=Response,
    responses=problems(404) | {200: {"content": {"image/*": {}}}},
)
async def products_read_image(
    product_id: uuid.UUID, sha256: Sha256, session: SessionDep, principal: PrincipalDep
) -> Response:
    """The image's bytes (immutable: its URL is its content hash); shared caches keep only public ones."""
    media, public = await service.read_image(
        session, principal=principal, product_id=product_id, sha256=sha256
    )
    # A product outside the catalogue is seen only by those allowed to: no shared cache may keep it.
    cache = "public, max-age=31536000, immutable" if public else "private, max-age=3600"
    headers = {"Cache-Control": cache, "ETag": f'"{media.sha256}"'}
    if not public:
        headers["Vary"] = "Authorization"
    return Response(media.data, media_type=media.content_type, headers=headers)
