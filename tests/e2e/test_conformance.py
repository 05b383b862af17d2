"""The GraphQL-over-HTTP audit suite of the npm package graphql-http (its ``auditServer``) against
a real uvicorn server of the project on the test engine, introspection on as in development.

Every audit has to pass, the MUSTs and the SHOULDs (``application/graphql-response+json``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from core.settings import Settings
from tests.e2e.test_cli import cli_env, serving
from tests.engines import ROOT

pytestmark = pytest.mark.e2e

AUDIT = ROOT / "tests" / "conformance" / "audit.mjs"


def _audit_available() -> bool:
    installed = (ROOT / "node_modules" / "graphql-http" / "package.json").is_file()
    return installed and shutil.which("node") is not None


@pytest.fixture
def audit_tools() -> None:
    if _audit_available():
        return
    message = "the graphql-http audit needs Node and `npm ci`"
    if os.environ.get("POINTCLUB_TEST_AUDIT") == "required":
        pytest.fail(message)
    pytest.skip(message)


@pytest.mark.usefixtures("audit_tools", "container")
def test_graphql_http_audit_passes_every_audit(settings: Settings) -> None:
    env = cli_env(
        POINTCLUB_DYNAMODB_ENDPOINT=str(settings.dynamodb_endpoint),
        POINTCLUB_TABLE_NAME=settings.table_name,
    )
    with serving(env) as server:
        result = subprocess.run(
            ["node", str(AUDIT), f"{server.url}/graphql"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    audits = json.loads(result.stdout)
    assert len(audits) > 50, audits  # the suite ran, not an empty list
    failed_musts = [a for a in audits if a["status"] == "error"]
    assert failed_musts == [], json.dumps(failed_musts, indent=2)
    missed_shoulds = [a for a in audits if a["status"] == "warn"]
    assert missed_shoulds == [], json.dumps(missed_shoulds, indent=2)
