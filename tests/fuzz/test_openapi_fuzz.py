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


@pytest.mark.parametrize("caller", ["anonymous", "admin"])
@pytest.mark.parametrize("service", ["registry", "scoring", "stamps"])
def test_no_input_breaks_the_documented_contract(
    suite: dict[str, RunningProcess], service: str, caller: str, tmp_path: Path
) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "run", f"{suite[service].url}/openapi.json",
        "--checks", CHECKS, "--max-examples", EXAMPLES, "--seed", SEED,
        "--phases", "examples,coverage,fuzzing", "--workers", "1", "--no-color",
        "--request-timeout", "10", "--suppress-health-check", "all",
        "--report", "junit", "--report-dir", str(tmp_path), "--generation-database", "none",
    ]  # fmt: skip
    if caller != "anonymous":
        # With a token the fuzzer gets past authentication into validation and the data layer.
        command += ["--header", f"Authorization: {auth(caller)['Authorization']}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
