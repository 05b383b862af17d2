"""Issue 20's must-show, in Chromium: the member's inbox and the operator console against a
running ``pointclub serve`` (tests/browser/conftest.py). Each test checks what the page shows
against what the API says, and fails on any console error of any page it opened."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, PHONE, Site, Watched, shoot
from tests.e2e.test_cli import run_cli

pytestmark = pytest.mark.e2e

WAIT_MS = 15_000


# ---- helpers


def deliver(site: Site, user: str, title: str, *, category: str = "news", now: bool = True) -> str:
    """A notification for one member, created by the operator API; with ``now`` scheduled at
    once (the server's own prepare-due publishes it), else left a DRAFT."""
    input_ = {
        "category": category,
        "contents": [
            {"locale": "ja", "title": title, "body": f"{title}の本文"},
            {"locale": "en", "title": f"{title} (en)", "body": "body"},
        ],
        "audience": {"kind": "USER", "userId": user},
    }
    created = site.operator("CreateNotification", {"input": input_})["createNotification"]
    assert created["userErrors"] == [], created
    notification_id = str(created["notification"]["id"])
    if now:
        scheduled = site.operator(
            "ScheduleNotification",
            {
                "id": notification_id,
                "visibleFrom": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )["scheduleNotification"]
        assert scheduled["userErrors"] == [], scheduled
    return notification_id


def unread(site: Site, user: str) -> int:
    return int(site.member("UnreadCount", {}, user=user)["viewer"]["unreadCount"])


def inbox(site: Site, user: str) -> list[dict[str, Any]]:
    """Every visible item of the member's inbox, newest first, page by page."""
    items: list[dict[str, Any]] = []
    after = None
    while True:
        page = site.member("InboxPage", {"first": 50, "after": after}, user=user)["viewer"]["inbox"]
        items += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return items
        after = page["pageInfo"]["endCursor"]


def eventually(
    check: Callable[[], Any],
    what: str,
    last: Callable[[], str] = lambda: "",
    seconds: float = 15,
) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what} {last()}")
        time.sleep(0.1)


def sign_in(watched: Watched, site: Site, user: str) -> None:
    """As the picker does, for any member: a development token in this context's storage."""
    answer = watched.page.evaluate(
        """async (user) => {
            const r = await fetch("/dev/token", {method: "POST",
                headers: {"Content-Type": "application/json"},
                body: JSON.stringify({userId: user, admin: false})});
            const body = await r.json();
            localStorage.setItem("pointclub.session.member",
                JSON.stringify({userId: user, admin: false, token: body.token,
                                expiresAt: body.expiresAt}));
            return r.status;
        }""",
        user,
    )
    assert answer == 200
    watched.page.reload()
    live(watched)


def live(watched: Watched) -> None:
    watched.page.wait_for_selector('#live-status[data-status="live"]', timeout=WAIT_MS)
    watched.page.wait_for_selector('#list-state:not([data-state="loading"])', timeout=WAIT_MS)


def badge(watched: Watched) -> int:
    return int(watched.page.get_attribute("#badge", "data-count") or "-1")


def shown(watched: Watched) -> list[tuple[str, bool]]:
    """The list as the page shows it: (id, read) in order."""
    rows = watched.page.eval_on_selector_all(
        "#items .item", "rows => rows.map(r => [r.dataset.id, r.dataset.read === 'true'])"
    )
    return [(str(i), bool(r)) for i, r in rows]


def settles(watched: Watched, site: Site, user: str, count: int) -> None:
    """The badge shows ``count``, the API's count, and the list the API's inbox (ids, order,
    read state)."""

    seen: list[Any] = []

    def agree() -> bool:
        expected = [(item["id"], item["isRead"]) for item in inbox(site, user)]
        seen[:] = [badge(watched), unread(site, user), shown(watched), expected]
        return bool(seen[0] == seen[1] == count and seen[2] == seen[3])

    eventually(
        agree, "the page to agree with the API", lambda: f"badge, API count, list, API list: {seen}"
    )


# ---- the member's inbox


def test_the_demo_inbox_signs_in_switches_locale_and_is_screenshot(
    open_page: Callable[..., Watched], site: Site
) -> None:
    """The development picker, the badge against the API, the point-club card, the locale
    switch in place; screenshots at desktop and phone width (the README shows the first)."""
    for name, viewport in (("inbox-desktop", DESKTOP), ("inbox-phone", PHONE)):
        watched = open_page("/", viewport=viewport)
        page = watched.page
        page.wait_for_selector("#signin:not([hidden])", timeout=WAIT_MS)
        page.click('[data-user="demo-member"]')
        live(watched)
        page.wait_for_selector("#balance", timeout=WAIT_MS)
        assert badge(watched) == unread(site, "demo-member") > 0
        club = site.member("ClubCard", {}, user="demo-member")["viewer"]["pointClub"]
        assert page.get_attribute("#balance", "data-value") == str(club["balance"])
        assert page.get_attribute("#rank", "data-code") == club["rank"]["code"]
        assert page.locator(".mission").count() == len(club["missions"]["edges"]) > 0
        assert "ポイントクラブへようこそ" in page.inner_text("#items")
        assert page.get_attribute("#badge", "aria-live") == "polite"
        shoot(page, name)
    page.select_option("#locale", "en")
    page.wait_for_function(
        "() => document.querySelector('#items').innerText.includes('Welcome to the point club')",
        timeout=WAIT_MS,
    )
    assert page.inner_text("#mark-all") == "Mark all read"
    assert page.evaluate("document.documentElement.lang") == "en"


def test_open_mark_unread_archive_and_mark_all_follow_the_api(
    open_page: Callable[..., Watched], site: Site
) -> None:
    user = "web-actions"
    ids = [deliver(site, user, f"操作{i}", category=("news", "point")[i % 2]) for i in range(4)]
    eventually(lambda: unread(site, user) == 4, "the four deliveries")
    watched = open_page("/")
    sign_in(watched, site, user)
    page = watched.page
    settles(watched, site, user, 4)
    assert len(shown(watched)) == 4

    page.click(f'.item[data-id="{ids[0]}"] .item-title')  # open: marks it read, shows the body
    assert page.is_visible(f"#body-{ids[0]}")
    settles(watched, site, user, 3)

    page.click(f'.item[data-id="{ids[0]}"] .mark-unread')
    settles(watched, site, user, 4)

    page.click(f'.item[data-id="{ids[1]}"] .archive')
    settles(watched, site, user, 3)
    assert ids[1] not in dict(shown(watched))

    page.click('[data-tab="point"]')  # mark all of one category
    page.wait_for_selector('#list-state:not([data-state="loading"])', timeout=WAIT_MS)
    page.click("#mark-all")
    eventually(lambda: unread(site, user) == 2 and badge(watched) == 2, "mark all in point")
    page.click('[data-tab="all"]')
    settles(watched, site, user, 2)
    page.click("#mark-all")
    # That was the third notification read: the demo's mission (read three) completes, and its
    # reward notice arrives live, unread: the page follows the API there too.
    notice = f"mission-DEMOREAD3-{user}"
    eventually(lambda: notice in {item["id"] for item in inbox(site, user)}, "the mission notice")
    settles(watched, site, user, 1)
    page.click(f'.item[data-id="{notice}"] .item-title')
    settles(watched, site, user, 0)
    assert page.is_hidden("#badge")


class Held:
    """The page's GraphQL requests of the named operations, held until the test answers them;
    the others go through."""

    def __init__(self, page: Any, *names: str) -> None:
        self.names = set(names)
        self.routes: dict[str, list[Any]] = {name: [] for name in names}
        self.page = page
        page.route("**/graphql", self._route)

    def _route(self, route: Any) -> None:
        name = json.loads(route.request.post_data or "{}").get("operationName")
        if name in self.names:
            self.routes[name].append(route)
        else:
            route.continue_()

    def wait(self, name: str) -> Any:
        for _ in range(150):
            if self.routes[name]:
                return self.routes[name].pop(0)
            self.page.wait_for_timeout(100)  # lets Playwright dispatch the route
        errors = (
            self.page.inner_text("#form-errors") if self.page.query_selector("#form-errors") else ""
        )
        pytest.fail(f"timed out waiting for the {name} request {errors}")

    def stop(self) -> None:
        self.page.unroute("**/graphql")


REFUSAL = json.dumps({"errors": [{"message": "refused", "extensions": {"code": "UNAVAILABLE"}}]})


def refuse(route: Any) -> None:
    route.fulfill(status=200, content_type="application/json", body=REFUSAL)


def test_a_refused_change_is_rolled_back_with_a_visible_error(
    open_page: Callable[..., Watched], site: Site
) -> None:
    user = "web-refused"
    target, kept, opened = (deliver(site, user, f"拒否{i}") for i in range(3))
    eventually(lambda: unread(site, user) == 3, "the deliveries")
    watched = open_page("/")
    sign_in(watched, site, user)
    page = watched.page

    held = Held(page, "MarkRead", "Archive")
    page.click(f'.item[data-id="{target}"] .item-title')
    page.wait_for_selector(f'.item[data-id="{target}"][data-read="true"]', timeout=WAIT_MS)
    assert badge(watched) == 2  # made at once, before any answer
    refuse(held.wait("MarkRead"))
    page.wait_for_selector(".toast-error", timeout=WAIT_MS)
    assert "refused" in page.inner_text(".toast-error")
    page.wait_for_selector(f'.item[data-id="{target}"][data-read="false"]', timeout=WAIT_MS)
    assert badge(watched) == 3 == unread(site, user)  # rolled back; the server has it unread

    # Two changes out at once, one refused: only that one is taken back.
    page.click(f'.item[data-id="{kept}"] .archive')
    page.click(f'.item[data-id="{opened}"] .item-title')
    archive, read = held.wait("Archive"), held.wait("MarkRead")
    assert badge(watched) == 1
    refuse(archive)
    page.wait_for_selector(f'.item[data-id="{kept}"][data-read="false"]', timeout=WAIT_MS)
    assert page.get_attribute(f'.item[data-id="{opened}"]', "data-read") == "true"
    assert badge(watched) == 2
    assert [item_id for item_id, _ in shown(watched)] == [opened, kept, target]
    read.continue_()
    settles(watched, site, user, 2)

    # A live item arrives while a change is out, and the change is refused: the item stays.
    page.click(f'.item[data-id="{kept}"] .item-title')
    pending = held.wait("MarkRead")
    fresh = deliver(site, user, "保留中の新着")
    page.wait_for_selector(f'.item[data-id="{fresh}"]', timeout=WAIT_MS)
    refuse(pending)
    held.stop()
    settles(watched, site, user, 3)
    assert page.is_visible(f'.item[data-id="{fresh}"]')


def test_a_refusal_after_a_newer_count_leaves_the_badge_to_it(
    open_page: Callable[..., Watched], site: Site
) -> None:
    """A page's count drawn while a change is out is the server's word, which the change is not
    in: the refusal takes back the item's change, not the count a second time."""
    user = "web-refused-count"
    for i in range(21):
        deliver(site, user, f"件数{i:02d}")
    eventually(lambda: unread(site, user) == 21, "21 deliveries", seconds=60)
    watched = open_page("/", viewport={"width": 1280, "height": 700})
    sign_in(watched, site, user)
    page = watched.page
    first = shown(watched)[0][0]
    held = Held(page, "InboxPage", "MarkRead")
    page.click(f'.item[data-id="{first}"] .item-title')
    read = held.wait("MarkRead")
    assert badge(watched) == 20  # made at once
    for _ in range(30):  # the next page, read while the change is out
        page.mouse.wheel(0, 5000)
        page.wait_for_timeout(100)
        if held.routes["InboxPage"]:
            break
    held.wait("InboxPage").continue_()
    for _ in range(100):
        if len(shown(watched)) == 21:
            break
        page.wait_for_timeout(100)
    assert len(shown(watched)) == 21
    refuse(read)
    held.stop()
    page.wait_for_selector(f'.item[data-id="{first}"][data-read="false"]', timeout=WAIT_MS)
    settles(watched, site, user, 21)


def test_what_arrives_while_a_page_travels_is_not_lost_or_outdone(
    open_page: Callable[..., Watched], site: Site
) -> None:
    """A page read before a live event and answered after it: the event's item is in the list
    and the badge is the event's count, not the page's older one."""
    user = "web-travel"
    deliver(site, user, "最初の一通")
    eventually(lambda: unread(site, user) == 1, "the delivery")
    watched = open_page("/")
    sign_in(watched, site, user)
    page = watched.page
    held = Held(page, "InboxPage")
    page.click('[data-tab="unread"]')
    route = held.wait("InboxPage")
    answer = route.fetch()  # the page is read now, before the next delivery
    fresh = deliver(site, user, "ページの途中の新着")
    page.wait_for_selector(".toast:has-text('ページの途中の新着')", timeout=WAIT_MS)
    route.fulfill(response=answer)
    held.stop()
    page.wait_for_selector(f'.item[data-id="{fresh}"]', timeout=WAIT_MS)
    assert badge(watched) == 2 == unread(site, user)
    settles(watched, site, user, 2)


def test_scrolling_loads_each_page_once_while_new_items_arrive(
    open_page: Callable[..., Watched], site: Site
) -> None:
    user = "web-scroll"
    for i in range(45):
        deliver(site, user, f"スクロール{i:02d}")
    eventually(lambda: unread(site, user) == 45, "45 deliveries", seconds=60)
    watched = open_page("/", viewport={"width": 1280, "height": 700})
    sign_in(watched, site, user)
    page = watched.page
    assert len(shown(watched)) == 20  # one page, then more only as the list is scrolled

    fresh = deliver(site, user, "スクロール中の新着")  # arrives live while the list pages
    page.wait_for_selector(f'.item[data-id="{fresh}"]', timeout=WAIT_MS)
    for _ in range(30):
        page.mouse.wheel(0, 5000)
        page.wait_for_timeout(150)
        if len(shown(watched)) == 46 and page.get_attribute("#list-state", "data-state") == "ok":
            break
    ids = [item_id for item_id, _ in shown(watched)]
    assert len(ids) == len(set(ids)) == 46, ids
    assert ids == [item["id"] for item in inbox(site, user)]
    assert badge(watched) == 46 == unread(site, user)


def test_a_cli_delivery_arrives_live_in_both_tabs(
    open_page: Callable[..., Watched], site: Site
) -> None:
    user = "web-live"
    first = open_page("/")
    sign_in(first, site, user)
    second = open_page("/", context=first.page.context)  # the same browser, a second tab
    live(second)
    assert badge(first) == badge(second) == 0

    draft = deliver(site, user, "CLIからのお知らせ", now=False)
    result = run_cli("prepare-notification", draft, env=site.env, timeout=60)
    assert result.returncode == 0, result.stderr
    for tab in (first, second):
        tab.page.wait_for_selector(".toast:has-text('CLIからのお知らせ')", timeout=WAIT_MS)
        tab.page.wait_for_selector(f'.item[data-id="{draft}"]', timeout=WAIT_MS)
        assert badge(tab) == 1 == unread(site, user)

    first.page.click(f'.item[data-id="{draft}"] .item-title')  # read in one tab...
    second.page.wait_for_selector(f'.item[data-id="{draft}"][data-read="true"]', timeout=WAIT_MS)
    eventually(lambda: badge(second) == 0 == unread(site, user), "the other tab")


# ---- the operator console


def sign_in_console(page: Any) -> None:
    """The console signs in as the demo operator (requests held before it stay held)."""
    page.wait_for_selector("#signin:not([hidden])", timeout=WAIT_MS)
    page.click('[data-user="demo-admin"]')


def open_new_segment(page: Any) -> None:
    """The audience set to a segment, and the form that makes a new one opened."""
    page.check('input[name="audience"][value="SEGMENT"]')
    page.click("#segment-field summary")


def test_the_operator_creates_previews_publishes_amends_and_recalls(
    open_page: Callable[..., Watched], site: Site
) -> None:
    user = "web-console"
    member = open_page("/")
    sign_in(member, site, user)
    console = open_page("/admin")
    page = console.page
    sign_in_console(page)
    page.wait_for_selector("#rows tr", timeout=WAIT_MS)

    page.fill("#title-ja", "コンソールから")
    page.fill("#body-ja", "運営からのお知らせです。")
    page.fill("#title-en", "From the console")
    page.fill("#body-en", "A notice from the operators.")
    assert page.inner_text("#preview-title-text") == "コンソールから"
    page.click('[data-locale="en"]')
    assert page.inner_text("#preview-title-text") == "From the console"
    assert page.inner_text("#preview-body-text") == "A notice from the operators."
    page.fill("#user-id", user)
    open_new_segment(page)  # the segment chooser and its size
    page.fill("#new-segment-name", "web-gold")
    page.select_option("#new-segment-kind", "RANKS")
    page.check('#new-segment-ranks input[value="GOLD"]')
    page.wait_for_selector("#new-segment-size:has-text('members now')", timeout=WAIT_MS)
    size = site.operator("SegmentSize", {"rule": {"kind": "RANKS", "ranks": ["GOLD"]}})
    assert page.inner_text("#new-segment-size").startswith(f"{size['segmentSize']} members")
    page.click("#create-segment")
    page.wait_for_selector("#segment-size:has-text('web-gold')", timeout=WAIT_MS)
    page.check('input[name="audience"][value="USER"]')
    shoot(page, "console-desktop", full_page=True)
    page.click("#publish")

    # The member's page follows: a toast, the item, the badge.
    member.page.wait_for_selector(".toast:has-text('コンソールから')", timeout=WAIT_MS)
    row = eventually(
        lambda: next(
            (n for n in _notifications(site) if n["audience"].get("userId") == user), None
        ),
        "the notification in the list",
    )
    member.page.wait_for_selector(f'.item[data-id="{row["id"]}"]', timeout=WAIT_MS)
    assert badge(member) == 1 == unread(site, user)
    # The console's statistics follow the delivery and the read.
    page.wait_for_selector(f'tr[data-id="{row["id"]}"][data-state="PUBLISHED"]', timeout=WAIT_MS)
    page.wait_for_selector(f'tr[data-id="{row["id"]}"] .delivered:has-text("1")', timeout=WAIT_MS)
    member.page.click(f'.item[data-id="{row["id"]}"] .item-title')
    page.wait_for_selector(f'tr[data-id="{row["id"]}"] .read:has-text("1 (100%)")', timeout=WAIT_MS)

    page.click(f'tr[data-id="{row["id"]}"] .amend')  # amend: the member sees the new title
    page.fill("#title-ja", "コンソールから(訂正)")
    page.click("#publish")
    member.page.wait_for_selector(".item:has-text('コンソールから(訂正)')", timeout=WAIT_MS)

    page.click(f'tr[data-id="{row["id"]}"] .recall')
    page.fill(f'tr[data-id="{row["id"]}"] .recall-box input', "wrong audience")
    page.click(f'tr[data-id="{row["id"]}"] .confirm-recall')
    page.wait_for_selector(f'tr[data-id="{row["id"]}"][data-state="RECALLED"]', timeout=WAIT_MS)
    assert page.locator(f'tr[data-id="{row["id"]}"]').count() == 1  # redrawn, not copied
    member.page.wait_for_selector(
        f'.item[data-id="{row["id"]}"]', state="detached", timeout=WAIT_MS
    )
    assert badge(member) == 0 == unread(site, user)

    page.set_viewport_size(PHONE)
    page.evaluate("document.querySelector('#list-title').scrollIntoView()")
    shoot(page, "console-phone")


def test_a_late_count_for_an_earlier_rule_does_not_replace_the_latest(
    open_page: Callable[..., Watched], site: Site
) -> None:
    """The count asked on sign-in (the whole membership) answers after the one asked for GOLD:
    the page keeps GOLD's. Before, the last answer to land was shown, whatever it counted."""
    everyone = site.operator("SegmentSize", {"rule": {"kind": "ALL_MEMBERS"}})["segmentSize"]
    gold = site.operator("SegmentSize", {"rule": {"kind": "RANKS", "ranks": ["GOLD"]}})
    assert everyone != gold["segmentSize"]  # the demo seed has members of several ranks
    console = open_page("/admin")
    page = console.page
    held = Held(page, "SegmentSize")
    sign_in_console(page)
    first = held.wait("SegmentSize")
    assert json.loads(first.request.post_data)["variables"]["rule"]["kind"] == "ALL_MEMBERS"
    open_new_segment(page)
    page.select_option("#new-segment-kind", "RANKS")
    page.check('#new-segment-ranks input[value="GOLD"]')
    latest = held.wait("SegmentSize")
    assert json.loads(latest.request.post_data)["variables"]["rule"]["ranks"] == ["GOLD"]
    assert page.inner_text("#new-segment-size") == "Counting…"
    latest.continue_()
    page.wait_for_selector("#new-segment-size:has-text('members now')", timeout=WAIT_MS)
    asked = first.request.post_data
    with page.expect_response(lambda response: response.request.post_data == asked):
        first.continue_()
    page.wait_for_timeout(300)  # the late answer is read and dropped
    held.stop()
    assert page.inner_text("#new-segment-size") == f"{gold['segmentSize']} members now"


def test_a_late_segment_list_does_not_move_the_choice_off_a_new_segment(
    open_page: Callable[..., Watched], site: Site
) -> None:
    """The segment list read at sign-in answers after the one read after a create: it lacks the
    new segment, and shown last it moved the choice to the first segment in the list, the one a
    publish would then have gone to."""
    console = open_page("/admin")
    page = console.page
    held = Held(page, "Segments")
    sign_in_console(page)
    first = held.wait("Segments")
    early = first.fetch()  # read now, before the create; answered to the page below
    open_new_segment(page)
    page.fill("#new-segment-name", "web-late")
    page.select_option("#new-segment-kind", "RANKS")
    page.check('#new-segment-ranks input[value="SILVER"]')
    page.click("#create-segment")
    held.wait("Segments").continue_()
    page.wait_for_selector("#segment-size:has-text('web-late')", timeout=WAIT_MS)
    asked = first.request.post_data
    with page.expect_response(lambda response: response.request.post_data == asked):
        first.fulfill(response=early)
    page.wait_for_timeout(300)  # the late answer is read and dropped
    held.stop()
    assert page.input_value("#segment") == "web-late"
    assert page.inner_text("#segment-size").startswith("web-late: ")
    names = page.eval_on_selector_all("#segment option", "options => options.map(o => o.value)")
    assert "web-late" in names


def test_a_second_click_on_create_segment_sends_nothing_while_the_first_travels(
    open_page: Callable[..., Watched], site: Site
) -> None:
    console = open_page("/admin")
    page = console.page
    sign_in_console(page)
    page.wait_for_selector("#rows tr", timeout=WAIT_MS)
    held = Held(page, "CreateSegment")
    open_new_segment(page)
    page.fill("#new-segment-name", "web-once")
    page.select_option("#new-segment-kind", "ALL_MEMBERS")
    page.click("#create-segment")
    created = held.wait("CreateSegment")
    page.click("#create-segment", force=True)  # disabled: the click does nothing
    page.wait_for_timeout(500)  # a second request would be held by now
    assert held.routes["CreateSegment"] == []
    created.continue_()
    page.wait_for_selector("#segment-size:has-text('web-once')", timeout=WAIT_MS)
    held.stop()
    assert page.is_enabled("#create-segment")
    assert page.inner_text("#form-errors") == ""


def publish_but_fail_the_schedule(console: Watched, title: str, user: str) -> None:
    """Compose a notification for ``user`` and publish it, its schedule request failing on the
    way (the create goes through): the console says it is saved as a draft."""
    page = console.page
    held = Held(page, "ScheduleNotification")
    page.fill("#title-ja", title)
    page.fill("#body-ja", "本文")
    page.fill("#user-id", user)
    page.click("#publish")
    aborted = time.monotonic()
    held.wait("ScheduleNotification").abort()  # the browser logs the failed request: expected
    page.wait_for_selector("#form-errors:has-text('saved as a draft')", timeout=WAIT_MS)
    console.allowed.append((aborted, time.monotonic(), "net::ERR_FAILED"))
    held.stop()


def test_the_console_keeps_an_open_recall_box_and_retries_only_what_failed(
    open_page: Callable[..., Watched], site: Site
) -> None:
    user = "web-console-retry"
    console = open_page("/admin")
    page = console.page
    sign_in_console(page)
    page.wait_for_selector("#rows tr", timeout=WAIT_MS)

    # The schedule fails after the create: the draft is said, and pressing again schedules it
    # (no second notification).
    publish_but_fail_the_schedule(console, "一度だけ", user)
    page.check('input[name="when"][value="later"]')  # the time reconsidered: the same one
    page.check('input[name="when"][value="now"]')
    page.click("#publish")
    page.wait_for_selector(".toast:has-text('SCHEDULED')", timeout=WAIT_MS)
    once = [n for n in _notifications(site) if n["audience"].get("userId") == user]
    assert len(once) == 1 and once[0]["state"] in {"SCHEDULED", "PREPARING", "PUBLISHED"}

    # Failed again, then edited: the edited form is another notification, with its own key.
    publish_but_fail_the_schedule(console, "二通目", user)
    page.fill("#title-ja", "二通目(直し)")
    page.click("#publish")
    page.wait_for_selector(".toast:has-text('SCHEDULED')", timeout=WAIT_MS)
    titles = {
        n["contents"][0]["title"]: n["state"]
        for n in _notifications(site)
        if n["audience"].get("userId") == user
    }
    assert titles.keys() == {"一度だけ", "二通目", "二通目(直し)"}
    assert titles["二通目"] == "DRAFT"  # left as the operator was told

    # An open recall box with a typed reason outlives the list's refreshes.
    row = f'tr[data-id="{once[0]["id"]}"]'
    page.click(f"{row} .recall")
    page.type(f"{row} .recall-box input", "理由を入力中")
    with page.expect_request(lambda r: "Notifications" in (r.post_data or ""), timeout=WAIT_MS):
        pass  # a refresh went out...
    page.wait_for_timeout(500)  # ...and was drawn
    assert page.is_visible(f"{row} .recall-box")
    assert page.input_value(f"{row} .recall-box input") == "理由を入力中"
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == (
        "Reason for the recall"
    )


def _notifications(site: Site) -> list[dict[str, Any]]:
    data = site.operator("Notifications", {"first": 50})
    return [edge["node"] for edge in data["notifications"]["edges"]]


# ---- the server going away (last: it restarts the module's server)


def test_the_server_going_away_shows_reconnecting_then_refetches(
    open_page: Callable[..., Watched], site: Site
) -> None:
    user = "web-outage"
    watched = open_page("/")
    sign_in(watched, site, user)
    page = watched.page
    draft = deliver(site, user, "停止中に届いた", now=False)
    stopped_at = time.monotonic()

    def while_down() -> None:
        page.wait_for_selector('#live-status[data-status="reconnecting"]', timeout=WAIT_MS)
        # Delivered while no server runs (its events are lost with it).
        result = run_cli("prepare-notification", draft, env=site.env, timeout=60)
        assert result.returncode == 0, result.stderr
        assert badge(watched) == 0  # the page cannot know yet

    site.restart(while_down)
    live(watched)
    page.wait_for_selector(f'.item[data-id="{draft}"]', timeout=WAIT_MS)  # the refetch
    settles(watched, site, user, 1)
    assert page.locator(".toast").count() == 0  # no stale toast for what came while away
    # Connection failures while the server was down are expected; nothing else.
    watched.allowed.append((stopped_at, time.monotonic(), "ERR_CONNECTION_REFUSED"))
    watched.allowed.append((stopped_at, time.monotonic(), "WebSocket connection to"))
