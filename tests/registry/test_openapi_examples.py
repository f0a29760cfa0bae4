"""Every example in the registry's OpenAPI document passes the registry's own validation.

Partners copy the documented examples (and generated clients and schemathesis send them), so a wrong
one — a GTIN whose check digit is off — is a bug. Each property's example is validated by the pydantic
model that the property documents; the entity and product examples are then sent as one registration
each, so the rules beyond the schema (commune valid today, GTIN check digit, GS1 Vietnam prefix)
judge them too; each parameter example is sent on its own request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from tests.builders import ADMIN


@pytest.fixture
async def document(registry_client: httpx.AsyncClient) -> dict[str, Any]:
    """The registry's own OpenAPI document."""
    response = await registry_client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _examples(schema: dict[str, Any], *, item: bool = False) -> Iterator[tuple[bool, Any]]:
    """(is an item of the property's list, example) for each example in a property's schema."""
    for example in schema.get("examples", []):
        yield item, example
    for key in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(key, []):
            yield from _examples(part, item=item)
    if "items" in schema:
        yield from _examples(schema["items"], item=True)


def _registry_models() -> dict[str, type[BaseModel]]:
    """The registry's pydantic models by class name (the name of their OpenAPI component)."""
    found: dict[str, type[BaseModel]] = {}
    pending: list[type[BaseModel]] = [BaseModel]
    while pending:
        for model in pending.pop().__subclasses__():
            pending.append(model)
            if model.__module__.startswith("services.registry."):
                found[model.__name__] = model
    return found


def _property_examples(document: dict[str, Any]) -> list[tuple[str, str, bool, Any]]:
    return [
        (component, name, item, example)
        for component, schema in document["components"]["schemas"].items()
        for name, field in schema.get("properties", {}).items()
        for item, example in _examples(field)
    ]


def _example_body(document: dict[str, Any], component: str) -> dict[str, Any]:
    """A body made of the first example of each documented property of ``component``."""
    body: dict[str, Any] = {}
    for name, field in document["components"]["schemas"][component]["properties"].items():
        examples = list(_examples(field))
        if examples:
            item, example = examples[0]
            body[name] = [example] if item else example
    return body


async def test_every_property_example_passes_its_model(document: dict[str, Any]) -> None:
    models = _registry_models()
    examples = _property_examples(document)
    assert any(name == "gtin" for _, name, _, _ in examples), "the product's GTIN has an example"
    for component, name, item, example in examples:
        assert component in models, f"no registry model behind component {component}"
        model = models[component]
        try:
            model.__pydantic_validator__.validate_assignment(
                model.model_construct(), name, [example] if item else example
            )
        except ValidationError as exc:
            pytest.fail(f"{component}.{name} example {example!r}: {exc}")


async def test_the_documented_registration_examples_are_accepted(
    registry_client: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    entity_body = _example_body(document, "EntityCreate")
    required = set(document["components"]["schemas"]["EntityCreate"]["required"])
    assert required <= set(entity_body), f"required fields without an example: {required - set(entity_body)}"
    entity = await registry_client.post("/v1/entities", json=entity_body, headers=ADMIN)
    assert entity.status_code == 201, entity.text
    product_body = _example_body(document, "ProductCreate") | {"entity_id": entity.json()["id"]}
    assert "gtin" in product_body
    product = await registry_client.post("/v1/products", json=product_body, headers=ADMIN)
    assert product.status_code == 201, product.text
    assert product.json()["warnings"] == []
    assert product.json()["gtin"] == product_body["gtin"]


@pytest.mark.commits  # the catalogue's examples are read outside any transaction
async def test_every_parameter_example_is_answered(
    registry_client: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    sent = 0
    for path, item in document["paths"].items():
        operation = item.get("get")
        if operation is None:
            continue
        parameters = operation.get("parameters", [])
        path_examples = {p["name"]: p["schema"]["examples"][0] for p in parameters
                         if p["in"] == "path" and "examples" in p.get("schema", {})}  # fmt: skip
        for parameter in parameters:
            for _, example in _examples(parameter.get("schema", {})):
                if "{" in path and len(path_examples) < path.count("{"):
                    pytest.fail(f"{path}: a path parameter has no example to send {example!r} with")
                url = path.format(**path_examples)
                query = {parameter["name"]: example} if parameter["in"] == "query" else {}
                response = await registry_client.get(url, params=query, headers=ADMIN)
                assert response.status_code == 200, f"{url} {query}: {response.text}"
                sent += 1
    assert sent, "the document has parameter examples (the admin-unit code)"
