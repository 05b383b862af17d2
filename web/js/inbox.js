// The member's inbox: the bell and its exact badge, the list by cursor, read state changes made
// at once and rolled back when the server refuses, live events, and the point-club card.
import { MEMBER } from "./documents.js";
import {
  ApiError,
  LiveInbox,
  clearSession,
  devSignIn,
  loadSession,
  pageConfig,
  saveSession,
  send,
} from "./client.js";
import { $, formatDate, h, hideSignIn, signInPicker, toast } from "./ui.js";
import { renderClub } from "./club.js";

const PAGE = 20;
const TEXT = {
  ja: {
    all: "すべて", unread: "未読", empty: "お知らせはありません", loading: "読み込み中…",
    markAll: "すべて既読にする", markUnread: "未読にする", archive: "アーカイブ", open: "リンクを開く",
    failed: "更新できませんでした", retry: "再読み込み", live: "ライブ", reconnecting: "再接続中…",
    inbox: "お知らせ", club: "ポイントクラブ", signOut: "サインアウト", new: "新着",
  },
  en: {
    all: "All", unread: "Unread", empty: "No notifications", loading: "Loading…",
    markAll: "Mark all read", markUnread: "Mark unread", archive: "Archive", open: "Open link",
    failed: "The change did not go through", retry: "Retry", live: "Live",
    reconnecting: "Reconnecting…", inbox: "Inbox", club: "Point club", signOut: "Sign out",
    new: "New",
  },
};

const state = {
  config: null,
  session: null,
  locale: localStorage.getItem("pointclub.locale") ?? "ja",
  tab: "all",
  items: [], // the loaded list, newest first
  expanded: new Set(), // ids whose body is open
  cursor: null,
  hasNext: false,
  loading: false,
  generation: 0, // bumped by every reset: answers to an older list are dropped
  badge: 0,
  events: 0, // live events seen: an HTTP answer older than one of them does not set the badge
  counted: 0, // server counts drawn from HTTP answers: a refusal after one leaves the badge to it
  heldEvents: [], // events seen while a page was on its way, applied again to what it brings
  seq: null,
  synced: false, // a SYNC was seen on this page: the next one is a reconnect
  live: null,
};

const t = (key) => TEXT[state.locale]?.[key] ?? TEXT.en[key];
// The configured categories' names; one configured later shows as it is.
const CATEGORIES = {
  ja: { campaign: "キャンペーン", point: "ポイント", rank: "ランク", system: "システム", news: "ニュース" },
  en: { campaign: "Campaigns", point: "Points", rank: "Rank", system: "System", news: "News" },
};
const label = (name) =>
  name === "all" || name === "unread" ? t(name) : (CATEGORIES[state.locale]?.[name] ?? name);

function api(name, variables = {}) {
  return send("/graphql", MEMBER, name, variables, {
    token: state.session.token,
    locale: state.locale,
  }).catch((error) => {
    if (error instanceof ApiError && error.code === "UNAUTHENTICATED") signOut();
    throw error;
  });
}

// ---- the badge

// An HTTP answer's count is newer than the badge only if no live event came after the request
// left: each event carries the count after it, so the events are the fresher word.
function badgeFromAnswer(count, eventsWhenSent) {
  if (state.events !== eventsWhenSent) return;
  state.counted += 1;
  setBadge(count);
}

function setBadge(count) {
  state.badge = count;
  const badge = $("#badge");
  badge.dataset.count = String(count);
  badge.textContent = count > 99 ? "99+" : String(count);
  badge.hidden = count === 0;
  badge.setAttribute("aria-label", `${count} unread`);
}

// ---- the list

function filterOf(tab) {
  if (tab === "unread") return { unreadOnly: true };
  if (tab === "all") return {};
  return { categories: [tab] };
}

function belongs(item, tab) {
  if (item.archivedAt) return false;
  if (tab === "unread") return !item.isRead;
  return tab === "all" || item.category === tab;
}

async function resetList() {
  state.generation += 1;
  state.heldEvents = [];
  state.items = [];
  state.cursor = null;
  state.hasNext = true;
  state.loading = false;
  renderList();
  await loadMore();
}

