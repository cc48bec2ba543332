// Requests page: the request log with filters (kept in the address, so a filtered view can be
// linked), cursor pagination, and a detail drawer with every upstream attempt.

import { get, seg } from "../api.js";
import {
  badge, busy, button, card, costOf, el, empty, errorBox, field, fmtDateTime, fmtMs, fmtNum, input, keepFocus, loading, mount,
  openDrawer, poll, select, statusBadge, table, timeEl,
} from "../dom.js";

const PAGE_SIZE = 50;
const LIVE_MS = 5000;

const STATUS = [["", "Any status"], ["ok", "Succeeded (< 400)"], ["error", "Failed (≥ 400)"], ["2xx", "2xx"], ["4xx", "4xx"], ["5xx", "5xx"], ["429", "429 rate limited"], ["499", "499 client left"]];
const SINCE = [["", "Any time"], ["15m", "Last 15 minutes"], ["1h", "Last hour"], ["24h", "Last 24 hours"], ["7d", "Last 7 days"], ["30d", "Last 30 days"]];

const OUTCOME_KIND = { success: "ok", rate_limited: "warn", cancelled: "warn", client_error: "warn" };

export function render(root, ctx) {
  const p = ctx.params;
  const f = {
    status: select(STATUS, { name: "status", value: p.get("status") || "" }),
    since: select(SINCE, { name: "since", value: p.get("since") || "" }),
    provider: input({ name: "provider", value: p.get("provider") || "", placeholder: "any", autocomplete: "off" }),
    model: input({ name: "model", value: p.get("model") || "", placeholder: "provider/model", autocomplete: "off" }),
    key: input({ name: "key", value: p.get("key") || "", placeholder: "any", autocomplete: "off" }),
  };
  const apply = el("button", { type: "submit" }, "Apply");
  const clear = button("Clear", () => ctx.navigate("requests"), { class: "secondary" });
  const live = el("input", { type: "checkbox", checked: true, id: "requests-live" });
  const form = el(
    "form",
    { class: "toolbar", id: "requests-filters", role: "search" },
    field("Status", f.status),
    field("Time", f.since),
    field("Provider", f.provider),
    field("Model", f.model),
    field("Key", f.key),
    apply,
    clear,
    el("span", { class: "spacer" }),
    field("Live", live, { cls: "live-toggle" }),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    ctx.navigate("requests", Object.fromEntries(Object.entries(f).map(([k, c]) => [k, c.value.trim()])));
  });
  for (const s of [f.status, f.since]) s.addEventListener("change", () => form.requestSubmit());

  const list = el("div", { id: "requests-list" }, loading("Loading requests…"));
  const pager = el("div", { class: "pager" });
  mount(root, card(null, {}, form, list, pager));

  // Cursor stack: cursors[i] is the cursor of page i (page 0 has none).
  const cursors = [null];
  let page = 0;
  let openId = p.get("id");

  // The query is the address's (what was applied), not the form's (what is being typed).
  const query = () => ({
    ...Object.fromEntries(Object.keys(f).map((k) => [k, p.get(k) || ""])),
    limit: PAGE_SIZE,
    cursor: cursors[page] ?? "",
  });

  async function load() {
    try {
      const res = await get("/api/requests", query());
      keepFocus(root, () => draw(res));
    } catch (e) {
      mount(list, errorBox(e, load));
      pager.replaceChildren();
    }
  }

  function draw(res) {
    const items = res.items || [];
    cursors[page + 1] = res.next_cursor ?? null;
    if (!items.length) {
      const filtered = [...p.keys()].some((k) => k !== "id" && p.get(k));
      mount(list, empty(filtered ? "No request matches these filters." : "No requests yet. Send one from the playground or any client."));
    } else {
      mount(
        list,
        table(
          [
            { label: "Time", cell: (r) => timeEl(r.ts) },
            { label: "Status", cell: (r) => statusBadge(r.status) },
            { label: "Model", cls: "wrap", cell: (r) => r.model },
            { label: "Account", cell: (r) => (r.account ? `${r.provider}/${r.account}` : r.provider || "—") },
            { label: "Key", cell: (r) => r.key_name || "—" },
            { label: "Tokens in / out", cls: "num", cell: (r) => `${fmtNum(r.input_tokens)} / ${fmtNum(r.output_tokens)}` },
            { label: "Cost", cls: "num", cell: (r) => costOf(r) },
            { label: "Latency", cls: "num", cell: (r) => fmtMs(r.latency_ms) },
            { label: "Tries", cls: "num", cell: (r) => (r.attempts > 1 ? badge(String(r.attempts), "warn") : fmtNum(r.attempts)) },
            { label: "", cls: "actions", cell: (r) => button("Details", () => showDetail(r.id), { class: "secondary small", "aria-label": `Details of request ${r.id}` }) },
          ],
          items,
          {
            caption: "Requests, newest first",
            rowAttrs: (r) => ({
              "data-request": r.id,
              class: "clickable",
              title: r.error || "",
              onclick: (ev) => {
                if (!ev.target.closest("button")) showDetail(r.id);
              },
            }),
          },
        ),
      );
    }
    const first = page * PAGE_SIZE + (items.length ? 1 : 0);
    mount(
      pager,
      el("span", { class: "muted" }, items.length ? `${fmtNum(first)}–${fmtNum(page * PAGE_SIZE + items.length)}` : ""),
      button("← Newer", (ev) => busy(ev.currentTarget, async () => {
        page = Math.max(0, page - 1);
        await load();
      }), { class: "secondary small", disabled: page === 0 }),
      button("Older →", (ev) => busy(ev.currentTarget, async () => {
        page++;
        await load();
      }), { class: "secondary small", disabled: !res.next_cursor }),
    );
    ctx.setStatus(page === 0 && live.checked ? `live · updated ${new Date().toLocaleTimeString()}` : "");
    if (openId) {
      const id = openId;
      openId = null;
      showDetail(id);
    }
  }

  // Only the first page follows new traffic; an older page stays put while being read.
  const stop = poll(() => (page === 0 && live.checked && !document.querySelector("dialog[open]") ? load() : null), LIVE_MS);
  live.addEventListener("change", () => page === 0 && live.checked && load());
  return stop;
}

