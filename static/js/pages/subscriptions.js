// Subscription accounts on the Providers page: the Sign in dialog (a PKCE page to open and its
// code pasted back, or a device code with a countdown while the server polls), the import box for
// an official CLI's credential file, and the account row's sign-in status and quota window bars
// with their reset countdowns. Talks to /api/oauth/...; never sees a token.

import { get, post, seg } from "../api.js";
import { badge, busy, button, el, field, fmtDuration, input, messageSlot, notify, openDialog } from "../dom.js";

/** The subscription providers (`/api/oauth/providers`) by id; empty when the server has none. */
export async function loadSubscriptionProviders() {
  try {
    const v = await get("/api/oauth/providers");
    return new Map((v?.providers || []).map((p) => [p.id, p]));
  } catch {
    return new Map();
  }
}

const ENDPOINTS = [
  ["authorize_url", "Authorization page", "pkce"],
  ["token_url", "Token endpoint", "any"],
  ["device_url", "Device-code endpoint", "device"],
  ["device_token_url", "Device-flow token endpoint", "device"],
  ["usage_url", "Usage endpoint", "any"],
  ["redirect_uri", "Redirect URI", "pkce"],
];

/** The optional overrides of a `flow` (corporate proxies, test servers), folded away by default. */
function overridesBox(flow) {
  const mine = ([, , f]) => f === "any" || f === (flow === "device" ? "device" : "pkce");
  const endpoints = ENDPOINTS.filter(mine);
  const baseUrl = input({ type: "url", name: "base_url", placeholder: "the provider's", autocomplete: "off" });
  const inputs = endpoints.map(([k]) => input({ type: "url", name: k, placeholder: "the provider's", autocomplete: "off" }));
  const node = el(
    "details",
    { class: "wide" },
    el("summary", {}, "Endpoint overrides (proxies)"),
    el("div", { class: "form-grid" }, field("API base URL", baseUrl, { cls: "wide" }), endpoints.map(([, label], i) => field(label, inputs[i], { cls: "wide" }))),
  );
  const value = () => {
    const chosen = {};
    endpoints.forEach(([k], i) => {
      if (inputs[i].value.trim()) chosen[k] = inputs[i].value.trim();
    });
    const out = { endpoints: chosen };
    if (baseUrl.value.trim()) out.base_url = baseUrl.value.trim();
    return out;
  };
  return { node, value };
}

/**
 * The Sign in dialog of subscription provider `p` ({id, flow, how}): sign in, or import the
 * official CLI's credentials. `name` preselects the account name (signing in again).
 */
export function signInDialog({ p, name = "", onSaved }) {
  const nameIn = input({ name: "name", value: name, autocomplete: "off", placeholder: "the sign-in's e-mail, else default" });
  const over = overridesBox(p.flow);
  const msg = messageSlot();
  const stage = el("div", { class: "signin-stage", "aria-live": "polite" });
  const start = el("button", { type: "submit" }, p.flow === "device" ? "Get a code" : "Open sign-in");
  const form = el("form", { id: "signin-form" });
  const importText = el("textarea", { name: "credentials", rows: 4, spellcheck: "false", placeholder: importHint(p.id) });
  const importBtn = button("Import", () => busy(importBtn, doImport), { class: "secondary", id: "signin-import" });
  let stop = () => {};
  const dlg = openDialog(`Sign in to ${p.id}`, form, { onClose: () => stop() });
  form.append(
    el("p", { class: "muted" }, `${p.flow === "device" ? "Device code" : "Browser sign-in"}: ${p.how}.`),
    el("div", { class: "form-grid" }, field("Account name", nameIn, { cls: "wide", hint: "Signing in again under an existing name replaces its tokens." }), over.node),
    el("div", { class: "form-actions" }, button("Cancel", () => dlg.close(), { class: "secondary" }), start),
    stage,
    el(
      "details",
      { class: "import-box" },
      el("summary", {}, "Import the official CLI's credentials instead"),
      field("Credential file contents", importText, { hint: "The JSON file the official CLI left on your machine. A dead refresh token is refused here." }),
      el("div", { class: "form-actions" }, importBtn),
    ),
    msg,
  );

  const body = () => ({ ...(nameIn.value.trim() ? { name: nameIn.value.trim() } : {}), ...over.value() });

  const finished = async (acc) => {
    stop();
    dlg.close();
    notify(`Signed in: ${p.id}/${acc?.name ?? ""}.`);
    await onSaved();
  };

  async function doImport() {
    msg.set("");
    if (!importText.value.trim()) {
      msg.set("Paste the credential file's contents first.", "error");
      importText.focus();
      return;
    }
    try {
      const acc = await post(`/api/oauth/${seg(p.id)}/import`, { credentials: importText.value, ...body() });
      await finished(acc);
    } catch (e) {
      msg.set(e.message, "error");
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(start, async () => {
      msg.set("");
      stop();
      try {
        const v = await post(`/api/oauth/${seg(p.id)}/start`, body());
        over.node.open = false;
        if (v.flow === "device") deviceStage(v);
        else pkceStage(v);
        stage.scrollIntoView({ block: "nearest" });
      } catch (e) {
        msg.set(e.message, "error");
      }
    });
  });

  function pkceStage(v) {
    const code = input({ name: "code", autocomplete: "off", spellcheck: "false", required: true, placeholder: v.flow === "loopback" ? "http://localhost:…/callback?code=…" : "code#state" });
    const finish = el("button", { type: "button", id: "signin-finish" }, "Finish sign-in");
    finish.addEventListener("click", () =>
      busy(finish, async () => {
        msg.set("");
        if (!code.value.trim()) {
          msg.set("Paste what the provider's page gave you.", "error");
          code.focus();
          return;
        }
        try {
          await finished(await post(`/api/oauth/${seg(p.id)}/callback`, { flow_id: v.flow_id, code: code.value.trim() }));
        } catch (e) {
          msg.set(e.message, "error");
        }
      }),
    );
    stage.replaceChildren(
      el("p", {}, "1. ", el("a", { href: v.authorize_url, target: "_blank", rel: "noopener noreferrer", id: "signin-link" }, "Open the provider's sign-in page"), " and sign in."),
      field(v.flow === "loopback" ? "2. The address your browser was sent to" : "2. The code the page shows", code, { cls: "wide" }),
      el("div", { class: "form-actions" }, finish),
    );
    code.focus();
  }

  function deviceStage(v) {
    const left = el("span", { class: "countdown", id: "signin-countdown" });
    const state = el("p", { class: "muted", id: "signin-state" }, "Waiting for you to enter the code…");
    const link = v.verification_uri_complete || v.verification_uri;
    stage.replaceChildren(
      el("p", {}, "Open ", el("a", { href: link, target: "_blank", rel: "noopener noreferrer", id: "signin-link" }, v.verification_uri), " and enter:"),
      el("p", { class: "user-code mono", id: "signin-user-code" }, v.user_code),
      el("p", {}, "The code expires in ", left, "."),
      state,
    );
    const every = Math.max(1000, Math.min(v.interval_ms || 5000, 5000));
    let last = 0;
    let asking = false;
    const tick = async () => {
      const now = Date.now();
      left.textContent = fmtDuration(v.expires_at - now);
      if (now > v.expires_at) {
        stop();
        state.textContent = "The code expired. Get a new one.";
        return;
      }
      if (asking || now - last < every) return;
      asking = true;
      last = now;
      try {
        const s = await get(`/api/oauth/${seg(p.id)}/flows/${seg(v.flow_id)}`);
        if (s.status === "done") await finished({ name: s.name });
        else if (s.status === "failed") {
          stop();
          state.textContent = "";
          msg.set(`Sign-in failed: ${s.error}`, "error");
        }
      } catch (e) {
        stop();
        msg.set(e.message, "error");
      } finally {
        asking = false;
      }
    };
    const timer = setInterval(tick, 250);
    stop = () => clearInterval(timer);
    tick();
  }

  nameIn.focus();
}

