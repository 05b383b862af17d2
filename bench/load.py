"""The load of `bench home` and `bench profile`: one keep-alive HTTP/1.1 connection per request in
flight, each sending requests encoded once in advance and reading each answer by its
Content-Length.

It replaces httpx, whose client cost about as much CPU per request as the GraphQL server and 1.4
to 1.8 times the reference's: 3.4 to 5.4 ms at 32 in flight, against 0.06 to 0.13 ms for this
one (`bench home` prints it; ``BENCH_LOAD=httpx`` still sends the load through httpx, to
compare). On two cores shared by the load, the server and DynamoDB Local, that CPU was taken from
the servers, and the latency tail httpx measured was its own queue (docs/BENCHMARKS.md, "The load
generator hid the GraphQL tax").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from urllib.parse import urlencode

import httpx
import orjson

HEADERS_END = b"\r\n\r\n"
ANSWER_SECONDS = 30  # as httpx's timeout was: a server that stops answering stops the run


class BadAnswer(RuntimeError):
    """An answer the run was not meant to measure: it stops the run."""


def graphql_requests(
    tokens: Sequence[str], query: str, variables: dict[str, object]
) -> list[bytes]:
    """One POST /graphql per token, as a front-end sends it."""
    body = orjson.dumps({"query": query, "variables": variables})
    return [
        b"POST /graphql HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
        for token in tokens
    ]


def reference_requests(tokens: Sequence[str], first: int) -> list[bytes]:
    """One GET /home per token: the reference's endpoint (`bench/reference.py`)."""
    query = urlencode({"first": first})
    return [
        f"GET /home?{query} HTTP/1.1\r\nHost: bench\r\n"
        f"Authorization: Bearer {token}\r\n\r\n".encode()
        for token in tokens
    ]


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """The answer's status and body. A server that closes the connection, or answers without
        a Content-Length, stops the run: the measurement would not be the intended one."""
        self.writer.write(request)
        try:
            async with asyncio.timeout(ANSWER_SECONDS):
                return await self._answer()
        except TimeoutError as error:
            raise BadAnswer(f"no answer within {ANSWER_SECONDS} s") from error

    async def _answer(self) -> tuple[int, bytes]:
        try:
            head = await self.reader.readuntil(HEADERS_END)
            lines = head.split(b"\r\n")
            status = int(lines[0].split(b" ", 2)[1])
            length = None
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length is None:
                raise BadAnswer(f"an answer without Content-Length: {head[:200]!r}")
            return status, await self.reader.readexactly(length)
        except asyncio.IncompleteReadError as error:
            raise BadAnswer("the server closed a keep-alive connection") from error

    def close(self) -> None:
        self.writer.close()


async def drive(
    port: int, requests: Sequence[bytes], concurrency: int, duration: float
) -> tuple[list[float], float]:
    """``concurrency`` requests in flight for ``duration`` seconds, the requests taken in turn:
    each answer's latency in milliseconds, and the seconds the run took. Any answer but a 200
    without errors stops the run."""
    connections: list[Connection] = []
    latencies: list[float] = []

    async def worker(index: int) -> None:
        connection = connections[index]
        turn = index
        while time.perf_counter() < deadline:
            request = requests[turn % len(requests)]
            turn += concurrency
            began = time.perf_counter()
            status, body = await connection.send(request)
            latencies.append((time.perf_counter() - began) * 1000)
            if status != 200 or b'"errors"' in body:
                raise BadAnswer(f"bad response {status}: {body[:200]!r}")

    workers: list[asyncio.Task[None]] = []
    try:
        for _ in range(concurrency):
            connections.append(await Connection.open(port))
        started = time.perf_counter()
        deadline = started + duration
        workers = [asyncio.create_task(worker(i)) for i in range(concurrency)]
        await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        # The first failure ends the run: the other workers stop too, before their connections.
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for connection in connections:
            connection.close()
    for task in workers:
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error
    return latencies, time.perf_counter() - started


async def drive_httpx(
    port: int, requests: Sequence[bytes], concurrency: int, duration: float
) -> tuple[list[float], float]:
    """The same load sent through httpx, as `bench home` did until 2026-12-06
    (``BENCH_LOAD=httpx``): to compare what the load itself costs and measures."""
    parsed = [_parse(request) for request in requests]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30
    ) as client:
        started = time.perf_counter()
        deadline = started + duration

        async def worker(index: int) -> None:
            turn = index
            while time.perf_counter() < deadline:
                method, path, headers, body = parsed[turn % len(parsed)]
                turn += concurrency
                began = time.perf_counter()
                response = await client.request(method, path, headers=headers, content=body)
                latencies.append((time.perf_counter() - began) * 1000)
                if response.status_code != 200 or b'"errors"' in response.content:
                    raise BadAnswer(f"bad response {response.status_code}: {response.text[:200]}")

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return latencies, time.perf_counter() - started


def _parse(request: bytes) -> tuple[str, str, dict[str, str], bytes]:
    head, _, body = request.partition(HEADERS_END)
    first, *lines = head.decode().split("\r\n")
    method, path, _ = first.split(" ")
    headers = dict(line.split(": ", 1) for line in lines)
    headers.pop("Host", None)
    headers.pop("Content-Length", None)
    return method, path, headers, body
