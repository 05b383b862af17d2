"""Plain data completed in one pass: the GraphQL tax of an inbox page, without its per-field cost.

graphql-core executes every field the same way: a resolve-info object, argument coercion, a
resolver call, a completion that walks the type, a path node. For the inbox's items that is
about ninety fields of plain attributes per home screen, most of the GraphQL layer's CPU
(issue 18's profile). Under an object whose selected fields are all plain (Strawberry's basic
fields: no resolver, no arguments, no permission or extension), the answer is nothing but
attributes read and leaves coerced, so this executor completes such an object with a plan: one
closure per field that reads the attribute and coerces the leaf (or recurses into a plain object
or a list of them). A plan is made once per operation and selection, and kept for the next
operations of the same parsed document when the document has no directive at all (then its
field collection cannot depend on variables).

The standard path stays the authority: anything a plan does not expect (a null where the schema
says non-null, a value a scalar refuses, something that is not a list, a type check that fails,
field middleware) abandons the plan for that object, and graphql-core completes it as always,
with its errors and paths. Reading a plain attribute twice has no effect, so nothing is lost.
``tests/unit/test_plain_fields.py`` compares both paths on the public schema's plain types.
"""

from __future__ import annotations

import asyncio
import inspect
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar

from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfoHelpers,
    is_leaf_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetails
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from resolvers.plain_completers import (
    Complete,
    Plan,
    identity,
    leaf,
    list_of,
    non_null,
    nullable,
)

STRAWBERRY_FIELD = "strawberry-definition"
COLLECTED = frozenset({"include", "skip"})


class PlainFieldsExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, completing objects of plain fields by plan (see the module)."""

    # Plans shared by every operation of a document without directives (its field collection
    # cannot depend on variables), keyed by the field nodes of the cached parse: the next home
    # screen reuses the first one's plans. Entries hold their nodes, so an id is not reused.
    SHARED_LIMIT = 1024
    _shared: ClassVar[OrderedDict[tuple[Any, ...], tuple[object, Plan | None]]] = OrderedDict()
    _static: ClassVar[OrderedDict[int, tuple[object, bool]]] = OrderedDict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.async_helpers = _weak_helpers(self)
        # Per operation: the selections (and so the plans) belong to this document and its
        # variables. Keys hold the field sets alive, so an id is never reused meanwhile.
        self._plans: dict[tuple[GraphQLObjectType, int], tuple[object, Plan | None]] = {}
        manager = self.middleware_manager
        self._plain_allowed = manager is None or not manager.middlewares
        self._shareable = self._plain_allowed and self._without_directives()

    def _without_directives(self) -> bool:
        """Whether the document has no directive at all (then no variable steers collection)."""
        operation = self.operation
        known = self._static.get(id(operation))
        if known is not None and known[0] is operation:
            return known[1]
        static = not _has_directives(operation) and not any(
            _has_directives(fragment) for fragment in self.fragment_definitions.values()
        )
        _remember(self._static, id(operation), (operation, static), self.SHARED_LIMIT)
        return static

    def execute_collected_subfields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path,
        grouped_field_set: Mapping[str, Sequence[FieldDetails]],
        new_defer_usages: Sequence[Any],
        delivery_group_map: Any,
    ) -> Any:
        if self._plain_allowed and not new_defer_usages and delivery_group_map is None:
            plan = self._plan(parent_type, grouped_field_set)
            if plan is not None:
                try:
                    return plan(source_value)
                except Exception:  # the standard path says what went wrong
                    pass
        return super().execute_collected_subfields(
            parent_type,
            source_value,
            path,
            grouped_field_set,  # type: ignore[arg-type]
            new_defer_usages,
            delivery_group_map,
        )

    def _plan(
        self, parent_type: GraphQLObjectType, grouped: Mapping[str, Sequence[FieldDetails]]
    ) -> Plan | None:
        key = (parent_type, id(grouped))
        cached = self._plans.get(key)
        if cached is not None:
            return cached[1]
        shared_key: tuple[Any, ...] | None = None
        if self._shareable:
            nodes = tuple(
                (name, tuple(d.node for d in details)) for name, details in grouped.items()
            )
            shared_key = (parent_type, tuple((n, tuple(map(id, f))) for n, f in nodes))
            shared = self._shared.get(shared_key)
            if shared is not None:
                self._plans[key] = (grouped, shared[1])
                return shared[1]
        plan = self._make_plan(parent_type, grouped)
        self._plans[key] = (grouped, plan)
        if shared_key is not None:
            _remember(self._shared, shared_key, (nodes, plan), self.SHARED_LIMIT)
        return plan

    def _make_plan(
        self, parent_type: GraphQLObjectType, grouped: Mapping[str, Sequence[FieldDetails]]
    ) -> Plan | None:
        steps: list[tuple[str, Callable[[Any, str], Any] | None, str, Complete]] = []
        for response_name, details in grouped.items():
            if any(d.defer_usage is not None or d.fragment_variable_values for d in details):
                return None
            node = details[0].node
            if node.name.value == "__typename":
                steps.append((response_name, None, parent_type.name, identity))
                continue
            if any(d.node.arguments or _other_directives(d) for d in details):
                return None
            field_def = self.schema.get_field(parent_type, node.name.value)
            field = None if field_def is None else field_def.extensions.get(STRAWBERRY_FIELD)
            if (
                field_def is None
                or field is None
                or field_def.args
                or not field.is_basic_field
                or not getattr(field_def.resolve, "_is_default", False)
            ):
                return None
            complete = self._completer(field_def.type, details)
            if complete is None:
                return None
            steps.append((response_name, field.default_resolver, field.python_name, complete))

        def plan(source: Any) -> dict[str, Any]:
            result = {}
            for response_name, read, name, complete in steps:
                result[response_name] = complete(name if read is None else read(source, name))
            return result

        return plan

    def _completer(
        self, return_type: GraphQLOutputType, details: Sequence[FieldDetails]
    ) -> Complete | None:
        if isinstance(return_type, GraphQLNonNull):
            if is_leaf_type(return_type.of_type):
                return leaf(return_type.of_type, required=True)
            inner = self._completer(return_type.of_type, details)
            return None if inner is None else non_null(inner)
        if isinstance(return_type, GraphQLList):
            inner = self._completer(return_type.of_type, details)
            return None if inner is None else list_of(inner)
        if is_leaf_type(return_type):
            return leaf(return_type, required=False)
        if is_object_type(return_type):
            object_type: GraphQLObjectType = return_type
            if object_type.is_type_of is not None:
                return None
            grouped, new_defer_usages, _ = self.collect_subfields(object_type, details)  # type: ignore[arg-type]
            if new_defer_usages:
                return None
            plan = self._plan(object_type, grouped)
            return None if plan is None else nullable(plan)
        return None  # interfaces and unions: the standard path resolves their type


def _weak_helpers(executor: PlainFieldsExecutor) -> GraphQLResolveInfoHelpers:
    """graphql-core's resolver helpers without the reference cycle they make.

    The executor keeps them as its own bound methods: executor, helpers and back. That cycle held
    everything the executor reaches (the request's context, its loaders and their results, a few
    hundred objects a home screen) until the cyclic collector ran, every couple of hundred
    requests at 32 in flight, for tens of milliseconds (issue 18's garbage census). ``gather`` is
    graphql-core's own (it needs no executor); ``track`` reaches the executor through a weak
    reference, and should one outlive it, still settles the work it is given.
    """
    ref = weakref.ref(executor)

    def track(values: Sequence[Any]) -> None:
        found = ref()
        if found is not None:
            found.track_async_work(values)
            return
        awaitables = [value for value in values if inspect.isawaitable(value)]
        if awaitables:  # settled and their errors observed, as the executor would
            settling = asyncio.gather(*awaitables, return_exceptions=True)
            _SETTLING.add(settling)
            settling.add_done_callback(_SETTLING.discard)

    return GraphQLResolveInfoHelpers(gather=_gather, track=track)


_SETTLING: set[asyncio.Future[list[Any]]] = set()


def _gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
    return gather_with_cancel(*values)  # as ExecutionContext.gather_async_work


def _has_directives(node: Any) -> bool:
    """Any directive on ``node``, on its selections, or below them."""
    if getattr(node, "directives", None):
        return True
    selection_set = getattr(node, "selection_set", None)
    return selection_set is not None and any(
        _has_directives(selection) for selection in selection_set.selections
    )


def _remember(table: OrderedDict[Any, Any], key: Any, value: Any, limit: int) -> None:
    table[key] = value
    if len(table) > limit:
        table.popitem(last=False)


def _other_directives(details: FieldDetails) -> bool:
    """Directives other than @include and @skip, which field collection has already applied."""
    return any(d.name.value not in COLLECTED for d in details.node.directives or ())