function importHint(id) {
  const files = {
    "claude-code": "~/.claude/.credentials.json",
    codex: "~/.codex/auth.json",
    "gemini-cli": "~/.gemini/oauth_creds.json",
    "github-copilot": "~/.config/github-copilot/apps.json (or hosts.json)",
    "qwen-code": "~/.qwen/oauth_creds.json",
  };
  return files[id] ? `The contents of ${files[id]}` : "";
}

const STATUS = { ok: ["signed in", "ok"], not_signed_in: ["not signed in", "warn"], reauth_required: ["sign in again", "bad"], disabled: ["sign-in dead", "bad"] };

/** The sign-in state of a subscription account: a badge and, when it failed, why. */
export function subscriptionState(a) {
  const s = a.subscription;
  if (!s) return null;
  const [text, kind] = STATUS[s.status] || [s.status, "warn"];
  const facts = s.facts || {};
  const who = facts.email || facts.login || "";
  return el(
    "span",
    { class: "subscription", "data-subscription": s.status },
    badge(text, kind),
    who || facts.plan ? el("span", { class: "cell-sub" }, [who, facts.plan].filter(Boolean).join(" · ")) : null,
    s.status !== "ok" && s.reason ? el("span", { class: "cell-sub error-text" }, s.reason) : null,
  );
}

/** Whether the account needs a new sign-in. */
export const needsSignIn = (a) => Boolean(a.subscription) && a.subscription.status !== "ok";

const WINDOW_NAMES = { "5h": "5-hour", "7d": "weekly", "7d_opus": "weekly Opus", "7d_sonnet": "weekly Sonnet", "7d_oi": "weekly (overage)", unified: "overall", usage_limit: "usage limit" };

/** An account's quota windows as bars with their reset countdowns (nothing when it has none). */
export function quotaBars(a, now) {
  const windows = (a.quota?.windows || []).filter((w) => w.used != null || w.status === "exhausted");
  if (!windows.length) return a.subscription ? null : el("span", { class: "muted" }, "—");
  const view = a.quota?.view || {};
  return el(
    "div",
    { class: "quota-bars" },
    windows.map((w) => {
      const used = Math.max(0, Math.min(1, w.status === "exhausted" && w.used == null ? 1 : w.used));
      const [base, model] = w.key.split("@");
      const name = `${WINDOW_NAMES[base] || base}${model ? ` (${model})` : ""}`;
      const kind = w.status === "exhausted" || used >= 1 ? "bad" : w.status === "warning" || (view.near_limit && view.reason === w.key) ? "warn" : "ok";
      const reset = w.resets_at && w.resets_at > now ? `resets in ${fmtDuration(w.resets_at - now)}` : "";
      return el(
        "div",
        { class: "quota-window", "data-window": w.key, title: `${name}: ${Math.round(used * 100)}% used${reset ? `, ${reset}` : ""}` },
        el("span", { class: "quota-label" }, name),
        // A native meter: the dashboard's CSP allows no inline style for a drawn width.
        el("meter", { class: ["quota-bar", kind], min: 0, max: 1, low: 0.8, high: 0.95, optimum: 0, value: used.toFixed(3), "aria-label": `${name} window used` }),
        el("span", { class: "quota-pct" }, `${Math.round(used * 100)}%`),
        reset ? el("span", { class: "cell-sub" }, reset) : null,
      );
    }),
  );
}
