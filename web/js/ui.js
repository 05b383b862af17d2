// Small DOM helpers both pages use: elements without innerHTML (text stays text), toasts,
// dates, and the sign-in picker.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function $(selector) {
  return document.querySelector(selector);
}

const TOAST_MS = 6000;
const MAX_TOASTS = 3;

export function toast(text, { kind = "info" } = {}) {
  const area = $("#toasts");
  const item = h("div", { class: `toast toast-${kind}`, "data-kind": kind }, text);
  area.append(item);
  while (area.children.length > MAX_TOASTS) area.firstElementChild.remove();
  setTimeout(() => item.remove(), TOAST_MS);
}

export function formatDate(iso, locale) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(locale === "en" ? "en-GB" : "ja-JP", {
    dateStyle: "medium",
    timeStyle: "short",
  }).format(new Date(iso));
}

export function formatNumber(value, locale) {
  return new Intl.NumberFormat(locale === "en" ? "en-US" : "ja-JP").format(value);
}

// The development sign-in: one button per demo account the server offers (none in production,
// where the page says how to get a token instead).
export function signInPicker({ config, admin, onPick }) {
  const dialog = $("#signin");
  const list = $("#signin-accounts");
  const error = $("#signin-error");
  list.replaceChildren();
  error.textContent = "";
  const accounts = config.accounts.filter((account) => account.admin === admin);
  if (!config.development || accounts.length === 0) {
    list.append(h("p", {}, "Sign-in here is for development only: this server issues no tokens."));
  }
  for (const account of accounts) {
    list.append(
      h(
        "button",
        {
          type: "button",
          class: "account",
          "data-user": account.userId,
          onclick: async () => {
            error.textContent = "";
            try {
              await onPick(account);
            } catch (failure) {
              error.textContent = failure.message;
            }
          },
        },
        account.label,
      ),
    );
  }
  dialog.hidden = false;
  list.querySelector("button")?.focus();
}

export function hideSignIn() {
  $("#signin").hidden = true;
}
