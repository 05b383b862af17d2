"""A shared, bounded, short-lived cache of notification items as members read them (issue 18).

A notification's content is the same for every member who reads it, and a home screen's third
DynamoDB call (BatchGetItem of the page's ``NOTIF#`` items, in every locale) was the largest of
the three to make and decode. Every inbox read already fetches a copy of the live list, and every
write that changes what members see of a notification (an amend, a recall, a publish) sets a new
content version in every copy in the same transaction (``live_list.content_version_updates``).
An item read after the live list showed version ``v`` is current as of ``v``; so an item cached
under ``v`` may be served to any later read that finds ``v`` still in its copy, and none that
finds another. Amends and recalls therefore show on the next read, as if there were no cache.
A token also names the notification its write changed and the version it gave it: DynamoDB
orders a read against a transaction item by item, so a read that met the new token in its copy
could still, for a moment, meet that notification as it was; such an item is served to that read
(as it would be without a cache) but not kept. Items are kept without their audit trail, which
members never see.

The age bound (``POINTCLUB_CONTENT_CACHE_SECONDS``) covers only what goes around the server's own
writes (an item edited by hand in the table); the size bound (``POINTCLUB_CONTENT_CACHE_ITEMS``)
keeps the least recently served out. Either at 0 turns the cache off. Reads that need the item as
stored now (the operators', the usecases' read-modify-writes) never go through it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import NamedTuple

from core.domain.notification import Notification


class _Held(NamedTuple):
    version: str
    until: float
    notification: Notification


class ContentCache:
    """Notification items by id, each with the content version it was read under."""

    def __init__(
        self, *, seconds: float, limit: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._seconds = seconds
        self._limit = limit
        self._clock = clock
        self._held: OrderedDict[str, _Held] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self._seconds > 0 and self._limit > 0

    def __len__(self) -> int:
        return len(self._held)

    def take(
        self, notification_ids: Sequence[str], version: str
    ) -> tuple[dict[str, Notification], list[str]]:
        """The ids held under ``version`` and still young, and the ids to read."""
        found: dict[str, Notification] = {}
        missing: list[str] = []
        if not self.enabled:
            return found, list(notification_ids)
        now = self._clock()
        held = self._held
        for nid in notification_ids:
            entry = held.get(nid)
            if entry is not None and entry.version == version and now < entry.until:
                found[nid] = entry.notification
                held.move_to_end(nid)
            else:
                missing.append(nid)
        return found, missing

    def keep(self, notifications: Iterable[Notification], version: str) -> None:
        """Hold items read after the live list showed ``version``, but one older than the
        version's own write gave it."""
        if not self.enabled:
            return
        until = self._clock() + self._seconds
        written, at_least = _write_of(version)
        held = self._held
        for notification in notifications:
            nid = notification.notification_id
            if nid == written and notification.version < at_least:
                continue
            held[nid] = _Held(version, until, replace(notification, audit=()))
            held.move_to_end(nid)
        while len(held) > self._limit:
            held.popitem(last=False)


def _write_of(version: str) -> tuple[str, int]:
    """The notification and version a content version's write gave (``<token>.<nid>.<ver>``);
    nothing for a token of another shape (none yet: the empty one)."""
    _, _, named = version.partition(".")
    nid, _, number = named.rpartition(".")
    return (nid, int(number)) if nid and number.isdigit() else ("", 0)
