//! `omnigate export FILE` / `omnigate import FILE`: the gateway's configuration as one file that
//! moves between machines with different master keys. The bundle holds providers, accounts (their
//! credentials and subscription sign-ins in plain text *inside* the bundle), combos, aliases,
//! gateway keys (digests only) with the key their digests are made under, prices, transforms,
//! settings and dashboard users, as JSON sealed with XChaCha20-Poly1305 under a key derived from a
//! passphrase (Argon2id, random salt). Import opens it, re-seals every credential under this
//! database's master key, keeps the exporter's digest key (sealed) so the keys go on matching,
//! and replaces those tables in one transaction. Usage history, health and audit stay behind.

use std::path::Path;

use actors::sql::Dialect;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, TransactionTrait};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::oauth::store::TOKENS_PURPOSE;
use crate::secrets::{MasterKey, Sealer};
use crate::store::config_sync::ACCOUNT_SECRET;
use crate::store::settings;

const FORMAT: &str = "omnigate-bundle";
const VERSION: u64 = 1;
const PURPOSE: &str = "omnigate-bundle/v1";

/// Why an export or import failed; never carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Reading or writing the file.
    #[error("{0}")]
    Io(String),
    /// Not a bundle, or one this version cannot read.
    #[error("{0}")]
    Format(String),
    /// The passphrase does not open it.
    #[error("the passphrase does not open this bundle")]
    Passphrase,
    /// A sealed value of this database could not be opened.
    #[error("a credential in this database could not be opened: {0}")]
    Unseal(String),
    /// The database refused.
    #[error("the database failed: {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// What a bundle holds, counted per table.
pub type Counts = Vec<(&'static str, usize)>;

async fn dump<E>(db: &impl ConnectionTrait) -> Result<Vec<Value>, BundleError>
where
    E: EntityTrait,
    E::Model: Serialize,
{
    E::find()
        .all(db)
        .await?
        .iter()
        .map(|m| serde_json::to_value(m).map_err(|e| BundleError::Format(e.to_string())))
        .collect()
}

async fn load<E>(db: &impl ConnectionTrait, rows: &[Value]) -> Result<usize, BundleError>
where
    E: EntityTrait,
    E::Model: DeserializeOwned + IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
{
    for v in rows {
        let m: E::Model = serde_json::from_value(v.clone()).map_err(|e| BundleError::Format(e.to_string()))?;
        E::insert(m.into_active_model().reset_all()).exec_without_returning(db).await?;
    }
    Ok(rows.len())
}

/// Rewrites `field` of each row with `f` (a sealed credential ↔ its plain text).
fn each(rows: &mut [Value], field: &str, f: &dyn Fn(&str) -> Result<String, BundleError>) -> Result<(), BundleError> {
    for r in rows {
        if let Some(s) = r.get(field).and_then(Value::as_str).map(str::to_string) {
            r[field] = json!(f(&s)?);
        }
    }
    Ok(())
}

/// Settings that belong to this database, never moved: its master-key check and digest key.
fn movable(row: &Value) -> bool {
    !matches!(row["key"].as_str(), Some(settings::MASTER_KEY_CHECK | settings::DIGEST_KEY))
}

/// The tables, in the order they are written (referenced first).
const TABLES: &[&str] = &[
    "providers",
    "accounts",
    "oauth_sessions",
    "combos",
    "combo_targets",
    "model_aliases",
    "api_keys",
    "pricing",
    "transforms",
    "settings",
    "dashboard_users",
];

/// Writes the bundle of `db` (opened with `sealer`) to `file` (a new file), sealed with
/// `passphrase`.
pub async fn export(
    db: &DatabaseConnection,
    sealer: &Sealer,
    file: &Path,
    passphrase: &str,
) -> Result<Counts, BundleError> {
    use entities::*;
    let open =
        |purpose: &'static str| move |s: &str| sealer.open(purpose, s).map_err(|e| BundleError::Unseal(e.to_string()));
    let mut accounts = dump::<account::Entity>(db).await?;
    each(&mut accounts, "secret", &open(ACCOUNT_SECRET))?;
    let mut sessions = dump::<oauth_session::Entity>(db).await?;
    each(&mut sessions, "secret", &open(TOKENS_PURPOSE))?;
    let mut settings_rows = dump::<setting::Entity>(db).await?;
    settings_rows.retain(movable);
    let tables = vec![
        dump::<provider::Entity>(db).await?,
        accounts,
        sessions,
        dump::<combo::Entity>(db).await?,
        dump::<combo_target::Entity>(db).await?,
        dump::<model_alias::Entity>(db).await?,
        dump::<api_key::Entity>(db).await?,
        dump::<pricing::Entity>(db).await?,
        dump::<transform::Entity>(db).await?,
        settings_rows,
        dump::<dashboard_user::Entity>(db).await?,
    ];
    let counts: Counts = TABLES.iter().copied().zip(tables.iter().map(Vec::len)).collect();
    let payload = json!({
        "digest_key": STANDARD.encode(sealer.digest_key()),
        "tables": TABLES.iter().zip(tables).map(|(t, rows)| (t.to_string(), Value::Array(rows))).collect::<serde_json::Map<_, _>>(),
    });
    let mut salt = [0u8; 16];
    rand::fill(&mut salt);
    let key = MasterKey::from_passphrase(passphrase, &salt).map_err(|e| BundleError::Format(e.to_string()))?;
    let sealed = Sealer::new(&key).seal(PURPOSE, &payload.to_string());
    let doc = json!({
        "format": FORMAT, "version": VERSION, "created_at": crate::store::now_ms(),
        "kdf": {"name": "argon2id", "salt": STANDARD.encode(salt)}, "counts": counts.iter().map(|(t, n)| json!({"table": t, "rows": n})).collect::<Vec<_>>(),
        "sealed": sealed,
    });
    let mut f = std::fs::OpenOptions::new();
    f.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        f.mode(0o600);
    }
    let mut out =
        f.open(file).map_err(|e| BundleError::Io(format!("{}: {e} (it must be a new file)", file.display())))?;
    std::io::Write::write_all(&mut out, doc.to_string().as_bytes())
        .map_err(|e| BundleError::Io(format!("{}: {e}", file.display())))?;
    Ok(counts)
}

