//! The admin API's gateway keys, live: made, narrowed and disabled with PATCH, revoked, and a
//! revoked key's name used again; config keys not editable; bad input named; every change audited.

use serde_json::json;

use crate::admin_write_support::{audit, chat_with, delete_api, param_of, patch_api, post_api};
use crate::mock::MockUpstream;
use crate::support::{TestEnv, mock_config};

#[actix_web::test]
async fn admin_keys_are_edited_revoked_and_their_names_reused_live() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;

    let (s, v) = post_api(&app, &env, "/api/keys", json!({"name": "team", "models": ["mock/*"]})).await;
    assert_eq!(s, 201, "{v}");
    let first = v["key"].as_str().expect("shown once").to_string();
    assert_eq!(chat_with(&app, &first, "mock/mock-model").await.0, 200);

    let (s, v) = patch_api(&app, &env, "/api/keys/team", json!({"models": ["other/*"]})).await;
    assert_eq!((s, v["models"].clone()), (200, json!(["other/*"])), "{v}");
    assert!(!v.to_string().contains(&first), "a key is never shown again: {v}");
    assert_eq!(chat_with(&app, &first, "mock/mock-model").await.0, 403, "narrowed at once");
    let (s, v) = patch_api(&app, &env, "/api/keys/team", json!({"models": ["*"], "enabled": false})).await;
    assert_eq!((s, v["enabled"].as_bool()), (200, Some(false)), "{v}");
    assert_eq!(chat_with(&app, &first, "mock/mock-model").await.0, 401, "disabled at once");
    assert_eq!(patch_api(&app, &env, "/api/keys/team", json!({"enabled": true})).await.0, 200);
    assert_eq!(chat_with(&app, &first, "mock/mock-model").await.0, 200);

    assert_eq!(post_api(&app, &env, "/api/keys", json!({"name": "team"})).await.0, 409, "an active key's name");
    assert_eq!(delete_api(&app, &env, "/api/keys/team").await.0, 200);
    assert_eq!(chat_with(&app, &first, "mock/mock-model").await.0, 401, "revoked at once");
    assert_eq!(patch_api(&app, &env, "/api/keys/team", json!({"enabled": true})).await.0, 404, "revoked: not editable");

    // The name is free again: a new key, while the old one stays dead.
    let (s, v) = post_api(&app, &env, "/api/keys", json!({"name": "team"})).await;
    assert_eq!(s, 201, "{v}");
    let second = v["key"].as_str().expect("key").to_string();
    assert_ne!(first, second);
    assert_eq!(chat_with(&app, &second, "mock/mock-model").await.0, 200);
    assert_eq!(chat_with(&app, &first, "mock/mock-model").await.0, 401);

    // Config keys: not editable here (revocation stays possible, see hardening.rs).
    let (s, v) = patch_api(&app, &env, "/api/keys/ci", json!({"enabled": false})).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(chat_with(&app, "sk-og-ci-0001", "mock/mock-model").await.0, 200);
    assert_eq!(post_api(&app, &env, "/api/keys", json!({"name": "ci"})).await.0, 409);
    assert_eq!(patch_api(&app, &env, "/api/keys/nope", json!({"enabled": false})).await.0, 404);

    let bad = [
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "models": []}), "models"),
        (json!({"name": "x", "models": "mock/*"}), "models"),
        (json!({"models": ["*"]}), "name"),
        (json!({"name": "x", "model": ["*"]}), "model"),
    ];
    for (body, field) in bad {
        let (s, v) = post_api(&app, &env, "/api/keys", body.clone()).await;
        assert_eq!(param_of(s, &v), field, "{body} → {v}");
    }
    let (s, v) = patch_api(&app, &env, "/api/keys/team", json!({"models": []})).await;
    assert_eq!(param_of(s, &v), "models");
    let (s, v) = patch_api(&app, &env, "/api/keys/team", json!({"enabled": "yes"})).await;
    assert_eq!(param_of(s, &v), "enabled");

    let log = audit(&app, &env).await;
    let actions: Vec<&str> =
        log.iter().rev().filter(|r| r["resource"] == "key").filter_map(|r| r["action"].as_str()).collect();
    assert_eq!(actions, ["create", "update", "update", "update", "revoke", "create"]);
    let text = serde_json::to_string(&log).unwrap_or_default();
    assert!(!text.contains(&first) && !text.contains(&second), "no key in the audit log");
    let reuse = &log[0];
    assert_eq!(
        (reuse["before"]["revoked_at"].is_i64(), reuse["after"]["revoked_at"].is_null()),
        (true, true),
        "{reuse}"
    );
    app.stop().await;
}
