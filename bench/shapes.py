"""Why fan-out cannot reach raw BatchWriteItem on DynamoDB Local: the engine's rate for each write
shape delivery could use, at several requests in flight, with the engine's own CPU use.

Every shape writes the items of 20,000 members into a fresh table after a warm-up. A shape that
never overwrites needs a condition, and a condition needs either TransactWriteItems or one call
per item; BatchWriteItem takes neither. The `engine cores` column is the Java process's CPU time
over the wall time: a figure stuck at 1.0 however many requests are in flight means the engine
runs those requests one at a time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.harness import container_on, machine, start
from core.domain.inbox import InboxEntry
from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.batch import batch_write, chunks
from core.infra.dynamodb.table import create_table
from tests.builders import dynamo
from tests.engines import Engine

MEMBERS = 20_000
WARM_UP = 5_000

Write = Callable[[Any, str, Sequence[str]], Awaitable[None]]


@dataclass(frozen=True)
class Shape:
    name: str
    members_per_request: int
    write: Write


@dataclass(frozen=True)
class Result:
    shape: str
    in_flight: int
    members_per_second: float
    engine_cores: float


_NOW = datetime.now(UTC)
_ENTRY = InboxEntry("shape", _NOW, "campaign", _NOW + timedelta(days=30), _NOW)
_MARKER = {"SS": [keys.encode_marker(_ENTRY.marker())]}


def _state_key(member: str) -> dict[str, Any]:
    return {keys.PK: codec.s(keys.user_pk(member)), keys.SK: codec.s(keys.STATE_SK)}


def _conditional_put(table: str, member: str) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table,
            "Item": codec.entry_to_item(member, _ENTRY),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }


def _marker_add(table: str, member: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table,
            "Key": _state_key(member),
            "UpdateExpression": "ADD unread :m",
            "ExpressionAttributeValues": {":m": _MARKER},
        }
    }


async def _batch_entries_and_states(client: Any, table: str, members: Sequence[str]) -> None:
    items: list[dict[str, Any]] = []
    for member in members:
        items.append({"PutRequest": {"Item": codec.entry_to_item(member, _ENTRY)}})
        items.append({"PutRequest": {"Item": {**_state_key(member), "unread": _MARKER}}})
    await batch_write(client, table, items)


async def _batch_entries(client: Any, table: str, members: Sequence[str]) -> None:
    items = [{"PutRequest": {"Item": codec.entry_to_item(m, _ENTRY)}} for m in members]
    await batch_write(client, table, items)


async def _transact_puts(client: Any, table: str, members: Sequence[str]) -> None:
    items = [_conditional_put(table, m) for m in members]
    await client.transact_write_items(TransactItems=items)


async def _transact_delivery(client: Any, table: str, members: Sequence[str]) -> None:
    items = [op(table, m) for m in members for op in (_conditional_put, _marker_add)]
    await client.transact_write_items(TransactItems=items)


async def _one_call_each(client: Any, table: str, members: Sequence[str]) -> None:
    for member in members:
        await client.put_item(**_conditional_put(table, member)["Put"])
        await client.update_item(**_marker_add(table, member)["Update"])


SHAPES = (
    Shape("BatchWriteItem: entry + state item (overwrites)", 12, _batch_entries_and_states),
    Shape("BatchWriteItem: entry only (overwrites)", 25, _batch_entries),
    Shape("TransactWriteItems: conditional entry puts", 100, _transact_puts),
    Shape("TransactWriteItems: conditional entry put + marker ADD", 50, _transact_delivery),
    Shape("PutItem + UpdateItem, one call each", 1, _one_call_each),
)


BATCH_ENTRIES_AND_STATES, _, _, TRANSACT_DELIVERY, _ = SHAPES


async def write_all(
    client: Any, table: str, shape: Shape, members: Sequence[str], in_flight: int
) -> float:
    """Seconds to write ``members`` the way ``shape`` does into a new ``table``."""
    await create_table(client, table)
    limit = asyncio.Semaphore(in_flight)

    async def one(group: Sequence[str]) -> None:
        async with limit:
            await shape.write(client, table, group)

    began = time.perf_counter()
    await asyncio.gather(
        *(one(list(group)) for group in chunks(members, shape.members_per_request))
    )
    return time.perf_counter() - began


async def main(*, engine: str) -> None:
    started = start(engine)
    try:
        results = await measure(started)
    finally:
        started.stop()
    print(f"\n### Write shapes ({started.name}, {MEMBERS:,} members each)\n")
    print(f"Machine: {machine()}. Command: `uv run python -m bench shapes`.\n")
    print("| shape | in flight | members/s | engine cores |")
    print("|---|---|---|---|")
    for result in results:
        cores = "n/a" if result.engine_cores < 0 else f"{result.engine_cores:.2f}"
        print(
            f"| {result.shape} | {result.in_flight} | {result.members_per_second:,.0f} | {cores} |"
        )


async def measure(engine: Engine) -> list[Result]:
    results: list[Result] = []
    async with container_on(engine) as container:
        client = dynamo(container)
        table_number = 0

        async def run(shape: Shape, in_flight: int, count: int) -> Result:
            nonlocal table_number
            table_number += 1
            table = f"{container.settings.table_name}-shape{table_number}"
            members = [f"member-{index:07d}" for index in range(count)]
            cpu_before = engine.cpu_seconds()
            seconds = await write_all(client, table, shape, members, in_flight)
            cpu_after = engine.cpu_seconds()
            cores = -1.0 if cpu_before is None or cpu_after is None else cpu_after - cpu_before
            return Result(shape.name, in_flight, count / seconds, cores / seconds)

        for shape in SHAPES:  # the engine's JIT warms up on every path first
            await run(shape, 16, WARM_UP)
        for shape in SHAPES:
            for in_flight in (1, 4, 16, 64) if shape.members_per_request == 1 else (1, 4, 16):
                results.append(await run(shape, in_flight, MEMBERS))
    return results