/// Opens the bundle in `file` with `passphrase`: its digest key and its tables.
fn open_bundle(file: &Path, passphrase: &str) -> Result<(String, serde_json::Map<String, Value>), BundleError> {
    let text = std::fs::read_to_string(file).map_err(|e| BundleError::Io(format!("{}: {e}", file.display())))?;
    let doc: Value = serde_json::from_str(&text)
        .map_err(|_| BundleError::Format(format!("{} is not an Omnigate bundle", file.display())))?;
    if doc["format"] != FORMAT {
        return Err(BundleError::Format(format!("{} is not an Omnigate bundle", file.display())));
    }
    if doc["version"].as_u64() != Some(VERSION) {
        return Err(BundleError::Format(format!(
            "bundle version {} is not one this version reads ({VERSION})",
            doc["version"]
        )));
    }
    let salt = doc["kdf"]["salt"]
        .as_str()
        .and_then(|s| STANDARD.decode(s).ok())
        .ok_or_else(|| BundleError::Format("the bundle has no salt".into()))?;
    let key = MasterKey::from_passphrase(passphrase, &salt).map_err(|e| BundleError::Format(e.to_string()))?;
    let plain = Sealer::new(&key)
        .open(PURPOSE, doc["sealed"].as_str().unwrap_or_default())
        .map_err(|_| BundleError::Passphrase)?;
    let mut payload: Value = serde_json::from_str(&plain).map_err(|e| BundleError::Format(e.to_string()))?;
    let digest_key = payload["digest_key"].as_str().unwrap_or_default().to_string();
    let tables = payload["tables"].as_object_mut().map(std::mem::take).unwrap_or_default();
    Ok((digest_key, tables))
}

