"""The items of a fan-out transaction: each member's entry and marker, the partition's
checkpoint (figures and position), failure records, the delivery log and the recall guard; and
how a cancelled transaction's reasons are read back member by member."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from core.domain.audience import FailedMember
from core.domain.inbox import InboxEntry
from core.domain.notification import NotificationState
from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.client import THROTTLING_CODES

FINE = "None"
BUSY = THROTTLING_CODES | {"TransactionConflict"}


def prep_pk(notification_id: str) -> str:
    return f"PREP#{notification_id}"


class FanoutItems:
    """Builds the transaction items of one table's fan-out records (``PREP#<nid>``)."""

    def __init__(self, table: str) -> None:
        self._table = table

    def batch_items(
        self,
        notification_id: str,
        partition: str,
        pending: Sequence[str],
        last: str | None,
        failed: Sequence[FailedMember],
    ) -> list[Any]:
        """What follows the members' items: the checkpoint first (at ``2 * len(pending)``), the
        failure records and the log, and the recall guard last."""
        reached = len(pending) + len(failed)
        items: list[Any] = [
            self.count(
                notification_id,
                partition,
                targeted=reached,
                delivered=len(pending),
                failed=len(failed),
                last=last,
            )
        ]
        items += [self.failure(notification_id, f) for f in failed]
        if pending:
            items.append(self.log(notification_id, f"{partition}#{last}", pending))
        items.append(self.guard(notification_id))
        return items

    def member_items(self, members: Sequence[str], entry: InboxEntry, marker: str) -> list[Any]:
        items: list[Any] = []
        for member in members:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": codec.entry_to_item(member, entry),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            )
            items.append(self.state_update(member, "ADD unread :m", marker))
        return items

    def state_update(self, member: str, expression: str, marker: str) -> dict[str, Any]:
        """An update of a member's state item with one marker as ``:m``."""
        return {
            "Update": {
                "TableName": self._table,
                "Key": {keys.PK: codec.s(keys.user_pk(member)), keys.SK: codec.s(keys.STATE_SK)},
                "UpdateExpression": expression,
                "ExpressionAttributeValues": {":m": {"SS": [marker]}},
            }
        }

    def checkpoint_key(self, notification_id: str, partition: str) -> dict[str, Any]:
        return {
            keys.PK: codec.s(prep_pk(notification_id)),
            keys.SK: codec.s(f"P#{partition}"),
        }

    def count(
        self,
        notification_id: str,
        partition: str,
        *,
        targeted: int = 0,
        delivered: int = 0,
        failed: int = 0,
        last: str | None = None,
    ) -> dict[str, Any]:
        """Add to a checkpoint's figures; with ``last``, also move it strictly forward (a batch
        at or before it was committed already, by this run or another)."""
        values: dict[str, Any] = {
            ":t": codec.n(targeted),
            ":d": codec.n(delivered),
            ":f": codec.n(failed),
        }
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": self.checkpoint_key(notification_id, partition),
            "UpdateExpression": "ADD tgt :t, dlv :d, fl :f",
            "ExpressionAttributeValues": values,
        }
        if last is not None:
            update["UpdateExpression"] = "SET #last = :last ADD tgt :t, dlv :d, fl :f"
            update["ExpressionAttributeNames"] = {"#last": "last"}
            update["ConditionExpression"] = "attribute_not_exists(#last) OR #last < :last"
            values[":last"] = codec.s(last)
        return {"Update": update}

    def log(self, notification_id: str, name: str, members: Sequence[str]) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": {
                    keys.PK: codec.s(prep_pk(notification_id)),
                    keys.SK: codec.s(f"D#{name}"),
                    "m": {"SS": list(members)},
                },
            }
        }

    def failure_key(self, notification_id: str, member: str) -> dict[str, Any]:
        return {keys.PK: codec.s(prep_pk(notification_id)), keys.SK: codec.s(f"F#{member}")}

    def failure(self, notification_id: str, failure: FailedMember) -> dict[str, Any]:
        """A failure record, only if the member has none: a member is counted failed once."""
        return {
            "Put": {
                "TableName": self._table,
                "Item": {
                    **self.failure_key(notification_id, failure.user_id),
                    "why": codec.s(failure.reason[:500]),
                },
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }

    def guard(self, notification_id: str) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": {
                    keys.PK: codec.s(keys.notification_pk(notification_id)),
                    keys.SK: codec.s(keys.META_SK),
                },
                "ConditionExpression": "#state <> :recalled",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": {
                    ":recalled": codec.s(NotificationState.RECALLED.value)
                },
            }
        }


def reason_at(reasons: Sequence[str], index: int) -> str:
    return reasons[index] if 0 <= index < len(reasons) else FINE


def member_outcomes(
    pending: Sequence[str], reasons: Sequence[str], error: ClientError
) -> tuple[set[str], list[FailedMember]]:
    """Members who have the entry already, and members whose own items refused the write."""
    have: set[str] = set()
    refused: dict[str, FailedMember] = {}
    details = error.response.get("CancellationReasons", [])
    for index, reason in enumerate(reasons[: 2 * len(pending)]):
        member = pending[index // 2]
        if reason == "ConditionalCheckFailed" and index % 2 == 0:
            have.add(member)
        elif reason not in (FINE, "ConditionalCheckFailed") and reason not in BUSY:
            message = details[index].get("Message", "") if index < len(details) else ""
            refused.setdefault(member, FailedMember(member, f"{reason}: {message}".strip()))
    return have, list(refused.values())
