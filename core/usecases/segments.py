"""Operators' commands on segments."""

from __future__ import annotations

from typing import Protocol

import structlog

from core.domain.segment import Segment, SegmentRule, check_segment
from core.domain.time import iso_key
from core.errors import ValidationFailed
from core.ports import Clock

log = structlog.get_logger("pointclub.audit")


class SegmentWriter(Protocol):
    async def create(self, segment: Segment) -> None: ...


class SegmentAuthoring:
    def __init__(self, *, store: SegmentWriter, clock: Clock, rank_codes: set[str]) -> None:
        self._store = store
        self._clock = clock
        self._rank_codes = rank_codes

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
