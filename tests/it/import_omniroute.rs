//! `omnigate import-omniroute` (the real binary) against a running daemon, from an OmniRoute
//! database built from `tests/fixtures/omniroute/storage.sql` (OmniRoute's own schema): the
//! accounts, the custom provider, prices, the alias, combos and gateway keys are made through the
//! admin API; an OmniRoute key opens this gateway unchanged and reaches the imported custom
//! provider; the encrypted credential needs OmniRoute's key; what cannot be carried over is
//! named; a dry run changes nothing; a second run makes nothing twice.

use std::process::{Command, Output, Stdio};

use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::mock::MockUpstream;
use crate::support::{TestEnv, admin_get, base, client, mock_config};

const BIN: &str = env!("CARGO_BIN_EXE_omnigate");
const FIXTURE: &str = include_str!("../fixtures/omniroute/storage.sql");
const STORAGE_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
/// An OmniRoute gateway key of the fixture (`api_keys`), stored there in plain text.
const OMNIROUTE_KEY: &str = "sk-a1b2c3d4e5f60718-3f9a1c-8d2e4b7a";

/// OmniRoute's data directory with the fixture database, its custom node pointed at `upstream`.
async fn omniroute_dir(upstream: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("storage.sqlite");
    let db = Database::connect(format!("sqlite://{}?mode=rwc", file.display()).as_str()).await.expect("create");
    db.execute_unprepared(&FIXTURE.replace("http://127.0.0.1:8000/v1", upstream)).await.expect("fixture loads");
    db.close().await.ok();
    dir
}

async fn import(url: &str, token: &str, dir: &std::path::Path, extra: &[&str], storage_key: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("import-omniroute")
        .arg(dir)
        .args(extra)
        .args(["--url", url])
        .env("OMNIGATE_ADMIN_TOKEN", token)
        .env_remove("OMNIGATE_CONFIG")
        .env_remove("OMNIGATE_DATA_DIR")
        .env_remove("STORAGE_ENCRYPTION_KEY")
        .env("HOME", "/nonexistent-omnigate-test-home")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(k) = storage_key {
        cmd.env("OMNIROUTE_KEY_FOR_TEST", k);
        cmd.args(["--storage-key-env", "OMNIROUTE_KEY_FOR_TEST"]);
    }
    actix_rt::task::spawn_blocking(move || cmd.output().expect("run")).await.expect("join")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// The rows of a list answer (`[...]` or `{"<list>": [...]}`).
fn rows<'a>(v: &'a Value, list: &str) -> Vec<&'a Value> {
    v.as_array().or_else(|| v[list].as_array()).into_iter().flatten().collect()
}

fn names(v: &Value, list: &str, field: &str) -> Vec<String> {
    rows(v, list).into_iter().filter_map(|x| x[field].as_str().map(String::from)).collect()
}

