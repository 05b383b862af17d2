"""Operators' commands on segments."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import structlog

from core.domain.audience import MEMBER_ID
from core.domain.segment import Segment, SegmentKind, SegmentRule, check_segment
from core.domain.time import iso_key
from core.errors import Conflict, InvalidInput, ValidationFailed
from core.observability.spans import traced
from core.ports import Clock, SegmentStore

log = structlog.get_logger("pointclub.audit")


class SegmentAuthoring:
    def __init__(self, *, store: SegmentStore, clock: Clock, rank_codes: set[str]) -> None:
        self._store = store
        self._clock = clock
        self._rank_codes = rank_codes

    @traced
    async def create(self, actor: str, name: str, rule: SegmentRule) -> Segment:
        errors = check_segment(name, rule, self._rank_codes)
        if errors:
            raise ValidationFailed(errors)
        segment = Segment(name=name, rule=rule, created_at=self._clock.now(), created_by=actor)
        await self._store.create(segment)
        log.info(
            "admin.audit",
            actor=actor,
            action="create-segment",
            target=f"segment:{name}",
            detail=f"{rule.kind.value} {','.join(rule.ranks)}".strip(),
            at=iso_key(segment.created_at),
        )
        return segment


HEADERS = {"user_id", "userid", "uid", "member", "member_id", "id"}
IMPORT_CHUNK = 500


def text_of(raw: bytes | str) -> str:
    """An import file's line as text: files are read as bytes so that one line that is not
    UTF-8 is reported by its number instead of stopping the whole import."""
    if isinstance(raw, str):
        return raw.removeprefix("\ufeff")
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise InvalidInput("not UTF-8 text") from error


@dataclass(frozen=True)
class BadLine:
    number: int
    text: str
    reason: str


@dataclass
class ImportReport:
    segment: str
    imported: int = 0
    bad: list[BadLine] = field(default_factory=list)
    members: int = 0


class ImportUserList:
    """A USER_LIST segment from a CSV (first column) or newline file, streamed in chunks.

    Bad lines are reported with their numbers and skipped; the good ones are stored. Importing
    again adds what is missing and changes nothing else (members are keyed by id).
    """

    def __init__(self, *, store: SegmentStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    @traced
    async def run(
        self,
        actor: str,
        name: str,
        lines: Iterable[bytes | str],
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        rule = SegmentRule(SegmentKind.USER_LIST)
        existing = await self._store.get(name)
        if existing is None:
            errors = [e for e in check_segment(name, rule, set()) if e.field == "name"]
            if errors:
                raise ValidationFailed(errors)
            existing = Segment(name=name, rule=rule, created_at=self._clock.now(), created_by=actor)
            await self._store.put(existing)
        elif existing.rule.kind is not SegmentKind.USER_LIST:
            raise Conflict(
                f"segment {name} is a {existing.rule.kind.value} segment, not a user list"
            )
        report = ImportReport(segment=name)
        chunk: list[str] = []
        for number, line in enumerate(lines, start=1):
            try:
                raw = text_of(line)
            except InvalidInput as error:
                text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
                report.bad.append(BadLine(number, text.rstrip("\r\n")[:200], str(error)))
                continue
            if number == 1 and raw.strip().split(",")[0].strip().lower() in HEADERS:
                continue  # a CSV header
            member, reason = _parse(raw)
            if member is None and reason is None:
                continue
            if reason is not None or member is None:
                report.bad.append(BadLine(number, raw.rstrip("\r\n")[:200], reason or "empty"))
                continue
            chunk.append(member)
            if len(chunk) >= IMPORT_CHUNK:
                await self._store.add_list_members(name, chunk)
                report.imported += len(chunk)
                chunk = []
                if progress is not None:
                    progress(report.imported)
        if chunk:
            await self._store.add_list_members(name, chunk)
            report.imported += len(chunk)
        report.members = await self._store.size(rule, name)
        await self._store.put(replace(existing, members=report.members))
        log.info(
            "admin.audit",
            actor=actor,
            action="import-list",
            target=f"segment:{name}",
            detail=f"{report.imported} imported, {len(report.bad)} bad, {report.members} members",
            at=iso_key(self._clock.now()),
        )
        return report


def _parse(raw: str) -> tuple[str | None, str | None]:
    """(member id, None), (None, reason) for a bad line, or (None, None) for a blank one."""
    text = raw.strip()
    if not text or text.startswith("#"):
        return None, None
    first = next(csv.reader([text]), [""])
    value = first[0].strip() if first else ""
    if not MEMBER_ID.fullmatch(value):
        return None, "not a member id (letters, digits and _.:@-, up to 128)"
    return value, None
