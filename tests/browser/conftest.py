"""The web pages in a real Chromium: Debian's ``chromium`` driven by Playwright for Python through
``executable_path`` (Playwright's own browser download is never used).

One ``pointclub serve`` per module, on the test engine (a table of its own, seeded with the demo
data by ``pointclub db seed-demo``), so it can be stopped and started again with its data kept.
Both API endpoints run in trusted-only mode: a page that sent an unregistered document would fail.
Every page records its console; a test fails on any error it logged (``Watched.assert_clean``).
Without Chromium the tests are skipped, unless ``POINTCLUB_TEST_BROWSER=required`` (CI).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_cli import Server, cli_env, run_cli, serving
from tests.engines import ROOT, Engine, free_port

CHROMIUM = os.environ.get("POINTCLUB_TEST_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Where the screenshots go (docs/screenshots to refresh the README's).
SHOTS = Path(os.environ.get("POINTCLUB_SCREENSHOTS_DIR", ROOT / ".screenshots"))


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Module-scoped: Playwright's sync API holds an event loop as running in this thread while
    it is open, and the asyncio tests that come after need the thread free of it."""
    if shutil.which(CHROMIUM) is None:
        if os.environ.get("POINTCLUB_TEST_BROWSER") == "required":
            pytest.fail(f"POINTCLUB_TEST_BROWSER=required and no Chromium at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@dataclass
class Site:
    """A running ``serve`` and how to reach it as a member, an operator or a CLI user."""

    env: dict[str, str]
    server: Server
    stack: ExitStack

    @property
    def url(self) -> str:
        return self.server.url

    def token(self, user_id: str, *, admin: bool = False) -> str:
        answer = httpx.post(f"{self.url}/dev/token", json={"userId": user_id, "admin": admin})
        answer.raise_for_status()
        return str(answer.json()["token"])

    def restart(self, meanwhile: Callable[[], None]) -> None:
        """Stop the server (SIGTERM, as an orchestrator does), run ``meanwhile``, then start it
        again on the same port with the same store: the pages reconnect to it."""
        self.server.process.send_signal(signal.SIGTERM)
        self.server.process.wait(timeout=30)
        meanwhile()
        self.server = self.stack.enter_context(serving(self.env, port=self.server.port, drain=True))

    def member(self, name: str, variables: dict[str, Any] | None = None, *, user: str) -> Any:
        """A registered operation of the member's (by its name in the manifest), as the pages
        send it: the servers here accept nothing else."""
        return _send(self, "/graphql", MEMBER[name], variables, self.token(user))

    def operator(self, name: str, variables: dict[str, Any] | None = None) -> Any:
        token = self.token("demo-admin", admin=True)
        return _send(self, "/admin/graphql", OPERATOR[name], variables, token)


def _manifest(name: str) -> dict[str, str]:
    data = json.loads((ROOT / "config" / name).read_text(encoding="utf-8"))
    return {operation["name"]: operation["id"] for operation in data["operations"]}


MEMBER = _manifest("trusted-documents.json")
OPERATOR = _manifest("admin-trusted-documents.json")


def _send(site: Site, path: str, sha: str, variables: dict[str, Any] | None, token: str) -> Any:
    answer = httpx.post(
        f"{site.url}{path}",
        json={
            "variables": variables or {},
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}},
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    payload = answer.json()
    assert "errors" not in payload, payload
    return payload["data"]


@pytest.fixture(scope="module")
def site(engine: Engine) -> Iterator[Site]:
    table = f"web-{uuid.uuid4().hex[:10]}"
    env = cli_env(
        POINTCLUB_DYNAMODB_ENDPOINT=engine.url,
        POINTCLUB_TABLE_NAME=table,
        POINTCLUB_SERVE_PREPARE_DUE_SECONDS="0.5",
        POINTCLUB_TRUSTED_DOCUMENTS_ONLY="true",
        POINTCLUB_ADMIN_TRUSTED_DOCUMENTS_ONLY="true",
        POINTCLUB_EMBEDDED_PORT=str(free_port()),
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
    )
    seeded = run_cli("db", "seed-demo", env=env, timeout=120)
    assert seeded.returncode == 0, seeded.stderr
    with ExitStack() as stack:
        yield Site(env, stack.enter_context(serving(env, drain=True)), stack)


@dataclass
class Watched:
    """A page and everything it logged; ``allowed`` are (start, end, substring) windows in which
    an error that contains the substring is expected (the server stopped on purpose)."""

    page: Any
    messages: list[tuple[float, str, str]] = field(default_factory=list)
    allowed: list[tuple[float, float, str]] = field(default_factory=list)

    def errors(self) -> list[str]:
        return [
            text
            for at, kind, text in self.messages
            if kind in {"error", "pageerror"}
            and not any(start <= at <= end and part in text for start, end, part in self.allowed)
        ]

    def assert_clean(self) -> None:
        assert self.errors() == [], self.errors()


@pytest.fixture
def open_page(chromium: Any, site: Site) -> Iterator[Any]:
    """Pages in fresh browser contexts (their own storage); each one's console must stay clean."""
    opened: list[tuple[Any, Watched]] = []

    def open_one(
        path: str = "/", *, viewport: dict[str, int] = DESKTOP, context: Any = None
    ) -> Watched:
        if context is None:
            context = chromium.new_context(viewport=viewport, locale="ja-JP")
        page = context.new_page()
        watched = Watched(page)
        page.on("console", lambda m: watched.messages.append((time.monotonic(), m.type, m.text)))
        page.on(
            "pageerror", lambda e: watched.messages.append((time.monotonic(), "pageerror", str(e)))
        )
        page.goto(f"{site.url}{path}")
        opened.append((context, watched))
        return watched

    yield open_one
    for context, watched in opened:
        watched.assert_clean()
        context.close()


def shoot(page: Any, name: str, *, full_page: bool = False) -> None:
    """A screenshot of what the page shows (toasts left out: they come and go)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("document.querySelector('#toasts').replaceChildren()")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)
