"""The web pages' server side (resolvers/web.py): which routes exist where, the development
sign-in and its refusals, the pages' headers, the operator console's trusted documents, and the
in-process prepare-due that publishes what the console schedules. The pages themselves run in
Chromium in tests/browser."""

from __future__ import annotations

import asyncio
import json
import re
from contextlib import suppress
from datetime import timedelta
from itertools import pairwise
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from core.auth import DevTokenIssuer
from core.bootstrap import Container
from core.domain.notification import NotificationState
from core.settings import Environment, Settings
from core.usecases.prepare_due import DueReport, PrepareDue
from resolvers.app import create_app, install, prepare_due_every
from tests.e2e.gql import app_client, codes
from tests.e2e.test_admin import CREATE, SCHEDULE, admin, draft
from tests.engines import ROOT
from tests.fakes import FakeClock

pytestmark = pytest.mark.e2e

ADMIN_MANIFEST = json.loads((ROOT / "config" / "admin-trusted-documents.json").read_text())
ADMIN_BY_NAME = {operation["name"]: operation for operation in ADMIN_MANIFEST["operations"]}
PRODUCTION = {"env": Environment.PRODUCTION, "jwt_secret": "x" * 40}


async def client_of(
    settings: Settings,
    container: Container,
    peer: str = "127.0.0.1",
    base_url: str = "http://127.0.0.1:8000",
) -> Any:
    app = create_app(settings, container=container)
    install(app, container)
    transport = httpx.ASGITransport(app=app, client=(peer, 50_000))
    return httpx.AsyncClient(transport=transport, base_url=base_url)


async def test_development_serves_both_pages_their_files_and_config(
    api: httpx.AsyncClient,
) -> None:
    for path in ("/", "/admin"):
        page = await api.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        # Every script and style the page loads is one of ours, under /web.
        for source in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            if source.startswith("/web/"):
                assert (await api.get(source)).status_code == 200, source
            else:
                assert source in {"/", "/admin", "data:,"}, source
    module = await api.get("/web/js/inbox.js")
    assert module.headers["content-type"].startswith("text/javascript")
    assert module.headers["x-content-type-options"] == "nosniff"
    config = (await api.get("/web/config.json")).json()
    assert config["development"] is True
    assert config["categories"] == ["campaign", "point", "rank", "system", "news"]
    assert config["ranks"][0] == "REGULAR" and config["locales"] == ["ja", "en"]
    assert {"userId": "demo-admin", "label": "demo-admin (operator)", "admin": True} in config[
        "accounts"
    ]
    for outside in ("/web/../core/settings.py", "/web/%2e%2e/core/settings.py"):
        assert (await api.get(outside)).status_code == 404
    missing = await api.get("/web/js/nothing.js")  # a miss under /web carries the page headers
    assert missing.status_code == 404
    assert missing.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in missing.headers["content-security-policy"]


@pytest.mark.parametrize("pages", [None, True])
async def test_production_refuses_development_sign_in_and_serves_pages_only_when_enabled(
    settings: Settings, container: Container, pages: bool | None
) -> None:
    production = settings.model_copy(update={**PRODUCTION, "web_pages": pages})
    async with await client_of(production, container) as client:
        token = await client.post("/dev/token", json={"userId": "alice", "admin": True})
        assert token.status_code in {404, 405}  # no such route in production
        page = await client.get("/")
        config = await client.get("/web/config.json")
    if pages is None:  # off by default in production
        assert page.status_code == 404 and config.status_code == 404
    else:
        assert page.status_code == 200
        assert config.json()["development"] is False and config.json()["accounts"] == []


