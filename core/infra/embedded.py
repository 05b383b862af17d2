"""The embedded development store: moto's DynamoDB-compatible server, in this process, on loopback.

``pointclub serve`` starts it on ``POINTCLUB_EMBEDDED_PORT`` (default 8001) when no DynamoDB is
configured; every other command finds it there.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from typing import Any

LOOPBACK = "127.0.0.1"


def store_url(port: int) -> str:
    return f"http://{LOOPBACK}:{port}"


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class EmbeddedStore:
    port: int
    _server: Any = None

    @property
    def url(self) -> str:
        return store_url(self.port)

    def start(self) -> None:
        # Imported here: moto is large, and only development serving needs it.
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as error:
            raise RuntimeError(
                "the embedded store needs moto (a development dependency): run `uv sync`, "
                "or set POINTCLUB_DYNAMODB_ENDPOINT"
            ) from error

        from core.infra import embedded_engine

        embedded_engine.install()
        # werkzeug logs every request of the store; the API's own access log is enough.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)

        if port_open(self.port):
            raise RuntimeError(
                f"port {self.port} is taken (another `pointclub serve`?): stop it or set "
                "POINTCLUB_EMBEDDED_PORT to a free port"
            )
        self._server = ThreadedMotoServer(ip_address=LOOPBACK, port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
