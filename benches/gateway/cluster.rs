//! Two instances on one PostgreSQL against one on SQLite (`BENCH_ONLY=cluster`; `BENCH_PG` names a
//! PostgreSQL server the bench may create a database on): added latency at 1,000 req/s (split over
//! both instances) and max throughput, then 10 admin changes a second made on one instance while
//! both serve 1,000 req/s, and how long a change takes to be live on the other. Everything shares
//! one machine (both instances, PostgreSQL, the mock and the load generator): on two cores a
//! second instance adds no CPU, so this measures what coordination costs, not how it scales.

use std::time::{Duration, Instant};

use futures_util::future::join;
use serde_json::{Value, json};

use super::{ADMIN, Gateway, KEY, RunStats, body, client, fixed_rate, max_throughput, pct};

/// Load on both instances at once: (merged fixed-rate stats at `rate` each).
async fn fixed_both(a: &Gateway, b: &Gateway, rate: u64, secs: u64) -> RunStats {
    let (x, y) =
        join(fixed_rate(&a.url(), rate, secs, &body(false)), fixed_rate(&b.url(), rate, secs, &body(false))).await;
    let mut lat = x.lat_ms;
    lat.extend(y.lat_ms);
    lat.sort_by(f64::total_cmp);
    RunStats { lat_ms: lat, errors: x.errors + y.errors, elapsed: x.elapsed.max(y.elapsed) }
}

/// A fresh database on the server at `admin`, and its URL.
async fn fresh_database(admin: &str) -> String {
    use sea_orm::ConnectionTrait;
    let name = format!("omnigate_bench_{}", std::process::id());
    let db = sea_orm::Database::connect(admin).await.expect("BENCH_PG answers");
    let _ = db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}")).await;
    db.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create the bench database");
    db.close().await.ok();
    let (server, _) = admin.rsplit_once('/').expect("a database URL");
    format!("{server}/{name}")
}

/// Makes an alias on `a` and times until `b` serves it (ms).
async fn propagation(a: &Gateway, b: &Gateway, n: usize) -> Vec<f64> {
    let c = client();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let alias = format!("prop-{i}");
        let made = c
            .post(format!("http://127.0.0.1:{}/api/aliases", a.port))
            .bearer_auth(ADMIN)
            .send_json(&json!({"alias": alias, "target": "mock/mock-model"}))
            .await
            .is_ok_and(|r| r.status().is_success());
        assert!(made, "alias made");
        let t = Instant::now();
        loop {
            let body = json!({"model": alias, "messages": [{"role": "user", "content": "hi"}]});
            if c.post(b.url()).bearer_auth(KEY).send_json(&body).await.is_ok_and(|r| r.status() == 200) {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(10), "a change reached the other instance within 10 s");
            actix_rt::time::sleep(Duration::from_millis(2)).await;
        }
        out.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    out.sort_by(f64::total_cmp);
    out
}

