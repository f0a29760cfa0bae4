"""Certificates: issued from a decided result, moved along their life, revoked, and announced to the registry."""
