"""Missions: their own items and an entry in every live-list copy (``mission_listing``), with
idempotent creates and the cap; members' progress is ``mission_progress``'s.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.domain.missions import LISTED_AFTER_END, MAX_LISTED, Mission
from core.domain.notification_draft import IdempotencyClaim
from core.errors import Conflict
from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.client import cancellation_reasons, translated_errors
from core.infra.dynamodb.idempotency import claim_put, claimed_by
from core.infra.dynamodb.live_list import copy_key
from core.infra.dynamodb.mission_codec import (
    mission_from_json,
    missions_in,
)
from core.infra.dynamodb.mission_listing import relisting
from core.infra.dynamodb.mission_progress import DynamoMissionProgress

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

MAX_EVENTS = 98  # event claims per transaction, beside the progress item
REWARD_RUN = "mission"
# A listed mission's period starts at most 366 days before its end, which is at most two days
# past (LISTED_AFTER_END): an event older than this can never count again, claimed or not.
EVENT_CLAIM_KEPT = timedelta(days=400)  # the run id a reward's claim records


class DynamoMissionStore(DynamoMissionProgress):
    """Missions and members' progress (``DynamoMissionProgress``)."""

    def __init__(self, client: DynamoDBClient, table: str, shards: int) -> None:
        super().__init__(client, table)
        self._shards = shards

    async def listed(self, user_id: str | None = None) -> tuple[Mission, ...]:
        """The running and upcoming missions: the member's live-list copy (or the first)."""
        shard = 0 if user_id is None else keys.recall_shard(user_id, self._shards)
        item, _version = await self._listing(shard)
        return missions_in(item)

    async def create(
        self, mission: Mission, now: datetime, claim: IdempotencyClaim | None = None
    ) -> Mission:
        """The mission's own item and an entry in every live-list copy, in one transaction
        (missions ended ``LISTED_AFTER_END`` ago leave the copies); ``Conflict`` when
        ``MAX_LISTED`` are listed. With a claim, the key's first mission comes back instead
        (``Conflict`` if it was used with another input)."""
        if claim is not None and (first := await self._replay(claim)) is not None:
            return first
        if await self._relist(mission, now, claim) < 0:
            first = None if claim is None else await self._replay(claim)
            if first is None:
                raise Conflict("the idempotency key is being used by a request under way; retry")
            return first
        return mission

    async def prune(self, now: datetime) -> int:
        """Take missions ended ``LISTED_AFTER_END`` ago out of every copy; how many left."""
        return await self._relist(None, now)

    async def _relist(
        self, mission: Mission | None, now: datetime, claim: IdempotencyClaim | None = None
    ) -> int:
        """How many ended missions left the copies; -1 when ``claim``'s key was taken."""
        for _ in range(10):
            item, version = await self._listing()
            listed = missions_in(item)
            ended = [m.mission_id for m in listed if m.ends_at + LISTED_AFTER_END <= now]
            if mission is None and not ended:
                return 0
            if mission is not None and len(listed) - len(ended) >= MAX_LISTED:
                raise Conflict(
                    f"at most {MAX_LISTED} missions listed at once (upcoming, running, or ended "
                    "in the last two days)"
                )
            try:
                items = relisting(self._table, self._shards, mission, ended, version)
                if claim is not None and mission is not None:
                    items.insert(1, claim_put(self._table, claim, "mid", mission.mission_id))
                with translated_errors("list the missions"):
                    await self._client.transact_write_items(TransactItems=items)
                return len(ended)
            except self._client.exceptions.TransactionCanceledException as error:
                reasons = [*cancellation_reasons(error), "", ""]
                if mission is not None and reasons[0] == "ConditionalCheckFailed":
                    raise Conflict("a mission with this id exists") from error
                if claim is not None and reasons[1] == "ConditionalCheckFailed":
                    return -1
                if "ConditionalCheckFailed" not in reasons:
                    raise
        raise Conflict("missions kept changing meanwhile; try again")

    async def _replay(self, claim: IdempotencyClaim) -> Mission | None:
        """The mission an idempotency key created, None if the key is unused."""
        stored = await claimed_by(self._client, self._table, claim, "mid")
        if stored is None:
            return None
        first = await self.get(stored)
        if first is None:
            raise Conflict("the idempotency key's mission is gone")
        return first

    async def get(self, mission_id: str) -> Mission | None:
        with translated_errors("read the mission"):
            response = await self._client.get_item(
                TableName=self._table,
                Key={keys.PK: codec.s(keys.mission_pk(mission_id)), keys.SK: codec.s(keys.META_SK)},
            )
        item = response.get("Item")
        return None if item is None else mission_from_json(item["doc"]["S"])

    async def _listing(self, shard: int = 0) -> tuple[dict[str, Any] | None, int]:
        with translated_errors("read the missions"):
            response = await self._client.get_item(
                TableName=self._table, Key=copy_key(shard), ConsistentRead=True
            )
        item = response.get("Item")
        return item, int(item["mv"]["N"]) if item and "mv" in item else 0
