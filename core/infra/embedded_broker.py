"""The embedded event broker: fakeredis's Redis-protocol server, in this process, on loopback.

``pointclub serve`` starts it on ``POINTCLUB_EMBEDDED_EVENTS_PORT`` (default 8002) beside the
embedded store when no ``POINTCLUB_REDIS_URL`` is set; CLI commands started beside it publish
there. It keeps nothing across restarts (counters start again: clients see a gap and refetch).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from core.infra.embedded import LOOPBACK, port_open


def broker_url(port: int) -> str:
    return f"redis://{LOOPBACK}:{port}/0"


@dataclass
class EmbeddedBroker:
    port: int
    _server: Any = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return broker_url(self.port)

    def start(self) -> None:
        try:  # a development dependency, like the embedded store's moto
            from fakeredis import TcpFakeServer
        except ImportError as error:
            raise RuntimeError(
                "the embedded event broker needs fakeredis (a development dependency): run "
                "`uv sync`, or set POINTCLUB_REDIS_URL"
            ) from error
        if port_open(self.port):
            raise RuntimeError(
                f"port {self.port} is taken (another `pointclub serve`?): stop it or set "
                "POINTCLUB_EMBEDDED_EVENTS_PORT to a free port"
            )

        class Server(TcpFakeServer):
            allow_reuse_address = True
            daemon_threads = True

        self._server = Server((LOOPBACK, self.port), server_type="redis")
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="embedded-broker", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
