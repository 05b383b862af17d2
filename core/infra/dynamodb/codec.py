"""Items of the table to domain values and back. Nothing outside ``core/infra`` sees an item."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from core.domain.inbox import BroadcastRead, InboxEntry, InboxState
from core.domain.notification import (
    Audience,
    AudienceKind,
    AudienceRule,
    AuditRecord,
    LocalizedContent,
    Notification,
    NotificationState,
    Priority,
)
from core.domain.segment import Segment, SegmentKind, SegmentRule
from core.domain.time import from_epoch_ms, iso_key, parse_iso, to_epoch_ms
from core.infra.dynamodb import keys

Item = dict[str, Any]
# Entries stay this long after they expire before TTL removes them; reads never rely on TTL.
TTL_GRACE = timedelta(days=7)
# One top-level attribute per category (``rAll:*`` for all): concurrent mark-alls of different
# categories never overwrite each other.
READ_ALL_PREFIX = "rAll:"
# Broadcasts the member has an entry of their own for (they read, unread or archived one).
OWN_BROADCASTS = "bx"
# Broadcasts a mark-all read, the member having no copy of them.
READ_BROADCASTS = "brd"


def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: int | float) -> dict[str, str]:
    return {"N": str(value)}


def opt_time(item: Mapping[str, Any], name: str) -> datetime | None:
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
    if entry.broadcast:
        item["bc"] = {"BOOL": True}
    return item


def upsert_entry(entry: InboxEntry) -> tuple[list[str], Item, dict[str, str]]:
    """``SET`` clauses (with their values and names) that write an entry's fields where they
    are absent: an update that creates the entry, or leaves an existing one's fields alone."""
    item = entry_to_item("-", entry)
    clauses: list[str] = []
    values: Item = {}
    names: dict[str, str] = {}
    for name in ("nid", "vf", "cat", "dAt", "exp", "ttl", "bc"):
        if name in item:
            clauses.append(f"#e_{name} = if_not_exists(#e_{name}, :e_{name})")
            values[f":e_{name}"] = item[name]
            names[f"#e_{name}"] = name
    return clauses, values, names


def entry_from_item(item: Mapping[str, Any]) -> InboxEntry:
    return InboxEntry(
        notification_id=item["nid"]["S"],
        visible_from=parse_iso(item["vf"]["S"]),
        category=item["cat"]["S"],
        expires_at=opt_time(item, "exp"),
        delivered_at=parse_iso(item["dAt"]["S"]),
        read_at=opt_time(item, "rAt"),
        archived_at=opt_time(item, "aAt"),
        broadcast="bc" in item,
    )


def encode_own(notification_id: str, expires_at: datetime | None) -> str:
    """An element of ``bx``: ``nid|expiresAtMs`` (empty: no expiry)."""
    expires = "" if expires_at is None else str(to_epoch_ms(expires_at))
    return f"{notification_id}|{expires}"


def decode_own(element: str) -> tuple[str, datetime | None]:
    notification_id, _, expires = element.partition("|")
    return notification_id, from_epoch_ms(int(expires)) if expires else None


def encode_read(notification_id: str, read: BroadcastRead) -> str:
    """An element of ``brd``: ``nid|expiresAtMs|readAtMs``."""
    expires = "" if read.expires_at is None else str(to_epoch_ms(read.expires_at))
    return f"{notification_id}|{expires}|{to_epoch_ms(read.at)}"


def decode_read(element: str) -> tuple[str, BroadcastRead]:
    notification_id, expires, at = element.split("|")
    expiry = from_epoch_ms(int(expires)) if expires else None
    return notification_id, BroadcastRead(at=from_epoch_ms(int(at)), expires_at=expiry)


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
        unread={marker.notification_id: marker for marker in markers},
        read_all_at=read_all,
        own_broadcasts=dict(
            decode_own(element) for element in item.get(OWN_BROADCASTS, {}).get("SS", [])
        ),
        read_broadcasts=dict(
            decode_read(element) for element in item.get(READ_BROADCASTS, {}).get("SS", [])
        ),
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
    if notification.broadcast_reach is not None:
        item["reach"] = n(notification.broadcast_reach)
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
            rule=AudienceRule(audience["rule"]["S"])
            if "rule" in audience
            else AudienceRule.MEMBERS_AT_VISIBLE_FROM,
        ),
        created_at=parse_iso(item["cAt"]["S"]),
        created_by=item["cBy"]["S"],
        url=item["url"]["S"] if "url" in item else None,
        image_url=item["img"]["S"] if "img" in item else None,
        visible_from=opt_time(item, "vf"),
        expires_at=opt_time(item, "exp"),
        audit=tuple(audit_from_value(value) for value in item.get("audit", {}).get("L", [])),
        version=int(item.get("ver", {"N": "0"})["N"]),
        broadcast_reach=int(item["reach"]["N"]) if "reach" in item else None,
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
    if audience.rule is not AudienceRule.MEMBERS_AT_VISIBLE_FROM:
        value["rule"] = s(audience.rule.value)
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
