//! The token lifecycle per provider: a request with a valid token (the mock upstream refuses
//! anything its endpoint would), proactive refresh, one refresh for 50 concurrent requests, a
//! 401 answered by one refresh and one retry on the same account, `invalid_grant` disabling the
//! account with its reason, refreshed tokens surviving a restart with the same config, and no
//! token in logs, answers or the database.

use sea_orm::EntityTrait;
use serde_json::json;

use super::{Sub, World, api_account, chat, logs};
use crate::mock::Reply;
use crate::mock::oauth::RefreshAnswer;
use crate::per_provider;
use crate::support::{self, eventually};

/// Unique seed tokens for one test: (access, refresh).
fn seed(s: Sub) -> (String, String) {
    let u = uuid::Uuid::new_v4().simple().to_string();
    match s.prefix {
        // A Copilot token (what the chat API takes) and a GitHub token (what is exchanged).
        "gh" => (format!("tid=seed{u};exp=0;sku=monthly_subscriber"), format!("gho_seed{u}")),
        p => (format!("{p}-seed-at-{u}"), format!("{p}-seed-rt-{u}")),
    }
}

async fn valid_token_request(s: Sub) {
    let w = World::new().await;
    let (at, rt) = seed(s);
    let app = w.start(&w.config("", &w.account(s, "main", &at, &rt, 3_600_000))).await;
    let (status, text, account) = chat(&app, s, false).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(account, "main");
    assert!(text.contains("\"content\""), "{text}");
    let (status, text, _) = chat(&app, s, true).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("data: [DONE]"), "{text}");
    let calls = w.upstream_calls(s);
    assert_eq!(calls.len(), 2, "{:?}", calls.iter().map(|c| &c.path).collect::<Vec<_>>());
    for c in &calls {
        assert_eq!(c.credential().as_deref(), Some(at.as_str()), "{}", c.path);
    }
    assert_eq!(w.oauth.refreshes(), 0, "a valid token is not refreshed");
    app.stop().await;
}
per_provider!(valid_token_request);

async fn proactive_refresh(s: Sub) {
    let w = World::new().await;
    let (at, rt) = seed(s);
    // A 4 s token: due half-way through its life; the refresher's timer goes before any request.
    let app = w.start(&w.config("", &w.account(s, "main", &at, &rt, 4_000))).await;
    assert!(eventually(15, || async { w.oauth.refreshes() == 1 }).await, "refreshed ahead of expiry");
    let fresh = w.oauth.issued().last().cloned().expect("a token was issued");
    // The new token is saved and in force before the old one expires.
    assert!(eventually(10, || async { chat(&app, s, false).await.0 == 200 }).await);
    let last = w.upstream_calls(s).last().and_then(|c| c.credential()).expect("a call");
    assert_eq!(last, fresh);
    assert_eq!(w.oauth.refreshes(), 1);
    app.stop().await;
}
per_provider!(proactive_refresh);

async fn single_flight(s: Sub) {
    let w = World::new().await;
    let (at, rt) = seed(s);
    w.oauth.state.refresh_delay_ms.store(300, std::sync::atomic::Ordering::SeqCst);
    let app = w.start(&w.config("", &w.account(s, "main", &at, &rt, -60_000))).await;
    let calls: Vec<_> = (0..50).map(|_| chat(&app, s, false)).collect();
    for (status, text, _) in futures_util::future::join_all(calls).await {
        assert_eq!(status, 200, "{text}");
    }
    assert_eq!(w.oauth.refreshes(), 1, "exactly one refresh call for 50 requests");
    let fresh = w.oauth.issued().last().cloned().expect("issued");
    assert!(w.upstream_calls(s).iter().all(|c| c.credential().as_deref() == Some(fresh.as_str())));
    app.stop().await;
}
per_provider!(single_flight);