/// Replaces this database's configuration with the bundle in `file`: credentials re-sealed under
/// `sealer`'s master key, the exporter's digest key kept. One transaction: all or nothing.
pub async fn import(
    db: &DatabaseConnection,
    sealer: &Sealer,
    file: &Path,
    passphrase: &str,
) -> Result<Counts, BundleError> {
    use entities::*;
    let (digest_key, mut tables) = open_bundle(file, passphrase)?;
    if STANDARD.decode(&digest_key).map(|b| b.len()) != Ok(32) {
        return Err(BundleError::Format("the bundle's digest key is not 32 bytes".into()));
    }
    let mut rows = |t: &str| -> Vec<Value> { tables.remove(t).and_then(|v| v.as_array().cloned()).unwrap_or_default() };
    let seal = |purpose: &'static str| move |s: &str| Ok(sealer.seal(purpose, s));
    let providers = rows("providers");
    let mut accounts = rows("accounts");
    each(&mut accounts, "secret", &seal(ACCOUNT_SECRET))?;
    let mut sessions = rows("oauth_sessions");
    each(&mut sessions, "secret", &seal(TOKENS_PURPOSE))?;
    let (combos, targets, aliases, keys, prices, transforms) = (
        rows("combos"),
        rows("combo_targets"),
        rows("model_aliases"),
        rows("api_keys"),
        rows("pricing"),
        rows("transforms"),
    );
    let mut settings_rows = rows("settings");
    settings_rows.retain(movable);
    let users = rows("dashboard_users");

    let tx = db.begin().await?;
    // What the bundle replaces, dependents first (their health and quota rows go with the accounts).
    for t in [
        "oauth_sessions",
        "account_state",
        "model_lockouts",
        "quota_windows",
        "combo_targets",
        "combos",
        "accounts",
        "providers",
        "model_aliases",
        "api_keys",
        "pricing",
        "transforms",
        "dashboard_users",
    ] {
        tx.execute_unprepared(&format!("DELETE FROM {t}")).await?;
    }
    let keep = [settings::MASTER_KEY_CHECK, settings::DIGEST_KEY];
    let sql = format!("DELETE FROM settings WHERE \"key\" NOT IN ('{}', '{}')", keep[0], keep[1]);
    tx.execute_unprepared(&actors::sql::text(tx.get_database_backend(), &sql)).await?;
    let counts: Counts = vec![
        ("providers", load::<provider::Entity>(&tx, &providers).await?),
        ("accounts", load::<account::Entity>(&tx, &accounts).await?),
        ("oauth_sessions", load::<oauth_session::Entity>(&tx, &sessions).await?),
        ("combos", load::<combo::Entity>(&tx, &combos).await?),
        ("combo_targets", load::<combo_target::Entity>(&tx, &targets).await?),
        ("model_aliases", load::<model_alias::Entity>(&tx, &aliases).await?),
        ("api_keys", load::<api_key::Entity>(&tx, &keys).await?),
        ("pricing", load::<pricing::Entity>(&tx, &prices).await?),
        ("transforms", load::<transform::Entity>(&tx, &transforms).await?),
        ("settings", load::<setting::Entity>(&tx, &settings_rows).await?),
        ("dashboard_users", load::<dashboard_user::Entity>(&tx, &users).await?),
    ];
    settings::set(&tx, settings::DIGEST_KEY, &sealer.seal(settings::DIGEST_KEY, &digest_key)).await?;
    match actors::sql::Dialect::of(tx.get_database_backend()) {
        Dialect::Postgres => {
            // Rows came with their ids: the sequences continue after them.
            for t in ["accounts", "combos", "combo_targets", "api_keys", "pricing", "dashboard_users"] {
                let sql = format!(
                    "SELECT setval(pg_get_serial_sequence('{t}', 'id'), COALESCE((SELECT MAX(id) FROM {t}), 0) + 1, false)"
                );
                tx.execute_unprepared(&sql).await?;
            }
        }
        // Their AUTOINCREMENT / AUTO_INCREMENT counters move past ids inserted as they are.
        Dialect::Sqlite | Dialect::MySql => {}
    }
    tx.commit().await?;
    Ok(counts)
}
