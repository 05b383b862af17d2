"""One suite, two backends: every contract test runs on the in-memory fakes and on the DynamoDB
adapters (DynamoDB Local, or moto's server where Java is missing), through the same ``Container``
ports. The in-memory half needs no engine; the DynamoDB half is marked ``integration``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from core.bootstrap import Container
from core.infra.dynamodb import codec, keys
from tests.builders import dynamo, fill_state_item
from tests.fakes import FakeClock, World, fake_container


@dataclass
class Backend:
    name: str
    container: Container
    # Make a member's data refuse any further write (an item at its size limit), and heal it.
    refuse: Callable[[str], Awaitable[None]]
    heal: Callable[[str], Awaitable[None]]


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("dynamodb", id="dynamodb", marks=pytest.mark.integration),
    ]
)
def backend(request: pytest.FixtureRequest, clock: FakeClock) -> Backend:
    if request.param == "memory":
        world = World()
        container = fake_container(clock=clock, world=world)

        async def refuse(member: str) -> None:
            world.refusing.add(member)

        async def heal(member: str) -> None:
            world.refusing.discard(member)
            world.states.pop(member, None)

        return Backend("memory", container, refuse, heal)
    container = request.getfixturevalue("container")

    async def fill(member: str) -> None:
        await fill_state_item(container, member)

    async def empty(member: str) -> None:
        await dynamo(container).delete_item(
            TableName=container.settings.table_name,
            Key={keys.PK: codec.s(keys.user_pk(member)), keys.SK: codec.s(keys.STATE_SK)},
        )

    return Backend("dynamodb", container, fill, empty)
