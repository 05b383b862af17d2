"""The cost limit: a connection costs its ``first`` times the cost of where it sits (GitHub's node
limit), and the number of fields the operation selects once its fragments are spread.

Both need the variables (``inbox(first: $first)``), so they are checked once the operation is
known and before it runs, not in validation (whose results are cached per document). A document
over either limit is refused whole, with ``GRAPHQL_VALIDATION_FAILED`` and nothing executed.

A tally depends only on the document, the operation, the limits and the values the ``first``
arguments take from the variables: a warm document is walked once per such values (at most
``VALUES_KEPT`` of them), and the next request with the same ones finds its tally.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    Visitor,
    get_named_type,
    is_interface_type,
    is_object_type,
    visit,
)
from graphql.execution import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from resolvers.by_identity import CACHED_DOCUMENTS, ByIdentity

PAGE_ARGUMENT = "first"
VALUES_KEPT = 64  # per document: tallies for that many different page sizes, latest used kept


@dataclass
class Tally:
    cost: int = 0
    fields: int = 0


class CostWalk:
    """Walks one operation: ``cost`` (connection nodes) and ``fields`` (selections, expanded)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any] | None,
        *,
        stop_at: Tally,
    ) -> None:
        self._schema = schema
        self._fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self._variables = dict(variables or {})
        self._stop_at = stop_at
        self.tally = Tally()

    def operation(self, operation: OperationDefinitionNode) -> Tally:
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if name not in self._variables and isinstance(definition.default_value, IntValueNode):
                self._variables[name] = int(definition.default_value.value)
        root = self._schema.get_root_type(operation.operation)
        if root is not None:
            self._selections(operation.selection_set, root, 1, ())
        return self.tally

    def _over(self) -> bool:
        return self.tally.cost > self._stop_at.cost or self.tally.fields > self._stop_at.fields

    def _selections(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType,
        multiplier: int,
        spread: tuple[str, ...],
    ) -> None:
        for field, field_parent in self._fields(selection_set, parent, spread):
            if self._over():
                return
            self.tally.fields += 1
            definition = _field_definition(field_parent, field.name.value)
            if definition is None or field.selection_set is None:
                continue
            inner = multiplier
            page = self._page_size(field, definition)
            if page is not None:
                inner = multiplier * page
                self.tally.cost += inner
            self._selections(field.selection_set, get_named_type(definition.type), inner, spread)

    def _fields(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, spread: tuple[str, ...]
    ) -> Iterator[tuple[FieldNode, GraphQLNamedType]]:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                named = self._schema.get_type(condition.name.value) if condition else parent
                yield from self._fields(selection.selection_set, named or parent, spread)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self._fragments.get(name)
                if fragment is None or name in spread:  # validation refuses both anyway
                    continue
                named = self._schema.get_type(fragment.type_condition.name.value)
                yield from self._fields(fragment.selection_set, named or parent, (*spread, name))

    def _page_size(self, field: FieldNode, definition: GraphQLField) -> int | None:
        argument = definition.args.get(PAGE_ARGUMENT)
        if argument is None:
            return None
        size: object = argument.default_value
        for given in field.arguments or ():
            if given.name.value != PAGE_ARGUMENT:
                continue
            if isinstance(given.value, IntValueNode):
                size = int(given.value.value)
            elif isinstance(given.value, VariableNode):
                size = self._variables.get(given.value.name.value, size)
        return _page_count(size, argument.default_value)


def _page_count(size: object, default: object) -> int:
    """The page a size asks for, as the server will read it: graphql-core takes a whole float
    (``100.0``) as the Int 100, and a null is read as the argument's default page. Anything else
    (a bool, a string, zero or less) is refused before or by the resolver: a page of one."""
    if size is None:
        size = default
    if isinstance(size, float) and size.is_integer():
        size = int(size)
    return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else 1


class _Known:
    """A document's page variables (those a ``first`` takes) and its tallies by values."""

    def __init__(self, page_variables: tuple[str, ...]) -> None:
        self.page_variables = page_variables
        self.tallies: OrderedDict[Hashable, Tally] = OrderedDict()


_KNOWN: ByIdentity[_Known] = ByIdentity(limit=CACHED_DOCUMENTS)
_MISSING = object()


def tally_of(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
    stop_at: Tally,
) -> Tally:
    """The operation's tally (read only), walked once per document and page-size values."""
    known = _KNOWN.get((schema, document), lambda: _Known(_page_variables(document)))
    given = variables or {}
    key = (
        id(operation),  # the document holds its operations: the id is not reused meanwhile
        stop_at.cost,
        stop_at.fields,
        *(_page_value(given.get(name, _MISSING)) for name in known.page_variables),
    )
    tally = known.tallies.get(key)
    if tally is not None:
        known.tallies.move_to_end(key)
    else:
        tally = CostWalk(schema, document, variables, stop_at=stop_at).operation(operation)
        known.tallies[key] = tally
        if len(known.tallies) > VALUES_KEPT:
            known.tallies.popitem(last=False)
    return tally


def _page_value(value: object) -> object:
    """A variable's value as the walk reads it: missing, null (each field's default), or the
    page it counts (``_page_count``: ``100`` and ``100.0`` alike, anything else one)."""
    return value if value is _MISSING or value is None else _page_count(value, None)


def _page_variables(document: DocumentNode) -> tuple[str, ...]:
    finder = _PageVariables()
    visit(document, finder)
    return tuple(sorted(finder.names))


class _PageVariables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        if node.name.value == PAGE_ARGUMENT and isinstance(node.value, VariableNode):
            self.names.add(node.value.name.value)


def _field_definition(parent: GraphQLNamedType, name: str) -> GraphQLField | None:
    if is_object_type(parent) or is_interface_type(parent):
        return parent.fields.get(name)  # type: ignore[no-any-return]
    return None


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


class CostLimit(SchemaExtension):
    def __init__(self, *, max_cost: int, max_fields: int) -> None:
        self.max_cost = max_cost
        self.max_fields = max_fields

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        operation = _operation(document, context.operation_name) if document is not None else None
        if operation is not None:
            tally = tally_of(
                context.schema._schema,
                document,  # type: ignore[arg-type]
                operation,
                context.variables,
                Tally(self.max_cost, self.max_fields),
            )
            message = None
            if tally.cost > self.max_cost:
                message = (
                    f"query cost over the limit of {self.max_cost} "
                    f"(a connection costs its `{PAGE_ARGUMENT}` times the cost of its parent)"
                )
            elif tally.fields > self.max_fields:
                message = f"more than {self.max_fields} fields selected (fragments spread)"
            if message is not None:
                error = GraphQLError(message, extensions={"code": "GRAPHQL_VALIDATION_FAILED"})
                context.result = GraphQLExecutionResult(data=None, errors=[error])
        yield
