//! Foundation: config as code, sealing at rest, key digests, wrong master key, admin auth,
//! migrations up/down/up, and the binary's command line (bad config, lock, SIGTERM).

use std::process::Command;
use std::time::Duration;

use migration::{Migrator, Trait as _};
use omnigate::app::Bootstrap;
use omnigate::store::config_sync::ACCOUNT_SECRET;
use sea_orm::{ConnectionTrait, EntityTrait, Statement};

use crate::support::{TestEnv, base, client, example_config, free_port, json_body};

const BIN: &str = env!("CARGO_BIN_EXE_omnigate");

async fn table_count(conn: &sea_orm::DatabaseConnection) -> i64 {
    let sql = match conn.get_database_backend() {
        sea_orm::DbBackend::Sqlite => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations'"
        }
        sea_orm::DbBackend::MySql => {
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema=DATABASE() AND table_name <> 'seaql_migrations'"
        }
        _ => {
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema='public' AND table_name <> 'seaql_migrations'"
        }
    };
    let row = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .expect("count query")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}

#[actix_web::test]
async fn migrations_go_up_down_and_up_again() {
    let env = TestEnv::new().await;
    // One connection: each step sees the schema the one before left (with two, a SQLite
    // connection still reading the old schema once saw a dropped index as still there).
    let db = omnigate::db::connect(&env.db_url, 1, false).await.expect("connect");
    Migrator::up(&db.conn, None).await.expect("up");
    assert_eq!(table_count(&db.conn).await, 28);
    Migrator::down(&db.conn, None).await.expect("down");
    assert_eq!(table_count(&db.conn).await, 0);
    Migrator::up(&db.conn, None).await.expect("up again");
    assert_eq!(table_count(&db.conn).await, 28);
}

#[actix_web::test]
async fn config_entries_are_sealed_at_rest_and_read_back_after_restart() {
    let env = TestEnv::new().await;
    let text = example_config("http://127.0.0.1:9/v1");
    let app = env.start(&text).await;
    let conn = app.state.db.clone();
    let accounts = entities::account::Entity::find().all(&conn).await.expect("accounts");
    assert_eq!(accounts.len(), 1);
    let sealed = accounts[0].secret.clone().expect("sealed secret");
    assert!(!sealed.contains("upstream-secret-a"));
    let keys = entities::api_key::Entity::find().all(&conn).await.expect("keys");
    assert_eq!(keys.len(), 1, "no generated key when the config declares one");
    assert!(!keys[0].digest.contains("sk-og-ci-0001"));
    assert!(app.state.keys.check(&app.state.sealer, "sk-og-ci-0001").is_some());
    assert!(app.state.keys.check(&app.state.sealer, "sk-og-ci-0002").is_none());
    app.stop().await;

    if env.is_sqlite() {
        // Everything is in the main file after the shutdown checkpoint; grep it raw.
        let mut raw = std::fs::read(env.sqlite_file()).expect("db file");
        raw.extend(std::fs::read(env.sqlite_file().with_extension("db-wal")).unwrap_or_default());
        for needle in [&b"upstream-secret-a"[..], b"sk-og-ci-0001", b"test-admin-password"] {
            assert!(
                !raw.windows(needle.len()).any(|w| w == needle),
                "plaintext {:?} in the database file",
                String::from_utf8_lossy(needle)
            );
        }
    } else {
        let db = omnigate::db::connect(&env.db_url, 1, false).await.expect("connect");
        for needle in ["upstream-secret-a", "sk-og-ci-0001"] {
            let sql = format!(
                "SELECT COUNT(*) AS n FROM accounts a, api_keys k WHERE a.secret LIKE '%{needle}%' OR k.digest LIKE '%{needle}%' OR k.prefix LIKE '%{needle}%'"
            );
            let row = db
                .conn
                .query_one_raw(Statement::from_string(db.conn.get_database_backend(), sql))
                .await
                .expect("q")
                .expect("row");
            assert_eq!(row.try_get::<i64>("", "n").expect("n"), 0, "plaintext {needle} in PostgreSQL");
        }
    }

    // Restart with the same master key: same rows (idempotent sync), secrets readable.
    let app = env.start(&text).await;
    let again = entities::account::Entity::find().all(&app.state.db).await.expect("accounts");
    assert_eq!(again, accounts, "a second start with the same config changes nothing");
    let opened = app.state.sealer.open(ACCOUNT_SECRET, again[0].secret.as_deref().expect("secret")).expect("opens");
    assert_eq!(opened, "upstream-secret-a");
    assert!(app.state.keys.check(&app.state.sealer, "sk-og-ci-0001").is_some());
    app.stop().await;
}

