//! Official SDKs as real clients of the running daemon, through a Python with
//! tests/clients/requirements.txt installed (`OG_TEST_PYTHON`, else the `.venv` that `.ci/run`
//! makes). These tests are `#[ignore]`d so a plain `cargo test` lists them as ignored with the
//! reason; `scripts/test` runs them whenever that Python exists and names them in its `skipped:`
//! line when it does not. Run on purpose without the Python, they fail: they never pass empty.

use std::process::Command;

use crate::mock::MockUpstream;
use crate::support::{TestEnv, base, mock_config};

/// The Python with the SDKs: `OG_TEST_PYTHON`, else `.venv/bin/python` in the checkout. Panics
/// (the test fails) when there is none.
pub fn sdk_python() -> String {
    let venv = format!("{}/.venv/bin/python", env!("CARGO_MANIFEST_DIR"));
    let py = std::env::var("OG_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .or_else(|| std::path::Path::new(&venv).exists().then_some(venv));
    match py {
        Some(py) => py,
        None => panic!(
            "no Python with the SDKs: set OG_TEST_PYTHON or run .ci/run (python3 -m venv .venv && \
             .venv/bin/pip install -r tests/clients/requirements.txt); scripts/test skips these tests without it"
        ),
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
#[ignore = "needs the Python SDKs (.venv from .ci/run): run through scripts/test"]
async fn openai_python_sdk_streams_and_parses_through_the_gateway() {
    let py = sdk_python();
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
