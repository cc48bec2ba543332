//! Pacing and the wait queue through the real router and the mock: two accounts with an `rpm`
//! share a burst up to their limits with zero 429s, the request past both limits is answered 429
//! with an honest `Retry-After` in the caller's dialect, a `min_gap_ms` makes the next request
//! wait instead of failing, waiting requests are served in arrival order, a full queue answers at
//! once, a client that leaves while queued leaves the queue, a provider's pacing is its accounts'
//! default, tpm counts tokens, and a short `Retry-After` is waited out.

use std::time::Duration;

use serde_json::{Value, json};

use crate::mock::MockUpstream;
use crate::support::{TestEnv, base, client, eventually, header, json_body, mock_config, post};

fn chat() -> Value {
    json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hello"}]})
}

/// `mock_config` with pacing keys added to every account.
fn paced(base: &str, accounts: &[(&str, &str)], account_keys: &str, routing: &str) -> String {
    mock_config(base, accounts, &format!("[routing]\n{routing}\n"))
        .replace("api_key = \"", &format!("{account_keys}\napi_key = \""))
}

fn hits(mock: &MockUpstream, key: &str) -> usize {
    mock.requests().iter().filter(|r| r.credential().as_deref() == Some(key)).count()
}

#[actix_web::test]
async fn rpm_holds_two_accounts_at_their_limit_with_zero_429s_then_answers_429_with_retry_after() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let cfg = paced(&mock.base(), &[("a", "ka"), ("b", "kb")], "rpm = 3", "max_wait_ms = 1000");
    let app = env.start(&cfg).await;
    let burst: Vec<_> = (0..6).map(|_| post(&app, "/v1/chat/completions", chat())).collect();
    let statuses: Vec<u16> = futures_util::future::join_all(burst).await.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, vec![200; 6], "a burst up to both limits goes through");
    assert_eq!((hits(&mock, "ka"), hits(&mock, "kb")), (3, 3), "the two accounts share the load");
    // The seventh would wait for a minute: longer than the gateway waits. Answered at once in the
    // caller's dialect (Anthropic here), without spending an upstream request.
    let mut r = client()
        .post(format!("{}/v1/messages", base(&app)))
        .insert_header(("x-api-key", "sk-og-ci-0001"))
        .insert_header(("anthropic-version", "2023-06-01"))
        .send_json(
            &json!({"model": "mock/mock-model", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await
        .expect("send");
    assert_eq!(r.status(), 429);
    let retry: u64 = header(&r, "retry-after").parse().unwrap_or(0);
    assert!((55..=60).contains(&retry), "the first slot frees within the minute: {retry}");
    let e = json_body(&mut r).await;
    assert_eq!((e["type"].as_str(), e["error"]["type"].as_str()), (Some("error"), Some("rate_limit_error")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap_or_default().contains("rpm"), "{e}");
    assert_eq!(mock.hits(), 6);
    // The health view shows both accounts paced, and nobody waiting.
    let h = crate::support::admin_get(&app, &env, "/api/health").await;
    let paced =
        h["accounts"].as_array().map_or(0, |a| a.iter().filter(|a| a["paced_until"].as_i64() > Some(0)).count());
    assert_eq!((paced, h["routing"]["waiting"].clone()), (2, json!(0)), "{h}");
    app.stop().await;
}

#[actix_web::test]
async fn a_min_gap_makes_the_next_request_wait_instead_of_failing() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let cfg = paced(&mock.base(), &[("a", "ka")], "min_gap_ms = 300", "max_wait_ms = 5000");
    let app = env.start(&cfg).await;
    let both = futures_util::future::join_all((0..3).map(|_| post(&app, "/v1/chat/completions", chat()))).await;
    assert_eq!(both.iter().map(|r| r.status().as_u16()).collect::<Vec<_>>(), vec![200; 3]);
    assert_eq!(mock.hits(), 3, "each went once, none was refused");
    assert_eq!(app.state.runtime.queue.waiting(), 0, "nothing left waiting");
    app.stop().await;
}

#[actix_web::test]
async fn a_full_queue_answers_at_once_and_a_client_that_leaves_frees_its_place() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let cfg = paced(&mock.base(), &[("a", "ka")], "min_gap_ms = 20000", "max_wait_ms = 30000\nmax_queue = 1");
    let app = env.start(&cfg).await;
    assert_eq!(post(&app, "/v1/chat/completions", chat()).await.status(), 200);
    // The next waits ~20 s in the one place of the queue; its client gives up after a moment.
    let url = format!("{}/v1/chat/completions", base(&app));
    let waiting = actix_web::rt::spawn(async move {
        client()
            .post(url)
            .bearer_auth("sk-og-ci-0001")
            .timeout(Duration::from_secs(2))
            .send_json(&chat())
            .await
            .is_err()
    });
    let queue = &app.state.runtime.queue;
    assert!(eventually(10, || async { queue.waiting() == 1 }).await, "one request waits");
    let r = post(&app, "/v1/chat/completions", chat()).await;
    assert_eq!(r.status(), 429, "the queue is full: answered at once");
    assert!(header(&r, "retry-after").parse::<u64>().unwrap_or(0) >= 1);
    assert!(waiting.await.unwrap_or(false), "the waiting client gave up");
    assert!(eventually(10, || async { queue.waiting() == 0 }).await, "and left the queue");
    assert_eq!(mock.hits(), 1);
    app.stop().await;
}

#[actix_web::test]
async fn waiting_requests_are_served_in_arrival_order() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let cfg = paced(&mock.base(), &[("a", "ka")], "min_gap_ms = 150", "max_wait_ms = 20000");
    let app = env.start(&cfg).await;
    assert_eq!(post(&app, "/v1/chat/completions", chat()).await.status(), 200);
    // Five requests arrive one after another while the account is paced; each joins the queue
    // before the next is sent.
    let queue = &app.state.runtime.queue;
    let mut handles = Vec::new();
    for i in 0..5 {
        let url = format!("{}/v1/chat/completions", base(&app));
        let body = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": format!("n{i}")}]});
        handles.push(actix_web::rt::spawn(async move {
            client().post(url).bearer_auth("sk-og-ci-0001").send_json(&body).await.map(|r| r.status().as_u16())
        }));
        // Joined the queue, or (on a slow machine, after the gap) already served from it.
        let arrived = || async { queue.waiting() + mock.hits().saturating_sub(1) == i + 1 };
        assert!(eventually(10, arrived).await, "request {i} waits");
    }
    for h in handles {
        assert!(matches!(h.await, Ok(Ok(200))));
    }
    let order: Vec<String> = mock.requests()[1..]
        .iter()
        .map(|r| r.body["messages"][0]["content"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(order, vec!["n0", "n1", "n2", "n3", "n4"], "first come, first served");
    app.stop().await;
}

#[actix_web::test]
async fn a_custom_providers_pacing_is_the_default_of_its_accounts() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let cfg = format!(
        "[routing]\nmax_wait_ms = 500\n\n[[keys]]\nname = \"ci\"\nkey = \"sk-og-ci-0001\"\n\n\
         [[providers]]\nid = \"capped\"\ndialect = \"openai-chat\"\nbase_url = \"{base}\"\nmodels = [\"m\"]\nrpm = 1\n\n\
         [[accounts]]\nprovider = \"capped\"\nname = \"c1\"\napi_key = \"k1\"\n\n\
         [[accounts]]\nprovider = \"capped\"\nname = \"c2\"\napi_key = \"k2\"\nrpm = 2\n",
        base = mock.base()
    );
    let app = env.start(&cfg).await;
    let body = json!({"model": "capped/m", "messages": [{"role": "user", "content": "hi"}]});
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(post(&app, "/v1/chat/completions", body.clone()).await.status().as_u16());
    }
    // c1 takes the provider's 1 a minute, c2 its own 2; the fourth would wait a minute.
    assert_eq!(statuses, vec![200, 200, 200, 429]);
    assert_eq!((hits(&mock, "k1"), hits(&mock, "k2")), (1, 2));
    app.stop().await;
}

