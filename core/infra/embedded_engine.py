"""moto's DynamoDB backend, made linear for the embedded store and the fallback test engine.

moto 5.2.5 (pinned) has three costs that grow with the whole table, which made a fan-out through
it quadratic in its audience:

- ``transact_write_items`` deep-copies every table it touches, for a rollback it rarely needs;
- a Query lists and sorts every item of the table to find the one partition it reads;
- a Query on an index does the same before filtering on the index key.

``install()`` replaces those three with versions whose cost is the items concerned: a transaction
keeps copies of the items it touches (and puts exactly those back on a cancellation), a
base-table Query reads its partition, an index Query one pass over the items with the index key.
Everything else, including every answer and error, is moto's own. It also serializes the engine's
requests behind one lock, as DynamoDB Local does: moto has no isolation of its own, and its server
runs each request on a thread, so a transaction could otherwise be seen half done, or a Query
could iterate a partition another thread is changing.

The test suite runs whole on this engine when DynamoDB Local is missing, and
``tests/integration/test_embedded_engine.py`` checks the rollback and isolation it adds.
"""

from __future__ import annotations

import copy
import inspect
import threading
from collections.abc import Callable
from typing import Any

from core.infra.embedded_paging import (
    index_partition,
    key_added,
    key_removed,
    page_candidates,
    sorted_keys,
)

MOTO_VERSION = "5.2.5"  # the version these replacements follow; install() refuses another

_installed = False
_lock = threading.RLock()


def install() -> None:
    """Patch moto's DynamoDB backend in this process (idempotent)."""
    global _installed
    if _installed:
        return
    import moto
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(
            f"the embedded store was written for moto {MOTO_VERSION}, found {moto.__version__}"
        )
    original_query: Callable[..., Any] = Table.query
    original_put: Callable[..., Any] = Table.put_item
    original_delete: Callable[..., Any] = Table.delete_item
    original_call: Callable[..., Any] = DynamoHandler.call_action
    query_signature = inspect.signature(original_query)

    def call_action(self: Any) -> Any:
        with _lock:
            return original_call(self)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        asked = query_signature.bind(self, *args, **kwargs).arguments
        hash_key = asked["hash_key"]
        view = copy.copy(self)
        if asked.get("index_name"):
            matching = index_partition(self, asked["index_name"], asked.get("hash_key_conditions"))
            view.all_items = lambda: matching
        elif hash_key not in self.items:
            view.items = {}
        elif sorted_keys(self, hash_key) is None:
            view.items = {hash_key: self.items[hash_key]}
        else:
            view.items = {hash_key: page_candidates(self, asked)}
        return original_query(view, *args, **kwargs)

    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = original_put(self, *args, **kwargs)
        key_added(self, item.hash_key, item.range_key)
        return item

    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        item = original_delete(self, hash_key, range_key)
        if item is not None:
            key_removed(self, hash_key, range_key)
        return item

    setattr(DynamoHandler, "call_action", call_action)  # noqa: B010 (mypy: no method assigns)
    setattr(Table, "query", query)  # noqa: B010
    setattr(Table, "put_item", put_item)  # noqa: B010
    setattr(Table, "delete_item", delete_item)  # noqa: B010
    setattr(DynamoDBBackend, "transact_write_items", _transact_write_items)  # noqa: B010
    _installed = True


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's ``transact_write_items`` with a rollback of the touched items only."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        ItemSizeTooLarge,
        ItemSizeToUpdateTooLarge,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    # (table, hash key, range key, a copy of the item before the transaction or None)
    journal: list[tuple[Any, Any, Any, Any]] = []
    seen: set[tuple[str, str]] = set()
    errors: list[tuple[str | None, str | None, Any]] = []

    def rollback() -> None:
        for table, hash_key, range_key, before in reversed(journal):
            if table.range_key_attr is None:
                if before is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = before
            elif before is None:
                table.items.get(hash_key, {}).pop(range_key, None)
                key_removed(table, hash_key, range_key)
            else:
                table.items[hash_key][range_key] = before
                key_added(table, hash_key, range_key)

    for entry in transact_items:
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        original_item: Any = None
        try:
            op_type, op = next(iter(entry.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            table = self.get_table(table_name)
            if op_type == "Put":
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            identity = (str(table_name), str(dict(sorted(key.items()))))
            if identity in seen:
                raise MultipleTransactionsException()
            seen.add(identity)

            hash_key, range_key = self.get_keys_value(table, key)
            current = table.get_item(hash_key, range_key)
            condition = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            if condition is not None:
                check = get_filter_expression(condition, names, values)
                if not check.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            if op_type != "ConditionCheck":
                journal.append((table, hash_key, range_key, copy.deepcopy(current)))
            if op_type == "Put":
                self.put_item(
                    table_name,
                    op["Item"],
                    condition_expression=condition,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            errors.append((None, None, None))
        except (ItemSizeTooLarge, ItemSizeToUpdateTooLarge) as error:
            # DynamoDB cancels the transaction with this item's reason, as moto does not.
            errors.append(("ValidationError", str(error.message), original_item))
        except (MultipleTransactionsException, MockValidationException):
            rollback()
            raise
        except ConditionalCheckFailed as error:
            errors.append(("ConditionalCheckFailed", str(error.message), original_item))
        except Exception as error:  # moto reports any other failure as the item's reason
            errors.append((type(error).__name__, str(error), original_item))

    if any(code is not None for code, _, _ in errors):
        rollback()
        raise TransactionCanceledException(errors)
