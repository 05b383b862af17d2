"""What botocore does on every call that need not be done again: the same bytes, made once.

Profiling a GetItem against DynamoDB Local (`uv run python -m bench profile`, issue 18) showed
about a fifth of the client's CPU building the User-Agent header: botocore assembles and
sanitizes a dozen components per request, and calls it twice per call. The string depends only
on the client's configuration and on the features the call registered in botocore's context (the
retry mode, an endpoint override, …), so it is kept per set of features.
``tests/integration/test_request_path.py`` checks the header is the one botocore would send.
"""

from __future__ import annotations

from typing import Any

from botocore.context import get_context
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
