"""Schemathesis against every service's own OpenAPI, over real HTTP to the real processes.

No input may cause a 5xx, and every response must match the documented status codes, content
types and schemas. A bounded number of examples per operation keeps `make test` fast; raise
OCOP_FUZZ_EXAMPLES for a deeper run. The CLI is used because the pytest plugin of schemathesis
4.32 does not work with pytest 9's subtests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import auth
from tests.support.processes import RunningProcess

pytestmark = pytest.mark.e2e

EXAMPLES = os.environ.get("OCOP_FUZZ_EXAMPLES", "25")
SEED = os.environ.get("OCOP_FUZZ_SEED", "20261128")
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    ]
)


def schemathesis(url: str, headers: dict[str, str], report_dir: Path) -> subprocess.CompletedProcess[str]:
    """Schemathesis's run over the document at ``url``, sending ``headers`` with every request."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "run", url,
        "--checks", CHECKS, "--max-examples", EXAMPLES, "--seed", SEED,
        "--phases", "examples,coverage,fuzzing", "--workers", "1", "--no-color",
        "--request-timeout", "10", "--suppress-health-check", "all",
        "--report", "junit", "--report-dir", str(report_dir), "--generation-database", "none",
    ]  # fmt: skip
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("caller", ["anonymous", "admin"])
@pytest.mark.parametrize("service", ["registry", "scoring", "stamps"])
def test_no_input_breaks_the_documented_contract(
    suite: dict[str, RunningProcess], service: str, caller: str, tmp_path: Path
) -> None:
    # With a token the fuzzer gets past authentication into validation and the data layer.
    headers = {} if caller == "anonymous" else auth(caller)
    result = schemathesis(f"{suite[service].url}/openapi.json", headers, tmp_path)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_a_producer_breaks_no_scoring_contract(suite: dict[str, RunningProcess], tmp_path: Path) -> None:
    """Scoring's routes as a producer (scoped to an entity): its own reach, 403s and 404s, never a 500."""
    headers = auth("producer", str(uuid.uuid4()), sub="chu-the")
    result = schemathesis(f"{suite['scoring'].url}/openapi.json", headers, tmp_path)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
