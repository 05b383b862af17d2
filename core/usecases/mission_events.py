"""`missions record FILE`: events the platform reports, each counted once toward EVENT missions.

A line is ``{"eventId", "userId", "event", "occurredAt"}``. Each event claims its id
(``MEVENT#<eventId>``, holding what the line said) in the transaction that adds it to the
member's progress, so an event counts once whatever reruns, kills or concurrent runs do; a line
that comes back unchanged is "already there", one that comes back changed under a known id is
reported. An event counts toward the EVENT missions with its name open at its ``occurredAt``
among those known when the run starts. Bad lines are reported by number, the rest recorded.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from core.domain.audience import MEMBER_ID
from core.domain.missions import EVENT_NAME, GoalKind, Mission, advances, merge
from core.domain.pointclub import EARLIEST, LATEST
from core.domain.time import iso_key
from core.errors import Conflict, InvalidInput
from core.observability.spans import chunk_span, traced
from core.ports import Clock
from core.usecases.ledger_import import instant
from core.usecases.missions import Missions, SettleReport
from core.usecases.segments import BadLine, text_of

CHUNK_LINES = 400
CONCURRENCY = 16  # members recorded at once
MAX_RETRIES = 20
BATCH = 98  # event claims per transaction, beside the progress item


@dataclass(frozen=True)
class MissionEvent:
    event_id: str
    user_id: str
    event: str
    occurred_at: datetime

    def fingerprint(self) -> str:
        said = [self.user_id, self.event, iso_key(self.occurred_at)]
        return hashlib.sha256(json.dumps(said).encode()).hexdigest()[:32]


@dataclass
class EventReport:
    recorded: int = 0
    already: int = 0
    counted: int = 0  # recorded events that advanced at least one mission
    bad: list[BadLine] = field(default_factory=list)
    completed: int = 0


def parse_event(text: str) -> MissionEvent:
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise InvalidInput("not JSON") from error
    if not isinstance(document, dict):
        raise InvalidInput("not a JSON object")
    missing = [k for k in ("eventId", "userId", "event", "occurredAt") if k not in document]
    if missing:
        raise InvalidInput(f"missing {', '.join(missing)}")
    for name in ("eventId", "userId"):
        value = document[name]
        if not isinstance(value, str) or not MEMBER_ID.fullmatch(value):
            raise InvalidInput(f"{name} must be letters, digits and _.:@- (up to 128)")
    event = document["event"]
    if not isinstance(event, str) or not EVENT_NAME.fullmatch(event):
        raise InvalidInput("event must be a-z, 0-9 and _.:- (up to 64), as the mission names it")
    try:
        occurred = instant(document["occurredAt"])
    except (TypeError, ValueError, OverflowError) as error:
        raise InvalidInput("occurredAt must be ISO-8601 with an offset") from error
    if not EARLIEST <= occurred < LATEST:
        raise InvalidInput("occurredAt must be between 2000 and 2100")
    return MissionEvent(document["eventId"], document["userId"], event, occurred)


class RecordMissionEvents:
    def __init__(self, *, missions: Missions, clock: Clock) -> None:
        self._missions = missions
        self._clock = clock

    @traced
    async def run(
        self, lines: Iterable[bytes | str], progress: Callable[[int], None] | None = None
    ) -> EventReport:
        report = EventReport()
        run_id = uuid.uuid4().hex
        listed = await self._missions.listed()
        chunk: dict[str, tuple[int, str, MissionEvent]] = {}
        seen = 0
        for number, raw in enumerate(lines, start=1):
            seen = number
            try:
                text = text_of(raw).rstrip("\r\n")
                if not text.strip():
                    continue
                event = parse_event(text)
            except Exception as error:
                shown = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
                reason = str(error) if isinstance(error, InvalidInput) else "unreadable"
                report.bad.append(BadLine(number, shown.rstrip("\r\n")[:200], reason))
                continue
            first = chunk.get(event.event_id)
            if first is not None:
                same = first[2].fingerprint() == event.fingerprint()
                reason = (
                    f"the same event as line {first[0]}; counted once"
                    if same
                    else (f"event {event.event_id} again with other content than line {first[0]}")
                )
                report.bad.append(BadLine(number, text[:200], reason))
                continue
            chunk[event.event_id] = (number, text, event)
            if len(chunk) >= CHUNK_LINES:
                await self._record(list(chunk.values()), listed, report, run_id)
                chunk = {}
                if progress is not None:
                    progress(seen)
        if chunk:
            await self._record(list(chunk.values()), listed, report, run_id)
        if progress is not None:
            progress(seen)
        report.bad.sort(key=lambda bad: bad.number)
        return report

    async def _record(
        self,
        lines: list[tuple[int, str, MissionEvent]],
        listed: tuple[Mission, ...],
        report: EventReport,
        run_id: str,
    ) -> None:
        by_member: dict[str, list[tuple[int, str, MissionEvent]]] = {}
        for line in lines:
            by_member.setdefault(line[2].user_id, []).append(line)
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(user_id: str, mine: list[tuple[int, str, MissionEvent]]) -> None:
            async with limit:
                moved = False
                for start in range(0, len(mine), BATCH):
                    moved |= await self._record_member(
                        user_id, mine[start : start + BATCH], listed, report, run_id
                    )
                if moved:
                    settled = SettleReport()
                    await self._missions.settle_safely(user_id, settled)
                    report.completed += settled.completed

        with chunk_span("missions.record_chunk", f"{len(lines)} events"):
            await asyncio.gather(*(one(user, mine) for user, mine in by_member.items()))

    async def _record_member(
        self,
        user_id: str,
        lines: list[tuple[int, str, MissionEvent]],
        listed: tuple[Mission, ...],
        report: EventReport,
        run_id: str,
    ) -> bool:
        for _ in range(MAX_RETRIES):
            if not lines:
                return False
            adds: dict[str, int] = {}
            counting = 0
            for _number, _text, event in lines:
                more = advances(listed, GoalKind.EVENT, event.occurred_at, event=event.event)
                merge(adds, more)
                counting += bool(more)
            events = [(e.event_id, e.fingerprint(), e.occurred_at) for _n, _t, e in lines]
            held = await self._missions.store.record_events(user_id, events, run_id, adds)
            if not held:
                report.recorded += len(lines)
                report.counted += counting
                return bool(adds)
            for number, text, event in lines:
                claim = held.get(event.event_id)
                if claim is None:
                    continue
                if claim.fingerprint != event.fingerprint():
                    reason = (
                        f"event {event.event_id} was recorded before with other content; "
                        "not counted again"
                    )
                    report.bad.append(BadLine(number, text[:200], reason))
                else:
                    report.already += 1
            lines = [line for line in lines if line[2].event_id not in held]
        raise Conflict(f"member {user_id}'s mission events could not be recorded; run again")
