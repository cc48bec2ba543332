//! Key limits held across instances: three real daemons on one PostgreSQL share a key's budget,
//! its requests per minute and its requests in flight as one gateway would (the bounds the README
//! states), refusing in the caller's dialect; a killed daemon's share comes back within
//! `limits::HOLD_TTL`, a stopped one's at once. PostgreSQL only, like the rest of `cluster::`.

use std::time::{Duration, Instant};

use omnigate::app::Running;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{Value, json};

use super::{direct, require_shared, second};
use crate::admin_write_support::put_api;
use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, base, client, free_port, header, json_body, mock_config, wait_healthy};

/// A chat body asking for `max_tokens` (the mock answers 3 output tokens).
fn chat(model: &str, max_tokens: u32, stream: bool) -> Value {
    json!({"model": model, "max_tokens": max_tokens, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

/// OpenAI-dialect request with `key`: (status, Retry-After, body as JSON when not a stream).
async fn send(app: &Running, key: &str, body: Value) -> (u16, String, Value) {
    let mut r = client()
        .post(format!("{}/v1/chat/completions", base(app)))
        .bearer_auth(key)
        .send_json(&body)
        .await
        .expect("send");
    let status = r.status().as_u16();
    let retry = header(&r, "retry-after");
    let v = if body["stream"] == true && status == 200 {
        let _ = r.body().limit(1 << 20).await;
        Value::Null
    } else {
        json_body(&mut r).await
    };
    (status, retry, v)
}

/// Anthropic-dialect request with `key`: (status, Retry-After, body).
async fn anthropic(app: &Running, key: &str, model: &str) -> (u16, String, Value) {
    let mut r = client()
        .post(format!("{}/v1/messages", base(app)))
        .insert_header(("x-api-key", key))
        .insert_header(("anthropic-version", "2023-06-01"))
        .send_json(&json!({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}))
        .await
        .expect("send");
    (r.status().as_u16(), header(&r, "retry-after"), json_body(&mut r).await)
}

/// Three daemons on `env`'s database (the first also returns the data directories to keep).
async fn three(env: &TestEnv, text: &str) -> (Vec<Running>, Vec<tempfile::TempDir>) {
    let a = env.start(text).await;
    let (b, db) = second(env, text).await;
    let (c, dc) = second(env, text).await;
    (vec![a, b, c], vec![db, dc])
}

/// Output at $1,000 per million tokens, input free, on every provider: a request asking for 10
/// output tokens reserves $0.010, the mock's answer (3 tokens) costs $0.003. Waits until every
/// instance prices it.
async fn price(apps: &[Running], env: &TestEnv) {
    let p = json!({"provider": "*", "model": "*", "input": 0.0, "output": 1000.0});
    assert_eq!(put_api(&apps[0], env, "/api/pricing", p).await.0, 200);
    for app in apps {
        let priced = crate::support::eventually(10, || async {
            app.state.runtime.prices().find("mock", "mock-model").is_some()
        })
        .await;
        assert!(priced, "every instance reloads the price");
    }
}

async fn spent(env: &TestEnv, apps: &[Running]) -> (f64, usize) {
    for app in apps {
        app.state.runtime.flush_usage().await;
    }
    let db = direct(env).await;
    let rows = entities::usage::Entity::find().all(&db).await.expect("usage rows");
    db.close().await.ok();
    let ok: Vec<_> = rows.iter().filter(|r| r.status == 200).collect();
    (ok.iter().map(|r| r.cost_usd.unwrap_or(0.0)).sum(), ok.len())
}

#[ignore = "needs PostgreSQL or MariaDB (OG_TEST_PG / OG_TEST_MYSQL): scripts/test runs it in those passes"]
#[actix_web::test]
async fn a_budget_spread_over_three_instances_is_spent_once_never_three_times() {
    require_shared();
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let text = mock_config(&mock.base(), &[("a", "ka")], "")
        .replace("key = \"sk-og-ci-0001\"", "key = \"sk-og-ci-0001\"\nbudget = { usd = 0.0405, period = \"month\" }");
    let (apps, _dirs) = three(&env, &text).await;
    price(&apps, &env).await;

    // 60 concurrent requests, 20 on each instance. A budget of $0.0405 covers 4 reservations at
    // once; alone, each instance would serve 11 requests ($0.033), 33 together.
    let burst: Vec<_> =
        (0..60).map(|i| send(&apps[i % 3], "sk-og-ci-0001", chat("mock/mock-model", 10, false))).collect();
    let answers = futures_util::future::join_all(burst).await;
    let served_at_once = answers.iter().filter(|a| a.0 == 200).count();
    for (status, _, body) in &answers {
        assert!(*status == 200 || *status == 402, "{status}: {body}");
        if *status == 402 {
            assert_eq!(body["error"]["type"], "insufficient_quota", "{body}");
            let m = body["error"]["message"].as_str().unwrap_or_default();
            assert!(m.contains("budget of $0.04 per month for key `ci`"), "{body}");
        }
    }
    assert!((1..=11).contains(&served_at_once), "{served_at_once}");

    // Then one at a time, round the instances: a refusal may come while another instance still
    // holds an unused chunk (given back within a second), so after a refusal the next instance is
    // asked three ticks later; the budget ends when every instance refuses.
    let mut more = 0;
    let mut refused_in_a_row = 0;
    let mut i = 0;
    while refused_in_a_row < 3 {
        let (status, _, body) = send(&apps[i % 3], "sk-og-ci-0001", chat("mock/mock-model", 10, false)).await;
        i += 1;
        match status {
            200 => {
                more += 1;
                refused_in_a_row = 0;
            }
            402 => {
                refused_in_a_row += 1;
                actix_rt::time::sleep(omnigate::limits::TICK * 3).await;
            }
            other => panic!("{other}: {body}"),
        }
        assert!(more < 40, "the budget ends");
    }
    let (usd, rows) = spent(&env, &apps).await;
    println!(
        "budget $0.0405 over three instances: {served_at_once} of 60 concurrent served, then {more} one at a time, ${usd:.4} spent"
    );
    assert!(usd <= 0.0405 + 1e-9, "overspent: ${usd}");
    assert_eq!(rows, served_at_once + more);
    // As on one instance: used up to within one reservation of its end.
    assert_eq!(served_at_once + more, 11, "{served_at_once} + {more}");
    assert!((usd - 0.033).abs() < 1e-9, "${usd}");

    // Refused in each caller's dialect, on every instance, and still after a restart.
    let (s, _, e) = anthropic(&apps[1], "sk-og-ci-0001", "mock/mock-model").await;
    assert_eq!(
        (s, e["type"].as_str(), e["error"]["type"].as_str()),
        (402, Some("error"), Some("billing_error")),
        "{e}"
    );
    let mut apps = apps;
    let last = apps.pop().expect("c");
    last.stop().await;
    let (c, _dir) = second(&env, &text).await;
    let (s, _, e) = send(&c, "sk-og-ci-0001", chat("mock/mock-model", 10, false)).await;
    assert_eq!(s, 402, "a restarted instance counts the shared spend: {e}");
    c.stop().await;
    for app in apps {
        app.stop().await;
    }
}

#[ignore = "needs PostgreSQL or MariaDB (OG_TEST_PG / OG_TEST_MYSQL): scripts/test runs it in those passes"]
#[actix_web::test]
async fn most_requests_of_a_limited_key_are_served_from_the_lease_without_asking_the_database() {
    require_shared();
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let limits = "rpm = 1000\ntpm = 1000000\nmax_concurrent = 50\nbudget = { usd = 100.0, period = \"month\" }";
    let text = mock_config(&mock.base(), &[("a", "ka")], "")
        .replace("key = \"sk-og-ci-0001\"", &format!("key = \"sk-og-ci-0001\"\n{limits}"));
    let a = env.start(&text).await;
    let (b, _dir) = second(&env, &text).await;
    let apps = [a, b];
    price(&apps, &env).await;
    // Four clients, two on each instance, 30 requests each one after another.
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let app = &apps[w % 2];
            async move {
                let mut ok = 0;
                for _ in 0..30 {
                    if send(app, "sk-og-ci-0001", chat("mock/mock-model", 10, false)).await.0 == 200 {
                        ok += 1;
                    }
                }
                ok
            }
        })
        .collect();
    let served: usize = futures_util::future::join_all(workers).await.into_iter().sum();
    assert_eq!(served, 120);
    let asked: u64 = apps.iter().map(|a| a.state.runtime.limiter.shared_round_trips().expect("shared")).sum();
    println!("120 requests of a limited key over two instances: {asked} asked the database for a chunk");
    assert!(asked <= 40, "most requests are served from the lease: {asked} of 120 asked the database");
    let (usd, rows) = spent(&env, &apps).await;
    assert_eq!(rows, 120);
    assert!((usd - 0.36).abs() < 1e-9, "${usd}");
    for app in apps {
        app.stop().await;
    }
}

/// `[[keys]]` entries `rl` (rpm = 5), `cc` (max_concurrent = 2) and `t1`, `t2` of the team
/// `blue` (rpm = 4 for the two together), and a slow provider.
fn limited(mock: &MockUpstream, extra_key: &str) -> String {
    let keys = format!(
        "[[teams]]\nname = \"blue\"\nrpm = 4\n\n\
         [[keys]]\nname = \"t1\"\nkey = \"sk-og-t1-0001\"\nteam = \"blue\"\n\n\
         [[keys]]\nname = \"t2\"\nkey = \"sk-og-t2-0001\"\nteam = \"blue\"\n\n\
         [[keys]]\nname = \"rl\"\nkey = \"sk-og-rl-0001\"\nrpm = 5\n\n\
         [[keys]]\nname = \"cc\"\nkey = \"sk-og-cc-0001\"\nmax_concurrent = 2\n{extra_key}\n\n\
         [[providers]]\nid = \"slow\"\ndialect = \"openai-chat\"\nbase_url = \"{}\"\nmodels = [\"m\"]\n\n\
         [[accounts]]\nprovider = \"slow\"\nname = \"s\"\napi_key = \"kslow\"\n",
        mock.base()
    );
    format!("{}\n{keys}", mock_config(&mock.base(), &[("a", "ka")], ""))
}

#[ignore = "needs PostgreSQL or MariaDB (OG_TEST_PG / OG_TEST_MYSQL): scripts/test runs it in those passes"]
#[actix_web::test]
async fn requests_per_minute_and_in_flight_are_counted_once_across_three_instances() {
    require_shared();
    let mock = MockUpstream::start().await;
    // Streams of the slow provider last about 6 s: every request of the burst arrives while the
    // first ones are still in flight.
    let frames = Reply::chat_frames(&["one", " two", " three", " four", " five", " six"], true);
    mock.always(
        "kslow",
        Reply::Sse { frames, first_delay: Duration::ZERO, delay: Duration::from_millis(1_000), drop_after: None },
    );
    let env = TestEnv::new().await;
    let (apps, _dirs) = three(&env, &limited(&mock, "")).await;

    // rpm = 5, twelve requests at once, four on each instance: five served in all (each
    // instance alone would serve all twelve).
    let burst: Vec<_> =
        (0..12).map(|i| send(&apps[i % 3], "sk-og-rl-0001", chat("mock/mock-model", 10, false))).collect();
    let mut statuses = Vec::new();
    for (status, retry, body) in futures_util::future::join_all(burst).await {
        if status == 429 {
            assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
            let m = body["error"]["message"].as_str().unwrap_or_default();
            assert!(m.contains("key `rl` is over its limit of 5 requests per minute"), "{body}");
            let wait: u64 = retry.parse().unwrap_or(0);
            assert!((1..=62).contains(&wait), "Retry-After says when the next one fits: {retry}");
        }
        statuses.push(status);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 5, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429), "{statuses:?}");
    let (s, retry, e) = anthropic(&apps[2], "sk-og-rl-0001", "mock/mock-model").await;
    assert_eq!(
        (s, e["type"].as_str(), e["error"]["type"].as_str()),
        (429, Some("error"), Some("rate_limit_error")),
        "{e}"
    );
    assert!(retry.parse::<u64>().is_ok_and(|w| w >= 1), "{retry}");

    // A team's rpm = 4 counts its two keys on the three instances together.
    let burst: Vec<_> = (0..12)
        .map(|i| {
            let key = if i % 2 == 0 { "sk-og-t1-0001" } else { "sk-og-t2-0001" };
            send(&apps[i % 3], key, chat("mock/mock-model", 10, false))
        })
        .collect();
    let answers = futures_util::future::join_all(burst).await;
    assert_eq!(
        answers.iter().filter(|a| a.0 == 200).count(),
        4,
        "{:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    for (status, _, body) in answers.iter().filter(|a| a.0 != 200) {
        assert_eq!(*status, 429, "{body}");
        let m = body["error"]["message"].as_str().unwrap_or_default();
        assert!(m.contains("team `blue` is over its limit of 4 requests per minute"), "{body}");
    }

    // max_concurrent = 2: nine streams at once, three per instance; at most two in flight.
    let burst: Vec<_> = (0..9).map(|i| send(&apps[i % 3], "sk-og-cc-0001", chat("slow/m", 10, true))).collect();
    let answers = futures_util::future::join_all(burst).await;
    let admitted = answers.iter().filter(|a| a.0 == 200).count();
    println!("max_concurrent 2 over three instances: {admitted} of 9 concurrent streams admitted");
    assert!((1..=2).contains(&admitted), "{:?}", answers.iter().map(|a| a.0).collect::<Vec<_>>());
    for (status, retry, body) in answers.iter().filter(|a| a.0 != 200) {
        assert_eq!(*status, 429, "{body}");
        assert!(body["error"]["message"].as_str().unwrap_or_default().contains("max_concurrent"), "{body}");
        assert!(!retry.is_empty());
    }
    // Once they ended, their permits are back (within a tick) for whichever instance asks.
    for app in &apps {
        let back = crate::support::eventually(10, || async {
            send(app, "sk-og-cc-0001", chat("mock/mock-model", 10, false)).await.0 == 200
        })
        .await;
        assert!(back, "a permit is usable on every instance again");
    }
    for app in apps {
        app.stop().await;
    }
}

