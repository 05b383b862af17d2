"""The operators' idempotency claims (``IDEMP#<actor>#<key>`` / ``META``): a key names the one
thing (a notification, a mission) its first use created, for 24 hours."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.errors import Conflict
from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.client import translated_errors
from core.ports import IdempotencyClaim

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient


def claim_put(table: str, claim: IdempotencyClaim, field: str, created: str) -> Any:
    """The transaction's Put of the claim (``field``: ``nid``, ``mid``), if the key is unused."""
    item = {
        keys.PK: codec.s(keys.idempotency_pk(claim.actor, claim.key)),
        keys.SK: codec.s(keys.META_SK),
        field: codec.s(created),
        "fp": codec.s(claim.fingerprint),
        "ttl": codec.n(int(claim.expires_at.timestamp())),
    }
    return {
        "Put": {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}
    }


async def claimed_by(
    client: DynamoDBClient, table: str, claim: IdempotencyClaim, field: str
) -> str | None:
    """The id (``field``: ``nid``, ``mid``) an idempotency key created, None if the key is
    unused; ``Conflict`` if it was used with another input (or for another kind of thing)."""
    with translated_errors("read an idempotency key"):
        response = await client.get_item(
            TableName=table,
            Key={
                keys.PK: codec.s(keys.idempotency_pk(claim.actor, claim.key)),
                keys.SK: codec.s(keys.META_SK),
            },
            ConsistentRead=True,
        )
    stored = response.get("Item")
    if stored is None:
        return None
    if field not in stored or stored["fp"]["S"] != claim.fingerprint:
        raise Conflict("this idempotency key was used with a different input")
    found: str = stored[field]["S"]
    return found
