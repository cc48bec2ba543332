// Overview page: requests per minute, error rate, tokens and cost today, requests in flight, top
// models and the accounts at a glance; refreshed every few seconds while shown.

import { get } from "../api.js";
import { barList, sparkline } from "../chart.js";
import {
  badge, card, el, empty, errorBox, fmtCompact, fmtCost, fmtDuration, fmtNum, fmtPct, fmtSumCost, keepFocus, loading, mount, poll,
  startOfToday, statusBadge, table, timeEl,
} from "../dom.js";

const REFRESH_MS = 3000;

export function render(root, ctx) {
  const stats = el("div", { class: "stats", id: "overview-stats" }, loading());
  const top = el("div", { id: "top-models" }, loading());
  const accounts = el("div", { id: "overview-accounts" }, loading());
  const errors = el("div", { id: "recent-errors" }, loading());
  const problem = el("div");
  mount(
    root,
    problem,
    stats,
    el(
      "div",
      { class: "grid two" },
      card("Top models today", { actions: [el("a", { href: "#/usage" }, "Usage →")] }, top),
      card("Accounts", { actions: ctx.admin ? [el("a", { href: "#/providers" }, "Providers →")] : [] }, accounts),
    ),
    card("Recent errors", { actions: [el("a", { href: "#/requests?status=error" }, "All requests →")] }, errors),
  );

  async function refresh() {
    try {
      const [status, acc, traffic] = await Promise.all([get("/api/status"), get("/api/accounts"), loadTraffic()]);
      problem.replaceChildren();
      keepFocus(root, () => {
        drawStats(status, acc, traffic);
        drawTop(traffic.models);
        drawAccounts(acc);
        drawErrors(traffic.errors);
      });
      ctx.setStatus(`updated ${new Date().toLocaleTimeString()}`);
    } catch (e) {
      mount(problem, errorBox(e, refresh));
    }
  }

  /**
   * Traffic figures: the last hour in 5-minute buckets (the trend and the error rate), and the
   * last 24 h in hourly buckets by model (today's tokens, cost and models: answered from the
   * hourly rollups, so it stays fast however many requests are kept), plus the last minute's.
   */
  async function loadTraffic() {
    const today = startOfToday();
    const [h, s, recent, failed] = await Promise.all([
      get("/api/usage/summary", { window: "1h", bucket: "5m" }),
      get("/api/usage/summary", { window: "24h", bucket: "1h", by: "model" }),
      get("/api/requests", { since: "60s", limit: 500 }),
      get("/api/requests", { status: "error", limit: 8 }),
    ]);
    const out = {
      lastMin: recent.items.length,
      lastMinMore: recent.next_cursor != null,
      perMinute: (h.buckets || []).map((b) => b.requests / 5),
      hour: h.totals?.requests || 0,
      hourErrors: h.totals?.errors || 0,
      tokens: 0,
      cost: 0,
      unpriced: 0,
      models: [],
      errors: failed.items,
    };
    // Hourly buckets: "today" starts at the first whole hour from local midnight.
    for (const b of s.buckets || []) {
      if (b.ts >= today) {
        out.tokens += (b.input_tokens || 0) + (b.output_tokens || 0);
        out.cost += Number(b.cost) || 0;
        out.unpriced += b.unpriced_requests || 0;
      }
    }
    for (const g of s.groups || []) {
      const m = { model: g.key ?? "(none)", requests: 0, cost: 0 };
      for (const b of g.buckets || []) {
        if (b.ts < today) continue;
        m.requests += b.requests;
        m.cost += Number(b.cost) || 0;
      }
      if (m.requests) out.models.push(m);
    }
    out.models.sort((a, b) => b.requests - a.requests);
    out.models = out.models.slice(0, 8);
    return out;
  }

  function drawStats(status, acc, t) {
    const inFlight = acc.accounts.reduce((n, a) => n + (a.in_flight || 0), 0);
    const errRate = t.hour ? t.hourErrors / t.hour : null;
    const stat = (label, value, note, extra, id) =>
      el("div", { class: "stat", "data-stat": id }, el("span", { class: "label" }, label), el("span", { class: "value" }, value), note ? el("span", { class: "note" }, note) : null, extra);
    mount(
      stats,
      stat("Requests / min", `${fmtNum(t.lastMin)}${t.lastMinMore ? "+" : ""}`, "last minute · 1-hour trend", sparkline(t.perMinute, { label: "requests per minute, 5-minute averages over the last hour" }), "rpm"),
      stat("Error rate", fmtPct(errRate), t.hour ? `${fmtNum(t.hourErrors)} of ${fmtNum(t.hour)} in the last hour` : "no requests in the last hour", null, "errors"),
      stat("Tokens today", fmtCompact(t.tokens), "since midnight, in + out", null, "tokens"),
      stat("Cost today", fmtSumCost(t.cost, t.unpriced), t.unpriced ? `since midnight · ${fmtNum(t.unpriced)} unpriced` : "since midnight", null, "cost"),
      stat("In flight", fmtNum(inFlight), `${acc.accounts.length} accounts`, null, "inflight"),
      stat("Uptime", fmtDuration(status.uptime_secs * 1000), `v${status.version} · ${fmtNum(status.executor_restarts)} executor restarts`, null, "uptime"),
    );
  }

  function drawTop(models) {
    if (!models.length) {
      mount(top, empty("No requests today yet.", ctx.admin ? el("a", { href: "#/playground" }, "Try the playground") : null));
      return;
    }
    mount(
      top,
      barList(models.map((m, i) => ({ label: m.model, value: m.requests, text: `${fmtNum(m.requests)} req · ${fmtCost(m.cost)}`, color: i })), { label: "Requests per model today" }),
    );
  }

  /** The router's word for the account (`state`), coloured by how bad it is. */
  function stateBadge(a, now) {
    if (!a.enabled) return badge("disabled");
    const state = a.state ?? (a.cooldown_until > now ? "cooling" : "ready");
    const tone = state === "ready" ? "ok" : state === "cooling" ? "warn" : "bad";
    return badge(state, tone);
  }

  function drawAccounts(acc) {
    const list = acc.accounts;
    if (!list.length) {
      mount(accounts, empty("No accounts yet.", ctx.admin ? el("a", { href: "#/providers" }, "Add one") : null));
      return;
    }
    const now = acc.now;
    const cooling = list.filter((a) => a.enabled && (a.state ?? (a.cooldown_until > now ? "cooling" : "ready")) === "cooling").length;
    const disabled = list.filter((a) => !a.enabled).length;
    const dead = list.filter((a) => a.enabled && ["credentials refused", "out of service"].includes(a.state)).length;
    const ready = list.filter((a) => a.enabled && (a.state ?? "ready") === "ready").length;
    const openBreakers = new Set(list.filter((a) => a.breaker !== "closed").map((a) => a.provider)).size;
    mount(
      accounts,
      el(
        "p",
        { class: "provider-head" },
        badge(`${ready} ready`, "ok"),
        cooling ? badge(`${cooling} cooling`, "warn") : null,
        dead ? badge(`${dead} need attention`, "bad") : null,
        disabled ? badge(`${disabled} disabled`, "") : null,
        openBreakers ? badge(`${openBreakers} breaker${openBreakers > 1 ? "s" : ""} not closed`, "bad") : null,
      ),
      table(
        [
          { label: "Account", cell: (a) => `${a.provider}/${a.name}` },
          { label: "State", cell: (a) => stateBadge(a, now) },
          { label: "In flight", cls: "num", cell: (a) => fmtNum(a.in_flight) },
          { label: "Leases", cls: "num", cell: (a) => fmtNum(a.leases) },
        ],
        list.slice(0, 8),
      ),
      list.length > 8 ? el("p", { class: "muted" }, `and ${list.length - 8} more`) : null,
    );
  }

  function drawErrors(rows) {
    if (!rows.length) {
      mount(errors, empty("No failed requests recently."));
      return;
    }
    mount(
      errors,
      table(
        [
          { label: "Time", cell: (r) => timeEl(r.ts) },
          { label: "Model", cell: (r) => r.model },
          { label: "Status", cell: (r) => statusBadge(r.status) },
          { label: "Error", cls: "wrap", cell: (r) => r.error || "—" },
        ],
        rows,
      ),
    );
  }

  return poll(refresh, REFRESH_MS);
}
