//! Reads what the import needs from an OmniRoute SQLite database, opened read-only. Columns are
//! read by name with defaults: OmniRoute adds many of them lazily at run time, so an older
//! database lacks some (schema: `src/lib/db/core.ts` `SCHEMA_SQL`, `migrations/*.sql` and
//! `apiKeyColumnFallbacks.ts`, diegosouzapw/OmniRoute @0adae00c, v3.8.42).

use std::collections::HashMap;
use std::path::Path;

use sea_orm::{ConnectionTrait, Database, QueryResult, Statement};
use serde_json::Value;

/// A provider connection (`provider_connections`).
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub id: String,
    pub provider: String,
    /// `apikey`, `oauth` (also when empty) or `cookie`.
    pub auth_type: String,
    pub name: String,
    pub email: String,
    pub priority: i64,
    pub active: bool,
    pub api_key: Option<String>,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub expires_at: Option<String>,
    pub max_concurrent: Option<i64>,
    /// `provider_specific_data`, plain JSON.
    pub data: Value,
}

/// A custom OpenAI- or Anthropic-compatible provider (`provider_nodes`).
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub id: String,
    /// `openai-compatible` or `anthropic-compatible`.
    pub kind: String,
    pub name: String,
    pub prefix: String,
    pub api_type: String,
    pub base_url: String,
    pub custom_headers: bool,
}

/// A gateway key (`api_keys`) with its budget (`domain_budgets`).
#[derive(Debug, Clone, Default)]
pub struct Key {
    pub name: String,
    pub key: String,
    pub allowed_models: Vec<String>,
    pub usable: bool,
    pub expires_at: Option<String>,
    pub rate_limits: Vec<(i64, i64)>,
    pub per_minute: Option<i64>,
    /// USD per day, week and month (0: none).
    pub budget: [f64; 3],
    /// Restrictions this gateway has no equivalent for, named.
    pub unmapped: Vec<&'static str>,
}

/// Everything read.
#[derive(Debug, Default)]
pub struct Source {
    pub connections: Vec<Connection>,
    pub nodes: Vec<Node>,
    /// `(name, data JSON)`, in OmniRoute's order.
    pub combos: Vec<(String, Value)>,
    pub keys: Vec<Key>,
    /// `key_value` rows: `(namespace, key) → parsed JSON`.
    pub kv: Vec<(String, String, Value)>,
}

fn s(r: &QueryResult, col: &str) -> Option<String> {
    r.try_get::<Option<String>>("", col).ok().flatten().filter(|v| !v.is_empty())
}

fn i(r: &QueryResult, col: &str) -> Option<i64> {
    r.try_get::<Option<i64>>("", col).ok().flatten()
}

fn f(r: &QueryResult, col: &str) -> f64 {
    r.try_get::<Option<f64>>("", col).ok().flatten().unwrap_or(0.0)
}

fn json(text: Option<String>) -> Value {
    text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default()
}

