"""The orjson request serializer sends what botocore's JSON serializer sends, and refuses what it
refuses (core/infra/dynamodb/request_path.py); no engine needed."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.serialize import JSONSerializer

from core.infra.dynamodb.request_path import OrjsonSerializer

MODEL = botocore.session.get_session().get_service_model("dynamodb")


@dataclasses.dataclass
class Odd:
    value: str


def both(operation: str, params: dict[str, Any]) -> tuple[Any, Any]:
    model = MODEL.operation_model(operation)
    return (
        OrjsonSerializer().serialize_to_request(params, model),
        JSONSerializer().serialize_to_request(params, model),
    )


def test_the_same_request_as_botocore() -> None:
    key = {"PK": {"S": "USER#ユーザー\u2028"}, "SK": {"N": "1.50"}}
    ours, theirs = both("Query", {"TableName": "t", "ExclusiveStartKey": key, "Limit": 30})
    assert json.loads(ours["body"]) == json.loads(theirs["body"])
    assert {k: v for k, v in ours.items() if k != "body"} == {
        k: v for k, v in theirs.items() if k != "body"
    }


@pytest.mark.parametrize("odd", [datetime(2026, 12, 5, tzinfo=UTC), Odd("x")])
def test_what_botocore_refuses_is_refused(odd: object) -> None:
    params = {"TableName": "t", "Key": {"PK": {"S": odd}}}
    model = MODEL.operation_model("GetItem")
    with pytest.raises(TypeError):
        JSONSerializer().serialize_to_request(params, model)
    with pytest.raises(TypeError):
        OrjsonSerializer().serialize_to_request(params, model)
