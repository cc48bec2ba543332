// DOM helpers shared by every page: element builders, formatters (times in the browser's own time
// zone), loading / empty / error states, responsive tables, form fields, dialogs, the drawer,
// notices and polling. No page logic and no API calls live here.

/** Creates an element. `attrs`: `class`, `on<event>` handlers, booleans, `dataset`, others as attributes. */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  append(e, children);
  return e;
}

function setAttrs(e, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.setAttribute("class", Array.isArray(v) ? v.filter(Boolean).join(" ") : v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else if (k === "value" && "value" in e) e.value = v;
    else if (v === true) e.setAttribute(k, "");
    else e.setAttribute(k, String(v));
  }
}

function append(e, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** Creates an SVG element (attributes only; no inline style). */
export function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, String(v));
  }
  append(e, children);
  return e;
}

/** Replaces `node`'s children. */
export function mount(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

// ---- Formatters. Times are shown in the browser's time zone (no `timeZone` option anywhere).

const nf = new Intl.NumberFormat();
export const fmtNum = (n) => (n === null || n === undefined || Number.isNaN(Number(n)) ? "—" : nf.format(Number(n)));

/** A compact count: 1234 → 1.2k. */
export function fmtCompact(n) {
  n = Number(n) || 0;
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(1).replace(/\.0$/, "")}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(1).replace(/\.0$/, "")}M`;
  if (a >= 1e4) return `${Math.round(n / 1e3)}k`;
  if (a >= 1e3) return `${(n / 1e3).toFixed(1).replace(/\.0$/, "")}k`;
  return String(Math.round(n * 100) / 100);
}

/** US dollars, with more digits for small amounts. */
export function fmtCost(n) {
  n = Number(n) || 0;
  if (n === 0) return "$0";
  if (Math.abs(n) < 0.01) return `$${n.toFixed(6).replace(/0+$/, "")}`;
  if (Math.abs(n) < 100) return `$${n.toFixed(4).replace(/0{1,2}$/, "")}`;
  return `$${nf.format(Math.round(n * 100) / 100)}`;
}

/** A summed cost: "unpriced" when nothing had a price but something needed one, never a bare $0. */
export const fmtSumCost = (cost, unpriced) => (!Number(cost) && unpriced ? "unpriced" : fmtCost(cost));

/**
 * A usage row's cost with its source: `unpriced` (no price: unknown, never $0), a subscription's
 * $0 with its list price, an estimate marked as such.
 */
export function costOf(r) {
  switch (r.cost_source) {
    case "unpriced":
      // Nothing was used (a refusal, a failure): nothing to price.
      if (!r.total_tokens) return "—";
      return el("span", { class: "badge warn", title: "No price matched this model: the cost is unknown" }, "unpriced");
    case "subscription":
      return el("span", { title: "Subscription account: no marginal cost" }, "$0", r.list_cost_usd == null ? "" : el("span", { class: "cell-sub" }, ` list ${fmtCost(r.list_cost_usd)}`));
    case "estimated":
      return el("span", { title: "The upstream sent no token counts: estimated" }, fmtCost(r.cost_usd), el("span", { class: "cell-sub" }, " est."));
    default:
      return fmtCost(r.cost_usd);
  }
}

export const fmtPct = (x) => (x === null || x === undefined || Number.isNaN(x) ? "—" : `${(x * 100).toFixed(x < 0.1 && x > 0 ? 1 : 0)}%`);

/** Milliseconds as a latency: 850 ms, 1.2 s. */
export function fmtMs(ms) {
  if (ms === null || ms === undefined) return "—";
  ms = Number(ms);
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

/** A span of time: 45s, 3m 5s, 2h 10m, 3d 4h. */
export function fmtDuration(ms) {
  if (!(ms > 0)) return "0s";
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s}s`;
  const two = (a, ua, b, ub) => (b ? `${a}${ua} ${b}${ub}` : `${a}${ua}`);
  if (s < 3600) return two(Math.floor(s / 60), "m", s % 60, "s");
  if (s < 86400) return two(Math.floor(s / 3600), "h", Math.floor((s % 3600) / 60), "m");
  return two(Math.floor(s / 86400), "d", Math.floor((s % 86400) / 3600), "h");
}