/// Reads the database at `file` (read-only; its `-wal` beside it is read too).
pub async fn read(file: &Path) -> Result<Source, String> {
    let url = format!("sqlite://{}?mode=ro", file.display());
    let db = Database::connect(url.as_str()).await.map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    let backend = db.get_database_backend();
    let all = |sql: &str| {
        let (db, sql) = (&db, sql.to_string());
        async move { db.query_all_raw(Statement::from_string(backend, sql)).await }
    };
    let tables: Vec<String> = all("SELECT name FROM sqlite_master WHERE type = 'table'")
        .await
        .map_err(|e| format!("{} is not a SQLite database: {e}", file.display()))?
        .iter()
        .filter_map(|r| s(r, "name"))
        .collect();
    if !tables.iter().any(|t| t == "provider_connections") {
        return Err(format!("{} has no provider_connections table: not an OmniRoute database", file.display()));
    }
    let has = |t: &str| tables.iter().any(|x| x == t);
    let rows = |t: &'static str, order: &'static str| {
        let present = has(t);
        let all = &all;
        async move {
            if !present {
                return Ok(Vec::new());
            }
            all(&format!("SELECT * FROM {t} {order}")).await.map_err(|e| format!("reading {t}: {e}"))
        }
    };
    let mut src = Source::default();
    for r in rows("provider_connections", "ORDER BY provider, priority").await? {
        src.connections.push(Connection {
            id: s(&r, "id").unwrap_or_default(),
            provider: s(&r, "provider").unwrap_or_default(),
            auth_type: s(&r, "auth_type").unwrap_or_else(|| "oauth".into()),
            name: s(&r, "name").or_else(|| s(&r, "display_name")).unwrap_or_default(),
            email: s(&r, "email").unwrap_or_default(),
            priority: i(&r, "priority").unwrap_or(0),
            active: i(&r, "is_active").unwrap_or(1) != 0,
            api_key: s(&r, "api_key"),
            access_token: s(&r, "access_token"),
            refresh_token: s(&r, "refresh_token"),
            id_token: s(&r, "id_token"),
            expires_at: s(&r, "expires_at").or_else(|| s(&r, "token_expires_at")),
            max_concurrent: i(&r, "max_concurrent"),
            data: json(s(&r, "provider_specific_data")),
        });
    }
    for r in rows("provider_nodes", "ORDER BY created_at").await? {
        src.nodes.push(Node {
            id: s(&r, "id").unwrap_or_default(),
            kind: s(&r, "type").unwrap_or_default(),
            name: s(&r, "name").unwrap_or_default(),
            prefix: s(&r, "prefix").unwrap_or_default(),
            api_type: s(&r, "api_type").unwrap_or_else(|| "chat".into()),
            base_url: s(&r, "base_url").unwrap_or_default(),
            custom_headers: json(s(&r, "custom_headers_json")).as_object().is_some_and(|o| !o.is_empty()),
        });
    }
    let order = if has("combos") && all("SELECT sort_order FROM combos LIMIT 1").await.is_ok() {
        "ORDER BY sort_order, name"
    } else {
        "ORDER BY name"
    };
    for r in rows("combos", order).await? {
        src.combos.push((s(&r, "name").unwrap_or_default(), json(s(&r, "data"))));
    }
    let mut budgets: HashMap<String, [f64; 3]> = HashMap::new();
    for r in rows("domain_budgets", "").await? {
        let id = s(&r, "api_key_id").unwrap_or_default();
        budgets.insert(id, [f(&r, "daily_limit_usd"), f(&r, "weekly_limit_usd"), f(&r, "monthly_limit_usd")]);
    }
    for r in rows("api_keys", "ORDER BY created_at").await? {
        let id = s(&r, "id").unwrap_or_default();
        let mut unmapped = Vec::new();
        for (col, what) in [
            ("blocked_models", "blocked models"),
            ("allowed_combos", "allowed combos"),
            ("allowed_connections", "allowed accounts"),
            ("ip_allowlist", "IP allow-list"),
        ] {
            if !strings(&json(s(&r, col))).is_empty() {
                unmapped.push(what);
            }
        }
        if json(s(&r, "access_schedule")).get("enabled").and_then(Value::as_bool) == Some(true) {
            unmapped.push("access schedule");
        }
        if i(&r, "max_requests_per_day").is_some_and(|n| n > 0) {
            unmapped.push("requests per day");
        }
        let mut budget = budgets.remove(&id).unwrap_or_default();
        if i(&r, "usage_limit_enabled").unwrap_or(0) != 0 {
            // The key's own USD limits, beside any budget: the smaller holds.
            for (slot, col) in [(0, "daily_usage_limit_usd"), (1, "weekly_usage_limit_usd")] {
                let v = f(&r, col);
                if v > 0.0 && (budget[slot] <= 0.0 || v < budget[slot]) {
                    budget[slot] = v;
                }
            }
        }
        let rate_limits = json(s(&r, "rate_limits"))
            .as_array()
            .map(|a| a.iter().filter_map(|x| Some((x.get("limit")?.as_i64()?, x.get("window")?.as_i64()?))).collect())
            .unwrap_or_default();
        src.keys.push(Key {
            name: s(&r, "name").unwrap_or(id),
            key: s(&r, "key").unwrap_or_default(),
            allowed_models: strings(&json(s(&r, "allowed_models"))),
            usable: i(&r, "is_active").unwrap_or(1) != 0
                && i(&r, "is_banned").unwrap_or(0) == 0
                && s(&r, "revoked_at").is_none(),
            expires_at: s(&r, "expires_at"),
            rate_limits,
            per_minute: i(&r, "max_requests_per_minute").filter(|n| *n > 0),
            budget,
            unmapped,
        });
    }
    for r in rows("key_value", "ORDER BY namespace, key").await? {
        let (Some(ns), Some(key)) = (s(&r, "namespace"), s(&r, "key")) else { continue };
        if matches!(ns.as_str(), "modelAliases" | "pricing" | "customModels" | "settings") {
            src.kv.push((ns, key, json(s(&r, "value"))));
        }
    }
    db.close().await.ok();
    Ok(src)
}
