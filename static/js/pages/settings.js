// Settings page: the runtime settings (`[routing]`, `[resilience]`, `[upstream]`, `[usage]`) as a
// form that applies live, each with the config file's value beside it and a way back to it; and,
// read-only, what the config file declares (providers, accounts, keys, combos, aliases,
// request transforms).

import { get, patch } from "../api.js";
import {
  badge, busy, button, card, el, empty, errorBox, field, input, loading, messageSlot, mount, notify, select, table,
  timeEl,
} from "../dom.js";

const SECTIONS = {
  routing: "Routing",
  resilience: "Resilience",
  upstream: "Upstream",
  usage: "Usage recording",
};

/** What each key means (from config/default.toml), and the choices of enumerated ones. */
const HINTS = {
  "routing.strategy": "How an account of a provider is chosen (providers may override it).",
  "routing.sticky_limit": "Round-robin: consecutive calls on one account before moving on.",
  "routing.session_ttl_secs": "Sticky sessions: a session's account binding ends after this idle time (0: off).",
  "routing.max_sessions": "Sticky sessions: most bindings kept; the least recently used ends first.",
  "routing.max_wait_ms": "Longest a request waits for a paced or cooling account before a 429 (0: never wait).",
  "routing.max_queue": "Most requests waiting at once; one more is answered 429 at once.",
  "routing.max_attempts": "Upstream attempts per request, over accounts and combo targets.",
  "routing.quota_near_limit": "A quota window this full (0 to 1) makes its account the last resort.",
  "resilience.cooldown_base_ms": "First cooldown of a failing account (ms); doubles per consecutive failure.",
  "resilience.cooldown_max_ms": "Longest backoff step (ms).",
  "resilience.retry_after_max_secs": "Longest cooldown an upstream Retry-After may impose (s).",
  "resilience.breaker_threshold": "Consecutive provider failures that open its circuit breaker.",
  "resilience.breaker_open_ms": "Open period before a half-open probe (ms); doubles per trip.",
  "resilience.breaker_open_max_ms": "Longest open period (ms).",
  "upstream.connect_timeout_ms": "TCP + TLS connect (ms).",
  "upstream.first_byte_timeout_ms": "Request sent → first response byte (ms).",
  "upstream.idle_timeout_ms": "Longest silence between two chunks of a response (ms).",
  "upstream.total_timeout_ms": "Longest time for a whole non-streamed response (ms).",
  "upstream.max_connections": "Pooled upstream connections per worker; 0 = unlimited.",
  "upstream.max_response_mib": "Largest non-streaming upstream response (MiB).",
  "usage.enabled": "Record one usage row per request.",
  "usage.batch_size": "Rows buffered before a batch insert.",
  "usage.flush_interval_ms": "Longest time a row waits in the buffer (ms).",
  "usage.retention_days": "Days of usage rows and request logs kept; 0 = forever.",
  "usage.quota_poll_secs": "Subscription usage endpoints polled this often (s); 0 = never.",
};
/** Keys in the config file's order (that of HINTS); unknown ones last. */
const rank = (path) => {
  const i = Object.keys(HINTS).indexOf(path);
  return i < 0 ? 1e9 : i;
};
/** Settings that are shares (0 to 1), not whole numbers. */
const FRACTIONS = new Set(["routing.quota_near_limit"]);
const CHOICES = {
  "routing.strategy": ["fill-first", "round-robin", "p2c", "random", "least-used", "cost-optimized"],
};

const label = (key) => key.replace(/_/g, " ").replace(/\b(ms|mib|secs)\b/gi, (u) => `(${u.toLowerCase() === "mib" ? "MiB" : u.toLowerCase() === "secs" ? "s" : "ms"})`).replace(/^./, (c) => c.toUpperCase());

