"""A bounded memo keyed by the identity of immutable objects: parsed documents and schemas.

graphql-core's AST nodes are frozen dataclasses whose hash walks the whole tree every time it is
asked: 10 to 20 µs for a home screen's document. A ``functools.lru_cache`` keyed by a document
(Strawberry's ``ValidationCache``, our directive count) paid that on every request, though the
parser cache hands every request of the same text the same document object. Keyed by identity,
a hit costs a dictionary lookup; an equal document parsed anew (after the parser cache let it go)
is a miss, and is worked out again, as correct as before.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

V = TypeVar("V")

# Parsed documents kept: by the parser cache, and by what is found by the documents it keeps.
CACHED_DOCUMENTS = 256


class ByIdentity(Generic[V]):
    """At most ``limit`` values, each for a tuple of objects by identity, least recently used
    first out. An entry holds its objects, so their ids are not reused while it is kept."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._entries: OrderedDict[tuple[int, ...], tuple[tuple[object, ...], V]] = OrderedDict()

    def get(self, keys: tuple[object, ...], make: Callable[[], V]) -> V:
        ids = tuple(map(id, keys))
        found = self._entries.get(ids)
        if found is not None:
            self._entries.move_to_end(ids)
            return found[1]
        value = make()
        self._entries[ids] = (keys, value)
        if len(self._entries) > self._limit:
            self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)


class ValidationByDocument(SchemaExtension):
    """Strawberry's ``ValidationCache``, keyed by the identity of the schema, the document and
    each validation rule (the rule classes are made once: ``resolvers.schemas.validation_rules``)
    instead of by their hash. As many documents as the parser cache keeps."""

    VALIDATED: ByIdentity[list[GraphQLError]] = ByIdentity(limit=CACHED_DOCUMENTS)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        schema, document, rules = (
            context.schema._schema,
            context.graphql_document,
            context.validation_rules,
        )
        assert document is not None  # validation runs on a parsed document
        context.pre_execution_errors = self.VALIDATED.get(
            (schema, document, *rules), lambda: validate_document(schema, document, rules)
        )
        yield
