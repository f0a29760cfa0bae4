"""National reference data shared by the services as files (no rules): read here, interpreted by each service."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

CLASSIFICATION_FILE = "ocop_classification.json"


@cache
def ocop_classification() -> dict[str, Any]:
    """The OCOP product classification (OCOP-DOMAIN.md §2.3): product set names and, per classification
    version, its sectors and groups. Read once; callers must not change it."""
    text = resources.files(__name__).joinpath(CLASSIFICATION_FILE).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document