async def test_development_tokens_for_this_machine_only_and_checked(
    settings: Settings, container: Container
) -> None:
    async with await client_of(settings, container) as local:
        issued = await local.post("/dev/token", json={"userId": "demo-admin", "admin": True})
        assert issued.status_code == 200 and issued.headers["cache-control"] == "no-store"
        principal = container.verifier.verify(issued.json()["token"])
        assert principal.user_id == "demo-admin" and "admin" in principal.roles
        member = await local.post("/dev/token", json={"userId": "alice"})
        assert container.verifier.verify(member.json()["token"]).roles == frozenset()
        refusals = [
            await local.post("/dev/token", json={"userId": ""}),
            await local.post("/dev/token", json={"userId": "-bad"}),
            await local.post("/dev/token", json={"userId": "a" * 129}),
            await local.post("/dev/token", json={"userId": "alice", "admin": "yes"}),
            await local.post("/dev/token", json=["alice"]),
            await local.post(
                "/dev/token", content=b"{", headers={"content-type": "application/json"}
            ),
        ]
        assert [r.status_code for r in refusals] == [400] * 6
        # A form post (another site's page can send one without a preflight) is refused.
        form = await local.post("/dev/token", data={"userId": "alice"})
        assert form.status_code == 415
        large = await local.post(
            "/dev/token",
            content=json.dumps({"userId": "alice", "pad": "x" * 2000}),
            headers={"content-type": "application/json"},
        )
        assert large.status_code == 413
    for peer, status in (("10.1.2.3", 403), ("::ffff:10.1.2.3", 403), ("::ffff:127.0.0.1", 200)):
        # A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d.
        async with await client_of(settings, container, peer=peer) as caller:
            answer = await caller.post("/dev/token", json={"userId": "alice"})
        assert answer.status_code == status, (peer, answer.text)
        assert ("token" in answer.json()) is (status == 200)


@pytest.mark.parametrize(
    ("base_url", "headers", "issued"),
    [
        ("http://localhost:8000", {"Origin": "http://localhost:8000"}, True),
        ("http://[::1]:8000", {}, True),
        # DNS rebinding: another site's name now resolves to 127.0.0.1; its page sends its
        # own name as Host and Origin.
        ("http://evil.example:8000", {"Origin": "http://evil.example:8000"}, False),
        ("http://evil.example", {}, False),
        # A page of another origin (another port on this machine included) posting here.
        ("http://127.0.0.1:8000", {"Origin": "http://127.0.0.1:9999"}, False),
        ("http://127.0.0.1:8000", {"Origin": "null"}, False),
        # A local proxy or tunnel makes any caller look like loopback.
        ("http://127.0.0.1:8000", {"X-Forwarded-For": "203.0.113.9"}, False),
        ("http://127.0.0.1:8000", {"Forwarded": "for=203.0.113.9"}, False),
        ("http://127.0.0.1:8000", {"Via": "1.1 tunnel"}, False),
        ("http://127.0.0.1:8000", {"X-Real-IP": "203.0.113.9"}, False),
    ],
)
async def test_development_tokens_only_to_this_servers_own_pages_without_a_proxy(
    settings: Settings,
    container: Container,
    base_url: str,
    headers: dict[str, str],
    issued: bool,
) -> None:
    async with await client_of(settings, container, base_url=base_url) as client:
        answer = await client.post("/dev/token", json={"userId": "alice"}, headers=headers)
    assert answer.status_code == (200 if issued else 403), answer.text
    assert ("token" in answer.json()) is issued


async def test_no_development_sign_in_with_a_real_secret(
    settings: Settings, container: Container
) -> None:
    """A development server given a real secret signs nothing for the pages: its tokens would
    be real ones."""
    real = settings.model_copy(update={"jwt_secret": SecretStr("r" * 40)})
    assert not real.uses_development_secret
    async with await client_of(real, container) as client:
        answer = await client.post("/dev/token", json={"userId": "alice", "admin": True})
        config = (await client.get("/web/config.json")).json()
    assert answer.status_code in {404, 405}
    assert config["development"] is False and config["accounts"] == []


