"""Traces as Datadog receives them: a real server and a real CLI job, sending to Datadog's own
test agent (ddapm-test-agent) on a free loopback port."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.auth import DevTokenIssuer
from core.bootstrap import Container
from core.settings import Settings
from tests.builders import add_members, notification, notification_for_all, publish
from tests.e2e.live import live, subscribed
from tests.e2e.test_cli import POINTCLUB, cli_env
from tests.engines import ROOT, free_port, wait_for_port
from tests.fakes import FakeClock

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

AGENT = Path(sys.executable).with_name("ddapm-test-agent")
HOME = """query Home {
  viewer { unreadCount inbox(first: 5) { edges { node { id title } } } pointClub { balance } }
}"""


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not AGENT.exists():
        pytest.fail("ddapm-test-agent is missing: it is a dev dependency (uv sync)")
    port = free_port()
    snapshots = tmp_path_factory.mktemp("snapshots")
    process = subprocess.Popen(
        [str(AGENT), f"--port={port}", f"--snapshot-dir={snapshots}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


# The tags ddtrace's Starlette and aiobotocore integrations gave these spans, which ours keep.
SERVER_TAGS = {
    "component": "starlette",
    "span.kind": "server",
    "http.method": "POST",
    "http.route": "/graphql",
    "http.status_code": "200",
    "graphql.operation.name": "Home",
    "graphql.operation.type": "query",
}
CLIENT_TAGS = {
    "component": "aiobotocore",
    "span.kind": "client",
    "aws.agent": "aiobotocore",
    "aws.region": "ap-northeast-1",
    "region": "ap-northeast-1",
    "aws.partition": "aws",
    "http.status_code": "200",
}


def traced_env(settings: Settings, agent: str, **extra: str) -> dict[str, str]:
    env = cli_env(
        POINTCLUB_DYNAMODB_ENDPOINT=str(settings.dynamodb_endpoint),
        POINTCLUB_TABLE_NAME=settings.table_name,
        DD_TRACE_AGENT_URL=agent,
        DD_ENV="ci",
        DD_VERSION="1.2.3",
        DD_TRACE_ENABLED="true",
        **extra,
    )
    return env


def traces(agent: str, predicate: Any, timeout: float = 20.0) -> list[list[dict[str, Any]]]:
    """Traces the agent holds that satisfy ``predicate`` (waits for the tracer's flush)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [t for t in httpx.get(f"{agent}/test/traces").json() if predicate(t)]
        if found:
            return found
        time.sleep(0.3)
    return []


@contextmanager
def serving(args: list[str], env: dict[str, str], port: int) -> Iterator[None]:
    """A traced process that listens on ``port``, stopped when the block ends."""
    process = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, timeout=60)
        yield
    finally:
        process.terminate()
        process.wait(timeout=20)


def root_of(trace: list[dict[str, Any]]) -> dict[str, Any]:
    """The span whose parent is not in the trace (the caller's, or none)."""
    ids = {span["span_id"] for span in trace}
    (root,) = [span for span in trace if span.get("parent_id") not in ids]
    return root


