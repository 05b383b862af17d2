"""The fan-out as operators run it: separate processes, a SIGKILL partway, three shard workers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.auth import DevTokenIssuer
from core.bootstrap import Container
from core.domain.audience import DeliveryFigures
from core.domain.notification import Audience, AudienceKind
from core.domain.pointclub import ClubRecord
from core.settings import Settings
from tests.builders import (
    add_members,
    draft,
    dynamo,
    fill_state_item,
    notification_for_all,
    user_list,
)
from tests.e2e.gql import gql
from tests.e2e.test_cli import POINTCLUB, cli_env, run_cli
from tests.engines import ROOT
from tests.fakes import FakeClock
from tests.integration.test_fanout import entries_per_member

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def env_for(settings: Settings) -> dict[str, str]:
    return cli_env(
        POINTCLUB_DYNAMODB_ENDPOINT=str(settings.dynamodb_endpoint),
        POINTCLUB_TABLE_NAME=settings.table_name,
        POINTCLUB_RECALL_SHARDS=str(settings.recall_shards),  # the same live-list copies
    )


async def together(env: dict[str, str], *commands: tuple[str, ...]) -> None:
    """The commands as separate processes at once, as workers of a job runner run them; each
    must exit 0."""
    processes = [
        subprocess.Popen(
            [POINTCLUB, *command],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    outputs = [await asyncio.to_thread(p.communicate, timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0] * len(processes), outputs


async def delivered_so_far(container: Container, nid: str) -> int:
    return (await container.fanout.delivery_totals([nid]))[nid].delivered


async def settled(container: Container, nid: str) -> int:
    """The delivered count once the engine has finished what the killed process had sent: its
    transactions in flight still commit after the SIGKILL, and DynamoDB Local shows a transaction's
    items to other reads one by one (a member could see the entry before its unread marker)."""
    last = await delivered_so_far(container, nid)
    while True:
        await asyncio.sleep(0.5)
        now = await delivered_so_far(container, nid)
        if now == last:
            return now
        last = now


async def test_a_killed_fanout_resumes_with_every_member_once_and_reads_kept(
    container: Container, clock: FakeClock, settings: Settings
) -> None:
    members = await add_members(container, 4000, "GOLD")
    nid = await notification_for_all(container, clock.now())
    env = env_for(settings)
    process = subprocess.Popen(
        [POINTCLUB, "prepare-notification", nid, "--concurrency", "4"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while await delivered_so_far(container, nid) < 300 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    partial = await settled(container, nid)
    assert 300 <= partial < len(members), "killed partway"

    # Members who got it read it before the rerun (the job ran on the real clock).
    clock.catch_up()
    delivered = sorted(await entries_per_member(container, nid))
    readers = delivered[:25]
    commands = container.read_state_commands()
    for reader in readers:
        await commands.mark_read(reader, [nid])

    rerun = await asyncio.to_thread(run_cli, "prepare-notification", nid, env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "PUBLISHED" in rerun.stdout

    assert await entries_per_member(container, nid) == Counter(dict.fromkeys(members, 1))
    for reader in readers:
        assert nid not in (await container.members.inbox_state(reader)).unread
    figures = (await container.fanout.delivery_totals([nid]))[nid]
    assert figures == DeliveryFigures(len(members), len(members))


async def test_three_shard_workers_cover_the_audience_exactly_once(
    container: Container, clock: FakeClock, settings: Settings
) -> None:
    members = await add_members(container, 1500, "SILVER")
    nid = await notification_for_all(container, clock.now())
    env = env_for(settings)
    await together(env, *(("prepare-notification", nid, "--shard", f"{i}/3") for i in range(3)))
    assert await entries_per_member(container, nid) == Counter(dict.fromkeys(members, 1))
    stored = (await container.notifications.get_many([nid]))[nid]
    assert stored.state.value == "PUBLISHED"
    figures = (await container.fanout.delivery_totals([nid]))[nid]
    assert figures == DeliveryFigures(len(members), len(members))


async def test_cli_errors_and_dry_run(
    container: Container, clock: FakeClock, settings: Settings
) -> None:
    await add_members(container, 30, "GOLD")
    nid = await notification_for_all(container, clock.now())
    env = env_for(settings)
    dry = await asyncio.to_thread(run_cli, "prepare-notification", nid, "--dry-run", env=env)
    assert dry.returncode == 0 and "audience of 30 members" in dry.stdout
    assert await entries_per_member(container, nid) == Counter()
    missing = await asyncio.to_thread(run_cli, "prepare-notification", "nope", env=env)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == ["error: no notification nope"]
    bad = await asyncio.to_thread(run_cli, "prepare-notification", nid, "--shard", "3/3", env=env)
    assert bad.returncode == 2
    due = await asyncio.to_thread(run_cli, "prepare-due", env=env)
    assert due.returncode == 0 and "0 notifications prepared" in due.stdout


async def test_import_list_cli_reports_bad_lines(
    container: Container, settings: Settings, tmp_path: object
) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    listing = tmp_path / "vip.csv"
    listing.write_text("user_id\nu-1\nnot an id\nu-2\n")
    env = env_for(settings)
    first = await asyncio.to_thread(
        run_cli, "segments", "import-list", "vip", str(listing), env=env
    )
    assert first.returncode == 1
    assert f"{listing}:3: " in first.stderr
    assert "2 lines imported, 1 bad, 2 members" in first.stdout
    listing.write_text("u-1\nu-2\nu-3\n")
    second = await asyncio.to_thread(
        run_cli, "segments", "import-list", "vip", str(listing), env=env
    )
    assert second.returncode == 0, second.stderr
    assert "3 members" in second.stdout


async def test_overlapping_runs_both_finish_with_every_member_once(
    container: Container, clock: FakeClock, settings: Settings
) -> None:
    """A `prepare-due` every minute during a long broadcast: runs of one notification overlap."""
    members = await add_members(container, 1200, "SILVER")
    nid = await notification_for_all(container, clock.now())
    env = env_for(settings)
    await together(env, *(("prepare-notification", nid, "--concurrency", "4") for _ in range(3)))
    assert await entries_per_member(container, nid) == Counter(dict.fromkeys(members, 1))
    figures = (await container.fanout.delivery_totals([nid]))[nid]
    assert figures == DeliveryFigures(len(members), len(members))
    for _ in range(3):
        again = await asyncio.to_thread(
            run_cli, "prepare-notification", nid, "--user", "walk-in", env=env
        )
        assert again.returncode == 0, again.stderr
    figures = (await container.fanout.delivery_totals([nid]))[nid]
    assert figures == DeliveryFigures(len(members) + 1, len(members) + 1)


async def test_a_member_whose_data_refuses_the_write_does_not_stop_the_run(
    container: Container, clock: FakeClock, settings: Settings
) -> None:
    members = await add_members(container, 200, "GOLD")
    await fill_state_item(container, members[57])
    nid = await notification_for_all(container, clock.now())
    env = env_for(settings)
    run = await asyncio.to_thread(run_cli, "prepare-notification", nid, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "PUBLISHED" in run.stdout and "1 failed (retried by the next run)" in run.stdout
    assert members[57] in run.stderr + run.stdout  # the log line names the member
    delivered = await entries_per_member(container, nid)
    assert set(delivered) == set(members) - {members[57]}
    assert (await container.fanout.delivery_totals([nid]))[nid] == DeliveryFigures(200, 199, 1)


async def test_after_recall_cleanup_nothing_is_counted_that_is_not_listed(
    api: httpx.AsyncClient,
    container: Container,
    clock: FakeClock,
    settings: Settings,
    tokens: DevTokenIssuer,
) -> None:
    gold = await add_members(container, 60, "GOLD", "g")
    nid = await notification_for_all(container, clock.now())
    env = env_for(settings)
    assert (await asyncio.to_thread(run_cli, "prepare-notification", nid, env=env)).returncode == 0
    walk_in = await asyncio.to_thread(
        run_cli, "prepare-notification", nid, "--user", "walk-in", env=env
    )
    assert walk_in.returncode == 0, walk_in.stderr
    for member in gold[:20]:  # they leave the audience after delivery
        await container.ledger.put_club(member, ClubRecord(rank_code="REGULAR"))
    await dynamo(container).delete_item(  # and some leave the table altogether
        TableName=settings.table_name,
        Key={"PK": {"S": f"USER#{gold[20]}"}, "SK": {"S": "I~CLUB"}},
    )

    recall = await gql(
        api,
        'mutation($id: ID!) { recallNotification(id: $id, reason: "wrong") '
        "{ notification { state } userErrors { code } } }",
        {"id": nid},
        token=tokens.issue("op", admin=True),
        path="/admin/graphql",
    )
    assert recall["data"]["recallNotification"]["notification"]["state"] == "RECALLED"
    cleanup = await asyncio.to_thread(run_cli, "recall-cleanup", env=env)
    assert cleanup.returncode == 0, cleanup.stderr
    assert f"{nid}: cleaned 61 members' inboxes" in cleanup.stdout

    clock.catch_up()
    home = "{ viewer { unreadCount inbox { edges { node { id } } } } }"
    for member in [*gold[:22], "walk-in"]:
        seen = (await gql(api, home, token=tokens.issue(member)))["data"]["viewer"]
        assert seen == {"unreadCount": 0, "inbox": {"edges": []}}, member
    assert await entries_per_member(container, nid) == Counter()


async def test_prepare_due_goes_on_past_a_failing_notification_and_names_it(
    container: Container, settings: Settings
) -> None:
    """The job runs on the real clock: one notification expires before it is due."""
    members = await add_members(container, 20, "GOLD")
    await user_list(container, "gold", members)
    authoring = container.authoring()
    now = datetime.now(UTC)
    audience = Audience(AudienceKind.SEGMENT, segment="gold")
    expiring = replace(draft(audience, now), expires_at=now + timedelta(seconds=3))
    gone = await authoring.create("op", expiring)
    fine = await authoring.create("op", draft(audience, now))
    for created in (gone, fine):
        await authoring.schedule("op", created.notification_id, now + timedelta(seconds=1))
    await asyncio.sleep(3.5)

    due = await asyncio.to_thread(run_cli, "prepare-due", env=env_for(settings))
    assert due.returncode == 1
    assert "1 notifications prepared, 1 failed" in due.stdout
    errors = [row for row in due.stderr.splitlines() if row.startswith("error:")]
    assert errors == [f"error: {gone.notification_id}: the notification has expired"]
    assert set(await entries_per_member(container, fine.notification_id)) == set(members)
