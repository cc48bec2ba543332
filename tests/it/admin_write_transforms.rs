//! The admin API's request transforms, live: made, replaced and deleted without a restart and
//! seen in the very next upstream call; the config file's listed but read-only; bad input named;
//! applied in position order; named on the request's detail; kept (API) and re-synced (config)
//! across restarts.

use serde_json::{Value, json};

use crate::admin_write_support::{audited, chat, delete_api, get_api, param_of, post_api, put_api};
use crate::mock::{MockUpstream, Recorded, Reply};
use crate::support::{TestEnv, header, mock_config, post, text_body, usage_rows};

fn config(base: &str, filed_user: Option<&str>) -> String {
    let filed = filed_user.map_or(String::new(), |u| {
        format!("[[transforms]]\nname = \"filed\"\nprovider = \"mock\"\nset = {{ user = \"{u}\" }}\n")
    });
    // Arrays of tables go after the provider and account of `mock_config`.
    format!(
        "{}\n[[combos]]\nname = \"team\"\nmodels = [\"mock/mock-model\"]\n\n{filed}",
        mock_config(base, &[("a", "ka")], "")
    )
}

/// Sends a chat request: `(transforms header, request id, what the mock received)`.
async fn send(app: &omnigate::app::Running, mock: &MockUpstream) -> (String, String, Recorded) {
    let mut body = chat("mock/mock-model");
    body["max_tokens"] = json!(1000);
    let mut r = post(app, "/v1/chat/completions", body).await;
    assert_eq!(r.status(), 200, "{}", text_body(&mut r).await);
    text_body(&mut r).await;
    let sent = mock.requests().last().cloned().expect("sent");
    (header(&r, "x-omnigate-transforms"), header(&r, "x-request-id"), sent)
}

