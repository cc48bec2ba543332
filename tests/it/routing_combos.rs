//! Combo strategies through the real daemon and the mock: a weighted combo leads by weight and
//! holds a nested combo as one target, cost-optimized goes to the cheapest priced target,
//! latency-optimized moves to the target with the faster first byte once both were measured,
//! and the admin API refuses a combo that would close a cycle.

use std::time::Duration;

use serde_json::json;

use crate::admin_write_support::{chat_ci, post_api};
use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, mock_config};

/// A custom provider on the mock with one priced model and one account.
fn provider(id: &str, base: &str, model: &str, price: &str, key: &str) -> String {
    format!(
        "\n[[providers]]\nid = \"{id}\"\ndialect = \"openai-chat\"\nbase_url = \"{base}\"\n\
         models = [{{ id = \"{model}\", price = {price} }}]\n\n\
         [[accounts]]\nprovider = \"{id}\"\nname = \"{id}-1\"\napi_key = \"{key}\"\n"
    )
}

fn hits(mock: &MockUpstream, key: &str) -> usize {
    mock.requests().iter().filter(|r| r.credential().as_deref() == Some(key)).count()
}

#[actix_web::test]
async fn a_weighted_combo_leads_by_weight_with_a_nested_combo_as_one_target() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let combos = r#"
[[combos]]
name = "inner"
models = ["mock/m-a"]

[[combos]]
name = "outer"
strategy = "weighted"
models = [{ model = "inner", weight = 3 }, "mock/m-b"]
"#;
    let app = env.start(&format!("{}\n{combos}", mock_config(&mock.base(), &[("a", "ka")], ""))).await;
    for _ in 0..8 {
        assert_eq!(chat_ci(&app, "outer").await.0, 200);
    }
    let models: Vec<String> =
        mock.requests().iter().map(|r| r.body["model"].as_str().unwrap_or_default().to_string()).collect();
    let a = models.iter().filter(|m| *m == "m-a").count();
    // Smooth weighted round-robin is exact over each 4 requests: 3 through the nested combo, 1 not.
    assert_eq!((a, models.len() - a), (6, 2), "{models:?}");
    app.stop().await;
}

#[actix_web::test]
async fn cost_optimized_goes_to_the_cheapest_and_falls_back_to_the_next_cheapest() {
    let mock = MockUpstream::start().await;
    let base = mock.base();
    let env = TestEnv::new().await;
    let mut cfg = mock_config(&base, &[("a", "ka")], "");
    cfg.push_str(&provider("pricy", &base, "big", "[15.0, 75.0]", "kp"));
    cfg.push_str(&provider("cheap", &base, "small", "[0.1, 0.4]", "kc"));
    cfg.push_str(&provider("middle", &base, "mid", "[3.0, 15.0]", "km"));
    cfg.push_str(
        "\n[[combos]]\nname = \"thrifty\"\nstrategy = \"cost-optimized\"\n\
         models = [\"pricy/big\", \"mock/mock-model\", \"middle/mid\", \"cheap/small\"]\n",
    );
    let app = env.start(&cfg).await;
    for _ in 0..3 {
        assert_eq!(chat_ci(&app, "thrifty").await.0, 200);
    }
    assert_eq!((hits(&mock, "kc"), hits(&mock, "km"), hits(&mock, "kp"), hits(&mock, "ka")), (3, 0, 0, 0));
    // The cheapest fails: the next cheapest serves, never the unpriced target before the priced.
    mock.always("kc", Reply::status(500));
    assert_eq!(chat_ci(&app, "thrifty").await.0, 200);
    assert_eq!((hits(&mock, "km"), hits(&mock, "kp"), hits(&mock, "ka")), (1, 0, 0));
    app.stop().await;
}

#[actix_web::test]
async fn latency_optimized_settles_on_the_faster_first_byte() {
    let mock = MockUpstream::start().await;
    let base = mock.base();
    mock.always(
        "ks",
        Reply::Sse {
            frames: Reply::chat_frames(&["slow"], true),
            first_delay: Duration::from_millis(300),
            delay: Duration::ZERO,
            drop_after: None,
        },
    );
    let env = TestEnv::new().await;
    let mut cfg = mock_config(&base, &[("a", "ka")], "");
    cfg.push_str(&provider("slow", &base, "s", "[1.0, 1.0]", "ks"));
    cfg.push_str(&provider("fast", &base, "f", "[1.0, 1.0]", "kf"));
    cfg.push_str(
        "\n[[combos]]\nname = \"quick\"\nstrategy = \"latency-optimized\"\nmodels = [\"slow/s\", \"fast/f\"]\n",
    );
    let app = env.start(&cfg).await;
    for _ in 0..6 {
        let r = crate::support::post(
            &app,
            "/v1/chat/completions",
            json!({"model": "quick", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
        assert_eq!(r.status(), 200);
        let mut r = r;
        let _ = crate::support::text_body(&mut r).await;
    }
    // Each target is measured once (the unmeasured goes first), then the faster one keeps it all.
    assert_eq!((hits(&mock, "ks"), hits(&mock, "kf")), (1, 5));
    app.stop().await;
}

#[actix_web::test]
async fn the_admin_api_refuses_a_combo_that_closes_a_cycle() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let (s, v) = post_api(&app, &env, "/api/combos", json!({"name": "one", "models": ["mock/mock-model"]})).await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = post_api(&app, &env, "/api/combos", json!({"name": "two", "models": ["one"]})).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(chat_ci(&app, "two").await.0, 200, "a combo of a combo serves");
    let (s, v) = crate::admin_write_support::put_api(&app, &env, "/api/combos/one", json!({"models": ["two"]})).await;
    assert_eq!(s, 400, "{v}");
    assert!(v.to_string().contains("one → two → one"), "{v}");
    let (s, v) = post_api(&app, &env, "/api/combos", json!({"name": "three", "models": ["two"], "resume": true})).await;
    assert_eq!((s, v["resume"].clone()), (201, json!(true)), "{v}");
    app.stop().await;
}
