// Usage page: requests, tokens and cost over 1 h / 24 h / 7 d / 30 d, split by provider, model,
// key or account, as stacked-bar charts (our inline SVG) and a totals table.

import { get } from "../api.js";
import { legend, PALETTE_SIZE, stackedBars } from "../chart.js";
import {
  card, el, empty, errorBox, field, fmtCompact, fmtCost, fmtNum, fmtPct, fmtSumCost, keepFocus, loading, mount, poll, select, table,
} from "../dom.js";

const WINDOWS = ["1h", "24h", "7d", "30d"];
const SPLITS = [["provider", "Provider"], ["model", "Model"], ["key", "Key"], ["account", "Account"], ["", "Nothing (ok / failed)"]];
const MAX_SERIES = PALETTE_SIZE - 1; // the rest are summed as "other"
const LIVE_MS = 10_000;

const tokensOf = (c) => (Number(c.input_tokens) || 0) + (Number(c.output_tokens) || 0);

export function render(root, ctx) {
  const win = WINDOWS.includes(ctx.params.get("window")) ? ctx.params.get("window") : "24h";
  const by = ctx.params.has("by") ? ctx.params.get("by") : "provider";

  const seg = el(
    "div",
    { class: "segmented", role: "group", "aria-label": "Time window" },
    WINDOWS.map((w) => el("button", { type: "button", "aria-pressed": String(w === win), onclick: () => ctx.navigate("usage", { window: w, by }) }, w)),
  );
  const split = select(SPLITS, { name: "by", value: by });
  split.addEventListener("change", () => ctx.navigate("usage", { window: win, by: split.value }));

  const totals = el("div", { class: "stats", id: "usage-totals" }, loading());
  const charts = el("div", { class: "grid three", id: "usage-charts" });
  const groups = el("div", { id: "usage-groups" });
  mount(
    root,
    el("div", { class: "toolbar" }, el("div", { class: "field seg-field" }, el("span", { class: "sr-only" }, "Window"), seg), field("Split by", split)),
    totals,
    charts,
    card(by ? `By ${SPLITS.find(([v]) => v === by)?.[1].toLowerCase()}` : "Totals", {}, groups),
  );

  async function load() {
    try {
      const s = await get("/api/usage/summary", { window: win, by: by || undefined });
      keepFocus(root, () => draw(s));
      ctx.setStatus(`${new Date(s.from).toLocaleString()} – ${new Date(s.to).toLocaleTimeString()}`);
    } catch (e) {
      mount(totals, errorBox(e, load));
      charts.replaceChildren();
      groups.replaceChildren();
    }
  }

  function draw(s) {
    const t = s.totals || {};
    const stat = (label, value, note, id) => el("div", { class: "stat", "data-stat": id }, el("span", { class: "label" }, label), el("span", { class: "value" }, value), note ? el("span", { class: "note" }, note) : null);
    mount(
      totals,
      stat("Requests", fmtNum(t.requests), `in the last ${win}`, "requests"),
      stat("Failed", fmtNum(t.errors), t.requests ? `${fmtPct(t.errors / t.requests)} of requests` : "—", "errors"),
      stat("Tokens", fmtCompact(tokensOf(t)), `${fmtCompact(t.input_tokens)} in · ${fmtCompact(t.output_tokens)} out`, "tokens"),
      stat("Cost", fmtSumCost(t.cost, t.unpriced_requests), costNote(t), "cost"),
    );

    const buckets = (s.buckets || []).map((b) => b.ts);
    const xLabel = labeller(s.bucket_ms || 3_600_000, win);
    if (!t.requests) {
      mount(charts, card(null, { cls: "wide" }, empty(`No requests in the last ${win}.`)));
      mount(groups, empty("Nothing to split yet."));
      return;
    }
    const series = seriesOf(s, buckets);
    const names = series.map((x) => x.name);
    const chart = (title, metric, yFormat) =>
      card(
        title,
        {},
        stackedBars({
          buckets,
          series: series.map((x) => ({ name: x.name, values: x.rows.map(metric) })),
          xLabel,
          yFormat,
          label: `${title} per ${fmtBucket(s.bucket_ms)} over the last ${win}, by ${by || "outcome"}`,
        }),
        legend(names),
      );
    mount(
      charts,
      chart("Requests", (c) => (c ? c.requests : 0), fmtCompact),
      chart("Tokens", (c) => (c ? tokensOf(c) : 0), fmtCompact),
      chart("Cost", (c) => (c ? Number(c.cost) || 0 : 0), (v) => fmtCost(v)),
    );
    drawGroups(s, t);
  }

  function drawGroups(s, t) {
    const rows = by ? s.groups || [] : [{ key: "all requests", totals: t }];
    if (!rows.length) {
      mount(groups, empty("No groups."));
      return;
    }
    mount(
      groups,
      table(
        [
          { label: by ? SPLITS.find(([v]) => v === by)[1] : "", cls: "wrap", cell: (g) => el("strong", {}, g.key ?? "(none)") },
          { label: "Requests", cls: "num", cell: (g) => fmtNum(g.totals.requests) },
          { label: "Failed", cls: "num", cell: (g) => `${fmtNum(g.totals.errors)} (${fmtPct(g.totals.requests ? g.totals.errors / g.totals.requests : 0)})` },
          { label: "Input tokens", cls: "num", cell: (g) => fmtNum(g.totals.input_tokens) },
          { label: "Output tokens", cls: "num", cell: (g) => fmtNum(g.totals.output_tokens) },
          { label: "Cache read", cls: "num", cell: (g) => fmtNum(g.totals.cache_read_tokens) },
          { label: "Cost", cls: "num", cell: (g) => groupCost(g.totals) },
          { label: "Share", cls: "num", cell: (g) => fmtPct(t.requests ? g.totals.requests / t.requests : 0) },
        ],
        rows,
        { rowAttrs: (g) => ({ "data-group": g.key ?? "" }), caption: "Usage totals per group" },
      ),
    );
  }

  return win === "1h" || win === "24h" ? poll(load, LIVE_MS) : (load(), undefined);

  /** Series for the charts: one per group (top ones, the rest as "other"), each aligned with `buckets`. */
  function seriesOf(s, bucketTs) {
    const index = new Map(bucketTs.map((ts, i) => [ts, i]));
    const dense = (sparse) => {
      const rows = new Array(bucketTs.length).fill(null);
      for (const b of sparse || []) {
        const i = index.get(b.ts);
        if (i !== undefined) rows[i] = b;
      }
      return rows;
    };
    if (!by) {
      const rows = s.buckets || [];
      const part = (f) => rows.map((b) => f(b));
      return [
        { name: "succeeded", rows: part((b) => ({ requests: b.requests - b.errors, input_tokens: b.input_tokens, output_tokens: b.output_tokens, cost: b.cost })) },
        { name: "failed", rows: part((b) => ({ requests: b.errors, input_tokens: 0, output_tokens: 0, cost: 0 })) },
      ];
    }
    const groupsList = s.groups || [];
    const top = groupsList.slice(0, MAX_SERIES).map((g) => ({ name: g.key ?? "(none)", rows: dense(g.buckets) }));
    const rest = groupsList.slice(MAX_SERIES);
    if (rest.length) {
      const rows = new Array(bucketTs.length).fill(null).map(() => ({ requests: 0, errors: 0, input_tokens: 0, output_tokens: 0, cost: 0 }));
      for (const g of rest) {
        dense(g.buckets).forEach((b, i) => {
          if (!b) return;
          for (const k of Object.keys(rows[i])) rows[i][k] += Number(b[k]) || 0;
        });
      }
      top.push({ name: `${rest.length} other${rest.length > 1 ? "s" : ""}`, rows });
    }
    return top;
  }
}