fn names(list: &Value) -> Vec<(String, String, i64)> {
    list.as_array()
        .map(|l| {
            l.iter()
                .map(|t| {
                    let s = |k: &str| t[k].as_str().unwrap_or_default().to_string();
                    (s("name"), s("source"), t["position"].as_i64().unwrap_or(-1))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[actix_web::test]
async fn admin_transforms_are_made_replaced_and_deleted_live() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock.base(), Some("filed"))).await;
    let (_, all) = get_api(&app, &env, "/api/transforms").await;
    assert_eq!(names(&all), [("filed".into(), "config".into(), 0)], "{all}");
    assert_eq!(all[0]["set"], json!({"user": "filed"}));

    let body = json!({"name": "cap", "model": "mock-*", "max_tokens": 7, "set": {"temperature": 0.3},
                      "headers": {"X-Team": "red"}});
    let (s, v) = post_api(&app, &env, "/api/transforms", body).await;
    assert_eq!((s, v["source"].as_str(), v["position"].as_i64()), (201, Some("api"), Some(1)), "{v}");
    let (applied, id, sent) = send(&app, &mock).await;
    assert_eq!(applied, "filed,cap", "every match applies, in position order");
    assert_eq!((sent.body["max_tokens"].clone(), sent.body["temperature"].clone()), (json!(7), json!(0.3)));
    assert_eq!(sent.body["user"], "filed");
    assert_eq!(sent.headers.get("x-team").map(String::as_str), Some("red"));
    usage_rows(&app).await;
    let (s, d) = get_api(&app, &env, &format!("/api/requests/{id}")).await;
    assert_eq!((s, d["transforms"].clone()), (200, json!(["filed", "cap"])), "{d}");

    // An explicit position goes first (ties by name); a later transform's edit wins.
    let early = json!({"name": "a-early", "position": 0, "set": {"temperature": 0.9, "top_k": 3}});
    assert_eq!(post_api(&app, &env, "/api/transforms", early).await.0, 201);
    let (applied, _, sent) = send(&app, &mock).await;
    assert_eq!(applied, "a-early,filed,cap");
    assert_eq!((sent.body["temperature"].clone(), sent.body["top_k"].clone()), (json!(0.3), json!(3)));
    assert_eq!(delete_api(&app, &env, "/api/transforms/a-early").await.0, 200);

    // Replaced: the next request sees the new edits only; the position stays.
    let (s, v) = put_api(&app, &env, "/api/transforms/cap", json!({"max_tokens": 9})).await;
    assert_eq!((s, v["position"].as_i64(), v["max_tokens"].as_i64()), (200, Some(1), Some(9)), "{v}");
    let (applied, _, sent) = send(&app, &mock).await;
    assert_eq!(applied, "filed,cap");
    assert_eq!(sent.body["max_tokens"], 9);
    assert!(sent.body.get("temperature").is_none() && !sent.headers.contains_key("x-team"), "{:?}", sent.body);
    let (s, v) = put_api(&app, &env, "/api/transforms/cap", json!({"name": "other", "max_tokens": 9})).await;
    assert_eq!(param_of(s, &v), "name");

    // Deleted: gone from the next request.
    assert_eq!(delete_api(&app, &env, "/api/transforms/cap").await.0, 200);
    let (applied, id, sent) = send(&app, &mock).await;
    assert_eq!(applied, "filed");
    assert_ne!(sent.body["max_tokens"], 9);
    assert_eq!(delete_api(&app, &env, "/api/transforms/cap").await.0, 404);
    assert_eq!(put_api(&app, &env, "/api/transforms/cap", json!({"max_tokens": 9})).await.0, 404);
    usage_rows(&app).await;
    let (_, d) = get_api(&app, &env, &format!("/api/requests/{id}")).await;
    assert_eq!(d["transforms"], json!(["filed"]), "{d}");

    // The config file's transform is read-only here; names are unique across sources.
    for (s, v) in [
        put_api(&app, &env, "/api/transforms/filed", json!({"max_tokens": 9})).await,
        delete_api(&app, &env, "/api/transforms/filed").await,
        post_api(&app, &env, "/api/transforms", json!({"name": "filed"})).await,
    ] {
        assert_eq!(s, 409, "{v}");
    }
    assert!(
        delete_api(&app, &env, "/api/transforms/filed").await.1["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("config file")
    );
    assert_eq!(send(&app, &mock).await.0, "filed", "still there");

    let bad = [
        (json!({"name": "x", "max_tokens": 0}), "max_tokens"),
        (json!({"name": "x", "set": {"model": "other"}}), "set"),
        (json!({"name": "x", "remove": ["stream"]}), "set"),
        (json!({"name": " "}), "name"),
        (json!({"max_tokens": 5}), "name"),
        (json!({"name": "x", "headers": {"bad header": "v"}}), "headers"),
        (json!({"name": "x", "system_mode": "sideways"}), "system_mode"),
        (json!({"name": "x", "provider": "nowhere"}), "provider"),
        (json!({"name": "x", "combo": "no-such-combo"}), "combo"),
        (json!({"name": "x", "colour": "red"}), "colour"),
        (json!({"name": "x", "position": -1}), "position"),
    ];
    for (body, field) in bad {
        let (s, v) = post_api(&app, &env, "/api/transforms", body.clone()).await;
        assert_eq!(param_of(s, &v), field, "{body} → {v}");
    }
    let ok = json!({"name": "team-only", "combo": "team", "provider": "mock", "system": "Be brief."});
    assert_eq!(post_api(&app, &env, "/api/transforms", ok).await.0, 201, "a combo and a provider that exist");
    for action in ["create", "update", "delete"] {
        assert!(audited(&app, &env, "transform", "cap", action).await, "audit row for {action}");
    }
    app.stop().await;
}

#[actix_web::test]
async fn api_transforms_survive_a_restart_and_config_ones_are_resynced() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock.base(), Some("one"))).await;
    let kept = json!({"name": "kept", "set": {"temperature": 0.2}});
    assert_eq!(post_api(&app, &env, "/api/transforms", kept).await.0, 201);
    app.stop().await;

    // The file changed its transform: re-synced; the API's one is back as it was.
    let app = env.start(&config(&mock.base(), Some("two"))).await;
    let (_, all) = get_api(&app, &env, "/api/transforms").await;
    assert_eq!(names(&all), [("filed".into(), "config".into(), 0), ("kept".into(), "api".into(), 1)], "{all}");
    let (applied, _, sent) = send(&app, &mock).await;
    assert_eq!(
        (applied.as_str(), sent.body["user"].clone(), sent.body["temperature"].clone()),
        ("filed,kept", json!("two"), json!(0.2))
    );
    app.stop().await;

    // The file no longer declares it: its row goes, the API's stays.
    let app = env.start(&config(&mock.base(), None)).await;
    let (_, all) = get_api(&app, &env, "/api/transforms").await;
    assert_eq!(names(&all), [("kept".into(), "api".into(), 1)], "{all}");
    let (applied, _, sent) = send(&app, &mock).await;
    assert_eq!((applied.as_str(), sent.body.get("user")), ("kept", None));
    app.stop().await;

    // A file transform named like the API's: the API's one is kept as it was.
    let app = env.start(&config(&mock.base(), Some("file")).replace("name = \"filed\"", "name = \"kept\"")).await;
    let (_, all) = get_api(&app, &env, "/api/transforms").await;
    assert_eq!(names(&all), [("kept".into(), "api".into(), 1)], "{all}");
    assert_eq!(all[0]["set"], json!({"temperature": 0.2}));
    app.stop().await;
}

#[actix_web::test]
async fn a_failed_request_names_the_transforms_of_its_last_attempt() {
    let mock = MockUpstream::start().await;
    mock.always("ka", Reply::status(400));
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock.base(), Some("filed"))).await;
    let mut r = post(&app, "/v1/chat/completions", chat("mock/mock-model")).await;
    assert_eq!(r.status(), 400, "{}", text_body(&mut r).await);
    assert_eq!(mock.requests().last().map(|q| q.body["user"].clone()), Some(json!("filed")));
    let id = header(&r, "x-request-id");
    usage_rows(&app).await;
    let (s, d) = get_api(&app, &env, &format!("/api/requests/{id}")).await;
    assert_eq!((s, d["transforms"].clone()), (200, json!(["filed"])), "{d}");
    app.stop().await;
}
