"""The plain-fields executor answers exactly what graphql-core answers, data and errors, and
takes the plan only where the fields are plain."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from graphql import GraphQLBoolean, GraphQLID, GraphQLScalarType, GraphQLString
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from resolvers import plain_completers, plain_fields
from resolvers.plain_fields import PlainFieldsExecutor


@strawberry.enum
class Tone(enum.Enum):
    LOUD = "loud"
    QUIET = "quiet"


@strawberry.type
class Leaf:
    id: strawberry.ID
    title: str
    tone: Tone
    at: datetime
    note: str | None
    score: float
    urgent: bool = False
    labels: list[str] | None = None


@strawberry.type
class Edge:
    cursor: str
    node: Leaf


@strawberry.type
class Page:
    edges: list[Edge]
    total: int
    tags: list[str] | None

    @strawberry.field
    def shout(self, times: int = 1) -> str:
        return "!" * times


def leaf(index: int, **changes: Any) -> Leaf:
    values: dict[str, Any] = {
        "id": strawberry.ID(f"n{index}"),
        "title": f"Title {index}",
        "tone": Tone.LOUD if index % 2 else Tone.QUIET,
        "at": datetime(2026, 12, 5, 12, index, tzinfo=UTC),
        "note": None if index % 3 else "note",
        "score": index / 4,
    }
    values.update(changes)
    return Leaf(**values)


PAGES: dict[str, Page] = {}


@strawberry.type
class Query:
    @strawberry.field
    def page(self, name: str) -> Page | None:
        return PAGES.get(name)


def schema(executor: type) -> strawberry.Schema:
    return strawberry.Schema(query=Query, execution_context_class=executor)


PLAIN = schema(PlainFieldsExecutor)
STANDARD = schema(StrawberryGraphQLCoreExecutionContext)

DOCUMENT = """
query Q($name: String!, $withNote: Boolean!) {
  page(name: $name) {
    __typename
    total
    tags
    n: total
    edges { cursor node { ...Item note @include(if: $withNote) } node { title } }
    shout(times: 2)
  }
}
fragment Item on Leaf { id title tone at score urgent labels __typename }
"""


async def both(name: str, with_note: bool = True) -> tuple[Any, Any]:
    variables = {"name": name, "withNote": with_note}
    answers = []
    for built in (PLAIN, STANDARD):
        result = await built.execute(DOCUMENT, variable_values=variables)
        errors = [(e.message, e.path) for e in result.errors or []]
        answers.append((result.data, errors))
    return answers[0], answers[1]


@pytest.fixture(autouse=True)
def no_shared_plans() -> None:
    """Each test starts without the plans earlier documents left behind."""
    PlainFieldsExecutor._shared.clear()
    PlainFieldsExecutor._static.clear()


@pytest.fixture
def planned(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The types the plain path completed (a plan that was followed to its end)."""
    completed: list[str] = []
    make = PlainFieldsExecutor._make_plan

    def spy(self: PlainFieldsExecutor, parent_type: Any, grouped: Any) -> Any:
        plan = make(self, parent_type, grouped)
        if plan is None:
            return None

        def counted(source: Any) -> Any:
            result = plan(source)
            completed.append(parent_type.name)
            return result

        return counted

    monkeypatch.setattr(PlainFieldsExecutor, "_make_plan", spy)
    return completed


async def test_plain_objects_are_completed_by_plan_and_agree(planned: list[str]) -> None:
    edges = [Edge(cursor=f"c{i}", node=leaf(i, labels=["a", "b"][: i % 3])) for i in range(5)]
    PAGES["ok"] = Page(edges=edges, total=5, tags=None)
    plain, standard = await both("ok")
    assert plain == standard
    assert plain[0]["page"]["edges"][1]["node"]["tone"] == "LOUD"
    assert plain[0]["page"]["edges"][1]["node"]["at"] == "2026-12-05T12:01:00+00:00"
    # Page has a field with arguments: the standard path; its edges and items: plans.
    assert "Page" not in planned
    assert planned.count("Edge") == 5 and planned.count("Leaf") == 5
    assert (await both("ok", with_note=False))[0] == (await both("ok", with_note=False))[1]


