"""Items of the table to domain values and back. Nothing outside ``core/infra`` sees an item."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from core.domain.inbox import InboxEntry, InboxState
from core.domain.notification import (
    Audience,
    AudienceKind,
    LocalizedContent,
    Notification,
    NotificationState,
    Priority,
)
from core.domain.pointclub import ClubRecord, LedgerEntry, PointEntryKind, PointLot
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
    if record.rank_code is not None:
        item["rank"] = s(record.rank_code)
    if record.rank_month is not None:
        item["rankMonth"] = s(record.rank_month)
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
    return item


def ledger_from_item(item: Mapping[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        entry_id=item["eid"]["S"],
        kind=PointEntryKind(item["kind"]["S"]),
        amount=int(item["amt"]["N"]),
        occurred_at=parse_iso(item["at"]["S"]),
        description=item["desc"]["S"] if "desc" in item else None,
    )


def notification_to_item(notification: Notification) -> Item:
    audience: dict[str, Any] = {"kind": s(notification.audience.kind.value)}
    if notification.audience.user_id is not None:
        audience["userId"] = s(notification.audience.user_id)
    if notification.audience.segment is not None:
        audience["segment"] = s(notification.audience.segment)
    item: Item = {
        keys.PK: s(keys.notification_pk(notification.notification_id)),
        keys.SK: s(keys.META_SK),
        "nid": s(notification.notification_id),
        "state": s(notification.state.value),
        "cat": s(notification.category),
        "prio": s(notification.priority.value),
        "contents": {
            "M": {
                locale: {"M": {"title": s(content.title), "body": s(content.body)}}
                for locale, content in notification.contents.items()
            }
        },
        "aud": {"M": audience},
        "cAt": s(iso_key(notification.created_at)),
        "cBy": s(notification.created_by),
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
    )