export function render(root) {
  const formBox = el("div", { id: "settings-box" }, loading("Loading settings…"));
  const declared = el("div", { id: "config-entries" }, loading());
  const audit = el("div", { id: "audit-log" }, loading());
  mount(
    root,
    formBox,
    card("Declared in the config file", {}, el("p", { class: "muted" }, "Config as code: these entries are read-only here. Edit the file and restart to change them."), declared),
    card("Recent changes", {}, el("p", { class: "muted" }, "Every change made through the dashboard or the admin API, newest first."), audit),
  );

  async function load() {
    try {
      drawForm(await get("/api/settings"));
    } catch (e) {
      mount(formBox, errorBox(e, load));
    }
  }

  function drawForm(s) {
    const controls = new Map();
    const msg = messageSlot();
    const save = el("button", { type: "submit", id: "settings-save" }, "Save changes");
    const sections = Object.keys(SECTIONS).filter((sec) => s[sec] && typeof s[sec] === "object");
    const form = el("form", { id: "settings-form", novalidate: true });
    for (const sec of sections) {
      const fields = Object.entries(s[sec]).sort(([a], [b]) => rank(`${sec}.${a}`) - rank(`${sec}.${b}`)).map(([key, value]) => {
        const path = `${sec}.${key}`;
        const fileValue = s.file?.[sec]?.[key];
        const overridden = s.overrides?.[sec] && key in s.overrides[sec];
        const control = controlFor(path, value);
        control.dataset.path = path;
        controls.set(path, { control, value });
        const note = el(
          "small",
          { class: "hint" },
          HINTS[path] ? `${HINTS[path]} ` : "",
          el("span", { class: "file-value" }, `Config file: ${show(fileValue)}`),
          overridden ? [" ", badge("changed here", "info"), " ", button("Use the file's value", () => resetKey(sec, key), { class: "link small", "aria-label": `Use the config file's value for ${path}` })] : null,
        );
        const f = field(label(key), control);
        f.append(note);
        f.dataset.field = path;
        return f;
      });
      form.append(card(SECTIONS[sec], { id: `settings-${sec}` }, el("div", { class: "form-grid" }, fields)));
    }
    const restart = (s.restart_required || []).length ? el("p", { class: "muted" }, `Needs a restart: ${s.restart_required.join(", ")}.`) : el("p", { class: "muted" }, "Every setting here applies to the running gateway at once.");
    form.append(el("div", { class: "form-actions sticky-actions" }, restart, msg, button("Undo edits", () => drawForm(s), { class: "secondary" }), save));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(save, async () => {
        msg.set("");
        for (const { control } of controls.values()) control.removeAttribute("aria-invalid");
        const body = {};
        try {
          for (const [path, { control, value }] of controls) {
            const next = valueOf(control, value);
            if (next === value) continue;
            const [sec, key] = path.split(".");
            body[sec] = { ...(body[sec] || {}), [key]: next };
          }
        } catch (e) {
          msg.set(e.message, "error");
          return;
        }
        if (!Object.keys(body).length) {
          msg.set("Nothing changed.");
          return;
        }
        try {
          const after = await patch("/api/settings", body);
          notify("Settings saved and applied.");
          drawForm(after);
          loadAudit();
        } catch (e) {
          msg.set(e.message, "error");
          // The server names the bad key (`routing.sticky_limit`): mark that field.
          const m = /`([a-z_]+\.[a-z_]+)`/.exec(e.message);
          const bad = m && controls.get(m[1]);
          if (bad) {
            bad.control.setAttribute("aria-invalid", "true");
            bad.control.focus();
          }
        }
      });
    });
    mount(formBox, form);
  }

  async function resetKey(sec, key) {
    try {
      drawForm(await patch("/api/settings", { [sec]: { [key]: null } }));
      notify(`${sec}.${key}: the config file's value applies again.`);
      loadAudit();
    } catch (e) {
      notify(e.message, "error");
    }
  }

  async function loadDeclared() {
    const sources = [
      ["Provider", "/api/providers", (p) => [p.id, `${p.dialect} · ${p.base_url}`]],
      ["Account", "/api/accounts", (a) => [`${a.provider}/${a.name}`, a.key_hint ? `key ${a.key_hint}` : ""]],
      ["Key", "/api/keys", (k) => [k.name, (k.models || []).join(", ")]],
      ["Combo", "/api/combos", (c) => [c.name, (c.models || []).map((m) => (typeof m === "string" ? m : m.model)).join(" → ")]],
      ["Alias", "/api/aliases", (a) => [a.alias, `→ ${a.target}`]],
      ["Transform", "/api/transforms", (t) => [t.name, ["provider", "model", "combo"].filter((k) => t[k]).map((k) => `${k} ${t[k]}`).join(", ") || "every request"]],
    ];
    try {
      const lists = await Promise.all(sources.map(([, path]) => get(path)));
      const rows = [];
      lists.forEach((list, i) => {
        const [kind, , describe] = sources[i];
        const items = Array.isArray(list) ? list : list.accounts || list.items || [];
        for (const it of items) {
          if (it.source !== "config") continue;
          const [name, detail] = describe(it);
          rows.push({ kind, name, detail });
        }
      });
      if (!rows.length) {
        mount(declared, empty("The config file declares no providers, accounts, keys, combos, aliases or transforms."));
        return;
      }
      mount(
        declared,
        table(
          [
            { label: "Kind", cell: (r) => badge(r.kind) },
            { label: "Name", cell: (r) => el("strong", {}, r.name) },
            { label: "Details", cls: "wrap", cell: (r) => r.detail },
          ],
          rows,
          { rowAttrs: (r) => ({ "data-config-entry": `${r.kind.toLowerCase()}:${r.name}` }), caption: "Entries declared in the config file" },
        ),
      );
    } catch (e) {
      mount(declared, errorBox(e, loadDeclared));
    }
  }

  let auditCursor = null;
  let auditRows = [];
  async function loadAudit(more = false) {
    try {
      const page = await get("/api/audit", { limit: 20, cursor: more ? auditCursor : "" });
      auditCursor = page.next_cursor;
      auditRows = more ? [...auditRows, ...page.items] : page.items;
      const rows = auditRows;
      if (!rows.length) {
        mount(audit, empty("No changes yet."));
        return;
      }
      mount(
        audit,
        table(
          [
            { label: "Time", cell: (r) => timeEl(r.ts) },
            { label: "Change", cell: (r) => [badge(r.action, r.action === "delete" || r.action === "revoke" ? "bad" : r.action === "create" ? "ok" : "info"), " ", `${r.resource} `, el("strong", {}, r.resource_id)] },
            { label: "What", cls: "wrap", cell: (r) => changed(r.before, r.after) },
            { label: "By", cell: (r) => `${r.actor}${r.ip ? ` · ${r.ip}` : ""}` },
          ],
          rows,
          { caption: "Audit log" },
        ),
        auditCursor ? el("div", { class: "pager" }, button("Older changes", (ev) => busy(ev.currentTarget, () => loadAudit(true)), { class: "secondary small" })) : null,
      );
    } catch (e) {
      mount(audit, errorBox(e, () => loadAudit(false)));
    }
  }

  load();
  loadDeclared();
  loadAudit();
}

