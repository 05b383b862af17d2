"""The live list (``RECALLS#<k>`` / ``META``, K copies): recalled ids and live broadcasts.

Every inbox read fetches one copy (chosen by a hash of the member id); every change writes all
copies in one transaction, so each copy is always complete. A copy holds ``ids`` (a string set of
recalled notifications whose entries may still be in inboxes) and one attribute ``b:<nid>`` per
live broadcast: ``visibleFromMs|expiresAtMs|rule|ranks|category`` (ranks comma-separated, empty
for every member), about 67 bytes each (`bench broadcast`); and one attribute ``m:<mid>`` per
running or upcoming mission (``mission_codec``), at most ``MAX_LISTED``; and ``cv``, the content
version: a fresh token set in every copy by each write that changes what members see of a
notification (a recall, a publish, an amend: ``content_version_updates``), which tells the shared
cache of notification items (``core/infra/content_cache.py``) what it may still serve.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from core.domain.broadcast import AudienceRule, Broadcast, LiveList
from core.domain.time import from_epoch_ms, to_epoch_ms
from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.client import translated_errors
from core.infra.dynamodb.mission_codec import missions_in

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

BROADCAST_PREFIX = "b:"
CONTENT_VERSION = "cv"


def new_content_version(notification_id: str, version: int) -> str:
    """A token no earlier write set (equal tokens mean no change in between), naming the
    notification the write changes and the version it gives it: ``<random>.<nid>.<version>``,
    so a read that meets the token with the item still older keeps it out of the cache."""
    return f"{secrets.token_urlsafe(12)}.{notification_id}.{version}"


def copy_key(shard: int) -> dict[str, Any]:
    return {keys.PK: codec.s(keys.recall_pk(shard)), keys.SK: codec.s(keys.META_SK)}


def recall_list_updates(
    table: str, shards: int, operation: str, notification_id: str, content_version: str = ""
) -> list[Any]:
    """One transaction's updates that ``ADD`` (or ``DELETE``) the id in every copy at once; a
    recall (``ADD``) also takes the notification off the live broadcasts and sets
    ``content_version`` (``new_content_version``)."""
    updates = []
    for shard in range(shards):
        update: dict[str, Any] = {
            "TableName": table,
            "Key": copy_key(shard),
            "UpdateExpression": f"{operation} ids :id",
            "ExpressionAttributeValues": {":id": {"SS": [notification_id]}},
        }
        if operation == "ADD":
            update["UpdateExpression"] += " SET #cv = :cv REMOVE #b"
            update["ExpressionAttributeNames"] = {
                "#b": BROADCAST_PREFIX + notification_id,
                "#cv": CONTENT_VERSION,
            }
            update["ExpressionAttributeValues"][":cv"] = codec.s(
                content_version or new_content_version(notification_id, 0)
            )
        updates.append({"Update": update})
    return updates


def broadcast_updates(
    table: str, shards: int, broadcast: Broadcast, drop: Sequence[str], content_version: str
) -> list[Any]:
    """One transaction's updates that put the broadcast into every copy, take ``drop`` (ids
    of expired broadcasts) out and set ``content_version``."""
    names = {"#b": BROADCAST_PREFIX + broadcast.notification_id, "#cv": CONTENT_VERSION}
    names.update({f"#d{i}": BROADCAST_PREFIX + nid for i, nid in enumerate(drop)})
    version = codec.s(content_version)
    expression = "SET #b = :b, #cv = :cv"
    if drop:
        expression += " REMOVE " + ", ".join(f"#d{i}" for i in range(len(drop)))
    return [
        {
            "Update": {
                "TableName": table,
                "Key": copy_key(shard),
                "UpdateExpression": expression,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {
                    ":b": codec.s(encode_broadcast(broadcast)),
                    ":cv": version,
                },
            }
        }
        for shard in range(shards)
    ]


def content_version_updates(table: str, shards: int, content_version: str) -> list[Any]:
    """One transaction's updates that set a new content version in every copy: what an amend
    writes beside the notification, so no server shows its cached copy after."""
    version = codec.s(content_version)
    return [
        {
            "Update": {
                "TableName": table,
                "Key": copy_key(shard),
                "UpdateExpression": "SET #cv = :cv",
                "ExpressionAttributeNames": {"#cv": CONTENT_VERSION},
                "ExpressionAttributeValues": {":cv": version},
            }
        }
        for shard in range(shards)
    ]


def encode_broadcast(broadcast: Broadcast) -> str:
    expires = "" if broadcast.expires_at is None else str(to_epoch_ms(broadcast.expires_at))
    ranks = "" if broadcast.ranks is None else ",".join(sorted(broadcast.ranks))
    rule = "L" if broadcast.rule is AudienceRule.LIVE else "V"
    visible = str(to_epoch_ms(broadcast.visible_from))
    return "|".join((visible, expires, rule, ranks, broadcast.category))


def decode_broadcast(notification_id: str, text: str) -> Broadcast:
    visible, expires, rule, ranks, category = text.split("|", 4)
    return Broadcast(
        notification_id=notification_id,
        visible_from=from_epoch_ms(int(visible)),
        expires_at=from_epoch_ms(int(expires)) if expires else None,
        category=category,
        ranks=frozenset(ranks.split(",")) if ranks else None,
        rule=AudienceRule.LIVE if rule == "L" else AudienceRule.MEMBERS_AT_VISIBLE_FROM,
    )


def live_list_from_item(item: Mapping[str, Any] | None) -> LiveList:
    if item is None:
        return LiveList()
    broadcasts = tuple(
        decode_broadcast(name.removeprefix(BROADCAST_PREFIX), value["S"])
        for name, value in item.items()
        if name.startswith(BROADCAST_PREFIX)
    )
    return LiveList(
        recalled=frozenset(item.get("ids", {}).get("SS", [])),
        broadcasts=broadcasts,
        missions=missions_in(item),
        content_version=item.get(CONTENT_VERSION, {}).get("S", ""),
    )


class DynamoLiveList:
    """The live list, copied into ``shards`` items so no key runs hot."""

    def __init__(self, client: DynamoDBClient, table: str, shards: int) -> None:
        self._client = client
        self._table = table
        self._shards = shards

    async def live_for(self, user_id: str) -> LiveList:
        return await self.live_in_shard(self.shard_of(user_id))

    async def live_in_shard(self, shard: int) -> LiveList:
        with translated_errors("read the live list"):
            response = await self._client.get_item(
                TableName=self._table, Key=copy_key(shard), ConsistentRead=True
            )
        return live_list_from_item(response.get("Item"))

    def shard_of(self, user_id: str) -> int:
        return keys.recall_shard(user_id, self._shards)

    async def add(self, notification_id: str) -> None:
        """Put the id in every copy at once, so no member can still count the notification."""
        await self._update_all("ADD", notification_id)

    async def remove(self, notification_id: str) -> None:
        """Forget a recalled id once its inbox entries are gone."""
        await self._update_all("DELETE", notification_id)

    async def _update_all(self, operation: str, notification_id: str) -> None:
        items = recall_list_updates(self._table, self._shards, operation, notification_id)
        with translated_errors("update the live list"):
            await self._client.transact_write_items(TransactItems=items)
