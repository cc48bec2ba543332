//! Context-aware fallback through the real daemon and the mock: a request estimated larger than
//! a target's context window skips it before anything is sent, a combo goes on to a target with
//! a larger window, and a request no target can hold is a clear 400 in the caller's dialect.

use serde_json::{Value, json};

use crate::mock::MockUpstream;
use crate::support::{TestEnv, json_body, mock_config, post};

const EXTRA: &str = r#"
[[providers]]
id = "sized"
dialect = "openai-chat"
base_url = "BASE"
models = [{ id = "small", context = 1000 }, { id = "big", context = 200000, price = [1.0, 2.0] }]

[[accounts]]
provider = "sized"
name = "s1"
api_key = "ks"

[[combos]]
name = "grow"
models = ["sized/small", "sized/big"]
"#;

fn chat(model: &str, words: usize) -> Value {
    let text = "lorem ipsum dolor sit amet ".repeat(words / 5);
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

#[actix_web::test]
async fn a_request_too_big_for_a_target_skips_it_and_none_fitting_is_a_clear_400() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let cfg = format!("{}\n{}", mock_config(&mock.base(), &[("a", "ka")], ""), EXTRA.replace("BASE", &mock.base()));
    let app = env.start(&cfg).await;
    let sent =
        || mock.requests().iter().map(|r| r.body["model"].as_str().unwrap_or_default().to_string()).collect::<Vec<_>>();
    // A small request goes to the first target.
    assert_eq!(post(&app, "/v1/chat/completions", chat("grow", 50)).await.status(), 200);
    assert_eq!(sent(), vec!["small"]);
    // ~5,000 tokens: the 1,000-token model is skipped before sending, the big one serves.
    let r = post(&app, "/v1/chat/completions", chat("grow", 4_000)).await;
    assert_eq!((r.status().as_u16(), crate::support::header(&r, "x-omnigate-attempts")), (200, "1".into()));
    assert_eq!(sent(), vec!["small", "big"], "the small target never saw it");
    // Asked for the small model alone: a 400 that says why, nothing sent.
    let mut r = post(&app, "/v1/chat/completions", chat("sized/small", 4_000)).await;
    assert_eq!(r.status(), 400);
    let e = json_body(&mut r).await;
    let msg = e["error"]["message"].as_str().unwrap_or_default().to_string();
    assert!(msg.contains("context window of sized/small (1000)") && msg.contains("input tokens"), "{e}");
    assert_eq!(mock.hits(), 2);
    app.stop().await;
}

#[actix_web::test]
async fn an_upstream_context_length_error_moves_on_to_the_next_target() {
    let mock = MockUpstream::start().await;
    mock.always(
        "kt",
        crate::mock::Reply::Json {
            status: 400,
            body: json!({"error": {"message": "This model's maximum context length is 8192 tokens", "code": "context_length_exceeded"}}),
            retry_after: None,
        },
    );
    let env = TestEnv::new().await;
    let tiny = "\n[[providers]]\nid = \"tiny\"\ndialect = \"openai-chat\"\nbase_url = \"BASE\"\nmodels = [\"t\"]\n\n\
                [[accounts]]\nprovider = \"tiny\"\nname = \"t1\"\napi_key = \"kt\"\n\n\
                [[combos]]\nname = \"spill\"\nmodels = [\"tiny/t\", \"sized/big\"]\n";
    let cfg = format!(
        "{}\n{}{}",
        mock_config(&mock.base(), &[("a", "ka")], ""),
        EXTRA.replace("BASE", &mock.base()),
        tiny.replace("BASE", &mock.base())
    );
    let app = env.start(&cfg).await;
    let r = post(&app, "/v1/chat/completions", chat("spill", 50)).await;
    assert_eq!((r.status().as_u16(), crate::support::header(&r, "x-omnigate-attempts")), (200, "2".into()));
    let models: Vec<Value> = mock.requests().iter().map(|q| q.body["model"].clone()).collect();
    assert_eq!(models, vec![json!("t"), json!("big")]);
    app.stop().await;
}
