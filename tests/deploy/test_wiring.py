"""deploy/wiring.py: the generated wiring reaches every service through the manifests, and works."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import dotenv
import kubernetes_validate
import pytest
import yaml

from deploy import wiring
from services.scoring.config import ScoringSettings
from services.scoring.main import service_identity
from shared.config import BaseServiceSettings
from shared.events.signing import sign, verified_source
from shared.security.dependencies import build_verifier
from shared.security.jwt import InvalidToken, TokenSigner
from shared.security.keys import generate_rsa_pair, jwks
from shared.security.principal import Principal, Role
from shared.topology import PROCESSES, REGISTRY, SCORING, SERVICES, SUBSCRIPTIONS, ProcessSpec
from tests.deploy.test_manifests import (
    KUBERNETES_VERSION,
    WIRING,
    WIRING_ENV_FILE,
    WIRING_SECRETS,
    _compose,
    _compose_environment,
    _containers,
    _env,
    _find,
    _kubernetes_environment,
    _settings_class,
    _settings_from,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TARGETS = ("kubernetes", "compose")
PORTS = {spec.name: spec.port for spec in PROCESSES}


def _deployed_settings(target: str) -> dict[str, BaseServiceSettings]:
    """Every process's settings as its pods (or compose containers) read them, the wiring generated."""
    read = _kubernetes_environment if target == "kubernetes" else _compose_environment
    return {spec.name: _settings_from(_settings_class(spec), read(spec)[0]) for spec in PROCESSES}


def _expected_sources(subscriber: str) -> set[str]:
    """The sources whose events ``subscriber`` receives, by SUBSCRIPTIONS."""
    return {source for source, subscribers in SUBSCRIPTIONS.items() if subscriber in subscribers}


# ---------------------------------------------------------------------------------------------------
# (a) the generated wiring, as each process reads it


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("spec", PROCESSES, ids=lambda spec: spec.name)
def test_deployed_settings_route_every_subscription_in_cluster(spec: ProcessSpec, target: str) -> None:
    """Each process sends its events to exactly its SUBSCRIPTIONS, at the subscriber's Service and port."""
    settings = _deployed_settings(target)[spec.name]
    subscribers = {subscriber.name: subscriber for subscriber in settings.events.subscribers}
    expected = SUBSCRIPTIONS.get(spec.name, {})
    assert set(subscribers) == set(expected)
    for name, types in expected.items():
        assert subscribers[name].types == types
        assert subscribers[name].url == f"http://{name}:{PORTS[name]}/internal/events"
    assert set(settings.events.accepted_secrets) == _expected_sources(spec.name)


@pytest.mark.parametrize("target", TARGETS)
def test_each_subscriber_accepts_exactly_its_sources_signatures(target: str) -> None:
    """A delivery signed by a source verifies at each of its subscribers as that source, and nowhere else."""
    settings = _deployed_settings(target)
    outgoing = {
        source: {
            subscriber.name: subscriber.secret.get_secret_value()
            for subscriber in settings[source].events.subscribers
        }
        for source in SUBSCRIPTIONS
    }
    # One secret per source, the same to every subscriber, and no two sources share one.
    per_source = {source: set(secrets.values()) for source, secrets in outgoing.items()}
    assert all(len(secrets) == 1 for secrets in per_source.values()), per_source
    assert len({secret for secrets in per_source.values() for secret in secrets}) == len(SUBSCRIPTIONS)
    body = b'{"type": "scoring.certificate.issued"}'
    for spec in SERVICES:
        accepted = settings[spec.name].events.secrets_by_source()
        assert {source: len(secrets) for source, secrets in accepted.items()} == dict.fromkeys(
            _expected_sources(spec.name), 1
        )
        for source in SUBSCRIPTIONS:
            (secret,) = per_source[source]
            expected = source if spec.name in SUBSCRIPTIONS[source] else None
            assert verified_source(sign(secret, body), body, accepted) == expected, (source, spec.name)


def test_every_run_makes_fresh_secrets_and_a_fresh_key() -> None:
    """Two runs share no secret, key or key id; only the issuer's keys, given, stay the same."""
    first, second = wiring.generate(), wiring.generate()
    assert first.keys() == second.keys()
    issuers_only = {f"{spec.env_prefix}JWT_PUBLIC_KEYS" for spec in PROCESSES if spec != REGISTRY}
    for name in first.keys() - issuers_only:
        assert first[name] != second[name], name
    for name in issuers_only:
        assert first[name] == second[name] == '{"keys": []}', name


# ---------------------------------------------------------------------------------------------------
# (b) every Deployment and compose service reads its wiring from the Secret or the env file


