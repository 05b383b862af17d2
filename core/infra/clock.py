"""The real clock and id generator behind the ``Clock`` and ``IdGenerator`` ports."""

from __future__ import annotations

from datetime import UTC, datetime

from ulid import ULID


class SystemClock:
    def now(self) -> datetime:
        moment = datetime.now(UTC)
        # Stored times have millisecond precision; keep in-memory ones equal to what is stored.
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class UlidGenerator:
    """ULIDs sort by creation time, which keeps ids of the same millisecond apart too."""

    def new_id(self) -> str:
        return str(ULID())
