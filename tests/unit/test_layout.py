"""The layering of DESIGN section 1, checked on the source: arrows point one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imports_of(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_import_schema_is_ours_not_the_pypi_package() -> None:
    import schema

    assert Path(schema.__file__).resolve().parent == ROOT / "schema"
    assert schema.POINTCLUB_SCHEMA_PACKAGE is True


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("core", {"schema", "resolvers", "cli", "strawberry", "typer", "starlette", "uvicorn"}),
        ("schema", {"resolvers", "cli", "typer", "aioboto3", "aiobotocore", "botocore"}),
        ("resolvers", {"cli", "typer"}),
    ],
)
def test_layers_do_not_import_upwards(package: str, forbidden: set[str]) -> None:
    offending = {
        path: sorted(names & forbidden)
        for path, names in imports_of(package).items()
        if names & forbidden
    }
    assert offending == {}


def test_core_domain_does_no_io() -> None:
    io_modules = {"aioboto3", "aiobotocore", "botocore", "httpx", "socket", "jwt"}
    offending = {
        path: sorted(names & io_modules)
        for path, names in imports_of("core/domain").items()
        if names & io_modules
    }
    assert offending == {}


@pytest.mark.parametrize("package", ["core/domain", "core/queries", "core/usecases"])
def test_the_inner_core_reaches_infrastructure_only_through_ports(package: str) -> None:
    offending = []
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("core.infra"):
                offending.append(f"{path.relative_to(ROOT)}: {node.module}")
    assert offending == []
