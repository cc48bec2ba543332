//! `BENCH_ONLY=summary`: how fast `/api/usage/summary` answers over 10 million usage rows. The
//! rows (30 days, 5 providers × 3 accounts × 4 models × 10 keys, 2 % errors, priced) are generated
//! inside SQLite by one INSERT ... SELECT in one transaction, then rolled up with the same SQL the
//! writer's bulk path uses (`rollup::add_rows`); then the release daemon serves that database and
//! each question is asked over HTTP, first once (cold) and then `REPEAT` times. `BENCH_ROWS`
//! changes the row count.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

/// Times each question is asked after the first.
const REPEAT: usize = 20;
/// The questions: the Usage page's windows (and their groupings), and the Overview's.
const QUESTIONS: [&str; 6] = [
    "window=30d",
    "window=30d&by=model",
    "window=7d&by=provider",
    "window=24h&bucket=1h&by=key",
    "window=1h",
    "window=24h&bucket=5m&by=model",
];

async fn exec(db: &sea_orm::DatabaseConnection, sql: &str) {
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql)).await.expect(sql);
}

/// Fills `<dir>/omnigate.db` with `rows` usage rows over the 30 days before `now`, and their
/// rollups; the seconds each took.
async fn fill(dir: &std::path::Path, rows: u64, now: i64) -> (f64, f64) {
    let url = format!("sqlite://{}", dir.join("omnigate.db").display());
    let db = omnigate::db::connect(&url, 1, false).await.expect("open the bench database");
    {
        use migration::Trait as _;
        migration::Migrator::up(&db.conn, None).await.expect("migrate");
    }
    exec(&db.conn, "PRAGMA cache_size = -1048576").await;
    exec(&db.conn, "PRAGMA synchronous = OFF").await;
    let span = 30 * 86_400_000i64;
    let t = Instant::now();
    exec(&db.conn, "BEGIN").await;
    exec(
        &db.conn,
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last}) \
             INSERT INTO usage (ts, request_id, key_name, client_dialect, provider, account, model, status, error, \
             input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, total_tokens, \
             cost_usd, list_cost_usd, cost_source, latency_ms, ttfb_ms, streamed, attempts, path) \
             SELECT {start} + i * {span} / {rows}, 'r' || i, 'key-' || (i % 10), 'openai-chat', 'p' || (i % 5), \
             'acct-' || (i % 3), 'p' || (i % 5) || '/model-' || (i % 4), \
             CASE WHEN i % 50 = 0 THEN 502 WHEN i % 97 = 0 THEN 429 ELSE 200 END, NULL, \
             100 + i % 900, 10 + i % 300, i % 64, 0, i % 16, 110 + i % 900 + i % 300, \
             (100 + i % 900) * 0.000002 + (10 + i % 300) * 0.000008, NULL, 'priced', 200 + i % 800, 50, \
             i % 2, 1, '/v1/chat/completions' FROM n",
            last = rows.saturating_sub(1),
            start = now - span,
        ),
    )
    .await;
    exec(&db.conn, "COMMIT").await;
    let insert = t.elapsed().as_secs_f64();
    let t = Instant::now();
    exec(&db.conn, "BEGIN").await;
    actors::usage::rollup::add_rows(&db.conn, 0).await.expect("roll up");
    exec(&db.conn, "COMMIT").await;
    let rollup = t.elapsed().as_secs_f64();
    exec(&db.conn, "PRAGMA wal_checkpoint(TRUNCATE)").await;
    db.conn.close().await.expect("close");
    (insert, rollup)
}

/// Milliseconds of one `GET /api/usage/summary?<q>`, and the requests it counted.
async fn ask(base: &str, admin: &str, q: &str) -> (f64, i64) {
    let c = awc::Client::builder().timeout(Duration::from_secs(120)).finish();
    let t = Instant::now();
    let mut r = c.get(format!("{base}/api/usage/summary?{q}")).bearer_auth(admin).send().await.expect("summary");
    let v: Value = r.json().limit(64 * 1024 * 1024).await.expect("summary JSON");
    let ms = t.elapsed().as_secs_f64() * 1e3;
    assert!(r.status().is_success(), "{q}: {v}");
    (ms, v["totals"]["requests"].as_i64().unwrap_or(-1))
}

/// Runs the summary benchmark; its figures for `results.json`.
pub async fn run(start: impl FnOnce(tempfile::TempDir) -> super::Gateway, admin: &str) -> Value {
    let rows: u64 = std::env::var("BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let now = actors::clock::now_ms();
    let (insert, rollup) = fill(dir.path(), rows, now).await;
    let size = std::fs::metadata(dir.path().join("omnigate.db")).map(|m| m.len()).unwrap_or(0);
    println!(
        "summary bench: {rows} usage rows inserted in {insert:.1} s, rolled up in {rollup:.1} s ({:.1} GiB)",
        size as f64 / (1u64 << 30) as f64
    );
    let gw = start(dir);
    let base = format!("http://127.0.0.1:{}", gw.port);
    println!("\n| GET /api/usage/summary?… | requests counted | first ms | p50 ms | max ms (of {REPEAT}) |");
    println!("|---|---|---|---|---|");
    let mut out = Vec::new();
    for q in QUESTIONS {
        let (first, counted) = ask(&base, admin, q).await;
        let mut ms = Vec::with_capacity(REPEAT);
        for _ in 0..REPEAT {
            ms.push(ask(&base, admin, q).await.0);
        }
        ms.sort_by(f64::total_cmp);
        let (p50, max) = (ms[ms.len() / 2], ms[ms.len() - 1]);
        println!("| `{q}` | {counted} | {first:.1} | {p50:.1} | {max:.1} |");
        out.push(json!({"query": q, "requests": counted, "first_ms": first, "p50_ms": p50, "max_ms": max}));
    }
    json!({"rows": rows, "insert_secs": insert, "rollup_secs": rollup, "db_bytes": size, "questions": out})
}
