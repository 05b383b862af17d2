"""The benchmarks' load client (`bench/load.py`): keep-alive requests read by Content-Length, and
a run that stops on any answer it was not meant to measure."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from bench.load import (
    BadAnswer,
    Connection,
    drive,
    drive_httpx,
    graphql_requests,
    reference_requests,
)

Answer = Callable[[bytes], bytes]
Drive = Callable[[int, list[bytes], int, float], Awaitable[tuple[list[float], float]]]


def ok(body: bytes = b'{"data":{}}') -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" + (
        f"content-length: {len(body)}\r\n\r\n".encode() + body
    )


@asynccontextmanager
async def server(
    answer: Answer, seen: list[bytes], accepted: list[object] | None = None
) -> AsyncIterator[int]:
    """A loopback server that reads each request (headers, then Content-Length bytes of body)
    into ``seen`` and writes ``answer(request)``; one entry in ``accepted`` per connection."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if accepted is not None:
            accepted.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                request = head + await reader.readexactly(length)
                seen.append(request)
                writer.write(answer(request))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield listening.sockets[0].getsockname()[1]
    finally:
        listening.close()


@pytest.mark.parametrize("load", [drive, drive_httpx])
async def test_requests_go_in_turn_over_kept_connections(load: Drive) -> None:
    seen: list[bytes] = []
    accepted: list[object] = []
    requests = graphql_requests(["t1", "t2", "t3"], "{ viewer { unreadCount } }", {"first": 20})
    async with server(lambda _: ok(), seen, accepted) as port:
        latencies, seconds = await load(port, requests, 2, 0.2)
    assert len(latencies) == len(seen) > 3
    assert len(accepted) == 2  # one kept connection per request in flight, not one per request
    assert all(latency > 0 for latency in latencies) and seconds >= 0.2
    tokens = {request.split(b"Bearer ")[1].split(b"\r\n")[0] for request in seen}
    assert tokens == {b"t1", b"t2", b"t3"}
    first = seen[0]
    assert first.startswith(b"POST /graphql HTTP/1.1\r\n")
    assert b"\r\ncontent-type: application/json\r\n" in first.lower()
    assert first.endswith(b'{"query":"{ viewer { unreadCount } }","variables":{"first":20}}')


async def test_reference_requests_are_gets_with_the_page_size() -> None:
    seen: list[bytes] = []
    async with server(lambda _: ok(b"{}"), seen) as port:
        await drive(port, reference_requests(["t1"], 20), 1, 0.05)
    assert seen[0].startswith(b"GET /home?first=20 HTTP/1.1\r\n")
    assert b"Authorization: Bearer t1\r\n" in seen[0]


@pytest.mark.parametrize("load", [drive, drive_httpx])
@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\n\r\n{}", "bad response 401"),
        (ok(b'{"errors":[{"message":"no"}]}'), "bad response 200"),
    ],
)
async def test_an_answer_it_was_not_meant_to_measure_stops_the_run(
    load: Drive, answer: bytes, says: str
) -> None:
    async with server(lambda _: answer, []) as port:
        with pytest.raises(BadAnswer, match=says):
            await load(port, reference_requests(["t1"], 20), 1, 5.0)


async def test_an_answer_without_content_length_stops_the_run() -> None:
    chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n"
    async with server(lambda _: chunked, []) as port:
        with pytest.raises(BadAnswer, match="Content-Length"):
            await drive(port, reference_requests(["t1"], 20), 1, 5.0)


async def test_a_server_that_stops_answering_stops_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bench.load.ANSWER_SECONDS", 0.2)
    async with server(lambda _: b"HTTP/1.1 200 OK\r\n", []) as port:  # never ends its headers
        with pytest.raises(BadAnswer, match="no answer within"):
            await drive(port, reference_requests(["t1"], 20), 2, 5.0)


async def test_a_closed_connection_stops_the_run() -> None:
    def close(_: bytes) -> bytes:
        raise ConnectionError

    async with server(close, []) as port:
        with pytest.raises(BadAnswer, match="closed"):
            await drive(port, reference_requests(["t1"], 20), 1, 5.0)


async def test_an_answer_in_pieces_with_mixed_case_headers_is_read_whole() -> None:
    body = b'{"data":{"viewer":{}}}'
    head = f"HTTP/1.1 200 OK\r\nContent-LENGTH: {len(body)}\r\n\r\n".encode()
    pieces = [head[:7], head[7:], body[:5], body[5:]]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        for piece in pieces:  # each written and flushed apart
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.close()

    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        port = listening.sockets[0].getsockname()[1]
        connection = await Connection.open(port)
        assert await connection.send(reference_requests(["t1"], 20)[0]) == (200, body)
        connection.close()
    finally:
        listening.close()


async def test_one_bad_answer_among_many_in_flight_stops_them_all() -> None:
    answers = iter([ok()] * 20 + [b"HTTP/1.1 500 Oops\r\ncontent-length: 2\r\n\r\n{}"])

    def answer(_: bytes) -> bytes:
        return next(answers, ok())

    async with server(answer, []) as port:
        with pytest.raises(BadAnswer, match="bad response 500"):
            await drive(port, reference_requests(["t1", "t2"], 20), 8, 5.0)
    # The run ended at the bad answer, not at the 5 s deadline, and no worker is left running.
    workers = [t for t in asyncio.all_tasks() if "worker" in repr(t.get_coro())]
    assert not workers
