"""Certificate errors."""

from __future__ import annotations

from shared.errors import Conflict, NotFound, ProblemError


class CertificateNotFound(NotFound):
    """No certificate with this id or number (or none the caller may see)."""

    type = "certificate-not-found"
    title = "Certificate not found"


class CertificateStateConflict(Conflict):
    """The certificate's status does not allow this change."""

    type = "certificate-state-conflict"
    title = "The certificate's status does not allow this"


class ResultNotCertifiable(Conflict):
    """The result gives no certificate (1–2★, not recognised) or already has one."""

    type = "result-not-certifiable"
    title = "This result cannot be certified"


class LevelMayNotCertify(ProblemError):
    """The result's level may not decide this star under its criteria version (5★ is central only)."""

    status = 422
    type = "level-may-not-certify"
    title = "This level may not certify this star"
