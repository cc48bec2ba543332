// Pricing page: the price table requests are costed by (USD per million tokens per provider and
// model; `*` patterns allowed, the most specific row wins). Add or change a price (it becomes the
// operator's own: seeding never overwrites it), edit a row, delete one (the model is unpriced from
// the next request on). Catalog and config rows are seeded at every start.

import { api, get, put } from "../api.js";
import {
  badge, busy, button, card, confirmAction, el, empty, errorBox, field, input, loading, messageSlot, mount, notify,
  select, table,
} from "../dom.js";

/** A price figure for the table: `—` when it falls back to another price. */
const usd = (v, fallback) => (v === null || v === undefined ? el("span", { class: "cell-sub", title: `same as ${fallback}` }, "—") : `$${Number(v)}`);

const SOURCE_KIND = { api: "ok", config: "info", catalog: "" };

export async function render(root, ctx) {
  const list = el("div", { id: "pricing-list" }, loading("Loading prices…"));
  const filter = select([["", "All providers"]], { id: "pricing-filter", "aria-label": "Provider" });
  let rows = [];

  const f = {
    provider: input({ name: "provider", required: true, autocomplete: "off", placeholder: "openai, or *" }),
    model: input({ name: "model", required: true, autocomplete: "off", placeholder: "gpt-4o, gpt-4o*, or *" }),
    input: input({ name: "input", type: "number", min: "0", step: "any", required: true, inputmode: "decimal" }),
    output: input({ name: "output", type: "number", min: "0", step: "any", required: true, inputmode: "decimal" }),
    cache_read: input({ name: "cache_read", type: "number", min: "0", step: "any", inputmode: "decimal", placeholder: "= input" }),
    cache_write: input({ name: "cache_write", type: "number", min: "0", step: "any", inputmode: "decimal", placeholder: "= input" }),
    reasoning: input({ name: "reasoning", type: "number", min: "0", step: "any", inputmode: "decimal", placeholder: "= output" }),
  };
  const msg = messageSlot();
  const submit = el("button", { type: "submit", id: "pricing-save" }, "Save price");
  const form = el(
    "form",
    { class: "inline-form", id: "pricing-form" },
    field("Provider", f.provider, { hint: "A provider id, or * for every provider." }),
    field("Model", f.model, { hint: "A model id, or a pattern with * (gpt-4o*)." }),
    field("Input $/M", f.input),
    field("Output $/M", f.output),
    field("Cache read $/M", f.cache_read),
    field("Cache write $/M", f.cache_write),
    field("Reasoning $/M", f.reasoning, { hint: "Only when billed apart from output." }),
    submit,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(submit, async () => {
      msg.set("");
      const body = { provider: f.provider.value.trim(), model: f.model.value.trim() };
      for (const k of ["input", "output", "cache_read", "cache_write", "reasoning"]) {
        const v = f[k].value.trim();
        if (v !== "") body[k] = Number(v);
      }
      try {
        await put("/api/pricing", body);
        notify(`Price of ${body.provider} / ${body.model} saved.`);
        for (const k of ["model", "input", "output", "cache_read", "cache_write", "reasoning"]) f[k].value = "";
        await load();
      } catch (e) {
        msg.set(e.message, "error");
      }
    });
  });

  function edit(r) {
    for (const k of Object.keys(f)) f[k].value = r[k] === null || r[k] === undefined ? "" : String(r[k]);
    f.input.focus();
  }

  async function remove(r, btn) {
    const ok = await confirmAction(`Delete the price of ${r.provider} / ${r.model}?`, {
      confirm: "Delete",
      danger: true,
      detail: "Requests it matched are unpriced from the next one on (or priced by a less specific row), also after a restart.",
    });
    if (!ok) return;
    await busy(btn, async () => {
      try {
        await api("/api/pricing", { method: "DELETE", query: { provider: r.provider, model: r.model } });
        notify(`Price of ${r.provider} / ${r.model} deleted.`);
        await load();
      } catch (e) {
        notify(e.message, "error");
      }
    });
  }

  async function load() {
    try {
      rows = await get("/api/pricing");
      const chosen = filter.value;
      const providers = [...new Set(rows.map((r) => r.provider))].sort();
      mount(filter, el("option", { value: "" }, "All providers"), providers.map((p) => el("option", { value: p }, p)));
      filter.value = providers.includes(chosen) ? chosen : "";
      draw();
    } catch (e) {
      mount(list, errorBox(e, load));
    }
  }

  function draw() {
    const shown = rows.filter((r) => !filter.value || r.provider === filter.value);
    ctx.setStatus(`${rows.length} prices`);
    if (!shown.length) {
      mount(list, empty("No prices. Requests to unpriced models are recorded as unpriced (never as $0)."));
      return;
    }
    mount(
      list,
      table(
        [
          { label: "Provider", cell: (r) => el("code", {}, r.provider) },
          { label: "Model", cell: (r) => el("code", { title: `updated ${new Date(r.updated_at).toLocaleString()}` }, r.model) },
          { label: "Input", cls: "num", cell: (r) => usd(r.input) },
          { label: "Output", cls: "num", cell: (r) => usd(r.output) },
          { label: "Cache read", cls: "num", cell: (r) => usd(r.cache_read, "input") },
          { label: "Cache write", cls: "num", cell: (r) => usd(r.cache_write, "input") },
          { label: "Reasoning", cls: "num", cell: (r) => usd(r.reasoning, "output") },
          { label: "Source", cell: (r) => badge(r.source, SOURCE_KIND[r.source] ?? "") },
          {
            label: "",
            cls: "actions",
            cell: (r) => [
              button("Edit", () => edit(r), { class: "secondary small", "aria-label": `Edit the price of ${r.provider} / ${r.model}` }),
              button("Delete", (ev) => remove(r, ev.currentTarget), {
                class: "danger-text small",
                "aria-label": `Delete the price of ${r.provider} / ${r.model}`,
              }),
            ],
          },
        ],
        shown,
        { rowAttrs: (r) => ({ "data-price": `${r.provider}/${r.model}` }), caption: "Prices per million tokens" },
      ),
    );
  }

  filter.addEventListener("change", draw);
  mount(
    root,
    card("Add or change a price", {}, form, msg),
    card("Prices (USD per million tokens)", { actions: [field("Provider", filter)] }, list),
  );
  await load();
}
