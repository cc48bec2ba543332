// Providers & accounts page: every provider in use with its accounts and their live state
// (cooldown and why, breaker, in flight, last error, requests today); add, edit, disable, delete
// and test accounts; add, edit and delete custom providers; sign in to subscription providers and
// see each subscription account's sign-in and quota windows. Forms live in provider_forms.js, the
// subscription parts in subscriptions.js.

import { del, get, patch, post, seg } from "../api.js";
import {
  badge, breakerBadge, busy, button, card, confirmAction, el, empty, errorBox, fmtDuration, fmtMs, fmtNum, keepFocus,
  loading, messageSlot, mount, notify, poll, startOfToday, table, timeEl,
} from "../dom.js";
import { accountForm, providerForm } from "./provider_forms.js";
import { loadSubscriptionProviders, needsSignIn, quotaBars, signInDialog, subscriptionState } from "./subscriptions.js";

const REFRESH_MS = 4000;

export function render(root, ctx) {
  const problem = el("div");
  const listBox = el("div", { class: "page", id: "providers-list" }, loading("Loading providers…"));
  const catalogBox = el("div", { id: "catalog" });
  const addAccount = button("Add account", () => openAccount(null, ctx.params.get("provider") || ""), { id: "add-account" });
  const addProvider = button("Add custom provider", () => openProvider(null), { class: "secondary", id: "add-provider" });
  mount(root, el("div", { class: "toolbar" }, addAccount, addProvider), problem, listBox, catalogBox);

  let data = { providers: [], accounts: [], health: new Map(), today: new Map(), lastError: new Map() };
  // Inline results of the Test button, by account id, kept across refreshes.
  const tests = new Map();
  // Messages shown in place in a provider's card (e.g. a 409), by provider id.
  const notes = new Map();
  let first = true;
  let lastSig = "";
  // Subscription providers (they sign in instead of taking a key), by id.
  let subs = new Map();
  const subsLoaded = loadSubscriptionProviders().then((m) => {
    subs = m;
  });

  async function load() {
    try {
      const [providers, accounts, health, summary, failed] = await Promise.all([
        subsLoaded.then(() => get("/api/providers")),
        get("/api/accounts"),
        get("/api/health").catch(() => null),
        get("/api/usage/summary", { window: "24h", bucket: "1h", by: "account" }).catch(() => null),
        get("/api/requests", { status: "error", limit: 200 }).catch(() => null),
      ]);
      data = {
        providers: listOf(providers),
        accounts: accountsOf(accounts),
        health: new Map((health?.accounts || []).map((a) => [a.id, a])),
        breakers: new Map((health?.providers || []).map((p) => [p.id, p.breaker])),
        now: health?.now ?? accounts?.now ?? Date.now(),
        today: requestsToday(summary),
        lastError: lastErrors(failed?.items || []),
      };
      problem.replaceChildren();
      // A refresh that changes nothing leaves the page (and the reader's place) alone.
      const now = data.now;
      const cooling =
        data.accounts.some((a) => cooldownUntil(live(a)) > now || (a.quota?.windows || []).some((w) => w.resets_at > now)) ||
        [...data.health.values()].some((h) => cooldownUntil(h) > now);
      const sig = JSON.stringify([data.providers, data.accounts, [...data.health], [...data.today], [...data.lastError.keys()]]);
      if (cooling || sig !== lastSig) keepFocus(root, draw);
      lastSig = sig;
      ctx.setStatus(`updated ${new Date().toLocaleTimeString()}`);
    } catch (e) {
      mount(problem, errorBox(e, load));
      if (first) listBox.replaceChildren();
    } finally {
      first = false;
    }
  }

  function draw() {
    const byProvider = new Map();
    for (const a of data.accounts) {
      if (!byProvider.has(a.provider)) byProvider.set(a.provider, []);
      byProvider.get(a.provider).push(a);
    }
    const known = new Set(data.providers.map((p) => p.id));
    // Accounts of a provider the list does not know still show (as an unknown provider).
    for (const id of byProvider.keys()) if (!known.has(id)) data.providers.push({ id, dialect: "?", builtin: false, source: "?", models: [] });
    const used = data.providers.filter((p) => !p.builtin || byProvider.has(p.id) || p.accounts > 0);
    const unused = data.providers.filter((p) => !used.includes(p));
    used.sort((a, b) => Number(a.builtin) - Number(b.builtin) || a.id.localeCompare(b.id));
    if (!used.length) {
      mount(listBox, card(null, {}, empty("No providers in use yet.", el("span", {}, "Add an account for a built-in provider, or add a custom provider (any OpenAI-, Anthropic- or Gemini-compatible endpoint)."))));
    } else {
      mount(listBox, used.map((p) => providerCard(p, byProvider.get(p.id) || [])));
    }
    drawCatalog(unused);
  }

  function providerCard(p, accounts) {
    const note = notes.get(p.id) || messageSlot();
    notes.set(p.id, note);
    const breaker = data.breakers?.get(p.id) || accountBreaker(accounts);
    const editable = !p.builtin;
    const actions = [
      breaker && breaker.state !== "closed"
        ? button("Reset breaker", (ev) => busy(ev.currentTarget, () => act(p.id, () => post(`/api/providers/${seg(p.id)}/reset-breaker`), `Breaker of ${p.id} reset.`)), { class: "secondary small" })
        : null,
      subs.has(p.id)
        ? button("Sign in", () => openSignIn(p.id), { class: "secondary small", "aria-label": `Sign in to ${p.id}` })
        : button("Add account", () => openAccount(null, p.id), { class: "secondary small", "aria-label": `Add an account to ${p.id}` }),
      editable ? button("Edit", () => openProvider(p), { class: "secondary small", "aria-label": `Edit provider ${p.id}` }) : null,
      editable ? button("Delete", () => deleteProvider(p), { class: "danger-text small", "aria-label": `Delete provider ${p.id}` }) : null,
    ];
    const head = el(
      "div",
      { class: "provider-head" },
      el("h2", {}, p.id),
      badge(p.dialect, "info"),
      badge(p.builtin ? "built-in" : p.source === "config" ? "config file" : "custom", p.source === "config" ? "warn" : ""),
      breaker ? breakerBadge(breaker.state) : null,
    );
    const modelNames = (p.models || []).map((m) => (typeof m === "string" ? m : m.id));
    return el(
      "section",
      { class: "card", "data-provider": p.id, "aria-label": `Provider ${p.id}` },
      el("div", { class: "card-head" }, head, el("div", { class: "actions" }, actions)),
      el(
        "p",
        { class: "provider-meta" },
        p.base_url ? el("code", {}, p.base_url) : null,
        " ",
        modelNames.length ? `${modelNames.length} model${modelNames.length > 1 ? "s" : ""}: ${modelNames.slice(0, 6).join(", ")}${modelNames.length > 6 ? ", …" : ""}` : "",
        p.strategy ? ` · account strategy ${p.strategy}` : "",
      ),
      note,
      accounts.length
        ? accountsTable(p, accounts)
        : subs.has(p.id)
          ? empty("No accounts for this provider.", button("Sign in", () => openSignIn(p.id), { class: "small" }))
          : empty("No accounts for this provider.", button("Add account", () => openAccount(null, p.id), { class: "small" })),
    );
  }

  function accountsTable(p, accounts) {
    const now = data.now;
    return table(
      [
        {
          label: "Account",
          cell: (a) => [
            el("strong", {}, a.name),
            a.key_hint ? el("span", { class: "cell-sub mono" }, `key ${a.key_hint}`) : a.has_key === false && !a.subscription ? el("span", { class: "cell-sub" }, "no key") : null,
            a.base_url ? el("span", { class: "cell-sub" }, a.base_url) : null,
            el("span", { class: "cell-sub" }, `priority ${a.priority ?? 1}${a.weight != null && a.weight !== 1 ? ` · weight ${a.weight}` : ""}${a.max_concurrent ? ` · max ${a.max_concurrent}` : ""}`),
            a.source === "config" ? el("span", { class: "cell-sub" }, "config file") : null,
          ],
        },
        { label: "State", cell: (a) => stateOf(a, now) },
        {
          label: "Sign-in & quota",
          cls: "wrap",
          hide: !accounts.some((a) => a.subscription || a.quota?.windows?.length),
          cell: (a) => [subscriptionState(a), quotaBars(a, now)],
        },
        { label: "Cooldown", cls: "wrap", cell: (a) => cooldownOf(a, now) },
        { label: "In flight", cls: "num", cell: (a) => fmtNum(live(a).in_flight ?? 0) },
        { label: "Today", cls: "num", cell: (a) => fmtNum(data.today.get(`${a.provider}/${a.name}`) || 0) },
        { label: "Last error", cls: "wrap", cell: (a) => lastErrorOf(a) },
        { label: "", cls: "actions account-actions", cell: (a) => accountActions(p, a, now) },
      ],
      accounts,
      { rowAttrs: (a) => ({ "data-account": `${a.provider}/${a.name}`, "data-account-id": a.id, class: a.enabled ? "" : "dim" }), caption: `Accounts of ${p.id}` },
    );
  }

  /** The account's live routing state (from /api/health, else the account row itself). */
  const live = (a) => data.health.get(a.id) || a;

  function stateOf(a, now) {
    const h = live(a);
    if (!a.enabled) return badge("disabled");
    if (a.routable === false) return badge("not routed", "bad");
    // A dead account stays dead after its cooldown lapses, until a request succeeds on it.
    if (a.state === "out of service") return badge("out of service", "bad");
    if (a.state === "credentials refused") return badge("credentials refused", "bad");
    if (cooldownUntil(h) > now) return badge("cooling", "warn");
    if (a.quota?.view?.blocked_until > now) return badge("quota used up", "bad");
    const breaker = data.breakers?.get(a.provider)?.state ?? a.breaker;
    if (breaker === "open") return badge("breaker open", "bad");
    if (h.available === false) return badge("unavailable", "bad");
    return badge("ready", "ok");
  }

  function cooldownOf(a, now) {
    const h = live(a);
    const until = cooldownUntil(h);
    if (!(until > now)) {
      const locks = (h.model_lockouts || []).filter((l) => l.until > now);
      return locks.length ? el("span", { class: "muted" }, `${locks.length} model lockout${locks.length > 1 ? "s" : ""}`) : el("span", { class: "muted" }, "—");
    }
    const why = h.cooldown?.reason ?? h.reason ?? "";
    return [el("span", {}, `${fmtDuration(until - now)} left`), why ? el("span", { class: "cell-sub" }, why) : null];
  }

  function lastErrorOf(a) {
    // The account's current problem (kept until a success), with since when; else the request log's.
    if (a.last_error) {
      return el("span", { title: a.last_error, "data-last-error": a.id }, a.last_error_since ? timeEl(a.last_error_since) : null, " ", el("span", { class: "cell-sub" }, clip(a.last_error, 80)));
    }
    const e = data.lastError.get(`${a.provider}/${a.name}`);
    if (!e) return el("span", { class: "muted" }, "—");
    return el("span", { title: e.error || "" }, timeEl(e.ts), " ", badge(String(e.status), "bad"), el("span", { class: "cell-sub" }, clip(e.error || "", 80)));
  }

  function accountActions(p, a, now) {
    const result = el("span", { class: "test-result", "aria-live": "polite", "data-test-result": a.id });
    const prev = tests.get(a.id);
    if (prev) showTest(result, prev);
    const test = button("Test", (ev) => busy(ev.currentTarget, async () => {
      result.className = "test-result";
      result.textContent = "testing…";
      try {
        const r = await post(`/api/accounts/${a.id}/test`);
        tests.set(a.id, r);
        showTest(result, r);
      } catch (e) {
        const r = { ok: false, error: e.message };
        tests.set(a.id, r);
        showTest(result, r);
      }
    }), { class: "secondary small", "aria-label": `Test account ${a.provider}/${a.name}` });
    const h = live(a);
    return el(
      "div",
      { class: "button-row" },
      test,
      needsSignIn(a) ? button("Sign in again", () => openSignIn(a.provider, a.name), { class: "small", "aria-label": `Sign in again to ${a.provider}/${a.name}` }) : null,
      cooldownUntil(h) > now ? button("Reset", (ev) => busy(ev.currentTarget, () => act(p.id, () => post(`/api/accounts/${a.id}/reset`), `${a.name}: cooldown cleared.`)), { class: "secondary small" }) : null,
      button(a.enabled ? "Disable" : "Enable", (ev) => busy(ev.currentTarget, () => act(p.id, () => patch(`/api/accounts/${a.id}`, { enabled: !a.enabled }), `${a.name} ${a.enabled ? "disabled" : "enabled"}.`)), {
        class: "secondary small",
        "aria-label": `${a.enabled ? "Disable" : "Enable"} account ${a.provider}/${a.name}`,
      }),
      button("Edit", () => openAccount(a, p.id), { class: "secondary small", "aria-label": `Edit account ${a.provider}/${a.name}` }),
      button("Delete", () => deleteAccount(p, a), { class: "danger-text small", "aria-label": `Delete account ${a.provider}/${a.name}` }),
      result,
    );
  }

  function showTest(node, r) {
    node.className = `test-result ${r.ok ? "ok" : "bad"}`;
    node.textContent = r.ok
      ? `✓ OK${r.status ? ` (${r.status})` : ""}${r.latency_ms != null ? ` in ${fmtMs(r.latency_ms)}` : ""}`
      : `✗ ${r.status ? `${r.status}: ` : ""}${r.error || "failed"}`;
  }

  function drawCatalog(unused) {
    if (!unused.length) {
      catalogBox.replaceChildren();
      return;
    }
    const wasOpen = catalogBox.querySelector("details")?.open;
    mount(
      catalogBox,
      card(
        null,
        {},
        el(
          "details",
          { open: wasOpen },
          el("summary", {}, `Built-in providers without accounts (${unused.length})`),
          table(
            [
              { label: "Provider", cell: (p) => el("strong", {}, p.id) },
              { label: "Dialect", cell: (p) => p.dialect },
              { label: "Models", cls: "num", cell: (p) => fmtNum((p.models || []).length) },
              { label: "Base URL", cls: "wrap", cell: (p) => el("code", {}, p.base_url || "") },
              {
                label: "",
                cls: "actions",
                cell: (p) =>
                  subs.has(p.id)
                    ? button("Sign in", () => openSignIn(p.id), { class: "secondary small", "aria-label": `Sign in to ${p.id}` })
                    : button("Add account", () => openAccount(null, p.id), { class: "secondary small", "aria-label": `Add an account to ${p.id}` }),
              },
            ],
            unused,
            { caption: "Built-in providers without accounts" },
          ),
        ),
      ),
    );
  }

  /** Runs a row action; its error is shown in the provider's card, where the action was. */
  async function act(providerId, fn, done) {
    const note = notes.get(providerId);
    note?.set("");
    try {
      await fn();
      notify(done);
      await load();
    } catch (e) {
      if (note) note.set(e.message, "error");
      else notify(e.message, "error");
    }
  }

  function openAccount(account, providerId) {
    accountForm({ account, providerId, providers: data.providers, onSaved: load });
  }

  function openSignIn(providerId, name = "") {
    const p = subs.get(providerId);
    if (p) signInDialog({ p, name, onSaved: load });
  }

  function openProvider(p) {
    providerForm({ provider: p, onSaved: load });
  }

  async function deleteAccount(p, a) {
    const ok = await confirmAction(`Delete account “${a.provider}/${a.name}”?`, {
      confirm: "Delete",
      danger: true,
      detail: "Its sealed credential is erased. Requests in flight on it finish first.",
    });
    if (ok) await act(p.id, () => del(`/api/accounts/${a.id}`), `Account ${a.name} deleted.`);
  }

  async function deleteProvider(p) {
    const ok = await confirmAction(`Delete provider “${p.id}”?`, { confirm: "Delete", danger: true, detail: "Only a provider without accounts can be deleted." });
    if (ok) await act(p.id, () => del(`/api/providers/${seg(p.id)}`), `Provider ${p.id} deleted.`);
  }

  return poll(() => (document.querySelector("dialog[open]") ? null : load()), REFRESH_MS);
}

