//! Test harness: databases (SQLite file, or a fresh PostgreSQL or MariaDB database per test),
//! starting the app in-process, and an HTTP client.

#![allow(dead_code)]

use std::path::PathBuf;

use omnigate::app::{self, Bootstrap, Running};
use omnigate::config::{self, Config};
use sea_orm::ConnectionTrait;

/// A test's environment: data directory and database, reused across restarts.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub db_url: String,
    pub master_key: String,
    pub admin_password: String,
    pub admin_token: String,
}

/// The PostgreSQL server URL to create per-test databases on, when testing against PostgreSQL.
pub fn pg_admin_url() -> Option<String> {
    std::env::var("OG_TEST_PG").ok().filter(|s| !s.is_empty())
}

/// A new empty PostgreSQL database on the test server; its URL.
pub async fn fresh_pg_database(admin_url: &str) -> String {
    let name = format!("og_{}", uuid::Uuid::new_v4().simple());
    let conn = sea_orm::Database::connect(admin_url).await.expect("connect to test PostgreSQL");
    conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
    conn.close().await.ok();
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin_url);
    format!("{base}/{name}")
}

/// The MariaDB server URL (`mysql://root@127.0.0.1:PORT/`) to create per-test databases on,
/// when testing against MariaDB (and not PostgreSQL).
pub fn mysql_admin_url() -> Option<String> {
    std::env::var("OG_TEST_MYSQL").ok().filter(|s| !s.is_empty())
}

/// The server the tests share state through, if any: `OG_TEST_PG`, else `OG_TEST_MYSQL`.
pub fn shared_admin_url() -> Option<String> {
    pg_admin_url().or_else(mysql_admin_url)
}

/// Whether the tests run on MariaDB.
pub fn on_mysql() -> bool {
    pg_admin_url().is_none() && mysql_admin_url().is_some()
}

