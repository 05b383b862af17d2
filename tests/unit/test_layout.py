"""The layering of docs/ARCHITECTURE.md ("Layers"), checked on the source: arrows point one way,
the core reaches the outside only through the Protocols of ``core/ports.py``, and no module grows
past 300 lines."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import typing
from pathlib import Path
from typing import Any

import pytest

from core.bootstrap import Container

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
        ("resolvers", {"cli", "typer", "aioboto3", "aiobotocore", "botocore"}),
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


@pytest.mark.parametrize("package", ["resolvers", "schema", "cli"])
def test_the_edges_never_reach_into_the_adapters(package: str) -> None:
    """Resolvers, schema and commands use the core's ports, usecases and queries; only the
    composition root (and ``serve``'s embedded store and broker) knows the adapters."""
    allowed = {"cli/serve.py": {"core.infra.embedded", "core.infra.embedded_broker"}}
    offending = []
    for path in (ROOT / package).rglob("*.py"):
        name = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if (module or "").startswith("core.infra") and module not in allowed.get(name, set()):
                offending.append(f"{name}: {module}")
    assert offending == []


def test_protocols_are_declared_in_core_ports_only() -> None:
    offending = []
    for path in (ROOT / "core").rglob("*.py"):
        if path == ROOT / "core" / "ports.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                (isinstance(base, ast.Name) and base.id == "Protocol")
                or (isinstance(base, ast.Attribute) and base.attr == "Protocol")
                for base in node.bases
            ):
                offending.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert offending == []


def _collaborators(hints: dict[str, object]) -> dict[str, type]:
    """The class-typed hints among ``hints`` (optional ones unwrapped), by name."""
    found: dict[str, type] = {}
    for name, hint in hints.items():
        candidates = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
        for candidate in candidates:
            if inspect.isclass(candidate):
                found[name] = candidate
    return found


def _is_port(kind: object) -> bool:
    return inspect.isclass(kind) and bool(getattr(kind, "_is_protocol", False))


def test_container_holds_ports_not_adapters() -> None:
    hints = typing.get_type_hints(Container, localns={"DynamoDBClient": object})
    stores = {f.name for f in dataclasses.fields(Container)} - {
        "settings",
        "ranks",
        "verifier",
        "issuer",
        "read_counting",
        "client",
    }
    assert stores, "the container lost its stores"
    wrong = {
        name: hints[name]
        for name in stores
        if not (
            _is_port(_required(hints[name])) and _required(hints[name]).__module__ == "core.ports"
        )
    }
    assert wrong == {}


def _required(kind: Any) -> Any:
    """``Port | None`` (a store some containers lack) as the port itself."""
    present = [arg for arg in typing.get_args(kind) if arg is not type(None)]
    return present[0] if typing.get_args(kind) and len(present) == 1 else kind


def _core_classes(package: str) -> list[type]:
    classes = []
    for path in sorted((ROOT / "core" / package).glob("*.py")):
        module = importlib.import_module(f"core.{package}.{path.stem}")
        classes += [
            value
            for value in vars(module).values()
            if inspect.isclass(value)
            and value.__module__ == module.__name__
            and "__init__" in vars(value)
        ]
    return classes


@pytest.mark.parametrize("package", ["usecases", "queries"])
def test_usecases_and_queries_take_ports(package: str) -> None:
    """Every collaborator a usecase or query is built with is a Protocol of ``core/ports.py``,
    another usecase, or a domain value: never an adapter."""
    checked = 0
    offending = []
    for cls in _core_classes(package):
        hints = typing.get_type_hints(cls.__init__)  # type: ignore[misc]
        for name, kind in _collaborators(hints).items():
            module = getattr(kind, "__module__", "")
            if module.startswith("core.infra") or (_is_port(kind) and module != "core.ports"):
                offending.append(f"{cls.__name__}({name}: {module}.{kind!r})")
            checked += _is_port(kind)
    assert offending == []
    assert checked > 5, "no port found: the check no longer sees the constructors"


LIMIT = 300
# The catalogue of every port is one file by design (the rule above): it grows with the stores.
CATALOGUES = {"core/ports.py"}


@pytest.mark.parametrize("package", ["core", "schema", "resolvers", "cli"])
def test_no_module_passes_300_lines(package: str) -> None:
    long = {
        name: length
        for path in (ROOT / package).rglob("*.py")
        if (name := str(path.relative_to(ROOT))) not in CATALOGUES
        and (length := len(path.read_text(encoding="utf-8").splitlines())) > LIMIT
    }
    assert long == {}
