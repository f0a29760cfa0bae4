"""RSA signing keys for development and tests (production keys come from a secret store)."""

from __future__ import annotations

import json
from pathlib import Path
from secrets import token_urlsafe

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.security.jwt import public_jwk


def generate_rsa_pair() -> tuple[str, str]:
    """A new 2048-bit RSA key pair as (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def jwks(public_pem: str, kid: str) -> str:
    """A JWKS document holding one public key."""
    return json.dumps({"keys": [public_jwk(public_pem, kid)]})


def ensure_dev_keys(folder: Path, kid: str = "dev-1") -> tuple[str, str]:
    """Load (or create once) the development signing key in ``folder``: (private PEM, JWKS)."""
    private_path, public_path = folder / "jwt-private.pem", folder / "jwt-public.pem"
    if not private_path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        private, public = generate_rsa_pair()
        private_path.write_text(private)
        private_path.chmod(0o600)
        public_path.write_text(public)
    return private_path.read_text(), jwks(public_path.read_text(), kid)


def ensure_dev_event_secrets(folder: Path, sources: tuple[str, ...]) -> dict[str, str]:
    """Load (or create once) a signing secret per event source in ``folder`` (development only)."""
    path = folder / "event-secrets.json"
    secrets: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [source for source in sources if source not in secrets]
    if missing:
        folder.mkdir(parents=True, exist_ok=True)
        secrets |= {source: token_urlsafe(32) for source in missing}
        path.write_text(json.dumps(secrets))
        path.chmod(0o600)
    return secrets
