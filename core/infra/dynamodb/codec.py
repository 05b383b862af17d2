"""Items of the table to domain values and back. Nothing outside ``core/infra`` sees an item."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from core.domain.audience import member_shard
from core.domain.inbox import InboxEntry, InboxState
from core.domain.notification import (
    Audience,
    AudienceKind,
    AuditRecord,
    LocalizedContent,
    Notification,
    NotificationState,
    Priority,
)
from core.domain.pointclub import ClubRecord, LedgerEntry, PointEntryKind, PointLot
from core.domain.segment import Segment, SegmentKind, SegmentRule
from core.domain.time import iso_key, parse_iso
from core.infra.dynamodb import keys

Item = dict[str, Any]
# Entries stay this long after they expire before TTL removes them; reads never rely on TTL.
TTL_GRACE = timedelta(days=7)
# One top-level attribute per category (``rAll:*`` for all): concurrent mark-alls of different
# categories never overwrite each other.
READ_ALL_PREFIX = "rAll:"


def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: int | float) -> dict[str, str]:
    return {"N": str(value)}


def _opt_time(item: Mapping[str, Any], name: str) -> datetime | None:
    value = item.get(name)
    return None if value is None else parse_iso(value["S"])


def entry_to_item(user_id: str, entry: InboxEntry) -> Item:
    item: Item = {
        keys.PK: s(keys.user_pk(user_id)),
        keys.SK: s(keys.entry_sk(entry.visible_from, entry.notification_id)),
        "nid": s(entry.notification_id),
        "vf": s(iso_key(entry.visible_from)),
        "cat": s(entry.category),
        "dAt": s(iso_key(entry.delivered_at)),
    }
    if entry.expires_at is not None:
        item["exp"] = s(iso_key(entry.expires_at))
        item["ttl"] = n(int((entry.expires_at + TTL_GRACE).timestamp()))
    if entry.read_at is not None:
        item["rAt"] = s(iso_key(entry.read_at))
    if entry.archived_at is not None:
        item["aAt"] = s(iso_key(entry.archived_at))
    return item


def entry_from_item(item: Mapping[str, Any]) -> InboxEntry:
    return InboxEntry(
        notification_id=item["nid"]["S"],
        visible_from=parse_iso(item["vf"]["S"]),
        category=item["cat"]["S"],
        expires_at=_opt_time(item, "exp"),
        delivered_at=parse_iso(item["dAt"]["S"]),
        read_at=_opt_time(item, "rAt"),
        archived_at=_opt_time(item, "aAt"),
    )


def state_from_item(item: Mapping[str, Any] | None) -> InboxState:
    if item is None:
        return InboxState()
    markers = [keys.decode_marker(element) for element in item.get("unread", {}).get("SS", [])]
    read_all = {
        name.removeprefix(READ_ALL_PREFIX): parse_iso(value["S"])
        for name, value in item.items()
        if name.startswith(READ_ALL_PREFIX)
    }
    return InboxState(
        unread={marker.notification_id: marker for marker in markers}, read_all_at=read_all
    )


def club_to_item(user_id: str, record: ClubRecord) -> Item:
    item: Item = {
        keys.PK: s(keys.user_pk(user_id)),
        keys.SK: s(keys.CLUB_SK),
        "lots": {
            "L": [
                {
                    "M": {
                        "id": s(lot.lot_id),
                        "amt": n(lot.amount),
                        "exp": s(iso_key(lot.expires_at)),
                    }
                }
                for lot in record.lots
            ]
        },
        "used": {"M": {month: n(amount) for month, amount in record.used_by_month.items()}},
        "adj": n(record.unexpiring_balance),
    }
    if record.applied_until is not None:
        item["upto"] = s(iso_key(record.applied_until))
    if record.rank_code is not None:
        item["rank"] = s(record.rank_code)
        # Members by rank (segments, fan-out): sharded so no index key takes every member.
        item["GSI1PK"] = s(keys.rank_index_pk(record.rank_code, member_shard(user_id)))
        item["GSI1SK"] = s(user_id)
    if record.rank_month is not None:
        item["rankMonth"] = s(record.rank_month)
    if record.previous_rank is not None:
        item["prevRank"] = s(record.previous_rank)
    if record.evaluation_run is not None:
        item["evalRun"] = s(record.evaluation_run)
    return item


def club_from_item(item: Mapping[str, Any] | None) -> ClubRecord | None:
    if item is None:
        return None
    lots = tuple(
        PointLot(
            lot_id=lot["M"]["id"]["S"],
            amount=int(lot["M"]["amt"]["N"]),
            expires_at=parse_iso(lot["M"]["exp"]["S"]),
        )
        for lot in item.get("lots", {}).get("L", [])
    )
    used = {month: int(value["N"]) for month, value in item.get("used", {}).get("M", {}).items()}
    return ClubRecord(
        lots=lots,
        used_by_month=used,
        rank_code=item["rank"]["S"] if "rank" in item else None,
        rank_month=item["rankMonth"]["S"] if "rankMonth" in item else None,
        unexpiring_balance=int(item.get("adj", {"N": "0"})["N"]),
        previous_rank=item["prevRank"]["S"] if "prevRank" in item else None,
        evaluation_run=item["evalRun"]["S"] if "evalRun" in item else None,
        applied_until=_opt_time(item, "upto"),
    )


def ledger_to_item(user_id: str, entry: LedgerEntry) -> Item:
    item: Item = {
        keys.PK: s(keys.user_pk(user_id)),
        keys.SK: s(keys.ledger_sk(entry.occurred_at, entry.entry_id)),
        "eid": s(entry.entry_id),
        "kind": s(entry.kind.value),
        "amt": n(entry.amount),
        "at": s(iso_key(entry.occurred_at)),
    }
    if entry.description is not None:
        item["desc"] = s(entry.description)
    if entry.expires_at is not None:
        item["exp"] = s(iso_key(entry.expires_at))
    return item


def ledger_from_item(item: Mapping[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        entry_id=item["eid"]["S"],
        kind=PointEntryKind(item["kind"]["S"]),
        amount=int(item["amt"]["N"]),
        occurred_at=parse_iso(item["at"]["S"]),
        description=item["desc"]["S"] if "desc" in item else None,
        expires_at=_opt_time(item, "exp"),
    )


def notification_to_item(notification: Notification) -> Item:
    item: Item = {
        keys.PK: s(keys.notification_pk(notification.notification_id)),
        keys.SK: s(keys.META_SK),
        "nid": s(notification.notification_id),
        "state": s(notification.state.value),
        "cat": s(notification.category),
        "prio": s(notification.priority.value),
        "contents": contents_value(notification.contents),
        "aud": audience_value(notification.audience),
        "cAt": s(iso_key(notification.created_at)),
        "cBy": s(notification.created_by),
        "audit": {"L": [audit_to_value(record) for record in notification.audit]},
        "ver": n(notification.version),
        "GSI1PK": s(keys.state_index_pk(notification.state.value)),
        "GSI1SK": s(f"{iso_key(notification.created_at)}#{notification.notification_id}"),
    }
    optional = {
        "url": notification.url,
        "img": notification.image_url,
        "vf": None if notification.visible_from is None else iso_key(notification.visible_from),
        "exp": None if notification.expires_at is None else iso_key(notification.expires_at),
    }
    item.update({name: s(value) for name, value in optional.items() if value is not None})
    return item


def notification_from_item(item: Mapping[str, Any]) -> Notification:
    audience = item["aud"]["M"]
    return Notification(
        notification_id=item["nid"]["S"],
        state=NotificationState(item["state"]["S"]),
        category=item["cat"]["S"],
        priority=Priority(item["prio"]["S"]),
        contents={
            locale: LocalizedContent(title=value["M"]["title"]["S"], body=value["M"]["body"]["S"])
            for locale, value in item["contents"]["M"].items()
        },
        audience=Audience(
            kind=AudienceKind(audience["kind"]["S"]),
            user_id=audience["userId"]["S"] if "userId" in audience else None,
            segment=audience["segment"]["S"] if "segment" in audience else None,
        ),
        created_at=parse_iso(item["cAt"]["S"]),
        created_by=item["cBy"]["S"],
        url=item["url"]["S"] if "url" in item else None,
        image_url=item["img"]["S"] if "img" in item else None,
        visible_from=_opt_time(item, "vf"),
        expires_at=_opt_time(item, "exp"),
        audit=tuple(audit_from_value(value) for value in item.get("audit", {}).get("L", [])),
        version=int(item.get("ver", {"N": "0"})["N"]),
    )


def audit_to_value(record: AuditRecord) -> dict[str, Any]:
    return {
        "M": {
            "at": s(iso_key(record.at)),
            "by": s(record.actor),
            "act": s(record.action),
            "what": s(record.detail),
        }
    }


def audit_from_value(value: Mapping[str, Any]) -> AuditRecord:
    fields = value["M"]
    return AuditRecord(
        at=parse_iso(fields["at"]["S"]),
        actor=fields["by"]["S"],
        action=fields["act"]["S"],
        detail=fields["what"]["S"],
    )


def contents_value(contents: Mapping[str, LocalizedContent]) -> dict[str, Any]:
    return {
        "M": {
            locale: {"M": {"title": s(content.title), "body": s(content.body)}}
            for locale, content in contents.items()
        }
    }


def audience_value(audience: Audience) -> dict[str, Any]:
    value: dict[str, Any] = {"kind": s(audience.kind.value)}
    if audience.user_id is not None:
        value["userId"] = s(audience.user_id)
    if audience.segment is not None:
        value["segment"] = s(audience.segment)
    return {"M": value}


def segment_to_item(segment: Segment) -> Item:
    item: Item = {
        keys.PK: s(keys.segment_pk(segment.name)),
        keys.SK: s(keys.META_SK),
        "name": s(segment.name),
        "kind": s(segment.rule.kind.value),
        "cAt": s(iso_key(segment.created_at)),
        "cBy": s(segment.created_by),
        "GSI1PK": s(keys.SEGMENTS_INDEX_PK),
        "GSI1SK": s(segment.name),
    }
    if segment.rule.ranks:
        item["ranks"] = {"L": [s(rank) for rank in segment.rule.ranks]}
    if segment.members is not None:
        item["members"] = n(segment.members)
    return item


def segment_from_item(item: Mapping[str, Any]) -> Segment:
    return Segment(
        name=item["name"]["S"],
        rule=SegmentRule(
            kind=SegmentKind(item["kind"]["S"]),
            ranks=tuple(value["S"] for value in item.get("ranks", {}).get("L", [])),
        ),
        created_at=parse_iso(item["cAt"]["S"]),
        created_by=item["cBy"]["S"],
        members=int(item["members"]["N"]) if "members" in item else None,
    )
