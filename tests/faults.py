"""A loopback HTTP proxy in front of a DynamoDB engine that fails on demand, the way a real
endpoint fails: 5xx answers with any body, throttling, connections reset or closed, no answer
at all, nothing listening. Faults are injected on the wire, not by patching botocore."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import httpx

from tests.engines import free_port


@dataclass(frozen=True)
class Fault:
    """One way of failing. ``kind``: ``answer`` (``status`` and ``body``), ``reset`` (the
    connection is aborted), ``close`` (closed without an answer) or ``hang`` (no answer ever).
    ``operation`` limits it to one DynamoDB operation (``TransactWriteItems``); ``times`` to the
    first so many matching requests."""

    name: str
    kind: str = "answer"
    status: int = 500
    body: bytes = b""
    content_type: str = "application/x-amz-json-1.0"
    operation: str | None = None
    times: int | None = None


def dynamodb_error(status: int, code: str, message: str = "") -> Fault:
    body = f'{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"{message}"}}'
    return Fault(code, status=status, body=body.encode())


FAULTS = [
    dynamodb_error(500, "InternalServerError", "Internal server error"),
    Fault(
        "503 with an HTML page",
        status=503,
        body=b"<html><h1>503</h1>nginx</html>",
        content_type="text/html",
    ),
    Fault("502 with no body", status=502),
    Fault("504 with text", status=504, body=b"upstream timed out", content_type="text/plain"),
    Fault("500 with a body that is not JSON", status=500, body=b"\x00\xffnot json"),
    dynamodb_error(400, "ThrottlingException", "Rate of requests exceeds the allowed throughput"),
    dynamodb_error(400, "ProvisionedThroughputExceededException", "exceeded"),
    dynamodb_error(400, "RequestLimitExceeded", "Throughput exceeds the account limit"),
    Fault("429 Too Many Requests", status=429, body=b"slow down", content_type="text/plain"),
    Fault("connection reset", kind="reset"),
    Fault("connection closed without an answer", kind="close"),
    Fault("no answer at all", kind="hang"),
]


def throttled_transaction(items: int) -> Fault:
    """A cancelled transaction whose only reasons are throttling (DynamoDB's own shape)."""
    reasons = ",".join(
        '{"Code":"ThrottlingError","Message":"Throughput exceeds the current capacity"}'
        for _ in range(items)
    )
    body = (
        '{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",'
        '"message":"Transaction cancelled","CancellationReasons":[' + reasons + "]}"
    )
    return Fault(
        "transaction cancelled by throttling",
        status=400,
        body=body.encode(),
        operation="TransactWriteItems",
    )


class FaultProxy:
    """Forwards every request to ``upstream`` until ``fail`` is set; ``refuse`` stops listening
    (connections are refused) until ``listen`` is called again. Counts what it was asked."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.fault: Fault | None = None
        self.requests = 0
        self.failed = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._client = httpx.AsyncClient(base_url=upstream, timeout=30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, fault: Fault | None) -> None:
        self.fault = fault
        self.failed = 0

    async def listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)

    async def refuse(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()

    async def stop(self) -> None:
        await self.refuse()
        await self._client.aclose()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                self.requests += 1
                fault = self._fault_for(request[1])
                if fault is None:
                    writer.write(await self._forward(*request))
                elif fault.kind == "reset":
                    writer.transport.abort()
                    return
                elif fault.kind == "close":
                    return
                elif fault.kind == "hang":
                    await asyncio.sleep(3600)
                else:
                    writer.write(_response(fault.status, fault.body, fault.content_type))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    def _fault_for(self, headers: dict[str, str]) -> Fault | None:
        fault = self.fault
        if fault is None:
            return None
        target = headers.get("x-amz-target", "")
        if fault.operation is not None and not target.endswith(f".{fault.operation}"):
            return None
        if fault.times is not None and self.failed >= fault.times:
            return None
        self.failed += 1
        return fault

    async def _forward(self, head: str, headers: dict[str, str], body: bytes) -> bytes:
        method, path, _ = head.split(" ", 2)
        sent = {k: v for k, v in headers.items() if k not in ("host", "content-length")}
        answer = await self._client.request(method, path, headers=sent, content=body)
        content_type = answer.headers.get("content-type", "application/x-amz-json-1.0")
        return _response(answer.status_code, answer.content, content_type)


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, dict[str, str], bytes] | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    head, *lines = raw.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return head, headers, body


def _response(status: int, body: bytes, content_type: str) -> bytes:
    head = (
        f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nx-amzn-RequestId: fault-proxy\r\n\r\n"
    )
    return head.encode() + body