async function loadMore() {
  if (state.loading || !state.hasNext) return;
  state.loading = true;
  const generation = state.generation;
  const events = state.events;
  state.heldEvents = [];
  renderListState();
  try {
    const data = await api("InboxPage", {
      first: PAGE,
      after: state.cursor,
      filter: filterOf(state.tab),
    });
    if (generation !== state.generation) return;
    const page = data.viewer.inbox;
    const known = new Set(state.items.map((item) => item.id));
    for (const edge of page.edges) {
      if (!known.has(edge.node.id)) state.items.push(edge.node);
    }
    state.cursor = page.pageInfo.endCursor ?? state.cursor;
    state.hasNext = page.pageInfo.hasNextPage;
    // The page was read before the events that came while it travelled: they apply to it too
    // (a new item that arrived then is in this page or goes on top of it, not lost).
    for (const event of state.heldEvents) applyToItems(event);
    state.heldEvents = [];
    if (state.tab === "all" || state.tab === "unread") badgeFromAnswer(page.unreadCount, events);
    state.loading = false;
    renderList();
  } catch (error) {
    if (generation !== state.generation) return;
    state.loading = false;
    state.hasNext = true;
    renderListState(error);
    return;
  }
  // A tall screen may show the end of the list at once: keep going until it does not.
  requestAnimationFrame(() => {
    if (nearEnd()) loadMore();
  });
}

function nearEnd() {
  const more = $("#more").getBoundingClientRect();
  return more.top < window.innerHeight + 200;
}

function renderListState(error) {
  const line = $("#list-state");
  line.replaceChildren();
  line.dataset.state = error ? "error" : state.loading ? "loading" : state.items.length ? "ok" : "empty";
  if (error) {
    line.append(`${error.message} `, h("button", { type: "button", onclick: () => loadMore() }, t("retry")));
  } else if (state.loading) {
    line.append(t("loading"));
  } else if (!state.items.length) {
    line.append(t("empty"));
  }
}

function renderList() {
  const list = $("#items");
  list.replaceChildren(...state.items.map(renderItem));
  renderListState();
}

function renderItem(item) {
  const open = state.expanded.has(item.id);
  const body = h("div", { class: "item-body", id: `body-${item.id}`, hidden: !open }, item.body,
    // Only https links (the server accepts no other; a page does not trust that alone).
    item.url?.startsWith("https://")
      ? h("p", {}, h("a", { href: item.url, rel: "noopener noreferrer", target: "_blank" }, t("open")))
      : null);
  const row = h(
    "li",
    {
      class: `item ${item.isRead ? "read" : "unread"} priority-${item.priority.toLowerCase()}`,
      "data-id": item.id,
      "data-read": String(item.isRead),
    },
    h(
      "button",
      {
        type: "button",
        class: "item-title",
        "aria-expanded": String(open),
        "aria-controls": `body-${item.id}`,
        onclick: (event) => openItem(item, event.currentTarget),
      },
      h("span", { class: "dot", "aria-hidden": "true" }),
      h("span", { class: "title" }, item.title),
      h("span", { class: "visually-hidden" }, item.isRead ? "" : ` (${t("unread")})`),
    ),
    h("span", { class: "meta" }, `${label(item.category)} · ${formatDate(item.visibleFrom, state.locale)}`),
    body,
    h(
      "div",
      { class: "actions" },
      item.isRead
        ? h("button", { type: "button", class: "mark-unread", onclick: () => markUnread(item) }, t("markUnread"))
        : null,
      h("button", { type: "button", class: "archive", onclick: () => archive(item) }, t("archive")),
    ),
  );
  return row;
}

function replaceItem(id, change) {
  state.items = state.items.map((item) => (item.id === id ? { ...item, ...change } : item));
}

// ---- changes: made at once, undone if the server refuses
//
// `change()` applies one change to the list and returns { delta, undo }: the badge's change and
// how to take back this change alone (the list may have moved on: a live item, another action).
// If live events came while the request was out, they say what the server holds: on a refusal
// the list and the badge are read again instead of guessed. If an answer's count was drawn
// meanwhile (a page, another change), the badge is that count, which the refused change is not in.

async function optimistic(change, request, message) {
  const { delta, undo } = change();
  setBadge(Math.max(0, state.badge + delta));
  renderList();
  const events = state.events;
  const counted = state.counted;
  try {
    const result = await request();
    if (typeof result?.unreadCount === "number") badgeFromAnswer(result.unreadCount, events);
    return result;
  } catch (error) {
    if (state.events === events) {
      undo();
      // A server's count drawn since is the count without this change: it stays as it is.
      if (state.counted === counted) setBadge(Math.max(0, state.badge - delta));
      renderList();
    } else {
      refetch();
    }
    toast(`${message}: ${error.message}`, { kind: "error" });
    return null;
  }
}

