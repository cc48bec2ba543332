// Keys page: gateway keys with their allowed models, limits and budget; create one (its secret
// shown once, with a copy button), edit its models and limits, enable / disable it, revoke it.

import { ApiError, del, get, patch, post, seg } from "../api.js";
import {
  badge, busy, button, card, confirmAction, copyText, el, empty, errorBox, field, input, loading, messageSlot, mount,
  notify, openDialog, splitList, table, timeEl,
} from "../dom.js";

export async function render(root, ctx) {
  const created = el("div", { id: "key-created" });
  const list = el("div", { id: "keys-list" }, loading("Loading keys…"));
  const showRevoked = el("input", { type: "checkbox", id: "show-revoked" });

  const name = input({ name: "name", required: true, autocomplete: "off", placeholder: "e.g. laptop" });
  const models = input({ name: "models", placeholder: "*", autocomplete: "off" });
  const msg = messageSlot();
  const submit = el("button", { type: "submit" }, "Create key");
  const form = el(
    "form",
    { class: "inline-form", id: "key-form" },
    field("Name", name),
    field("Allowed models", models, { hint: "Comma-separated patterns (* and ? wildcards; combos and aliases by name). Empty means all." }),
    submit,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(submit, async () => {
      msg.set("");
      try {
        const body = { name: name.value.trim() };
        const m = splitList(models.value);
        if (m.length) body.models = m;
        const res = await post("/api/keys", body);
        name.value = "";
        models.value = "";
        showCreated(res);
        await load();
      } catch (e) {
        msg.set(e.message, "error");
      }
    });
  });

  function showCreated(res) {
    const secret = input({ readonly: true, value: res.key, id: "new-key-secret", "aria-label": `Key ${res.name}`, spellcheck: "false" });
    const copied = messageSlot();
    const copy = button("Copy", async () => {
      const ok = await copyText(res.key);
      copied.set(ok ? "Copied to the clipboard." : "Copy failed: select the key and copy it by hand.", ok ? "ok" : "error");
      if (!ok) secret.select();
    }, { id: "copy-key" });
    mount(
      created,
      el(
        "div",
        { class: "callout", role: "status" },
        el("strong", {}, `Key “${res.name}” created.`),
        el("p", {}, "Copy it now: it is stored only as a digest and will not be shown again."),
        el("div", { class: "secret-box" }, secret, copy),
        copied,
        button("Done", () => created.replaceChildren(), { class: "secondary small" }),
      ),
    );
    secret.focus();
    secret.select();
  }

  async function load() {
    try {
      const keys = await get("/api/keys");
      draw(keys);
      ctx.setStatus(`${keys.filter((k) => !k.revoked_at).length} active`);
    } catch (e) {
      mount(list, errorBox(e, load));
    }
  }

  function draw(keys) {
    const rows = keys
      .filter((k) => showRevoked.checked || !k.revoked_at)
      .sort((a, b) => (a.revoked_at ? 1 : 0) - (b.revoked_at ? 1 : 0) || a.name.localeCompare(b.name));
    if (!rows.length) {
      mount(list, empty(keys.length ? "Only revoked keys." : "No keys yet. Create one above; clients send it as a Bearer token."));
      return;
    }
    mount(
      list,
      table(
        [
          { label: "Name", cell: (k) => el("strong", {}, k.name) },
          { label: "Prefix", cell: (k) => el("code", {}, k.prefix) },
          { label: "Models", cls: "wrap", cell: (k) => (k.models?.length ? k.models.join(", ") : "*") },
          { label: "Limits", cls: "wrap", cell: limitsCell },
          { label: "State", cell: stateBadge },
          { label: "Source", cell: (k) => badge(k.source, k.source === "config" ? "info" : "") },
          { label: "Created", cell: (k) => timeEl(k.created_at) },
          { label: "", cls: "actions", cell: actions },
        ],
        rows,
        { rowAttrs: (k) => ({ "data-key": k.name, class: k.revoked_at ? "dim" : "" }), caption: "Gateway keys" },
      ),
    );
  }

  function limitsCell(k) {
    const l = k.limits || {};
    const parts = [];
    if (l.rpm) parts.push(`${l.rpm} rpm`);
    if (l.tpm) parts.push(`${l.tpm.toLocaleString()} tpm`);
    if (l.max_concurrent) parts.push(`${l.max_concurrent} at once`);
    const out = [k.team ? el("div", { class: "cell-sub" }, "team ", el("strong", {}, k.team)) : "", parts.length ? parts.join(" · ") : ""];
    if (l.budget) {
      const b = k.budget_state || {};
      const spent = `$${(b.spent_usd || 0).toFixed(2)} of $${l.budget.usd.toFixed(2)} per ${l.budget.period}`;
      const tone = b.spent ? "bad" : b.warning ? "warn" : "";
      out.push(el("div", { class: "cell-sub", "data-budget": k.name }, spent, " ", b.spent ? badge("spent", tone) : b.warning ? badge("80 %", tone) : ""));
    }
    return parts.length || l.budget || k.team ? out : el("span", { class: "cell-sub" }, "none");
  }

  function stateBadge(k) {
    if (k.revoked_at) return el("span", {}, badge("revoked", "bad"), " ", el("span", { class: "cell-sub" }, timeEl(k.revoked_at)));
    const state = k.enabled ? badge("enabled", "ok") : badge("disabled", "warn");
    return k.cache ? el("span", {}, state, " ", badge("cached", "")) : state;
  }

  function actions(k) {
    if (k.revoked_at) return "";
    const toggle = button(k.enabled ? "Disable" : "Enable", (ev) =>
      busy(ev.currentTarget, () => change(k, { enabled: !k.enabled }, k.enabled ? "disabled" : "enabled")), {
      class: "secondary small",
      "aria-label": `${k.enabled ? "Disable" : "Enable"} key ${k.name}`,
    });
    const edit = button("Edit", () => editKey(k), { class: "secondary small", "aria-label": `Edit key ${k.name}` });
    const revoke = button("Revoke", async (ev) => {
      const btn = ev.currentTarget; // gone once the dialog's await returns
      const ok = await confirmAction(`Revoke key “${k.name}”?`, {
        confirm: "Revoke",
        danger: true,
        detail: "Clients using it are refused from now on. A revoked key stays revoked, even across restarts.",
      });
      if (!ok) return;
      await busy(btn, async () => {
        try {
          await del(`/api/keys/${seg(k.name)}`);
          notify(`Key “${k.name}” revoked.`);
          await load();
        } catch (e) {
          notify(e.message, "error");
        }
      });
    }, { class: "danger-text small", "aria-label": `Revoke key ${k.name}` });
    return [toggle, edit, revoke];
  }

  async function change(k, body, what) {
    try {
      await patch(`/api/keys/${seg(k.name)}`, body);
      notify(`Key “${k.name}” ${what}.`);
      await load();
    } catch (e) {
      notify(explain(e), "error");
    }
  }

  function editKey(k) {
    const m = el("textarea", { rows: 3, name: "models" });
    m.value = (k.models || []).join("\n");
    const enabled = el("input", { type: "checkbox", checked: k.enabled });
    const cache = el("input", { type: "checkbox", name: "cache", checked: !!k.cache });
    const l = k.limits || {};
    const num = (name, value, hint) => input({ name, type: "number", min: "1", step: "1", value: value ?? "", placeholder: hint });
    const rpm = num("rpm", l.rpm, "none");
    const tpm = num("tpm", l.tpm, "none");
    const conc = num("max_concurrent", l.max_concurrent, "none");
    const usd = input({ name: "budget_usd", type: "number", min: "0", step: "0.01", value: l.budget?.usd ?? "", placeholder: "none" });
    const period = el("select", { name: "budget_period" }, ...["day", "week", "month"].map((p) => el("option", { value: p, selected: (l.budget?.period || "month") === p }, p)));
    const team = input({ name: "team", value: k.team || "", placeholder: "none", autocomplete: "off" });
    const msg2 = messageSlot();
    const save = el("button", { type: "submit" }, "Save");
    const f = el(
      "form",
      {},
      field("Allowed models", m, { hint: "One pattern per line (or comma-separated). Empty means all models." }),
      field("Enabled", enabled),
      field("Response cache", cache, { hint: "Repeated requests with temperature 0 or a seed are answered from the cache (x-omnigate-cache: hit)." }),
      field("Requests per minute", rpm),
      field("Tokens per minute", tpm, { hint: "The input estimate plus the output asked for, as upstream limiters count." }),
      field("Requests at once", conc),
      field("Budget (USD)", usd, { hint: "Each request reserves its worst case before it is sent; 80 % warns." }),
      field("Budget period", period, { hint: "Calendar periods, UTC." }),
      field("Team", team, { hint: "A [[teams]] entry of the config file: its limits apply too." }),
      el("div", { class: "form-actions" }, msg2, button("Cancel", () => dlg.close(), { class: "secondary" }), save),
    );
    const dlg = openDialog(`Edit key “${k.name}”`, f);
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(save, async () => {
        try {
          const models = splitList(m.value);
          const limits = {};
          for (const [key, inp] of [["rpm", rpm], ["tpm", tpm], ["max_concurrent", conc]]) {
            if (inp.value.trim() !== "") limits[key] = Number(inp.value);
          }
          if (usd.value.trim() !== "") limits.budget = { usd: Number(usd.value), period: period.value };
          const body = { models: models.length ? models : ["*"], enabled: enabled.checked };
          if (k.source !== "config") {
            body.limits = limits;
            body.team = team.value.trim();
            body.cache = cache.checked;
          }
          await patch(`/api/keys/${seg(k.name)}`, body);
          dlg.close();
          notify(`Key “${k.name}” saved.`);
          await load();
        } catch (e) {
          msg2.set(explain(e), "error");
        }
      });
    });
    m.focus();
  }

  /** Editing keys needs PATCH /api/keys/{name}; an older server answers 404/405. */
  function explain(e) {
    if (e instanceof ApiError && (e.missing || e.status === 405)) return `${e.message} (this server cannot edit keys yet).`;
    return e.message;
  }

  showRevoked.addEventListener("change", load);
  mount(
    root,
    card("Create a key", {}, form, msg, created),
    card("Gateway keys", { actions: [field("Show revoked", showRevoked)] }, list),
  );
  await load();
}