#[actix_web::test]
async fn an_omniroute_database_becomes_accounts_providers_combos_and_keys_that_serve() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let url = base(&app);
    let dir = omniroute_dir(&mock.base()).await;

    // A dry run reports and changes nothing.
    let o = import(&url, &env.admin_token, dir.path(), &["--dry-run"], None).await;
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("would make account openai/openai-main") && t.contains("would make key default"), "{t}");
    assert!(names(&admin_get(&app, &env, "/api/keys").await, "keys", "name").iter().all(|n| n != "default"));

    // Without OmniRoute's storage key the encrypted account is left behind, named.
    let o = import(&url, &env.admin_token, dir.path(), &[], None).await;
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("left behind: connection `OpenRouter (encrypted)` (openrouter): its API key is encrypted"),
        "{t}"
    );
    for why in [
        "connection `dev@example.com` (codex): a subscription sign-in; pass --move-sign-ins",
        "combo `fast-chat`: target `anthropic/claude-3-5-haiku-20241022` was pinned to one account",
        "key `CI restricted`: its blocked models",
        "key `CI restricted`: its expiry",
        "key `CI restricted`: its $100.00 per month budget",
        "custom provider `Local vLLM`: its extra headers",
    ] {
        assert!(t.contains(why), "`{why}` in the report: {t}");
    }
    assert!(!t.contains("sk-proj-fixture") && !t.contains("sk-ant-api03"), "no secret in the report: {t}");

    let accounts = admin_get(&app, &env, "/api/accounts").await;
    let list = accounts["accounts"].as_array().cloned().unwrap_or_default();
    let account = |provider: &str, name: &str| {
        list.iter().find(|a| a["provider"] == provider && a["name"] == name).cloned().unwrap_or(Value::Null)
    };
    assert_eq!(account("openai", "openai-main")["enabled"], true, "{accounts}");
    assert_eq!(account("openai", "openai-backup-disabled")["enabled"], false, "{accounts}");
    assert!(
        account("anthropic", "anthropic-main").is_object()
            && account("anthropic", "anthropic-main-extra-1").is_object()
    );
    assert!(account("openrouter", "openrouter-encrypted").is_null(), "not imported without the key");
    let providers = admin_get(&app, &env, "/api/providers").await;
    assert!(names(&providers, "providers", "id").contains(&"myllm".to_string()), "{providers}");
    let combos = admin_get(&app, &env, "/api/combos").await;
    let combo_names = names(&combos, "combos", "name");
    assert!(combo_names.contains(&"fast-chat".into()) && combo_names.contains(&"mixed-weighted".into()), "{combos}");
    // The legacy combo: a nested combo by bare name, weights kept, the custom node's prefix resolved.
    let nested = admin_get(&app, &env, "/api/combos/mixed-weighted").await;
    assert_eq!(nested["strategy"], "weighted", "{nested}");
    let targets: Vec<(String, u64)> = rows(&nested, "models")
        .into_iter()
        .map(|m| match m.as_str() {
            Some(plain) => (plain.to_string(), 1),
            None => (m["model"].as_str().unwrap_or("").to_string(), m["weight"].as_u64().unwrap_or(0)),
        })
        .collect();
    assert_eq!(
        targets,
        vec![
            ("fast-chat".to_string(), 1),
            ("anthropic/claude-sonnet-4-20250514".to_string(), 60),
            ("myllm/qwen2.5-coder".to_string(), 40)
        ],
        "{nested}"
    );
    let aliases = admin_get(&app, &env, "/api/aliases").await;
    assert!(aliases.to_string().contains("openai/gpt-4o-mini"), "{aliases}");
    let prices = admin_get(&app, &env, "/api/pricing?provider=anthropic").await;
    let haiku = rows(&prices, "prices").into_iter().find(|p| p["model"] == "claude-3-5-haiku-20241022").cloned();
    let haiku = haiku.unwrap_or(Value::Null);
    assert_eq!((haiku["input"].as_f64(), haiku["cache_write"].as_f64()), (Some(0.8), Some(1.0)), "{prices}");
    let keys = admin_get(&app, &env, "/api/keys").await;
    let restricted = rows(&keys, "keys").into_iter().find(|k| k["name"] == "ci-restricted").cloned();
    let restricted = restricted.unwrap_or(Value::Null);
    assert_eq!(restricted["limits"]["rpm"], 30, "the stricter of its 30 per minute and 60 per 60 s: {restricted}");
    assert_eq!(restricted["limits"]["budget"], json!({"usd": 5.0, "period": "day"}), "{restricted}");

    // The OmniRoute key opens this gateway as it was, and the imported custom provider serves.
    let body = json!({"model": "myllm/qwen2.5-coder", "messages": [{"role": "user", "content": "hi"}]});
    let url_chat = format!("{url}/v1/chat/completions");
    let r = client().post(url_chat.as_str()).bearer_auth(OMNIROUTE_KEY).send_json(&body).await.expect("send");
    assert_eq!(r.status(), 200, "the OmniRoute key and the custom provider serve");
    let got = mock.requests();
    let last = got.last().expect("the mock was asked");
    assert_eq!(last.credential().as_deref(), Some("local-fixture-key"));
    assert_eq!(last.body["model"], "qwen2.5-coder");

    // With the storage key, the encrypted account comes too; what exists already is refused, not doubled.
    let o = import(&url, &env.admin_token, dir.path(), &[], Some(STORAGE_KEY)).await;
    let t = text(&o);
    assert!(t.contains("made account openrouter/openrouter-encrypted"), "{t}");
    assert!(t.contains("refused account openai/openai-main (409)"), "{t}");
    assert!(!o.status.success(), "a refused entry makes the exit status non-zero");
    let accounts = admin_get(&app, &env, "/api/accounts").await;
    let n = accounts["accounts"].as_array().map_or(0, |l| l.iter().filter(|a| a["name"] == "openai-main").count());
    assert_eq!(n, 1, "not made twice");

    // A wrong storage key is named, and opens nothing.
    let o = import(&url, &env.admin_token, dir.path(), &["--dry-run"], Some("not the key")).await;
    assert!(text(&o).contains("does not open with the STORAGE_ENCRYPTION_KEY given"), "{}", text(&o));
    app.stop().await;
}