/// A new empty MariaDB database (utf8mb4, binary collation) on the test server; its URL.
pub async fn fresh_mysql_database(admin_url: &str) -> String {
    let name = format!("og_{}", uuid::Uuid::new_v4().simple());
    let base = admin_url.trim_end_matches('/');
    let conn = sea_orm::Database::connect(format!("{base}/")).await.expect("connect to test MariaDB");
    conn.execute_unprepared(&format!("CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
        .await
        .expect("create database");
    conn.close().await.ok();
    format!("{base}/{name}")
}

/// A new empty database on the shared test server (PostgreSQL or MariaDB); its URL.
pub async fn fresh_shared_database(admin_url: &str) -> String {
    if admin_url.starts_with("mysql://") || admin_url.starts_with("mariadb://") {
        fresh_mysql_database(admin_url).await
    } else {
        fresh_pg_database(admin_url).await
    }
}

/// A test's own SQL (`?` placeholders, `"usage"` and `"key"` quoted ANSI-style, `AS BIGINT`
/// casts) fitted to the engine behind `db`, as the daemon's raw SQL is (`actors::sql`).
pub fn fitted(db: &impl ConnectionTrait, sql: &str) -> sea_orm::Statement {
    let backend = db.get_database_backend();
    let sql = match actors::sql::Dialect::of(backend) {
        actors::sql::Dialect::MySql => sql.replace(" AS BIGINT)", " AS SIGNED)"),
        actors::sql::Dialect::Sqlite | actors::sql::Dialect::Postgres => sql.to_string(),
    };
    actors::sql::statement(backend, &sql, vec![])
}

impl TestEnv {
    /// A temp data dir and a database: SQLite file, or a fresh PostgreSQL database when
    /// `OG_TEST_PG` is set, or a fresh MariaDB database when `OG_TEST_MYSQL` is.
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let db_url = match (pg_admin_url(), mysql_admin_url()) {
            (Some(admin), _) => fresh_pg_database(&admin).await,
            (None, Some(admin)) => fresh_mysql_database(&admin).await,
            (None, None) => format!("sqlite://{}", dir.path().join("omnigate.db").display()),
        };
        Self {
            dir,
            db_url,
            master_key: omnigate::secrets::MasterKey::generate().to_base64(),
            admin_password: "test-admin-password".into(),
            admin_token: "test-admin-token-0123456789".into(),
        }
    }

    /// Whether this environment uses SQLite.
    pub fn is_sqlite(&self) -> bool {
        self.db_url.starts_with("sqlite:")
    }

    /// The SQLite file.
    pub fn sqlite_file(&self) -> PathBuf {
        self.dir.path().join("omnigate.db")
    }

    /// Bootstrap secrets for this environment.
    pub fn bootstrap(&self) -> Bootstrap {
        Bootstrap {
            master_key: Some(self.master_key.clone()),
            admin_password: Some(self.admin_password.clone()),
            admin_token: Some(self.admin_token.clone()),
        }
    }

    /// Parses `text` and points it at this environment (ephemeral port, data dir, database).
    pub fn config(&self, text: &str) -> Config {
        let mut cfg = config::parse_str(text).expect("test config parses");
        cfg.server.port = 0;
        cfg.server.workers = 2;
        cfg.server.data_dir = Some(self.dir.path().to_path_buf());
        cfg.server.shutdown_grace_secs = 5;
        cfg.database.url = Some(self.db_url.clone());
        cfg
    }

    /// Starts the app with `text` as its config.
    pub async fn start(&self, text: &str) -> Running {
        self.start_with(self.config(text), self.bootstrap()).await
    }

    /// Starts the app with an explicit config and bootstrap.
    pub async fn start_with(&self, cfg: Config, boot: Bootstrap) -> Running {
        let _ = rustls::crypto::ring::default_provider().install_default();
        app::start(cfg, boot).await.expect("app starts")
    }
}

/// The base URL of a running app.
pub fn base(r: &Running) -> String {
    format!("http://{}", r.addr)
}

/// An HTTP client without a total timeout (streams may be long).
pub fn client() -> awc::Client {
    awc::Client::builder().disable_timeout().finish()
}

/// Reads a whole response body as JSON.
pub async fn json_body<S>(resp: &mut awc::ClientResponse<S>) -> serde_json::Value
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, awc::error::PayloadError>> + Unpin,
{
    let body = resp.body().limit(64 * 1024 * 1024).await.expect("body");
    serde_json::from_slice(&body).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&body)))
}

/// The issue's example configuration, with the mock provider at `mock_base`.
pub fn example_config(mock_base: &str) -> String {
    format!(
        r#"
[server]
host = "127.0.0.1"
port = 20128

[auth]
require_api_key = true

[[keys]]
name = "ci"
key = "sk-og-ci-0001"
models = ["*"]

[[providers]]
id = "mock"
dialect = "openai-chat"
base_url = "{mock_base}"
models = ["mock-model"]

[[accounts]]
provider = "mock"
name = "mock-a"
api_key = "upstream-secret-a"
"#
    )
}

/// A config with one custom OpenAI-dialect provider `mock` at `base` and one account per
/// `(name, api_key)`, the key `sk-og-ci-0001` allowed everything, plus `extra` TOML.
pub fn mock_config(base: &str, accounts: &[(&str, &str)], extra: &str) -> String {
    let mut s = format!(
        r#"
[[keys]]
name = "ci"
key = "sk-og-ci-0001"

[[providers]]
id = "mock"
dialect = "openai-chat"
base_url = "{base}"
models = ["mock-model"]
"#
    );
    for (name, key) in accounts {
        s.push_str(&format!("\n[[accounts]]\nprovider = \"mock\"\nname = \"{name}\"\napi_key = \"{key}\"\n"));
    }
    // Sections must come before the arrays of tables in TOML, so `extra` goes first.
    format!("{extra}\n{s}")
}

/// POSTs JSON with the CI key.
pub async fn post(
    app: &Running,
    path: &str,
    body: serde_json::Value,
) -> awc::ClientResponse<impl futures_util::Stream<Item = Result<bytes::Bytes, awc::error::PayloadError>> + Unpin + use<>>
{
    client()
        .post(format!("{}{path}", base(app)))
        .bearer_auth("sk-og-ci-0001")
        .send_json(&body)
        .await
        .expect("request sent")
}