async fn refresh_on_401_then_retry(s: Sub) {
    let w = World::new().await;
    let (at, rt) = seed(s);
    w.upstream.always(&at, Reply::status(401));
    let app = w.start(&w.config("", &w.account(s, "main", &at, &rt, 3_600_000))).await;
    let body = json!({"model": format!("{}/{}", s.prefix, s.model), "messages": [{"role": "user", "content": "hi"}]});
    let mut r = support::post(&app, "/v1/chat/completions", body).await;
    let text = support::text_body(&mut r).await;
    assert_eq!(r.status(), 200, "{text}");
    assert_eq!(support::header(&r, "x-omnigate-attempts"), "2");
    assert_eq!(support::header(&r, "x-omnigate-account"), "main");
    assert_eq!(w.oauth.refreshes(), 1);
    let creds: Vec<String> = w.upstream_calls(s).iter().filter_map(|c| c.credential()).collect();
    let fresh = w.oauth.issued().last().cloned().expect("issued");
    assert_eq!(creds, vec![at.clone(), fresh], "the same request, retried with the refreshed token");
    // The account was not cooled down by the first 401.
    let a = api_account(&app, &w.env, "main").await;
    assert_eq!(a["cooldown_until"], 0, "{a}");
    assert_eq!(a["subscription"]["status"], "ok", "{a}");
    app.stop().await;
}
per_provider!(refresh_on_401_then_retry);

async fn invalid_grant_disables_with_reason(s: Sub) {
    let w = World::new().await;
    let (at, rt) = seed(s);
    let text = w.config("", &w.account(s, "main", &at, &rt, -60_000));
    w.oauth.revoke_all();
    let app = w.start(&text).await;
    let (status, body, _) = chat(&app, s, false).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("main") && body.contains("invalid_grant"), "{body}");
    assert!(
        eventually(10, || async {
            let a = api_account(&app, &w.env, "main").await;
            a["enabled"] == false && a["subscription"]["status"] == "disabled"
        })
        .await
    );
    let a = api_account(&app, &w.env, "main").await;
    let reason = a["subscription"]["reason"].as_str().unwrap_or_default().to_string();
    assert!(reason.contains("invalid_grant"), "{a}");
    let row = entities::account::Entity::find().all(&app.state.db).await.expect("rows");
    assert!(row.iter().all(|r| !r.enabled), "disabled in the database too");
    assert_eq!(w.oauth.refreshes(), 1, "a dead account is not refreshed again");
    // Once it is switched off, the answer still says why and what to do (not "switched off by an
    // operator"): the refresher may find the grant dead before the first request does.
    let (status, body, _) = chat(&app, s, false).await;
    assert_eq!(status, 503);
    assert!(body.contains("main") && body.contains("invalid_grant") && body.contains("sign in again"), "{body}");
    assert_eq!(w.oauth.refreshes(), 1);
    app.stop().await;
}
per_provider!(invalid_grant_disables_with_reason);

async fn restart_keeps_refreshed_tokens(s: Sub) {
    let w = World::new().await;
    let (at, rt) = seed(s);
    let text = w.config("", &w.account(s, "main", &at, &rt, -60_000));
    let app = w.start(&text).await;
    assert_eq!(chat(&app, s, false).await.0, 200);
    assert_eq!(w.oauth.refreshes(), 1);
    let fresh = w.oauth.issued().last().cloned().expect("issued");
    app.stop().await;
    // The same config again: its seed is unchanged, so the refreshed tokens stay.
    let app = w.start(&text).await;
    let (status, body, _) = chat(&app, s, false).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(w.oauth.refreshes(), 1, "no refresh after the restart (the seed's refresh token is spent)");
    assert_eq!(w.upstream_calls(s).last().and_then(|c| c.credential()), Some(fresh));
    app.stop().await;
    // A changed seed replaces them.
    let (at2, rt2) = seed(s);
    let app = w.start(&w.config("", &w.account(s, "main", &at2, &rt2, 3_600_000))).await;
    assert_eq!(chat(&app, s, false).await.0, 200);
    assert_eq!(w.upstream_calls(s).last().and_then(|c| c.credential()), Some(at2));
    app.stop().await;
}
per_provider!(restart_keeps_refreshed_tokens);

