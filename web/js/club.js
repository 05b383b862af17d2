// The point-club card: balance, points about to expire, rank with the way to the next one,
// missions with their progress, and the latest history.
import { formatDate, formatNumber, h } from "./ui.js";

const TEXT = {
  ja: {
    balance: "ポイント残高", paid: "購入", free: "無料", expiring: "失効予定", rank: "ランク",
    toNext: (points, rank) => `${rank}まであと${points}ポイント`, top: "最上位ランクです",
    keep: (points, date) => `${date}までに${points}ポイント利用でランク維持`,
    missions: "ミッション", done: "達成", history: "ポイント履歴", none: "まだありません",
    pending: "付与予定", reward: (points) => `報酬 ${points}pt`,
  },
  en: {
    balance: "Balance", paid: "paid", free: "free", expiring: "Expiring", rank: "Rank",
    toNext: (points, rank) => `${points} points to ${rank}`, top: "You hold the top rank",
    keep: (points, date) => `Use ${points} points by ${date} to keep your rank`,
    missions: "Missions", done: "Done", history: "History", none: "Nothing yet",
    pending: "Coming", reward: (points) => `reward ${points} pt`,
  },
};

export function renderClub(root, club, locale) {
  const t = TEXT[locale] ?? TEXT.en;
  const n = (value) => formatNumber(value, locale);
  const day = (iso) => formatDate(iso, locale);
  const next = club.nextRank;
  const progress = next
    ? Math.min(100, Math.round((club.qualifyingPoints / Math.max(1, next.threshold)) * 100))
    : 100;
  root.replaceChildren(
    h(
      "div",
      { class: "balance" },
      h("span", { class: "label" }, t.balance),
      h("strong", { id: "balance", "data-value": String(club.balance) }, `${n(club.balance)} pt`),
      h("span", { class: "split" }, `${t.paid} ${n(club.balanceByKind.paid)} / ${t.free} ${n(club.balanceByKind.free)}`),
    ),
    club.expiring.length
      ? h(
          "div",
          { class: "expiring" },
          h("h3", {}, t.expiring),
          h("ul", {}, ...club.expiring.slice(0, 3).map((lot) => h("li", {}, `${n(lot.amount)} pt · ${day(lot.expiresAt)}`))),
        )
      : null,
    club.pending.length
      ? h("p", { class: "pending" }, `${t.pending}: ${club.pending.map((p) => `${n(p.amount)} pt (${day(p.availableAt)})`).join(", ")}`)
      : null,
    h(
      "div",
      { class: "rank" },
      h("h3", {}, t.rank),
      h("strong", { id: "rank", "data-code": club.rank.code }, club.rank.name),
      h(
        "div",
        {
          class: "meter",
          role: "progressbar",
          "aria-valuemin": "0",
          "aria-valuemax": "100",
          "aria-valuenow": String(progress),
          "aria-label": next ? t.toNext(n(club.pointsToNextRank ?? 0), next.name) : t.top,
        },
        h("span", { class: "fill", "data-width": String(progress) }),
      ),
      h("p", {}, next ? t.toNext(n(club.pointsToNextRank ?? 0), next.name) : t.top),
      club.outlook.pointsToKeepRank > 0
        ? h("p", { class: "hint" }, t.keep(n(club.outlook.pointsToKeepRank), day(club.outlook.keepRankBy)))
        : null,
    ),
    h(
      "div",
      { class: "missions" },
      h("h3", {}, t.missions),
      club.missions.edges.length
        ? h("ul", {}, ...club.missions.edges.map(({ node }) => mission(node, t, n)))
        : h("p", { class: "hint" }, t.none),
    ),
    h(
      "div",
      { class: "history" },
      h("h3", {}, t.history),
      club.history.edges.length
        ? h(
            "ul",
            {},
            ...club.history.edges.map(({ node }) =>
              h(
                "li",
                { class: node.amount < 0 ? "minus" : "plus" },
                h("span", {}, node.description ?? node.kind),
                h("span", { class: "amount" }, `${node.amount > 0 ? "+" : ""}${n(node.amount)}`),
                h("span", { class: "when" }, day(node.occurredAt)),
              ),
            ),
          )
        : h("p", { class: "hint" }, t.none),
    ),
  );
  // Widths set from script, not inline style attributes: the page's CSP allows no inline style.
  for (const fill of root.querySelectorAll(".fill")) fill.style.width = `${fill.dataset.width}%`;
}

function mission(node, t, n) {
  const percent = Math.min(100, Math.round((node.progress / Math.max(1, node.goal.target)) * 100));
  return h(
    "li",
    { class: `mission ${node.completedAt ? "complete" : ""}`, "data-id": node.id },
    h("strong", {}, node.title),
    h("span", { class: "reward" }, node.completedAt ? t.done : t.reward(n(node.reward))),
    h("p", {}, node.body),
    h(
      "div",
      {
        class: "meter",
        role: "progressbar",
        "aria-valuemin": "0",
        "aria-valuemax": String(node.goal.target),
        "aria-valuenow": String(node.progress),
        "aria-label": node.title,
      },
      h("span", { class: "fill", "data-width": String(percent) }),
    ),
    h("span", { class: "count" }, `${n(node.progress)} / ${n(node.goal.target)}`),
  );
}
