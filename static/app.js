// Omnigate dashboard: sign-in, accounts with their routing state, and the last requests.
// Talks only to the admin JSON API under /api/ (session cookie set by /api/login).

const REFRESH_MS = 2000;
const $ = (sel) => document.querySelector(sel);
let timer = null;

async function api(path, options = {}) {
  const res = await fetch(path, { credentials: "same-origin", ...options });
  if (res.status === 401) {
    showLogin();
    throw new Error("unauthorized");
  }
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return e;
}

function badge(text, kind) {
  return el("span", { class: `badge ${kind}` }, text);
}

function duration(ms) {
  if (ms <= 0) return "";
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

function showLogin() {
  clearInterval(timer);
  timer = null;
  $("#main-view").hidden = true;
  $("#logout").hidden = true;
  $("#login-view").hidden = false;
  $("#password").focus();
}

function showMain() {
  $("#login-view").hidden = true;
  $("#main-view").hidden = false;
  $("#logout").hidden = false;
  refresh();
  if (!timer) timer = setInterval(refresh, REFRESH_MS);
}

function renderAccounts(data) {
  const body = $("#accounts tbody");
  body.replaceChildren();
  const now = data.now;
  for (const a of data.accounts) {
    const cooling = a.cooldown_until > now;
    const state = !a.enabled ? badge("disabled", "bad") : cooling ? badge("cooling", "warn") : badge("ready", "ok");
    const breakerKind = a.breaker === "closed" ? "ok" : a.breaker === "open" ? "bad" : "warn";
    const reset = el("button", { class: "small", onclick: () => resetAccount(a.id) }, "Reset");
    body.append(el("tr", { "data-account": `${a.provider}/${a.name}` },
      el("td", {}, a.provider),
      el("td", {}, a.name),
      el("td", {}, state),
      el("td", { class: "num" }, a.in_flight),
      el("td", { title: a.reason ?? "" }, cooling ? `${duration(a.cooldown_until - now)} (${a.reason ?? ""})` : ""),
      el("td", {}, badge(a.breaker, breakerKind)),
      el("td", { class: "num" }, a.leases),
      el("td", {}, cooling ? reset : ""),
    ));
  }
  $("#accounts-empty").hidden = data.accounts.length > 0;
  $("#accounts-updated").textContent = `updated ${new Date(now).toLocaleTimeString()}`;
}

function renderRequests(rows) {
  const body = $("#requests tbody");
  body.replaceChildren();
  for (const r of rows) {
    const kind = r.status < 300 ? "ok" : r.status === 499 || r.status === 429 ? "warn" : "bad";
    body.append(el("tr", { title: r.error ?? "" },
      el("td", {}, new Date(r.ts).toLocaleTimeString()),
      el("td", {}, r.key_name ?? "—"),
      el("td", {}, r.model),
      el("td", {}, r.account ? `${r.provider}/${r.account}` : "—"),
      el("td", {}, badge(r.status, kind)),
      el("td", { class: "num" }, `${r.input_tokens} / ${r.output_tokens}`),
      el("td", { class: "num" }, `$${r.cost.toFixed(6)}`),
      el("td", { class: "num" }, `${r.latency_ms} ms`),
      el("td", { class: "num" }, r.ttfb_ms == null ? "" : `${r.ttfb_ms} ms`),
    ));
  }
  $("#requests-empty").hidden = rows.length > 0;
}

function renderStats(status, rows) {
  const ok = rows.filter((r) => r.status < 300).length;
  const tokens = rows.reduce((n, r) => n + r.total_tokens, 0);
  const cost = rows.reduce((n, r) => n + r.cost, 0);
  $("#stats").replaceChildren(
    el("div", { class: "stat" }, el("b", {}, `${ok}/${rows.length}`), "recent requests OK"),
    el("div", { class: "stat" }, el("b", {}, tokens), "recent tokens"),
    el("div", { class: "stat" }, el("b", {}, `$${cost.toFixed(4)}`), "recent cost"),
    el("div", { class: "stat" }, el("b", {}, status.executor_restarts), "executor restarts"),
  );
  $("#version").textContent = `v${status.version} · up ${duration(status.uptime_secs * 1000) || "0s"}`;
}

async function refresh() {
  try {
    const [accounts, rows, status] = await Promise.all([api("/api/accounts"), api("/api/usage?limit=50"), api("/api/status")]);
    renderAccounts(accounts);
    renderRequests(rows);
    renderStats(status, rows);
  } catch (e) {
    if (e.message !== "unauthorized") console.warn(e);
  }
}

async function resetAccount(id) {
  await api(`/api/accounts/${id}/reset`, { method: "POST" });
  refresh();
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("#login-error").textContent = "";
  const res = await fetch("/api/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ password: $("#password").value }),
  });
  if (res.ok) {
    $("#password").value = "";
    showMain();
  } else {
    const body = await res.json().catch(() => ({}));
    $("#login-error").textContent = body?.error?.message ?? `sign-in failed (${res.status})`;
  }
});

$("#logout").addEventListener("click", async () => {
  await fetch("/api/logout", { method: "POST", credentials: "same-origin" });
  showLogin();
});

fetch("/api/session", { credentials: "same-origin" }).then((r) => (r.ok ? showMain() : showLogin()), showLogin);
