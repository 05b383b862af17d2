"""What one request builds: every object constructed while the server answers a request, by
class, against the list of what that request uses. A new per-request object (an extension made
anew, a rule class rebuilt so the validation cache never hits, an admin object on a member's
request) fails here until it is looked at and listed."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from types import FrameType
from typing import Any

from core.bootstrap import Container
from core.domain.pointclub import ClubRecord
from core.settings import Settings
from tests.builders import notification, publish
from tests.e2e.gql import HOME, app_client, gql
from tests.fakes import FakeClock, World, fake_container

WRAPPED = "functools.update_wrapper"
WATCHED = ("core.", "resolvers.", "schema.", "graphql.validation", "strawberry.extensions")


async def constructed(call: Callable[[], Awaitable[Any]]) -> Counter[str]:
    """The classes of the watched packages whose ``__init__`` ran during ``call``, and how many
    functions were wrapped (``functools.update_wrapper``, counted as ``WRAPPED``)."""
    seen: Counter[str] = Counter()

    def profile(frame: FrameType, event: str, _: Any) -> None:
        if event != "call":
            return
        if frame.f_code.co_name == "update_wrapper":
            seen[WRAPPED] += 1
        if frame.f_code.co_name != "__init__":
            return
        owner = frame.f_locals.get("self")
        if owner is None:
            return
        kind = type(owner)
        name = f"{kind.__module__}.{kind.__qualname__}"
        if name.startswith(WATCHED):
            seen[name] += 1

    sys.setprofile(profile)
    try:
        await call()
    finally:
        sys.setprofile(None)
    return seen


# What the home screen (tests/e2e/gql.py HOME, 5 entries) builds on a warm server, by class and
# number of ``__init__`` frames (a subclass's chain counts once per class in it). One Visibility per
# read model asking (the page and the count), the loaders and their keys, the views per item
# (each an edge's node as it is), the extensions Strawberry makes per operation and one phase
# of their hooks for each step (resolvers/hooks.py). No
# Principal: the token was verified by the warm-up request, and the verifier remembers it
# (core/auth.py).
HOME_OBJECTS = {
    "core.domain.broadcast.LiveList": 1,
    "core.domain.broadcast.Visibility": 2,
    "core.domain.inbox.InboxState": 1,
    "core.domain.missions.MemberMissions": 1,  # the progress item (none: an empty one)
    "core.domain.club_status.ClubStatus": 1,
    "core.domain.club_status.RankOutlook": 1,
    "core.domain.wallet.WalletView": 1,
    "core.domain.reads.InboxScan": 1,
    "core.domain.reads.InboxScanRequest": 1,
    "core.queries.inbox.InboxFilterSpec": 2,
    "core.queries.inbox.InboxQueries": 1,
    "core.queries.pointclub.PointClubQueries": 1,
    "core.queries.views.InboxItemView": 5,
    "core.queries.views.InboxPageView": 1,
    "core.queries.views.MissionPageView": 1,  # no mission in the fake's live list
    "core.queries.views.PointClubView": 1,
    "core.queries.views.RankOutlookView": 1,
    "core.queries.views.PointBalanceView": 1,
    # The status is the GraphQL type itself; only what is asked for is built: rank and the
    # outlook's projectedRank (HOME does not ask for nextRank), no Strawberry copies of them.
    "core.queries.views.RankView": 2,
    "core.request_scope.RequestScope": 1,
    "resolvers.context.Context": 1,
    "resolvers.cost.CostLimit": 1,
    "resolvers.cost.Tally": 1,  # the limits; the warm document's tally is kept (no walk)
    "resolvers.dataloaders.DataLoaders": 1,
    "resolvers.dataloaders.LiveListLoader": 1,
    "resolvers.loader.Loader": 3,
    "resolvers.dataloaders.MemberLoader": 1,
    "resolvers.dataloaders.NotificationLoader": 1,
    "resolvers.dataloaders._ScanKey": 1,
    "resolvers.dataloaders._StatusKey": 4,  # one per status read (the missions ask one more)
    "resolvers.errors.ErrorCodes": 2,
    "resolvers.hooks.HooksRunner": 1,
    "resolvers.hooks.Phase": 4,  # operation, parse, validate, execute
    "resolvers.limits.DirectiveLimit": 1,
    # One execution context per operation: four ``__init__`` frames (its own, Strawberry's and
    # graphql-core's two executors).
    "resolvers.plain_fields.PlainFieldsExecutor": 4,
    "resolvers.tracing.TraceTags": 1,
    "resolvers.trusted.TrustedDocumentsExtension": 1,
    "resolvers.viewer.Viewer": 1,
    "schema.public.InboxConnection": 1,
    "schema.public._Edge": 5,  # over its item's view: no InboxItem copied from it
    "schema.public.PageInfo": 2,
    "schema.missions.MissionConnection": 1,
    "strawberry.extensions.add_validation_rules.AddValidationRules": 1,
    "strawberry.extensions.max_tokens.MaxTokensLimiter": 1,
    "strawberry.extensions.parser_cache.ParserCache": 2,
    "resolvers.by_identity.ValidationByDocument": 1,
}
READ = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { unreadCount } }"
ADMIN_ONLY = (
    "core.queries.admin.",
    "core.usecases.authoring.",
    "core.usecases.segments.",
    "core.usecases.publish_broadcast.",
)


async def test_a_request_builds_only_what_it_uses(clock: FakeClock) -> None:
    world = World()
    world.clubs["alice"] = ClubRecord.joined("GOLD", clock.now() - timedelta(days=1))
    c: Container = fake_container(Settings(table_name="in-memory"), clock=clock, world=world)
    for n in range(5):
        item = notification(f"n{n}", visible_from=clock.now() - timedelta(minutes=n + 1))
        await publish(c.notifications, c.members, item, ["alice"], clock.now())
    token = c.issuer.issue("alice")
    async with app_client(c.settings, c) as api:
        for query, variables in ((HOME, {"first": 20}), (READ, {"ids": ["n0"]})):
            await gql(api, query, variables, token=token)  # warm: parsed and validated once
        home = await constructed(lambda: gql(api, HOME, {"first": 20}, token=token))
        read = await constructed(lambda: gql(api, READ, {"ids": ["n1"]}, token=token))
    # No function is wrapped anew either: Strawberry's runner wrapped every hook of every
    # extension in a new context manager per request (resolvers/hooks.py).
    assert dict(home) == HOME_OBJECTS
    # A warm document is neither parsed nor validated again: no rule is built (a rule class
    # made anew per request once kept the validation cache from ever hitting).
    assert not [name for name in read if name.startswith("graphql.validation")]
    assert not [name for name in read if name.startswith(ADMIN_ONLY)], read
    assert read["core.usecases.read_state.ReadStateCommands"] == 1
