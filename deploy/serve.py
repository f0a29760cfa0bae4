"""Container entry point: run one process of the suite, named by argument or by $OCOP_PROCESS."""

from __future__ import annotations

import os
import sys
import urllib.request

from shared.topology import PROCESSES, ProcessSpec

# Inside a container the port must be reachable from outside the network namespace.
LISTEN_HOST = "0.0.0.0"  # noqa: S104
# Longer than the gateway's upstream pool keeps an idle connection (30 s, shared/http.py), so the
# gateway never reuses a connection the service has just closed.
# Longer than the ingress controller keeps idle upstream connections (60 s for ingress-nginx).
EDGE_KEEP_ALIVE_S = 75
# Below the pod's terminationGracePeriodSeconds (30 s) minus the preStop pause (5 s).
GRACEFUL_SHUTDOWN_S = 20
# Where the gateway's requests come from: pod and container networks are private ranges. Not "*":
# uvicorn then takes the left-most X-Forwarded-For entry, which the gateway passes on from the
# client, so any client could choose the address a service sees. With networks it takes the
# right-most address outside them: the one the gateway (or a proxy in front of it) appended.
TRUSTED_PROXY_NETWORKS = ",".join(
    (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "::1/128",
        "fc00::/7",
    )
)


def process(name: str) -> ProcessSpec:
    """The process called ``name``; exits with the valid names otherwise."""
    for spec in PROCESSES:
        if spec.name == name:
            return spec
    names = ", ".join(spec.name for spec in PROCESSES)
    raise SystemExit(f"serve.py: unknown process {name!r}; set OCOP_PROCESS to one of: {names}")


def uvicorn_command(spec: ProcessSpec) -> list[str]:
    """The server command line of ``spec`` in a container; the k8s and compose files spell out the same."""
    command = ["uvicorn", spec.app, "--host", LISTEN_HOST, "--port", str(spec.port), *spec.uvicorn_args()]
    if spec.edge:
        command += ["--timeout-keep-alive", str(EDGE_KEEP_ALIVE_S)]
    else:
        # Only the gateway and sibling services can reach a service (NetworkPolicy, no published
        # port), from the cluster's private addresses: trust the X-Forwarded-* they set.
        # The keep-alive that outlasts the gateway's pool comes with spec.uvicorn_args().
        command += ["--forwarded-allow-ips", TRUSTED_PROXY_NETWORKS]
    return [*command, "--timeout-graceful-shutdown", str(GRACEFUL_SHUTDOWN_S)]


def healthcheck(spec: ProcessSpec) -> int:
    """0 when the process answers its liveness endpoint, 1 otherwise (Docker's HEALTHCHECK)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{spec.port}/healthz", timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


def main(argv: list[str]) -> int:
    """``serve.py [PROCESS]`` runs it under uvicorn; ``serve.py --healthcheck [PROCESS]`` probes it."""
    check = argv[:1] == ["--healthcheck"]
    args = argv[1:] if check else argv
    spec = process(args[0] if args else os.environ.get("OCOP_PROCESS", ""))
    if check:
        return healthcheck(spec)
    command = uvicorn_command(spec)
    # exec, not a child process: uvicorn takes over this PID and gets the runtime's SIGTERM itself.
    os.execvp(command[0], command)  # noqa: S606


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
