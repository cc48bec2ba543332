//! `omnigate export` / `omnigate import` (the real binary): a gateway's configuration moves to a
//! fresh data directory with another master key, and there a key made on the first gateway opens
//! it and an account's credential (re-sealed) reaches the upstream; a wrong passphrase opens
//! nothing, and a running daemon's database is not replaced under it.

use std::process::{Command, Output};

use serde_json::json;

use crate::admin_write_support::{chat_with, post_api, put_api};
use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, mock_config};

const PASSPHRASE: &str = "correct horse battery staple";

/// Runs `omnigate <args>` on `env`'s database and master key, the passphrase in a variable.
async fn omnigate(env: &TestEnv, args: &[&str], passphrase: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_omnigate"));
    cmd.args(args)
        .arg("--data-dir")
        .arg(env.dir.path())
        .args(["--passphrase-env", "BUNDLE_PASSPHRASE"])
        .env("BUNDLE_PASSPHRASE", passphrase)
        .env("DATABASE_URL", &env.db_url)
        .env("OMNIGATE_MASTER_KEY", &env.master_key)
        .env_remove("OMNIGATE_CONFIG")
        .env("HOME", "/nonexistent-omnigate-test-home");
    actix_rt::task::spawn_blocking(move || cmd.output().expect("run")).await.expect("join")
}

fn said(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[actix_web::test]
async fn a_bundle_moves_the_configuration_to_another_master_key_and_keys_and_credentials_work() {
    let mock = MockUpstream::start().await;
    let text = mock_config(&mock.base(), &[("a", "ka")], "");
    let from = TestEnv::new().await;
    let app = from.start(&text).await;
    let (s, v) = post_api(
        &app,
        &from,
        "/api/accounts",
        json!({"provider": "mock", "name": "b", "api_key": "kb", "priority": 5}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = post_api(&app, &from, "/api/keys", json!({"name": "laptop"})).await;
    assert_eq!(s, 201, "{v}");
    let laptop = v["key"].as_str().expect("shown once").to_string();
    let (s, v) = post_api(&app, &from, "/api/aliases", json!({"alias": "quick", "target": "mock/mock-model"})).await;
    assert_eq!(s, 201, "{v}");
    let price = json!({"provider": "mock", "model": "mock-model", "input": 1.0, "output": 2.0});
    assert_eq!(put_api(&app, &from, "/api/pricing", price).await.0, 200);
    app.stop().await;

    let file = from.dir.path().join("gateway.bundle");
    let f = file.to_str().expect("path");
    let o = omnigate(&from, &["export", f], "short").await;
    assert!(!o.status.success() && said(&o).contains("at least 12 characters"), "{}", said(&o));
    let o = omnigate(&from, &["export", f], PASSPHRASE).await;
    assert!(o.status.success(), "{}", said(&o));
    assert!(said(&o).contains("2 accounts") && said(&o).contains("api_keys"), "{}", said(&o));
    let bytes = std::fs::read_to_string(&file).expect("bundle");
    assert!(!bytes.contains("\"kb\"") && !bytes.contains("\"ka\""), "credentials are sealed in the file");
    assert!(!bytes.contains(&laptop), "no key in the clear");

    // Another machine: a fresh data directory, another master key.
    let to = TestEnv::new().await;
    assert_ne!(to.master_key, from.master_key);
    let o = omnigate(&to, &["import", f], "not the passphrase at all").await;
    assert!(!o.status.success() && said(&o).contains("passphrase does not open"), "{}", said(&o));
    let o = omnigate(&to, &["import", f], PASSPHRASE).await;
    assert!(o.status.success(), "{}", said(&o));
    let app = to.start(&text).await;
    // The first gateway's key opens this one (its digest key came along).
    let (s, used, v) = chat_with(&app, &laptop, "quick").await;
    assert_eq!(s, 200, "the key made there works here, through the alias made there: {v}");
    assert_eq!(used, "a");
    // The API account's credential was re-sealed under this master key and reaches the upstream.
    mock.always("ka", Reply::status(401));
    let (s, used, v) = chat_with(&app, &laptop, "mock/mock-model").await;
    assert_eq!((s, used.as_str()), (200, "b"), "{v}");
    assert!(mock.requests().iter().any(|r| r.credential().as_deref() == Some("kb")));
    let (_, prices) = crate::admin_write_support::get_api(&app, &to, "/api/pricing?provider=mock").await;
    assert!(prices.to_string().contains("\"output\":2.0"), "{prices}");

    // A running daemon's database is not replaced under it.
    let o = omnigate(&to, &["import", f], PASSPHRASE).await;
    assert!(!o.status.success() && said(&o).contains("stop"), "{}", said(&o));
    app.stop().await;
}
