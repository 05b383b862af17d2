// The operator console: compose a notification per locale with a preview of what a member sees,
// choose its audience (a member, or a segment with its size), publish or schedule it, and follow
// the list by state with delivery and read statistics; recall with a reason, amend content.
import { OPERATOR } from "./documents.js";
import {
  ApiError,
  clearSession,
  devSignIn,
  loadSession,
  pageConfig,
  saveSession,
  send,
} from "./client.js";
import { $, formatDate, formatNumber, h, hideSignIn, signInPicker, toast } from "./ui.js";

const STATES = ["ALL", "DRAFT", "SCHEDULED", "PREPARING", "PUBLISHED", "RECALLED"];
const REFRESH_MS = 3000;
const PAGE = 50;
const REFRESH_PAGE = 100; // the largest page the admin API gives

const state = {
  config: null,
  session: null,
  filter: "ALL",
  rows: [],
  cursor: null,
  hasNext: false,
  generation: 0, // bumped by every change of what the list holds: older answers are dropped
  segmentPreview: 0, // bumped by every change of the new segment's rule: older counts are dropped
  segmentsAsked: 0, // reads of the segment list asked for, and the newest one shown
  segmentsShown: 0,
  listBusy: false, // one read of the list at a time (a page, or the refresh)
  moreWanted: false, // "More" was pressed while the list was being read
  replace: false, // the next first page replaces the rows on screen
  rowElements: new Map(), // id -> { tr, shape, notification }: a refresh updates rows in place
  amending: null, // the notification whose content the form edits
  previewLocale: "ja",
  segments: [],
  idempotencyKey: null, // one per notification sent (keyFor): a retry makes one notification
  keyInput: null, // what that key was made for
  created: null, // { key, notification }: created with this key, not yet scheduled
  loaded: false,
};

// A random key (crypto.randomUUID needs a secure context; a LAN address over http is not one).
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

function api(name, variables = {}) {
  return send("/admin/graphql", OPERATOR, name, variables, { token: state.session.token }).catch(
    (error) => {
      if (error instanceof ApiError && (error.code === "UNAUTHENTICATED" || error.code === "FORBIDDEN")) {
        toast(error.message, { kind: "error" });
        if (error.code === "UNAUTHENTICATED") signOut();
      }
      throw error;
    },
  );
}

// ---- the form

function value(id) {
  return $(`#${id}`).value.trim();
}

function contents() {
  const list = [{ locale: "ja", title: value("title-ja"), body: value("body-ja") }];
  if (value("title-en") || value("body-en")) {
    list.push({ locale: "en", title: value("title-en"), body: value("body-en") });
  }
  return list;
}

function audience() {
  const kind = document.querySelector('input[name="audience"]:checked').value;
  if (kind === "USER") return { kind, userId: value("user-id") };
  return { kind, segment: $("#segment").value, rule: $("#rule").value };
}

function showErrors(errors) {
  $("#form-errors").replaceChildren(
    ...errors.map((error) => h("li", {}, error.field ? `${error.field}: ${error.message}` : error.message)),
  );
}

function readForm() {
  const input = {
    category: $("#category").value,
    priority: $("#priority").value,
    contents: contents(),
    audience: audience(),
    url: value("url") || null,
  };
  const errors = [];
  if (!input.contents[0].title) errors.push({ field: "contents.ja.title", message: "a title is required" });
  if (input.audience.kind === "USER" && !input.audience.userId) errors.push({ field: "audience.userId", message: "name the member" });
  if (input.audience.kind === "SEGMENT" && !input.audience.segment) errors.push({ field: "audience.segment", message: "choose a segment (or create one)" });
  return { input, errors };
}

function when() {
  if (document.querySelector('input[name="when"]:checked').value === "now") return new Date();
  const at = $("#visible-from").value;
  return at ? new Date(at) : null;
}

