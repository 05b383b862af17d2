"""Segments: named audiences of members."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

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
