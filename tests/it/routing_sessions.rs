//! Sticky sessions through the real router and the mock: a session keeps its account under
//! round-robin while other traffic rotates, the key is echoed in `x-omnigate-session-id`, a
//! session whose account fails moves and stays on its new account, the session markers coding
//! tools send (Codex's `prompt_cache_key`) bind too, a round-robin combo keeps a session on
//! the target that served it, and a Responses API chain of `previous_response_id`s stays on the
//! account that stored it.

use serde_json::{Value, json};

use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, base, client, header, mock_config};

const ROUND_ROBIN: &str = "[routing]\nstrategy = \"round-robin\"\nsticky_limit = 1\n";

fn chat(extra: Value) -> Value {
    let mut b = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hello"}]});
    if let (Some(b), Some(e)) = (b.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    b
}

/// Sends a chat request, with `X-Session-Id` when given: `(status, account, echoed session)`.
async fn send(app: &omnigate::app::Running, session: Option<&str>, body: Value) -> (u16, String, String) {
    let mut req = client().post(format!("{}/v1/chat/completions", base(app))).bearer_auth("sk-og-ci-0001");
    if let Some(s) = session {
        req = req.insert_header(("X-Session-Id", s));
    }
    let mut r = req.send_json(&body).await.expect("send");
    let _ = r.body().await;
    (r.status().as_u16(), header(&r, "x-omnigate-account"), header(&r, "x-omnigate-session-id"))
}

#[actix_web::test]
async fn a_session_keeps_its_account_for_twenty_requests_under_round_robin() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka"), ("b", "kb"), ("c", "kc")], ROUND_ROBIN)).await;
    let mut mine = Vec::new();
    let mut others = std::collections::HashSet::new();
    for _ in 0..20 {
        let (s, account, echoed) = send(&app, Some("sess-42"), chat(json!({}))).await;
        assert_eq!((s, echoed.as_str()), (200, "sess-42"));
        mine.push(account);
        // Traffic without a session keeps rotating meanwhile.
        let (s, account, echoed) = send(&app, None, chat(json!({}))).await;
        assert_eq!((s, echoed.as_str()), (200, ""), "no session, no echo");
        others.insert(account);
    }
    assert!(mine.iter().all(|a| *a == mine[0]), "one account for the whole session: {mine:?}");
    assert_eq!(others.len(), 3, "round-robin still rotates the rest: {others:?}");
    // Another session may land elsewhere, and keeps its own account too.
    let (_, first, _) = send(&app, Some("sess-43"), chat(json!({}))).await;
    for _ in 0..5 {
        assert_eq!(send(&app, Some("sess-43"), chat(json!({}))).await.1, first);
    }
    let live = app.state.runtime.router.send(actors::router::messages::GetSessionCount).await.expect("router");
    assert_eq!(live, 2);
    assert_eq!(crate::support::admin_get(&app, &env, "/api/health").await["routing"]["sessions"], 2);
    app.stop().await;
}

#[actix_web::test]
async fn a_session_whose_account_fails_moves_and_stays_moved() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka"), ("b", "kb")], ROUND_ROBIN)).await;
    let (_, bound, _) = send(&app, Some("s"), chat(json!({}))).await;
    let key = if bound == "a" { "ka" } else { "kb" };
    mock.always(key, Reply::status(500));
    let (s, moved, _) = send(&app, Some("s"), chat(json!({}))).await;
    assert_eq!(s, 200, "the request itself is served by the other account");
    assert_ne!(moved, bound);
    // The failed account cools and heals, but the session stays where it moved.
    mock.always(key, Reply::Text("fine".into()));
    for _ in 0..5 {
        assert_eq!(send(&app, Some("s"), chat(json!({}))).await.1, moved);
    }
    app.stop().await;
}

#[actix_web::test]
async fn codex_prompt_cache_key_is_a_session_too() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka"), ("b", "kb"), ("c", "kc")], ROUND_ROBIN)).await;
    let body = chat(json!({"prompt_cache_key": "codex-conv-1"}));
    let (_, first, echoed) = send(&app, None, body.clone()).await;
    assert_eq!(echoed, "codex-conv-1");
    for _ in 0..8 {
        assert_eq!(send(&app, None, body.clone()).await.1, first);
    }
    app.stop().await;
}

/// A second provider `other` (model `o`, one account) on the same mock and a round-robin combo
/// `rr` of `mock/mock-model` and `other/o`, to append to `mock_config`.
pub(crate) fn other_and_combo(mock: &MockUpstream) -> String {
    format!(
        "\n[[providers]]\nid = \"other\"\ndialect = \"openai-chat\"\nbase_url = \"{}\"\nmodels = [\"o\"]\n\n\
         [[accounts]]\nprovider = \"other\"\nname = \"o1\"\napi_key = \"ko\"\n\n\
         [[combos]]\nname = \"rr\"\nstrategy = \"round-robin\"\nmodels = [\"mock/mock-model\", \"other/o\"]\n",
        mock.base()
    )
}

