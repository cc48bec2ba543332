// The account and custom-provider forms of the Providers page, in dialogs. Errors (a field the
// server names, a 409 for an entry the config file owns) are shown inside the dialog.

import { patch, post, seg } from "../api.js";
import { busy, button, el, field, input, messageSlot, notify, openDialog, select } from "../dom.js";

const DIALECTS = ["openai-chat", "openai-responses", "anthropic", "gemini"];
const AUTH = [["", "The dialect's default"], ["bearer", "Authorization: Bearer"], ["x-api-key", "x-api-key"], ["x-goog-api-key", "x-goog-api-key"], ["query", "?key= in the URL"], ["none", "None (local server)"]];
const STRATEGIES = [["", "Gateway default"], ["fill-first", "fill-first"], ["round-robin", "round-robin"], ["p2c", "p2c (fewest in flight of two)"], ["random", "random (weighted)"], ["least-used", "least-used"], ["cost-optimized", "cost-optimized"]];

/** A number input's value, or undefined when empty. */
const num = (i) => (i.value.trim() === "" ? undefined : Number(i.value));

/** The dialog's footer: message slot, cancel and submit. */
function footer(dlg, submitText) {
  const msg = messageSlot();
  const submit = el("button", { type: "submit" }, submitText);
  return { msg, submit, node: el("div", { class: "form-actions" }, msg, button("Cancel", () => dlg.close(), { class: "secondary" }), submit) };
}

/**
 * Add (account null) or edit an account. `providers`: the known providers, for the picker.
 */
export function accountForm({ account, providerId, providers, onSaved }) {
  const editing = Boolean(account);
  const ids = providers.map((p) => p.id).sort();
  const provider = select(ids.map((id) => [id, id]), { name: "provider", required: true, disabled: editing });
  provider.value = account?.provider || providerId || ids[0] || "";
  const name = input({ name: "name", required: true, value: account?.name || "", autocomplete: "off", disabled: editing, placeholder: "e.g. work" });
  const apiKey = input({ type: "password", name: "api_key", autocomplete: "new-password", spellcheck: "false", placeholder: editing ? "unchanged" : "" });
  const baseUrl = input({ type: "url", name: "base_url", value: account?.base_url || "", placeholder: "the provider's", autocomplete: "off" });
  const priority = input({ type: "number", name: "priority", value: account?.priority ?? "", placeholder: "1", step: 1 });
  const weight = input({ type: "number", name: "weight", value: account?.weight ?? "", placeholder: "1", min: 0, step: 1 });
  const maxConc = input({ type: "number", name: "max_concurrent", value: account?.max_concurrent ?? "", placeholder: "unlimited", min: 1, step: 1 });
  const enabled = el("input", { type: "checkbox", name: "enabled", checked: account ? account.enabled : true });
  const orgHeaders = el("input", { type: "checkbox", name: "forward_org_headers", checked: Boolean(account?.forward_org_headers) });

  const form = el("form", { id: "account-form" });
  const dlg = openDialog(editing ? `Edit account ${account.provider}/${account.name}` : "Add account", form);
  const f = footer(dlg, editing ? "Save" : "Add account");
  form.append(
    el(
      "div",
      { class: "form-grid" },
      field("Provider", provider),
      field("Name", name, { hint: editing ? "Names cannot change." : "Unique within the provider." }),
      field("API key", apiKey, { cls: "wide", hint: editing ? "Leave empty to keep the current key. Keys are sealed, never shown again." : "Sealed with the master key; never shown again." }),
      field("Base URL override", baseUrl, { cls: "wide" }),
      field("Priority", priority, { hint: "Lower is preferred (fill-first, cost-optimized)." }),
      field("Weight", weight, { hint: "Share in weighted random choice." }),
      field("Max concurrent", maxConc),
      el("div", { class: "field" }, field("Enabled", enabled), field("Forward OpenAI-Organization / -Project", orgHeaders)),
    ),
    f.node,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(f.submit, async () => {
      f.msg.set("");
      const body = {
        base_url: baseUrl.value.trim() || null,
        priority: num(priority),
        weight: num(weight),
        max_concurrent: num(maxConc) ?? null,
        enabled: enabled.checked,
        forward_org_headers: orgHeaders.checked,
      };
      if (apiKey.value) body.api_key = apiKey.value;
      try {
        if (editing) {
          if (body.priority === undefined) body.priority = null;
          if (body.weight === undefined) body.weight = null;
          await patch(`/api/accounts/${account.id}`, body);
        } else {
          for (const k of Object.keys(body)) if (body[k] === undefined || body[k] === null) delete body[k];
          await post("/api/accounts", { provider: provider.value, name: name.value.trim(), ...body });
        }
        dlg.close();
        notify(editing ? `Account ${account.name} saved.` : `Account ${name.value.trim()} added to ${provider.value}.`);
        await onSaved();
      } catch (e) {
        f.msg.set(e.message, "error");
      }
    });
  });
  (editing ? apiKey : provider.value ? name : provider).focus();
}

