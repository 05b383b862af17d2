"""The shared cache of notification items: served only under the content version it was read
under, only while young, never more than its limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from core.domain.notification import AuditRecord, Notification
from core.infra.content_cache import ContentCache
from core.infra.dynamodb.live_list import new_content_version
from tests.builders import notification

NOW = datetime(2026, 12, 1, tzinfo=UTC)


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def items(*ids: str) -> list[Notification]:
    return [notification(nid, visible_from=NOW) for nid in ids]


def test_items_are_served_under_the_version_they_were_read_under_and_no_other() -> None:
    cache = ContentCache(seconds=60, limit=10, clock=Ticks())
    cache.keep(items("a", "b"), "v1")

    found, missing = cache.take(["a", "b", "c"], "v1")
    assert sorted(found) == ["a", "b"] and missing == ["c"]
    assert found["a"].notification_id == "a"

    # An amend or recall set a new version: nothing held under v1 answers a read as of v2.
    found, missing = cache.take(["a", "b"], "v2")
    assert found == {} and missing == ["a", "b"]


def test_items_older_than_the_age_bound_are_read_again() -> None:
    ticks = Ticks()
    cache = ContentCache(seconds=5, limit=10, clock=ticks)
    cache.keep(items("a"), "v")
    ticks.now += 4.9
    assert list(cache.take(["a"], "v")[0]) == ["a"]
    ticks.now += 0.2
    assert cache.take(["a"], "v") == ({}, ["a"])


def test_the_least_recently_served_leave_first_and_the_size_stays_bounded() -> None:
    cache = ContentCache(seconds=60, limit=3, clock=Ticks())
    cache.keep(items("a", "b", "c"), "v")
    cache.take(["a"], "v")  # a served: b is now the least recent
    cache.keep(items("d", "e"), "v")
    assert len(cache) == 3
    found, missing = cache.take(["a", "b", "c", "d", "e"], "v")
    assert sorted(found) == ["a", "d", "e"] and missing == ["b", "c"]


def test_a_newer_read_replaces_what_was_held() -> None:
    cache = ContentCache(seconds=60, limit=10, clock=Ticks())
    cache.keep([notification("a", visible_from=NOW, ja="old")], "v1")
    cache.keep([notification("a", visible_from=NOW, ja="new")], "v2")
    assert cache.take(["a"], "v1") == ({}, ["a"])
    assert cache.take(["a"], "v2")[0]["a"].contents["ja"].title == "new"


def test_zero_in_either_bound_turns_it_off() -> None:
    for seconds, limit in ((0, 10), (60, 0)):
        cache = ContentCache(seconds=seconds, limit=limit, clock=Ticks())
        cache.keep(items("a"), "v")
        assert len(cache) == 0 and not cache.enabled
        assert cache.take(["a"], "v") == ({}, ["a"])


def test_an_item_older_than_the_write_its_version_names_is_not_kept() -> None:
    """A read that met the amend's token could still meet the item as it was, for a moment:
    served to that read, never kept for the next."""
    cache = ContentCache(seconds=60, limit=10, clock=Ticks())
    amended = new_content_version("a", 3)
    stale = replace(notification("a", visible_from=NOW), version=2)
    other = replace(notification("b", visible_from=NOW), version=1)
    cache.keep([stale, other], amended)
    assert cache.take(["a", "b"], amended) == ({"b": other}, ["a"])
    cache.keep([replace(stale, version=3)], amended)
    assert list(cache.take(["a"], amended)[0]) == ["a"]


def test_items_are_kept_without_their_audit_trail() -> None:
    record = AuditRecord(at=NOW, actor="op", action="amend", detail="x" * 1_000)
    cache = ContentCache(seconds=60, limit=10, clock=Ticks())
    cache.keep([replace(notification("a", visible_from=NOW), audit=(record,))], "v")
    assert cache.take(["a"], "v")[0]["a"].audit == ()
