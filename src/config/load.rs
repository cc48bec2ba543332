//! Layering: defaults → file → `OMNIGATE_*` environment → CLI flags, with errors that name the key.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use super::Config;

/// Environment variables read elsewhere (secrets and bootstrap), never config keys.
const RESERVED_ENV: &[&str] = &[
    "OMNIGATE_CONFIG",
    "OMNIGATE_MASTER_KEY",
    "OMNIGATE_ADMIN_PASSWORD",
    "OMNIGATE_ADMIN_TOKEN",
    "OMNIGATE_ALLOCATOR_TUNED",
];

/// Short environment names for the most used keys, besides `OMNIGATE_<SECTION>__<KEY>`.
const SHORTHAND_ENV: &[(&str, &str)] = &[
    ("OMNIGATE_HOST", "server.host"),
    ("OMNIGATE_PORT", "server.port"),
    ("OMNIGATE_DATA_DIR", "server.data_dir"),
    ("OMNIGATE_WORKERS", "server.workers"),
    ("OMNIGATE_REQUIRE_API_KEY", "auth.require_api_key"),
    ("OMNIGATE_LOG_FORMAT", "log.format"),
    ("OMNIGATE_LOG_LEVEL", "log.level"),
    ("DATABASE_URL", "database.url"),
];

/// Why a configuration could not be loaded; the message names the file, key or variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A key is unknown or has the wrong type.
    #[error("invalid config key `{key}`: {message}")]
    Key {
        /// Dotted path of the key (`server.port`, `accounts[0].provider`).
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// An environment variable does not map to a config key.
    #[error("unknown environment variable {name}: not a config key (use OMNIGATE_<SECTION>__<KEY>)")]
    UnknownEnv {
        /// The variable.
        name: String,
    },
}

/// The inputs of `load`: the file, the environment and the CLI overrides.
#[derive(Debug, Default, Clone)]
pub struct LoadOptions {
    /// Config file, if any.
    pub file: Option<PathBuf>,
    /// Environment variables to apply (normally `std::env::vars()`).
    pub env: Vec<(String, String)>,
    /// CLI overrides as `(dotted key, TOML value)`.
    pub overrides: Vec<(String, Value)>,
}

/// Parses a config text alone (no environment), for tests and `check-config`.
pub fn parse_str(text: &str) -> Result<Config, ConfigError> {
    let table = parse_table(text, Path::new("<inline>"))?;
    // A config text stands for a file: it owns the entries it declares.
    deserialize(table).map(|cfg| Config { from_file: true, ..cfg })
}

/// Loads the layered configuration, secret references resolved.
pub fn load(opts: &LoadOptions) -> Result<Config, ConfigError> {
    let (mut table, from_env) = layered(opts)?;
    super::secret_ref::resolve(&mut table, &opts.env, opts.file.as_deref())?;
    typed(table, &from_env, opts.file.is_some())
}

/// The layered configuration without its runtime entries (keys, providers, accounts, ...), so
/// without their secrets: what a command that only talks to the daemon needs (its address). It
/// owns no entries (`from_file` is false), so it can never make a start-up sync remove any.
pub fn load_without_entries(opts: &LoadOptions) -> Result<Config, ConfigError> {
    let (mut table, from_env) = layered(opts)?;
    for entries in ["keys", "providers", "accounts", "combos", "aliases", "thinking"] {
        table.remove(entries);
    }
    typed(table, &from_env, false)
}

/// The config paths the environment set, each with its variable.
type FromEnv<'a> = Vec<(String, &'a str)>;

/// File, environment and overrides merged into one table; which paths the environment set.
fn layered(opts: &LoadOptions) -> Result<(Table, FromEnv<'_>), ConfigError> {
    let mut table = match &opts.file {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.clone(), source })?;
            parse_table(&text, path)?
        }
        None => Table::new(),
    };
    let defaults = Value::try_from(Config::default()).unwrap_or(Value::Table(Table::new()));
    let mut from_env: Vec<(String, &str)> = Vec::new();
    for (name, raw) in &opts.env {
        if let Some(path) = env_key(name)? {
            let value = typed_value(&defaults, &path, raw);
            set_path(&mut table, &path, value);
            from_env.push((path, name));
        }
    }
    for (path, value) in &opts.overrides {
        set_path(&mut table, path, value.clone());
    }
    Ok((table, from_env))
}

fn typed(table: Table, from_env: &[(String, &str)], from_file: bool) -> Result<Config, ConfigError> {
    deserialize(table).map(|cfg| Config { from_file, ..cfg }).map_err(|e| match e {
        // A bad key that came from the environment names the variable a person typed.
        ConfigError::Key { key, message } => {
            let var = from_env.iter().find(|(path, _)| {
                *path == key || path.starts_with(&format!("{key}.")) || key.starts_with(&format!("{path}."))
            });
            match var {
                Some((_, name)) => ConfigError::Key { key, message: format!("{message} (set by {name})") },
                None => ConfigError::Key { key, message },
            }
        }
        other @ (ConfigError::Read { .. } | ConfigError::Syntax { .. } | ConfigError::UnknownEnv { .. }) => other,
    })
}

