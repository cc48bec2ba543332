// Playground page: pick a client dialect and a model, send a message through the real pipeline,
// watch the answer stream in, and see the upstream request the gateway built for it (preview).

import { errorMessage, get, post, readSse, UNAUTHORIZED } from "../api.js";
import {
  badge, busy, button, card, el, empty, errorBox, field, fmtMs, fmtNum, input, mount, select,
} from "../dom.js";

const DIALECTS = [
  ["openai-chat", "OpenAI Chat Completions"],
  ["anthropic", "Anthropic Messages"],
  ["openai-responses", "OpenAI Responses"],
  ["gemini", "Gemini generateContent"],
];

export function render(root, ctx) {
  const p = ctx.params;
  const dialect = select(DIALECTS, { name: "dialect", value: p.get("dialect") || "openai-chat" });
  const models = el("datalist", { id: "playground-models" });
  const model = input({ name: "model", list: "playground-models", required: true, value: p.get("model") || "", placeholder: "provider/model, combo or alias", autocomplete: "off", spellcheck: "false" });
  const system = el("textarea", { name: "system", rows: 2, placeholder: "optional" });
  const message = el("textarea", { name: "message", rows: 5, required: true, placeholder: "Say hello" });
  message.value = p.get("message") || "";
  const stream = el("input", { type: "checkbox", name: "stream", checked: true });
  const maxTokens = input({ type: "number", name: "max_tokens", min: 1, placeholder: "default", inputmode: "numeric" });
  const sendBtn = el("button", { type: "submit", id: "playground-send" }, "Send");
  const previewBtn = button("Preview upstream request", () => busy(previewBtn, () => preview(true)), { class: "secondary", id: "playground-preview" });
  const stopBtn = button("Stop", () => controller?.abort(), { class: "secondary", hidden: true });
  const formMsg = el("div", { id: "playground-error" });

  const form = el(
    "form",
    { id: "playground-form" },
    el(
      "div",
      { class: "form-grid" },
      field("Client dialect", dialect, { hint: "The API a client would speak to the gateway." }),
      field("Model", model),
      models,
      field("System prompt", system, { cls: "wide" }),
      field("Message", message, { cls: "wide" }),
      field("Stream the answer", stream),
      field("Max tokens", maxTokens),
    ),
    el("div", { class: "form-actions" }, previewBtn, stopBtn, sendBtn),
    formMsg,
  );

  const answer = el("div", { class: "answer", id: "playground-answer", "aria-live": "polite" }, el("span", { class: "muted" }, "The answer appears here."));
  const meta = el("div", { class: "meta-line", id: "playground-meta" });
  const thinking = el("details", { hidden: true }, el("summary", {}, "Reasoning"), el("pre", {}));
  const raw = el("pre", { id: "playground-raw" });
  const upstream = el("div", { id: "playground-upstream" }, empty("Preview or send a message to see the request the gateway builds for the upstream."));

  mount(
    root,
    el(
      "div",
      { class: "playground" },
      card("Message", {}, form),
      el(
        "div",
        { class: "page" },
        card("Answer", {}, answer, thinking, meta, el("details", {}, el("summary", {}, "Raw response"), raw)),
        card("Upstream request", {}, upstream),
      ),
    ),
  );

  let controller = null;

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(sendBtn, send);
  });

  function payload() {
    const body = { dialect: dialect.value, model: model.value.trim(), message: message.value, stream: stream.checked };
    if (system.value.trim()) body.system = system.value;
    if (maxTokens.value) body.max_tokens = Number(maxTokens.value);
    return body;
  }

  async function preview(show) {
    formMsg.replaceChildren();
    if (!form.reportValidity()) return null;
    try {
      const pv = await post("/api/playground/preview", payload());
      drawUpstream(pv);
      return pv;
    } catch (e) {
      if (show) mount(formMsg, errorBox(e));
      mount(upstream, errorBox(e));
      return null;
    }
  }

  function drawUpstream(pv) {
    const headers = Object.entries(pv.headers || {}).map(([k, v]) => `${k}: ${v}`).join("\n");
    mount(
      upstream,
      el(
        "p",
        { class: "meta-line" },
        badge(pv.mode || "translate", pv.mode === "passthrough" ? "ok" : "info"),
        el("span", {}, `${pv.client_dialect} → ${pv.upstream_dialect}`),
        el("span", {}, `target ${pv.target}`),
        pv.account ? el("span", {}, `account ${pv.provider}/${pv.account}`) : el("span", {}, "no healthy account"),
        pv.fallbacks?.length ? el("span", {}, `then ${pv.fallbacks.join(", ")}`) : null,
      ),
      pv.url ? el("p", {}, el("code", {}, `${pv.method} ${pv.url}`)) : el("p", { class: "muted" }, "Served in-process (no HTTP call)."),
      headers ? el("details", {}, el("summary", {}, "Headers (credentials never shown)"), el("pre", {}, headers)) : null,
      el("h3", {}, "Body"),
      el("pre", { id: "playground-upstream-body" }, JSON.stringify(pv.body, null, 2)),
      el("details", {}, el("summary", {}, `What a ${pv.client_dialect} client sends`), el("pre", {}, JSON.stringify(pv.client_body, null, 2))),
    );
  }

  async function send() {
    formMsg.replaceChildren();
    if (!form.reportValidity()) return;
    const body = payload();
    preview(false);
    controller = new AbortController();
    stopBtn.hidden = false;
    answer.replaceChildren();
    answer.classList.add("streaming");
    thinking.hidden = true;
    thinking.querySelector("pre").textContent = "";
    raw.textContent = "";
    meta.replaceChildren(el("span", {}, "sending…"));
    const started = performance.now();
    let firstByte = null;
    let text = "";
    let usage = null;
    const onText = (t) => {
      if (!t) return;
      if (firstByte === null) firstByte = performance.now() - started;
      text += t;
      answer.textContent = text;
    };
    const onThinking = (t) => {
      if (!t) return;
      thinking.hidden = false;
      thinking.querySelector("pre").textContent += t;
    };
    let res;
    try {
      res = await fetch("/api/playground/send", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      if (res.status === 401) window.dispatchEvent(new CustomEvent(UNAUTHORIZED));
      const ct = res.headers.get("content-type") || "";
      if (res.ok && ct.includes("text/event-stream")) {
        let failure = null;
        await readSse(res, ({ event, data }) => {
          raw.textContent += `${event !== "message" ? `event: ${event}\n` : ""}data: ${data}\n\n`;
          if (data === "[DONE]") return;
          let j;
          try {
            j = JSON.parse(data);
          } catch {
            return;
          }
          const r = streamPiece(dialect.value, event, j);
          onText(r.text);
          onThinking(r.thinking);
          if (r.usage) usage = r.usage;
          if (r.error) failure = r.error;
        });
        if (failure) throw new Error(failure);
      } else {
        const txt = await res.text();
        raw.textContent = txt;
        let j = null;
        try {
          j = JSON.parse(txt);
        } catch {
          j = null;
        }
        if (!res.ok) throw new Error(`${res.status}: ${errorMessage(j, txt || res.statusText)}`);
        const r = wholeAnswer(dialect.value, j);
        onThinking(r.thinking);
        onText(r.text);
        usage = r.usage;
      }
      if (!text) answer.replaceChildren(el("span", { class: "muted" }, "(an empty answer)"));
      drawMeta(res, performance.now() - started, firstByte, usage);
    } catch (e) {
      if (e.name === "AbortError") {
        answer.append(el("span", { class: "muted" }, " [stopped]"));
        drawMeta(res, performance.now() - started, firstByte, usage);
      } else {
        if (!text) answer.replaceChildren();
        mount(formMsg, errorBox({ message: e.message }));
        if (res) drawMeta(res, performance.now() - started, firstByte, usage);
        else meta.replaceChildren();
      }
    } finally {
      answer.classList.remove("streaming");
      stopBtn.hidden = true;
      controller = null;
    }
  }

  function drawMeta(res, total, ttfb, usage) {
    if (!res) return;
    const h = (n) => res.headers.get(n);
    const rid = h("x-request-id");
    mount(
      meta,
      badge(String(res.status), res.ok ? "ok" : "bad"),
      h("x-omnigate-provider") ? el("span", {}, `via ${h("x-omnigate-provider")}/${h("x-omnigate-account") || "?"}`) : null,
      h("x-omnigate-attempts") ? el("span", {}, `${h("x-omnigate-attempts")} attempt(s)`) : null,
      el("span", {}, `total ${fmtMs(total)}`),
      ttfb !== null ? el("span", {}, `first token ${fmtMs(ttfb)}`) : null,
      usage ? el("span", {}, `${fmtNum(usage.input)} in / ${fmtNum(usage.output)} out tokens`) : null,
      rid ? el("a", { href: `#/requests?id=${encodeURIComponent(rid)}`, id: "playground-request-link" }, "In the request log →") : null,
    );
  }

  // Model suggestions: what the gateway has served, plus combos and aliases when known.
  (async () => {
    const names = new Set();
    const tryGet = async (path, pick) => {
      try {
        pick(await get(path));
      } catch {
        /* suggestions only */
      }
    };
    await Promise.all([
      tryGet("/api/providers", (list) =>
        (list.items || list || [])
          .filter((pr) => pr.accounts > 0 || !pr.builtin)
          .forEach((pr) => (pr.models || []).forEach((m) => names.add(`${pr.id}/${typeof m === "string" ? m : m.id}`)))),
      tryGet("/api/combos", (list) => (list.items || list || []).forEach((c) => names.add(c.name))),
      tryGet("/api/aliases", (list) => (list.items || list || []).forEach((a) => names.add(a.alias))),
      tryGet("/api/usage?limit=200", (rows) => rows.forEach((r) => r.status < 400 && names.add(r.model))),
    ]);
    models.replaceChildren(...[...names].sort().map((n) => el("option", { value: n })));
    if (!model.value && names.size) model.value = [...names].sort()[0];
  })();
}

