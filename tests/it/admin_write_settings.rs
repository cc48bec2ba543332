//! The admin API's settings, live: routing strategy and attempts, resilience tuning, upstream
//! timeouts and usage recording changed without a restart; bad values named by their key; and the
//! audit log, page by page.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::admin_write_support::{account_named, audit, chat_ci, get_api, param_of, patch_api, post_api};
use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, mock_config, usage_rows};

async fn accounts_over(app: &omnigate::app::Running, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let (s, acc, body) = chat_ci(app, "mock/mock-model").await;
        assert_eq!(s, 200, "{body}");
        out.push(acc);
    }
    out
}

#[actix_web::test]
async fn admin_settings_apply_live() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka"), ("b", "kb")], "")).await;
    let (s, v) = get_api(&app, &env, "/api/settings").await;
    assert_eq!((s, v["routing"]["strategy"].as_str()), (200, Some("fill-first")), "{v}");
    assert_eq!((v["overrides"].clone(), v["restart_required"].clone()), (json!({}), json!([])));
    assert_eq!(accounts_over(&app, 3).await, ["a", "a", "a"], "fill-first");

    // The router's strategy and stickiness.
    let (s, v) =
        patch_api(&app, &env, "/api/settings", json!({"routing": {"strategy": "round-robin", "sticky_limit": 1}}))
            .await;
    assert_eq!(
        (s, v["routing"]["strategy"].as_str(), v["routing"]["sticky_limit"].as_u64()),
        (200, Some("round-robin"), Some(1))
    );
    assert_eq!(v["overrides"], json!({"routing": {"strategy": "round-robin", "sticky_limit": 1}}));
    assert_eq!(v["file"]["routing"]["strategy"], "fill-first");
    let used = accounts_over(&app, 4).await;
    assert!(used.windows(2).all(|w| w[0] != w[1]), "alternating: {used:?}");
    let (s, v) =
        patch_api(&app, &env, "/api/settings", json!({"routing": {"strategy": null, "sticky_limit": null}})).await;
    assert_eq!((s, v["overrides"].clone()), (200, json!({})), "{v}");
    assert_eq!(accounts_over(&app, 3).await, ["a", "a", "a"], "back to the file's fill-first");

    // Attempts per request and the cooldown policy.
    let (s, _) = patch_api(
        &app,
        &env,
        "/api/settings",
        json!({"routing": {"max_attempts": 1}, "resilience": {"cooldown_base_ms": 60000}}),
    )
    .await;
    assert_eq!(s, 200);
    // A 429 without Retry-After cools the account for the policy's first backoff step.
    mock.always("ka", Reply::status(429));
    let (s, _, body) = chat_ci(&app, "mock/mock-model").await;
    assert_eq!(s, 429, "one attempt only, so b is not tried: {body}");
    let a = account_named(&app, &env, "mock", "a").await.expect("a");
    let left = a["cooldown_until"].as_i64().unwrap_or(0) - actors::clock::now_ms();
    assert!(left > 30_000, "the new cooldown base applies to the next failure: {a}");
    assert_eq!(patch_api(&app, &env, "/api/settings", json!({"routing": {"max_attempts": null}})).await.0, 200);
    assert_eq!(post_api(&app, &env, &format!("/api/accounts/{}/reset", a["id"]), json!({})).await.0, 200);
    let (s, acc, body) = chat_ci(&app, "mock/mock-model").await;
    assert_eq!((s, acc.as_str()), (200, "b"), "a fails, b serves on the second attempt: {body}");

    // Usage recording, off and on again.
    let rows = usage_rows(&app).await.len();
    assert_eq!(patch_api(&app, &env, "/api/settings", json!({"usage": {"enabled": false}})).await.0, 200);
    assert_eq!(chat_ci(&app, "mock/mock-model").await.0, 200);
    assert_eq!(usage_rows(&app).await.len(), rows, "not recorded while off");
    assert_eq!(patch_api(&app, &env, "/api/settings", json!({"usage": {"enabled": null}})).await.0, 200);
    assert_eq!(chat_ci(&app, "mock/mock-model").await.0, 200);
    assert_eq!(usage_rows(&app).await.len(), rows + 1, "recorded again");

    // Upstream timeouts, from the next attempt on (a is cooling now: b serves, and stalls).
    assert_eq!(
        patch_api(&app, &env, "/api/settings", json!({"upstream": {"first_byte_timeout_ms": 300}})).await.0,
        200
    );
    mock.script("kb", vec![Reply::Stall]);
    let t0 = Instant::now();
    let (s, _, body) = chat_ci(&app, "mock/mock-model").await;
    assert_eq!(s, 504, "{body}");
    assert!(t0.elapsed() < Duration::from_secs(5), "the 300 ms first-byte timeout applied: {:?}", t0.elapsed());

    let changes = audit(&app, &env).await.into_iter().filter(|r| r["resource"] == "settings").count();
    assert_eq!(changes, 7, "one audit row per settings change");
    app.stop().await;
}

