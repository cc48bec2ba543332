//! The README's benchmark table, generated from a full run's `results.json`: the table and the line
//! naming when, on which commit and on what machine it was measured. `BENCH_ONLY=readme cargo bench
//! --bench gateway` records `target/bench/results.json` as `benches/results.json` and rewrites the
//! README between the markers; a test checks that the README's table is this function's output.

use serde_json::Value;

/// The line opening the generated part of the README.
pub const BEGIN: &str = "<!-- bench-table: generated from benches/results.json by `BENCH_ONLY=readme cargo bench --bench gateway`; do not edit -->";
/// The line closing it.
pub const END: &str = "<!-- bench-table end -->";

/// A figure, or `?` where the run did not record it.
fn num(r: &Value, path: &str) -> Option<f64> {
    path.split('.')
        .try_fold(r, |v, k| match k.parse::<usize>() {
            Ok(i) => v.get(i),
            Err(_) => v.get(k),
        })?
        .as_f64()
}

/// `digits` decimals (no `-0.00`), or `?`.
fn f(r: &Value, path: &str, digits: usize) -> String {
    num(r, path).map_or_else(
        || "?".into(),
        |x| {
            let s = format!("{x:.digits$}");
            if s.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
                s.trim_start_matches('-').into()
            } else {
                s
            }
        },
    )
}

/// The feature-cost rows in this order, then any other the run recorded.
const FEATURES: [&str; 5] = ["usage", "metrics", "limits_and_budget", "sessions", "new_session_each_request"];

/// A whole number with thousands separators (`23,650`), or `?`.
fn thousands(r: &Value, path: &str) -> String {
    let Some(x) = num(r, path) else { return "?".into() };
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if x < -0.5 { format!("-{out}") } else { out }
}

/// `100 × a / b` with one decimal, or `?`.
fn share(r: &Value, a: &str, b: &str) -> String {
    match (num(r, a), num(r, b)) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.1}", 100.0 * a / b),
        _ => "?".into(),
    }
}

