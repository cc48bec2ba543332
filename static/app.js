// Omnigate dashboard shell: sign-in, the sidebar, and a hash router that loads one page module at
// a time (static/js/pages/*.js). A page exports `render(root, ctx)` and may return a cleanup
// function (to stop its polling). Talks only to the admin JSON API under /api/.

import { api, get, seg, UNAUTHORIZED } from "./js/api.js";
import { busy, button, el, errorBox, field, fmtDuration, input, loading, messageSlot, mount, notify, openDialog } from "./js/dom.js";

const PAGES = {
  overview: "Overview",
  providers: "Providers & accounts",
  combos: "Combos & aliases",
  keys: "Keys",
  usage: "Usage",
  requests: "Requests",
  pricing: "Pricing",
  health: "Health",
  settings: "Settings",
  playground: "Playground",
  tools: "Tools",
  users: "Users",
};
/** The pages a viewer sees (read-only: the API refuses them everything else). */
const VIEWER_PAGES = new Set(["overview", "usage", "requests", "health"]);
const DEFAULT_PAGE = "overview";

const $ = (sel) => document.querySelector(sel);
let cleanup = null;
let signedIn = false;
let renderSeq = 0;
/** Who is signed in: `{ user, role }` from GET /api/session. */
let me = { user: null, role: "admin" };
const isAdmin = () => me.role === "admin";

/** The current route: page id and its query parameters (`#/requests?model=x`). */
function route() {
  const h = location.hash.replace(/^#\/?/, "");
  const [path, q = ""] = h.split("?");
  const page = PAGES[path] && (isAdmin() || VIEWER_PAGES.has(path)) ? path : DEFAULT_PAGE;
  return { page, params: new URLSearchParams(q) };
}

/** Navigates to `page` with `params` (an object), replacing the history entry when `replace`. */
function navigate(page, params = {}, { replace = false } = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v !== undefined && v !== null)).toString();
  const hash = `#/${page}${q ? `?${q}` : ""}`;
  if (replace) {
    history.replaceState(null, "", hash);
    return;
  }
  if (location.hash === hash) render();
  else location.hash = hash;
}

function setStatus(text) {
  $("#page-status").textContent = text || "";
}

async function render() {
  if (!signedIn) return;
  const { page, params } = route();
  const seq = ++renderSeq;
  if (cleanup) {
    try {
      cleanup();
    } catch (e) {
      console.warn(e);
    }
    cleanup = null;
  }
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.page === page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  closeMenu();
  document.getElementById("notices")?.replaceChildren();
  document.title = `${PAGES[page]} · Omnigate`;
  $("#page-title").textContent = PAGES[page];
  setStatus("");
  const root = $("#page");
  root.dataset.page = page;
  mount(root, loading());
  try {
    const mod = await import(`./js/pages/${page}.js`);
    if (seq !== renderSeq) return;
    const section = el("div", { class: "page", id: `page-${page}` });
    mount(root, section);
    const ctx = { params, navigate, setStatus, isCurrent: () => seq === renderSeq, admin: isAdmin(), user: me.user };
    const c = await mod.render(section, ctx);
    if (seq !== renderSeq) {
      if (typeof c === "function") c();
      return;
    }
    cleanup = typeof c === "function" ? c : null;
  } catch (e) {
    if (seq !== renderSeq) return;
    console.error(e);
    mount(root, errorBox(e, render));
  }
}

// ---- Sign-in and the session.

function showLogin() {
  signedIn = false;
  if (cleanup) cleanup();
  cleanup = null;
  for (const d of document.querySelectorAll("dialog")) d.remove();
  $("#boot").hidden = true;
  $("#app").hidden = true;
  $("#login-view").hidden = false;
  ($("#username").value ? $("#password") : $("#username")).focus();
}

/** Shows the sidebar entries the signed-in role may open, and who is signed in. */
function applyRole(session) {
  me = { user: session.user ?? null, role: session.role === "viewer" ? "viewer" : "admin" };
  document.body.dataset.role = me.role;
  for (const a of document.querySelectorAll("#nav a")) a.hidden = !isAdmin() && !VIEWER_PAGES.has(a.dataset.page);
  $("#whoami").textContent = me.user ? `${me.user} · ${me.role}` : me.role;
  $("#change-password").hidden = !me.user;
}

async function showApp() {
  try {
    applyRole(await get("/api/session"));
  } catch {
    showLogin();
    return;
  }
  signedIn = true;
  $("#boot").hidden = true;
  $("#login-view").hidden = true;
  $("#app").hidden = false;
  render();
  loadVersion();
}

async function loadVersion() {
  try {
    const s = await get("/api/status");
    $("#version").textContent = `v${s.version} · up ${fmtDuration(s.uptime_secs * 1000)}`;
  } catch {
    $("#version").textContent = "";
  }
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const btn = $("#login-submit");
  $("#login-error").textContent = "";
  btn.disabled = true;
  try {
    const username = $("#username").value.trim();
    await api("/api/login", { method: "POST", body: username ? { username, password: $("#password").value } : { password: $("#password").value } });
    $("#password").value = "";
    showApp();
  } catch (e) {
    const msg = e.message || "Sign-in failed.";
    $("#login-error").textContent = `${msg.charAt(0).toUpperCase()}${msg.slice(1)}${/[.!?]$/.test(msg) ? "" : "."}`;
    $("#password").select();
  } finally {
    btn.disabled = false;
  }
});

// Anyone signed in with a name (viewers too) changes their own password here.
$("#change-password").addEventListener("click", () => {
  const pw = input({ name: "new-password", type: "password", required: true, minlength: "8", autocomplete: "new-password" });
  const msg = messageSlot();
  const save = el("button", { type: "submit" }, "Save");
  const form = el("form", { id: "password-form" }, field("New password", pw, { hint: "At least 8 characters." }), el("div", { class: "form-actions" }, msg, button("Cancel", () => dlg.close(), { class: "secondary" }), save));
  const dlg = openDialog("Change your password", form);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(save, async () => {
      try {
        await api(`/api/users/${seg(me.user)}`, { method: "PATCH", body: { password: pw.value } });
        dlg.close();
        notify("Password changed.");
      } catch (e) {
        msg.set(e.message, "error");
      }
    });
  });
  pw.focus();
});

$("#logout").addEventListener("click", async () => {
  try {
    await api("/api/logout", { method: "POST" });
  } catch {
    /* signed out either way */
  }
  showLogin();
});

window.addEventListener(UNAUTHORIZED, () => signedIn && showLogin());
window.addEventListener("hashchange", render);

// ---- The phone menu: the sidebar slides over the page.

function closeMenu() {
  document.body.classList.remove("menu-open");
  $("#menu-toggle").setAttribute("aria-expanded", "false");
  $("#scrim").hidden = true;
}

$("#menu-toggle").addEventListener("click", () => {
  const open = !document.body.classList.contains("menu-open");
  document.body.classList.toggle("menu-open", open);
  $("#menu-toggle").setAttribute("aria-expanded", String(open));
  $("#scrim").hidden = !open;
  if (open) $("#nav a[aria-current]")?.focus();
});
$("#scrim").addEventListener("click", closeMenu);
document.addEventListener("keydown", (ev) => {
  if (ev.key === "Escape" && document.body.classList.contains("menu-open")) closeMenu();
});

// ---- Start: an existing session goes straight in.

fetch("/api/session", { credentials: "same-origin" }).then(
  (r) => (r.ok ? showApp() : showLogin()),
  showLogin,
);