/// Reads a whole SSE response as text.
pub async fn text_body<S>(resp: &mut awc::ClientResponse<S>) -> String
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, awc::error::PayloadError>> + Unpin,
{
    let body = resp.body().limit(64 * 1024 * 1024).await.expect("body");
    String::from_utf8_lossy(&body).into_owned()
}

/// The `data:` payloads of an SSE text, parsed (`[DONE]` kept as a string).
pub fn sse_data(text: &str) -> Vec<serde_json::Value> {
    text.split("\n\n")
        .filter_map(|ev| ev.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap_or_else(|_| serde_json::Value::String(d.to_string())))
        .collect()
}

/// A header of a response as a string.
pub fn header<S>(resp: &awc::ClientResponse<S>, name: &str) -> String {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

/// GETs an admin route with the management token.
pub async fn admin_get(app: &Running, env: &TestEnv, path: &str) -> serde_json::Value {
    let mut r = client().get(format!("{}{path}", base(app))).bearer_auth(&env.admin_token).send().await.expect("send");
    assert_eq!(r.status(), 200, "GET {path}");
    json_body(&mut r).await
}

/// Waits until `f` holds (polling), up to `secs`; callers give 10 s or more, as a busy CI machine
/// can be slow and a condition that holds returns at once.
pub async fn eventually<F: FnMut() -> Fut, Fut: std::future::Future<Output = bool>>(secs: u64, mut f: F) -> bool {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < until {
        if f().await {
            return true;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    false
}

/// The usage rows recorded so far (after a flush).
pub async fn usage_rows(app: &Running) -> Vec<entities::usage::Model> {
    app.state.runtime.flush_usage().await;
    use sea_orm::{EntityTrait, QueryOrder};
    entities::usage::Entity::find().order_by_asc(entities::usage::Column::Id).all(&app.state.db).await.expect("usage")
}

/// Writes usage rows straight to the database, and adds them to the rollups as the usage writer
/// would have (the summary reads whole hours and days from those).
pub async fn seed_usage(db: &sea_orm::DatabaseConnection, rows: Vec<entities::usage::ActiveModel>) {
    use sea_orm::{EntityTrait, QueryOrder};
    let last = entities::usage::Entity::find()
        .order_by_desc(entities::usage::Column::Id)
        .one(db)
        .await
        .expect("the last usage row")
        .map_or(0, |r| r.id);
    for chunk in rows.chunks(500) {
        entities::usage::Entity::insert_many(chunk.to_vec()).exec(db).await.expect("seed usage rows");
    }
    actors::usage::rollup::add_rows(db, last).await.expect("add the seeded rows to the rollups");
}

/// A TCP port free on loopback right now (for a daemon the test spawns).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

/// Waits until a daemon on `port` answers `/health` with 200 (up to 10 s).
pub async fn wait_healthy(port: u16) {
    for _ in 0..200 {
        if let Ok(r) = client().get(format!("http://127.0.0.1:{port}/health")).send().await
            && r.status() == 200
        {
            return;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the daemon did not become healthy");
}

/// A plain served usage row at `ts` (written straight to a database by tests of retention).
pub fn usage_row_at(ts: i64, request_id: &str) -> entities::usage::ActiveModel {
    use sea_orm::ActiveValue::Set;
    entities::usage::ActiveModel {
        ts: Set(ts),
        request_id: Set(request_id.into()),
        client_dialect: Set("openai-chat".into()),
        model: Set("mock/mock-model".into()),
        status: Set(200),
        input_tokens: Set(0),
        output_tokens: Set(0),
        cache_read_tokens: Set(0),
        cache_write_tokens: Set(0),
        reasoning_tokens: Set(0),
        total_tokens: Set(0),
        cost_usd: Set(None),
        list_cost_usd: Set(None),
        cost_source: Set("unpriced".into()),
        latency_ms: Set(1),
        streamed: Set(false),
        attempts: Set(1),
        ..Default::default()
    }
}
