"""The CLI as a developer runs it: `pointclub serve` on the embedded store, then the commands
started beside it, in separate processes."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.bootstrap import Container
from core.settings import Settings
from tests.builders import notification, publish
from tests.engines import ROOT, free_port, wait_for_port
from tests.fakes import FakeClock

pytestmark = pytest.mark.e2e

POINTCLUB = str(Path(sys.executable).with_name("pointclub"))


def cli_env(**extra: str) -> dict[str, str]:
    """A clean environment; the embedded broker on a free port unless given (a `serve` and the
    commands run beside it must be given the same one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POINTCLUB_", "DD_"))}
    env.update(
        {
            "DD_TRACE_ENABLED": "false",
            "POINTCLUB_DYNAMODB_TIMEOUT_SECONDS": "60",
            "POINTCLUB_EMBEDDED_EVENTS_PORT": str(free_port()),
            **extra,
        }
    )
    return env


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [POINTCLUB, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    store_port: int
    banner: str
    output: list[str] = field(default_factory=list)  # what it printed after the banner (drain)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    store_port = free_port()
    with serving(cli_env(POINTCLUB_EMBEDDED_PORT=str(store_port)), store_port) as running:
        yield running


@contextmanager
def serving(
    env: dict[str, str], store_port: int = 0, *, port: int | None = None, drain: bool = False
) -> Iterator[Server]:
    """`pointclub serve` on a free loopback port (or ``port``), stopped when done. With
    ``drain``, what it prints after the banner is read into ``output`` as it comes, so a long
    test never fills the pipe (and stalls the server)."""
    port = port or free_port()
    process = subprocess.Popen(
        [POINTCLUB, "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Uvicorn running on" in line:
            break
    banner = "".join(lines)
    if "Uvicorn running on" not in banner:
        process.kill()
        pytest.fail(f"serve did not start:\n{banner}")
    wait_for_port(port)
    running = Server(process, port, store_port, banner)
    if drain:
        threading.Thread(target=_drain, args=(process.stdout, running.output), daemon=True).start()
    try:
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


def _drain(stream: Any, into: list[str]) -> None:
    with suppress(ValueError, OSError):  # closed when the server is stopped
        for line in stream:
            into.append(line)


def test_serve_prints_a_curl_that_returns_the_demo_home_screen(server: Server) -> None:
    match = re.search(r"(curl -s .*?)\n\n", server.banner, re.S)
    assert match, server.banner
    command = match.group(1).replace("\\\n", " ")
    if shutil.which("curl"):
        output = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    else:  # replay the same request without curl
        token = re.search(r"Bearer ([\w.-]+)", command)
        body = re.search(r"-d '(.*)'", command)
        assert token and body
        output = httpx.post(
            f"{server.url}/graphql",
            content=body.group(1),
            headers={
                "Authorization": f"Bearer {token.group(1)}",
                "Content-Type": "application/json",
            },
        ).text
    viewer = json.loads(output)["data"]["viewer"]
    assert viewer["userId"] == "demo-member"
    assert viewer["inbox"]["edges"], output
    assert viewer["unreadCount"] >= 1
    assert viewer["pointClub"]["rank"]["code"] == "SILVER"
    assert viewer["pointClub"]["balance"] > 0
    assert "GraphiQL:  http://127.0.0.1" in server.banner
    assert "admin token" in server.banner


def test_a_token_from_the_cli_is_accepted_by_the_running_server(server: Server) -> None:
    issued = run_cli("token", "--user", "demo-gold", "--ttl", "10m", env=cli_env())
    assert issued.returncode == 0, issued.stderr
    response = httpx.post(
        f"{server.url}/graphql",
        json={"query": "{ viewer { userId pointClub { rank { code } } } }"},
        headers={"Authorization": f"Bearer {issued.stdout.strip()}"},
    )
    assert response.json()["data"]["viewer"] == {
        "userId": "demo-gold",
        "pointClub": {"rank": {"code": "GOLD"}},
    }


def test_db_commands_beside_serve_use_the_embedded_store(server: Server) -> None:
    env = cli_env(POINTCLUB_EMBEDDED_PORT=str(server.store_port))
    created = run_cli("db", "create-table", env=env)
    assert created.returncode == 0, created.stderr
    assert "already exists" in created.stdout
    seeded = run_cli("db", "seed-demo", env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert "0 new inbox entries" in seeded.stdout


def test_health_and_readiness(server: Server) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/readyz").json()
    assert ready == {"status": "ready", "events": "ok", "subscriptions": 0}


def test_ctrl_c_shuts_down_cleanly(server: Server) -> None:
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(timeout=20) == 0
    assert server.process.stdout is not None
    rest = server.process.stdout.read()
    assert "Traceback" not in rest
    assert "Application shutdown complete" in rest


@pytest.mark.parametrize("after", [0.5, 1.5, 3.0])
def test_ctrl_c_while_starting_stops_cleanly(after: float) -> None:
    """Whenever it comes (importing, starting the embedded store, seeding), Ctrl-C is a stop."""
    env = cli_env(POINTCLUB_EMBEDDED_PORT=str(free_port()))
    process = subprocess.Popen(
        [POINTCLUB, "serve", "--port", str(free_port())],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(after)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Traceback" not in output


def test_commands_without_a_store_say_how_to_start_one() -> None:
    env = cli_env(POINTCLUB_EMBEDDED_PORT=str(free_port()))
    result = run_cli("db", "seed-demo", env=env)
    assert result.returncode == 1
    assert "pointclub serve" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_usage_exits_2_and_production_refuses_dev_tokens() -> None:
    assert run_cli("token", env=cli_env()).returncode == 2
    assert run_cli("token", "--user", "a", "--ttl", "forever", env=cli_env()).returncode == 2
    prod = cli_env(
        POINTCLUB_ENV="production", POINTCLUB_JWT_SECRET="a-real-secret-0123456789abcdef-0123456789"
    )
    refused = run_cli("token", "--user", "a", env=prod)
    assert refused.returncode == 1
    assert "production" in refused.stderr


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"POINTCLUB_DYNAMODB_ENDPOINT": "http://10.20.30.40:8000"}, "not on this machine"),
        ({"POINTCLUB_ENV": "production", "POINTCLUB_JWT_SECRET": "x"}, "has 1 bytes"),
        (
            {"POINTCLUB_ENV": "production", "POINTCLUB_JWT_ALGORITHMS": '["RS256"]'},
            "POINTCLUB_JWT_PUBLIC_KEY_FILE",
        ),
    ],
    ids=["dev secret, remote store", "short secret", "RS256 without a key"],
)
def test_configuration_that_would_start_unsafe_is_refused(
    settings: dict[str, str], says: str
) -> None:
    """Before anything is opened or sent: no request leaves this machine."""
    for command in (
        ("serve", "--port", str(free_port())),
        ("prepare-due",),
        ("token", "--user", "a"),
    ):
        result = run_cli(*command, env=cli_env(**settings))
        assert result.returncode == 1, result
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("error: bad configuration:") and says in line, line


@pytest.mark.parametrize(("args", "sdl"), [((), "schema.graphql"), (("--admin",), "admin.graphql")])
def test_export_schema_matches_the_checked_in_sdl(args: tuple[str, ...], sdl: str) -> None:
    result = run_cli("export-schema", *args, env=cli_env())
    assert result.returncode == 0, result.stderr
    checked_in = (ROOT / sdl).read_text()
    assert result.stdout == checked_in, (
        f"{sdl} drifted: run `uv run pointclub export-schema {' '.join(args)} > {sdl}`"
    )


async def test_stats_count_reads_sweeps_reads_left_queued(
    container: Container, clock: FakeClock, settings: Settings
) -> None:
    item = notification("n1", visible_from=clock.now())
    await publish(container.notifications, container.members, item, ["a", "b", "c"], clock.now())
    commands = container.read_state_commands()
    for member in ("a", "b"):
        await commands.mark_read(member, ["n1"])  # no server runs to count them
    env = cli_env(
        POINTCLUB_DYNAMODB_ENDPOINT=str(settings.dynamodb_endpoint),
        POINTCLUB_TABLE_NAME=settings.table_name,
    )
    first = await asyncio.to_thread(run_cli, "stats", "count-reads", env=env)
    assert first.returncode == 0, first.stderr
    assert "counted 2 queued reads of 2 members" in first.stdout
    again = await asyncio.to_thread(run_cli, "stats", "count-reads", env=env)
    assert "counted 0 queued reads of 0 members" in again.stdout
    assert await container.read_stats.read_counts(["n1"]) == {"n1": 2}
