//! The admin API's providers, live: a custom provider made, served (with an account) through
//! `/v1`, moved to another upstream, and deleted without a restart; built-in and config ones
//! read-only; bad input named; cross-origin writes refused on every write route.

use awc::http::Method;
use omnigate::runtime::ReloadReport;
use serde_json::{Value, json};

use crate::admin_write_support::{
    audit, audited, call, chat_ci, delete_api, get_api, param_of, patch_api, post_api, session_cookie,
};
use crate::mock::MockUpstream;
use crate::support::{TestEnv, base, client, mock_config};

fn provider(id: &str, base_url: &str) -> Value {
    json!({"id": id, "dialect": "openai-chat", "base_url": base_url,
           "models": ["m2", {"id": "m3", "max_output": 100, "price": [1.0, 2.0]}]})
}

#[actix_web::test]
async fn admin_providers_are_made_served_moved_and_deleted_live() {
    let (mock, mock2) = (MockUpstream::start().await, MockUpstream::start().await);
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    assert_eq!(chat_ci(&app, "p2/m2").await.0, 404, "unknown before it is made");

    let (s, v) = post_api(&app, &env, "/api/providers", provider("p2", &mock.base())).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["source"].as_str(), v["builtin"].as_bool(), v["auth"].as_str()),
        (Some("api"), Some(false), Some("bearer"))
    );
    assert_eq!(v["models"], json!(["m2", {"id": "m3", "max_output": 100, "price": [1.0, 2.0]}]));
    assert_eq!(chat_ci(&app, "p2/m2").await.0, 503, "known, but no account yet");
    let (s, v) =
        post_api(&app, &env, "/api/accounts", json!({"provider": "p2", "name": "p2-a", "api_key": "kp2-0001"})).await;
    assert_eq!(s, 201, "{v}");
    let account = v["id"].as_i64().expect("id");
    let (s, acc, body) = chat_ci(&app, "p2/m3").await;
    assert_eq!((s, acc.as_str()), (200, "p2-a"), "{body}");
    let seen = mock.requests().last().cloned().expect("recorded");
    assert_eq!((seen.credential().as_deref(), seen.body["model"].as_str()), (Some("kp2-0001"), Some("m3")));
    assert!(app.state.runtime.breaker_actor("p2").is_some(), "a breaker for the new provider");
    // The reload the change ran is idempotent: another one (the change feed's) finds nothing to do.
    assert_eq!(app.state.runtime.reload().await.expect("reload"), ReloadReport::default());
    assert_eq!(chat_ci(&app, "p2/m3").await.1, "p2-a");
    let listed = get_api(&app, &env, "/api/providers/p2").await.1;
    assert_eq!(listed["accounts"], 1, "{listed}");

    // Moved to another upstream, with a strategy: the next request goes there.
    let (s, v) =
        patch_api(&app, &env, "/api/providers/p2", json!({"base_url": mock2.base(), "strategy": "round-robin"})).await;
    assert_eq!((s, v["strategy"].as_str()), (200, Some("round-robin")), "{v}");
    assert_eq!(v["models"].as_array().map(Vec::len), Some(2), "fields not in the patch stay");
    let hits = mock.hits();
    assert_eq!(chat_ci(&app, "p2/m2").await.0, 200);
    assert_eq!((mock.hits(), mock2.hits()), (hits, 1), "served by the new base URL");
    let (s, v) = patch_api(&app, &env, "/api/providers/p2", json!({"strategy": null})).await;
    assert_eq!((s, v["strategy"].clone()), (200, Value::Null), "null restores the default");

    // Deleted: refused while it has an account, then gone.
    let (s, v) = delete_api(&app, &env, "/api/providers/p2").await;
    assert_eq!(s, 409, "{v}");
    assert!(v["error"]["message"].as_str().unwrap_or_default().contains("p2-a"), "{v}");
    assert_eq!(delete_api(&app, &env, &format!("/api/accounts/{account}")).await.0, 200);
    assert_eq!(delete_api(&app, &env, "/api/providers/p2").await.0, 200);
    assert_eq!(chat_ci(&app, "p2/m2").await.0, 404);
    assert_eq!(get_api(&app, &env, "/api/providers/p2").await.0, 404);
    assert!(app.state.runtime.breaker_actor("p2").is_none(), "its breaker is let go");
    for action in ["create", "update", "delete"] {
        assert!(audited(&app, &env, "provider", "p2", action).await, "audit row for {action}");
    }
    app.stop().await;
}

