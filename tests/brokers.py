"""Event brokers for the tests: a real ``redis-server`` process where one is installed (CI
installs Debian's), else fakeredis's Redis-protocol server in this process.

``POINTCLUB_TEST_REDIS=required`` (CI) makes a missing ``redis-server`` an error rather than a
fallback: the multi-instance test must run against the real thing there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.engines import free_port, wait_for_port


@dataclass
class Broker:
    """A broker on a loopback port that can be stopped and started again on the same port
    (an outage), empty after each start (as a Redis without persistence)."""

    port: int
    real: bool
    _process: subprocess.Popen[bytes] | None = None
    _server: Any = None
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if self.real:
            self._process = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--protected-mode",
                    "yes",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        else:
            from fakeredis import TcpFakeServer

            class Server(TcpFakeServer):
                allow_reuse_address = True
                daemon_threads = True

            self._server = Server(("127.0.0.1", self.port), server_type="redis")
            thread = threading.Thread(target=self._server.serve_forever, daemon=True)
            thread.start()
            self._threads.append(thread)
        wait_for_port(self.port, timeout=20)

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def start_broker() -> Broker:
    real = shutil.which("redis-server") is not None
    if not real and os.environ.get("POINTCLUB_TEST_REDIS") == "required":
        pytest.fail("POINTCLUB_TEST_REDIS=required but redis-server is not installed")
    broker = Broker(free_port(), real)
    broker.start()
    return broker