#[actix_web::test]
async fn tpm_counts_the_tokens_a_request_asks_for() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let cfg = paced(&mock.base(), &[("a", "ka")], "tpm = 500", "max_wait_ms = 500");
    let app = env.start(&cfg).await;
    // Each asks for 200 output tokens on top of a short prompt: two fit in 500, a third does not.
    let body = json!({"model": "mock/mock-model", "max_tokens": 200, "messages": [{"role": "user", "content": "hi"}]});
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(post(&app, "/v1/chat/completions", body.clone()).await.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 429]);
    // A request asking for little still fits beside them.
    let small = json!({"model": "mock/mock-model", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(post(&app, "/v1/chat/completions", small).await.status(), 200);
    app.stop().await;
}

#[actix_web::test]
async fn a_short_retry_after_is_waited_out_and_the_same_request_tried_again() {
    let mock = MockUpstream::start().await;
    mock.script("ka", vec![crate::mock::Reply::rate_limited("1")]);
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let r = post(&app, "/v1/chat/completions", chat()).await;
    assert_eq!((r.status().as_u16(), header(&r, "x-omnigate-attempts")), (200, "2".into()));
    assert_eq!(mock.hits(), 2, "the 429, then the answer after its Retry-After");
    assert_eq!(app.state.runtime.queue.waiting(), 0);
    app.stop().await;
}

#[actix_web::test]
async fn a_request_waiting_in_the_queue_at_shutdown_is_answered_503() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let text = paced(&mock.base(), &[("a", "ka")], "min_gap_ms = 60000", "max_wait_ms = 90000");
    let mut cfg = env.config(&text);
    cfg.server.shutdown_grace_secs = 2;
    let app = env.start_with(cfg, env.bootstrap()).await;
    assert_eq!(post(&app, "/v1/chat/completions", chat()).await.status(), 200);
    let url = format!("{}/v1/chat/completions", base(&app));
    let waiting = actix_web::rt::spawn(async move {
        let mut r = client().post(url).bearer_auth("sk-og-ci-0001").send_json(&chat()).await.expect("send");
        (r.status().as_u16(), json_body(&mut r).await)
    });
    let queue = &app.state.runtime.queue;
    assert!(eventually(10, || async { queue.waiting() == 1 }).await, "it waits for a minute");
    app.stop().await;
    let (status, body) = waiting.await.expect("client");
    assert_eq!(status, 503, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("shutting down")), "{body}");
    assert_eq!(mock.hits(), 1);
}