#[actix_web::test]
async fn config_as_code_follows_the_file() {
    let env = TestEnv::new().await;
    let text = example_config("http://127.0.0.1:9/v1");
    let app = env.start(&text).await;
    app.stop().await;
    // Change the key and the account's secret, drop nothing: rows are updated in place.
    let changed = text.replace("sk-og-ci-0001", "sk-og-ci-0002").replace("upstream-secret-a", "upstream-secret-b");
    let app = env.start(&changed).await;
    assert!(app.state.keys.check(&app.state.sealer, "sk-og-ci-0001").is_none());
    assert!(app.state.keys.check(&app.state.sealer, "sk-og-ci-0002").is_some());
    let accounts = entities::account::Entity::find().all(&app.state.db).await.expect("accounts");
    assert_eq!(accounts.len(), 1);
    assert_eq!(
        app.state.sealer.open(ACCOUNT_SECRET, accounts[0].secret.as_deref().expect("s")).expect("open"),
        "upstream-secret-b"
    );
    app.stop().await;
    // Remove the key and account from the file: the account goes, the key is revoked.
    let without = changed.split("[[keys]]").next().unwrap_or_default().to_string()
        + "[[providers]]\nid = \"mock\"\ndialect = \"openai-chat\"\nbase_url = \"http://127.0.0.1:9/v1\"\n";
    let app = env.start(&without).await;
    assert!(app.state.keys.check(&app.state.sealer, "sk-og-ci-0002").is_none());
    assert!(entities::account::Entity::find().all(&app.state.db).await.expect("accounts").is_empty());
    app.stop().await;
}

#[actix_web::test]
async fn wrong_or_missing_master_key_is_a_clear_startup_error() {
    let env = TestEnv::new().await;
    let text = example_config("http://127.0.0.1:9/v1");
    env.start(&text).await.stop().await;
    let cfg = env.config(&text);
    let wrong = Bootstrap { master_key: Some(omnigate::secrets::MasterKey::generate().to_base64()), ..env.bootstrap() };
    let err = omnigate::app::start(cfg.clone(), wrong).await.err().expect("refused").to_string();
    assert!(err.contains("master key does not open"), "{err}");
    let missing = Bootstrap { master_key: None, ..env.bootstrap() };
    let err = omnigate::app::start(cfg, missing).await.err().expect("refused").to_string();
    assert!(err.contains("no master key was found"), "{err}");
}

#[actix_web::test]
async fn admin_api_refuses_gateway_keys_and_anonymous_callers() {
    let env = TestEnv::new().await;
    let app = env.start(&example_config("http://127.0.0.1:9/v1")).await;
    let url = format!("{}/api/keys", base(&app));
    let c = client();
    let r = c.get(&url).send().await.expect("send");
    assert_eq!(r.status(), 401);
    let mut r = c.get(&url).insert_header(("authorization", "Bearer sk-og-ci-0001")).send().await.expect("send");
    assert_eq!(r.status(), 401);
    assert_eq!(json_body(&mut r).await["error"]["type"], "authentication_error");
    let r = c.get(&url).insert_header(("x-api-key", "sk-og-ci-0001")).send().await.expect("send");
    assert_eq!(r.status(), 401);

    // The management token opens it.
    let mut r = c.get(&url).bearer_auth(&env.admin_token).send().await.expect("send");
    assert_eq!(r.status(), 200);
    let keys = json_body(&mut r).await;
    assert_eq!(keys[0]["name"], "ci");
    assert!(!keys.to_string().contains("sk-og-ci-0001"), "a listed key never shows the key");

    // A wrong password is refused; the right one yields a session cookie that opens the API.
    let r = c
        .post(format!("{}/api/login", base(&app)))
        .send_json(&serde_json::json!({"password": "nope"}))
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    let r = c
        .post(format!("{}/api/login", base(&app)))
        .send_json(&serde_json::json!({"password": env.admin_password}))
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let set_cookie = r.headers().get("set-cookie").and_then(|v| v.to_str().ok()).expect("cookie").to_string();
    assert!(set_cookie.starts_with("omnigate_session=") && set_cookie.contains("HttpOnly"), "{set_cookie}");
    let pair = set_cookie.split(';').next().expect("pair").to_string();
    let r = c.get(&url).insert_header(("cookie", pair)).send().await.expect("send");
    assert_eq!(r.status(), 200);

    // A key created through the API is shown once and then works for clients.
    let mut r = c
        .post(&url)
        .bearer_auth(&env.admin_token)
        .send_json(&serde_json::json!({"name": "new", "models": ["mock/*"]}))
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    let created = json_body(&mut r).await;
    let key = created["key"].as_str().expect("key").to_string();
    let info = app.state.keys.check(&app.state.sealer, &key).expect("new key active");
    assert!(info.allows("mock/mock-model") && !info.allows("openai/gpt-4o"));
    let r = c.delete(format!("{url}/new")).bearer_auth(&env.admin_token).send().await.expect("send");
    assert_eq!(r.status(), 200);
    assert!(app.state.keys.check(&app.state.sealer, &key).is_none());
    app.stop().await;
}

