"""The ceiling: a bare FastAPI app (no middleware, no database) answering like a product read."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI

app = FastAPI(title="bench baseline", openapi_url=None)

# Same fields and about the same size as the registry's ProductRead of the product the bench creates.
_PRODUCT: dict[str, Any] = {
    "name": "Rượu ba kích Quảng Ninh (bench)",
    "name_en": None,
    "description": None,
    "product_set": 3,
    "created_at": "2025-01-01T00:00:00.000000Z",
    "updated_at": "2025-01-01T00:00:00.000000Z",
}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness, so the bench can wait for the process like for the services."""
    return {"status": "ok"}


@app.get("/v1/catalogue/{product_id}")
async def read_product(product_id: uuid.UUID) -> dict[str, Any]:
    """A fixed product with the requested id: routing, path validation and JSON, nothing else."""
    return {"id": str(product_id), **_PRODUCT}
