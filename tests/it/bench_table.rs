//! The README's benchmark table is the generator's output from the recorded run
//! (`benches/results.json`), so no figure in it is typed by hand or left from an older run.

#[path = "../../benches/gateway/table.rs"]
mod table;

use serde_json::{Value, json};

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

#[test]
fn readme_benchmark_table_is_generated_from_the_recorded_run() {
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("benches/results.json")).unwrap()).unwrap();
    for key in [
        "machine",
        "measured",
        "max_throughput",
        "fixed_rate",
        "unloaded",
        "ttfb",
        "translated",
        "translated_reverse",
        "feature_costs",
        "streams_1000",
        "admin_churn",
        "cache",
    ] {
        assert!(results.get(key).is_some(), "the recorded run has {key}");
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let generated = table::readme_table(&results);
    assert!(!generated.contains('?'), "every figure of the table was recorded:\n{generated}");
    let spliced = table::splice(&readme, &generated).expect("the README has the bench-table markers");
    assert!(
        spliced == readme,
        "the README's benchmark table is not the one generated from benches/results.json; \
        run `BENCH_ONLY=readme cargo bench --bench gateway` after a full run. Generated:\n{generated}"
    );
}

#[test]
fn the_generator_formats_figures_and_marks_missing_ones() {
    let r = json!({"max_throughput": {"gateway_rps": 23650.4, "direct_rps": 89861.0, "gateway_cpu_us_per_req": 54.2},
                   "feature_costs": {"base_rps": 1.0, "usage": {"what": "usage rows", "with_rps": 900.0, "without_rps": 1000.0, "cost_pct": 10.0}}});
    let t = table::readme_table(&r);
    assert!(t.contains("| 23,650 req/s = 26.3 % of direct (89,861) | ≥ 35 % |"), "{t}");
    assert!(t.contains("| gateway CPU per request at saturation | 54 µs |"), "{t}");
    assert!(t.contains("| cost of usage rows | 10.0 % throughput (900 against 1,000 req/s) |"), "{t}");
    assert!(t.contains("| ? / ? / ? µs |"), "a figure the run did not record shows as ?: {t}");
    let r = json!({"fixed_rate": [{"added_p50_ms": -0.001, "added_p99_ms": -0.25}],
                   "feature_costs": {"sessions": {"what": "sessions", "cost_pct": 2.0}, "usage": {"what": "usage", "cost_pct": 11.0}}});
    let t = table::readme_table(&r);
    assert!(t.contains("| 0.00 / -0.25 ms; ? / ? ms |"), "no -0.00, a real negative kept: {t}");
    assert!(t.find("cost of usage").unwrap() < t.find("cost of sessions").unwrap(), "usage first: {t}");
    let doc = format!("a\n{}\nold\n{}\nb\n", table::BEGIN, table::END);
    assert_eq!(table::splice(&doc, "new\n").unwrap(), format!("a\n{}\nnew\n{}\nb\n", table::BEGIN, table::END));
    assert!(table::splice("no markers", "x").is_none());
}