#[actix_web::test]
async fn health_reports_version_uptime_and_database() {
    let env = TestEnv::new().await;
    let app = env.start(&example_config("http://127.0.0.1:9/v1")).await;
    let mut r = client().get(format!("{}/health", base(&app))).send().await.expect("send");
    assert_eq!(r.status(), 200);
    let h = json_body(&mut r).await;
    assert_eq!(h["status"], "ok");
    assert_eq!(h["database"], "ok");
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));
    app.stop().await;
}

#[test]
fn malformed_config_names_the_key_and_exits_non_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[server]\nhost = \"127.0.0.1\"\nprot = 1\n").expect("write");
    let out = Command::new(BIN).args(["check-config", "--config"]).arg(&file).output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.prot"), "{err}");

    std::fs::write(&file, "[[accounts]]\nprovider = \"nope\"\nname = \"a\"\n").expect("write");
    let out = Command::new(BIN).args(["check-config", "--config"]).arg(&file).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("accounts[0].provider"));

    let out = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .arg("--config")
        .arg(&file)
        .output()
        .expect("run");
    assert!(!out.status.success(), "serve refuses a bad config");

    std::fs::write(&file, example_config("http://127.0.0.1:9/v1")).expect("write");
    let out = Command::new(BIN).args(["check-config", "--config"]).arg(&file).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn wait_for_health(port: u16) -> bool {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn second_daemon_on_the_same_data_dir_fails_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut first = Command::new(BIN)
        .args(["serve", "--port", &port.to_string(), "--data-dir"])
        .arg(dir.path())
        .env_remove("DATABASE_URL")
        .env("OMNIGATE_ADMIN_PASSWORD", "pw-for-this-test")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    assert!(wait_for_health(port), "first daemon listens");

    let out = Command::new(BIN)
        .args(["serve", "--port", &free_port().to_string(), "--data-dir"])
        .arg(dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .expect("run second");
    assert!(!out.status.success(), "second daemon must refuse");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another Omnigate is already using"), "{err}");

    // SIGTERM: graceful stop, exit 0, WAL folded into the main file.
    let pid = first.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(killed.success());
    let status = first.wait().expect("wait");
    assert!(status.success(), "exit status {status:?}");
    let wal = dir.path().join("omnigate.db-wal");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_len, 0, "WAL checkpointed on shutdown");
    let mut stderr = String::new();
    use std::io::Read;
    first.stderr.take().expect("stderr").read_to_string(&mut stderr).ok();
    assert!(stderr.contains("omnigate stopped"), "{stderr}");
    assert!(stderr.contains("generated a new master key"), "the log says the key was generated");
    assert!(!stderr.contains("pw-for-this-test"), "the admin password never reaches the log");
}

#[test]
fn keys_cli_creates_lists_and_revokes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| {
        Command::new(BIN).args(args).arg("--data-dir").arg(dir.path()).env_remove("DATABASE_URL").output().expect("run")
    };
    // A data dir with no database: refused, never a fresh database with a key no daemon knows.
    let out = run(&["keys", "create", "--name", "laptop"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no Omnigate database at") && err.contains("--data-dir"), "{err}");
    assert!(!dir.path().join("omnigate.db").exists(), "nothing was created");
    let out = run(&["migrate"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["keys", "create", "--name", "laptop", "--models", "mock/*,openai/gpt-4?"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(key.starts_with("sk-og-"), "{key}");
    let out = run(&["keys", "list"]);
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains("laptop") && list.contains("mock/*,openai/gpt-4?") && !list.contains(&key), "{list}");
    let out = run(&["keys", "create", "--name", "laptop"]);
    assert!(!out.status.success(), "duplicate name refused");
    let out = run(&["keys", "revoke", "laptop"]);
    assert!(out.status.success());
    let out = run(&["keys", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked"));
    let out = run(&["keys", "revoke", "laptop"]);
    assert!(!out.status.success());
}