async fn no_token_in_logs_answers_or_database(s: Sub) {
    let w = World::new().await;
    let (at, rt) = seed(s);
    let app = w.start(&w.config("", &w.account(s, "main", &at, &rt, 3_600_000))).await;
    let body = json!({"model": format!("{}/{}", s.prefix, s.model), "messages": [{"role": "user", "content": "hi"}]});
    // An upstream that quotes the token in a refusal of the request: its words reach the client
    // with the token masked.
    w.upstream.always_prefix(&format!("/{}", s.prefix), Reply::EchoAuth(400));
    let mut r = support::post(&app, "/v1/chat/completions", body.clone()).await;
    let refused = support::text_body(&mut r).await;
    assert_eq!(r.status(), 400, "{refused}");
    assert!(refused.contains("token *** is not valid"), "the upstream's words, redacted: {refused}");
    // Then it refuses every token (401), quoting it: after one refresh and retry the account is
    // cooled down and needs a new sign-in.
    w.upstream.always_prefix(&format!("/{}", s.prefix), Reply::EchoAuth(401));
    let mut r = support::post(&app, "/v1/chat/completions", body).await;
    let answer = support::text_body(&mut r).await;
    // Retrying will not help: a 503 without Retry-After that says what to do.
    assert_eq!(r.status(), 503, "{answer}");
    assert!(answer.contains("refused the credentials") && answer.contains("sign in again"), "{answer}");
    assert_eq!(w.oauth.refreshes(), 1);
    assert!(
        eventually(10, || async {
            let a = api_account(&app, &w.env, "main").await;
            a["subscription"]["status"] == "reauth_required" && a["cooldown_until"].as_i64().unwrap_or(0) > 0
        })
        .await,
        "cooled down and marked after the second 401"
    );
    let mut secrets: Vec<String> = vec![at.clone(), rt.clone()];
    secrets.extend(w.oauth.issued());
    secrets.extend(w.oauth.live_refresh_tokens());
    assert!(secrets.len() >= 3);
    let api = support::admin_get(&app, &w.env, "/api/accounts").await.to_string();
    let sessions = entities::oauth_session::Entity::find().all(&app.state.db).await.expect("sessions");
    let accounts = entities::account::Entity::find().all(&app.state.db).await.expect("accounts");
    let db = format!("{sessions:?}{accounts:?}");
    let log = logs().text();
    for t in &secrets {
        assert!(!answer.contains(t.as_str()) && !refused.contains(t.as_str()), "token in the client's error: {answer}");
        assert!(!api.contains(t.as_str()), "token in /api/accounts");
        assert!(!db.contains(t.as_str()), "token in the database in clear");
        assert!(!log.contains(t.as_str()), "token in the logs");
    }
    app.stop().await;
}
per_provider!(no_token_in_logs_answers_or_database);

/// A refresh that fails for a passing reason (the token endpoint answers 503) leaves the account
/// enabled and signed in; requests meanwhile are told at once (no refresh per request), and the
/// refresher tries again after its backoff, after which the account serves.
#[actix_rt::test]
async fn a_transient_refresh_failure_backs_off_then_recovers() {
    let s = super::CC;
    let w = World::new().await;
    let (at, rt) = seed(s);
    w.oauth.script_refresh(vec![RefreshAnswer::Unavailable]);
    let app = w.start(&w.config("", &w.account(s, "main", &at, &rt, -60_000))).await;
    let (status, body, _) = chat(&app, s, false).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(w.oauth.refreshes(), 1);
    for _ in 0..5 {
        assert_eq!(chat(&app, s, false).await.0, 503);
    }
    assert_eq!(w.oauth.refreshes(), 1, "requests during the backoff do not hammer the token endpoint");
    let a = api_account(&app, &w.env, "main").await;
    assert_eq!((a["enabled"].as_bool(), a["subscription"]["status"].as_str()), (Some(true), Some("ok")), "{a}");
    assert_eq!(a["subscription"]["refresher"]["phase"], "backoff", "{a}");
    assert!(a["subscription"]["refresher"]["retry_at"].as_i64().unwrap_or(0) > omnigate::store::now_ms(), "{a}");
    // The backoff's first step is 5 s; then the refresher retries by itself.
    let back = eventually(20, || async { chat(&app, s, false).await.0 == 200 }).await;
    assert!(back, "the account serves once the token endpoint is back");
    assert_eq!(w.oauth.refreshes(), 2);
    app.stop().await;
}

