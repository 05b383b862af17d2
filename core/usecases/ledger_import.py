"""`points import`: ledger entries from JSON Lines into the ledger and the point-club read model.

Exactly once by entry id. Each entry claims its id (a guard item holding what the line said) in
the transaction that writes it and the member's read model, so an entry is counted once whatever
reruns, kills or concurrent imports do; a line that comes back unchanged is "already there", a
line that comes back changed under a known id is reported and not counted again. Any line that
cannot be read (not UTF-8, not JSON, too deep, a time outside 2000..2100, text that cannot be
stored) is reported with its number and the rest imported.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from core.domain.audience import MEMBER_ID
from core.domain.missions import REWARD_PREFIX, GoalKind, Mission, advances, merge
from core.domain.pointclub import (
    ClubRecord,
    LedgerEntry,
    PointEntryKind,
    RankTable,
    apply_entry,
    check_entry,
    compact,
)
from core.domain.time import parse_iso
from core.domain.wallet import PointKind, UseOrder
from core.errors import Conflict, InvalidInput
from core.observability.spans import chunk_span, traced
from core.ports import Clock, LedgerStore
from core.usecases.missions import Missions
from core.usecases.segments import BadLine, text_of

USE_POINTS = GoalKind.USE_POINTS

CHUNK_LINES = 400
CONCURRENCY = 16
MAX_RETRIES = 20
MAX_DESCRIPTION = 200


@dataclass
class LedgerImportReport:
    imported: int = 0
    already: int = 0
    bad: list[BadLine] = field(default_factory=list)


@dataclass(frozen=True)
class _Line:
    number: int
    text: str
    user_id: str
    entry: LedgerEntry

    def bad(self, reason: str) -> BadLine:
        return BadLine(self.number, self.text[:200], reason)


def parse_line(text: str) -> tuple[str, LedgerEntry]:
    """A JSON Lines ledger entry; ``InvalidInput`` names what is wrong."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"not JSON: {error.msg}") from error
    except RecursionError as error:
        raise InvalidInput("not JSON a ledger can hold: nested too deeply") from error
    if not isinstance(document, dict):
        raise InvalidInput("not a JSON object")
    missing = [
        k for k in ("entryId", "userId", "kind", "amount", "occurredAt") if k not in document
    ]
    if missing:
        raise InvalidInput(f"missing {', '.join(missing)}")
    user_id, entry_id = document["userId"], document["entryId"]
    for name, value in (("userId", user_id), ("entryId", entry_id)):
        if not isinstance(value, str) or not MEMBER_ID.fullmatch(value):
            raise InvalidInput(f"{name} must be letters, digits and _.:@- (up to 128)")
    try:
        kind = PointEntryKind(document["kind"])
    except (ValueError, TypeError) as error:
        raise InvalidInput("kind must be EARNED, USED, EXPIRED or ADJUSTED") from error
    amount = document["amount"]
    if not isinstance(amount, int) or isinstance(amount, bool) or abs(amount) > 10**9:
        raise InvalidInput("amount must be an integer")
    try:
        named = document.get("pointKind")
        if named is not None and not isinstance(named, str):
            raise TypeError("not a string")
        point_kind = None if named is None else PointKind(named)
    except (ValueError, TypeError) as error:
        raise InvalidInput("pointKind must be PAID or FREE") from error
    try:
        occurred = instant(document["occurredAt"])
        expires = None if document.get("expiresAt") is None else instant(document["expiresAt"])
        available = (
            None if document.get("availableAt") is None else instant(document["availableAt"])
        )
    except (TypeError, ValueError, OverflowError) as error:
        raise InvalidInput(
            "times must be ISO-8601 with an offset, between 2000 and 2100"
        ) from error
    description = document.get("description")
    if description is not None and (
        not isinstance(description, str) or len(description) > MAX_DESCRIPTION
    ):
        raise InvalidInput(f"description must be text of at most {MAX_DESCRIPTION} characters")
    if description is not None and not _storable(description):
        raise InvalidInput("description holds text that is not valid Unicode")
    entry = LedgerEntry(
        entry_id, kind, amount, occurred, description, expires, point_kind, available
    )
    if entry_id.startswith(REWARD_PREFIX):
        raise InvalidInput(f"entry ids starting {REWARD_PREFIX} are kept for mission rewards")
    if entry.adds and point_kind is PointKind.FREE:
        entry = replace(entry, point_kind=None)  # FREE said or not: one line, one fingerprint
    problem = check_entry(entry)
    if problem is not None:
        raise InvalidInput(problem)
    return user_id, entry