// Put an item where the list's order puts it; past the last loaded item only if `atEnd` (else
// the next page brings it): no duplicate, no gap.
function placeItem(item, atEnd) {
  if (state.items.some((other) => other.id === item.id)) return;
  const at = state.items.findIndex((other) => newer(item, other));
  if (at !== -1) state.items.splice(at, 0, item);
  else if (atEnd) state.items.push(item);
}

const newer = (a, b) => a.visibleFrom > b.visibleFrom || (a.visibleFrom === b.visibleFrom && a.id > b.id);

async function openItem(item, button) {
  const open = !state.expanded.has(item.id);
  if (open) state.expanded.add(item.id);
  else state.expanded.delete(item.id);
  document.getElementById(`body-${item.id}`).hidden = !open;
  button.setAttribute("aria-expanded", String(open));
  if (!open || item.isRead) return;
  const result = await optimistic(
    () => {
      replaceItem(item.id, { isRead: true });
      return { delta: -1, undo: () => replaceItem(item.id, { isRead: false }) };
    },
    async () => (await api("MarkRead", { ids: [item.id] })).markNotificationsRead,
    t("failed"),
  );
  if (result) refreshClubSoon(); // a read may move a mission
}

function markUnread(item) {
  return optimistic(
    () => {
      replaceItem(item.id, { isRead: false, readAt: null });
      return { delta: 1, undo: () => replaceItem(item.id, { isRead: true, readAt: item.readAt }) };
    },
    async () => (await api("MarkUnread", { id: item.id })).markNotificationUnread,
    t("failed"),
  );
}

function archive(item) {
  return optimistic(
    () => {
      const current = state.items.find((other) => other.id === item.id) ?? item;
      state.items = state.items.filter((other) => other.id !== item.id);
      return { delta: current.isRead ? 0 : -1, undo: () => placeItem(current, true) };
    },
    async () => (await api("Archive", { ids: [item.id] })).archiveNotifications,
    t("failed"),
  );
}

function markAll() {
  const categories = state.tab === "all" || state.tab === "unread" ? null : [state.tab];
  return optimistic(
    () => {
      const marked = new Set(state.items.filter((item) => !item.isRead).map((item) => item.id));
      state.items = state.items.map((item) => ({ ...item, isRead: true }));
      return {
        // Everything unread, or in one category the unread that are loaded (the answer says
        // the rest).
        delta: categories ? -marked.size : -state.badge,
        undo: () => {
          state.items = state.items.map((item) => (marked.has(item.id) ? { ...item, isRead: false } : item));
        },
      };
    },
    async () => {
      const result = (await api("MarkAllRead", { categories })).markAllNotificationsRead;
      refreshClubSoon();
      return result;
    },
    t("failed"),
  );
}

// ---- live events

function onEvent(event) {
  state.events += 1;
  if (event.kind === "SYNC") {
    const reconnect = state.synced;
    state.synced = true;
    state.seq = event.seq;
    setBadge(event.unreadCount);
    if (reconnect) refetch(); // whatever happened while away: no toast for any of it
    return;
  }
  const gap = state.seq === null || event.seq !== state.seq + 1;
  state.seq = event.seq;
  setBadge(event.unreadCount);
  if (gap) {
    refetch();
    return;
  }
  if (state.loading) state.heldEvents.push(event);
  applyToItems(event);
  if (event.kind === "NEW_ITEM" && event.item) {
    toast(`${t("new")}: ${event.item.title}`);
    refreshClubSoon();
  }
  renderList();
}

// What an event changes in the loaded list; applying it twice changes nothing more.
function applyToItems(event) {
  const ids = new Set(event.ids);
  switch (event.kind) {
    case "NEW_ITEM":
      if (event.item) insertLive(event.item);
      break;
    case "READ":
    case "UNREAD":
      state.items = state.items.map((item) =>
        ids.has(item.id) ? { ...item, isRead: event.kind === "READ" } : item,
      );
      break;
    case "ALL_READ":
      state.items = state.items.map((item) =>
        !event.categories || event.categories.includes(item.category) ? { ...item, isRead: true } : item,
      );
      break;
    case "ARCHIVED":
    case "RECALLED":
      state.items = state.items.filter((item) => !ids.has(item.id));
      break;
    case "AMENDED":
      if (event.item) replaceItem(event.item.id, event.item);
      break;
    default:
      break;
  }
}