async function submit(event, publish) {
  event?.preventDefault();
  if (state.amending) return amend();
  const { input, errors } = readForm();
  const at = publish ? when() : null;
  if (publish && !at) errors.push({ field: "visibleFrom", message: "choose when" });
  showErrors(errors);
  if (errors.length) return;
  setBusy(true);
  try {
    // Created already (the schedule failed, the operator presses again): schedule that one.
    const key = keyFor(input);
    let notification = state.created?.key === key ? state.created.notification : null;
    if (!notification) {
      const created = (await api("CreateNotification", { input, idempotencyKey: key })).createNotification;
      if (created.userErrors.length) return showErrors(created.userErrors);
      notification = created.notification;
      state.created = { key, notification };
    }
    if (publish) {
      const draft = notification.id;
      try {
        const scheduled = (await api("ScheduleNotification", { id: draft, visibleFrom: at.toISOString() })).scheduleNotification;
        if (scheduled.userErrors.length) {
          return showErrors([...scheduled.userErrors, { message: `${draft} is saved as a draft meanwhile` }]);
        }
        notification = scheduled.notification;
      } catch (error) {
        reloadRows();
        return showErrors([{ message: `${draft} is saved as a draft; scheduling it failed (${error.message}): press again to retry` }]);
      }
    }
    toast(publish ? `${notification.id}: ${notification.state} from ${formatDate(notification.visibleFrom, "en")}` : `${notification.id}: saved as a draft`);
    resetForm();
    await reloadRows();
  } catch (error) {
    showErrors([{ message: error.message }]);
  } finally {
    setBusy(false);
  }
}

async function amend() {
  const { input, errors } = readForm();
  showErrors(errors);
  if (errors.length) return;
  setBusy(true);
  try {
    const result = (await api("UpdateNotification", { id: state.amending.id, input: { contents: input.contents } })).updateNotification;
    if (result.userErrors.length) return showErrors(result.userErrors);
    toast(`${state.amending.id}: content amended`);
    resetForm();
    await reloadRows();
  } catch (error) {
    showErrors([{ message: error.message }]);
  } finally {
    setBusy(false);
  }
}

function setBusy(busy) {
  for (const id of ["publish", "save-draft", "cancel-amend"]) $(`#${id}`).disabled = busy;
}

// One key per notification sent: pressing again with the same notification (an answer that was
// lost, a schedule that failed, another time chosen) creates nothing more; another content,
// audience or category is another notification, with a new key.
function keyFor(input) {
  const sent = JSON.stringify(input);
  if (state.keyInput !== sent) {
    state.keyInput = sent;
    state.idempotencyKey = newKey();
    state.created = null;
  }
  return state.idempotencyKey;
}

function resetForm() {
  state.amending = null;
  state.keyInput = null;
  state.created = null;
  for (const id of ["title-ja", "body-ja", "title-en", "body-en", "url"]) $(`#${id}`).value = "";
  $("#compose-title").textContent = "New notification";
  $("#publish").textContent = "Publish";
  $("#save-draft").hidden = false;
  $("#cancel-amend").hidden = true;
  $("#audience-box").disabled = false;
  showErrors([]);
  renderPreview();
}

function startAmend(notification) {
  if (!notification) return;
  state.amending = notification;
  const by = Object.fromEntries(notification.contents.map((content) => [content.locale, content]));
  $("#title-ja").value = by.ja?.title ?? "";
  $("#body-ja").value = by.ja?.body ?? "";
  $("#title-en").value = by.en?.title ?? "";
  $("#body-en").value = by.en?.body ?? "";
  $("#compose-title").textContent = `Amend ${notification.id}`;
  $("#publish").textContent = "Save content";
  $("#save-draft").hidden = true;
  $("#cancel-amend").hidden = false;
  $("#audience-box").disabled = true;
  renderPreview();
  $("#title-ja").focus();
}

// ---- the preview: the item as the member's inbox draws it