def instant(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError("not a string")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("no offset")
    return parse_iso(moment.isoformat())


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class ImportLedger:
    """Ledger entries, streamed in chunks; each member's entries applied in the file's order."""

    def __init__(
        self,
        *,
        store: LedgerStore,
        ranks: RankTable,
        clock: Clock,
        order: UseOrder = UseOrder.FREE_FIRST,
        missions: Missions | None = None,
    ) -> None:
        self._store = store
        self._ranks = ranks
        self._clock = clock
        self._order = order
        self._missions = missions
        self._listed: tuple[Mission, ...] = ()

    @traced
    async def run(
        self, lines: Iterable[bytes | str], progress: Callable[[int], None] | None = None
    ) -> LedgerImportReport:
        report = LedgerImportReport()
        run_id = uuid.uuid4().hex
        # The missions known as the run starts: a USED entry advances those open at its time.
        self._listed = await self._missions.listed() if self._missions else ()
        chunk: dict[str, _Line] = {}  # by entry id: the first line that gave it
        seen = 0
        for number, raw in enumerate(lines, start=1):
            seen = number
            line = self._read(number, raw, report)
            if line is None:
                continue
            first = chunk.get(line.entry.entry_id)
            if first is not None:
                report.bad.append(_duplicate(line, first))
                continue
            chunk[line.entry.entry_id] = line
            if len(chunk) >= CHUNK_LINES:
                await self._apply_chunk(list(chunk.values()), report, run_id)
                chunk = {}
                if progress is not None:
                    progress(seen)
        if chunk:
            await self._apply_chunk(list(chunk.values()), report, run_id)
        if progress is not None:
            progress(seen)
        report.bad.sort(key=lambda bad: bad.number)
        return report

    def _read(self, number: int, raw: bytes | str, report: LedgerImportReport) -> _Line | None:
        """The line parsed, or None (blank, or reported as bad: whatever went wrong)."""
        try:
            text = text_of(raw)
            if not text.strip():
                return None
            user_id, entry = parse_line(text)
        except InvalidInput as error:
            shown = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
            report.bad.append(BadLine(number, shown.rstrip("\r\n")[:200], str(error)))
            return None
        except Exception as error:  # a line must never stop the import: report it, go on
            shown = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
            reason = f"unreadable ({type(error).__name__})"
            report.bad.append(BadLine(number, shown.rstrip("\r\n")[:200], reason))
            return None
        return _Line(number, text.rstrip("\r\n"), user_id, entry)

    async def _apply_chunk(
        self, chunk: list[_Line], report: LedgerImportReport, run_id: str
    ) -> None:
        by_member: dict[str, list[_Line]] = {}
        for line in chunk:
            by_member.setdefault(line.user_id, []).append(line)  # keeps the file's order
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(lines: list[_Line]) -> None:
            async with limit:
                for start in range(0, len(lines), self._store.batch_size):
                    await self._apply_member(
                        lines[start : start + self._store.batch_size], report, run_id
                    )

        with chunk_span("ledger.import_chunk", f"{len(chunk)} entries"):
            await asyncio.gather(*(one(lines) for lines in by_member.values()))

    async def _apply_member(
        self, lines: list[_Line], report: LedgerImportReport, run_id: str
    ) -> None:
        user_id = lines[0].user_id
        for _ in range(MAX_RETRIES):
            if not lines:
                return
            record, version = await self._store.club_for_update(user_id)
            updated = record or ClubRecord.joined(self._ranks.base.code, self._clock.now())
            written: list[LedgerEntry] = []
            progress: dict[str, int] = {}
            for line in lines:
                updated, entry = apply_entry(updated, line.entry, self._order)
                written.append(entry)
                if entry.kind is PointEntryKind.USED:
                    used = advances(self._listed, USE_POINTS, entry.occurred_at, -entry.amount)
                    merge(progress, used)
            updated = compact(updated, self._clock.now())
            try:
                claimed = await self._store.save(
                    user_id,
                    written,
                    updated,
                    version,
                    run_id,
                    rank_was=record.rank_code if record else None,
                    missions=progress,
                )
            except Conflict:
                continue  # the club item moved: read it again
            if not claimed:
                report.imported += len(lines)
                if progress and self._missions is not None:
                    await self._missions.settle_safely(user_id)
                return
            for line in lines:
                claim = claimed.get(line.entry.entry_id)
                if claim is None:
                    continue
                if claim.fingerprint != line.entry.fingerprint(user_id):
                    report.bad.append(
                        line.bad(
                            f"entry {line.entry.entry_id} was imported before with other "
                            "content; it is not counted again (correct it with a new entry)"
                        )
                    )
                elif claim.run_id == run_id:
                    report.bad.append(line.bad("the same entry earlier in this file; counted once"))
                else:
                    report.already += 1
            lines = [line for line in lines if line.entry.entry_id not in claimed]
        raise Conflict(f"member {user_id}'s status kept changing; run the import again")


def _duplicate(line: _Line, first: _Line) -> BadLine:
    if line.entry.fingerprint(line.user_id) == first.entry.fingerprint(first.user_id):
        return line.bad(f"the same entry as line {first.number}; counted once")
    return line.bad(
        f"entry {line.entry.entry_id} again with other content than line {first.number}; "
        "not counted"
    )