#[actix_web::test]
async fn a_session_stays_on_one_target_of_a_round_robin_combo() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&format!("{}{}", mock_config(&mock.base(), &[("a", "ka")], ""), other_and_combo(&mock))).await;
    let combo = |extra: Value| {
        let mut b = json!({"model": "rr", "messages": [{"role": "user", "content": "hello"}]});
        if let (Some(b), Some(e)) = (b.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        b
    };
    let mut providers = Vec::new();
    for _ in 0..10 {
        let mut r = client()
            .post(format!("{}/v1/chat/completions", base(&app)))
            .bearer_auth("sk-og-ci-0001")
            .insert_header(("X-Session-Id", "long-one"))
            .send_json(&combo(json!({})))
            .await
            .expect("send");
        let _ = r.body().await;
        providers.push(header(&r, "x-omnigate-provider"));
    }
    // Round-robin would alternate the ten; the session keeps the target that served it first.
    assert!(providers.iter().all(|p| *p == providers[0]), "one target for the session: {providers:?}");
    // The combo keeps rotating for requests without a session.
    let before = mock.hits();
    let _ = send(&app, None, combo(json!({}))).await;
    let _ = send(&app, None, combo(json!({}))).await;
    let rest: std::collections::HashSet<String> =
        mock.requests()[before..].iter().map(|r| r.credential().unwrap_or_default()).collect();
    assert_eq!(rest.len(), 2, "two requests without a session went to both targets: {rest:?}");
    app.stop().await;
}

/// A Responses upstream `mock` with three accounts under round-robin; each account answers with
/// response ids of its own (`resp_<credential>`), streamed or not.
fn responses_world(mock: &MockUpstream) -> String {
    for k in ["ka", "kb", "kc"] {
        let whole = crate::mock::fixture("openai-responses", "response_text.json")
            .replace("resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b", &format!("resp_{k}"));
        let frames = crate::mock::sse_events(
            &crate::mock::fixture("openai-responses", "stream_text.sse")
                .replace("resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654", &format!("resp_{k}")),
        );
        let body: Value = serde_json::from_str(&whole).expect("fixture");
        let whole = Box::new(Reply::Json { status: 200, body, retry_after: None });
        let zero = std::time::Duration::ZERO;
        let streamed = Box::new(Reply::Sse { frames, first_delay: zero, delay: zero, drop_after: None });
        mock.always(k, Reply::ByStream { whole, streamed });
    }
    mock_config(&mock.base(), &[("a", "ka"), ("b", "kb"), ("c", "kc")], ROUND_ROBIN)
        .replace("dialect = \"openai-chat\"", "dialect = \"openai-responses\"")
}

/// Sends a Responses request continuing `previous` (if any): `(account, response id, echoed session)`.
async fn respond(app: &omnigate::app::Running, previous: Option<&str>, stream: bool) -> (String, String, String) {
    let mut body = json!({"model": "mock/mock-model", "input": "hello", "stream": stream});
    if let Some(p) = previous {
        body["previous_response_id"] = json!(p);
    }
    let mut r = client()
        .post(format!("{}/v1/responses", base(app)))
        .bearer_auth("sk-og-ci-0001")
        .send_json(&body)
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let text = String::from_utf8_lossy(&r.body().limit(1 << 20).await.expect("body")).into_owned();
    let id = text.split("\"id\":").nth(1).map(|s| s.trim_start().trim_start_matches('"')).unwrap_or_default();
    let id = id.split('"').next().unwrap_or_default().to_string();
    (header(&r, "x-omnigate-account"), id, header(&r, "x-omnigate-session-id"))
}

#[actix_web::test]
async fn a_responses_chain_of_previous_response_ids_stays_on_the_account_that_stored_it() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&responses_world(&mock)).await;
    // Two chains started side by side under round-robin land on different accounts...
    let (first_a, mut prev_a, session_a) = respond(&app, None, false).await;
    let (first_b, mut prev_b, session_b) = respond(&app, None, true).await;
    assert_ne!(first_a, first_b, "round-robin spreads chains");
    assert!(session_a.starts_with("chain-") && session_a != session_b, "{session_a} {session_b}");
    assert_eq!(prev_a, format!("resp_k{first_a}"), "the upstream's own id reaches the client");
    // ...and each continuation follows its chain, streamed or not, while other traffic rotates.
    for i in 0..8 {
        let (account, id, echoed) = respond(&app, Some(&prev_a), i % 2 == 0).await;
        assert_eq!((account.as_str(), echoed.as_str()), (first_a.as_str(), session_a.as_str()), "turn {i}");
        prev_a = id;
        let (account, id, _) = respond(&app, Some(&prev_b), i % 2 == 1).await;
        assert_eq!(account, first_b, "turn {i}");
        prev_b = id;
        let _ = send(&app, None, chat(json!({}))).await;
    }
    app.stop().await;
}