@pytest.mark.parametrize(
    "broken",
    [
        {"title": None},  # null where the schema says non-null
        {"tone": "not a tone"},  # a value the enum refuses
        {"score": "many"},  # a value the scalar refuses
        {"at": "yesterday"},  # not a datetime
        {"urgent": "yes"},  # text where the schema says Boolean
        {"id": 7.5},  # a float where the schema says ID
    ],
)
async def test_a_bad_value_gets_graphql_cores_own_error_and_path(broken: dict[str, Any]) -> None:
    PAGES["bad"] = Page(
        edges=[Edge(cursor="c0", node=leaf(0)), Edge(cursor="c1", node=leaf(1, **broken))],
        total=2,
        tags=["a"],
    )
    plain, standard = await both("bad")
    assert plain == standard
    assert plain[1] and plain[1][0][1][:3] == ["page", "edges", 1]


class Text(str):
    """A subclass of str: not exactly the built-in scalar's type."""


@pytest.mark.parametrize(
    "odd",
    [
        {"title": 5},  # String from an int: "5"
        {"title": True},  # String from a bool: "true"
        {"title": Text("subclassed")},
        {"id": 7},  # ID from an int: "7"
        {"urgent": 1},  # Boolean from an int
        {"labels": ["a", 2, Text("c")]},
    ],
)
async def test_values_not_exactly_the_scalars_type_are_coerced_as_graphql_core_does(
    odd: dict[str, Any], planned: list[str]
) -> None:
    PAGES["odd"] = Page(edges=[Edge(cursor="c0", node=leaf(0, **odd))], total=1, tags=["t"])
    plain, standard = await both("odd")
    assert plain == standard
    assert "Leaf" in planned  # the plan coerced it: no error made it give the object up


async def test_text_ids_and_flags_of_their_own_type_skip_the_scalars_coercion(
    monkeypatch: pytest.MonkeyPatch, planned: list[str]
) -> None:
    """Through the executor: String, ID and Boolean values that are exactly str or bool are
    their own output; the built-in scalars' coercion is called for none of them."""
    called: list[Any] = []
    for scalar in (GraphQLString, GraphQLID, GraphQLBoolean):
        monkeypatch.setattr(scalar, "coerce_output_value", _spy(scalar, called))
    edges = [Edge(cursor=f"c{i}", node=leaf(i, labels=["a"], urgent=True)) for i in range(3)]
    PAGES["own"] = Page(edges=edges, total=3, tags=["t"])
    result = await PLAIN.execute(DOCUMENT, variable_values={"name": "own", "withNote": True})
    assert result.errors is None and "Leaf" in planned
    assert result.data is not None and result.data["page"]["edges"][2]["node"]["urgent"] is True
    # Only Page's own fields, which graphql-core completes (one of them takes arguments).
    assert sorted(map(str, called)) == ["!!", "Page", "t"]
    called.clear()
    PAGES["own"] = Page(edges=[Edge(cursor="c", node=leaf(0, title=5))], total=1, tags=None)
    result = await PLAIN.execute(DOCUMENT, variable_values={"name": "own", "withNote": True})
    assert result.data is not None and result.data["page"]["edges"][0]["node"]["title"] == "5"
    assert 5 in called  # a value of another type is coerced by the scalar, as graphql-core does


def _spy(scalar: GraphQLScalarType, called: list[Any]) -> Any:
    serialize = scalar.coerce_output_value

    def coerce(value: Any) -> Any:
        called.append(value)
        return serialize(value)

    return coerce


def test_a_leaf_completer_refuses_a_null_where_the_schema_says_non_null() -> None:
    for scalar in (GraphQLString, GraphQLID, GraphQLBoolean):
        with pytest.raises(plain_completers.NotPlain):
            plain_completers.leaf(scalar, required=True)(None)
        assert plain_completers.leaf(scalar, required=False)(None) is None


async def test_not_a_list_and_a_missing_page_agree() -> None:
    odd = leaf(1, labels="abc")  # text is iterable, but not a list to GraphQL
    PAGES["odd"] = Page(edges=[Edge(cursor="c", node=odd)], total=0, tags="abc")  # type: ignore[arg-type]
    for name in ("odd", "missing"):
        plain, standard = await both(name)
        assert plain == standard


