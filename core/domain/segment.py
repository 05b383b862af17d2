"""Segments: named audiences of members."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.domain.audience import MEMBER_SHARDS, AudiencePartition
from core.errors import FieldError

SEGMENT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class SegmentKind(StrEnum):
    ALL_MEMBERS = "ALL_MEMBERS"
    RANKS = "RANKS"
    USER_LIST = "USER_LIST"


@dataclass(frozen=True)
class SegmentRule:
    kind: SegmentKind
    ranks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Segment:
    name: str
    rule: SegmentRule
    created_at: datetime
    created_by: str
    members: int | None = None  # USER_LIST: how many the last import stored


def check_rule(rule: SegmentRule, known_ranks: set[str], field: str = "rule") -> list[FieldError]:
    errors = []
    if rule.kind is SegmentKind.RANKS:
        if not rule.ranks:
            errors.append(FieldError(f"{field}.ranks", "name at least one rank"))
        unknown = sorted(set(rule.ranks) - known_ranks)
        if unknown:
            errors.append(FieldError(f"{field}.ranks", f"unknown ranks: {', '.join(unknown)}"))
    elif rule.ranks:
        errors.append(FieldError(f"{field}.ranks", "only a RANKS rule takes ranks"))
    return errors


def check_segment(name: str, rule: SegmentRule, known_ranks: set[str]) -> list[FieldError]:
    errors = []
    if not SEGMENT_NAME.fullmatch(name):
        errors.append(
            FieldError("name", "1 to 64 of a-z, 0-9, '-' and '_', starting with a letter or digit")
        )
    if rule.kind is SegmentKind.USER_LIST:
        errors.append(
            FieldError(
                "rule.kind", "USER_LIST segments are imported: `pointclub segments import-list`"
            )
        )
    return errors + check_rule(rule, known_ranks)


def audience_partitions(
    rule: SegmentRule, name: str | None, rank_codes: Sequence[str]
) -> list[AudiencePartition]:
    """The pieces a fan-out walks: one per member shard (and rank), each in member-id order."""
    if rule.kind is SegmentKind.USER_LIST:
        if name is None:
            raise ValueError("a USER_LIST rule needs its segment name")
        return [AudiencePartition(f"L.{s:02d}", s, list_name=name) for s in range(MEMBER_SHARDS)]
    ranks = tuple(rank_codes) if rule.kind is SegmentKind.ALL_MEMBERS else rule.ranks
    return [
        AudiencePartition(f"R.{rank}.{s:02d}", s, rank=rank)
        for rank in ranks
        for s in range(MEMBER_SHARDS)
    ]
