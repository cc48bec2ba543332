//! The admin API's accounts, live: made, used through `/v1`, edited and deleted without a restart;
//! keys sealed and never shown; config accounts read-only; a request in flight on a deleted
//! account finishing normally; the connection test.

use std::time::Duration;

use sea_orm::EntityTrait;
use serde_json::json;

use crate::admin_write_support::{
    account_named, audit, audited, chat_ci, delete_api, get_api, param_of, patch_api, post_api,
};
use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, base, client, mock_config, sse_data, text_body};

const KEY_B: &str = "sk-test-upstream-bbbb-1234";
const KEY_B2: &str = "sk-test-upstream-cccc-5678";

#[actix_web::test]
async fn admin_accounts_are_made_used_edited_and_deleted_live() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    assert_eq!(chat_ci(&app, "mock/mock-model").await.1, "a");

    // Made: preferred at once (priority 0 beats the config account's 1), its key sealed.
    let (s, v) = post_api(
        &app,
        &env,
        "/api/accounts",
        json!({"provider": "mock", "name": "b", "api_key": KEY_B, "priority": 0}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().expect("id");
    assert_eq!((v["key_hint"].as_str(), v["source"].as_str()), (Some("sk-…1234"), Some("api")));
    assert!(!v.to_string().contains(KEY_B), "the key is never answered: {v}");
    let (s, acc, _) = chat_ci(&app, "mock/mock-model").await;
    assert_eq!((s, acc.as_str()), (200, "b"));
    assert_eq!(
        mock.requests().last().and_then(|r| r.credential()).as_deref(),
        Some(KEY_B),
        "the new key went upstream"
    );
    let row = entities::account::Entity::find_by_id(id).one(&app.state.db).await.expect("read").expect("row");
    assert!(row.secret.as_deref().is_some_and(|s| !s.contains(KEY_B) && s.starts_with("v1.")), "sealed at rest");
    let listed = account_named(&app, &env, "mock", "b").await.expect("listed");
    assert_eq!((listed["in_flight"].as_u64(), listed["leases"].as_u64()), (Some(0), Some(1)), "{listed}");
    assert_eq!(listed["key_hint"], "sk-…1234");
    let (_, all) = get_api(&app, &env, "/api/accounts").await;
    assert!(!all.to_string().contains(KEY_B), "{all}");
    let (s, one) = get_api(&app, &env, &format!("/api/accounts/{id}")).await;
    assert_eq!((s, one["name"].as_str(), one["enabled"].as_bool()), (200, Some("b"), Some(true)));

    // Edited: disabled → the config account serves; a new key → used at once.
    let (s, v) = patch_api(&app, &env, &format!("/api/accounts/{id}"), json!({"enabled": false})).await;
    assert_eq!((s, v["enabled"].as_bool()), (200, Some(false)), "{v}");
    assert_eq!(chat_ci(&app, "mock/mock-model").await.1, "a");
    let (s, v) =
        patch_api(&app, &env, &format!("/api/accounts/{id}"), json!({"enabled": true, "api_key": KEY_B2})).await;
    assert_eq!((s, v["key_hint"].as_str()), (200, Some("sk-…5678")), "{v}");
    assert_eq!(v["priority"], 0, "fields not in the patch stay");
    assert_eq!(chat_ci(&app, "mock/mock-model").await.1, "b");
    assert_eq!(mock.requests().last().and_then(|r| r.credential()).as_deref(), Some(KEY_B2));

    // Deleted: gone from routing and from the list.
    let (s, _) = delete_api(&app, &env, &format!("/api/accounts/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(chat_ci(&app, "mock/mock-model").await.1, "a");
    assert!(account_named(&app, &env, "mock", "b").await.is_none());
    assert_eq!(delete_api(&app, &env, &format!("/api/accounts/{id}")).await.0, 404);
    assert!(app.state.runtime.account_actor(id).is_none(), "its actor is let go");

    for action in ["create", "update", "delete"] {
        assert!(audited(&app, &env, "account", &id.to_string(), action).await, "audit row for {action}");
    }
    let log = audit(&app, &env).await;
    let text = serde_json::to_string(&log).unwrap_or_default();
    assert!(!text.contains(KEY_B) && !text.contains(KEY_B2), "no key in the audit log: {text}");
    let update =
        log.iter().find(|r| r["action"] == "update" && r["after"]["key_hint"] == "sk-…5678").expect("update row");
    assert_eq!(
        (update["before"]["enabled"].as_bool(), update["after"]["enabled"].as_bool()),
        (Some(false), Some(true))
    );
    app.stop().await;
}

#[actix_web::test]
async fn admin_config_accounts_refuse_edits_and_bad_input_names_the_field() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let a = account_named(&app, &env, "mock", "a").await.expect("config account");
    assert_eq!(a["source"], "config");
    let path = format!("/api/accounts/{}", a["id"]);
    let (s, v) = patch_api(&app, &env, &path, json!({"priority": 5})).await;
    assert_eq!(s, 409, "{v}");
    assert!(v["error"]["message"].as_str().unwrap_or_default().contains("config file"), "{v}");
    assert_eq!(delete_api(&app, &env, &path).await.0, 409);

    let bad = [
        (json!({"provider": "nope", "name": "x", "api_key": "k-123456"}), "provider"),
        (json!({"name": "x", "api_key": "k-123456"}), "provider"),
        (json!({"provider": "mock", "api_key": "k-123456"}), "name"),
        (json!({"provider": "mock", "name": "x", "api_key": "k-123456", "weight": 0}), "weight"),
        (json!({"provider": "mock", "name": "x", "api_key": "k-123456", "weight": -1}), "weight"),
        (json!({"provider": "mock", "name": "x", "api_key": "k-123456", "base_url": "ftp://x"}), "base_url"),
        (json!({"provider": "mock", "name": "x", "api_key": "has space"}), "api_key"),
        (json!({"provider": "mock", "name": "x", "api_kye": "k-123456"}), "api_kye"),
        (json!({"provider": "openai-compatible", "name": "x", "api_key": "k-123456"}), "base_url"),
        (json!({"provider": "mock", "name": "x", "priority": "high"}), "priority"),
    ];
    for (body, field) in bad {
        let (s, v) = post_api(&app, &env, "/api/accounts", body.clone()).await;
        assert_eq!(param_of(s, &v), field, "{body} → {v}");
    }
    let (s, v) =
        post_api(&app, &env, "/api/accounts", json!({"provider": "mock", "name": "a", "api_key": "k-123456"})).await;
    assert_eq!(s, 409, "a duplicate name: {v}");
    let (s, v) =
        post_api(&app, &env, "/api/accounts", json!({"provider": "mock", "name": "c", "api_key": "k-123456"})).await;
    assert_eq!(s, 201, "{v}");
    let c = format!("/api/accounts/{}", v["id"]);
    let (s, v) = patch_api(&app, &env, &c, json!({"provider": "openai"})).await;
    assert_eq!(param_of(s, &v), "provider");
    let (s, v) = patch_api(&app, &env, &c, json!({"name": "a"})).await;
    assert_eq!(s, 409, "renaming onto another account: {v}");
    let (s, v) = patch_api(&app, &env, &c, json!({"max_concurrent": "many"})).await;
    assert_eq!(param_of(s, &v), "max_concurrent");
    assert_eq!(get_api(&app, &env, "/api/accounts/999999").await.0, 404);
    assert_eq!(patch_api(&app, &env, "/api/accounts/999999", json!({"enabled": false})).await.0, 404);
    // Nothing refused reached the audit log; the one account made did.
    let log = audit(&app, &env).await;
    assert_eq!(log.len(), 1, "{log:?}");
    app.stop().await;
}

#[actix_web::test]
async fn admin_deleting_an_account_lets_its_request_in_flight_finish() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[], "")).await;
    let (s, v) =
        post_api(&app, &env, "/api/accounts", json!({"provider": "mock", "name": "slow", "api_key": "k-slow-0001"}))
            .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().expect("id");
    // The upstream takes its time before the first byte, then streams.
    let frames = Reply::chat_frames(&["still", " here"], true);
    mock.script(
        "k-slow-0001",
        vec![Reply::Sse {
            frames,
            first_delay: Duration::from_millis(700),
            delay: Duration::from_millis(100),
            drop_after: None,
        }],
    );
    let url = format!("{}/v1/chat/completions", base(&app));
    let inflight = actix_rt::spawn(async move {
        let body = json!({"model": "mock/mock-model", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
        let mut r = client().post(url).bearer_auth("sk-og-ci-0001").send_json(&body).await.expect("send");
        let status = r.status().as_u16();
        (status, text_body(&mut r).await)
    });
    assert!(crate::support::eventually(10, || async { mock.hits() == 1 }).await, "the request reached the upstream");
    let listed = account_named(&app, &env, "mock", "slow").await.expect("listed");
    assert_eq!(listed["in_flight"], 1, "{listed}");
    // Another change reloads the router: the account keeps its in-flight slot.
    assert_eq!(post_api(&app, &env, "/api/aliases", json!({"alias": "s", "target": "mock/mock-model"})).await.0, 201);
    let listed = account_named(&app, &env, "mock", "slow").await.expect("listed");
    assert_eq!(listed["in_flight"], 1, "the slot survives a reload: {listed}");
    let actor = app.state.runtime.account_actor(id).expect("actor").downgrade();
    let stopped = move || actor.upgrade().is_none_or(|a| !a.connected());
    let (s, _) = delete_api(&app, &env, &format!("/api/accounts/{id}")).await;
    assert_eq!(s, 200);
    // The next request has no account any more, while the first one runs to its end.
    let (s, _, _) = chat_ci(&app, "mock/mock-model").await;
    assert_eq!(s, 503);
    assert!(!stopped(), "the lease in flight keeps the account's actor alive");
    let (status, body) = inflight.await.expect("joined");
    assert_eq!(status, 200, "{body}");
    let data = sse_data(&body);
    assert_eq!(data.last(), Some(&json!("[DONE]")), "{body}");
    assert!(body.contains("still") && body.contains(" here") && !body.contains("error"), "{body}");
    assert_eq!(mock.state.completed.load(std::sync::atomic::Ordering::SeqCst), 1, "the upstream stream ran to its end");
    assert!(crate::support::eventually(10, || async { stopped() }).await, "then the actor stops (no leak)");
    app.stop().await;
}

#[actix_web::test]
async fn admin_account_test_calls_upstream_and_redacts_the_key() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka-secret-key-0001")], "")).await;
    let id = account_named(&app, &env, "mock", "a").await.expect("a")["id"].as_i64().expect("id");
    let before = mock.hits();
    let (s, v) = post_api(&app, &env, &format!("/api/accounts/{id}/test"), json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["ok"].as_bool(), v["status"].as_u64(), v["model"].as_str()),
        (Some(true), Some(200), Some("mock-model"))
    );
    assert!(v["latency_ms"].is_u64() && v.get("error").is_none(), "{v}");
    assert_eq!(mock.hits(), before + 1);
    let sent = mock.requests().last().cloned().expect("recorded");
    assert_eq!(sent.credential().as_deref(), Some("ka-secret-key-0001"));
    assert_eq!(sent.body["max_tokens"], 1, "a minimal request: {}", sent.body);

    // A refusal that quotes the key: reported, key masked.
    mock.script(
        "ka-secret-key-0001",
        vec![Reply::Json {
            status: 401,
            body: json!({"error": {"message": "Incorrect API key provided: ka-secret-key-0001"}}),
            retry_after: None,
        }],
    );
    let (s, v) = post_api(&app, &env, &format!("/api/accounts/{id}/test"), json!({"model": "other-model"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["ok"].as_bool(), v["status"].as_u64(), v["model"].as_str()),
        (Some(false), Some(401), Some("other-model"))
    );
    let err = v["error"].as_str().unwrap_or_default();
    assert!(err.contains("Incorrect API key") && err.contains("***") && !err.contains("ka-secret-key-0001"), "{v}");
    // The test is a probe: the account's health is untouched.
    let a = account_named(&app, &env, "mock", "a").await.expect("a");
    assert_eq!(a["cooldown_until"], 0, "{a}");
    assert_eq!(post_api(&app, &env, "/api/accounts/424242/test", json!({})).await.0, 404);
    app.stop().await;
}
