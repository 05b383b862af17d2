"""Broadcast read state on the real engine, where DynamoDB checks every update expression: acting
on a new broadcast after an older one expired (the state sheds the old records in the same
command set that adds the new copy), and a mark-all after a recall."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.bootstrap import Container
from core.domain.pointclub import ClubRecord
from tests.builders import broadcast_for
from tests.fakes import FakeClock

pytestmark = pytest.mark.integration


async def published(container: Container, clock: FakeClock) -> str:
    nid = await broadcast_for(container, clock.now())
    await container.prepare_notification().run(nid)
    return nid


async def test_acting_on_broadcasts_while_older_ones_expire_and_are_recalled(
    container: Container, clock: FakeClock
) -> None:
    await container.ledger.put_club("m0", ClubRecord.joined("GOLD", clock.now()))
    commands = container.read_state_commands()
    queries = container.inbox_queries()
    old = await published(container, clock)  # expires in 30 days
    await commands.mark_read("m0", [old])
    await commands.mark_all_read("m0", None)
    clock.advance(timedelta(days=31))
    for act in ("read", "unread", "archive"):
        clock.advance(timedelta(minutes=1))
        nid = await published(container, clock)
        if act == "read":
            await commands.mark_read("m0", [nid])
        elif act == "unread":
            await commands.mark_all_read("m0", None)
            await commands.mark_unread("m0", nid)
        else:
            await commands.archive("m0", [nid])
    state = await container.members.inbox_state("m0")
    assert old not in state.own_broadcasts
    recalled = await published(container, clock)
    await commands.mark_all_read("m0", None)
    await container.authoring().recall("op", recalled, "over")
    await commands.mark_all_read("m0", None)
    state = await container.members.inbox_state("m0")
    assert recalled not in state.read_broadcasts
    assert await queries.unread_count("m0", None, clock.now()) == 0


async def test_ranks_recount_counts_members_written_before_the_counts(
    container: Container, clock: FakeClock
) -> None:
    from core.infra.dynamodb import club_codec
    from tests.builders import dynamo

    for index in range(40):  # club items as an older version wrote them: no counts moved
        record = ClubRecord(rank_code="GOLD" if index % 4 else "SILVER")
        item = club_codec.club_to_item(f"old{index:02d}", record)
        await dynamo(container).put_item(TableName=container.settings.table_name, Item=item)
    assert await container.ledger.rank_counts() == {}
    assert await container.recount_ranks().run() == {"GOLD": 30, "SILVER": 10}
    assert await container.ledger.rank_counts() == {"GOLD": 30, "SILVER": 10}
    nid = await broadcast_for(container, clock.now())
    assert (await container.prepare_notification().run(nid, dry_run=True)).audience == 40