/** One streamed event of `dialect` → {text, thinking, usage, error}. */
export function streamPiece(dialect, event, j) {
  const out = {};
  if (j.error && !j.choices && !j.candidates) {
    out.error = errorMessage(j, "the stream reported an error");
    return out;
  }
  switch (dialect) {
    case "openai-chat": {
      const d = j.choices?.[0]?.delta || {};
      out.text = d.content || "";
      out.thinking = d.reasoning_content || d.reasoning || "";
      if (j.usage) out.usage = { input: j.usage.prompt_tokens, output: j.usage.completion_tokens };
      break;
    }
    case "anthropic": {
      const type = j.type || event;
      if (type === "content_block_delta") {
        out.text = j.delta?.type === "text_delta" ? j.delta.text : "";
        out.thinking = j.delta?.type === "thinking_delta" ? j.delta.thinking : "";
      } else if (type === "message_delta" && j.usage) {
        out.usage = { input: j.usage.input_tokens, output: j.usage.output_tokens };
      } else if (type === "message_start" && j.message?.usage) {
        out.usage = { input: j.message.usage.input_tokens, output: j.message.usage.output_tokens };
      } else if (type === "error") {
        out.error = errorMessage(j, "error event");
      }
      break;
    }
    case "openai-responses": {
      const type = j.type || event;
      if (type === "response.output_text.delta") out.text = j.delta || "";
      else if (type === "response.reasoning_summary_text.delta" || type === "response.reasoning_text.delta") out.thinking = j.delta || "";
      else if (type === "response.completed" && j.response?.usage) out.usage = { input: j.response.usage.input_tokens, output: j.response.usage.output_tokens };
      else if (type === "response.failed" || type === "error") out.error = j.response?.error?.message || errorMessage(j, type);
      break;
    }
    case "gemini": {
      for (const part of j.candidates?.[0]?.content?.parts || []) {
        if (part.thought) out.thinking = (out.thinking || "") + (part.text || "");
        else out.text = (out.text || "") + (part.text || "");
      }
      if (j.usageMetadata) out.usage = { input: j.usageMetadata.promptTokenCount, output: j.usageMetadata.candidatesTokenCount };
      break;
    }
    default:
      break;
  }
  return out;
}

