"""A member's partition: inbox entries, read state, point-club read model and ledger."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.domain.inbox import InboxEntry, InboxState
from core.domain.missions import MemberMissions
from core.domain.pointclub import ClubRecord
from core.domain.time import iso_key
from core.infra.dynamodb import club_codec, codec, keys
from core.infra.dynamodb.batch import batch_get
from core.infra.dynamodb.client import cancellation_reasons, translated_errors
from core.infra.dynamodb.mission_codec import progress_from_item
from core.infra.dynamodb.read_state import ReadStateWriter
from core.ports import EntryRef, InboxScan, InboxScanRequest, LedgerPage, ReadChange

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

STATUS_ITEMS = 3  # I~STATE, I~MISSIONS and I~CLUB


class DynamoMemberStore:
    """Reads and writes of ``USER#<uid>``; every read is strongly consistent (read-your-writes)."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table
        self._read_state = ReadStateWriter(client, table)

    async def inbox_state(self, user_id: str) -> InboxState:
        return (await self.statuses([user_id]))[user_id][0]

    async def club(self, user_id: str) -> ClubRecord | None:
        return (await self.statuses([user_id]))[user_id][1]

    async def missions(self, user_id: str) -> MemberMissions:
        return (await self.statuses([user_id]))[user_id][2]

    async def statuses(
        self, user_ids: Sequence[str]
    ) -> dict[str, tuple[InboxState, ClubRecord | None, MemberMissions]]:
        """State, club and mission progress of several members in one BatchGetItem (three
        keys each)."""
        wanted = [
            {keys.PK: codec.s(keys.user_pk(uid)), keys.SK: codec.s(sk)}
            for uid in user_ids
            for sk in (keys.STATE_SK, keys.CLUB_SK, keys.MISSIONS_SK)
        ]
        found: dict[tuple[str, str], dict[str, Any]] = {
            (item[keys.PK]["S"], item[keys.SK]["S"]): item
            for item in await batch_get(self._client, self._table, wanted)
        }
        return {
            uid: (
                codec.state_from_item(found.get((keys.user_pk(uid), keys.STATE_SK))),
                club_codec.club_from_item(found.get((keys.user_pk(uid), keys.CLUB_SK))),
                progress_from_item(found.get((keys.user_pk(uid), keys.MISSIONS_SK))),
            )
            for uid in user_ids
        }

    async def scan_inbox(self, user_id: str, request: InboxScanRequest) -> InboxScan:
        """One Query, newest first; hidden entries are filtered by the engine.

        With ``with_status`` the range starts above the newest entry, so the state, mission
        progress and club items come first in the same response.
        """
        with_status = request.with_status and request.after is None
        values: dict[str, Any] = {
            ":lo": codec.s(keys.ENTRY_PREFIX),
            ":hi": codec.s(keys.STATUS_UPPER if with_status else keys.ENTRY_UPPER),
            ":now": codec.s(iso_key(request.now)),
        }
        visible = ["vf <= :now", "(attribute_not_exists(exp) OR exp > :now)"]
        if not request.include_archived:
            visible.append("attribute_not_exists(aAt)")
        if request.categories is not None:
            names = []
            for index, category in enumerate(sorted(request.categories)):
                values[f":c{index}"] = codec.s(category)
                names.append(f":c{index}")
            visible.append(f"cat IN ({', '.join(names)})")
        condition = " AND ".join(visible)
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :lo AND :hi",
            "FilterExpression": f"attribute_not_exists(nid) OR ({condition})"
            if with_status
            else condition,
            "ExpressionAttributeValues": {":pk": codec.s(keys.user_pk(user_id)), **values},
            "ScanIndexForward": False,
            "ConsistentRead": True,
            "Limit": request.limit + (STATUS_ITEMS if with_status else 0),
        }
        if request.after is not None:
            params["ExclusiveStartKey"] = {
                keys.PK: codec.s(keys.user_pk(user_id)),
                keys.SK: codec.s(keys.ENTRY_PREFIX + request.after),
            }
        with translated_errors("read the inbox"):
            response = await self._client.query(**params)
        entries: list[InboxEntry] = []
        state_item = club_item = missions_item = None
        for item in response.get("Items", []):
            sort_key = item[keys.SK]["S"]
            if sort_key == keys.STATE_SK:
                state_item = item
            elif sort_key == keys.CLUB_SK:
                club_item = item
            elif sort_key == keys.MISSIONS_SK:
                missions_item = item
            else:
                entries.append(codec.entry_from_item(item))
        last = response.get("LastEvaluatedKey")
        return InboxScan(
            entries=entries,
            resume_after=None if last is None else _position(last[keys.SK]["S"]),
            state=codec.state_from_item(state_item) if with_status else None,
            club=club_codec.club_from_item(club_item) if with_status else None,
            missions=progress_from_item(missions_item) if with_status else None,
        )

    async def inbox_entry(
        self, user_id: str, notification_id: str, visible_from: datetime
    ) -> InboxEntry | None:
        with translated_errors("read an inbox entry"):
            response = await self._client.get_item(
                TableName=self._table,
                Key={
                    keys.PK: codec.s(keys.user_pk(user_id)),
                    keys.SK: codec.s(keys.entry_sk(visible_from, notification_id)),
                },
                ConsistentRead=True,
            )
        item = response.get("Item")
        return None if item is None else codec.entry_from_item(item)

    async def inbox_entries(
        self, user_id: str, refs: Sequence[EntryRef]
    ) -> Mapping[str, InboxEntry]:
        wanted = [
            {
                keys.PK: codec.s(keys.user_pk(user_id)),
                keys.SK: codec.s(keys.entry_sk(ref.visible_from, ref.notification_id)),
            }
            for ref in refs
        ]
        entries = (
            codec.entry_from_item(item)
            for item in await batch_get(self._client, self._table, wanted)
        )
        return {entry.notification_id: entry for entry in entries}

    async def ledger_page(self, user_id: str, after: str | None, limit: int) -> LedgerPage:
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":pk": codec.s(keys.user_pk(user_id)),
                ":lo": codec.s(keys.LEDGER_PREFIX),
                ":hi": codec.s(keys.LEDGER_UPPER),
            },
            "ScanIndexForward": False,
            "ConsistentRead": True,
            "Limit": limit,
        }
        if after is not None:
            params["ExclusiveStartKey"] = {
                keys.PK: codec.s(keys.user_pk(user_id)),
                keys.SK: codec.s(keys.LEDGER_PREFIX + after),
            }
        with translated_errors("read the point ledger"):
            response = await self._client.query(**params)
        last = response.get("LastEvaluatedKey")
        return LedgerPage(
            entries=[club_codec.ledger_from_item(item) for item in response.get("Items", [])],
            resume_after=None
            if last is None
            else last[keys.SK]["S"].removeprefix(keys.LEDGER_PREFIX),
        )

    # Writes -----------------------------------------------------------------------------------

    async def deliver(self, user_id: str, entry: InboxEntry) -> bool:
        """Entry and unread marker in one transaction; an existing entry is left untouched."""
        marker = keys.encode_marker(entry.marker())
        try:
            with translated_errors("deliver a notification"):
                await self._client.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": codec.entry_to_item(user_id, entry),
                                "ConditionExpression": "attribute_not_exists(PK)",
                            }
                        },
                        {
                            "Update": {
                                "TableName": self._table,
                                "Key": {
                                    keys.PK: codec.s(keys.user_pk(user_id)),
                                    keys.SK: codec.s(keys.STATE_SK),
                                },
                                "UpdateExpression": "ADD unread :m",
                                "ExpressionAttributeValues": {":m": {"SS": [marker]}},
                            }
                        },
                    ]
                )
        except self._client.exceptions.TransactionCanceledException as error:
            if cancellation_reasons(error)[:1] == ["ConditionalCheckFailed"]:
                return False
            raise
        return True

    async def apply(self, user_id: str, change: ReadChange, at: datetime) -> None:
        await self._read_state.apply(user_id, change, at)


def _position(sort_key: str) -> str | None:
    """The inbox position of a sort key; None for the status items above the entries."""
    return (
        sort_key.removeprefix(keys.ENTRY_PREFIX) if sort_key.startswith(keys.ENTRY_PREFIX) else None
    )