/// The daemon binary on `port` with `config`, on `env`'s database, with a data directory of its own.
pub(super) fn spawn_daemon(env: &TestEnv, dir: &std::path::Path, config: &str, port: u16) -> std::process::Child {
    let file = dir.join("daemon.toml");
    std::fs::write(&file, config).expect("write config");
    std::process::Command::new(env!("CARGO_BIN_EXE_omnigate"))
        .args(["serve", "--port", &port.to_string(), "--config"])
        .arg(&file)
        .arg("--data-dir")
        .arg(dir)
        .env("DATABASE_URL", &env.db_url)
        .env("OMNIGATE_MASTER_KEY", &env.master_key)
        .env("OMNIGATE_ADMIN_PASSWORD", &env.admin_password)
        .env("OMNIGATE_LOG_LEVEL", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn the daemon")
}

async fn holds_of(env: &TestEnv, instance: &str) -> i64 {
    let db = direct(env).await;
    let sql = format!("SELECT count(*) AS n FROM shared_holds WHERE instance = '{instance}'");
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.expect("query");
    db.close().await.ok();
    row.and_then(|r| r.try_get::<i64>("", "n").ok()).unwrap_or(0)
}

#[ignore = "needs PostgreSQL or MariaDB (OG_TEST_PG / OG_TEST_MYSQL): scripts/test runs it in those passes"]
#[actix_web::test]
async fn a_killed_instances_permits_and_budget_come_back_within_the_hold_ttl_a_stopped_ones_at_once() {
    require_shared();
    let mock = MockUpstream::start().await;
    mock.always("kslow", Reply::Stall);
    let env = TestEnv::new().await;
    // `cc` may have 2 requests in flight and $0.025 to spend: two stalled requests on the killed
    // daemon hold both permits and $0.020 of it.
    let text = limited(&mock, "budget = { usd = 0.025, period = \"month\" }");
    let a = env.start(&text).await;
    price(std::slice::from_ref(&a), &env).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut daemon = spawn_daemon(&env, dir.path(), &text, port);
    wait_healthy(port).await;
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    let stalled: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            actix_rt::spawn(async move {
                let _ = client().post(url).bearer_auth("sk-og-cc-0001").send_json(&chat("slow/m", 10, false)).await;
            })
        })
        .collect();
    let holding = crate::support::eventually(10, || async { mock.hits() == 2 }).await;
    assert!(holding, "the daemon has both requests in flight");
    let (s, _, e) = send(&a, "sk-og-cc-0001", chat("mock/mock-model", 10, false)).await;
    assert_eq!(s, 429, "both permits are held by the other instance: {e}");
    assert!(e["error"]["message"].as_str().unwrap_or_default().contains("across its instances"), "{e}");

    // kill -9: nothing is given back; its holds expire.
    let killed = Instant::now();
    let status = std::process::Command::new("kill").args(["-KILL", &daemon.id().to_string()]).status().expect("kill");
    assert!(status.success());
    daemon.wait().ok();
    for s in stalled {
        s.await.ok();
    }
    let (s, _, e) = send(&a, "sk-og-cc-0001", chat("mock/mock-model", 10, false)).await;
    assert_eq!(s, 429, "just killed, its hold is still counted: {e}");
    let limit = omnigate::limits::HOLD_TTL + Duration::from_secs(10);
    let mut back = None;
    while killed.elapsed() < limit {
        // Both permits and the $0.020 it held: this request needs a permit and $0.010.
        let (s, _, body) = send(&a, "sk-og-cc-0001", chat("mock/mock-model", 10, false)).await;
        if s == 200 {
            back = Some(killed.elapsed());
            break;
        }
        assert!(s == 429 || s == 402, "{s}: {body}");
        actix_rt::time::sleep(Duration::from_millis(250)).await;
    }
    let took = back.unwrap_or_else(|| panic!("the killed instance's share did not come back within {limit:?}"));
    println!("a killed instance's share came back after {took:?} (HOLD_TTL {:?})", omnigate::limits::HOLD_TTL);

    // Stopped: what it held goes back at once (its request in flight ends with the grace).
    let bdir = tempfile::tempdir().expect("tempdir");
    let mut cfg = env.config(&text);
    cfg.server.data_dir = Some(bdir.path().to_path_buf());
    cfg.server.shutdown_grace_secs = 1;
    let b = env.start_with(cfg, env.bootstrap()).await;
    let id = b.state.runtime.cluster.as_ref().expect("cluster").id().to_string();
    let burl = format!("{}/v1/chat/completions", base(&b));
    let pending = actix_rt::spawn(async move {
        let _ = client().post(burl).bearer_auth("sk-og-cc-0001").send_json(&chat("slow/m", 10, false)).await;
    });
    let held = crate::support::eventually(10, || async { holds_of(&env, &id).await == 1 }).await;
    assert!(held, "the stopping instance holds a permit for its request in flight");
    b.stop().await;
    assert_eq!(holds_of(&env, &id).await, 0, "a stopped instance holds nothing");
    pending.await.ok();
    a.stop().await;
}
