"""The transaction that changes the missions every live-list copy carries: one mission in,
ended ones out, in all K copies at once, guarded by copy 0's missions version ``mv`` (so two
creates cannot both pass the cap)."""

from __future__ import annotations

from typing import Any

from core.domain.missions import Mission
from core.infra.dynamodb import codec
from core.infra.dynamodb.live_list import copy_key
from core.infra.dynamodb.mission_codec import MISSION_PREFIX, mission_to_item, mission_to_json


def relisting(
    table: str, shards: int, mission: Mission | None, ended: list[str], version: int
) -> list[Any]:
    """Put ``mission`` (if any) and take ``ended`` out of every copy, if copy 0's missions
    are still at ``version``."""
    names = {f"#e{i}": MISSION_PREFIX + mid for i, mid in enumerate(ended)}
    values: dict[str, Any] = {":next": codec.n(version + 1)}
    expression = "SET mv = :next"
    items: list[Any] = []
    if mission is not None:
        names["#m"] = MISSION_PREFIX + mission.mission_id
        values[":m"] = codec.s(mission_to_json(mission))
        expression += ", #m = :m"
        put = {"TableName": table, "Item": mission_to_item(mission)}
        items.append({"Put": {**put, "ConditionExpression": "attribute_not_exists(PK)"}})
    if ended:
        expression += " REMOVE " + ", ".join(f"#e{i}" for i in range(len(ended)))
    for shard in range(shards):
        update: dict[str, Any] = {
            "TableName": table,
            "Key": copy_key(shard),
            "UpdateExpression": expression,
            "ExpressionAttributeValues": dict(values),
        }
        if names:
            update["ExpressionAttributeNames"] = names
        if shard == 0:  # the listing read: unchanged, or another change went first
            update["ConditionExpression"] = (
                "attribute_not_exists(mv) OR mv = :v" if version == 0 else "mv = :v"
            )
            update["ExpressionAttributeValues"][":v"] = codec.n(version)
        items.append({"Update": update})
    return items
