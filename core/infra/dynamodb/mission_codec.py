"""Missions and a member's mission progress, to items and back.

A mission is stored whole in ``MISSION#<mid>`` / ``META`` and, as one JSON attribute
``m:<mid>``, in every copy of the live list (every inbox read fetches one copy, so the home screen
has the running missions without another call). A member's progress item ``USER#<uid>`` /
``I~MISSIONS`` holds per mission ``p:<mid>`` (progress), ``d:<mid>`` (completed at) and
``n:<mid>`` (the notice went out), and ``seq``, moved by every change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from core.domain.audience import member_shard
from core.domain.missions import GoalKind, MemberMissions, Mission, MissionGoal, MissionProgress
from core.domain.notification_draft import LocalizedContent
from core.domain.time import iso_key, parse_iso
from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.codec import Item, s

MISSION_PREFIX = "m:"
PROGRESS, DONE, NOTICED = "p:", "d:", "n:"


def mission_to_json(mission: Mission) -> str:
    goal = mission.goal
    document: dict[str, Any] = {
        "id": mission.mission_id,
        "c": {k: [v.title, v.body] for k, v in sorted(mission.contents.items())},
        "g": [goal.kind.value, goal.target, goal.event],
        "from": iso_key(mission.starts_at),
        "to": iso_key(mission.ends_at),
        "pts": mission.reward,
        "days": mission.reward_valid_days,
        "at": iso_key(mission.created_at),
        "by": mission.created_by,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def mission_from_json(text: str) -> Mission:
    document = json.loads(text)
    kind, target, event = document["g"]
    return Mission(
        mission_id=document["id"],
        contents={k: LocalizedContent(t, b) for k, (t, b) in document["c"].items()},
        goal=MissionGoal(GoalKind(kind), int(target), event),
        starts_at=parse_iso(document["from"]),
        ends_at=parse_iso(document["to"]),
        reward=int(document["pts"]),
        reward_valid_days=int(document["days"]),
        created_at=parse_iso(document["at"]),
        created_by=document["by"],
    )


def mission_to_item(mission: Mission) -> Item:
    return {
        keys.PK: s(keys.mission_pk(mission.mission_id)),
        keys.SK: s(keys.META_SK),
        "doc": s(mission_to_json(mission)),
    }


def missions_in(item: Mapping[str, Any] | None) -> tuple[Mission, ...]:
    """The missions a live-list copy carries, soonest end first."""
    if item is None:
        return ()
    found = [
        mission_from_json(value["S"])
        for name, value in item.items()
        if name.startswith(MISSION_PREFIX)
    ]
    return tuple(sorted(found, key=lambda m: (m.ends_at, m.mission_id)))


def progress_from_item(item: Mapping[str, Any] | None) -> MemberMissions:
    if item is None:
        return MemberMissions()
    ids = {name[2:] for name in item if name[:2] in (PROGRESS, DONE, NOTICED) and len(name) > 2}
    missions = {
        mission_id: MissionProgress(
            progress=int(item.get(PROGRESS + mission_id, {"N": "0"})["N"]),
            completed_at=parse_iso(item[DONE + mission_id]["S"])
            if DONE + mission_id in item
            else None,
            noticed=NOTICED + mission_id in item,
        )
        for mission_id in ids
    }
    return MemberMissions(missions=missions, seq=int(item.get("seq", {"N": "0"})["N"]))


def progress_key(user_id: str) -> dict[str, Any]:
    return {keys.PK: codec.s(keys.user_pk(user_id)), keys.SK: codec.s(keys.MISSIONS_SK)}


def progress_update(table: str, user_id: str, adds: Mapping[str, int]) -> dict[str, Any]:
    """A transaction item adding to the member's progress in each mission, putting the member
    on the due index so the completion is settled even if the process stops now."""
    names = {f"#p{i}": PROGRESS + mission_id for i, mission_id in enumerate(adds)}
    values: dict[str, Any] = {f":p{i}": codec.n(amount) for i, amount in enumerate(adds.values())}
    values.update(
        {
            ":one": codec.n(1),
            ":due": codec.s(keys.missions_due_pk(member_shard(user_id))),
            ":uid": codec.s(user_id),
        }
    )
    adding = ", ".join(f"#p{i} :p{i}" for i in range(len(adds)))
    return {
        "Update": {
            "TableName": table,
            "Key": progress_key(user_id),
            "UpdateExpression": f"ADD {adding}, seq :one SET GSI1PK = :due, GSI1SK = :uid",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }
