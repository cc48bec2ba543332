// Tools page: how to point each coding tool (Claude Code, Codex, Gemini CLI, OpenCode, Cline,
// Continue, Cursor, aider) at this gateway: the settings `omnigate setup <tool>` writes, built by
// the daemon from the same code (GET /api/tools), with a copy button for the command and the
// snippet. The key is a placeholder: the daemon keeps only digests (Keys page makes one).

import { get } from "../api.js";
import { badge, button, card, copyText, el, errorBox, field, input, loading, messageSlot, mount } from "../dom.js";

export async function render(root, ctx) {
  const model = input({ name: "model", id: "tools-model", placeholder: "provider/model", autocomplete: "off", value: ctx.params.get("model") || "" });
  const form = el(
    "form",
    { class: "inline-form", id: "tools-form" },
    field("Model", model, { hint: "Written into every snippet; empty keeps a <model> placeholder." }),
    el("button", { type: "submit" }, "Show"),
  );
  const list = el("div", { id: "tools-list", class: "grid" }, loading("Loading tools…"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    ctx.navigate("tools", { model: model.value.trim() }, { replace: true });
    load();
  });

  mount(
    root,
    card(
      "Point your tools at this gateway",
      {},
      el(
        "p",
        { class: "muted" },
        "On the machine where the tool runs, ",
        el("code", {}, "omnigate setup <tool>"),
        " makes a gateway key named after the tool and merges these settings into the tool's own file (a backup is kept; ",
        el("code", {}, "--undo"),
        " restores it, ",
        el("code", {}, "--print"),
        " only shows). To paste them by hand, replace <your gateway key> with a key from the Keys page.",
      ),
      form,
    ),
    list,
  );

  async function load() {
    mount(list, loading("Loading tools…"));
    try {
      const m = model.value.trim();
      const res = await get("/api/tools", m ? { model: m } : undefined);
      if (!ctx.isCurrent()) return;
      mount(list, ...res.tools.map(toolCard));
      ctx.setStatus(`${res.tools.length} tools · ${res.url}`);
    } catch (e) {
      mount(list, errorBox(e, load));
    }
  }

  function copyButton(label, text, id) {
    const msg = messageSlot();
    const b = button(label, async () => {
      const ok = await copyText(text);
      msg.set(ok ? "Copied." : "Copy failed: select the text and copy it by hand.", ok ? "ok" : "error");
    }, { class: "small secondary", id });
    return [b, msg];
  }

  function toolCard(t) {
    const [copyCmd, cmdMsg] = copyButton("Copy command", t.command, `copy-command-${t.id}`);
    const [copySnippet, snippetMsg] = copyButton(t.path ? "Copy file" : "Copy settings", t.text, `copy-snippet-${t.id}`);
    return card(
      t.title,
      { id: `tool-${t.id}`, cls: "tool", actions: [badge(t.path ? t.format : "by hand", t.path ? "" : "warn"), t.runs ? badge("omnigate run", "ok") : null].filter(Boolean) },
      el("div", { class: "secret-box" }, el("code", { class: "tool-command" }, t.command), copyCmd),
      cmdMsg,
      el("p", { class: "muted" }, t.path ? `Written to ${t.path}:` : "Enter these in the editor's settings:"),
      el("pre", { class: "tool-snippet", "data-tool": t.id }, t.text),
      el("div", { class: "secret-box" }, copySnippet),
      snippetMsg,
      el("p", { class: "muted" }, t.note, " ", el("a", { href: t.source, target: "_blank", rel: "noopener noreferrer" }, "Format documentation")),
    );
  }

  await load();
}
