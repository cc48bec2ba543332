//! `/metrics` read by an independent Prometheus text parser (names, labels, types, counters that
//! move), who may read it, and `/ready`.

use prometheus_parse::{Sample, Scrape, Value as PromValue};
use serde_json::{Value, json};

use crate::mock::MockUpstream;
use crate::support::{TestEnv, base, client, eventually, json_body, mock_config, post};

async fn scrape(url: &str, token: Option<&str>) -> (u16, Option<Scrape>) {
    let mut req = client().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let mut r = req.send().await.expect("send");
    let status = r.status().as_u16();
    let text = String::from_utf8(r.body().limit(4 << 20).await.expect("body").to_vec()).expect("utf-8");
    let parsed = (status == 200).then(|| {
        let lines = text.lines().map(|l| Ok(l.to_string()));
        Scrape::parse(lines).unwrap_or_else(|e| panic!("not valid Prometheus text ({e}):\n{text}"))
    });
    (status, parsed)
}

fn find<'a>(s: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    s.samples.iter().find(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
}

fn counter(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match find(s, metric, labels).map(|x| &x.value) {
        Some(PromValue::Counter(v) | PromValue::Gauge(v) | PromValue::Untyped(v)) => *v,
        other => panic!("{metric} {labels:?}: {other:?}"),
    }
}

fn chat() -> Value {
    json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hello"}]})
}

#[actix_web::test]
async fn metrics_parse_as_prometheus_text_and_counters_move() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let url = format!("{}/metrics", base(&app));
    for _ in 0..2 {
        assert_eq!(post(&app, "/v1/chat/completions", chat()).await.status(), 200);
    }
    let ok = [("provider", "mock"), ("model", "mock/mock-model"), ("key", "ci"), ("status", "200")];
    // Open on a loopback bind without the token; the usage events arrive just after the answers.
    assert!(
        eventually(10, || async {
            let (_, s) = scrape(&url, None).await;
            s.is_some_and(|s| find(&s, "omnigate_requests_total", &ok).is_some())
        })
        .await
    );
    let (status, s) = scrape(&url, None).await;
    assert_eq!(status, 200);
    let s = s.expect("parsed");
    assert_eq!(counter(&s, "omnigate_requests_total", &ok), 2.0);
    assert!(counter(&s, "omnigate_tokens_total", &[("provider", "mock"), ("kind", "input")]) > 0.0);
    match find(&s, "omnigate_request_duration_seconds", &[("provider", "mock")]).map(|x| &x.value) {
        Some(PromValue::Histogram(buckets)) => {
            let inf = buckets.iter().find(|b| b.less_than.is_infinite()).expect("+Inf bucket");
            assert_eq!(inf.count, 2.0, "{buckets:?}");
        }
        other => panic!("latency histogram: {other:?}"),
    }
    assert_eq!(counter(&s, "omnigate_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);
    assert_eq!(counter(&s, "omnigate_account_state", &[("account", "a"), ("state", "ready")]), 1.0);
    assert_eq!(counter(&s, "omnigate_in_flight", &[("account", "a")]), 0.0);
    assert_eq!(counter(&s, "omnigate_usage_dropped_rows_total", &[]), 0.0);

    // The counter moves, and a refusal is counted under its own status.
    assert_eq!(post(&app, "/v1/chat/completions", chat()).await.status(), 200);
    let bad = json!({"model": "nope/none", "messages": [{"role": "user", "content": "x"}]});
    assert_eq!(post(&app, "/v1/chat/completions", bad).await.status(), 404);
    assert!(
        eventually(10, || async {
            let (_, s) = scrape(&url, None).await;
            s.is_some_and(|s| {
                find(&s, "omnigate_requests_total", &ok)
                    .is_some_and(|x| matches!(x.value, PromValue::Counter(v) if v == 3.0))
                    && find(&s, "omnigate_requests_total", &[("status", "404")]).is_some()
            })
        })
        .await
    );
    let r = client().get(format!("{}/ready", base(&app))).send().await.expect("send");
    assert_eq!(r.status(), 200);
    let mut r = client().get(format!("{}/ready", base(&app))).send().await.expect("send");
    let v = json_body(&mut r).await;
    assert_eq!(
        v,
        json!({"ready": true, "degraded": false, "database": "ok", "actors": "ok", "draining": false, "usage_held": 0})
    );
    app.stop().await;
}

#[actix_web::test]
async fn metrics_can_require_the_admin_token() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "[metrics]\nrequire_token = \"always\"\n")).await;
    let url = format!("{}/metrics", base(&app));
    assert_eq!(scrape(&url, None).await.0, 401);
    assert_eq!(scrape(&url, Some("sk-og-ci-0001")).await.0, 401, "a gateway key is not the admin token");
    let (status, s) = scrape(&url, Some(&env.admin_token)).await;
    assert_eq!(status, 200);
    assert!(s.is_some_and(|s| find(&s, "omnigate_build_info", &[]).is_some()));
    app.stop().await;
}
