"""How an audience is split: 16 member shards, spread by a hash of the member id.

The same shards spread the members-by-rank index keys and divide a fan-out among workers.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

MEMBER_SHARDS = 16


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
class BatchResult:
    delivered: int
    already: int
