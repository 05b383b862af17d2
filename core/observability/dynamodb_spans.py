"""A ``dynamodb.command`` span for every call of the process's DynamoDB client, made by us.

ddtrace's aiobotocore integration made it before; per call it resolved its settings, schema and
service names, looked for Lambda and wrapped the propagation machinery, about as much CPU as
the span itself (issue 18's profile, `bench tracing`). This wraps the client's one entry point,
``_make_api_call``, and gives the span the name, resource (``dynamodb.getitem``) and tags that
integration gave it, so that monitors and dashboards built on them keep working. A failed call
is flagged on its span, with the error's type and message, and the exception propagates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from core.observability.spans import tracer


def trace_calls(client: Any, region: str) -> None:
    """Wrap ``client``'s calls in spans (nothing made while the tracer is off)."""
    call = client._make_api_call
    static = {
        "component": "aiobotocore",
        "span.kind": "client",
        "aws.agent": "aiobotocore",
        "aws.region": region,
        "region": region,
        "aws.partition": _partition(region),
    }

    async def traced(operation: str, params: Any) -> Any:
        if not tracer.enabled:
            return await call(operation, params)
        resource = f"dynamodb.{operation.lower()}"
        with tracer.trace("dynamodb.command", resource=resource, span_type="http") as span:
            span.set_tags(static)
            span.set_tag("aws.operation", operation)
            span.set_metric("_dd.measured", 1)
            table = params.get("TableName") if isinstance(params, dict) else None
            if table:
                span.set_tag("tablename", table)
                span.set_tag("aws.dynamodb.table_name", table)
            try:
                result = await call(operation, params)
            except ClientError as error:
                _answered(span, error.response)
                raise
            _answered(span, result)
            return result

    client._make_api_call = traced


def _answered(span: Any, response: Mapping[str, Any]) -> None:
    meta = response.get("ResponseMetadata") or {}
    status = meta.get("HTTPStatusCode")
    if status is not None:
        span.set_tag("http.status_code", str(status))
        if status >= 500:
            span.error = 1
    span.set_metric("retry_attempts", meta.get("RetryAttempts", 0))
    request_id = meta.get("RequestId")
    if request_id:
        span.set_tag("aws.requestid", request_id)


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