def _wiring_variables(spec: ProcessSpec) -> dict[str, str]:
    """The generated variables ``spec`` must read."""
    return wiring.variables_of(spec, WIRING)


def test_the_wiring_covers_every_source_and_subscriber_and_every_verifier() -> None:
    """Each service has both events variables generated, only services have them; every process its trusted keys."""
    for spec in PROCESSES:
        names = set(_wiring_variables(spec))
        events = {f"{spec.env_prefix}EVENTS__SUBSCRIBERS", f"{spec.env_prefix}EVENTS__ACCEPTED_SECRETS"}
        assert (events <= names) is (spec in SERVICES), spec.name
        assert bool(events & names) is (spec in SERVICES), spec.name
        assert f"{spec.env_prefix}JWT_PUBLIC_KEYS" in names, spec.name
    assert set(WIRING) == {name for spec in PROCESSES for name in _wiring_variables(spec)}


@pytest.mark.parametrize("spec", PROCESSES, ids=lambda spec: spec.name)
def test_deployment_reads_its_wiring_from_its_generated_secret(spec: ProcessSpec) -> None:
    """Each variable comes from the key of the Secret the generator names, and nowhere else."""
    (container,) = _containers(_find("Deployment", spec.name))
    entries = _env(container)
    for variable in _wiring_variables(spec):
        reference = entries[variable]["valueFrom"]["secretKeyRef"]
        assert reference == {"name": wiring.secret_name(spec), "key": wiring.secret_key(spec, variable)}
        assert (reference["name"], reference["key"]) in WIRING_SECRETS
        # Not also in the ConfigMap, where an operator would edit a value the pods never see.
        assert variable not in _find("ConfigMap", "ocop-config")["data"]


@pytest.mark.parametrize("spec", PROCESSES, ids=lambda spec: spec.name)
def test_compose_service_reads_its_wiring_from_the_env_file(spec: ProcessSpec) -> None:
    """Each variable is the env file's (required: compose refuses to start without it)."""
    environment = _compose()["services"][spec.name]["environment"]
    for variable in _wiring_variables(spec):
        assert environment[variable].startswith(f"${{{variable}:?")
        assert WIRING_ENV_FILE[variable] == WIRING[variable], "the env-file line reads back as generated"


def test_generated_secrets_are_valid_kubernetes_strictly() -> None:
    """The Secrets validate against the API schema, in the suite's namespace, one per process."""
    documents = [document for document in yaml.safe_load_all(wiring.kubernetes_secrets(WIRING)) if document]
    assert [document["metadata"]["name"] for document in documents] == [
        wiring.secret_name(spec) for spec in PROCESSES
    ]
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        assert document["metadata"]["namespace"] == "ocop"


# ---------------------------------------------------------------------------------------------------
# (c) scoring's service key, trusted by the registry


@pytest.mark.parametrize("target", TARGETS)
def test_scoring_signs_what_the_deployed_registry_trusts(target: str) -> None:
    """Scoring's service token, from its deployed settings, verifies at the deployed registry."""
    settings = _deployed_settings(target)
    scoring, registry = settings[SCORING.name], settings[REGISTRY.name]
    assert isinstance(scoring, ScoringSettings)
    assert scoring.service_signing_key.get_secret_value() == WIRING["SCORING_SERVICE_SIGNING_KEY"]
    assert scoring.service_key_id == WIRING["SCORING_SERVICE_KEY_ID"]
    assert scoring.registry_url == f"http://{REGISTRY.name}:{REGISTRY.port}"
    identity = service_identity(scoring)
    assert identity is not None
    verifier = build_verifier(registry)
    assert verifier is not None
    principal = verifier.verify(identity.token())
    assert (principal.role, principal.sub) == (Role.service, "service:scoring")
    trusted = [key["kid"] for key in json.loads(registry.jwt_public_keys)["keys"]]
    assert trusted == [scoring.service_key_id]


