"""The traceability package's problems, typed as the EPCIS 2.0 REST binding types them."""

from __future__ import annotations

from shared.errors import InvalidField, NotFound, ProblemError


class QueryParameterProblem(ProblemError):
    """A query parameter the standard does not know, or a value it cannot take (EPCIS 2.0 §8.2.7)."""

    status = 400
    type = "epcisException:QueryParameterException"
    title = "Invalid query parameter"

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(
            f"{parameter}: {message}",
            errors=[{"field": f"query.{parameter}", "message": message, "type": "query_parameter"}],
        )


class EventNotFound(NotFound):
    """No event with this eventID (or none the caller may see)."""

    type = "epcisException:NoSuchResourceException"
    title = "Resource not found"


class StampNotFound(NotFound):
    """No stamp with this serial."""

    type = "stamp-not-found"
    title = "Stamp not found"


class ProductNotFound(NotFound):
    """No product with this id (or none the caller may see)."""

    type = "product-not-found"
    title = "Product not found"


class InvalidTraceField(InvalidField):
    """A serial, GTIN or lot that breaks GS1 syntax."""
