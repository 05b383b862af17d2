"""What botocore does on every call that need not be done again: the same bytes, made once.

Profiling a GetItem against DynamoDB Local (`uv run python -m bench profile`, issue 18) showed
about a fifth of the client's CPU building the User-Agent header: botocore assembles and
sanitizes a dozen components per request, and calls it twice per call. The string depends only
on the client's configuration and on the features the call registered in botocore's context (the
retry mode, an endpoint override, …), so it is kept per set of features.

The request body is botocore's own, walked against the service model as botocore does, then
encoded by orjson instead of the standard library's encoder (about 3% of the server's CPU on a
home screen): compact UTF-8 JSON of the same value. Anything orjson refuses goes back to
botocore's encoder. ``tests/integration/test_request_path.py`` checks the header and the body
are the ones botocore would send.
"""

from __future__ import annotations

from typing import Any

import orjson
from botocore.context import get_context
from botocore.serialize import JSONSerializer
from botocore.useragent import UserAgentString


class MemoizedUserAgent(UserAgentString):
    """botocore's User-Agent builder, answering from a small table keyed by the call's
    features (a handful of sets per process; the table is bounded all the same)."""

    _memo: dict[frozenset[str], str]
    MEMO_LIMIT = 64

    def to_string(self) -> str:
        context = get_context()
        features = frozenset(context.features if context is not None else ()) | frozenset(
            getattr(self, "_client_features", None) or ()
        )
        memo: dict[frozenset[str], str] = self.__dict__.setdefault("_memo", {})
        text = memo.get(features)
        if text is None:
            text = str(super().to_string())
            if len(memo) < self.MEMO_LIMIT:
                memo[features] = text
        return text


def memoize_user_agent(client: Any) -> None:
    """Give an open client the memoizing builder (same object, same state, one more method)."""
    creator = client._user_agent_creator
    if isinstance(creator, UserAgentString) and not isinstance(creator, MemoizedUserAgent):
        creator.__class__ = MemoizedUserAgent


# What the standard library's encoder refuses, orjson must refuse too rather than encode its own
# way (a datetime as ISO text, a dataclass as an object): botocore then raises as it always did.
PASS_THROUGH = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class OrjsonSerializer(JSONSerializer):
    """botocore's JSON protocol serializer (pinned in pyproject.toml), its body encoded by
    orjson; the rest is ``JSONSerializer.serialize_to_request`` step for step."""

    def serialize_to_request(self, parameters: Any, operation_model: Any) -> Any:
        own: Any = self  # botocore's private helpers, absent from its type stubs
        metadata = operation_model.metadata
        serialized = own._create_default_request()
        serialized["method"] = operation_model.http.get("method", self.DEFAULT_METHOD)
        serialized["headers"] = {
            "X-Amz-Target": f"{metadata['targetPrefix']}.{operation_model.name}",
            "Content-Type": f"application/x-amz-json-{metadata['jsonVersion']}",
        }
        own._handle_query_compatible_trait(operation_model, serialized)
        body = self.MAP_TYPE()
        if operation_model.input_shape is not None:
            own._serialize(body, parameters, operation_model.input_shape)
        try:
            serialized["body"] = orjson.dumps(body, option=PASS_THROUGH)
        except TypeError:  # a value json.dumps would not take either: botocore's encoder decides
            return super().serialize_to_request(parameters, operation_model)
        host_prefix = own._expand_host_prefix(parameters, operation_model)
        if host_prefix is not None:
            serialized["host_prefix"] = host_prefix
        return serialized


def encode_with_orjson(client: Any) -> None:
    """Give an open client the orjson serializer when it has botocore's plain JSON one (no
    parameter validation wrapped around it)."""
    if type(client._serializer) is JSONSerializer:
        client._serializer = OrjsonSerializer()
