//! Failure classes through the real actors: successes of requests in flight end a provider's
//! failure streak (a provider with healthy and failing accounts never trips), a half-open probe
//! whose client left frees the probe slot, an account failing alone cools while its siblings
//! serve, ban phrases disable an account, and a model refused on one account locks only that
//! model there.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, admin_get, base, client, eventually, header, json_body, mock_config, post};

fn chat(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hello"}]})
}

async fn account(app: &omnigate::app::Running, env: &TestEnv, name: &str) -> Value {
    let v = admin_get(app, env, "/api/accounts").await;
    v["accounts"].as_array().expect("accounts").iter().find(|a| a["name"] == name).cloned().expect("listed")
}

fn hits_of(mock: &MockUpstream, credential: &str) -> usize {
    mock.requests().iter().filter(|r| r.credential().as_deref() == Some(credential)).count()
}

fn slow_stream(words: usize, delay_ms: u64) -> Reply {
    let words: Vec<String> = (0..words).map(|i| format!("w{i} ")).collect();
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    Reply::Sse {
        frames: Reply::chat_frames(&refs, true),
        first_delay: Duration::ZERO,
        delay: Duration::from_millis(delay_ms),
        drop_after: None,
    }
}

/// The soak test's finding: healthy accounts and a failing one. Successes of requests leased
/// while the breaker was still clean went unreported, so the failing account's occasional 500s
/// added up across bursts and tripped the breaker again and again. Now any success ends the
/// provider's streak, and it is on record before the client sees its stream end. Within a burst
/// of 8 the failures (fast) come before the successes (slow streams); round-robin over 4 accounts
/// with the retries interleaved gives the failing account at most 3 of the burst's at most 11
/// leases, so a threshold of 4 is reached only if successes of earlier bursts were not counted.
#[actix_web::test]
async fn successes_in_flight_keep_a_partly_failing_provider_closed() {
    let mock = MockUpstream::start_with(4, true).await;
    let accounts = [("g1", "kg1"), ("g2", "kg2"), ("g3", "kg3"), ("b1", "kb1")];
    for (_, k) in &accounts[..3] {
        mock.always(k, slow_stream(6, 40));
    }
    mock.always("kb1", Reply::status(500));
    let env = TestEnv::new().await;
    // Cooling the failing account is not what this test is about: its threshold is out of reach.
    let extra = "[routing]\nstrategy = \"round-robin\"\nsticky_limit = 1\n\
                 [resilience]\nbreaker_threshold = 4\naccount_fault_threshold = 1000\n";
    let app = env.start(&mock_config(&mock.base(), &accounts, extra)).await;
    let mut ok = 0;
    let mut failed = Vec::new();
    for _burst in 0..5 {
        let mut streams = Vec::new();
        for _ in 0..8 {
            streams.push(post(&app, "/v1/chat/completions", chat("mock/mock-model", true)));
        }
        for mut r in futures_util::future::join_all(streams).await {
            if r.status() == 200 {
                while let Some(c) = r.next().await {
                    c.expect("chunk");
                }
                ok += 1;
            } else {
                let status = r.status();
                let body = r.body().await.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
                failed.push(format!("{status}: {body}"));
            }
        }
    }
    assert_eq!(ok, 40, "every request was served by a healthy account: {failed:?}");
    assert!(hits_of(&mock, "kb1") >= 5, "the failing account was tried: {}", hits_of(&mock, "kb1"));
    let a = account(&app, &env, "g1").await;
    assert_eq!(a["breaker"], "closed", "{a}");
    let b = app.state.runtime.breaker_actor("mock").expect("breaker");
    let state = b.send(actors::breaker::messages::GetBreaker).await.expect("breaker answers");
    assert_eq!(state.trips, 0, "the breaker never tripped: {state:?}");
    app.stop().await;
}

/// A half-open breaker's probe whose client leaves ends without a verdict: the next request
/// probes at once instead of being refused for the probe window.
#[actix_web::test]
async fn a_cancelled_probe_frees_the_probe_slot() {
    let mock = MockUpstream::start().await;
    mock.script("ka", vec![Reply::status(500), Reply::Stall]);
    mock.always("ka", Reply::Text("back".into()));
    let env = TestEnv::new().await;
    let extra = "[resilience]\nbreaker_threshold = 1\nbreaker_open_ms = 300\n";
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], extra)).await;
    assert_eq!(post(&app, "/v1/chat/completions", chat("mock/mock-model", false)).await.status(), 502);
    assert!(eventually(10, || async { account(&app, &env, "a").await["breaker"] == "open" }).await);
    actix_rt::time::sleep(Duration::from_millis(400)).await;
    // The probe: the upstream stalls and the client gives up.
    let url = format!("{}/v1/chat/completions", base(&app));
    let c = awc::Client::builder().timeout(Duration::from_millis(300)).finish();
    let r = c.post(url).bearer_auth("sk-og-ci-0001").send_json(&chat("mock/mock-model", false)).await;
    assert!(r.is_err(), "the client gave up on the probe");
    assert_eq!(mock.hits(), 2);
    // Well inside the 15 s probe window, the next request probes and closes the breaker.
    let served = eventually(10, || async {
        let mut r = post(&app, "/v1/chat/completions", chat("mock/mock-model", false)).await;
        r.status() == 200 && json_body(&mut r).await["choices"][0]["message"]["content"] == "back"
    })
    .await;
    assert!(served, "a new probe went out after the cancelled one");
    assert!(eventually(10, || async { account(&app, &env, "a").await["breaker"] == "closed" }).await);
    app.stop().await;
}

