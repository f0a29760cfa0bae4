"""Product errors, each a problem type of its own."""

from __future__ import annotations

from shared.errors import Conflict, NotFound, ProblemError


class ProductNotFound(NotFound):
    """No product with this id (or none the caller may see)."""

    type = "product-not-found"
    title = "Product not found"


class ProductNameTaken(Conflict):
    """The entity already has a product with this name."""

    type = "product-name-taken"
    title = "Product name already used by this entity"


class GtinTaken(Conflict):
    """Another product already carries this GTIN."""

    type = "gtin-taken"
    title = "GTIN already registered"


class IllegalTransition(Conflict):
    """The product's current state does not allow this change."""

    type = "illegal-transition"
    title = "Illegal status transition"


class ImageTooLarge(ProblemError):
    """The uploaded image exceeds the size limit."""

    status = 413
    type = "image-too-large"
    title = "Image too large"


class UnsupportedImageType(ProblemError):
    """The upload is not a JPEG, PNG or WebP image."""

    status = 415
    type = "unsupported-image-type"
    title = "Unsupported image type"


class ImageNotFound(NotFound):
    """No such image on this product."""

    type = "image-not-found"
    title = "Image not found"


class CertificateNumberTaken(Conflict):
    """The issuing authority already gave this certificate number to another product."""

    type = "certificate-number-taken"
    title = "Certificate number already used by this authority"


class CertificateFactsDiffer(Conflict):
    """An event names a known certificate with another star, level or dates than recorded."""

    type = "certificate-facts-differ"
    title = "Certificate recorded with other facts"


class CertificateEventInvalid(ProblemError):
    """A certificate event's data is not a valid certificate: the delivery fails and ends as a dead letter."""

    status = 422
    type = "certificate-event-invalid"
    title = "The certificate event's data is invalid"