def in_trace(trace: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [span for span in trace if span["name"] == name]


@pytest.fixture
def server(settings: Settings, agent: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [POINTCLUB, "serve", "--port", str(port)],
        env=traced_env(settings, agent),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for_port(port, timeout=60)
    yield f"http://127.0.0.1:{port}", process
    process.terminate()
    process.wait(timeout=20)
    if process.stdout is not None:
        process.stdout.close()


async def test_a_home_screen_request_is_one_trace_with_dynamodb_inside(
    container: Container,
    clock: FakeClock,
    tokens: DevTokenIssuer,
    agent: str,
    server: tuple[str, subprocess.Popen[str]],
) -> None:
    url, _ = server
    item = notification("n1", visible_from=clock.now() - timedelta(days=1))
    await publish(container.notifications, container.members, item, ["alice"], clock.now())
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{url}/graphql",
            json={"query": HOME, "operationName": "Home"},
            headers={"Authorization": f"Bearer {tokens.issue('alice')}"},
        )
    assert response.json()["data"]["viewer"]["unreadCount"] == 1

    def home(trace: list[dict[str, Any]]) -> bool:
        return any(s.get("meta", {}).get("graphql.operation.name") == "Home" for s in trace)

    (trace,) = await asyncio.to_thread(traces, agent, home)
    root = [span for span in trace if span.get("parent_id") in (0, None)]
    assert len(root) == 1
    assert root[0]["service"] == "pointclub-api"
    assert root[0]["meta"]["env"] == "ci" and root[0]["meta"]["version"] == "1.2.3"
    assert root[0]["name"] == "starlette.request" and root[0]["type"] == "web"
    assert root[0]["resource"] == "POST /graphql Home"
    assert root[0]["meta"] | SERVER_TAGS == root[0]["meta"]
    names = {span["name"] for span in trace}
    assert {"graphql.parse", "graphql.validate", "graphql.execute"} <= names
    assert {"InboxQueries.page", "InboxQueries.unread_count", "PointClubQueries.status"} <= names
    # All three calls of the home screen in this trace, each under the query that made it.
    dynamo = in_trace(trace, "dynamodb.command")
    assert sorted(span["resource"].split(".")[-1] for span in dynamo) == [
        "batchgetitem",
        "getitem",
        "query",
    ]
    by_id = {span["span_id"]: span for span in trace}
    for span in dynamo:
        assert span["type"] == "http" and span["metrics"]["_dd.measured"] == 1
        assert span["meta"] | CLIENT_TAGS == span["meta"]
        assert span["meta"]["aws.operation"].lower() == span["resource"].split(".")[-1]
        assert span["meta"]["aws.requestid"]
        if span["meta"]["aws.operation"] != "BatchGetItem":  # several tables, none tagged
            assert span["meta"]["tablename"] == container.settings.table_name
            assert span["meta"]["aws.dynamodb.table_name"] == container.settings.table_name
        assert by_id[span["parent_id"]]["name"].startswith(("InboxQueries.", "PointClubQueries."))
    assert {span["trace_id"] for span in trace} == {root[0]["trace_id"]}
    assert not any(span.get("error") for span in trace)


async def test_a_request_continues_its_callers_trace_and_names_only_routes(
    container: Container, agent: str, server: tuple[str, subprocess.Popen[str]]
) -> None:
    url, _ = server
    caller_trace, caller_span = 5_000_000_001, 7_000_000_003
    w3c_trace = 0x0123456789ABCDEF_0000000000000ABC  # 128 bits: the upper half must survive
    traceparent = f"00-{w3c_trace:032x}-{0xDEF:016x}-01"
    async with httpx.AsyncClient() as client:
        datadog = {"x-datadog-trace-id": str(caller_trace), "x-datadog-parent-id": str(caller_span)}
        assert (await client.get(f"{url}/healthz", headers=datadog)).status_code == 200
        assert (await client.get(f"{url}/readyz", headers={"traceparent": traceparent})).is_success
        broken = {"x-datadog-trace-id": "x" * 5_000, "traceparent": "00-zz-yy-01"}
        assert (await client.get(f"{url}/broken-headers", headers=broken)).status_code == 404
        refused = await client.post(
            f"{url}/graphql", content=b"{}", headers={"content-type": "text/plain"}
        )
        assert (
            refused.status_code == 415
        )  # answered before routing, named after its route all the same
        # A path no route serves: one resource for all of them, not one per path an attacker tries.
        assert (await client.get(f"{url}/no/such/{'x' * 50}")).status_code == 404
        # An operation name no client ships (and longer than a tag keeps): no resource of its own.
        chosen = "Chosen" + "x" * 600
        answered = await client.post(
            f"{url}/graphql",
            json={"query": f"query {chosen} {{ __typename }}", "operationName": chosen},
        )
        assert answered.json()["data"] == {"__typename": "Query"}

    def rooted_at(path: str) -> Any:
        def rooted(trace: list[dict[str, Any]]) -> bool:
            return any(s.get("meta", {}).get("http.url", "").endswith(path) for s in trace)

        return rooted

    (health,) = await asyncio.to_thread(traces, agent, rooted_at("/healthz"))
    root = root_of(health)
    assert (root["trace_id"], root["parent_id"]) == (caller_trace, caller_span)
    assert root["resource"] == "GET /healthz" and root["meta"]["http.status_code"] == "200"
    (ready,) = await asyncio.to_thread(traces, agent, rooted_at("/readyz"))
    root = root_of(ready)
    assert (root["trace_id"], root["parent_id"]) == (0xABC, 0xDEF)
    assert root["meta"]["_dd.p.tid"] == "0123456789abcdef"
    assert root["meta"]["http.route"] == "/readyz"
    (missing,) = await asyncio.to_thread(traces, agent, rooted_at("x" * 50))
    root = root_of(missing)
    assert root["resource"] == "GET unmatched" and root["parent_id"] in (0, None)
    assert root["meta"]["http.status_code"] == "404" and not root.get("error")
    assert "http.route" not in root["meta"]

    def refused_trace(trace: list[dict[str, Any]]) -> bool:
        return any(s.get("meta", {}).get("http.status_code") == "415" for s in trace)

    (refusal,) = await asyncio.to_thread(traces, agent, refused_trace)
    root = root_of(refusal)
    assert (root["resource"], root["meta"]["http.status_code"]) == ("POST /graphql", "415")
    assert root["meta"]["http.useragent"].startswith("python-httpx/")
    (broken_trace,) = await asyncio.to_thread(traces, agent, rooted_at("/broken-headers"))
    assert root_of(broken_trace)["parent_id"] in (0, None)  # a trace of its own, and no failure

    def chosen_trace(trace: list[dict[str, Any]]) -> bool:
        named = (s.get("meta", {}).get("graphql.operation.name", "") for s in trace)
        return any(name.startswith("Chosenx") for name in named)

    (named,) = await asyncio.to_thread(traces, agent, chosen_trace)
    root = root_of(named)
    assert root["resource"] == "POST /graphql"  # Home, a manifest's name, is in its resource
    assert root["meta"]["graphql.operation.name"] == chosen[:512]


CRASHING = """
import sys
from core.observability.tracing import configure_tracing
assert configure_tracing("pointclub-api")
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from resolvers.request_spans import RequestSpans

async def boom(request):
    raise RuntimeError("boom")

app = Starlette(middleware=[Middleware(RequestSpans)], routes=[Route("/boom", boom)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="critical")
"""


async def test_a_request_that_crashes_is_flagged_with_its_500(
    settings: Settings, agent: str
) -> None:
    """Starlette's outermost middleware answers 500 for a crash, past the request span's own
    ``send``: the span must say 500 and carry the error all the same."""
    port = free_port()
    with serving([sys.executable, "-c", CRASHING, str(port)], traced_env(settings, agent), port):
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/boom")).status_code == 500

        def crashed(trace: list[dict[str, Any]]) -> bool:
            return any(s["resource"] == "GET /boom" for s in trace)

        ((root,),) = await asyncio.to_thread(traces, agent, crashed)
        assert root["error"] == 1 and root["meta"]["http.status_code"] == "500"
        assert root["meta"]["error.type"] == "builtins.RuntimeError"
        assert root["meta"]["error.message"] == "boom"


async def test_a_failing_dynamodb_call_is_flagged_where_it_happens(
    settings: Settings,
    agent: str,
    tokens: DevTokenIssuer,
) -> None:
    port = free_port()
    broken = settings.model_copy(update={"table_name": "no-such-table"})
    serve = [POINTCLUB, "serve", "--port", str(port)]
    with serving(serve, traced_env(broken, agent), port):
        async with httpx.AsyncClient() as client:
            body = (
                await client.post(
                    f"http://127.0.0.1:{port}/graphql",
                    json={
                        "query": "query Broken { viewer { unreadCount } }",
                        "operationName": "Broken",
                    },
                    headers={"Authorization": f"Bearer {tokens.issue('alice')}"},
                )
            ).json()
        assert body["errors"][0]["extensions"]["code"] == "UNAVAILABLE"

        def broken_trace(trace: list[dict[str, Any]]) -> bool:
            return any(s.get("meta", {}).get("graphql.operation.name") == "Broken" for s in trace)

        (trace,) = await asyncio.to_thread(traces, agent, broken_trace)
        failed = [s for s in in_trace(trace, "dynamodb.command") if s.get("error")]
        assert failed, trace
        # The refusal's own status and code, as DynamoDB answered them.
        assert failed[0]["meta"]["http.status_code"] == "400"
        assert "ResourceNotFoundException" in failed[0]["meta"]["error.message"]
        assert any(s["name"] == "InboxQueries.unread_count" and s.get("error") for s in trace)
        root = next(s for s in trace if s.get("parent_id") in (0, None))
        assert root["error"] == 1


async def test_a_cli_job_is_one_trace_with_a_span_per_chunk(
    container: Container,
    clock: FakeClock,
    settings: Settings,
    agent: str,
) -> None:
    await add_members(container, 120, "GOLD")
    nid = await notification_for_all(container, clock.now())
    result = await asyncio.to_thread(
        subprocess.run,
        [POINTCLUB, "prepare-notification", nid],
        env=traced_env(settings, agent),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr

    def job(trace: list[dict[str, Any]]) -> bool:
        return any(s["name"] == "pointclub.job" and nid in s.get("resource", "") for s in trace)

    (trace,) = await asyncio.to_thread(traces, agent, job)
    assert {span["service"] for span in trace} == {"pointclub-batch"}
    assert len(in_trace(trace, "PrepareNotification.run")) == 1
    assert len(in_trace(trace, "fanout.batch")) >= 3  # 120 members over 16 shards
    assert in_trace(trace, "dynamodb.command")


async def test_a_log_line_of_a_request_carries_its_trace_id(
    container: Container,
    tokens: DevTokenIssuer,
    agent: str,
    server: tuple[str, subprocess.Popen[str]],
) -> None:
    url, process = server
    async with httpx.AsyncClient() as client:
        await client.post(
            f"{url}/graphql",
            json={
                "query": 'mutation Read { markNotificationsRead(ids: ["x"]) { unreadCount } }',
                "operationName": "Read",
            },
            headers={"Authorization": f"Bearer {tokens.issue('alice')}"},
        )
    (trace,) = await asyncio.to_thread(
        traces,
        agent,
        lambda t: any(s.get("meta", {}).get("graphql.operation.name") == "Read" for s in t),
    )
    trace_id = trace[0]["trace_id"]
    process.terminate()
    output, _ = process.communicate(timeout=20)
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    audit = [r for r in records if r.get("event") == "request.read_state"]
    assert audit, output[-2000:]
    # Logs carry the 128-bit id in hex; the agent's spans its low 64 bits.
    assert int(audit[0]["dd.trace_id"], 16) & (2**64 - 1) == trace_id & (2**64 - 1)
    assert audit[0]["dd.service"] == "pointclub-api" and audit[0]["dd.env"] == "ci"


def test_a_job_with_an_unreachable_agent_neither_hangs_nor_spams(settings: Settings) -> None:
    env = traced_env(settings, f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    result = subprocess.run(
        [POINTCLUB, "db", "create-table"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 10
    warnings = [line for line in result.stderr.splitlines() if "agent" in line]
    assert warnings == ["warning: no Datadog agent answers; this job runs without tracing"]


async def test_live_events_have_a_span_per_publish_and_per_dispatched_message(
    container: Container,
    clock: FakeClock,
    tokens: DevTokenIssuer,
    agent: str,
    server: tuple[str, subprocess.Popen[str]],
) -> None:
    url, _ = server
    item = notification("n1", visible_from=clock.now() - timedelta(days=1))
    await publish(container.notifications, container.members, item, ["alice"], clock.now())
    token = tokens.issue("alice")
    # The agent is the module's: only this test's traces from here on.
    await asyncio.to_thread(httpx.get, f"{agent}/test/session/clear")
    async with live(url.removeprefix("http://"), token) as client:
        await subscribed(client)
        async with httpx.AsyncClient() as http:
            await http.post(
                f"{url}/graphql",
                json={"query": 'mutation { markNotificationsRead(ids: ["n1"]) { unreadCount } }'},
                headers={"Authorization": f"Bearer {token}"},
            )
        assert (await client.event())["kind"] == "READ"

    def publishing(trace: list[dict[str, Any]]) -> bool:
        return any(s["name"] == "ReadStateCommands.mark_read" for s in trace)

    def dispatching(trace: list[dict[str, Any]]) -> bool:
        return any(s["name"] == "events.dispatch" for s in trace)

    (mutation,) = await asyncio.to_thread(traces, agent, publishing)
    (published,) = in_trace(mutation, "events.publish")
    assert published["resource"] == "READ" and published["metrics"]["events.members"] == 1
    dispatched = [s for t in await asyncio.to_thread(traces, agent, dispatching) for s in t]
    assert any(
        s["name"] == "events.dispatch" and s["metrics"].get("events.feeds") == 1 for s in dispatched
    )