fn parse_table(text: &str, path: &Path) -> Result<Table, ConfigError> {
    text.parse::<Table>().map_err(|e| ConfigError::Syntax { path: path.to_path_buf(), message: e.to_string() })
}

fn deserialize(table: Table) -> Result<Config, ConfigError> {
    serde_path_to_error::deserialize(Value::Table(table)).map_err(|e| {
        let key = e.path().to_string();
        ConfigError::Key { key, message: e.into_inner().to_string() }
    })
}

/// Maps an environment variable to a dotted config path, `None` when it is not ours.
fn env_key(name: &str) -> Result<Option<String>, ConfigError> {
    if let Some((_, path)) = SHORTHAND_ENV.iter().find(|(n, _)| *n == name) {
        return Ok(Some((*path).to_string()));
    }
    let Some(rest) = name.strip_prefix("OMNIGATE_") else {
        return Ok(None);
    };
    if RESERVED_ENV.contains(&name) {
        return Ok(None);
    }
    if !rest.contains("__") {
        return Err(ConfigError::UnknownEnv { name: name.to_string() });
    }
    Ok(Some(rest.split("__").map(str::to_ascii_lowercase).collect::<Vec<_>>().join(".")))
}

/// Reads an environment string as the type the default has at that path (strings stay strings).
fn typed_value(defaults: &Value, path: &str, raw: &str) -> Value {
    let mut node = Some(defaults);
    for part in path.split('.') {
        node = node.and_then(|n| n.get(part));
    }
    match node {
        Some(Value::String(_)) => Value::String(raw.to_string()),
        _ => format!("v = {raw}")
            .parse::<Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| Value::String(raw.to_string())),
    }
}

fn set_path(table: &mut Table, path: &str, value: Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut cur = table;
    for part in parts {
        let entry = cur.entry(part.to_string()).or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        let Value::Table(next) = entry else { return };
        cur = next;
    }
    cur.insert(last.to_string(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn unknown_key_is_named_with_its_path() {
        let err = parse_str("[server]\nprot = 1\n").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("server.prot") || err.contains("`prot`"), "{err}");
        let err = parse_str("[[accounts]]\nprovider='x'\nname='a'\napi_kye='k'\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("accounts[0]") && err.contains("api_kye"), "{err}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = parse_str("[server]\nport = \"high\"\n").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("server.port"), "{err}");
    }

    #[test]
    fn env_overrides_file_and_flags_override_env() -> Result<(), ConfigError> {
        let dir = std::env::temp_dir().join(format!("og-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        let file = dir.join("c.toml");
        std::fs::write(&file, "[server]\nport = 1000\nhost = \"0.0.0.0\"\n").ok();
        let cfg = load(&LoadOptions {
            file: Some(file.clone()),
            env: env(&[("OMNIGATE_PORT", "2000"), ("OMNIGATE_LOG__FORMAT", "json"), ("HOME", "/x")]),
            overrides: vec![],
        })?;
        assert_eq!(cfg.server.port, 2000);
        assert_eq!(cfg.server.host, "0.0.0.0");
        assert_eq!(cfg.log.format, super::super::LogFormat::Json);
        let cfg = load(&LoadOptions {
            file: Some(file),
            env: env(&[("OMNIGATE_PORT", "2000")]),
            overrides: vec![("server.port".into(), Value::Integer(3000))],
        })?;
        assert_eq!(cfg.server.port, 3000);
        Ok(())
    }

    #[test]
    fn string_env_values_stay_strings() -> Result<(), ConfigError> {
        let cfg = load(&LoadOptions {
            env: env(&[("OMNIGATE_SERVER__HOST", "10"), ("DATABASE_URL", "postgres://u@h/db")]),
            ..Default::default()
        })?;
        assert_eq!(cfg.server.host, "10");
        assert_eq!(cfg.database.url.as_deref(), Some("postgres://u@h/db"));
        Ok(())
    }

    #[test]
    fn unknown_env_is_an_error_naming_it() {
        let err = load(&LoadOptions { env: env(&[("OMNIGATE_PROT", "1")]), ..Default::default() })
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("OMNIGATE_PROT"), "{err}");
        let err = load(&LoadOptions { env: env(&[("OMNIGATE_SERVER__PROT", "1")]), ..Default::default() })
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("server.prot"), "{err}");
        // A misspelt section names the variable too, not only the key derived from it.
        let err = load(&LoadOptions { env: env(&[("OMNIGATE_ROUTNG__STRATEGY", "p2c")]), ..Default::default() })
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("OMNIGATE_ROUTNG__STRATEGY"), "{err}");
        let err = load(&LoadOptions { env: env(&[("OMNIGATE_SERVER__PORT", "http")]), ..Default::default() })
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("OMNIGATE_SERVER__PORT") && err.contains("server.port"), "{err}");
    }

    #[test]
    fn default_toml_documents_exactly_the_defaults() -> Result<(), ConfigError> {
        let text = include_str!("../../config/default.toml");
        // A config text stands for a file (it owns its entries); the values are the defaults.
        assert_eq!(parse_str(text)?, Config { from_file: true, ..Config::default() });
        Ok(())
    }
}