/** What the cost total leaves out or saves: unpriced requests (unknown, never $0), subscriptions at list price. */
function costNote(t) {
  const parts = [];
  if (t.unpriced_requests) parts.push(`${fmtNum(t.unpriced_requests)} unpriced`);
  if (t.list_cost) parts.push(`subscriptions: list ${fmtCost(t.list_cost)}`);
  return parts.length ? parts.join(" · ") : "priced requests";
}

/** A group's cost, with its unpriced requests and subscription list price beside it. */
function groupCost(t) {
  const extra = [];
  if (t.unpriced_requests) extra.push(`${fmtNum(t.unpriced_requests)} unpriced`);
  if (t.list_cost) extra.push(`list ${fmtCost(t.list_cost)}`);
  const sum = fmtSumCost(t.cost, t.unpriced_requests);
  return extra.length ? el("span", {}, sum, el("span", { class: "cell-sub" }, ` (${extra.join(", ")})`)) : sum;
}

function fmtBucket(ms) {
  if (ms >= 86_400_000) return "day";
  if (ms >= 3_600_000) return "hour";
  return `${Math.round(ms / 60_000)} minutes`;
}

/** Bucket start → a short local label: a time of day for short windows, a date for long ones. */
function labeller(bucketMs, win) {
  // Day buckets are UTC days (the server aligns buckets to the epoch): name the day itself.
  if (bucketMs >= 86_400_000) return (t) => new Date(t).toLocaleDateString([], { month: "short", day: "numeric", timeZone: "UTC" });
  if (win === "7d" || win === "30d") return (t) => new Date(t).toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" });
  return (t) => new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
