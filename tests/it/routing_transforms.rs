//! Request transforms through the real daemon and the mock: fields set and removed, output capped,
//! a system prompt injected and a header set on the upstream request, for the provider, model or
//! combo they name only, on passed-through and translated requests alike, and named in
//! `x-omnigate-transforms`.

use serde_json::json;

use crate::mock::MockUpstream;
use crate::support::{TestEnv, base, client, header, mock_config, post};

const EXTRA: &str = r#"
[[combos]]
name = "team"
models = ["mock/mock-model"]

[[transforms]]
name = "house-style"
provider = "mock"
model = "mock-*"
set = { temperature = 0.1 }
remove = ["top_p"]
max_tokens = 50
system = "Be brief."
headers = { "X-Team" = "blue" }

[[transforms]]
name = "team-only"
combo = "team"
set = { user = "team" }
"#;

#[actix_web::test]
async fn transforms_edit_the_upstream_request_of_what_they_match_only() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&format!("{}\n{EXTRA}", mock_config(&mock.base(), &[("a", "ka")], ""))).await;
    let body = json!({"model": "mock/mock-model", "max_tokens": 1000, "top_p": 0.5,
                      "messages": [{"role": "user", "content": "hi"}]});
    let r = post(&app, "/v1/chat/completions", body).await;
    assert_eq!((r.status().as_u16(), header(&r, "x-omnigate-transforms")), (200, "house-style".into()));
    let sent = mock.requests().last().cloned().expect("sent");
    assert_eq!(sent.body["temperature"], 0.1);
    assert_eq!(sent.body["max_tokens"], 50);
    assert!(sent.body.get("top_p").is_none());
    assert!(sent.body.get("user").is_none(), "the combo's transform is not for direct requests");
    assert_eq!(sent.body["messages"][0], json!({"role": "system", "content": "Be brief."}));
    assert_eq!(sent.headers.get("x-team").map(String::as_str), Some("blue"));

    // Through the combo both apply, in order.
    let r =
        post(&app, "/v1/chat/completions", json!({"model": "team", "messages": [{"role": "user", "content": "hi"}]}))
            .await;
    assert_eq!(header(&r, "x-omnigate-transforms"), "house-style,team-only");
    assert_eq!(mock.requests().last().map(|q| q.body["user"].clone()), Some(json!("team")));

    // A translated request (Anthropic client, OpenAI upstream) gets the same edits.
    let r = client()
        .post(format!("{}/v1/messages", base(&app)))
        .insert_header(("x-api-key", "sk-og-ci-0001"))
        .insert_header(("anthropic-version", "2023-06-01"))
        .send_json(&json!({"model": "mock/mock-model", "max_tokens": 4000, "system": "You are a cat.",
                           "messages": [{"role": "user", "content": "hi"}]}))
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let sent = mock.requests().last().cloned().expect("sent");
    let limit = sent.body.get("max_completion_tokens").or_else(|| sent.body.get("max_tokens")).cloned();
    assert_eq!(limit, Some(json!(50)), "{}", sent.body);
    assert_eq!(sent.body["messages"][0], json!({"role": "system", "content": "Be brief."}), "{}", sent.body);
    app.stop().await;
}
