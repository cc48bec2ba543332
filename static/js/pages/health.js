// Health page: every provider's circuit breaker and latency percentiles, every account's cooldown
// and model lockouts, with reset buttons (GET /api/health), and with several instances on one
// PostgreSQL the instances alive. Refreshed every few seconds.

import { get, post, seg } from "../api.js";
import {
  badge, breakerBadge, busy, button, card, el, empty, errorBox, fmtDuration, fmtMs, fmtNum, fmtPct, keepFocus, loading,
  mount, notify, poll, table,
} from "../dom.js";

const REFRESH_MS = 3000;

export function render(root, ctx) {
  const problem = el("div");
  const breakers = el("div", { id: "health-breakers" }, loading());
  const cooldowns = el("div", { id: "health-cooldowns" }, loading());
  const lockouts = el("div", { id: "health-lockouts" }, loading());
  const latency = el("div", { id: "health-latency" }, loading());
  const executor = el("p", { class: "muted", id: "health-executor" });
  const latencyCard = card("Latency", {}, latency);
  const instances = el("div", { id: "health-instances" });
  // Only with PostgreSQL (`instances` is null on SQLite: one instance by construction).
  const instancesCard = card("Instances", {}, instances);
  instancesCard.hidden = true;
  mount(
    root,
    problem,
    instancesCard,
    card("Circuit breakers", {}, breakers),
    el("div", { class: "grid two" }, card("Cooldowns", {}, cooldowns), card("Model lockouts", {}, lockouts)),
    latencyCard,
    executor,
  );

  async function refresh() {
    try {
      const h = await get("/api/health");
      problem.replaceChildren();
      const now = h.now ?? Date.now();
      keepFocus(root, () => {
        drawBreakers(h.providers || [], now);
        drawCooldowns(h.accounts || [], now);
        drawLockouts(h.accounts || [], now);
        drawLatency(h.providers || [], h.window_ms);
        drawInstances(h.instances, now);
      });
      const x = h.executor || {};
      executor.textContent = `Executors: ${fmtNum(x.restarts)} restarts, ${fmtNum(x.faults)} faults; ${fmtNum(x.dropped_frames)} malformed upstream frames dropped.`;
      ctx.setStatus(`updated ${new Date().toLocaleTimeString()}`);
    } catch (e) {
      mount(problem, errorBox(e, refresh));
    }
  }

  function drawBreakers(providers, now) {
    if (!providers.length) {
      mount(breakers, empty("No providers with accounts yet."));
      return;
    }
    mount(
      breakers,
      table(
        [
          { label: "Provider", cell: (p) => [el("strong", {}, p.id), el("span", { class: "cell-sub" }, p.dialect || "")] },
          { label: "Breaker", cell: (p) => breakerBadge(p.breaker?.state) },
          { label: "Open for", cell: (p) => (p.breaker?.open_until > now ? fmtDuration(p.breaker.open_until - now) : "—") },
          { label: "Failures", cls: "num", cell: (p) => fmtNum(p.breaker?.failures) },
          { label: "Trips", cls: "num", cell: (p) => fmtNum(p.breaker?.trips) },
          { label: "Accounts available", cls: "num", cell: (p) => availability(p) },
          {
            label: "",
            cls: "actions",
            // A viewer reads health; resetting is an admin's.
            cell: (p) =>
              !ctx.admin ? "" : button("Reset breaker", (ev) => busy(ev.currentTarget, () => act(`/api/providers/${seg(p.id)}/reset-breaker`, `Breaker of ${p.id} reset.`)), {
                class: "secondary small",
                disabled: (p.breaker?.state || "closed") === "closed",
              }),
          },
        ],
        providers,
        { rowAttrs: (p) => ({ "data-breaker": p.id }), caption: "Circuit breakers per provider" },
      ),
    );
  }

  function drawInstances(list, now) {
    instancesCard.hidden = !Array.isArray(list);
    if (!Array.isArray(list)) return;
    mount(
      instances,
      table(
        [
          { label: "Instance", cls: "wrap", cell: (i) => el("code", {}, i.id) },
          { label: "Address", cell: (i) => i.address },
          { label: "Version", cell: (i) => i.version },
          { label: "Up for", cell: (i) => fmtDuration(now - i.started_at) },
          { label: "Last heartbeat", cell: (i) => `${fmtDuration(Math.max(0, now - i.last_seen_at))} ago` },
        ],
        list,
        { rowAttrs: (i) => ({ "data-instance": i.id }), caption: "Instances sharing this database" },
      ),
    );
  }

  function availability(p) {
    if (!p.accounts) return "—";
    const kind = p.available_accounts === p.accounts ? "ok" : p.available_accounts ? "warn" : "bad";
    return badge(`${fmtNum(p.available_accounts)} / ${fmtNum(p.accounts)}`, kind);
  }

  function drawCooldowns(accounts, now) {
    const cooling = accounts.filter((a) => a.cooldown && a.cooldown.until > now);
    if (!cooling.length) {
      mount(cooldowns, empty(badge("all clear", "ok"), "No account is cooling down."));
      return;
    }
    mount(
      cooldowns,
      table(
        [
          { label: "Account", cell: (a) => `${a.provider}/${a.name}` },
          { label: "Left", cell: (a) => fmtDuration(a.cooldown.until - now) },
          { label: "Why", cls: "wrap", cell: (a) => a.cooldown.reason || "—" },
          { label: "Backoff", cls: "num", cell: (a) => fmtNum(a.backoff_level) },
          { label: "", cls: "actions", cell: (a) => resetButton(a, "Reset") },
        ],
        cooling,
        { rowAttrs: (a) => ({ "data-account": `${a.provider}/${a.name}` }), caption: "Accounts cooling down" },
      ),
    );
  }

  function drawLockouts(accounts, now) {
    const rows = accounts.flatMap((a) => (a.model_lockouts || []).filter((l) => l.until > now).map((l) => ({ ...l, account: a })));
    if (!rows.length) {
      mount(lockouts, empty("No model is locked out on any account."));
      return;
    }
    mount(
      lockouts,
      table(
        [
          { label: "Account", cell: (l) => `${l.account.provider}/${l.account.name}` },
          { label: "Model", cls: "wrap", cell: (l) => l.model },
          { label: "Left", cell: (l) => fmtDuration(l.until - now) },
          { label: "", cls: "actions", cell: (l) => resetButton(l.account, "Reset account") },
        ],
        rows,
        { caption: "Models locked out per account" },
      ),
    );
  }

  function drawLatency(providers, windowMs) {
    const rows = providers.filter((p) => p.requests);
    latencyCard.querySelector("h2").textContent = `Latency (last ${fmtDuration(windowMs || 900_000)})`;
    if (!rows.length) {
      mount(latency, empty("No requests in this window: percentiles appear after the first ones."));
      return;
    }
    mount(
      latency,
      table(
        [
          { label: "Provider", cell: (p) => el("strong", {}, p.id) },
          { label: "Requests", cls: "num", cell: (p) => fmtNum(p.requests) },
          { label: "Failed", cls: "num", cell: (p) => `${fmtNum(p.errors)} (${fmtPct(p.requests ? p.errors / p.requests : 0)})` },
          { label: "p50", cls: "num", cell: (p) => fmtMs(p.latency_ms?.p50) },
          { label: "p95", cls: "num", cell: (p) => fmtMs(p.latency_ms?.p95) },
          { label: "p99", cls: "num", cell: (p) => fmtMs(p.latency_ms?.p99) },
          { label: "First byte p50", cls: "num", cell: (p) => fmtMs(p.ttfb_ms?.p50) },
          { label: "First byte p95", cls: "num", cell: (p) => fmtMs(p.ttfb_ms?.p95) },
        ],
        rows,
        { rowAttrs: (p) => ({ "data-latency": p.id }), caption: "Latency percentiles per provider" },
      ),
      rows.some((p) => p.sampled) ? el("p", { class: "muted" }, "Percentiles of busy providers are computed from their newest 50 000 requests.") : null,
    );
  }

  function resetButton(a, text) {
    if (!ctx.admin) return "";
    return button(text, (ev) => busy(ev.currentTarget, () => act(`/api/accounts/${a.id}/reset`, `${a.provider}/${a.name} reset.`)), { class: "secondary small" });
  }

  async function act(path, done) {
    try {
      await post(path);
      notify(done);
      await refresh();
    } catch (e) {
      notify(e.message, "error");
    }
  }

  return poll(refresh, REFRESH_MS);
}