/** The keys whose values differ between two versions of a resource: `key: old → new`. */
function changed(before, after) {
  if (!before || !after || typeof before !== "object" || typeof after !== "object") return "";
  const out = [];
  const walk = (a, b, prefix) => {
    for (const k of new Set([...Object.keys(a || {}), ...Object.keys(b || {})])) {
      if (k === "updated_at" || k === "created_at") continue;
      const x = a?.[k];
      const y = b?.[k];
      if (x && y && typeof x === "object" && typeof y === "object" && !Array.isArray(x)) walk(x, y, `${prefix}${k}.`);
      else if (JSON.stringify(x) !== JSON.stringify(y)) out.push(`${prefix}${k}: ${brief(x)} → ${brief(y)}`);
    }
  };
  walk(before, after, "");
  return out.slice(0, 4).join("; ") + (out.length > 4 ? ` (+${out.length - 4})` : "");
}

const brief = (v) => {
  const s = v === undefined ? "—" : JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 39)}…` : s;
};

function controlFor(path, value) {
  const name = path;
  if (CHOICES[path]) return select(CHOICES[path], { name, value });
  if (typeof value === "boolean") return el("input", { type: "checkbox", name, checked: value });
  if (FRACTIONS.has(path)) return input({ type: "number", name, value, min: 0, max: 1, step: 0.01, inputmode: "decimal" });
  if (typeof value === "number") return input({ type: "number", name, value, min: 0, step: 1, inputmode: "numeric" });
  return input({ name, value: value ?? "" });
}

/** A control's value in the type of the setting it edits. */
function valueOf(control, before) {
  if (control.type === "checkbox") return control.checked;
  if (typeof before === "number") {
    const raw = control.value.trim();
    if (FRACTIONS.has(control.name)) {
      if (!/^(0|1)?(\.\d+)?$/.test(raw) || raw === "" || raw === ".") throw new Error(`\`${control.name}\`: a share between 0 and 1 is needed`);
      return Number(raw);
    }
    if (!/^\d+$/.test(raw)) throw new Error(`\`${control.name}\`: a whole number is needed`);
    return Number(raw);
  }
  return control.value;
}

const show = (v) => (v === undefined ? "—" : typeof v === "boolean" ? (v ? "on" : "off") : String(v));
