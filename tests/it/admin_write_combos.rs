//! The admin API's combos and aliases, live: made, used as a model name through `/v1`, replaced
//! and deleted without a restart; config ones read-only; bad input named.

use serde_json::json;

use crate::admin_write_support::{audited, chat_ci, delete_api, get_api, param_of, post_api, put_api};
use crate::mock::MockUpstream;
use crate::support::{TestEnv, mock_config};

const EXTRA: &str = r#"
[[combos]]
name = "filed"
models = ["mock/mock-model"]

[[aliases]]
alias = "filed-alias"
target = "mock/mock-model"
"#;

fn config(base: &str) -> String {
    // Arrays of tables go after the provider and account of `mock_config`.
    format!("{}\n{EXTRA}", mock_config(base, &[("a", "ka")], ""))
}

#[actix_web::test]
async fn admin_combos_are_made_used_replaced_and_deleted_live() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock.base())).await;
    let last_model = || mock.requests().last().map(|r| r.body["model"].clone()).unwrap_or_default();
    assert_eq!(chat_ci(&app, "fast").await.0, 404);

    let body =
        json!({"name": "fast", "strategy": "priority", "models": [{"model": "mock/m-one", "weight": 2}, "mock/m-two"]});
    let (s, v) = post_api(&app, &env, "/api/combos", body).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["models"], json!([{"model": "mock/m-one", "weight": 2}, "mock/m-two"]));
    assert_eq!(v["source"], "api");
    assert_eq!(chat_ci(&app, "fast").await.0, 200);
    assert_eq!(last_model(), "m-one", "the first target in priority order");

    let (s, v) = put_api(
        &app,
        &env,
        "/api/combos/fast",
        json!({"strategy": "priority", "models": ["mock/m-two", "mock/m-one"]}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(chat_ci(&app, "fast").await.0, 200);
    assert_eq!(last_model(), "m-two", "the new order applies at once");
    let (s, one) = get_api(&app, &env, "/api/combos/fast").await;
    assert_eq!((s, one["models"].clone()), (200, json!(["mock/m-two", "mock/m-one"])));
    let (_, all) = get_api(&app, &env, "/api/combos").await;
    let names: Vec<&str> =
        all.as_array().map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect()).unwrap_or_default();
    assert_eq!(names, vec!["fast", "filed"]);

    assert_eq!(delete_api(&app, &env, "/api/combos/fast").await.0, 200);
    assert_eq!(chat_ci(&app, "fast").await.0, 404);
    assert_eq!(delete_api(&app, &env, "/api/combos/fast").await.0, 404);
    for action in ["create", "update", "delete"] {
        assert!(audited(&app, &env, "combo", "fast", action).await, "audit row for {action}");
    }

    // Config combos are config as code.
    let (s, v) = put_api(&app, &env, "/api/combos/filed", json!({"models": ["mock/x"]})).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(delete_api(&app, &env, "/api/combos/filed").await.0, 409);
    assert_eq!(post_api(&app, &env, "/api/combos", json!({"name": "filed", "models": ["mock/x"]})).await.0, 409);
    assert_eq!(put_api(&app, &env, "/api/combos/nope", json!({"models": ["mock/x"]})).await.0, 404);

    let bad = [
        (json!({"name": "Bad Name", "models": ["mock/x"]}), "name"),
        (json!({"name": "c", "models": []}), "models"),
        (json!({"name": "c"}), "models"),
        (json!({"name": "c", "models": ["mock/x", {"model": "mock/y", "weight": 0}]}), "models[1].weight"),
        (json!({"name": "c", "models": ["mock/x", ""]}), "models[1]"),
        (json!({"name": "c", "models": ["mock/x"], "strategy": "fastest"}), "strategy"),
    ];
    for (body, field) in bad {
        let (s, v) = post_api(&app, &env, "/api/combos", body.clone()).await;
        assert_eq!(param_of(s, &v), field, "{body} → {v}");
    }
    post_api(&app, &env, "/api/combos", json!({"name": "c2", "models": ["mock/x"]})).await;
    let (s, v) = put_api(&app, &env, "/api/combos/c2", json!({"name": "c3", "models": ["mock/x"]})).await;
    assert_eq!(param_of(s, &v), "name");
    app.stop().await;
}

#[actix_web::test]
async fn admin_aliases_are_made_used_and_deleted_live() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock.base())).await;
    let last_model = || mock.requests().last().map(|r| r.body["model"].clone()).unwrap_or_default();

    let (s, v) = post_api(&app, &env, "/api/aliases", json!({"alias": "quick", "target": "mock/m-alias"})).await;
    assert_eq!((s, v["source"].as_str()), (201, Some("api")), "{v}");
    assert_eq!(chat_ci(&app, "quick").await.0, 200);
    assert_eq!(last_model(), "m-alias");
    let (s, v) = post_api(&app, &env, "/api/aliases", json!({"alias": "gpt-*", "target": "mock/*"})).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(chat_ci(&app, "gpt-9-mini").await.0, 200);
    assert_eq!(last_model(), "gpt-9-mini", "a wildcard alias keeps the asked-for name");
    let (_, all) = get_api(&app, &env, "/api/aliases").await;
    assert_eq!(all.as_array().map(Vec::len), Some(3), "{all}");

    assert_eq!(post_api(&app, &env, "/api/aliases", json!({"alias": "quick", "target": "mock/m"})).await.0, 409);
    assert_eq!(delete_api(&app, &env, "/api/aliases/quick").await.0, 200);
    assert_eq!(chat_ci(&app, "quick").await.0, 404);
    assert_eq!(delete_api(&app, &env, "/api/aliases/quick").await.0, 404);
    let (s, v) = delete_api(&app, &env, "/api/aliases/filed-alias").await;
    assert_eq!(s, 409, "{v}");
    assert!(v["error"]["message"].as_str().unwrap_or_default().contains("config file"), "{v}");
    assert_eq!(chat_ci(&app, "filed-alias").await.0, 200, "still there");

    let bad = [
        (json!({"alias": "", "target": "mock/m"}), "alias"),
        (json!({"target": "mock/m"}), "alias"),
        (json!({"alias": "x", "target": "nowhere/m"}), "target"),
        (json!({"alias": "x", "target": "no-slash"}), "target"),
        (json!({"alias": "x", "target": "mock/m", "note": "hi"}), "note"),
    ];
    for (body, field) in bad {
        let (s, v) = post_api(&app, &env, "/api/aliases", body.clone()).await;
        assert_eq!(param_of(s, &v), field, "{body} → {v}");
    }
    for action in ["create", "delete"] {
        assert!(audited(&app, &env, "alias", "quick", action).await, "audit row for {action}");
    }
    app.stop().await;
}