/// One answer from the mock with these rate-limit headers on an ordinary success.
fn with_headers(headers: &[(&str, String)]) -> crate::mock::Reply {
    crate::mock::Reply::WithHeaders {
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        reply: Box::new(crate::mock::Reply::Text("ok".into())),
    }
}

#[actix_web::test]
async fn rate_limit_headers_saying_nothing_remains_pace_the_account_without_spending_a_request() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    // Fill-first: `a` serves until its headers say its request window is spent for 20 s.
    let openai_style = [
        ("x-ratelimit-limit-requests", "100".to_string()),
        ("x-ratelimit-remaining-requests", "0".to_string()),
        ("x-ratelimit-reset-requests", "20s".to_string()),
    ];
    mock.script("ka", vec![with_headers(&openai_style)]);
    // `b` answers with Anthropic's API-key headers: its token window is spent until a stated time.
    let reset = (chrono::Utc::now() + chrono::Duration::seconds(20)).to_rfc3339();
    let anthropic_style = [
        ("anthropic-ratelimit-tokens-limit", "1000".to_string()),
        ("anthropic-ratelimit-tokens-remaining", "0".to_string()),
        ("anthropic-ratelimit-tokens-reset", reset),
    ];
    mock.script("kb", vec![with_headers(&anthropic_style)]);
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka"), ("b", "kb"), ("c", "kc")], "")).await;
    let served_by = |r: &awc::ClientResponse<_>| header(r, "x-omnigate-account");
    let r = post(&app, "/v1/chat/completions", chat()).await;
    assert_eq!((r.status().as_u16(), served_by(&r).as_str()), (200, "a"));
    let r = post(&app, "/v1/chat/completions", chat()).await;
    assert_eq!((r.status().as_u16(), served_by(&r).as_str()), (200, "b"), "a is paced by its headers");
    for _ in 0..3 {
        let r = post(&app, "/v1/chat/completions", chat()).await;
        assert_eq!((r.status().as_u16(), served_by(&r).as_str()), (200, "c"), "a and b are both paced");
    }
    assert_eq!((hits(&mock, "ka"), hits(&mock, "kb"), hits(&mock, "kc")), (1, 1, 3), "no request spent to learn it");
    // The health view says until when (about 20 s from now).
    let h = crate::support::admin_get(&app, &env, "/api/health").await;
    let now = omnigate::store::now_ms();
    for name in ["a", "b"] {
        let acc = h["accounts"].as_array().and_then(|a| a.iter().find(|x| x["name"] == name).cloned());
        let quota_until = acc.as_ref().and_then(|a| a["quota_blocked_until"].as_i64()).unwrap_or(0);
        assert!((now + 15_000..=now + 21_000).contains(&quota_until), "{name}: {acc:?}");
    }
    app.stop().await;
}