def _run_wiring(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m deploy.wiring ARGS`` from the repository root, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "deploy.wiring", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_issuer_keys_join_scorings_in_the_registrys_trusted_keys(tmp_path: Path) -> None:
    """--issuer-jwks: the registry trusts the issuer's tokens and scoring's; a stranger's are refused."""
    issuer_private, issuer_public = generate_rsa_pair()
    path = tmp_path / "issuer-jwks.json"
    path.write_text(jwks(issuer_public, "issuer-1"))
    result = _run_wiring("--compose", "--issuer-jwks", str(path))
    assert result.returncode == 0, result.stderr
    environment = dotenv.dotenv_values(stream=io.StringIO(result.stdout), interpolate=False)
    registry = _settings_from(
        _settings_class(REGISTRY), {"REGISTRY_JWT_PUBLIC_KEYS": str(environment["REGISTRY_JWT_PUBLIC_KEYS"])}
    )
    verifier = build_verifier(registry)
    assert verifier is not None
    user = Principal(sub="admin-1", role=Role.admin)
    signers = [
        TokenSigner(issuer_private, kid="issuer-1", issuer=registry.jwt_issuer),
        TokenSigner(
            str(environment["SCORING_SERVICE_SIGNING_KEY"]),
            kid=str(environment["SCORING_SERVICE_KEY_ID"]),
            issuer=registry.jwt_issuer,
        ),
    ]
    for signer in signers:
        assert verifier.verify(signer.sign(user, audience=registry.jwt_audience)).sub == "admin-1"
    stranger = TokenSigner(generate_rsa_pair()[0], kid="issuer-1", issuer=registry.jwt_issuer)
    with pytest.raises(InvalidToken):
        verifier.verify(stranger.sign(user, audience=registry.jwt_audience))


def _generated_environment(target: str, issuer_jwks: Path) -> dict[str, str]:
    """Every variable ``python -m deploy.wiring --issuer-jwks`` prints for ``target``, as the processes read it."""
    result = _run_wiring(*(("--compose",) if target == "compose" else ()), "--issuer-jwks", str(issuer_jwks))
    assert result.returncode == 0, result.stderr
    if target == "compose":
        lines = dotenv.dotenv_values(stream=io.StringIO(result.stdout), interpolate=False)
        return {name: str(value) for name, value in lines.items()}
    secrets = {
        document["metadata"]["name"]: document["stringData"]
        for document in yaml.safe_load_all(result.stdout)
        if document
    }
    # Each run generates the same variables, so the test run's (WIRING) name every Secret's keys.
    return {
        name: secrets[wiring.secret_name(spec)][wiring.secret_key(spec, name)]
        for spec in PROCESSES
        for name in _wiring_variables(spec)
    }


@pytest.mark.parametrize("target", TARGETS)
def test_every_process_verifies_the_issuers_tokens_and_only_the_registry_scorings(
    tmp_path: Path, target: str
) -> None:
    """--issuer-jwks: a user's token verifies at each process; scoring's service token at the registry alone."""
    issuer_private, issuer_public = generate_rsa_pair()
    path = tmp_path / "issuer-jwks.json"
    path.write_text(jwks(issuer_public, "issuer-1"))
    environment = _generated_environment(target, path)
    user = Principal(sub="producer-1", role=Role.producer)
    for spec in PROCESSES:
        variable = f"{spec.env_prefix}JWT_PUBLIC_KEYS"
        settings = _settings_from(_settings_class(spec), {variable: environment[variable]})
        verifier = build_verifier(settings)
        assert verifier is not None, spec.name
        issuer = TokenSigner(issuer_private, kid="issuer-1", issuer=settings.jwt_issuer)
        assert verifier.verify(issuer.sign(user, audience=settings.jwt_audience)).sub == "producer-1", (
            spec.name
        )
        scoring = TokenSigner(
            environment["SCORING_SERVICE_SIGNING_KEY"],
            kid=environment["SCORING_SERVICE_KEY_ID"],
            issuer=settings.jwt_issuer,
        )
        service_token = scoring.sign(user, audience=settings.jwt_audience)
        if spec == REGISTRY:
            assert verifier.verify(service_token).sub == "producer-1"
        else:
            with pytest.raises(InvalidToken):
                verifier.verify(service_token)


def test_the_command_prints_the_secrets_kubectl_applies() -> None:
    """``python -m deploy.wiring`` prints one Secret per process, each with its process's variables."""
    result = _run_wiring()
    assert result.returncode == 0, result.stderr
    documents = {
        document["metadata"]["name"]: document for document in yaml.safe_load_all(result.stdout) if document
    }
    for spec in PROCESSES:
        data = documents.pop(wiring.secret_name(spec))["stringData"]
        assert set(data) == {wiring.secret_key(spec, name) for name in _wiring_variables(spec)}
    assert not documents


@pytest.mark.parametrize(
    "content",
    ['["not", "a", "jwks"]', '{"keys": [{"kty": "RSA"}]}', "{not json"],
    ids=["list", "no-kid", "not-json"],
)
def test_a_file_that_is_not_a_jwks_is_refused(tmp_path: Path, content: str) -> None:
    """--issuer-jwks of anything but {"keys": [...]} with kids stops with the option named, printing nothing."""
    path = tmp_path / "keys.json"
    path.write_text(content)
    result = _run_wiring("--issuer-jwks", str(path))
    assert result.returncode == 2
    assert "--issuer-jwks" in result.stderr
    assert result.stdout == ""
