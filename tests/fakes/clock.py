"""Time and ids for tests: a clock that moves only when told, ids in sequence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime(2026, 11, 29, 3, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta

    def catch_up(self) -> None:
        """Now, for real: after a CLI job (a separate process on the real clock) the tests read
        what it wrote as of when it wrote it. The fixed default lies in the past by then."""
        self.current = datetime.now(UTC)


class SequentialIds:
    def __init__(self, prefix: str = "id") -> None:
        self._prefix = prefix
        self._next = 0

    def new_id(self) -> str:
        self._next += 1
        return f"{self._prefix}{self._next:08d}"