/// An account that answers 500 every time while its sibling serves cools after three in a row
/// and is no longer picked; the provider's breaker stays closed.
#[actix_web::test]
async fn an_account_failing_alone_cools_while_its_siblings_serve() {
    let mock = MockUpstream::start().await;
    mock.always("ka", Reply::status(500));
    let env = TestEnv::new().await;
    let extra = "[routing]\nstrategy = \"round-robin\"\nsticky_limit = 1\n\
                 [resilience]\ncooldown_base_ms = 60000\nbreaker_threshold = 5\n";
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka"), ("b", "kb")], extra)).await;
    for _ in 0..20 {
        let r = post(&app, "/v1/chat/completions", chat("mock/mock-model", false)).await;
        assert_eq!((r.status().as_u16(), header(&r, "x-omnigate-account")), (200, "b".into()));
    }
    assert_eq!(hits_of(&mock, "ka"), 3, "three 500s in a row, then a cools");
    let a = account(&app, &env, "a").await;
    assert!(a["cooldown_until"].as_i64().unwrap_or_default() > actors::clock::now_ms() + 50_000, "{a}");
    assert!(a["reason"].as_str().unwrap_or_default().contains("3 upstream failures in a row"), "{a}");
    assert_eq!(a["breaker"], "closed");
    app.stop().await;
}

/// "Your account has been suspended" disables the account with that reason; it is never tried
/// again until an operator resets it. A 401 without such words only cools.
#[actix_web::test]
async fn a_ban_phrase_disables_the_account_until_a_reset() {
    let mock = MockUpstream::start().await;
    let banned =
        json!({"error": {"message": "Your account has been suspended. Contact support.", "type": "forbidden"}});
    mock.always("ka", Reply::Json { status: 403, body: banned, retry_after: None });
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka"), ("b", "kb")], "")).await;
    for _ in 0..5 {
        let r = post(&app, "/v1/chat/completions", chat("mock/mock-model", false)).await;
        assert_eq!((r.status().as_u16(), header(&r, "x-omnigate-account")), (200, "b".into()));
    }
    assert_eq!(hits_of(&mock, "ka"), 1);
    let a = account(&app, &env, "a").await;
    assert_eq!(a["disabled"], "account suspended", "{a}");
    // The reason survives in the database.
    let id = a["id"].as_i64().expect("id");
    let persisted = || async {
        use sea_orm::EntityTrait;
        entities::account_state::Entity::find_by_id(id).one(&app.state.db).await.expect("read").and_then(|r| r.disabled)
    };
    assert!(eventually(10, || async { persisted().await.as_deref() == Some("account suspended") }).await);
    // An operator's reset brings it back.
    mock.always("ka", Reply::Text("again".into()));
    let r = client()
        .post(format!("{}/api/accounts/{id}/reset", base(&app)))
        .bearer_auth(&env.admin_token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert!(eventually(10, || async { account(&app, &env, "a").await["disabled"].is_null() }).await);
    let r = post(&app, "/v1/chat/completions", chat("mock/mock-model", false)).await;
    assert_eq!(header(&r, "x-omnigate-account"), "a");
    app.stop().await;
}

/// A 404 "model not found" on one model locks that model on the account, not the account: its
/// other model is still served by it, and the locked model is not sent upstream again.
#[actix_web::test]
async fn a_404_on_one_model_locks_only_that_model() {
    let mock = MockUpstream::start().await;
    let missing = json!({"error": {"message": "The model `big-model` does not exist", "code": "model_not_found"}});
    mock.script("ka", vec![Reply::Json { status: 404, body: missing, retry_after: None }]);
    let env = TestEnv::new().await;
    let text = mock_config(&mock.base(), &[("a", "ka")], "")
        .replace("models = [\"mock-model\"]", "models = [\"mock-model\", \"big-model\"]");
    let app = env.start(&text).await;
    let mut r = post(&app, "/v1/chat/completions", chat("mock/big-model", false)).await;
    assert_eq!(r.status(), 404, "the upstream's own answer is passed on");
    let e = json_body(&mut r).await;
    assert!(e["error"]["message"].as_str().unwrap_or_default().contains("does not exist"), "{e}");
    for _ in 0..3 {
        let r = post(&app, "/v1/chat/completions", chat("mock/mock-model", false)).await;
        assert_eq!((r.status().as_u16(), header(&r, "x-omnigate-account")), (200, "a".into()));
    }
    let a = account(&app, &env, "a").await;
    assert_eq!(a["cooldown_until"], 0, "the account itself does not cool: {a}");
    let until = a["model_locks"]["big-model"].as_i64().unwrap_or_default();
    assert!(until > actors::clock::now_ms() + 250_000, "locked for the default 5 min: {a}");
    let hits = mock.hits();
    let r = post(&app, "/v1/chat/completions", chat("mock/big-model", false)).await;
    assert_eq!(r.status(), 429, "locked: refused without a request upstream");
    assert!(header(&r, "retry-after").parse::<u64>().is_ok_and(|s| s > 250));
    assert_eq!(mock.hits(), hits);
    app.stop().await;
}