/// A deleted account's refresher stops for good: its timer would otherwise keep it alive,
/// refreshing (and rotating) tokens nobody uses any more.
#[actix_rt::test]
async fn a_deleted_account_is_never_refreshed_again() {
    let s = super::CC;
    let w = World::new().await;
    // Tokens of 4 s: the refresher's timer is due half-way through.
    w.oauth.state.lifetime_secs.store(4, std::sync::atomic::Ordering::SeqCst);
    let app = w.start(&w.config("", "")).await;
    let base = support::base(&app);
    let (path, refresh) = super::flows::fixture(s);
    w.oauth.grant_refresh(refresh);
    let creds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    let mut ep = super::flows::endpoints(&w, s);
    ep.redirect_uri = None;
    let body = json!({"credentials": creds, "name": "gone", "base_url": w.base_url(s), "endpoints": ep});
    let c = support::client();
    let mut r = c
        .post(format!("{base}/api/oauth/claude-code/import"))
        .bearer_auth(&w.env.admin_token)
        .send_json(&body)
        .await
        .expect("sent");
    let acc = support::json_body(&mut r).await;
    assert_eq!(r.status(), 201, "{acc}");
    assert_eq!(w.oauth.refreshes(), 1, "the import checked the refresh token");
    let id = acc["id"].as_i64().expect("id");
    let r = c.delete(format!("{base}/api/accounts/{id}")).bearer_auth(&w.env.admin_token).send().await.expect("sent");
    assert!(r.status().is_success(), "{}", r.status());
    actix_rt::time::sleep(std::time::Duration::from_secs(5)).await;
    assert_eq!(w.oauth.refreshes(), 1, "no refresh for a deleted account");
    // Its sealed tokens went with it.
    let sessions = entities::oauth_session::Entity::find().all(&app.state.db).await.expect("sessions");
    assert!(sessions.iter().all(|r| r.account_id != id), "the deleted account's session row is gone");
    app.stop().await;
}

/// A subscription account's stream that breaks mid-answer is continued by the next target of a
/// `resume = true` combo, in the same client stream (dressing the subscription's call once lost
/// the hand-back, and the client got an error instead).
#[actix_rt::test]
async fn a_subscription_stream_that_breaks_is_resumed_by_the_combos_next_target() {
    use crate::mock::{fixture, sse_events};
    let w = World::new().await;
    let (at, rt) = seed(super::CC);
    let api = format!("http://{}/v1", w.upstream.addr);
    let extra = format!(
        "[[providers]]\nid = \"backup\"\ndialect = \"openai-chat\"\nbase_url = \"{api}\"\nmodels = [\"b\"]\n\n\
         [[accounts]]\nprovider = \"backup\"\nname = \"key\"\napi_key = \"kb\"\n\n\
         [[combos]]\nname = \"coding\"\nstrategy = \"priority\"\nresume = true\n\
         models = [\"claude-code/claude-sonnet-4-5\", \"backup/b\"]\n"
    );
    // The subscription streams "Paris has about 2.1 million" and the connection drops.
    let frames = sse_events(&fixture("anthropic", "stream_text.sse"));
    w.upstream.script(
        &at,
        vec![Reply::Sse {
            frames,
            first_delay: std::time::Duration::ZERO,
            delay: std::time::Duration::from_millis(10),
            drop_after: Some(5),
        }],
    );
    w.upstream.always("kb", Reply::Text(" inhabitants.".into()));
    let text = format!("{}{extra}", w.config("", &w.account(super::CC, "sub", &at, &rt, 3_600_000)));
    let app = w.start(&text).await;
    let body = json!({"model": "coding", "stream": true, "max_tokens": 64,
                      "messages": [{"role": "user", "content": "How many people live in Paris?"}]});
    let mut r = support::post(&app, "/v1/chat/completions", body).await;
    assert_eq!(r.status(), 200);
    let out = support::text_body(&mut r).await;
    assert!(out.contains("Paris has") && out.contains(" about 2.1 million") && out.contains(" inhabitants."), "{out}");
    assert!(out.trim_end().ends_with("data: [DONE]") && !out.contains("\"error\""), "one clean answer: {out}");
    assert_eq!(
        w.upstream.requests().iter().filter(|r| r.credential().as_deref() == Some("kb")).count(),
        1,
        "continued once"
    );
    app.stop().await;
}