/** A whole (non-streamed) answer of `dialect` → {text, thinking, usage}. */
export function wholeAnswer(dialect, j) {
  const out = { text: "", thinking: "", usage: null };
  if (!j) return out;
  switch (dialect) {
    case "openai-chat": {
      const m = j.choices?.[0]?.message || {};
      out.text = typeof m.content === "string" ? m.content : "";
      out.thinking = m.reasoning_content || "";
      if (j.usage) out.usage = { input: j.usage.prompt_tokens, output: j.usage.completion_tokens };
      break;
    }
    case "anthropic":
      for (const b of j.content || []) {
        if (b.type === "text") out.text += b.text;
        else if (b.type === "thinking") out.thinking += b.thinking;
      }
      if (j.usage) out.usage = { input: j.usage.input_tokens, output: j.usage.output_tokens };
      break;
    case "openai-responses":
      for (const item of j.output || []) {
        for (const c of item.content || []) if (c.type === "output_text") out.text += c.text;
        for (const s of item.summary || []) if (s.text) out.thinking += s.text;
      }
      if (j.usage) out.usage = { input: j.usage.input_tokens, output: j.usage.output_tokens };
      break;
    case "gemini":
      for (const part of j.candidates?.[0]?.content?.parts || []) {
        if (part.thought) out.thinking += part.text || "";
        else out.text += part.text || "";
      }
      if (j.usageMetadata) out.usage = { input: j.usageMetadata.promptTokenCount, output: j.usageMetadata.candidatesTokenCount };
      break;
    default:
      break;
  }
  return out;
}
