// Combos & aliases page: combos (a named, ordered list of targets with a strategy and weights)
// edited with drag-to-reorder rows that also move by keyboard (Alt+ArrowUp/Down, or the move
// buttons); model aliases; and request transforms (`transforms_card.js`). Entries from the config
// file answer 409, shown in place.

import { del, get, post, put, seg } from "../api.js";
import {
  badge, busy, button, card, confirmAction, el, empty, errorBox, field, input, loading, messageSlot, mount, notify,
  select, table,
} from "../dom.js";
import { transformsCard } from "./transforms_card.js";

const STRATEGIES = [
  ["priority", "priority: in this order"], ["round-robin", "round-robin: rotate the first target"],
  ["random", "random: weighted shuffle"], ["weighted", "weighted: lead by weight, evenly spread"],
  ["least-used", "least-used: longest idle first"], ["cost-optimized", "cost-optimized: cheapest price first"],
  ["latency-optimized", "latency-optimized: fastest first byte first"], ["fill-first", "fill-first: stay on the last server"],
];

export function render(root, ctx) {
  const editorBox = el("div", { id: "combo-editor-box" });
  const combosBox = el("div", { id: "combos-list" }, loading("Loading combos…"));
  const aliasesBox = el("div", { id: "aliases-list" }, loading("Loading aliases…"));
  const comboNote = messageSlot();
  const aliasNote = messageSlot();
  const models = el("datalist", { id: "combo-models" });
  const newCombo = button("New combo", () => openEditor(null), { id: "new-combo" });

  const alias = input({ name: "alias", required: true, placeholder: "e.g. fast or claude-*", autocomplete: "off" });
  const target = input({ name: "target", required: true, list: "combo-models", placeholder: "provider/model or a combo", autocomplete: "off" });
  const addAlias = el("button", { type: "submit" }, "Add alias");
  const aliasForm = el("form", { class: "inline-form", id: "alias-form" }, field("Alias", alias, { hint: "* and ? wildcards allowed." }), field("Target", target), addAlias);
  aliasForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(addAlias, async () => {
      aliasNote.set("");
      try {
        await post("/api/aliases", { alias: alias.value.trim(), target: target.value.trim() });
        notify(`Alias ${alias.value.trim()} → ${target.value.trim()} added.`);
        alias.value = "";
        target.value = "";
        await loadAliases();
      } catch (e) {
        aliasNote.set(e.message, "error");
      }
    });
  });

  mount(
    root,
    models,
    editorBox,
    card("Combos", { actions: [newCombo] }, el("p", { class: "muted" }, "A combo is used as a model name: the gateway tries its targets in order (by its strategy) until one answers."), comboNote, combosBox),
    card("Aliases", {}, aliasForm, aliasNote, aliasesBox),
    transformsCard(),
  );

  let combos = [];

  async function loadCombos() {
    try {
      combos = listOf(await get("/api/combos"));
      drawCombos();
    } catch (e) {
      mount(combosBox, errorBox(e, loadCombos));
    }
  }

  function drawCombos() {
    if (!combos.length) {
      mount(combosBox, empty("No combos yet.", button("Create one", () => openEditor(null), { class: "small" })));
      return;
    }
    mount(
      combosBox,
      table(
        [
          { label: "Name", cell: (c) => [el("strong", {}, c.name), c.source === "config" ? el("span", { class: "cell-sub" }, "config file") : null] },
          { label: "Strategy", cell: (c) => badge(c.strategy || "priority", "info") },
          { label: "Targets", cls: "wrap", cell: (c) => el("ol", { class: "combo-targets-view" }, targetsOf(c).map((t) => el("li", {}, t.model, c.strategy === "random" && t.weight !== 1 ? el("span", { class: "muted" }, ` ×${t.weight}`) : null))) },
          {
            label: "",
            cls: "actions",
            cell: (c) => [
              button("Edit", () => openEditor(c), { class: "secondary small", "aria-label": `Edit combo ${c.name}` }),
              button("Delete", (ev) => removeCombo(c, ev.currentTarget), { class: "danger-text small", "aria-label": `Delete combo ${c.name}` }),
            ],
          },
        ],
        combos,
        { rowAttrs: (c) => ({ "data-combo": c.name }), caption: "Combos" },
      ),
    );
  }

  async function removeCombo(c, btn) {
    const ok = await confirmAction(`Delete combo “${c.name}”?`, { confirm: "Delete", danger: true, detail: "Clients asking for it get a 404 from now on." });
    if (!ok) return;
    comboNote.set("");
    await busy(btn, async () => {
      try {
        await del(`/api/combos/${seg(c.name)}`);
        notify(`Combo ${c.name} deleted.`);
        await loadCombos();
      } catch (e) {
        comboNote.set(e.message, "error");
      }
    });
  }

  async function loadAliases() {
    try {
      const list = listOf(await get("/api/aliases"));
      if (!list.length) {
        mount(aliasesBox, empty("No aliases yet."));
        return;
      }
      mount(
        aliasesBox,
        table(
          [
            { label: "Alias", cell: (a) => el("strong", {}, a.alias) },
            { label: "Target", cls: "wrap", cell: (a) => a.target },
            { label: "Source", cell: (a) => badge(a.source === "config" ? "config file" : a.source || "api", a.source === "config" ? "warn" : "") },
            {
              label: "",
              cls: "actions",
              cell: (a) =>
                button("Delete", (ev) => busy(ev.currentTarget, async () => {
                  aliasNote.set("");
                  try {
                    await del(`/api/aliases/${seg(a.alias)}`);
                    notify(`Alias ${a.alias} deleted.`);
                    await loadAliases();
                  } catch (e) {
                    aliasNote.set(e.message, "error");
                  }
                }), { class: "danger-text small", "aria-label": `Delete alias ${a.alias}` }),
            },
          ],
          list,
          { rowAttrs: (a) => ({ "data-alias": a.alias }), caption: "Aliases" },
        ),
      );
    } catch (e) {
      mount(aliasesBox, errorBox(e, loadAliases));
    }
  }

  async function loadModels() {
    const names = new Set();
    try {
      for (const p of listOf(await get("/api/providers"))) {
        if (p.builtin && !p.accounts) continue;
        for (const m of p.models || []) names.add(`${p.id}/${typeof m === "string" ? m : m.id}`);
      }
    } catch {
      /* suggestions only */
    }
    for (const c of combos) names.add(c.name);
    models.replaceChildren(...[...names].sort().map((n) => el("option", { value: n })));
  }

  function openEditor(combo) {
    mount(editorBox, comboEditor(combo, {
      onDone: async (saved) => {
        editorBox.replaceChildren();
        if (saved) await loadCombos();
        newCombo.focus();
      },
    }));
    editorBox.querySelector(combo ? "select" : "input")?.focus();
    editorBox.scrollIntoView({ block: "nearest" });
  }

  loadCombos().then(loadModels);
  loadAliases();
  if (ctx.params.get("edit")) get(`/api/combos/${seg(ctx.params.get("edit"))}`).then(openEditor, () => {});
}

