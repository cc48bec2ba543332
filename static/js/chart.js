// Our own small inline-SVG charts: stacked bars over time, lines, sparklines and a horizontal bar
// list. Colours come from CSS classes (`series-N`), so the theme owns them; charts redraw at the
// width of their box (ResizeObserver), so text stays legible on a phone.

import { el, svg, fmtCompact } from "./dom.js";

export const PALETTE_SIZE = 10;
export const seriesClass = (i) => `series-${i % PALETTE_SIZE}`;

/** A round upper bound for an axis and its tick step. */
export function niceScale(max, ticks = 4) {
  if (!(max > 0)) return { max: 1, step: 0.25 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
  return { max: step * Math.ceil(max / step - 1e-9), step };
}

/**
 * A box that draws `draw(width)` → SVG now and again whenever its width changes. `label` is the
 * chart's accessible name.
 */
export function chartBox(draw, { label, cls } = {}) {
  const box = el("div", { class: ["chart", cls], role: "img", "aria-label": label });
  let last = 0;
  const render = () => {
    const w = Math.floor(box.clientWidth || 600);
    if (w === last) return;
    last = w;
    box.replaceChildren(draw(w));
  };
  const ro = new ResizeObserver(render);
  ro.observe(box);
  // First paint before the observer's first callback, once the box is in the page.
  requestAnimationFrame(render);
  return box;
}

/** A legend: a swatch and a name per series. */
export function legend(names) {
  return el(
    "ul",
    { class: "legend" },
    names.map((n, i) =>
      el("li", {}, svg("svg", { width: 10, height: 10, "aria-hidden": "true" }, svg("rect", { width: 10, height: 10, rx: 2, class: seriesClass(i) })), n),
    ),
  );
}

/**
 * Stacked bars over time. `buckets`: bucket start times (ms); `series`: [{name, values[]}] aligned
 * with buckets; `xLabel(t)` formats a bucket; `yFormat(v)` an amount.
 */
export function stackedBars({ buckets, series, xLabel, yFormat = fmtCompact, height = 220, label }) {
  return chartBox(
    (width) => {
      const pad = { l: 48, r: 8, t: 10, b: 26 };
      const w = Math.max(width, 200);
      const iw = w - pad.l - pad.r;
      const ih = height - pad.t - pad.b;
      const totals = buckets.map((_, i) => series.reduce((s, x) => s + (Number(x.values[i]) || 0), 0));
      const { max, step } = niceScale(Math.max(0, ...totals));
      const y = (v) => pad.t + ih - (v / max) * ih;
      const bw = iw / Math.max(buckets.length, 1);
      const gap = bw > 6 ? Math.min(bw * 0.2, 6) : 0;
      const root = svg("svg", { width: w, height, viewBox: `0 0 ${w} ${height}`, class: "chart-svg" });
      for (let v = 0; v <= max + 1e-9; v += step) {
        root.append(
          svg("line", { x1: pad.l, x2: w - pad.r, y1: y(v), y2: y(v), class: "grid" }),
          svg("text", { x: pad.l - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, yFormat(v)),
        );
      }
      buckets.forEach((t, i) => {
        let acc = 0;
        const x = pad.l + i * bw + gap / 2;
        series.forEach((s, si) => {
          const v = Number(s.values[i]) || 0;
          if (v <= 0) return;
          const y0 = y(acc);
          acc += v;
          const y1 = y(acc);
          root.append(
            svg("rect", { x, y: y1, width: Math.max(bw - gap, 1), height: Math.max(y0 - y1, 0.5), class: seriesClass(si) },
              svg("title", {}, `${xLabel(t)} · ${s.name}: ${yFormat(v)}`)),
          );
        });
      });
      const every = Math.max(1, Math.ceil(buckets.length / Math.max(2, Math.floor(iw / 70))));
      buckets.forEach((t, i) => {
        if (i % every) return;
        root.append(svg("text", { x: pad.l + i * bw + bw / 2, y: height - 8, class: "axis", "text-anchor": "middle" }, xLabel(t)));
      });
      root.append(svg("line", { x1: pad.l, x2: w - pad.r, y1: y(0), y2: y(0), class: "baseline" }));
      return root;
    },
    { label },
  );
}

/** Lines over time: `series`: [{name, values[]}] aligned with `buckets`. */
export function lineChart({ buckets, series, xLabel, yFormat = fmtCompact, height = 200, label }) {
  return chartBox(
    (width) => {
      const pad = { l: 48, r: 10, t: 10, b: 26 };
      const w = Math.max(width, 200);
      const iw = w - pad.l - pad.r;
      const ih = height - pad.t - pad.b;
      const all = series.flatMap((s) => s.values.map(Number).filter((v) => !Number.isNaN(v)));
      const { max, step } = niceScale(Math.max(0, ...all));
      const n = Math.max(buckets.length - 1, 1);
      const x = (i) => pad.l + (i / n) * iw;
      const y = (v) => pad.t + ih - (v / max) * ih;
      const root = svg("svg", { width: w, height, viewBox: `0 0 ${w} ${height}`, class: "chart-svg" });
      for (let v = 0; v <= max + 1e-9; v += step) {
        root.append(
          svg("line", { x1: pad.l, x2: w - pad.r, y1: y(v), y2: y(v), class: "grid" }),
          svg("text", { x: pad.l - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, yFormat(v)),
        );
      }
      series.forEach((s, si) => {
        const pts = s.values.map((v, i) => (v === null || v === undefined ? null : [x(i), y(Number(v))]));
        let d = "";
        let pen = false;
        for (const p of pts) {
          if (!p) {
            pen = false;
            continue;
          }
          d += `${pen ? "L" : "M"}${p[0].toFixed(1)},${p[1].toFixed(1)}`;
          pen = true;
        }
        root.append(svg("path", { d, class: ["line", seriesClass(si)].join(" "), fill: "none" }));
        pts.forEach((p, i) => {
          if (!p) return;
          root.append(svg("circle", { cx: p[0], cy: p[1], r: 2.5, class: ["dot", seriesClass(si)].join(" ") },
            svg("title", {}, `${xLabel(buckets[i])} · ${s.name}: ${yFormat(s.values[i])}`)));
        });
      });
      const every = Math.max(1, Math.ceil(buckets.length / Math.max(2, Math.floor(iw / 70))));
      buckets.forEach((t, i) => {
        if (i % every) return;
        root.append(svg("text", { x: x(i), y: height - 8, class: "axis", "text-anchor": "middle" }, xLabel(t)));
      });
      return root;
    },
    { label },
  );
}

/** A tiny trend line (fixed size, no axes). */
export function sparkline(values, { width = 120, height = 28, label } = {}) {
  const vals = values.map((v) => Number(v) || 0);
  const max = Math.max(1e-9, ...vals);
  const n = Math.max(vals.length - 1, 1);
  const pts = vals.map((v, i) => `${((i / n) * (width - 2) + 1).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`);
  const area = `M1,${height - 1}L${pts.join("L")}L${width - 1},${height - 1}Z`;
  return svg(
    "svg",
    { width, height, viewBox: `0 0 ${width} ${height}`, class: "sparkline", role: "img", "aria-label": label || "trend" },
    svg("path", { d: area, class: "spark-area" }),
    svg("path", { d: `M${pts.join("L")}`, class: "spark-line", fill: "none" }),
  );
}

/**
 * Horizontal bars, one per item: [{label, value, text}] (text defaults to the compact value).
 * Drawn as HTML rows with an SVG bar each, so long labels wrap on a phone.
 */
export function barList(items, { label } = {}) {
  const max = Math.max(1e-9, ...items.map((i) => Number(i.value) || 0));
  return el(
    "ul",
    { class: "bar-list", "aria-label": label },
    items.map((it, i) =>
      el(
        "li",
        {},
        el("span", { class: "bar-label", title: it.label }, it.label),
        svg(
          "svg",
          { class: "bar-track", viewBox: "0 0 100 8", preserveAspectRatio: "none", "aria-hidden": "true" },
          svg("rect", { width: 100, height: 8, rx: 2, class: "track" }),
          svg("rect", { width: Math.max(((Number(it.value) || 0) / max) * 100, 0.5), height: 8, rx: 2, class: seriesClass(it.color ?? i) }),
        ),
        el("span", { class: "bar-value" }, it.text ?? fmtCompact(it.value)),
      ),
    ),
  );
}