#[actix_web::test]
async fn admin_builtin_and_config_providers_are_read_only_and_bad_input_is_named() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let (s, all) = get_api(&app, &env, "/api/providers").await;
    assert_eq!(s, 200);
    let find = |id: &str| all.as_array().and_then(|a| a.iter().find(|p| p["id"] == id)).cloned().unwrap_or_default();
    assert_eq!((find("openai")["builtin"].as_bool(), find("openai")["source"].as_str()), (Some(true), Some("builtin")));
    assert_eq!((find("mock")["builtin"].as_bool(), find("mock")["source"].as_str()), (Some(false), Some("config")));
    assert_eq!(find("mock")["accounts"], 1);
    assert_eq!(get_api(&app, &env, "/api/providers/openai").await.1["builtin"], true);

    for (method, path) in [(Method::PATCH, "/api/providers/openai"), (Method::DELETE, "/api/providers/openai")] {
        let body = (method == Method::PATCH).then(|| json!({"base_url": "http://x.example"}));
        let (s, v) = call(&app, &env, method, path, body).await;
        assert_eq!(s, 409, "{v}");
        assert!(v["error"]["message"].as_str().unwrap_or_default().contains("built-in"), "{v}");
    }
    assert_eq!(post_api(&app, &env, "/api/providers", provider("openai", &mock.base())).await.0, 409);
    assert_eq!(post_api(&app, &env, "/api/providers", provider("kimi", &mock.base())).await.0, 409, "an alias");
    let (s, v) = patch_api(&app, &env, "/api/providers/mock", json!({"base_url": "http://x.example"})).await;
    assert_eq!(s, 409, "{v}");
    assert!(v["error"]["message"].as_str().unwrap_or_default().contains("config file"), "{v}");
    assert_eq!(delete_api(&app, &env, "/api/providers/mock").await.0, 409);
    assert_eq!(post_api(&app, &env, "/api/providers", provider("mock", &mock.base())).await.0, 409, "duplicate");
    assert_eq!(patch_api(&app, &env, "/api/providers/nope", json!({})).await.0, 404);
    assert_eq!(delete_api(&app, &env, "/api/providers/nope").await.0, 404);

    let ok = provider("p3", &mock.base());
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let mut missing = ok.clone();
    missing.as_object_mut().map(|o| o.remove("base_url"));
    let bad = [
        (with("id", json!("Not An Id")), "id"),
        (with("dialect", json!("openai-chatt")), "dialect"),
        (with("base_url", json!("ftp://x")), "base_url"),
        (missing, "base_url"),
        (with("models", json!(["m", {"id": "x", "price": [1.0]}])), "models[1].price"),
        (with("models", json!(["m", {"id": "x", "max_output": 0}])), "models[1].max_output"),
        (with("auth", json!("basic")), "auth"),
        (with("strategy", json!("fastest")), "strategy"),
        (with("colour", json!("red")), "colour"),
    ];
    for (body, field) in bad {
        let (s, v) = post_api(&app, &env, "/api/providers", body.clone()).await;
        assert_eq!(param_of(s, &v), field, "{body} → {v}");
    }
    assert_eq!(post_api(&app, &env, "/api/providers", ok.clone()).await.0, 201);
    let (s, v) = patch_api(&app, &env, "/api/providers/p3", json!({"id": "p4"})).await;
    assert_eq!(param_of(s, &v), "id");
    let (s, v) =
        patch_api(&app, &env, "/api/providers/p3", json!({"models": [{"id": "m", "price": [-1.0, 1.0]}]})).await;
    assert_eq!(param_of(s, &v), "models[0].price");
    assert_eq!(audit(&app, &env).await.len(), 1, "only the one provider made was audited");
    app.stop().await;
}

#[actix_web::test]
async fn admin_writes_from_another_origin_are_refused_on_every_route() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let cookie = session_cookie(&app, &env).await;
    let writes = [
        (Method::POST, "/api/providers", json!({"id": "x", "dialect": "openai-chat", "base_url": "http://x.example"})),
        (Method::PATCH, "/api/providers/mock", json!({})),
        (Method::DELETE, "/api/providers/mock", Value::Null),
        (Method::POST, "/api/accounts", json!({"provider": "mock", "name": "x", "api_key": "k-123456"})),
        (Method::PATCH, "/api/accounts/1", json!({})),
        (Method::DELETE, "/api/accounts/1", Value::Null),
        (Method::POST, "/api/accounts/1/test", json!({})),
        (Method::POST, "/api/accounts/1/reset", json!({})),
        (Method::POST, "/api/combos", json!({"name": "c", "models": ["mock/m"]})),
        (Method::PUT, "/api/combos/c", json!({"models": ["mock/m"]})),
        (Method::DELETE, "/api/combos/c", Value::Null),
        (Method::POST, "/api/aliases", json!({"alias": "q", "target": "mock/m"})),
        (Method::DELETE, "/api/aliases/q", Value::Null),
        (Method::POST, "/api/keys", json!({"name": "k"})),
        (Method::PATCH, "/api/keys/ci", json!({"enabled": false})),
        (Method::DELETE, "/api/keys/ci", Value::Null),
        (Method::PATCH, "/api/settings", json!({"routing": {"strategy": "p2c"}})),
    ];
    for (method, path, body) in writes {
        let req = client()
            .request(method.clone(), format!("{}{path}", base(&app)))
            .insert_header(("cookie", cookie.clone()))
            .insert_header(("origin", "http://evil.example"));
        let r = match body {
            Value::Null => req.send().await,
            b => req.send_json(&b).await,
        }
        .expect("send");
        assert_eq!(r.status(), 403, "{method} {path}");
    }
    assert!(audit(&app, &env).await.is_empty(), "nothing changed");
    assert_eq!(chat_ci(&app, "mock/mock-model").await.0, 200, "the key was not revoked");

    // The same session from the dashboard's own origin is admitted, and audited as a session.
    let r = client()
        .post(format!("{}/api/aliases", base(&app)))
        .insert_header(("cookie", cookie))
        .insert_header(("origin", base(&app)))
        .send_json(&json!({"alias": "q", "target": "mock/mock-model"}))
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    let log = audit(&app, &env).await;
    assert_eq!((log[0]["actor"].as_str(), log[0]["resource"].as_str()), (Some("session"), Some("alias")), "{log:?}");
    app.stop().await;
}
