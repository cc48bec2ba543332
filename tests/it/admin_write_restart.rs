//! Entries made through the admin API survive a restart on the same data directory (credentials
//! unsealed again, settings re-applied), and the config upsert at start never touches them.

use serde_json::json;

use crate::admin_write_support::{account_named, chat_ci, chat_with, get_api, patch_api, post_api};
use crate::mock::MockUpstream;
use crate::support::{TestEnv, mock_config};

#[actix_web::test]
async fn admin_made_entries_survive_a_restart_and_the_config_upsert() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let text = mock_config(&mock.base(), &[("a", "ka")], "");
    let app = env.start(&text).await;
    let provider = json!({"id": "p2", "dialect": "openai-chat", "base_url": mock.base(), "models": ["m2"]});
    assert_eq!(post_api(&app, &env, "/api/providers", provider).await.0, 201);
    let p2a = json!({"provider": "p2", "name": "p2-a", "api_key": "kp2-secret-0001", "max_concurrent": 4});
    assert_eq!(post_api(&app, &env, "/api/accounts", p2a).await.0, 201);
    let b = json!({"provider": "mock", "name": "b", "api_key": "kb-from-the-api", "priority": 0});
    assert_eq!(post_api(&app, &env, "/api/accounts", b).await.0, 201);
    assert_eq!(post_api(&app, &env, "/api/combos", json!({"name": "c", "models": ["p2/m2"]})).await.0, 201);
    assert_eq!(post_api(&app, &env, "/api/aliases", json!({"alias": "q", "target": "p2/m2"})).await.0, 201);
    let (s, k) = post_api(&app, &env, "/api/keys", json!({"name": "team"})).await;
    assert_eq!(s, 201);
    let team = k["key"].as_str().expect("key").to_string();
    assert_eq!(patch_api(&app, &env, "/api/settings", json!({"routing": {"max_attempts": 3}})).await.0, 200);
    app.stop().await;

    // Same file, same data directory: everything is back and serves.
    let app = env.start(&text).await;
    let (_, p) = get_api(&app, &env, "/api/providers/p2").await;
    assert_eq!((p["source"].as_str(), p["accounts"].as_u64()), (Some("api"), Some(1)), "{p}");
    let acc = account_named(&app, &env, "p2", "p2-a").await.expect("p2-a");
    assert_eq!((acc["source"].as_str(), acc["max_concurrent"].as_u64()), (Some("api"), Some(4)), "{acc}");
    for model in ["c", "q", "p2/m2"] {
        let (s, served, body) = chat_ci(&app, model).await;
        assert_eq!((s, served.as_str()), (200, "p2-a"), "{model}: {body}");
        assert_eq!(mock.requests().last().and_then(|r| r.credential()).as_deref(), Some("kp2-secret-0001"));
    }
    assert_eq!(chat_with(&app, &team, "mock/mock-model").await.0, 200, "the API key still opens the gateway");
    assert_eq!(chat_ci(&app, "mock/mock-model").await.1, "b", "the API account on a config provider serves");
    let (_, settings) = get_api(&app, &env, "/api/settings").await;
    assert_eq!(settings["routing"]["max_attempts"], 3, "{settings}");
    assert_eq!(app.state.runtime.max_attempts(), 3);
    app.stop().await;

    // The file now declares an account `b` too: the API's one is left alone (key, priority, source).
    let text2 = mock_config(&mock.base(), &[("a", "ka"), ("b", "kb-from-the-file")], "");
    let app = env.start(&text2).await;
    let b = account_named(&app, &env, "mock", "b").await.expect("b");
    assert_eq!((b["source"].as_str(), b["priority"].as_i64()), (Some("api"), Some(0)), "{b}");
    assert_eq!(chat_ci(&app, "mock/mock-model").await.1, "b");
    assert_eq!(mock.requests().last().and_then(|r| r.credential()).as_deref(), Some("kb-from-the-api"));
    app.stop().await;

    // And a file without the config account `a` removes only `a`.
    let app = env.start(&mock_config(&mock.base(), &[], "")).await;
    assert!(account_named(&app, &env, "mock", "a").await.is_none());
    assert!(account_named(&app, &env, "mock", "b").await.is_some());
    assert!(account_named(&app, &env, "p2", "p2-a").await.is_some());
    app.stop().await;
}
