"""Inbox rules: what is visible, what is unread, and how the unread count is computed.

The unread count is never stored as a number. Each member's state item holds one marker per
delivered, unread, unarchived notification; the count is the number of markers that are visible
now, plus the live broadcasts that reach the member, that they have not acted on and that no
mark-all read (``core/domain/broadcast.py``). Time passing, recalls and expiries therefore
change the count at once, without a write.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from core.domain.audience import ID_CHARACTERS
from core.domain.time import ISO_KEY_PATTERN, iso_key
from core.errors import InvalidInput

if TYPE_CHECKING:
    from core.domain.broadcast import Visibility

ALL_CATEGORIES = "*"
# What a notification id may be: a ULID, or a notice's id made of a member id and an entry id.
NOTIFICATION_ID = re.compile(rf"[{ID_CHARACTERS}]{{1,300}}")
# A position in a member's inbox: ``<visibleFrom as fixed-width UTC ISO>#<notification id>``.
# Positions sort like the inbox (newest last), so a page continues strictly below a position.
POSITION_PATTERN = re.compile(rf"{ISO_KEY_PATTERN}#{NOTIFICATION_ID.pattern}")


def check_notification_id(value: str, field: str) -> str:
    """An id that could be a notification's; anything else (too long, other characters) is the
    caller's mistake, refused before it reaches a key."""
    if not NOTIFICATION_ID.fullmatch(value):
        raise InvalidInput("not a notification id: 1 to 300 of A-Z a-z 0-9 _ . : @ -", field=field)
    return value


def entry_position(visible_from: datetime, notification_id: str) -> str:
    return f"{iso_key(visible_from)}#{notification_id}"


def is_visible(
    *, visible_from: datetime, expires_at: datetime | None, now: datetime, recalled: bool
) -> bool:
    """Visible when ``visibleFrom <= now < expiresAt`` and the notification is not recalled."""
    if recalled or visible_from > now:
        return False
    return expires_at is None or now < expires_at


@dataclass(frozen=True, order=True)
class UnreadMarker:
    """One unread notification in a member's state: enough to count it without reading the
    entry. ``broadcast``: the member's copy of a broadcast, visible while the broadcast reaches
    them."""

    visible_from: datetime
    notification_id: str
    category: str
    expires_at: datetime | None = field(default=None, compare=False)
    broadcast: bool = field(default=False, compare=False)

    @cached_property  # a sort key, asked for many times per page
    def position(self) -> str:
        return entry_position(self.visible_from, self.notification_id)

    def is_visible(self, now: datetime, seen: Visibility) -> bool:
        return is_visible(
            visible_from=self.visible_from,
            expires_at=self.expires_at,
            now=now,
            recalled=seen.hides(self.notification_id, broadcast=self.broadcast),
        )


@dataclass(frozen=True)
class BroadcastRead:
    """A broadcast a mark-all read, when, and when it expires (its record can go then)."""

    at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True)
class InboxState:
    """A member's read state: the unread markers, when they last marked everything read (per
    category), and which broadcasts have an entry of their own (they acted on them)."""

    unread: Mapping[str, UnreadMarker] = field(default_factory=dict)
    read_all_at: Mapping[str, datetime] = field(default_factory=dict)
    # Broadcasts the member has a copy of (they acted on them), with the broadcast's expiry.
    own_broadcasts: Mapping[str, datetime | None] = field(default_factory=dict)
    # Broadcasts a mark-all read (the ones the member saw then) that they have no copy of.
    read_broadcasts: Mapping[str, BroadcastRead] = field(default_factory=dict)

    def is_unread(self, entry: InboxEntry) -> bool:
        """Whether a listed item is unread: its marker, or for a broadcast the member has no
        copy of, that no mark-all read it."""
        if entry.archived_at is not None:
            return False
        if entry.broadcast and entry.notification_id not in self.own_broadcasts:
            return entry.notification_id not in self.read_broadcasts
        return entry.notification_id in self.unread

    def item_read_at(self, entry: InboxEntry) -> datetime | None:
        """When a read item was read: its own time, else the mark-all that covered it."""
        if entry.broadcast and entry.notification_id not in self.own_broadcasts:
            read = self.read_broadcasts.get(entry.notification_id)
            return None if read is None else read.at
        return self.read_at(entry.category, entry.visible_from, entry.read_at)

    def visible_unread(
        self,
        now: datetime,
        seen: Visibility,
        categories: Iterable[str] | None = None,
    ) -> list[UnreadMarker]:
        """Visible unread items, newest first, optionally only of some categories: the markers,
        and the broadcasts the member has no copy of that no mark-all read."""
        wanted = None if categories is None else frozenset(categories)
        markers = [
            marker
            for marker in self.unread.values()
            if marker.is_visible(now, seen) and (wanted is None or marker.category in wanted)
        ]
        markers += [
            broadcast.marker()
            for broadcast in seen.broadcasts.values()
            if broadcast.notification_id not in self.own_broadcasts
            and broadcast.notification_id not in self.unread
            and broadcast.is_visible(now)
            and (wanted is None or broadcast.category in wanted)
            and broadcast.notification_id not in self.read_broadcasts
        ]
        markers.sort(reverse=True)
        return markers

    def unread_count(
        self,
        now: datetime,
        seen: Visibility,
        categories: Iterable[str] | None = None,
    ) -> int:
        """Exact number of visible unread notifications (of ``categories`` when given)."""
        return len(self.visible_unread(now, seen, categories))

    def read_at(
        self, category: str, visible_from: datetime, own: datetime | None
    ) -> datetime | None:
        """When a read item was read: its own time, else the mark-all that covered it."""
        if own is not None:
            return own
        covering = [
            moment
            for key in (ALL_CATEGORIES, category)
            if (moment := self.read_all_at.get(key)) is not None and moment >= visible_from
        ]
        return min(covering) if covering else None


@dataclass(frozen=True)
class InboxEntry:
    """One notification in one member's inbox: delivered to them, or (``broadcast``) a
    broadcast, either their own copy or, before they acted on it, the live list's."""

    notification_id: str
    visible_from: datetime
    category: str
    expires_at: datetime | None
    delivered_at: datetime
    read_at: datetime | None = None
    archived_at: datetime | None = None
    broadcast: bool = False

    def is_visible(self, now: datetime, seen: Visibility, *, include_archived: bool) -> bool:
        if self.archived_at is not None and not include_archived:
            return False
        return is_visible(
            visible_from=self.visible_from,
            expires_at=self.expires_at,
            now=now,
            recalled=seen.hides(self.notification_id, broadcast=self.broadcast),
        )

    @cached_property  # a sort key, asked for many times per page
    def position(self) -> str:
        return entry_position(self.visible_from, self.notification_id)

    def marker(self) -> UnreadMarker:
        return UnreadMarker(
            visible_from=self.visible_from,
            notification_id=self.notification_id,
            category=self.category,
            expires_at=self.expires_at,
            broadcast=self.broadcast,
        )


MAX_CATEGORIES = 50


def check_categories(
    categories: Collection[str] | None, known: frozenset[str]
) -> frozenset[str] | None:
    """The categories asked for, each a configured one; ``None`` is every category and an
    empty list none at all."""
    if categories is None:
        return None
    if len(categories) > MAX_CATEGORIES:
        raise InvalidInput(f"at most {MAX_CATEGORIES} categories", field="categories")
    unknown = sorted(set(categories) - known)
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:3])
        raise InvalidInput(
            f"unknown category {shown}; one of: {', '.join(sorted(known))}", field="categories"
        )
    return frozenset(categories)
