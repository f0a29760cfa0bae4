"""Request dependencies specific to the scoring service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.scoring.db import idempotency_keys
from services.scoring.registry import RegistryClient
from shared.idempotency import Idempotency, idempotency_dependency

IdempotencyDep = Annotated[Idempotency, idempotency_dependency(idempotency_keys)]


def _registry(request: Request) -> RegistryClient:
    registry: RegistryClient = request.app.state.registry
    return registry


RegistryDep = Annotated[RegistryClient, Depends(_registry)]