/// The table (with its header) and the line under it, as the README holds them.
pub fn readme_table(r: &Value) -> String {
    let mut rows: Vec<[String; 3]> = Vec::new();
    let mut row = |m: &str, v: String, t: &str| rows.push([m.into(), v, t.into()]);
    row(
        "max throughput, 64 connections, share of direct",
        format!(
            "{} req/s = {} % of direct ({})",
            thousands(r, "max_throughput.gateway_rps"),
            share(r, "max_throughput.gateway_rps", "max_throughput.direct_rps"),
            thousands(r, "max_throughput.direct_rps")
        ),
        "≥ 35 %",
    );
    row(
        "gateway CPU per request at saturation",
        format!("{} µs", f(r, "max_throughput.gateway_cpu_us_per_req", 0)),
        "≤ 35 µs",
    );
    let cpu = |i: usize| f(r, &format!("fixed_rate.{i}.gateway_cpu_us_per_req"), 0);
    row(
        "gateway CPU per request at 500 / 1000 / 2000 req/s",
        format!("{} / {} / {} µs", cpu(0), cpu(1), cpu(2)),
        "≤ 60 µs at 1000",
    );
    let added = |i: usize| {
        format!(
            "{} / {} ms",
            f(r, &format!("fixed_rate.{i}.added_p50_ms"), 2),
            f(r, &format!("fixed_rate.{i}.added_p99_ms"), 2)
        )
    };
    row("added latency, non-streaming, 1000 req/s (p50 / p99)", added(1), "≤ 0.10 / 0.5 ms");
    row("added latency, non-streaming, 500 / 2000 req/s (p50 / p99)", format!("{}; {}", added(0), added(2)), "—");
    row(
        "added latency unloaded (20 req/s, one connection), p50 / p99",
        format!(
            "{} / {} ms (direct p50 {} ms)",
            f(r, "unloaded.added_p50_ms", 2),
            f(r, "unloaded.added_p99_ms", 2),
            f(r, "unloaded.direct_p50_ms", 2)
        ),
        "≤ 0.2 ms p50",
    );
    row("streaming time to first byte, added (p50)", format!("{} ms", f(r, "ttfb.added_p50_ms", 2)), "≤ 0.3 ms");
    for (key, what) in [
        ("translated", "Anthropic client → OpenAI upstream"),
        ("translated_reverse", "OpenAI client → Anthropic upstream"),
    ] {
        row(
            &format!("translated ({what}): max; at 1000 req/s CPU and added p50 / p99"),
            format!(
                "{} req/s = {} % of direct ({}); {} µs/req, {} / {} ms",
                thousands(r, &format!("{key}.max_rps")),
                share(r, &format!("{key}.max_rps"), &format!("{key}.direct_max_rps")),
                thousands(r, &format!("{key}.direct_max_rps")),
                f(r, &format!("{key}.gateway_cpu_us_per_req"), 0),
                f(r, &format!("{key}.added_p50_ms"), 2),
                f(r, &format!("{key}.added_p99_ms"), 2)
            ),
            "—",
        );
    }
    row(
        "translated streaming time to first byte (Anthropic client → OpenAI upstream), added (p50)",
        format!("{} ms", f(r, "translated_ttfb.added_p50_ms", 2)),
        "—",
    );
    let rss = |total: &str, split: &str| {
        format!(
            "{} MiB ({} own + {} executable pages)",
            f(r, total, 1),
            f(r, &format!("{split}.anon"), 1),
            f(r, &format!("{split}.file"), 1)
        )
    };
    row("RSS idle (own memory + pages of the executable)", rss("idle_rss_mib", "idle_rss_split_mib"), "≤ 12 MB");
    row("RSS after max load", rss("rss_after_load_mib", "rss_after_load_split_mib"), "≤ 50 MB");
    row(
        "RSS with 1,000 concurrent streams",
        format!("{} MiB ({}/1000 completed)", f(r, "streams_1000.rss_mib", 1), f(r, "streams_1000.completed", 0)),
        "—",
    );
    if let Some(costs) = r.get("feature_costs").and_then(Value::as_object) {
        let mut keys: Vec<&String> = costs.keys().filter(|k| costs[k.as_str()].is_object()).collect();
        keys.sort_by_key(|k| FEATURES.iter().position(|f| f == k).unwrap_or(FEATURES.len()));
        for key in keys {
            let c = &costs[key.as_str()];
            let what = c.get("what").and_then(Value::as_str).unwrap_or(key);
            row(
                &format!("cost of {what}"),
                format!(
                    "{} % throughput ({} against {} req/s)",
                    f(c, "cost_pct", 1),
                    thousands(c, "with_rps"),
                    thousands(c, "without_rps")
                ),
                "—",
            );
        }
    }
    row(
        "admin changes every 100 ms at 1000 req/s",
        format!(
            "{} changes, {} failed requests; p99 {} ms quiet, {} ms with churn",
            f(r, "admin_churn.changes", 0),
            num(r, "admin_churn.quiet.errors")
                .zip(num(r, "admin_churn.churn.errors"))
                .map_or("?".into(), |(a, b)| format!("{:.0}", a + b)),
            f(r, "admin_churn.quiet.p99_ms", 2),
            f(r, "admin_churn.churn.p99_ms", 2)
        ),
        "no failed request",
    );
    if let Some(cache) = r.get("cache").and_then(Value::as_object) {
        for (name, c) in cache {
            row(
                &format!("response cache, {name}, p50 / p99"),
                format!(
                    "miss {} / {} ms, hit {} / {} ms ({}×)",
                    f(c, "miss_p50_ms", 3),
                    f(c, "miss_p99_ms", 3),
                    f(c, "hit_p50_ms", 3),
                    f(c, "hit_p99_ms", 3),
                    f(c, "speedup_p50", 1)
                ),
                "—",
            );
        }
    }
    let mut out = String::from("| measure | result | target |\n|---|---|---|\n");
    for [m, v, t] in &rows {
        out.push_str(&format!("| {m} | {v} | {t} |\n"));
    }
    let m = |k: &str| {
        r.pointer(k).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).unwrap_or_else(|| "?".into())
    };
    let dirty = if r.pointer("/measured/dirty").and_then(Value::as_bool) == Some(true) {
        " plus uncommitted changes"
    } else {
        ""
    };
    out.push_str(&format!(
        "\nMeasured {} on commit {}{dirty}, on {} cores ({}), {} GiB, Linux {}; load generator, mock and gateway share the cores.\n",
        m("/measured/date"),
        m("/measured/commit"),
        m("/machine/cpus"),
        m("/machine/cpu_model"),
        m("/machine/mem_gib"),
        m("/machine/kernel"),
    ));
    out
}

/// `readme` with the part between [`BEGIN`] and [`END`] replaced by `table`, or `None` when the
/// markers are missing.
pub fn splice(readme: &str, table: &str) -> Option<String> {
    let a = readme.find(BEGIN)? + BEGIN.len();
    let b = a + readme[a..].find(END)?;
    Some(format!("{}\n{table}{}", &readme[..a], &readme[b..]))
}
