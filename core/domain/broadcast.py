"""Broadcasts: a notification to every member, or to members of some ranks, stored once.

A broadcast is not copied into inboxes. Publishing it writes one descriptor into the live list
(every copy of it), which each inbox read already fetches; each member's inbox is the merge of
their own entries and the live broadcasts that reach them. A member's own state of a broadcast is
written only when they act on it: reading, unreading or archiving one turns it into an entry of
their own (flagged as a broadcast copy); a mark-all records the broadcasts it read (those the member
saw then), which a later one reaching them (a new rank, a scheduled one) is not.

Who a broadcast reaches is fixed by its ``AudienceRule``:

- ``MEMBERS_AT_VISIBLE_FROM`` (the default): the members who held one of its ranks (or any rank,
  for every member) at its ``visibleFrom``, as a campaign list drawn at that moment would be.
  A member who joins or reaches the rank later does not see it; one who loses the rank later
  keeps it.
- ``LIVE``: whoever holds one of its ranks now; a member who reaches the rank later sees it, one
  who loses it stops seeing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from core.domain.inbox import InboxEntry, UnreadMarker, entry_position
from core.domain.missions import Mission
from core.domain.notification_draft import AudienceRule
from core.domain.pointclub import ClubRecord

__all__ = ["AudienceRule", "Broadcast", "LiveList", "Visibility"]

# Live broadcasts one list holds: each is about 67 bytes of the list item every inbox read
# fetches (100 of them are 6.7 KB, 2 read units strongly consistent); DynamoDB's item limit
# (400 KB) would allow about 6,000.
DEFAULT_MAX_LIVE = 100
MAX_LIVE_LIMIT = 2_000


@dataclass(frozen=True)
class Broadcast:
    """A published broadcast as the live list holds it: what an inbox read needs, no content."""

    notification_id: str
    visible_from: datetime
    category: str
    expires_at: datetime | None = None
    ranks: frozenset[str] | None = None  # None: every member (any rank)
    rule: AudienceRule = AudienceRule.MEMBERS_AT_VISIBLE_FROM

    @cached_property  # a sort key, asked for many times per page
    def position(self) -> str:
        return entry_position(self.visible_from, self.notification_id)

    def is_visible(self, now: datetime) -> bool:
        return self.visible_from <= now and (self.expires_at is None or now < self.expires_at)

    def has_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def reaches(self, club: ClubRecord | None) -> bool:
        """Whether the member with this club record is in the audience, under the rule."""
        if club is None:
            return False
        live = self.rule is AudienceRule.LIVE
        rank = club.rank_code if live else club.rank_at(self.visible_from)
        return rank is not None and (self.ranks is None or rank in self.ranks)

    def entry(self, at: datetime) -> InboxEntry:
        """The member's own copy, written when they act on it."""
        return InboxEntry(
            notification_id=self.notification_id,
            visible_from=self.visible_from,
            category=self.category,
            expires_at=self.expires_at,
            delivered_at=at,
            broadcast=True,
        )

    def marker(self) -> UnreadMarker:
        return UnreadMarker(
            visible_from=self.visible_from,
            notification_id=self.notification_id,
            category=self.category,
            expires_at=self.expires_at,
            broadcast=True,
        )


@dataclass(frozen=True)
class LiveList:
    """What every inbox read fetches besides the member's own items: the recalled ids (their
    entries may still be in inboxes) and the live broadcasts."""

    recalled: frozenset[str] = frozenset()
    broadcasts: tuple[Broadcast, ...] = ()
    missions: tuple[Mission, ...] = ()  # running or upcoming, soonest end first
    # A token every change members could see of a notification (amend, recall, publish) sets
    # anew in every copy: notification items read after this list was are current as of it, so
    # a copy cached under the same token may be shown (core/infra/content_cache.py).
    content_version: str = ""

    def seen_by(self, club: ClubRecord | None) -> Visibility:
        return Visibility(
            recalled=self.recalled,
            broadcasts={b.notification_id: b for b in self.broadcasts if b.reaches(club)},
            content_version=self.content_version,
        )


@dataclass(frozen=True)
class Visibility:
    """What one member may see beyond the time rules: nothing recalled, and of the broadcasts
    only the live ones that reach them (their own copies of other broadcasts are hidden)."""

    recalled: frozenset[str] = frozenset()
    broadcasts: Mapping[str, Broadcast] = field(default_factory=dict)
    content_version: str = ""  # the live list's (LiveList.content_version)

    def hides(self, notification_id: str, *, broadcast: bool) -> bool:
        if notification_id in self.recalled:
            return True
        return broadcast and notification_id not in self.broadcasts

    def newest_first(self) -> list[Broadcast]:
        return sorted(self.broadcasts.values(), key=lambda b: b.position, reverse=True)


NOTHING_HIDDEN = Visibility()
