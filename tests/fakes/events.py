"""Live events as the usecases publish them, recorded in order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.domain.events import InboxChange, new_item

EVERYONE = "*"


class RecordedEvents:
    def __init__(self) -> None:
        self.published: list[tuple[str, InboxChange]] = []  # (member, or EVERYONE; change)
        self.announced: list[tuple[str, InboxChange]] = []  # once each, like the broker's
        self.upcoming_at: dict[str, datetime] = {}

    async def to_members(self, user_ids: Sequence[str], change: InboxChange) -> None:
        self.published += [(user_id, change) for user_id in user_ids]

    async def to_everyone(self, change: InboxChange) -> None:
        self.published.append((EVERYONE, change))

    async def announce(self, notification_id: str) -> None:
        change = new_item(notification_id)
        if (EVERYONE, change) not in self.announced:
            self.announced.append((EVERYONE, change))
            self.published.append((EVERYONE, change))

    async def upcoming(self, notification_id: str, visible_from: datetime) -> None:
        self.upcoming_at[notification_id] = visible_from

    def take(self) -> list[tuple[str, InboxChange]]:
        taken, self.published = self.published, []
        return taken
