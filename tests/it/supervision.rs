//! Supervision of the account and breaker actors: a panic inside their state machine (injected
//! through the fault-injection hook, after it scrambled the in-memory state) restarts the actor
//! from its persisted state, and routing carries on as before.

use actors::account::messages::{AccountOutcome, GetAccount, InjectPanic as AccountPanic};
use actors::breaker::BreakerPhase;
use actors::breaker::messages::{BreakerOutcome, GetBreaker, InjectPanic as BreakerPanic};
use actors::outcome::OutcomeKind;
use omnigate::app::Running;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, admin_get, base, client, eventually, header, json_body, mock_config, post};

fn chat() -> Value {
    json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hello"}]})
}

async fn account(app: &Running, env: &TestEnv, name: &str) -> Value {
    let v = admin_get(app, env, "/api/accounts").await;
    v["accounts"].as_array().expect("accounts").iter().find(|a| a["name"] == name).cloned().expect("account listed")
}

async fn admin_post(app: &Running, env: &TestEnv, path: &str) -> u16 {
    let r = client().post(format!("{}{path}", base(app))).bearer_auth(&env.admin_token).send().await.expect("send");
    r.status().as_u16()
}

fn hits_of(mock: &MockUpstream, credential: &str) -> usize {
    mock.requests().iter().filter(|r| r.credential().as_deref() == Some(credential)).count()
}

#[actix_web::test]
async fn a_panicking_account_actor_restarts_with_its_persisted_cooldown_and_routing_goes_on() {
    let mock = MockUpstream::start().await;
    mock.always("ka", Reply::rate_limited("120"));
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka"), ("b", "kb")], "")).await;
    let r = post(&app, "/v1/chat/completions", chat()).await;
    assert_eq!((r.status().as_u16(), header(&r, "x-omnigate-account")), (200, "b".into()));
    let a = account(&app, &env, "a").await;
    let (id, until) = (a["id"].as_i64().expect("id"), a["cooldown_until"].as_i64().expect("cooldown"));
    assert!(until > actors::clock::now_ms() + 100_000, "cooling for Retry-After 120 s: {a}");
    let persisted = || async {
        entities::account_state::Entity::find_by_id(id)
            .one(&app.state.db)
            .await
            .expect("read")
            .map(|r| r.cooldown_until)
    };
    assert!(eventually(10, || async { persisted().await == Some(until) }).await, "the cooldown is persisted");

    // The next outcome panics inside the state machine after wiping the cooldown in memory.
    let addr = app.state.runtime.account_actor(id).expect("account actor");
    addr.send(AccountPanic).await.expect("hook armed");
    addr.do_send(AccountOutcome { kind: OutcomeKind::ServerError, model: "mock-model".into() });
    // Caught, stopped, restarted by its supervisor, reloaded: the cooldown is back to the millisecond.
    let h = addr.send(GetAccount).await.expect("the restarted actor answers");
    assert_eq!((h.cooldown_until, h.backoff_level, h.reason.as_deref()), (until, 1, Some("rate limited (429)")));

    // Routing goes on: a is still skipped, b serves at the first attempt.
    for _ in 0..3 {
        let r = post(&app, "/v1/chat/completions", chat()).await;
        assert_eq!(
            (r.status().as_u16(), header(&r, "x-omnigate-account"), header(&r, "x-omnigate-attempts")),
            (200, "b".into(), "1".into())
        );
    }
    assert_eq!(hits_of(&mock, "ka"), 1, "the cooling account was not tried again");
    assert_eq!(account(&app, &env, "a").await["cooldown_until"].as_i64(), Some(until));

    // The restarted actor still hears its messages: an operator's reset brings a back.
    mock.always("ka", Reply::Text("from a".into()));
    assert_eq!(admin_post(&app, &env, &format!("/api/accounts/{id}/reset")).await, 200);
    assert!(eventually(10, || async { account(&app, &env, "a").await["cooldown_until"] == 0 }).await);
    let mut r = post(&app, "/v1/chat/completions", chat()).await;
    assert_eq!(header(&r, "x-omnigate-account"), "a");
    assert_eq!(json_body(&mut r).await["choices"][0]["message"]["content"], "from a");
    app.stop().await;
}

#[actix_web::test]
async fn a_panicking_breaker_actor_restarts_still_open_and_keeps_the_upstream_shielded() {
    let mock = MockUpstream::start().await;
    mock.always("ka", Reply::status(500));
    let env = TestEnv::new().await;
    let extra = "[resilience]\nbreaker_threshold = 2\nbreaker_open_ms = 60000\n";
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], extra)).await;
    for _ in 0..2 {
        assert_eq!(post(&app, "/v1/chat/completions", chat()).await.status(), 502);
    }
    assert!(eventually(10, || async { account(&app, &env, "a").await["breaker"] == "open" }).await);
    let open_until = account(&app, &env, "a").await["breaker_open_until"].as_i64().expect("open until");
    let persisted = || async {
        entities::breaker_state::Entity::find_by_id("mock".to_string())
            .one(&app.state.db)
            .await
            .expect("read")
            .map(|r| (r.state, r.open_until))
    };
    assert!(
        eventually(10, || async { persisted().await == Some(("open".into(), open_until)) }).await,
        "the open breaker is persisted"
    );

    let addr = app.state.runtime.breaker_actor("mock").expect("breaker actor");
    addr.send(BreakerPanic).await.expect("hook armed");
    addr.do_send(BreakerOutcome { kind: OutcomeKind::ServerError, streak: 0, probe: false });
    let b = addr.send(GetBreaker).await.expect("the restarted actor answers");
    assert_eq!((b.phase, b.open_until, b.trips), (BreakerPhase::Open, open_until, 1));

    // Still open: refused with 503 and a Retry-After, the upstream untouched.
    let hits = mock.hits();
    let r = post(&app, "/v1/chat/completions", chat()).await;
    assert_eq!(r.status(), 503);
    let ra: u64 = header(&r, "retry-after").parse().expect("Retry-After");
    assert!((50..=60).contains(&ra), "{ra}");
    assert_eq!(mock.hits(), hits);

    // The restarted breaker hears the operator's reset; traffic flows again.
    mock.always("ka", Reply::Text("back".into()));
    assert_eq!(admin_post(&app, &env, "/api/providers/mock/reset-breaker").await, 200);
    assert!(eventually(10, || async { account(&app, &env, "a").await["breaker"] == "closed" }).await);
    let mut r = post(&app, "/v1/chat/completions", chat()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json_body(&mut r).await["choices"][0]["message"]["content"], "back");
    app.stop().await;
}
