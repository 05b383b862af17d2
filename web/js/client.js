// What both pages share: the session (a token in this browser's storage), registered
// operations over HTTP by their sha256, and the live inbox over graphql-transport-ws.

export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

const STORE = "pointclub.session.";

export function loadSession(kind) {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE + kind) ?? "null");
    if (saved && typeof saved.token === "string" && Date.parse(saved.expiresAt) > Date.now()) {
      return saved;
    }
  } catch {
    // A damaged entry is the same as none.
  }
  return null;
}

export function saveSession(kind, session) {
  localStorage.setItem(STORE + kind, JSON.stringify(session));
}

export function clearSession(kind) {
  localStorage.removeItem(STORE + kind);
}

export async function pageConfig() {
  const response = await fetch("/web/config.json");
  if (!response.ok) throw new ApiError(`the page's configuration: ${response.status}`, "UNAVAILABLE");
  return response.json();
}

// Development only: the server signs a token for a demo account (refused in production).
export async function devSignIn(userId, admin) {
  const response = await fetch("/dev/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ userId, admin }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(body.error ?? `sign-in refused (${response.status})`, "FORBIDDEN");
  return { userId, admin, token: body.token, expiresAt: body.expiresAt };
}

// A registered operation by its sha256 (Apollo's persisted query): the text never leaves.
// A request that hangs fails after this long, so a page that waits for it (the console's list,
// a button) is not stuck for good.
const REQUEST_TIMEOUT_MS = 20000;

function unreachable(error) {
  if (error?.name === "TimeoutError") return new ApiError("the server did not answer in time", "UNAVAILABLE");
  return new ApiError("the server cannot be reached", "UNAVAILABLE");
}

export async function send(endpoint, documents, name, variables, { token, locale }) {
  const document = documents[name];
  if (!document) throw new Error(`${name} is not a registered operation`);
  const headers = {
    "Content-Type": "application/json",
    Accept: "application/graphql-response+json, application/json",
    Authorization: `Bearer ${token}`,
  };
  if (locale) headers["Accept-Language"] = locale;
  let response;
  try {
    response = await fetch(endpoint, {
      method: "POST",
      headers,
      body: JSON.stringify({
        operationName: name,
        variables,
        extensions: { persistedQuery: { version: 1, sha256Hash: document.id } },
      }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    throw unreachable(error);
  }
  let payload;
  try {
    payload = await response.json();
  } catch (error) {
    if (error.name === "TimeoutError") throw unreachable(error);
    throw new ApiError(`the server answered ${response.status}`, "UNAVAILABLE");
  }
  if (payload.errors?.length) {
    const first = payload.errors[0];
    throw new ApiError(first.message, first.extensions?.code ?? "ERROR");
  }
  if (!response.ok || !payload.data) {
    throw new ApiError(`the server answered ${response.status}`, "UNAVAILABLE");
  }
  return payload.data;
}

const RETRY_MS = [500, 1000, 2000, 4000, 8000];
// A connection that stays up this long is healthy: the next loss starts the backoff over. (A
// server that accepts and then drops at once must not be reconnected to at the shortest wait.)
const HEALTHY_MS = 10000;

// The live inbox: one subscription, reconnected with backoff until stopped. `onEvent` gets each
// InboxEvent; `onStatus` gets "connecting", "live", "reconnecting" or "signed-out".
export class LiveInbox {
  constructor({ token, locale, document, onEvent, onStatus }) {
    this.token = token;
    this.locale = locale;
    this.document = document;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.healthy = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.healthy);
    this.healthy = null;
    if (this.socket) this.socket.close(1000, "bye");
    this.socket = null;
  }

  restart(locale) {
    this.locale = locale;
    this.stop();
    this.attempt = 0;
    this.start();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/graphql`, "graphql-transport-ws");
    this.socket = socket;
    this.onStatus(this.attempt === 0 ? "connecting" : "reconnecting");
    socket.addEventListener("open", () => {
      socket.send(
        JSON.stringify({
          type: "connection_init",
          payload: { authorization: `Bearer ${this.token}`, acceptLanguage: this.locale },
        }),
      );
    });
    socket.addEventListener("message", (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (frame.type === "connection_ack") {
        socket.send(
          JSON.stringify({
            id: "inbox",
            type: "subscribe",
            payload: { query: this.document.body, operationName: "InboxEvents" },
          }),
        );
      } else if (frame.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      } else if (frame.type === "next" && frame.payload?.data?.inboxEvents) {
        if (this.healthy === null) {
          this.healthy = setTimeout(() => {
            this.attempt = 0;
          }, HEALTHY_MS);
        }
        this.onStatus("live");
        this.onEvent(frame.payload.data.inboxEvents);
      } else if (frame.type === "error" || frame.type === "complete") {
        socket.close(1000, "resubscribe");
      }
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket || this.stopped) return;
      this.socket = null;
      clearTimeout(this.healthy);
      this.healthy = null;
      if (event.code === 4403 || event.code === 4401) {
        this.onStatus("signed-out");
        return;
      }
      this.onStatus("reconnecting");
      // Full jitter: a server restart's clients come back spread over the whole wait.
      const wait = RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)];
      this.attempt += 1;
      this.timer = setTimeout(() => this.connect(), 100 + Math.random() * wait);
    });
  }
}
