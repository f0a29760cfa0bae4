"""Request dependencies specific to the stamps service."""

from __future__ import annotations

from typing import Annotated

from services.stamps.db import idempotency_keys
from shared.idempotency import Idempotency, idempotency_dependency

IdempotencyDep = Annotated[Idempotency, idempotency_dependency(idempotency_keys)]
