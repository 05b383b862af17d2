"""Notification items (``NOTIF#<nid>`` / ``META``) and their listing by state; what members read
of them through the shared content cache."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from core.domain.broadcast import Broadcast
from core.domain.notification import (
    AMENDABLE,
    AuditRecord,
    Notification,
    NotificationState,
    listing_position,
)
from core.domain.time import iso_key
from core.errors import Conflict
from core.infra.content_cache import ContentCache
from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.batch import batch_get, contended
from core.infra.dynamodb.client import cancellation_reasons, put_item, translated_errors
from core.infra.dynamodb.idempotency import claim_put, claimed_by
from core.infra.dynamodb.live_list import (
    broadcast_updates,
    content_version_updates,
    new_content_version,
    recall_list_updates,
)
from core.infra.dynamodb.table import GSI1
from core.ports import IdempotencyClaim

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

LISTING_PAGE = 100


class DynamoNotificationStore:
    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        shards: int,
        cache: ContentCache | None = None,
    ) -> None:
        self._client = client
        self._table = table
        self._shards = shards  # copies of the live list, whose content version a save sets
        self._cache = ContentCache(seconds=0, limit=0) if cache is None else cache

    async def get_many(
        self, notification_ids: Sequence[str], *, as_of: str | None = None
    ) -> Mapping[str, Notification]:
        """The items as stored now; with ``as_of`` (the content version of the live list the
        caller read before), copies the shared cache holds under that version may answer."""
        if as_of is None:
            return await self._read(notification_ids)
        found, missing = self._cache.take(notification_ids, as_of)
        if missing:
            read = await self._read(missing)
            self._cache.keep(read.values(), as_of)
            found.update(read)
        return found

    async def _read(self, notification_ids: Sequence[str]) -> Mapping[str, Notification]:
        wanted = [
            {keys.PK: codec.s(keys.notification_pk(nid)), keys.SK: codec.s(keys.META_SK)}
            for nid in notification_ids
        ]
        items = await batch_get(self._client, self._table, wanted)
        found = (codec.notification_from_item(item) for item in items)
        return {notification.notification_id: notification for notification in found}

    async def get(self, notification_id: str) -> Notification | None:
        return (await self.get_many([notification_id])).get(notification_id)

    async def put(self, notification: Notification, *, only_if_absent: bool = False) -> bool:
        return await put_item(
            self._client,
            self._table,
            codec.notification_to_item(notification),
            only_if_absent=only_if_absent,
            action="write a notification",
        )

    async def create(
        self, notification: Notification, claim: IdempotencyClaim | None
    ) -> Notification:
        """Store a new notification; with a claim, the same key returns the first one."""
        put: Any = {
            "Put": {
                "TableName": self._table,
                "Item": codec.notification_to_item(notification),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }
        if claim is None:
            with translated_errors("create a notification"):
                await self._client.put_item(**put["Put"])
            return notification
        try:
            with translated_errors("create a notification"):
                await self._client.transact_write_items(
                    TransactItems=[
                        claim_put(self._table, claim, "nid", notification.notification_id),
                        put,
                    ]
                )
            return notification
        except self._client.exceptions.TransactionCanceledException as error:
            if cancellation_reasons(error)[:1] != ["ConditionalCheckFailed"]:
                raise
        return await self._replay(claim)

    async def _replay(self, claim: IdempotencyClaim) -> Notification:
        stored = await claimed_by(self._client, self._table, claim, "nid")
        if stored is None:
            raise Conflict("the idempotency key is being used by a request under way; retry")
        found = await self.get(stored)
        if found is None:
            raise Conflict("the idempotency key's notification is gone")
        return found

    async def save(
        self, notification: Notification, *, expected: NotificationState, audit: AuditRecord
    ) -> None:
        """Write the authored fields and state, if the state is still ``expected`` and the
        version still the one ``notification`` was read at; else ``Conflict``. An amend (a
        save that keeps a notification members may hold PREPARING or PUBLISHED) sets a new
        content version in every live-list copy in the same transaction: no server serves its
        cached copy after. The fan-out's move from PREPARING to PUBLISHED changes nothing members
        see and stays one update (a notice to one member must not empty every server's cache)."""
        if expected in AMENDABLE and notification.state is expected:
            version = new_content_version(notification.notification_id, notification.version + 1)
            copies = content_version_updates(self._table, self._shards, version)
            await self._with_copies("update a notification", notification, expected, audit, copies)
            return
        update = self._save_update(notification, expected, audit)
        try:
            # A fan-out batch checks the notification in its transactions: an amend made while
            # one is under way waits for it (a few milliseconds) instead of failing.
            await contended("update a notification", partial(self._client.update_item, **update))
        except self._client.exceptions.ConditionalCheckFailedException as error:
            raise Conflict("the notification changed meanwhile; reload and retry") from error

    async def recall(
        self,
        notification: Notification,
        *,
        expected: NotificationState,
        audit: AuditRecord,
    ) -> None:
        """State RECALLED and the id in every recall-list copy, in one transaction."""
        nid = notification.notification_id
        version = new_content_version(nid, notification.version + 1)
        copies = recall_list_updates(self._table, self._shards, "ADD", nid, version)
        await self._with_copies("recall a notification", notification, expected, audit, copies)

    async def publish_broadcast(
        self,
        notification: Notification,
        *,
        expected: NotificationState,
        audit: AuditRecord,
        broadcast: Broadcast,
        drop: Sequence[str],
    ) -> None:
        """State PUBLISHED and the broadcast in every live-list copy, in one transaction: as
        many writes for ten members as for ten million."""
        version = new_content_version(notification.notification_id, notification.version + 1)
        copies = broadcast_updates(self._table, self._shards, broadcast, drop, version)
        await self._with_copies("publish a broadcast", notification, expected, audit, copies)

    async def _with_copies(
        self,
        action: str,
        notification: Notification,
        expected: NotificationState,
        audit: AuditRecord,
        copies: list[Any],
    ) -> None:
        """The notification's save and the live-list copies' updates, in one transaction
        (retried while another holds an item); ``Conflict`` if the save's condition fails."""
        items = [{"Update": self._save_update(notification, expected, audit)}, *copies]
        try:
            write = partial(self._client.transact_write_items, TransactItems=items)
            await contended(action, write)
        except self._client.exceptions.TransactionCanceledException as error:
            raise Conflict("the notification changed meanwhile; reload and retry") from error

    def _save_update(
        self, notification: Notification, expected: NotificationState, audit: AuditRecord
    ) -> dict[str, Any]:
        values: dict[str, Any] = {
            ":state": codec.s(notification.state.value),
            ":expected": codec.s(expected.value),
            ":cat": codec.s(notification.category),
            ":prio": codec.s(notification.priority.value),
            ":contents": codec.contents_value(notification.contents),
            ":aud": codec.audience_value(notification.audience),
            ":gpk": codec.s(keys.state_index_pk(notification.state.value)),
            ":audit": {"L": [codec.audit_to_value(audit)]},
            ":none": {"L": []},
            ":ver": codec.n(notification.version),
            ":next": codec.n(notification.version + 1),
        }
        # Every name through a placeholder: several (url, state, …) are reserved words.
        names = {
            f"#{name}": name for name in ("state", "cat", "prio", "contents", "aud", "audit", "ver")
        }
        sets = [
            "#state = :state",
            "#cat = :cat",
            "#prio = :prio",
            "#contents = :contents",
            "#aud = :aud",
            "GSI1PK = :gpk",
            "#audit = list_append(if_not_exists(#audit, :none), :audit)",
            "#ver = :next",
        ]
        removes = []
        optional = {
            "url": notification.url,
            "img": notification.image_url,
            "vf": None if notification.visible_from is None else iso_key(notification.visible_from),
            "exp": None if notification.expires_at is None else iso_key(notification.expires_at),
        }
        for name, value in optional.items():
            names[f"#{name}"] = name
            if value is None:
                removes.append(f"#{name}")
            else:
                sets.append(f"#{name} = :{name}")
                values[f":{name}"] = codec.s(value)
        if notification.broadcast_reach is not None:
            sets.append("reach = :reach")
            values[":reach"] = codec.n(notification.broadcast_reach)
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        return {
            "TableName": self._table,
            "Key": {
                keys.PK: codec.s(keys.notification_pk(notification.notification_id)),
                keys.SK: codec.s(keys.META_SK),
            },
            "UpdateExpression": expression,
            # Items written before versions count as version 0.
            "ConditionExpression": "#state = :expected AND "
            + (
                "#ver = :ver"
                if notification.version
                else "(attribute_not_exists(#ver) OR #ver = :ver)"
            ),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    async def page_by_state(
        self, state: NotificationState, after: str | None, limit: int
    ) -> list[Notification]:
        """Newest first by creation; ``after`` is a ``<createdAt>#<nid>`` position."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": GSI1,
            "KeyConditionExpression": "GSI1PK = :pk",
            "ExpressionAttributeValues": {":pk": codec.s(keys.state_index_pk(state.value))},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if after is not None:
            nid = after.split("#", 1)[1]
            params["ExclusiveStartKey"] = {
                "GSI1PK": codec.s(keys.state_index_pk(state.value)),
                "GSI1SK": codec.s(after),
                keys.PK: codec.s(keys.notification_pk(nid)),
                keys.SK: codec.s(keys.META_SK),
            }
        with translated_errors("list notifications"):
            response = await self._client.query(**params)
        return [codec.notification_from_item(item) for item in response.get("Items", [])]

    async def all_in_state(self, state: NotificationState) -> AsyncIterator[Notification]:
        """Every notification in a state, newest created first, a page at a time."""
        after: str | None = None
        while True:
            page = await self.page_by_state(state, after, LISTING_PAGE)
            for notification in page:
                yield notification
            if len(page) < LISTING_PAGE:
                return
            after = listing_position(page[-1])