#[actix_web::test]
async fn admin_settings_refuse_bad_values_naming_the_key() {
    let env = TestEnv::new().await;
    let app = env.start("").await;
    let bad = [
        (json!({"routing": {"sticky_limit": 0}}), "routing.sticky_limit"),
        (json!({"routing": {"max_attempts": 0}}), "routing.max_attempts"),
        (json!({"routing": {"strategy": "fastest"}}), "routing.strategy"),
        (json!({"routing": {"stickiness": 2}}), "routing.stickiness"),
        (json!({"usage": {"batch_size": 0}}), "usage.batch_size"),
        (json!({"upstream": {"idle_timeout_ms": "soon"}}), "upstream.idle_timeout_ms"),
        (json!({"resilience": {"breaker_threshold": -1}}), "resilience.breaker_threshold"),
        (json!({"server": {"port": 1}}), "server"),
        (json!({"routing": 5}), "routing"),
    ];
    for (body, key) in bad {
        let (s, v) = patch_api(&app, &env, "/api/settings", body.clone()).await;
        assert_eq!(param_of(s, &v), key, "{body} → {v}");
    }
    let (_, v) = get_api(&app, &env, "/api/settings").await;
    assert_eq!(v["overrides"], json!({}), "nothing refused was stored");
    assert!(audit(&app, &env).await.is_empty());
    app.stop().await;
}

#[actix_web::test]
async fn admin_audit_log_pages_newest_first() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    for i in 0..5 {
        let (s, v) = post_api(&app, &env, "/api/aliases", json!({"alias": format!("x{i}"), "target": "mock/m"})).await;
        assert_eq!(s, 201, "{v}");
    }
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<i64> = None;
    let mut pages = 0;
    loop {
        let path = match cursor {
            Some(c) => format!("/api/audit?limit=2&cursor={c}"),
            None => "/api/audit?limit=2".to_string(),
        };
        let (s, v) = get_api(&app, &env, &path).await;
        assert_eq!(s, 200, "{v}");
        let items = v["items"].as_array().cloned().unwrap_or_default();
        assert!(items.len() <= 2);
        for it in &items {
            assert_eq!(
                (it["resource"].as_str(), it["action"].as_str(), it["actor"].as_str()),
                (Some("alias"), Some("create"), Some("token"))
            );
            assert_eq!(it["before"], Value::Null);
            assert_eq!(it["after"]["target"], "mock/m");
            assert!(it["ts"].as_i64().is_some_and(|t| t > 0) && it["ip"].is_string(), "{it}");
            seen.push(it["resource_id"].as_str().unwrap_or_default().to_string());
        }
        pages += 1;
        match v["next_cursor"].as_i64() {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["x4", "x3", "x2", "x1", "x0"], "newest first, each once");
    app.stop().await;
}
