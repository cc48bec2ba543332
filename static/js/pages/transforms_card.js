// Request transforms card (on the Combos & aliases page): every transform in application order
// with what it matches and what it does, delete for the API's own, and add from JSON (the same
// fields as a `[[transforms]]` entry). Config-file transforms answer 409, shown in place.

import { del, get, post, seg } from "../api.js";
import { badge, busy, button, card, confirmAction, el, empty, errorBox, field, loading, messageSlot, mount, notify, table } from "../dom.js";

const MATCH = ["provider", "model", "combo"];
const META = ["name", "position", "source", "created_at", "updated_at", ...MATCH];

/** The card; loads itself. */
export function transformsCard() {
  const box = el("div", { id: "transforms-list" }, loading("Loading transforms…"));
  const note = messageSlot();
  const spec = el("textarea", {
    name: "transform",
    rows: 4,
    spellcheck: "false",
    placeholder: '{"name": "short-answers", "provider": "openai", "max_tokens": 512, "system": "Be brief."}',
  });
  const add = el("button", { type: "submit" }, "Add transform");
  const form = el(
    "form",
    { id: "transform-form" },
    field("Transform (JSON)", spec, { hint: "name, provider / model / combo to match, set, remove, headers, remove_headers, system, system_mode, max_tokens; position (default: last)." }),
    add,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(add, async () => {
      note.set("");
      let body;
      try {
        body = JSON.parse(spec.value);
      } catch (e) {
        note.set(`Not JSON: ${e.message}`, "error");
        return;
      }
      try {
        const t = await post("/api/transforms", body);
        notify(`Transform ${t.name} added.`);
        spec.value = "";
        await load();
      } catch (e) {
        note.set(e.message, "error");
      }
    });
  });

  async function remove(t, btn) {
    const ok = await confirmAction(`Delete transform “${t.name}”?`, { confirm: "Delete", danger: true, detail: "Requests stop getting its edits from now on." });
    if (!ok) return;
    note.set("");
    await busy(btn, async () => {
      try {
        await del(`/api/transforms/${seg(t.name)}`);
        notify(`Transform ${t.name} deleted.`);
        await load();
      } catch (e) {
        note.set(e.message, "error");
      }
    });
  }

  async function load() {
    try {
      const list = await get("/api/transforms");
      if (!Array.isArray(list) || !list.length) {
        mount(box, empty("No transforms yet."));
        return;
      }
      const edits = (t) => Object.fromEntries(Object.entries(t).filter(([k]) => !META.includes(k) && !(k === "system_mode" && t.system === undefined)));
      mount(
        box,
        table(
          [
            { label: "#", cls: "num", cell: (t) => String(t.position) },
            { label: "Name", cell: (t) => el("strong", {}, t.name) },
            { label: "Matches", cls: "wrap", cell: (t) => MATCH.filter((k) => t[k]).map((k) => `${k} ${t[k]}`).join(", ") || "every request" },
            { label: "Edits", cls: "wrap", cell: (t) => el("code", {}, JSON.stringify(edits(t))) },
            { label: "Source", cell: (t) => badge(t.source === "config" ? "config file" : t.source || "api", t.source === "config" ? "warn" : "") },
            {
              label: "",
              cls: "actions",
              cell: (t) => (t.source === "config" ? null : button("Delete", (ev) => remove(t, ev.currentTarget), { class: "danger-text small", "aria-label": `Delete transform ${t.name}` })),
            },
          ],
          list,
          { rowAttrs: (t) => ({ "data-transform": t.name }), caption: "Request transforms" },
        ),
      );
    } catch (e) {
      mount(box, errorBox(e, load));
    }
  }

  load();
  return card(
    "Request transforms",
    {},
    el("p", { class: "muted" }, "Edits to the upstream request, after translation: every transform that matches applies, in this order. The answer names them in x-omnigate-transforms."),
    form,
    note,
    box,
  );
}
