"""Reads of a member's partition as the stores answer them: a slice of the inbox (with the
member's state and club record when asked), and a page of the point ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from core.domain.inbox import InboxEntry, InboxState
from core.domain.missions import MemberMissions
from core.domain.pointclub import ClubRecord, LedgerEntry


@dataclass(frozen=True)
class InboxScanRequest:
    """One read of a member's inbox, newest first.

    ``after`` is the sort position to continue below (None: from the newest). ``with_status``
    asks for the member's state and club items too; they sit just above the newest entry, so
    the same read returns them (only when ``after`` is None).
    """

    after: str | None
    limit: int
    now: datetime
    include_archived: bool = False
    categories: frozenset[str] | None = None
    with_status: bool = False


@dataclass(frozen=True)
class InboxScan:
    entries: Sequence[InboxEntry]
    resume_after: str | None  # where the next read continues; None when nothing is left
    state: InboxState | None = None
    club: ClubRecord | None = None
    missions: MemberMissions | None = None


@dataclass(frozen=True)
class LedgerPage:
    entries: Sequence[LedgerEntry]
    resume_after: str | None