/** Epoch ms (or seconds, or an ISO string) as a Date. */
export function toDate(t) {
  if (t === null || t === undefined || t === "") return null;
  if (typeof t === "number") return new Date(t < 1e11 ? t * 1000 : t);
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Local time of day, with the date when not today. */
export function fmtTime(t) {
  const d = toDate(t);
  if (!d) return "—";
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay ? d.toLocaleTimeString() : d.toLocaleString();
}

export function fmtDateTime(t) {
  const d = toDate(t);
  return d ? d.toLocaleString() : "—";
}

/** "3m ago" / "in 2m". */
export function fmtAgo(t) {
  const d = toDate(t);
  if (!d) return "—";
  const diff = Date.now() - d.getTime();
  return diff >= 0 ? `${fmtDuration(diff)} ago` : `in ${fmtDuration(-diff)}`;
}

/** A `<time>` element: local text, ISO in `datetime`, full local date-time as a tooltip. */
export function timeEl(t, text = fmtTime) {
  const d = toDate(t);
  if (!d) return el("span", { class: "muted" }, "—");
  return el("time", { datetime: d.toISOString(), title: d.toLocaleString() }, text(t));
}

/** Start of today in the browser's time zone, epoch ms. */
export function startOfToday() {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

// ---- Small building blocks.

export const badge = (text, kind = "") => el("span", { class: ["badge", kind] }, text);

/** A badge for an HTTP status. */
export function statusBadge(status) {
  const s = Number(status);
  const kind = s >= 200 && s < 300 ? "ok" : s === 429 || s === 499 ? "warn" : "bad";
  return badge(String(status), kind);
}

/** A badge for a breaker phase. */
export function breakerBadge(phase) {
  const p = String(phase || "closed");
  return badge(p.replace("_", "-"), p === "closed" ? "ok" : p === "open" ? "bad" : "warn");
}

export const button = (text, onclick, attrs = {}) => el("button", { type: "button", onclick, ...attrs }, text);

/** A page section card with a heading and optional actions on the right. */
export function card(title, { actions = [], id, cls } = {}, ...body) {
  return el(
    "section",
    { class: ["card", cls], id, "aria-label": typeof title === "string" ? title : undefined },
    title || actions.length ? el("div", { class: "card-head" }, title ? el("h2", {}, title) : null, el("div", { class: "actions" }, actions)) : null,
    body,
  );
}

// ---- Loading, empty and error states: a page never goes blank.

export const loading = (what = "Loading…") => el("p", { class: "state loading", role: "status" }, el("span", { class: "spinner", "aria-hidden": "true" }), what);

export const empty = (...what) => el("div", { class: "state empty" }, what);

/** An error shown in place, with an optional retry. */
export function errorBox(err, retry) {
  let msg = err?.message || String(err);
  if (err?.missing) msg = `${msg.replace(/[.\s]*$/, "")}. This server does not offer that admin route yet.`;
  const hint = "";
  return el(
    "div",
    { class: "state error", role: "alert" },
    el("strong", {}, "Could not load: "),
    el("span", { class: "error-text" }, msg + hint),
    retry ? button("Retry", retry, { class: "small secondary" }) : null,
  );
}

/** An inline form message slot: `set(text, kind)` with kind "error" | "ok" | "". */
export function messageSlot() {
  const node = el("p", { class: "form-msg", role: "status", "aria-live": "polite" });
  node.set = (text, kind = "") => {
    node.textContent = text || "";
    node.className = ["form-msg", kind].filter(Boolean).join(" ");
    node.setAttribute("role", kind === "error" ? "alert" : "status");
  };
  return node;
}

// ---- Tables: on a phone every row becomes a card whose cells carry their column's label.

/**
 * A responsive table. `columns`: [{label, cell(row) → node|string, cls, hide?}], `rows`: data.
 * `rowAttrs(row)` adds attributes to each `<tr>`.
 */
export function table(columns, rows, { rowAttrs, caption, cls } = {}) {
  const cols = columns.filter((c) => !c.hide);
  return el(
    "div",
    { class: "table-wrap" },
    el(
      "table",
      { class: ["responsive", cls] },
      caption ? el("caption", { class: "sr-only" }, caption) : null,
      el("thead", {}, el("tr", {}, cols.map((c) => el("th", { scope: "col", class: c.cls }, c.label)))),
      el(
        "tbody",
        {},
        rows.map((r) =>
          el(
            "tr",
            rowAttrs ? rowAttrs(r) : {},
            // One wrapper per cell, so a phone's label-and-value row has exactly two parts.
            cols.map((c) => el("td", { class: c.cls, "data-label": c.label || null }, el("div", { class: "cell" }, c.cell(r)))),
          ),
        ),
      ),
    ),
  );
}

// ---- Form fields: every input has a label.

let uid = 0;
export const nextId = (p = "f") => `${p}-${++uid}`;

/**
 * A labelled field. `control` is an input/select/textarea element (gets an id if it has none);
 * `hint` is shown below it and referenced by aria-describedby.
 */
export function field(label, control, { hint, cls } = {}) {
  if (!control.id) control.id = nextId();
  const hintEl = hint ? el("small", { class: "hint", id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  const isCheck = control.type === "checkbox";
  return isCheck
    ? el("div", { class: ["field", "check", cls] }, control, el("label", { for: control.id }, label), hintEl)
    : el("div", { class: ["field", cls] }, el("label", { for: control.id }, label), control, hintEl);
}

export const input = (attrs = {}) => el("input", { type: "text", ...attrs });

export function select(options, attrs = {}) {
  const s = el("select", attrs);
  for (const o of options) {
    const [value, text] = Array.isArray(o) ? o : [o, o];
    s.append(el("option", { value }, text));
  }
  if (attrs.value !== undefined) s.value = attrs.value;
  return s;
}

/** Comma or newline separated text → trimmed non-empty strings. */
export const splitList = (s) =>
  String(s || "")
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter(Boolean);

// ---- Dialogs and the drawer (native <dialog>: focus is trapped and Escape closes).

/**
 * Opens a modal dialog with `title` and `body`. Returns {dialog, close}. The dialog is removed
 * from the page when closed; focus returns to where it was.
 */
export function openDialog(title, body, { cls, onClose } = {}) {
  const back = document.activeElement;
  const titleId = nextId("dlg");
  const close = () => d.open && d.close();
  const d = el(
    "dialog",
    { class: ["dialog", cls], "aria-labelledby": titleId },
    el("div", { class: "dialog-head" }, el("h2", { id: titleId }, title), button("✕", close, { class: "icon ghost", "aria-label": "Close" })),
    el("div", { class: "dialog-body" }, body),
  );
  d.addEventListener("close", () => {
    d.remove();
    onClose?.();
    if (back && document.contains(back)) back.focus();
  });
  d.addEventListener("click", (ev) => {
    if (ev.target === d) close();
  });
  document.body.append(d);
  d.showModal();
  return { dialog: d, close };
}

/** A side drawer (a modal dialog docked to the right). */
export const openDrawer = (title, body, opts = {}) => openDialog(title, body, { ...opts, cls: "drawer" });

/**
 * Asks for confirmation in a dialog. Resolves true when confirmed. `danger` styles the button red.
 */
export function confirmAction(question, { confirm = "Confirm", danger = false, detail } = {}) {
  return new Promise((resolve) => {
    let answered = false;
    const ok = button(confirm, () => {
      answered = true;
      dlg.close();
      resolve(true);
    }, { class: danger ? "danger" : "" });
    const cancel = button("Cancel", () => dlg.close(), { class: "secondary" });
    const dlg = openDialog(question, [detail ? el("p", {}, detail) : null, el("div", { class: "form-actions" }, cancel, ok)], {
      cls: "confirm",
      onClose: () => answered || resolve(false),
    });
    ok.focus();
  });
}

// ---- Notices: short-lived messages announced to screen readers.

export function notify(text, kind = "ok") {
  let host = document.getElementById("notices");
  if (!host) {
    host = el("div", { id: "notices", class: "notices", "aria-live": "polite" });
    document.body.append(host);
  }
  const n = el("div", { class: ["notice", kind], role: kind === "error" ? "alert" : "status", title: "Dismiss", onclick: () => n.remove() }, text);
  host.append(n);
  while (host.children.length > 3) host.firstElementChild.remove();
  setTimeout(() => n.remove(), kind === "error" ? 8000 : 4000);
}

/** Copies text, with a fallback for browsers without the async clipboard. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const t = el("textarea", { class: "sr-only", readonly: true });
    t.value = text;
    document.body.append(t);
    t.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    t.remove();
    return ok;
  }
}

// ---- Polling: one timer per page, paused while the tab is hidden, stopped on leave.

/**
 * Calls `fn` now and every `ms` while the page is shown. Returns a stop function. Overlapping
 * calls are skipped (a slow answer never piles up requests).
 */
export function poll(fn, ms) {
  let timer = null;
  let busy = false;
  let stopped = false;
  const tick = async () => {
    if (stopped || busy || document.hidden) return;
    busy = true;
    try {
      await fn();
    } finally {
      busy = false;
    }
  };
  const onVisible = () => !document.hidden && tick();
  document.addEventListener("visibilitychange", onVisible);
  tick();
  timer = setInterval(tick, ms);
  return () => {
    stopped = true;
    clearInterval(timer);
    document.removeEventListener("visibilitychange", onVisible);
  };
}

/**
 * Redraws part of a live page without losing the keyboard user's place: the focused control is
 * found again after `redraw()` by its row (`data-*` attributes of the closest row) and label.
 */
export function keepFocus(root, redraw) {
  const a = document.activeElement;
  let want = null;
  if (a && a !== document.body && root.contains(a)) {
    const row = a.closest("tr, li, section");
    const rowSel = row
      ? [...row.attributes].filter((x) => x.name.startsWith("data-")).map((x) => `[${x.name}="${CSS.escape(x.value)}"]`).join("")
      : "";
    want = { rowSel: rowSel ? `${row.tagName.toLowerCase()}${rowSel}` : "", tag: a.tagName, label: a.getAttribute("aria-label") || a.textContent.trim(), name: a.getAttribute("name") };
  }
  redraw();
  if (!want) return;
  const scope = (want.rowSel && root.querySelector(want.rowSel)) || root;
  const match = [...scope.querySelectorAll(want.tag)].find(
    (e) => (want.name && e.getAttribute("name") === want.name) || (e.getAttribute("aria-label") || e.textContent.trim()) === want.label,
  );
  match?.focus({ preventScroll: true });
}

/** Buttons that run an async action show it: disabled and marked busy until it settles. */
export async function busy(btn, fn) {
  btn.disabled = true;
  btn.setAttribute("aria-busy", "true");
  try {
    return await fn();
  } finally {
    btn.disabled = false;
    btn.removeAttribute("aria-busy");
  }
}