/// 10 admin changes a second on the instance at `port` (an account's weight, an alias made and
/// deleted) until `stop`: (made, refused).
async fn churn(port: u16, stop: std::rc::Rc<std::cell::Cell<bool>>) -> (usize, usize) {
    let c = client();
    let admin = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let made: Value = c
        .post(admin("/api/accounts"))
        .bearer_auth(ADMIN)
        .send_json(&json!({"provider": "mock", "name": "churn", "api_key": "k2"}))
        .await
        .expect("admin API answers")
        .json()
        .await
        .expect("account JSON");
    let id = made["id"].as_i64().expect("id");
    let (mut n, mut bad, mut i) = (0usize, 0usize, 0u64);
    while !stop.get() {
        let r = match i % 3 {
            0 => {
                c.patch(admin(&format!("/api/accounts/{id}")))
                    .bearer_auth(ADMIN)
                    .send_json(&json!({"weight": 1 + i % 5}))
                    .await
            }
            1 => {
                c.post(admin("/api/aliases"))
                    .bearer_auth(ADMIN)
                    .send_json(&json!({"alias": "churn-alias", "target": "mock/mock-model"}))
                    .await
            }
            _ => c.delete(admin("/api/aliases/churn-alias")).bearer_auth(ADMIN).send().await,
        };
        n += 1;
        bad += usize::from(!r.is_ok_and(|r| r.status().is_success()));
        i += 1;
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    (n, bad)
}

pub async fn run(mock_base: &str, secs: u64, results: &mut serde_json::Map<String, Value>) {
    let Ok(pg) = std::env::var("BENCH_PG") else {
        println!("cluster part not run: set BENCH_PG to a PostgreSQL server URL (postgres://user@host:port/postgres)");
        return;
    };
    let direct = format!("{mock_base}/chat/completions");
    let _ = max_throughput(&direct, 16, 1, &body(false)).await;
    let d = fixed_rate(&direct, 1000, secs, &body(false)).await;
    let (d50, d99) = (pct(&d.lat_ms, 0.5), pct(&d.lat_ms, 0.99));
    let (d_rps, _) = max_throughput(&direct, 64, secs, &body(false)).await;

    // One instance on SQLite.
    let one = Gateway::start(mock_base, true);
    let _ = max_throughput(&one.url(), 16, 2, &body(false)).await;
    let s = fixed_rate(&one.url(), 1000, secs, &body(false)).await;
    let (s_rps, s_err) = max_throughput(&one.url(), 64, secs, &body(false)).await;
    drop(one);

    // Two instances on one PostgreSQL.
    let url = fresh_database(&pg).await;
    let a = Gateway::start_on(tempfile::tempdir().unwrap(), mock_base, true, "", Some(&url));
    let b = Gateway::start_on(tempfile::tempdir().unwrap(), mock_base, true, "", Some(&url));
    let _ = join(max_throughput(&a.url(), 8, 2, &body(false)), max_throughput(&b.url(), 8, 2, &body(false))).await;
    let two = fixed_both(&a, &b, 500, secs).await;
    let ((ra, ea), (rb, eb)) =
        join(max_throughput(&a.url(), 32, secs, &body(false)), max_throughput(&b.url(), 32, secs, &body(false))).await;
    let p = propagation(&a, &b, 20).await;

    // 10 admin changes a second on A while both serve 500 req/s each.
    let stop = std::rc::Rc::new(std::cell::Cell::new(false));
    let changes = actix_rt::spawn(churn(a.port, stop.clone()));
    let busy = fixed_both(&a, &b, 500, secs).await;
    stop.set(true);
    let (made, refused) = changes.await.unwrap_or((0, 0));

    let added = |r: &RunStats| (pct(&r.lat_ms, 0.5) - d50, pct(&r.lat_ms, 0.99) - d99);
    let (s50, s99) = added(&s);
    let (t50, t99) = added(&two);
    let (c50, c99) = added(&busy);
    println!("\n| several instances | added p50 / p99 ms at 1000 req/s | max req/s | errors |");
    println!("|---|---|---|---|");
    println!(
        "| one instance, SQLite | {s50:.3} / {s99:.3} | {s_rps:.0} ({:.1} % of direct) | {} / {s_err} |",
        100.0 * s_rps / d_rps,
        s.errors
    );
    println!(
        "| two instances, one PostgreSQL (500 req/s each) | {t50:.3} / {t99:.3} | {:.0} ({:.1} % of direct) | {} / {} |",
        ra + rb,
        100.0 * (ra + rb) / d_rps,
        two.errors,
        ea + eb
    );
    println!(
        "| the same with 10 admin changes a second on one ({made} made, {refused} refused) | {c50:.3} / {c99:.3} | | {} |",
        busy.errors
    );
    println!(
        "a change made on one instance served by the other after p50 {:.1} / max {:.1} ms (20 aliases)",
        pct(&p, 0.5),
        pct(&p, 1.0)
    );
    results.insert(
        "cluster".into(),
        json!({"sqlite_one": {"added_p50_ms": s50, "added_p99_ms": s99, "max_rps": s_rps, "errors": s.errors + s_err},
               "postgres_two": {"added_p50_ms": t50, "added_p99_ms": t99, "max_rps": ra + rb, "errors": two.errors + ea + eb},
               "postgres_two_with_10_changes_per_s": {"added_p50_ms": c50, "added_p99_ms": c99, "changes": made,
                   "refused_changes": refused, "errors": busy.errors},
               "propagation_ms": {"p50": pct(&p, 0.5), "max": pct(&p, 1.0)}, "direct_max_rps": d_rps}),
    );
    drop(a);
    drop(b);
}
