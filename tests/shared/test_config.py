"""Settings refuse placeholder secrets outside development."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from services.registry.config import RegistrySettings


def test_placeholder_password_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        RegistrySettings(environment="production", database_url=SecretStr("postgresql://u:changeme@db/ocop"))


def test_placeholder_allowed_on_a_developer_machine() -> None:
    settings = RegistrySettings(
        environment="development", database_url=SecretStr("postgresql://u:changeme@db/x")
    )
    assert settings.database_url.get_secret_value().endswith("/x")


def test_real_secret_accepted_in_production_and_hidden_in_repr() -> None:
    settings = RegistrySettings(
        environment="production", database_url=SecretStr("postgresql://u:Xk29vQ7@db/ocop"),
        webhook_secret_key=SecretStr("k" * 16 + "Webhook-Seal-9f2c"),
    )  # fmt: skip
    assert "Xk29vQ7" not in repr(settings)
    assert "Webhook-Seal" not in repr(settings)


def test_prefix_is_per_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("SCORING_LOG_LEVEL", "ERROR")
    assert RegistrySettings().log_level == "DEBUG"
