"""Fixtures: one DynamoDB engine and one client per test session, a fresh table per test."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from core.auth import DevTokenIssuer
from core.bootstrap import Container, build_container
from core.infra.dynamodb.client import open_client
from core.infra.dynamodb.table import delete_table
from core.settings import Settings
from tests.brokers import Broker, start_broker
from tests.e2e.gql import app_client
from tests.engines import (
    TEST_STORE_TIMEOUT,
    Engine,
    EngineChoice,
    choose_engine,
    client_config,
    start_engine,
)
from tests.fakes import FakeClock, SequentialIds

ENGINE_CHOICE = pytest.StashKey[EngineChoice]()


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected what will not run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Choose the engine (installing DynamoDB Local where it can) once the collected tests are
    known, and only if one of them needs it: the unit tests and the in-memory half of the
    contract suite run with no engine at all. ``POINTCLUB_TEST_ENGINE=none`` says so strictly:
    collecting a test that needs an engine is then an error."""
    if config.option.collectonly:
        return
    needing = [
        item.nodeid
        for item in items
        if "engine" in getattr(item, "fixturenames", ()) or item.get_closest_marker("integration")
    ]
    if not needing:
        return
    if os.environ.get("POINTCLUB_TEST_ENGINE") == "none":
        raise pytest.UsageError(
            f"POINTCLUB_TEST_ENGINE=none, but {len(needing)} tests need a DynamoDB engine, "
            f"such as {needing[0]}"
        )
    config.stash[ENGINE_CHOICE] = choose_engine()


def describe(choice: EngineChoice | None) -> str:
    if choice is None:
        return "DynamoDB engine: none (no test collected needs one)"
    name = "DynamoDB Local" if choice.name == "local" else "moto (the embedded store's engine)"
    return f"DynamoDB engine: {name}; {choice.reason} (POINTCLUB_TEST_ENGINE=local|moto|auto)"


def pytest_report_collectionfinish(config: pytest.Config) -> str | None:
    return None if config.option.collectonly else describe(config.stash.get(ENGINE_CHOICE, None))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not config.option.collectonly:
        terminalreporter.write_line(describe(config.stash.get(ENGINE_CHOICE, None)))


@pytest.fixture(scope="session")
def engine(pytestconfig: pytest.Config) -> Iterator[Engine]:
    choice = pytestconfig.stash.get(ENGINE_CHOICE, None) or choose_engine()
    started = start_engine(choice)
    yield started
    started.stop()


@pytest.fixture(scope="session")
async def dynamo_client(engine: Engine) -> AsyncIterator[Any]:
    async with open_client(client_config(engine.url)) as client:
        yield client


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    """The live-event tests' redis-server (fakeredis where none is installed)."""
    started = start_broker()
    yield started
    started.stop()


@pytest.fixture
def settings(engine: Engine) -> Settings:
    return Settings(
        table_name=f"test-{uuid.uuid4().hex[:12]}",
        dynamodb_endpoint=engine.url,
        recall_shards=4,
        dynamodb_timeout_seconds=TEST_STORE_TIMEOUT,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def container(
    settings: Settings, dynamo_client: Any, clock: FakeClock
) -> AsyncIterator[Container]:
    built = build_container(settings, dynamo_client, clock=clock, ids=SequentialIds())
    await built.system.create_table()
    yield built
    await delete_table(dynamo_client, settings.table_name)


@pytest.fixture
def tokens(settings: Settings) -> DevTokenIssuer:
    return DevTokenIssuer(settings)


@pytest.fixture
async def api(settings: Settings, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings, container) as client:
        yield client


@dataclass
class Call:
    operation: str
    started: float
    ended: float | None = None


@dataclass
class CallRecorder:
    """Records every DynamoDB call the real client makes, with start and end times."""

    calls: list[Call] = field(default_factory=list)
    _open: dict[int, Call] = field(default_factory=dict)

    def before(self, model: Any, context: Any = None, **_: Any) -> None:
        call = Call(model.name, time.perf_counter())
        self.calls.append(call)
        if context is not None:
            self._open[id(context)] = call

    def after(self, model: Any, context: Any = None, **_: Any) -> None:
        call = self._open.pop(id(context), None) if context is not None else None
        if call is not None:
            call.ended = time.perf_counter()

    def reset(self) -> None:
        self.calls.clear()
        self._open.clear()

    @property
    def operations(self) -> list[str]:
        return [call.operation for call in self.calls]

    def sequential_rounds(self) -> int:
        """The longest chain of calls in which each starts after the one before it ended."""
        ordered = sorted(self.calls, key=lambda c: c.started)
        depth: list[int] = []
        for index, call in enumerate(ordered):
            best = 0
            for before_index in range(index):
                earlier = ordered[before_index]
                if earlier.ended is not None and earlier.ended <= call.started:
                    best = max(best, depth[before_index])
            depth.append(best + 1)
        return max(depth, default=0)


@pytest.fixture
def dynamo_calls(dynamo_client: Any) -> Iterator[CallRecorder]:
    recorder = CallRecorder()
    events = dynamo_client.meta.events
    events.register("before-call.dynamodb", recorder.before, unique_id="pointclub-test-before")
    events.register("after-call.dynamodb", recorder.after, unique_id="pointclub-test-after")
    yield recorder
    events.unregister("before-call.dynamodb", unique_id="pointclub-test-before")
    events.unregister("after-call.dynamodb", unique_id="pointclub-test-after")