/** The detail drawer of one request: its fields, the transforms applied, its error and every upstream attempt. */
export async function showDetail(id) {
  const body = el("div", { id: "request-detail" }, loading("Loading the request…"));
  openDrawer(`Request ${id}`, body);
  try {
    const r = await get(`/api/requests/${seg(id)}`);
    const kv = (pairs) => el("dl", { class: "kv" }, pairs.filter(([, v]) => v !== undefined).map(([k, v]) => [el("dt", {}, k), el("dd", {}, v ?? "—")]));
    mount(
      body,
      el(
        "section",
        {},
        el("p", {}, statusBadge(r.status), " ", el("strong", {}, r.model), r.streamed ? [" ", badge("streamed", "info")] : null),
        r.error ? el("div", { class: "state error", role: "note" }, el("strong", {}, "Error: "), el("span", { class: "error-text" }, r.error)) : null,
      ),
      el(
        "section",
        {},
        el("h3", {}, "Request"),
        kv([
          ["Time", fmtDateTime(r.ts)],
          ["Request id", el("code", {}, r.request_id || "—")],
          ["Endpoint", r.path ? `${r.method || ""} ${r.path}` : undefined],
          ["Client dialect", r.client_dialect],
          ["Key", r.key_name],
          ["Provider / account", r.account ? `${r.provider}/${r.account}` : r.provider],
          ["Transforms", (r.transforms || []).length ? el("span", { id: "request-transforms" }, r.transforms.map((t, i) => [i ? ", " : "", el("code", {}, t)])) : undefined],
        ]),
      ),
      el(
        "section",
        {},
        el("h3", {}, "Timings and tokens"),
        kv([
          ["Latency", fmtMs(r.latency_ms)],
          ["First byte", r.ttfb_ms == null ? null : fmtMs(r.ttfb_ms)],
          ["Input tokens", fmtNum(r.input_tokens)],
          ["Output tokens", fmtNum(r.output_tokens)],
          ["Cache read / write", `${fmtNum(r.cache_read_tokens)} / ${fmtNum(r.cache_write_tokens)}`],
          ["Reasoning tokens", fmtNum(r.reasoning_tokens)],
          ["Cost", costOf(r)],
          ["Cost source", r.cost_source],
        ]),
      ),
      el(
        "section",
        { id: "request-attempts" },
        el("h3", {}, `Attempts (${(r.trace || []).length})`),
        (r.trace || []).length
          ? table(
              [
                { label: "#", cls: "num", cell: (a) => a.n },
                { label: "Account", cell: (a) => (a.account ? `${a.provider}/${a.account}` : a.provider || "—") },
                { label: "Outcome", cell: (a) => badge(a.outcome.replace(/_/g, " "), OUTCOME_KIND[a.outcome] || "bad") },
                { label: "Status", cell: (a) => (a.status == null ? "—" : String(a.status)) },
                { label: "Time", cls: "num", cell: (a) => fmtMs(a.ms) },
                { label: "Error", cls: "wrap", cell: (a) => a.error || "" },
              ],
              r.trace,
              { caption: "Upstream attempts" },
            )
          : empty("No upstream attempt: the gateway refused the request before choosing a provider."),
        r.detail_logged === false ? el("p", { class: "muted" }, "A clean single-attempt request: its attempt is rebuilt from the usage row.") : null,
      ),
    );
  } catch (e) {
    mount(body, errorBox(e));
  }
}
