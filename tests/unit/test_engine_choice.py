"""The suite's engine choice: the unit tests and the in-memory half of the contract suite run with
no engine, even when ``-m "not integration"`` is what removes the tests that need one (CI runs
exactly this on a fresh clone)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_pytest(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POINTCLUB_TEST_ENGINE": "none"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deselected_engine_tests_do_not_ask_for_an_engine() -> None:
    done = run_pytest("tests/contract/test_segment_store.py", "-m", "not integration")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "DynamoDB engine: none" in done.stdout
    assert "deselected" in done.stdout


def test_an_engine_test_without_an_engine_is_a_usage_error() -> None:
    done = run_pytest("tests/contract/test_segment_store.py")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "need a DynamoDB engine" in done.stderr
