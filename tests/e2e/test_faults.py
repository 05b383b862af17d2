"""DynamoDB failing in every way a real endpoint fails, injected on the wire by a loopback proxy:
each reaches the client as UNAVAILABLE within the configured bound, with nothing of the failure
in the message; /readyz goes red and comes back; a CLI job exits 1 with one line."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import httpx
import pytest

from core.auth import DevTokenIssuer
from core.bootstrap import Container, open_container
from core.domain.notification import (
    Audience,
    AudienceKind,
    LocalizedContent,
    NotificationPatch,
    NotificationState,
)
from core.settings import Settings
from resolvers.errors import UNAVAILABLE_MESSAGE
from tests.builders import draft, notification, publish
from tests.e2e.gql import app_client, codes, gql
from tests.e2e.test_cli import POINTCLUB, cli_env
from tests.engines import ROOT, Engine
from tests.fakes import FakeClock
from tests.faults import FAULTS, Fault, FaultProxy, dynamodb_error, throttled_transaction

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

BOUND = 1.5  # POINTCLUB_DYNAMODB_TIMEOUT_SECONDS for these tests (the default is 10)
SLACK = 1.0  # what the answer may take beyond it on a busy machine
HOME = "{ viewer { unreadCount inbox(first: 3) { edges { node { id } } } pointClub { balance } } }"
READ = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { unreadCount } }"
LEAKS = ("Traceback", "botocore", "127.0.0.1", ".py", "Errno", "nginx", "Throttl", "amazonaws")


@dataclass
class Faulty:
    proxy: FaultProxy
    client: httpx.AsyncClient
    container: Container
    token: str


@pytest.fixture
async def proxy(engine: Engine) -> AsyncIterator[FaultProxy]:
    started = FaultProxy(engine.url)
    await started.listen()
    yield started
    await started.stop()


@pytest.fixture
async def faulty(proxy: FaultProxy, clock: FakeClock) -> AsyncIterator[Faulty]:
    settings = Settings(
        table_name=f"faults-{uuid.uuid4().hex[:10]}",
        dynamodb_endpoint=proxy.url,
        dynamodb_timeout_seconds=BOUND,
    )
    # The table is made straight on the engine with the default bound: creating it through the
    # proxy with the tests' 1.5 s bound once timed out on a loaded machine (a setup error).
    direct = settings.model_copy(
        update={"dynamodb_endpoint": proxy.upstream, "dynamodb_timeout_seconds": 10.0}
    )
    async with open_container(direct, clock=clock) as maker:
        await maker.system.create_table()
    async with (
        open_container(settings, clock=clock) as container,
        app_client(settings, container) as client,
    ):
        yield Faulty(proxy, client, container, DevTokenIssuer(settings).issue("alice"))


async def timed(
    client: httpx.AsyncClient, query: str, token: str, **variables: object
) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    body = await gql(client, query, dict(variables), token=token)
    return body, time.monotonic() - started


async def healthy(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    """The home screen from a healthy store. Its bound here is 1.5 s, which a cold request to
    moto on a loaded two-core machine can pass: such an answer is UNAVAILABLE (checked), and
    the request is made again, up to three times."""
    for _ in range(3):
        body, _ = await timed(client, HOME, token)
        if "errors" not in body:
            return body
        assert set(codes(body)) == {"UNAVAILABLE"}, body
    raise AssertionError(f"the healthy store never answered in time: {body}")


def assert_unavailable(body: dict[str, Any], elapsed: float) -> None:
    assert body.get("data") is None, body
    assert set(codes(body)) == {"UNAVAILABLE"}, body
    assert {e["message"] for e in body["errors"]} == {UNAVAILABLE_MESSAGE}
    for leak in LEAKS:
        assert leak not in str(body)
    assert elapsed < BOUND + SLACK, f"answered after {elapsed:.2f}s"


async def assert_ready(client: httpx.AsyncClient, ready: bool) -> None:
    started = time.monotonic()
    answer = await client.get("/readyz")
    assert answer.status_code == (200 if ready else 503), answer.text
    assert time.monotonic() - started < BOUND + SLACK
    assert (await client.get("/healthz")).status_code == 200


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
async def test_each_store_failure_is_unavailable_in_bounded_time_then_recovers(
    faulty: Faulty, fault: Fault
) -> None:
    await healthy(faulty.client, faulty.token)

    faulty.proxy.fail(fault)
    body, elapsed = await timed(faulty.client, HOME, faulty.token)
    assert_unavailable(body, elapsed)
    await assert_ready(faulty.client, False)

    faulty.proxy.fail(None)
    body = await healthy(faulty.client, faulty.token)
    assert body["data"]["viewer"]["unreadCount"] == 0
    await assert_ready(faulty.client, True)


async def test_a_refused_connection_is_unavailable_then_recovers(faulty: Faulty) -> None:
    await faulty.proxy.refuse()
    body, elapsed = await timed(faulty.client, HOME, faulty.token)
    assert_unavailable(body, elapsed)
    await assert_ready(faulty.client, False)
    await faulty.proxy.listen()
    await healthy(faulty.client, faulty.token)
    await assert_ready(faulty.client, True)


async def test_a_passing_failure_is_retried_and_the_client_never_sees_it(faulty: Faulty) -> None:
    for fault in (FAULTS[0], FAULTS[5], Fault("reset once", kind="reset")):
        faulty.proxy.fail(Fault(fault.name, fault.kind, fault.status, fault.body, times=1))
        body, _ = await timed(faulty.client, HOME, faulty.token)
        assert "errors" not in body, (fault.name, body)
        assert faulty.proxy.failed == 1


async def test_a_throttled_transaction_is_unavailable_and_changes_nothing(
    faulty: Faulty, clock: FakeClock
) -> None:
    container = faulty.container
    items = [
        notification(f"n{i}", visible_from=clock.now() - timedelta(minutes=i + 1)) for i in range(2)
    ]
    for item in items:
        await publish(container.notifications, container.members, item, ["alice"], clock.now())

    faulty.proxy.fail(throttled_transaction(5))
    body, elapsed = await timed(faulty.client, READ, faulty.token, ids=["n0", "n1"])
    assert_unavailable(body, elapsed)
    assert faulty.proxy.failed >= 1

    faulty.proxy.fail(None)
    body = await healthy(faulty.client, faulty.token)
    assert body["data"]["viewer"]["unreadCount"] == 2
    body, _ = await timed(faulty.client, READ, faulty.token, ids=["n0", "n1"])
    assert body["data"]["markNotificationsRead"]["unreadCount"] == 0


@pytest.mark.parametrize("fault", [FAULTS[1], FAULTS[5], FAULTS[-1]], ids=lambda f: f.name)
async def test_a_cli_job_exits_1_with_one_line(faulty: Faulty, fault: Fault) -> None:
    env = cli_env(
        POINTCLUB_DYNAMODB_ENDPOINT=faulty.proxy.url,
        POINTCLUB_TABLE_NAME=faulty.container.settings.table_name,
        POINTCLUB_DYNAMODB_TIMEOUT_SECONDS=str(BOUND),
    )
    faulty.proxy.fail(fault)
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        POINTCLUB,
        "prepare-due",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    lines = stderr.decode().strip().splitlines()
    assert process.returncode == 1, lines
    assert len(lines) == 1 and lines[0].startswith("error: DynamoDB could not"), lines
    assert time.monotonic() - started < BOUND + 10  # the process's own start-up included


async def test_a_write_that_meets_another_transaction_waits_for_it(
    faulty: Faulty, clock: FakeClock
) -> None:
    """DynamoDB answers TransactionConflictException at once when an item is held by a
    transaction under way (an amend while a fan-out batch checks the notification, a read while
    a delivery adds a marker): the write is made again, not failed."""
    container = faulty.container
    created = await container.authoring().create(
        "op", draft(Audience(AudienceKind.USER, user_id="alice"), clock.now())
    )
    conflict = dynamodb_error(400, "TransactionConflictException", "Transaction is ongoing")
    faulty.proxy.fail(replace(conflict, operation="UpdateItem", times=2))
    patch = NotificationPatch(contents={"ja": LocalizedContent("訂正", "本文")})
    updated = await container.authoring().update("op", created.notification_id, patch)
    assert updated.contents == patch.contents and faulty.proxy.failed == 2
    faulty.proxy.fail(replace(conflict, operation="TransactWriteItems", times=2))
    recalled = await container.authoring().recall("op", created.notification_id, "x")
    assert recalled.state is NotificationState.RECALLED and faulty.proxy.failed == 2