function renderPreview() {
  const list = contents();
  const chosen = list.find((content) => content.locale === state.previewLocale) ?? list[0];
  const priority = $("#priority").value.toLowerCase();
  $("#preview").replaceChildren(
    h(
      "div",
      { class: `item unread priority-${priority}` },
      h("div", { class: "item-title" }, h("span", { class: "dot" }), h("span", { class: "title", id: "preview-title-text" }, chosen.title || "(no title)")),
      h("span", { class: "meta" }, `${$("#category").value} · ${formatDate(new Date().toISOString(), state.previewLocale)}`),
      h("div", { class: "item-body", id: "preview-body-text" }, chosen.body),
      chosen.locale !== state.previewLocale ? h("p", { class: "hint" }, "No content in this locale: members see the Japanese.") : null,
    ),
  );
  for (const tab of document.querySelectorAll("[data-locale]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.locale === state.previewLocale));
  }
}

// ---- audiences

// The sign-in's read and a read after a create may answer in either order: an answer older than
// the one on screen is dropped (it could lack the new segment and move the choice to another).
// The choice stays on ``select``, else on what the operator had chosen, if the list still has it.
async function loadSegments(select) {
  const asked = ++state.segmentsAsked;
  const data = await api("Segments");
  if (asked < state.segmentsShown) return;
  state.segmentsShown = asked;
  state.segments = data.segments;
  const segment = $("#segment");
  const chosen = select || segment.value;
  segment.replaceChildren(
    ...state.segments.map((item) => h("option", { value: item.name }, `${item.name} (${item.size === null ? "?" : formatNumber(item.size, "en")} members)`)),
  );
  if (state.segments.some((item) => item.name === chosen)) segment.value = chosen;
  showSegmentSize();
}

function showSegmentSize() {
  const chosen = state.segments.find((item) => item.name === $("#segment").value);
  $("#segment-size").textContent = chosen
    ? `${chosen.name}: ${chosen.size === null ? "size unknown" : `${formatNumber(chosen.size, "en")} members now`}`
    : "No segment yet: create one below.";
}

function newSegmentRule() {
  const kind = $("#new-segment-kind").value;
  if (kind === "ALL_MEMBERS") return { kind };
  const ranks = [...document.querySelectorAll("#new-segment-ranks input:checked")].map((box) => box.value);
  return { kind, ranks };
}

// Each change of the rule asks again; only the answer to the latest rule is shown, so a slow
// count for an earlier rule (the whole membership, asked on sign-in) cannot land over it.
async function previewNewSegment() {
  const asked = ++state.segmentPreview;
  const shown = $("#new-segment-size");
  $("#new-segment-ranks").hidden = $("#new-segment-kind").value !== "RANKS";
  const rule = newSegmentRule();
  if (rule.kind === "RANKS" && !rule.ranks.length) {
    shown.textContent = "Choose at least one rank.";
    return;
  }
  shown.textContent = "Counting…";
  let text;
  try {
    text = `${formatNumber((await api("SegmentSize", { rule })).segmentSize, "en")} members now`;
  } catch (error) {
    text = error.message;
  }
  if (asked === state.segmentPreview) shown.textContent = text;
}

// One create at a time: a second click while the first travels would send the same name again,
// and its "already exists" could land after the success.
async function createSegment() {
  const button = $("#create-segment");
  if (button.disabled) return;
  button.disabled = true;
  try {
    const result = (await api("CreateSegment", { input: { name: value("new-segment-name"), rule: newSegmentRule() } })).createSegment;
    if (result.userErrors.length) return showErrors(result.userErrors);
    showErrors([]);
    toast(`segment ${result.segment.name} created`);
    await loadSegments(result.segment.name);
  } catch (error) {
    showErrors([{ message: error.message }]);
  } finally {
    button.disabled = false;
  }
}

// ---- the list

// After an action the rows on screen stay until the first page replaces them; another filter
// clears them at once.
async function reloadRows({ clear = false } = {}) {
  state.generation += 1;
  state.cursor = null;
  state.replace = true;
  state.listBusy = false;
  state.moreWanted = false;
  if (clear) {
    state.rows = [];
    renderRows();
  }
  await loadRows();
}

async function loadRows() {
  if (state.listBusy) {
    state.moreWanted = true; // after the refresh that is on its way
    return;
  }
  state.listBusy = true;
  const generation = state.generation;
  const line = $("#list-state");
  try {
    const data = await api("Notifications", {
      first: PAGE,
      after: state.cursor,
      state: state.filter === "ALL" ? null : state.filter,
    });
    if (generation !== state.generation) return;
    if (state.replace) state.rows = [];
    state.replace = false;
    const known = new Set(state.rows.map((row) => row.id));
    state.rows.push(...data.notifications.edges.map((edge) => edge.node).filter((node) => !known.has(node.id)));
    state.cursor = data.notifications.pageInfo.endCursor ?? state.cursor;
    state.hasNext = data.notifications.pageInfo.hasNextPage;
    state.loaded = true;
    line.dataset.state = state.rows.length ? "ok" : "empty";
    line.textContent = state.rows.length ? "" : "Nothing here.";
    renderRows();
  } catch (error) {
    if (generation !== state.generation) return;
    line.dataset.state = "error";
    line.textContent = error.message;
    if (!state.rows.length) renderRows(); // not the rows of another filter
  } finally {
    if (generation === state.generation) state.listBusy = false;
  }
  if (state.moreWanted && !state.listBusy && state.hasNext) {
    state.moreWanted = false;
    loadRows();
  }
}

// Statistics move while the fan-out and the reads go on: every loaded row is read again (in
// pages, as many as are loaded), and the figures change in place: an open recall box and its
// typed reason stay.
async function refreshRows() {
  if (!state.session || document.hidden || !state.loaded || state.listBusy) return;
  state.listBusy = true;
  const generation = state.generation;
  const rows = [];
  let after = null;
  let hasNext = true;
  try {
    while (hasNext && rows.length < Math.max(PAGE, state.rows.length)) {
      const data = await api("Notifications", {
        first: REFRESH_PAGE,
        after,
        state: state.filter === "ALL" ? null : state.filter,
      });
      if (generation !== state.generation) return;
      const known = new Set(rows.map((row) => row.id));
      rows.push(...data.notifications.edges.map((edge) => edge.node).filter((node) => !known.has(node.id)));
      after = data.notifications.pageInfo.endCursor ?? after;
      hasNext = data.notifications.pageInfo.hasNextPage;
    }
    state.rows = rows;
    state.replace = false;
    state.cursor = after;
    state.hasNext = hasNext;
    renderRows();
  } catch {
    // The next refresh tries again; a failed action says so itself.
  } finally {
    if (generation === state.generation) state.listBusy = false;
  }
  if (state.moreWanted && !state.listBusy) {
    state.moreWanted = false;
    loadRows();
  }
}

function titleOf(notification) {
  return (notification.contents.find((content) => content.locale === "ja") ?? notification.contents[0])?.title ?? "";
}

function audienceText(audience) {
  if (audience.kind === "USER") return `member ${audience.userId}`;
  return `segment ${audience.segment}${audience.rule === "LIVE" ? " (live)" : ""}`;
}

// The row as last shown: what its buttons act on.
const current = (id) => state.rowElements.get(id)?.notification;

// Rows are kept by id: a row whose actions do not change is updated in place and not moved, so
// a refresh does not close an open recall box or take the focus from its reason.
function renderRows() {
  const body = $("#rows");
  const wanted = state.rows.map((notification) => {
    const shape = `${notification.state === "DRAFT"}/${notification.state === "RECALLED"}`;
    let entry = state.rowElements.get(notification.id);
    if (!entry || entry.shape !== shape) {
      entry = { tr: renderRow(notification), shape };
      state.rowElements.set(notification.id, entry);
    }
    entry.notification = notification;
    fillRow(entry.tr, notification);
    return entry.tr;
  });
  const keep = new Set(wanted);
  for (const [id, entry] of state.rowElements) {
    if (!keep.has(entry.tr)) state.rowElements.delete(id);
  }
  for (const tr of [...body.children]) {
    if (!keep.has(tr)) tr.remove(); // gone, or redrawn with other actions
  }
  let next = body.firstChild;
  for (const tr of wanted) {
    if (tr === next) next = next.nextSibling;
    else body.insertBefore(tr, next);
  }
  $("#more-rows").hidden = !state.hasNext;
}

function fillRow(tr, notification) {
  const stats = notification.stats;
  tr.dataset.state = notification.state;
  const cells = tr.children;
  cells[0].replaceChildren(titleOf(notification), h("div", { class: "hint" }, `${notification.id} · ${notification.category}`));
  cells[1].replaceChildren(h("span", { class: "state-tag", "data-state": notification.state }, notification.state));
  cells[2].textContent = audienceText(notification.audience);
  cells[3].textContent = formatDate(notification.visibleFrom, "en");
  cells[4].textContent = formatNumber(stats.targeted, "en");
  cells[5].textContent = formatNumber(stats.delivered, "en");
  cells[6].textContent = `${formatNumber(stats.read, "en")} (${Math.round(stats.readRate * 100)}%)`;
}

// A row's cells, and its actions by state; the actions act on the row as last read.
function renderRow(notification) {
  const id = notification.id;
  const recallBox = h("div", { class: "row recall-box", hidden: true });
  const actions = h("td", { class: "actions" });
  if (notification.state === "DRAFT") {
    actions.append(h("button", { type: "button", class: "publish", onclick: (event) => guard(event.currentTarget, () => publishDraft(current(id))) }, "Publish"));
  }
  if (notification.state !== "RECALLED") {
    actions.append(h("button", { type: "button", class: "amend", onclick: () => startAmend(current(id)) }, "Amend"));
    actions.append(
      h("button", {
        type: "button",
        class: "danger recall",
        onclick: () => {
          recallBox.hidden = !recallBox.hidden;
          recallBox.querySelector("input")?.focus();
        },
      }, "Recall"),
    );
    const reason = h("input", { type: "text", maxlength: "500", "aria-label": "Reason for the recall", placeholder: "Reason" });
    recallBox.append(reason, h("button", { type: "button", class: "danger confirm-recall", onclick: (event) => guard(event.currentTarget, () => recall(current(id), reason.value)) }, "Recall now"));
    actions.append(recallBox);
  }
  return h(
    "tr",
    { "data-id": id },
    h("td", {}),
    h("td", {}),
    h("td", { class: "wide" }),
    h("td", { class: "wide" }),
    h("td", { class: "num targeted" }),
    h("td", { class: "num delivered" }),
    h("td", { class: "num read" }),
    actions,
  );
}

// A row's button is off while its request is out: a double click sends one request. A row
// that is no longer shown does nothing.
async function guard(button, action) {
  if (button.disabled) return;
  button.disabled = true;
  try {
    await action();
  } finally {
    button.disabled = false;
  }
}

async function publishDraft(notification) {
  if (!notification) return;
  try {
    const result = (await api("ScheduleNotification", { id: notification.id, visibleFrom: new Date().toISOString() })).scheduleNotification;
    if (result.userErrors.length) throw new Error(result.userErrors[0].message);
    toast(`${notification.id}: scheduled now`);
    await reloadRows();
  } catch (error) {
    toast(`${notification.id}: ${error.message}`, { kind: "error" });
  }
}

async function recall(notification, reason) {
  if (!notification) return;
  if (!reason.trim()) {
    toast("Give a reason for the recall", { kind: "error" });
    return;
  }
  try {
    const result = (await api("RecallNotification", { id: notification.id, reason: reason.trim() })).recallNotification;
    if (result.userErrors.length) throw new Error(result.userErrors[0].message);
    toast(`${notification.id}: recalled`);
    await reloadRows();
  } catch (error) {
    toast(`${notification.id}: ${error.message}`, { kind: "error" });
  }
}

function renderStates() {
  $("#states").replaceChildren(
    ...STATES.map((name) =>
      h("button", {
        type: "button",
        role: "tab",
        "data-state": name,
        "aria-selected": String(name === state.filter),
        onclick: () => {
          state.filter = name;
          renderStates();
          reloadRows({ clear: true });
        },
      }, name === "ALL" ? "All" : name),
    ),
  );
}

// ---- the page

function signOut() {
  clearSession("operator");
  location.reload();
}

async function start(session) {
  state.session = session;
  hideSignIn();
  $("#who").textContent = session.userId;
  $("#signout").hidden = false;
  renderStates();
  // The segment list failing to load must not keep the list of notifications from refreshing.
  const segments = loadSegments().catch((error) => {
    $("#segment-size").textContent = `segments: ${error.message}`;
  });
  await Promise.all([reloadRows({ clear: true }), segments, previewNewSegment()]);
  setInterval(refreshRows, REFRESH_MS);
}

async function main() {
  state.config = await pageConfig();
  $("#category").replaceChildren(...state.config.categories.map((name) => h("option", { value: name }, name)));
  $("#new-segment-ranks").replaceChildren(
    ...state.config.ranks.map((code) => h("label", {}, h("input", { type: "checkbox", value: code }), ` ${code}`)),
  );
  $("#compose").addEventListener("submit", (event) => submit(event, true));
  $("#compose").addEventListener("input", renderPreview);
  $("#save-draft").addEventListener("click", (event) => submit(event, false));
  $("#cancel-amend").addEventListener("click", resetForm);
  $("#more-rows").addEventListener("click", loadRows);
  $("#segment").addEventListener("change", showSegmentSize);
  $("#new-segment-kind").addEventListener("change", previewNewSegment);
  $("#new-segment-ranks").addEventListener("change", previewNewSegment);
  $("#create-segment").addEventListener("click", createSegment);
  for (const radio of document.querySelectorAll('input[name="audience"]')) {
    radio.addEventListener("change", () => {
      const segment = audience().kind === "SEGMENT";
      $("#segment-field").hidden = !segment;
      $("#user-field").hidden = segment;
    });
  }
  for (const radio of document.querySelectorAll('input[name="when"]')) {
    radio.addEventListener("change", () => {
      $("#visible-from").disabled = document.querySelector('input[name="when"]:checked').value === "now";
      $("#publish").textContent = $("#visible-from").disabled ? "Publish" : "Schedule";
    });
  }
  for (const tab of document.querySelectorAll("[data-locale]")) {
    tab.addEventListener("click", () => {
      state.previewLocale = tab.dataset.locale;
      renderPreview();
    });
  }
  // Another tab of this browser signed in or out: follow it.
  window.addEventListener("storage", (event) => {
    if (event.key === "pointclub.session.operator") location.reload();
  });
  renderPreview();
  const session = loadSession("operator");
  if (session) {
    await start(session);
    return;
  }
  signInPicker({
    config: state.config,
    admin: true,
    onPick: async (account) => {
      const signed = await devSignIn(account.userId, true);
      saveSession("operator", signed);
      await start(signed);
    },
  });
}

main().catch((error) => {
  $("#list-state").textContent = error.message;
  $("#list-state").dataset.state = "error";
});
