//! What each optional feature costs: max throughput of a gateway with one feature added (usage
//! rows, `/metrics` scraped each second, a key's limits and budget, sticky sessions) against the
//! same gateway without it, every arm run twice in alternation so a slow phase of the machine
//! falls on all of them alike.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Gateway, Sessions, body, client, max_throughput_with};

/// Limits set far above the load: every request reserves and settles, none is refused.
const LIMITS: &str =
    "rpm = 100000000\ntpm = 1000000000\nmax_concurrent = 100000\nbudget = { usd = 1000000000.0, period = \"month\" }";

/// One gateway set-up measured for max throughput.
struct Arm {
    key: &'static str,
    what: &'static str,
    usage: bool,
    limits: &'static str,
    scrape: bool,
    sessions: Sessions,
}

const fn arm(key: &'static str, what: &'static str) -> Arm {
    Arm { key, what, usage: true, limits: "", scrape: false, sessions: Sessions::None }
}

fn arms() -> Vec<Arm> {
    vec![
        arm("base", "usage rows on, nothing else"),
        Arm { usage: false, ..arm("usage", "usage rows written (against none)") },
        Arm { scrape: true, ..arm("metrics", "/metrics scraped every second") },
        Arm { limits: LIMITS, ..arm("limits_and_budget", "a key's rpm, tpm, max_concurrent and budget") },
        Arm { sessions: Sessions::PerConnection, ..arm("sessions", "a sticky session per connection (64 live)") },
        Arm {
            sessions: Sessions::PerRequest,
            ..arm("new_session_each_request", "a new sticky session every request (the book at its cap)")
        },
    ]
}

async fn measure(mock_base: &str, a: &Arm, secs: u64) -> f64 {
    let gw = Gateway::start_limited(tempfile::tempdir().unwrap(), mock_base, a.usage, a.limits);
    let _ = max_throughput_with(&gw.url(), 16, 2, &body(false), a.sessions).await;
    if a.sessions != Sessions::None {
        let r = client()
            .post(gw.url())
            .bearer_auth(super::KEY)
            .insert_header(("x-session-id", "probe"))
            .send_json(&body(false))
            .await;
        let echoed = r.ok().and_then(|r| r.headers().get("x-omnigate-session-id").map(|v| v.as_bytes().to_vec()));
        assert_eq!(echoed.as_deref(), Some(&b"probe"[..]), "the gateway keeps the session it was given");
    }
    let metrics = format!("http://127.0.0.1:{}/metrics", gw.port);
    let scrape = a.scrape.then(|| {
        actix_rt::spawn(async move {
            let c = client();
            loop {
                match c.get(&metrics).send().await {
                    Ok(mut r) => {
                        assert!(r.status().is_success() && r.body().limit(64 << 20).await.is_ok(), "/metrics answers")
                    }
                    Err(e) => panic!("/metrics: {e}"),
                }
                actix_rt::time::sleep(Duration::from_secs(1)).await;
            }
        })
    });
    let (rps, errors) = max_throughput_with(&gw.url(), 64, secs, &body(false), a.sessions).await;
    if let Some(s) = scrape {
        s.abort();
    }
    assert_eq!(errors, 0, "{}: no request fails", a.key);
    rps
}

/// Runs every arm twice (in alternation) and records each feature's cost against `base`.
pub async fn run(mock_base: &str, secs: u64, results: &mut serde_json::Map<String, Value>) {
    let arms = arms();
    let mut rps = vec![0.0f64; arms.len()];
    for _round in 0..2 {
        for (i, a) in arms.iter().enumerate() {
            rps[i] += measure(mock_base, a, secs).await / 2.0;
        }
    }
    let base = rps[0];
    println!("\n| optional feature | max req/s with | without | cost |");
    println!("|---|---|---|---|");
    let mut out = serde_json::Map::new();
    out.insert("base_rps".into(), json!(base));
    for (a, &r) in arms.iter().zip(&rps).skip(1) {
        // Usage is on in the base arm; its arm turns it off.
        let (with, without) = if a.usage { (r, base) } else { (base, r) };
        let cost = 100.0 * (1.0 - with / without);
        println!("| {} | {with:.0} | {without:.0} | {cost:.1} % |", a.what);
        out.insert(a.key.into(), json!({"what": a.what, "with_rps": with, "without_rps": without, "cost_pct": cost}));
    }
    results.insert("feature_costs".into(), Value::Object(out));
}
