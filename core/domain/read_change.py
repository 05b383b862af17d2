"""One atomic change of a member's read state, as set operations on the state item and up to
99 guarded entry updates: applying it twice leaves what applying it once left."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.domain.inbox import BroadcastRead, InboxEntry, UnreadMarker


@dataclass(frozen=True)
class EntryRef:
    """The key of one inbox entry."""

    notification_id: str
    visible_from: datetime


@dataclass(frozen=True)
class ReadChange:
    """One atomic change of a member's read state: the state item and up to 99 entries.

    Set operations make it idempotent: applying it twice leaves what applying it once left.
    """

    read: tuple[UnreadMarker, ...] = ()  # leave the unread set; queued to count as reads
    drop: tuple[UnreadMarker, ...] = ()  # leave the unread set uncounted (archived, expired, …)
    unread: tuple[UnreadMarker, ...] = ()  # enter the unread set again
    stamp_read: tuple[EntryRef, ...] = ()  # set readAt unless set
    clear_read: tuple[EntryRef, ...] = ()  # remove readAt (not on archived entries)
    archive: tuple[EntryRef, ...] = ()  # set archivedAt (and readAt unless set)
    read_all: tuple[str, ...] = ()  # categories ("*": all) whose mark-all time is now
    # Broadcasts the member acts on: the entry updates of these ids create the member's own copy
    # (these fields) where it is absent, and the state records that the member has one.
    copies: tuple[InboxEntry, ...] = ()
    # Records of copies of broadcasts gone for good (recalled, expired): (id, expiry). Never in
    # the change that adds copies: one update cannot both add to and delete from a set.
    forget: tuple[tuple[str, datetime | None], ...] = ()
    # Broadcasts a mark-all reads now (the member has no copy of them), and records of such
    # reads that can go (gone for good, or the member has a copy now); never both at once.
    cover: tuple[tuple[str, BroadcastRead], ...] = ()
    uncover: tuple[tuple[str, BroadcastRead], ...] = ()

    def __post_init__(self) -> None:
        if self.copies and self.forget:
            raise ValueError("a change adds copies or forgets them, not both")
        if self.cover and self.uncover:
            raise ValueError("a change records broadcasts read or forgets them, not both")

    @property
    def entry_updates(self) -> int:
        return len(self.stamp_read) + len(self.clear_read) + len(self.archive)
