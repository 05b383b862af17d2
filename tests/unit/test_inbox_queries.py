"""Inbox read model over in-memory fakes: visibility, counts, locale, paging, unread-only."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from core.domain.notification import LocalizedContent, NotificationState
from core.errors import InvalidInput
from core.ports import EntryRef, ReadChange
from core.queries.cursors import encode_cursor
from core.queries.inbox import InboxFilterSpec, InboxQueries
from core.queries.views import InboxPageView
from core.settings import Settings
from tests.builders import notification, publish
from tests.fakes import FakeClock, FakeLiveList, FakeMembers, FakeNotifications


@pytest.fixture
def members() -> FakeMembers:
    return FakeMembers()


@pytest.fixture
def notes() -> FakeNotifications:
    return FakeNotifications()


@pytest.fixture
def recalls() -> FakeLiveList:
    return FakeLiveList()


@pytest.fixture
def queries(members: FakeMembers, notes: FakeNotifications, recalls: FakeLiveList) -> InboxQueries:
    return InboxQueries(
        members=members,
        notifications=notes,
        live=recalls,
        default_locale="ja",
        categories=Settings().categories,
    )


async def test_hidden_items_are_in_no_list_and_no_count(
    queries: InboxQueries, members: FakeMembers, notes: FakeNotifications, recalls: FakeLiveList
) -> None:
    clock = FakeClock()
    now = clock.now()
    items = {
        "visible": notification("visible", visible_from=now - timedelta(hours=1)),
        "future": notification("future", visible_from=now + timedelta(hours=1)),
        "expired": notification(
            "expired", visible_from=now - timedelta(days=3), lifetime=timedelta(days=1)
        ),
        "recalled": notification("recalled", visible_from=now - timedelta(hours=2)),
        "archived": notification("archived", visible_from=now - timedelta(hours=3)),
    }
    for item in items.values():
        await publish(notes, members, item, ["alice"], now)
    recalls.ids.add("recalled")
    archived = members.world.entries["alice"]["archived"]
    members.world.entries["alice"]["archived"] = replace(archived, archived_at=now)
    unread = dict(members.world.states["alice"].unread)
    unread.pop("archived")
    members.world.states["alice"] = replace(members.world.states["alice"], unread=unread)

    page = await queries.page(
        "alice", first=20, after=None, spec=InboxFilterSpec(), locales=(), now=now
    )
    assert [item.id for item in page.items] == ["visible"]
    assert page.unread_count == 1
    assert await queries.unread_count("alice", None, now) == 1

    with_archived = await queries.page(
        "alice",
        first=20,
        after=None,
        spec=InboxFilterSpec(include_archived=True),
        locales=(),
        now=now,
    )
    assert [item.id for item in with_archived.items] == ["visible", "archived"]
    assert with_archived.items[1].archived_at == now

    # Time passing changes the count with no write: the future item appears, the visible expires.
    later = now + timedelta(days=31)
    assert await queries.unread_count("alice", None, later) == 0
    soon = now + timedelta(hours=2)
    assert await queries.unread_count("alice", None, soon) == 2


async def test_counts_by_category_and_unread_only_pages(
    queries: InboxQueries, members: FakeMembers, notes: FakeNotifications
) -> None:
    now = FakeClock().now()
    for index in range(9):
        category = "campaign" if index % 3 == 0 else "news"
        item = notification(
            f"n{index}", visible_from=now - timedelta(minutes=index), category=category
        )
        await publish(notes, members, item, ["alice"], now)
    read = [members.world.entries["alice"]["n1"], members.world.entries["alice"]["n3"]]
    await members.apply(
        "alice",
        ReadChange(
            read=tuple(e.marker() for e in read),
            stamp_read=tuple(EntryRef(e.notification_id, e.visible_from) for e in read),
        ),
        now,
    )

    assert await queries.unread_count("alice", ["campaign"], now) == 2  # n0, n6 (n3 read)
    assert await queries.unread_count("alice", ["news"], now) == 5
    assert await queries.unread_count("alice", [], now) == 0
    spec = InboxFilterSpec(unread_only=True)
    first = await queries.page("alice", first=4, after=None, spec=spec, locales=(), now=now)
    assert [i.id for i in first.items] == ["n0", "n2", "n4", "n5"]
    assert first.has_next_page and first.unread_count == 7
    rest = await queries.page(
        "alice", first=4, after=first.end_cursor, spec=spec, locales=(), now=now
    )
    assert [i.id for i in rest.items] == ["n6", "n7", "n8"]
    assert not rest.has_next_page
    assert all(not item.is_read for item in first.items + rest.items)


async def test_content_follows_the_viewer_locale_with_japanese_fallback(
    queries: InboxQueries, members: FakeMembers, notes: FakeNotifications
) -> None:
    now = FakeClock().now()
    both = notification("both", visible_from=now - timedelta(hours=1), ja="こんにちは", en="Hello")
    only_ja = notification("only-ja", visible_from=now - timedelta(hours=2), ja="日本語のみ")
    for item in (both, only_ja):
        await publish(notes, members, item, ["alice"], now)

    def titles(page: InboxPageView) -> list[str]:
        return [item.title for item in page.items]

    spec = InboxFilterSpec()
    english = await queries.page(
        "alice", first=5, after=None, spec=spec, locales=("en-us",), now=now
    )
    assert titles(english) == ["Hello", "日本語のみ"]
    french = await queries.page("alice", first=5, after=None, spec=spec, locales=("fr",), now=now)
    assert titles(french) == ["こんにちは", "日本語のみ"]
    # Amended content shows at once: nothing is copied into the inbox entry.
    notes.items["both"] = replace(
        both,
        contents={"ja": LocalizedContent("改訂", "本文"), "en": LocalizedContent("Amended", "b")},
    )
    again = await queries.page("alice", first=5, after=None, spec=spec, locales=("en",), now=now)
    assert titles(again)[0] == "Amended"


async def test_hidden_entries_beyond_the_first_read_cost_more_reads_not_short_pages(
    queries: InboxQueries, members: FakeMembers, notes: FakeNotifications, recalls: FakeLiveList
) -> None:
    now = FakeClock().now()
    for index in range(40):
        item = notification(f"n{index:02d}", visible_from=now - timedelta(minutes=index))
        await publish(notes, members, item, ["alice"], now)
    recalls.ids.update(f"n{index:02d}" for index in range(0, 30))

    page = await queries.page(
        "alice", first=5, after=None, spec=InboxFilterSpec(), locales=(), now=now
    )
    assert [item.id for item in page.items] == ["n30", "n31", "n32", "n33", "n34"]
    assert page.has_next_page
    assert page.unread_count == 10


async def test_item_returns_only_my_visible_notification(
    queries: InboxQueries, members: FakeMembers, notes: FakeNotifications, recalls: FakeLiveList
) -> None:
    now = FakeClock().now()
    mine = notification("mine", visible_from=now - timedelta(hours=1))
    theirs = notification("theirs", visible_from=now - timedelta(hours=1))
    later = notification("later", visible_from=now + timedelta(hours=1))
    await publish(notes, members, mine, ["alice"], now)
    await publish(notes, members, theirs, ["bob"], now)
    await publish(notes, members, later, ["alice"], now)

    found = await queries.item("alice", "mine", (), now)
    assert found is not None and not found.is_read
    assert await queries.item("alice", "theirs", (), now) is None
    assert await queries.item("alice", "later", (), now) is None
    assert await queries.item("alice", "missing", (), now) is None
    notes.items["mine"] = replace(mine, state=NotificationState.RECALLED)
    assert await queries.item("alice", "mine", (), now) is None


async def test_paging_arguments_are_checked(queries: InboxQueries) -> None:
    now = FakeClock().now()
    for first in (0, 101):
        with pytest.raises(InvalidInput) as raised:
            await queries.page(
                "alice", first=first, after=None, spec=InboxFilterSpec(), locales=(), now=now
            )
        assert raised.value.field == "first"
    for cursor in ("%%%", encode_cursor("not-a-position"), encode_cursor("")):
        with pytest.raises(InvalidInput):
            await queries.page(
                "alice", first=5, after=cursor, spec=InboxFilterSpec(), locales=(), now=now
            )
    with pytest.raises(InvalidInput):
        await queries.unread_count("alice", [f"c{i}" for i in range(51)], now)