/** The editor card of one combo (new when `combo` is null). */
function comboEditor(combo, { onDone }) {
  const editing = Boolean(combo);
  const name = input({ name: "name", required: true, value: combo?.name || "", disabled: editing, autocomplete: "off", placeholder: "e.g. coding" });
  const strategy = select(STRATEGIES, { name: "strategy", value: combo?.strategy || "priority" });
  const list = el("ol", { class: "targets", id: "combo-targets", "aria-label": "Targets, in the order they are tried", "aria-describedby": "combo-reorder-help" });
  const announce = el("p", { class: "sr-only", "aria-live": "assertive", id: "combo-announce" });
  const msg = messageSlot();
  const save = el("button", { type: "submit", id: "combo-save" }, editing ? "Save combo" : "Create combo");

  const rows = () => [...list.children];
  const renumber = () => {
    rows().forEach((li, i) => {
      li.querySelector(".pos").textContent = `${i + 1}.`;
      li.setAttribute("aria-label", `Target ${i + 1} of ${rows().length}: ${li.querySelector("input[name=model]").value || "empty"}`);
      li.querySelector("[data-move=up]").disabled = i === 0;
      li.querySelector("[data-move=down]").disabled = i === rows().length - 1;
    });
  };

  /** Moves `li` by `delta` places, keeping focus where it was, and says so to screen readers. */
  const move = (li, delta) => {
    const all = rows();
    const i = all.indexOf(li);
    const j = i + delta;
    if (j < 0 || j >= all.length) return;
    const focused = document.activeElement;
    if (delta < 0) list.insertBefore(li, all[j]);
    else list.insertBefore(li, all[j].nextSibling);
    renumber();
    if (focused && li.contains(focused) && !focused.disabled) focused.focus();
    else li.focus();
    announce.textContent = `${li.querySelector("input[name=model]").value || "Target"} moved to position ${j + 1} of ${all.length}.`;
  };

  let dragged = null;
  const clearMarks = () => rows().forEach((r) => r.classList.remove("drop-before", "drop-after"));

  const addRow = (t = { model: "", weight: 1 }) => {
    const model = input({ name: "model", required: true, value: t.model, list: "combo-models", autocomplete: "off", spellcheck: "false", "aria-label": "Target model" });
    const weight = input({ type: "number", name: "weight", min: 0, step: 1, value: t.weight ?? 1, "aria-label": "Weight" });
    const handle = el("span", { class: "handle", title: "Drag to reorder", "aria-hidden": "true" }, "⠿");
    const li = el(
      "li",
      { class: "target-row", tabindex: "0" },
      handle,
      el("span", { class: "pos" }),
      model,
      weight,
      el(
        "span",
        { class: "row-actions" },
        button("↑", () => move(li, -1), { class: "secondary small", "data-move": "up", "aria-label": "Move up", title: "Move up (Alt+↑)" }),
        button("↓", () => move(li, 1), { class: "secondary small", "data-move": "down", "aria-label": "Move down", title: "Move down (Alt+↓)" }),
        button("✕", () => {
          const next = li.nextElementSibling || li.previousElementSibling;
          li.remove();
          renumber();
          (next || addBtn).focus();
        }, { class: "danger-text small", "aria-label": "Remove target", title: "Remove" }),
      ),
    );
    li.addEventListener("keydown", (ev) => {
      if (ev.altKey && (ev.key === "ArrowUp" || ev.key === "ArrowDown")) {
        ev.preventDefault();
        move(li, ev.key === "ArrowUp" ? -1 : 1);
      }
    });
    model.addEventListener("input", renumber);
    // Drag by the handle only, so text in the inputs can still be selected.
    handle.addEventListener("mousedown", () => (li.draggable = true));
    li.addEventListener("dragstart", (ev) => {
      dragged = li;
      li.classList.add("dragging");
      ev.dataTransfer.effectAllowed = "move";
      ev.dataTransfer.setData("text/plain", model.value);
    });
    li.addEventListener("dragend", () => {
      li.draggable = false;
      li.classList.remove("dragging");
      clearMarks();
      dragged = null;
    });
    li.addEventListener("dragover", (ev) => {
      if (!dragged || dragged === li) return;
      ev.preventDefault();
      const r = li.getBoundingClientRect();
      const after = ev.clientY > r.top + r.height / 2;
      clearMarks();
      li.classList.add(after ? "drop-after" : "drop-before");
    });
    li.addEventListener("drop", (ev) => {
      if (!dragged || dragged === li) return;
      ev.preventDefault();
      const after = li.classList.contains("drop-after");
      list.insertBefore(dragged, after ? li.nextSibling : li);
      clearMarks();
      renumber();
      announce.textContent = `${dragged.querySelector("input[name=model]").value} moved to position ${rows().indexOf(dragged) + 1}.`;
    });
    list.append(li);
    renumber();
    return li;
  };

  const addBtn = button("Add target", () => addRow().querySelector("input").focus(), { class: "secondary small", id: "combo-add-target" });
  for (const t of combo ? targetsOf(combo) : [{ model: "", weight: 1 }]) addRow(t);

  const form = el(
    "form",
    { id: "combo-editor" },
    el("div", { class: "form-grid" }, field("Name", name, { hint: editing ? "Names cannot change." : "Clients send it as the model." }), field("Strategy", strategy)),
    el("h3", { class: "targets-title" }, "Targets"),
    el("p", { class: "muted", id: "combo-reorder-help" }, "Drag a row by its handle, or focus a row and press Alt+↑ / Alt+↓ (or use the arrow buttons). Weights matter for the random strategy."),
    list,
    announce,
    el("div", { class: "form-actions" }, addBtn, msg, button("Cancel", () => onDone(false), { class: "secondary" }), save),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(save, async () => {
      msg.set("");
      const targets = rows().map((li) => ({ model: li.querySelector("input[name=model]").value.trim(), weight: Number(li.querySelector("input[name=weight]").value || 1) }));
      if (!targets.length) {
        msg.set("A combo needs at least one target.", "error");
        return;
      }
      const body = {
        name: name.value.trim(),
        strategy: strategy.value,
        models: targets.map((t) => (t.weight === 1 ? t.model : { model: t.model, weight: t.weight })),
      };
      try {
        if (editing) await put(`/api/combos/${seg(combo.name)}`, body);
        else await post("/api/combos", body);
        notify(`Combo ${body.name} ${editing ? "saved" : "created"}.`);
        await onDone(true);
      } catch (e) {
        msg.set(e.message, "error");
      }
    });
  });
  return card(editing ? `Edit combo ${combo.name}` : "New combo", { id: "combo-editor-card" }, form);
}

/** A combo's targets as [{model, weight}], whatever the spelling. */
function targetsOf(c) {
  return (c.models || c.targets || []).map((t) => (typeof t === "string" ? { model: t, weight: 1 } : { model: t.model, weight: t.weight ?? 1 }));
}

function listOf(v) {
  if (Array.isArray(v)) return v;
  return v?.items || v?.combos || v?.aliases || [];
}
