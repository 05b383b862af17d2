"""Live events as the usecases publish them, recorded in order."""

from __future__ import annotations

from collections.abc import Sequence

from core.domain.events import InboxChange

EVERYONE = "*"


class RecordedEvents:
    def __init__(self) -> None:
        self.published: list[tuple[str, InboxChange]] = []  # (member, or EVERYONE; change)

    async def to_members(self, user_ids: Sequence[str], change: InboxChange) -> None:
        self.published += [(user_id, change) for user_id in user_ids]

    async def to_everyone(self, change: InboxChange) -> None:
        self.published.append((EVERYONE, change))

    def take(self) -> list[tuple[str, InboxChange]]:
        taken, self.published = self.published, []
        return taken
