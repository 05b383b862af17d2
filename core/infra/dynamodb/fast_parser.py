"""A faster parser for DynamoDB's data-plane responses.

Profiling the home screen (`uv run python -m bench profile`) showed botocore's shape-driven JSON
parser taking about two fifths of the server's CPU: it walks every attribute value of every item
against the service model. For the item operations the wire JSON already is what the low-level
client returns (``{"S": …}``, numbers as strings), except binary values, which botocore turns
into bytes. So a successful response of those operations is ``orjson.loads`` (several times the
standard library's decoder on these bodies) plus the response metadata; anything else (errors,
binary values, other operations, a body orjson refuses) takes botocore's own path.
``tests/integration/test_fast_parser.py`` checks both paths give the same result.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from aiobotocore.parsers import AioJSONParser, AioResponseParserFactory
from botocore.parsers import lowercase_dict

FAST_OUTPUTS = frozenset(
    {
        "GetItemOutput",
        "BatchGetItemOutput",
        "QueryOutput",
        "ScanOutput",
        "PutItemOutput",
        "UpdateItemOutput",
        "DeleteItemOutput",
        "BatchWriteItemOutput",
        "TransactWriteItemsOutput",
        "TransactGetItemsOutput",
    }
)
BINARY_MARKERS = (b'"B":', b'"BS":')


class FastDynamoParser(AioJSONParser):
    async def parse(self, response: Any, shape: Any) -> Any:
        body = response.get("body")
        if (
            response["status_code"] < 300
            and shape is not None
            and shape.name in FAST_OUTPUTS
            and isinstance(body, bytes)
            and body
            and not any(marker in body for marker in BINARY_MARKERS)
        ):
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                return await super().parse(response, shape)
            parsed["ResponseMetadata"] = {
                "HTTPStatusCode": response["status_code"],
                "HTTPHeaders": lowercase_dict(response["headers"]),
            }
            request_id = response["headers"].get("x-amzn-requestid")
            if request_id:
                parsed["ResponseMetadata"]["RequestId"] = request_id
            return parsed
        if response["status_code"] >= 300 and isinstance(body, bytes) and not _utf8(body):
            # botocore's error parser decodes the body as UTF-8 and fails on anything else (a
            # proxy's page, say); without the body the error is coded by its HTTP status.
            response = {**response, "body": b""}
        return await super().parse(response, shape)


def _utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class FastParserFactory(AioResponseParserFactory):
    """botocore asks for a new parser for every response, and a parser keeps its own bound
    method as its blob parser (and hands it to its event-stream parser): a reference cycle per
    call, left to the cyclic collector (issue 18's garbage census). A parser keeps no state
    between responses, so the JSON one is made once per client, with a blob parser that is a
    plain function."""

    def __init__(self) -> None:
        super().__init__()
        self._json_parser: FastDynamoParser | None = None

    def create_parser(self, protocol_name: str) -> Any:
        if protocol_name != "json":
            return super().create_parser(protocol_name)
        if self._json_parser is None:
            defaults = {"blob_parser": _decode_blob, **self._defaults}  # type: ignore[attr-defined]
            self._json_parser = FastDynamoParser(**defaults)
        return self._json_parser


def _decode_blob(value: str) -> bytes:
    """botocore's default blob parser (``ResponseParser._default_blob_parser``)."""
    return base64.b64decode(value)


def install_fast_parser(client: Any) -> None:
    """Give an open DynamoDB client the fast parser (aiobotocore creates a parser per response
    from its endpoint's factory; the versions are pinned in pyproject.toml)."""
    client._endpoint._response_parser_factory = FastParserFactory()