async def test_the_consoles_operations_run_by_hash_and_admin_trusted_only_refuses_text(
    settings: Settings, container: Container, tokens: DevTokenIssuer
) -> None:
    strict = settings.model_copy(update={"admin_trusted_documents_only": True})
    headers = {"Authorization": f"Bearer {tokens.issue('op', admin=True)}"}
    async with app_client(strict, container) as client:
        for name in ("Notifications", "Segments"):
            sha = ADMIN_BY_NAME[name]["id"]
            request = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}}}
            answer = (await client.post("/admin/graphql", json=request, headers=headers)).json()
            assert "errors" not in answer, answer
        text = {"query": "{ segments { name } }"}
        refused = (await client.post("/admin/graphql", json=text, headers=headers)).json()
        assert codes(refused) == ["FORBIDDEN"]
        # The member API's own mode is separate: free text still goes there.
        member = {"query": "{ viewer { unreadCount } }"}
        free = await client.post(
            "/graphql", json=member, headers={"Authorization": f"Bearer {tokens.issue('alice')}"}
        )
        assert "errors" not in free.json()


def test_every_operation_the_pages_send_is_registered() -> None:
    """The pages name operations as api("Name", ...); each must be in web/js/documents.js's
    table of its page (the browser tests run trusted-only and would fail on one missing)."""
    documents = (ROOT / "web" / "js" / "documents.js").read_text()
    member_part, operator_part = documents.split("export const OPERATOR")
    for page, table in (
        ("inbox.js", member_part),
        ("club.js", member_part),
        ("admin.js", operator_part),
    ):
        used = set(re.findall(r'\bapi\("(\w+)"', (ROOT / "web" / "js" / page).read_text()))
        for name in used:
            assert f'"{name}": {{' in table, f"{page} sends {name}, not registered for its page"


async def test_prepare_due_in_process_publishes_what_is_due_and_survives_failures(
    api: httpx.AsyncClient,
    tokens: DevTokenIssuer,
    container: Container,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the console's "publish now" relies on (``serve``'s embedded default runs it)."""
    ids = {}
    for name, at in (("now", clock.now()), ("tomorrow", clock.now() + timedelta(days=1))):
        created = await admin(api, tokens, CREATE, input=draft())
        ids[name] = created["notification"]["id"]
        await admin(api, tokens, SCHEDULE, id=ids[name], at=at.isoformat())
    runs = 0
    real = PrepareDue.run

    async def blinking(self: PrepareDue, progress_for: Any) -> Any:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise ConnectionError("the store blinked")  # logged; the next run goes on
        return await real(self, progress_for)

    monkeypatch.setattr(PrepareDue, "run", blinking)
    task = asyncio.create_task(prepare_due_every(container, 0.05))

    async def state_of(notification_id: str) -> NotificationState:
        stored = await container.notifications.get(notification_id)
        assert stored is not None
        return stored.state

    try:
        for _ in range(200):
            if await state_of(ids["now"]) is NotificationState.PUBLISHED:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
    assert runs >= 2
    assert await state_of(ids["now"]) is NotificationState.PUBLISHED
    assert await state_of(ids["tomorrow"]) is NotificationState.SCHEDULED


async def test_prepare_due_in_process_backs_off_while_the_store_is_down_and_logs_once(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that is down is neither hammered every interval nor logged every interval."""
    down = True
    started: list[float] = []
    loop = asyncio.get_running_loop()

    async def run(self: PrepareDue, progress_for: Any) -> Any:
        started.append(loop.time())
        if down:
            raise ConnectionError("the store is down")
        return DueReport()

    monkeypatch.setattr(PrepareDue, "run", run)
    with capture_logs() as logs:
        task = asyncio.create_task(prepare_due_every(container, 0.01, longest_wait=0.16))
        await asyncio.sleep(1.2)
        down = False
        await asyncio.sleep(0.4)
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
    while_down = [at for at in started if at < started[0] + 1.2]
    # 0.01 s apart would be over 100 runs; doubling to 0.16 s gives about a dozen.
    assert 5 <= len(while_down) <= 16, len(while_down)
    gaps = [b - a for a, b in pairwise(while_down)]
    assert max(gaps) >= 0.15 and max(gaps) < 0.3
    events = [entry["event"] for entry in logs]
    assert events.count("serve.prepare_due_failed") == 1
    assert events.count("serve.prepare_due_recovered") == 1
    # Recovered: back to the short interval.
    after = [at for at in started if at > started[0] + 1.45]
    assert len(after) >= 5
