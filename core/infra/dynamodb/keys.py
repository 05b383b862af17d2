"""Key layout of the single table (see docs/ARCHITECTURE.md for every access pattern).

Member partition ``USER#<uid>``, sort keys in this order:
  ``I#<visibleFrom>#<nid>``   inbox entries (visibleFrom as fixed-width UTC ISO-8601)
  ``I~CLUB``, ``I~MISSIONS``, ``I~STATE``  point-club read model, mission progress and read
                              state, just above the newest entry, so the home screen's one Query
                              returns them with the first page
  ``L#<occurredAt>#<entryId>`` point ledger
``NOTIF#<nid>`` / ``META``     a notification; ``MISSION#<mid>`` / ``META`` a mission;
``MEVENT#<eventId>`` / ``META`` a recorded mission event's claim;
``RECALLS#<k>`` / ``META`` a copy of the recall list (and of the running missions).
"""

from __future__ import annotations

import zlib
from datetime import datetime

from core.domain.inbox import UnreadMarker
from core.domain.time import from_epoch_ms, iso_key, to_epoch_ms

PK = "PK"
SK = "SK"
ENTRY_PREFIX = "I#"
ENTRY_UPPER = "I#\U0010ffff"
STATUS_UPPER = "I~\U0010ffff"
STATE_SK = "I~STATE"
CLUB_SK = "I~CLUB"
MISSIONS_SK = "I~MISSIONS"
LEDGER_PREFIX = "L#"
LEDGER_UPPER = "L#\U0010ffff"
META_SK = "META"


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def entry_sk(visible_from: datetime, notification_id: str) -> str:
    return f"{ENTRY_PREFIX}{iso_key(visible_from)}#{notification_id}"


def read_claim_sk(notification_id: str) -> str:
    """A member's claim of having read a broadcast, counted once (below the inbox's range)."""
    return f"CNT#{notification_id}"


def ledger_sk(occurred_at: datetime, entry_id: str) -> str:
    return f"{LEDGER_PREFIX}{iso_key(occurred_at)}#{entry_id}"


def notification_pk(notification_id: str) -> str:
    return f"NOTIF#{notification_id}"


def mission_pk(mission_id: str) -> str:
    return f"MISSION#{mission_id}"


def mission_event_pk(event_id: str) -> str:
    return f"MEVENT#{event_id}"


def missions_due_pk(shard: int) -> str:
    """Members whose mission progress moved and is not settled yet (GSI1, 16 shards)."""
    return f"MDUE#{shard:02d}"


def recall_pk(shard: int) -> str:
    return f"RECALLS#{shard}"


SEGMENTS_INDEX_PK = "SEGMENTS"


def rank_index_pk(rank: str, shard: int) -> str:
    return f"RANK#{rank}#{shard:02d}"


def rank_count_pk(shard: int) -> str:
    """Members per rank, one of 16 count shards (a member counts in their own shard)."""
    return f"RANKCOUNT#{shard:02d}"


def state_index_pk(state: str) -> str:
    return f"NSTATE#{state}"


def segment_pk(name: str) -> str:
    return f"SEGMENT#{name}"


def idempotency_pk(actor: str, key: str) -> str:
    return f"IDEMP#{actor}#{key}"


def recall_shard(user_id: str, shards: int) -> int:
    return zlib.crc32(user_id.encode()) % shards


def encode_marker(marker: UnreadMarker) -> str:
    """A compact string-set element: ``nid|category|visibleFromMs|expiresAtMs``, and ``|b`` for
    a member's copy of a broadcast."""
    expires = "" if marker.expires_at is None else str(to_epoch_ms(marker.expires_at))
    fields = [
        marker.notification_id,
        marker.category,
        str(to_epoch_ms(marker.visible_from)),
        expires,
    ]
    if marker.broadcast:
        fields.append(BROADCAST_FLAG)
    return "|".join(fields)


BROADCAST_FLAG = "b"


def decode_marker(element: str) -> UnreadMarker:
    notification_id, category, visible_ms, expires_ms, *flags = element.split("|")
    return UnreadMarker(
        visible_from=from_epoch_ms(int(visible_ms)),
        notification_id=notification_id,
        category=category,
        expires_at=from_epoch_ms(int(expires_ms)) if expires_ms else None,
        broadcast=BROADCAST_FLAG in flags,
    )