def made_plans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The types a plan was made for, from here on."""
    made: list[str] = []
    make = PlainFieldsExecutor._make_plan

    def spy(self: PlainFieldsExecutor, parent_type: Any, grouped: Any) -> Any:
        made.append(parent_type.name)
        return make(self, parent_type, grouped)

    monkeypatch.setattr(PlainFieldsExecutor, "_make_plan", spy)
    return made


async def test_field_middleware_turns_plans_off(monkeypatch: pytest.MonkeyPatch) -> None:
    class Upper(strawberry.extensions.SchemaExtension):
        def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
            value = _next(root, info, *args, **kwargs)
            return value.upper() if isinstance(value, str) else value

    made = made_plans(monkeypatch)
    PAGES["ok"] = Page(edges=[Edge(cursor="c", node=leaf(1))], total=1, tags=None)
    built = strawberry.Schema(
        query=Query, extensions=[Upper], execution_context_class=PlainFieldsExecutor
    )
    result = await built.execute(DOCUMENT, variable_values={"name": "ok", "withNote": True})
    assert result.data is not None and result.data["page"]["edges"][0]["node"]["title"] == "TITLE 1"
    assert not made


CACHED = strawberry.Schema(
    query=Query,
    extensions=[lambda: strawberry.extensions.ParserCache(maxsize=8)],
    execution_context_class=PlainFieldsExecutor,
)


async def test_a_document_without_directives_shares_its_plans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = made_plans(monkeypatch)
    edges = [Edge(cursor=f"c{i}", node=leaf(i)) for i in range(3)]
    PAGES["ok"] = Page(edges=edges, total=3, tags=[])
    document = "query($name: String!) { page(name: $name) { edges { cursor node { id title } } } }"
    standard = await STANDARD.execute(document, variable_values={"name": "ok"})
    first = await CACHED.execute(document, variable_values={"name": "ok"})
    assert made and first.data == standard.data and not first.errors
    made.clear()
    PAGES["other"] = Page(edges=[Edge(cursor="x", node=leaf(9))], total=1, tags=None)
    again = await CACHED.execute(document, variable_values={"name": "other"})
    assert not made  # the same parsed document: the first operation's plans
    standard = await STANDARD.execute(document, variable_values={"name": "other"})
    assert again.data == standard.data and again.data is not None


async def test_a_document_with_directives_plans_per_operation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = made_plans(monkeypatch)
    PAGES["ok"] = Page(edges=[Edge(cursor="c", node=leaf(3))], total=1, tags=None)
    for with_note in (True, False, True):
        made.clear()
        variables = {"name": "ok", "withNote": with_note}
        result = await CACHED.execute(DOCUMENT, variable_values=variables)
        standard = await STANDARD.execute(DOCUMENT, variable_values=variables)
        assert made  # @include(if: $withNote) steers collection: no plan is kept across
        assert result.data == standard.data
        assert ("note" in result.data["page"]["edges"][0]["node"]) is with_note  # type: ignore[index]


def test_the_public_schemas_use_it() -> None:
    from resolvers.schemas import admin_schema, public_schema

    assert public_schema().execution_context_class is PlainFieldsExecutor
    assert admin_schema().execution_context_class is PlainFieldsExecutor
    assert plain_fields.STRAWBERRY_FIELD == "strawberry-definition"


class _Tracker:
    """Stands in for the executor: records what ``track`` hands it."""

    def __init__(self) -> None:
        self.tracked: list[Any] = []

    def track_async_work(self, values: Any) -> None:
        self.tracked.extend(values)


async def test_the_resolver_helpers_keep_no_executor_alive_and_still_settle_work() -> None:
    import asyncio
    import gc
    import weakref

    executor = _Tracker()
    helpers = plain_fields._weak_helpers(executor)  # type: ignore[arg-type]
    helpers.track([1, "plain"])
    assert executor.tracked == [1, "plain"]
    assert await helpers.gather([asyncio.sleep(0, "a"), asyncio.sleep(0, "b")]) == ["a", "b"]

    gone = weakref.ref(executor)
    del executor
    gc.collect()
    assert gone() is None  # the helpers did not hold it

    ran: list[str] = []

    async def late() -> None:
        ran.append("settled")
        raise ValueError("observed, not lost")

    helpers.track([late(), 2])  # after the executor: settled all the same
    for _ in range(3):
        await asyncio.sleep(0)
    assert ran == ["settled"]
    assert not plain_fields._SETTLING  # and not held once settled