/** One model per line: `id`, optionally `max_output=8192 price=0.5/1.5[/cache read/cache write]`. */
export function modelsToText(models) {
  return (models || [])
    .map((m) => {
      if (typeof m === "string") return m;
      const parts = [m.id];
      if (m.max_output) parts.push(`max_output=${m.max_output}`);
      if (m.price?.length) parts.push(`price=${m.price.join("/")}`);
      return parts.join(" ");
    })
    .join("\n");
}

/** The inverse of modelsToText; throws a message naming the bad line. */
export function textToModels(text) {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line, i) => {
      const [id, ...opts] = line.split(/\s+/);
      if (!opts.length) return id;
      const m = { id };
      for (const o of opts) {
        const [k, v] = o.split("=");
        if (k === "max_output" && /^\d+$/.test(v || "")) m.max_output = Number(v);
        else if (k === "price" && v) m.price = v.split("/").map(Number);
        else throw new Error(`models, line ${i + 1}: “${o}” is not max_output=N or price=in/out`);
        if (m.price?.some((x) => Number.isNaN(x))) throw new Error(`models, line ${i + 1}: price must be numbers (USD per 1M tokens)`);
      }
      return m;
    });
}

/** Add (provider null) or edit a custom provider. */
export function providerForm({ provider, onSaved }) {
  const editing = Boolean(provider);
  const id = input({ name: "id", required: true, value: provider?.id || "", disabled: editing, autocomplete: "off", placeholder: "e.g. lab", pattern: "[A-Za-z0-9][A-Za-z0-9._-]*" });
  const dialect = select(DIALECTS, { name: "dialect", value: provider?.dialect || "openai-chat" });
  const baseUrl = input({ type: "url", name: "base_url", required: true, value: provider?.base_url || "", placeholder: "https://host/v1", autocomplete: "off" });
  const auth = select(AUTH, { name: "auth", value: provider?.auth || "" });
  const strategy = select(STRATEGIES, { name: "strategy", value: provider?.strategy || "" });
  const models = el("textarea", { name: "models", rows: 4, required: true, spellcheck: "false", placeholder: "model-a\nmodel-b max_output=8192 price=0.5/1.5" });
  models.value = modelsToText(provider?.models);

  const form = el("form", { id: "provider-form" });
  const dlg = openDialog(editing ? `Edit provider ${provider.id}` : "Add custom provider", form);
  const f = footer(dlg, editing ? "Save" : "Add provider");
  form.append(
    el(
      "div",
      { class: "form-grid" },
      field("Id", id, { hint: "Clients ask for id/model." }),
      field("Dialect", dialect, { hint: "The API the endpoint speaks." }),
      field("Base URL", baseUrl, { cls: "wide" }),
      field("Models", models, { cls: "wide", hint: "One per line: an id, optionally max_output=N and price=in/out (USD per 1M tokens)." }),
      field("Credential header", auth),
      field("Account strategy", strategy),
    ),
    f.node,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(f.submit, async () => {
      f.msg.set("");
      let list;
      try {
        list = textToModels(models.value);
      } catch (e) {
        f.msg.set(e.message, "error");
        models.focus();
        return;
      }
      const body = { dialect: dialect.value, base_url: baseUrl.value.trim(), models: list, auth: auth.value || null, strategy: strategy.value || null };
      try {
        if (editing) {
          await patch(`/api/providers/${seg(provider.id)}`, body);
        } else {
          for (const k of ["auth", "strategy"]) if (body[k] === null) delete body[k];
          await post("/api/providers", { id: id.value.trim(), ...body });
        }
        dlg.close();
        notify(editing ? `Provider ${provider.id} saved.` : `Provider ${id.value.trim()} added. Add an account for it next.`);
        await onSaved();
      } catch (e) {
        f.msg.set(e.message, "error");
      }
    });
  });
  (editing ? baseUrl : id).focus();
}