function insertLive(item) {
  if (belongs(item, state.tab)) placeItem(item, !state.hasNext);
}

function refetch() {
  resetList();
  refreshClub();
}

function setLiveStatus(status) {
  const line = $("#live-status");
  line.dataset.status = status;
  line.textContent = status === "live" ? t("live") : status === "signed-out" ? "" : t("reconnecting");
  if (status === "signed-out") signOut();
}

// ---- the point-club card

let clubTimer = null;

function refreshClubSoon() {
  clearTimeout(clubTimer);
  clubTimer = setTimeout(refreshClub, 800);
}

async function refreshClub() {
  const stateLine = $("#club-state");
  stateLine.dataset.state = "loading";
  stateLine.textContent = t("loading");
  try {
    const data = await api("ClubCard", {});
    renderClub($("#club-body"), data.viewer.pointClub, state.locale);
    stateLine.dataset.state = "ok";
    stateLine.textContent = "";
  } catch (error) {
    stateLine.dataset.state = "error";
    stateLine.replaceChildren(`${error.message} `, h("button", { type: "button", onclick: refreshClub }, t("retry")));
  }
}

// ---- the page

function renderChrome() {
  document.documentElement.lang = state.locale;
  $("#locale").value = state.locale;
  $("#inbox-title").textContent = t("inbox");
  $("#club-title").textContent = t("club");
  $("#mark-all").textContent = t("markAll");
  $("#signout").textContent = t("signOut");
  const tabs = ["all", "unread", ...state.config.categories];
  $("#tabs").replaceChildren(
    ...tabs.map((tab) =>
      h(
        "button",
        {
          type: "button",
          role: "tab",
          "data-tab": tab,
          "aria-selected": String(tab === state.tab),
          tabindex: tab === state.tab ? "0" : "-1",
          onclick: () => chooseTab(tab),
          onkeydown: (event) => moveTab(event, tabs),
        },
        label(tab),
      ),
    ),
  );
}

function chooseTab(tab) {
  state.tab = tab;
  renderChrome();
  $(`[data-tab="${tab}"]`).focus();
  resetList();
}

function moveTab(event, tabs) {
  const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
  if (!step) return;
  const next = tabs[(tabs.indexOf(state.tab) + step + tabs.length) % tabs.length];
  chooseTab(next);
}

function signOut() {
  clearSession("member");
  state.live?.stop();
  state.live = null;
  state.session = null;
  location.reload();
}

async function start(session) {
  state.session = session;
  hideSignIn();
  $("#who").textContent = session.userId;
  $("#signout").hidden = false;
  renderChrome();
  state.live = new LiveInbox({
    token: session.token,
    locale: state.locale,
    document: MEMBER.InboxEvents,
    onEvent,
    onStatus: setLiveStatus,
  });
  state.live.start();
  await Promise.all([resetList(), refreshClub()]);
}

async function main() {
  state.config = await pageConfig();
  if (!state.config.locales.includes(state.locale)) state.locale = state.config.defaultLocale;
  $("#locale").addEventListener("change", (event) => {
    state.locale = event.target.value;
    localStorage.setItem("pointclub.locale", state.locale);
    renderChrome();
    state.synced = false; // the reconnect below starts over: its SYNC is not a gap
    state.live?.restart(state.locale);
    refetch();
  });
  $("#mark-all").addEventListener("click", markAll);
  $("#signout").addEventListener("click", signOut);
  $("#bell").addEventListener("click", () => {
    if (state.tab !== "unread") chooseTab("unread");
    $("#inbox").scrollIntoView({ behavior: "smooth" });
  });
  new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting) && state.session) loadMore();
  }, { rootMargin: "200px" }).observe($("#more"));
  // Another tab of this browser signed in or out: follow it.
  window.addEventListener("storage", (event) => {
    if (event.key === "pointclub.session.member") location.reload();
  });
  renderChrome();
  const session = loadSession("member");
  if (session) {
    await start(session);
    return;
  }
  signInPicker({
    config: state.config,
    admin: false,
    onPick: async (account) => {
      const signed = await devSignIn(account.userId, false);
      saveSession("member", signed);
      await start(signed);
    },
  });
}

main().catch((error) => {
  $("#list-state").textContent = error.message;
  $("#list-state").dataset.state = "error";
});
