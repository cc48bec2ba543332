//! Official SDKs as real clients of the running daemon (a Python venv named by `OG_TEST_PYTHON`,
//! installed by `.ci/run`). Without it the tests say so and pass, unless `OG_REQUIRE_ALL=1`.

use std::process::Command;

use crate::mock::MockUpstream;
use crate::support::{TestEnv, base, mock_config};

/// The Python with the SDKs, or `None` (skip) when absent and not required.
pub fn python() -> Option<String> {
    match std::env::var("OG_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                std::env::var("OG_REQUIRE_ALL").as_deref() != Ok("1"),
                "OG_TEST_PYTHON is required (OG_REQUIRE_ALL=1)"
            );
            eprintln!("skipped: set OG_TEST_PYTHON to a Python with tests/clients/requirements.txt installed");
            None
        }
    }
}

/// Runs a client script (blocking, off the actix thread) and parses its JSON summary.
pub async fn run_script(py: String, script: &str, args: Vec<String>) -> serde_json::Value {
    let path = format!("{}/tests/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = actix_web::web::block(move || Command::new(py).arg(path).args(args).output())
        .await
        .expect("block")
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{script} failed:\n{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|_| panic!("{script} printed no JSON: {stdout}"))
}

#[actix_web::test]
async fn openai_python_sdk_streams_and_parses_through_the_gateway() {
    let Some(py) = python() else { return };
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "k")], "")).await;
    let v = run_script(
        py,
        "openai_chat.py",
        vec![format!("{}/v1", base(&app)), "sk-og-ci-0001".into(), "mock/mock-model".into()],
    )
    .await;
    assert!(v["models"].as_array().is_some_and(|m| m.iter().any(|x| x == "mock/mock-model")), "{v}");
    assert_eq!(v["stream_text"], "Hello from mock");
    assert_eq!(v["finish_reason"], "stop");
    assert_eq!(v["stream_usage_total"], 13);
    assert_eq!(v["full_text"], "Hello from mock");
    assert_eq!(v["full_usage_total"], 13);
    assert_eq!(v["error_status"], 404);
    app.stop().await;
}
