"""How an audience is split: 16 member shards, spread by a hash of the member id.

The same shards spread the members-by-rank index keys and divide a fan-out among workers.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from core.errors import Conflict, InvalidInput

MEMBER_SHARDS = 16
# What a member id (and a ledger entry id) may be: it goes into keys and notification ids.
ID_CHARACTERS = "A-Za-z0-9_.:@-"
MEMBER_ID = re.compile(rf"[A-Za-z0-9][{ID_CHARACTERS}]{{0,127}}")


def check_member_id(value: str, field: str) -> str:
    if not MEMBER_ID.fullmatch(value):
        raise InvalidInput(
            "not a member id: 1 to 128 of A-Z a-z 0-9 _ . : @ -, starting with a letter or digit",
            field=field,
        )
    return value


def member_shard(user_id: str) -> int:
    return zlib.crc32(user_id.encode()) % MEMBER_SHARDS


@dataclass(frozen=True)
class AudiencePartition:
    """One piece of an audience, walked in member-id order: a member shard of one rank or of
    one user list, or the single member of a USER audience."""

    key: str
    shard: int
    rank: str | None = None
    list_name: str | None = None


@dataclass(frozen=True)
class Checkpoint:
    partition: str
    last: str | None
    done: bool


@dataclass(frozen=True)
class FailedMember:
    """A member a delivery could not reach (their data refused the write), kept to retry."""

    user_id: str
    reason: str


@dataclass(frozen=True)
class BatchResult:
    delivered: int
    already: int
    failed: tuple[FailedMember, ...] = ()
    # Who this call delivered to (``delivered`` of them): their live events.
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeliveryFigures:
    """What the fan-out counted for a notification: each member once, whichever run or worker
    reached them. ``targeted`` = ``delivered`` + ``failed``."""

    targeted: int = 0
    delivered: int = 0
    failed: int = 0


class PartitionOvertaken(Exception):
    """Another run of the same notification has already checkpointed this partition past the
    batch: read the checkpoint again and go on from there."""


class NotificationRecalled(Conflict):
    """The notification was recalled: no delivery commits after that."""

    def __init__(self) -> None:
        super().__init__("the notification was recalled; nothing more is delivered")