// ---- Shapes: tolerant of a list or an {items} / {accounts} wrapper.

function listOf(v) {
  if (Array.isArray(v)) return v;
  return v?.items || v?.providers || [];
}

function accountsOf(v) {
  if (Array.isArray(v)) return v;
  return v?.items || v?.accounts || [];
}

const cooldownUntil = (h) => h?.cooldown?.until ?? h?.cooldown_until ?? 0;

function accountBreaker(accounts) {
  const a = accounts.find((x) => x.breaker);
  return a ? { state: typeof a.breaker === "string" ? a.breaker : a.breaker.state } : null;
}

/** Requests since local midnight per `provider/account`, from hourly buckets. */
function requestsToday(summary) {
  const out = new Map();
  const today = startOfToday();
  for (const g of summary?.groups || []) {
    if (g.key == null) continue;
    let n = 0;
    // An hour bucket that started before midnight but ends after it counts: the figure errs high
    // by at most one hour in zones whose midnight is not on the hour.
    for (const b of g.buckets || []) if (b.ts + (summary.bucket_ms || 3_600_000) > today) n += b.requests;
    out.set(g.key, n);
  }
  return out;
}

/** The newest failed request per `provider/account`. */
function lastErrors(items) {
  const out = new Map();
  for (const r of items) {
    if (!r.account) continue;
    const k = `${r.provider}/${r.account}`;
    if (!out.has(k)) out.set(k, r);
  }
  return out;
}

const clip = (s, n) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
