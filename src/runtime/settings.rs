//! The settings that can change while the daemon runs (`[routing]`, `[resilience]`, `[upstream]`,
//! `[usage]`): the config file's values with the admin API's stored overrides on top, read and
//! validated exactly as the file is (serde with the key's path, then `config::validate`), and
//! what each actor is built with from them. It never touches the database itself.

use std::time::Duration;

use actors::executor::ExecutorConfig;
use actors::outcome::ResiliencePolicy;
use actors::usage::actor::WriterConfig;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::{Config, ConfigError, ResilienceConfig, RoutingConfig, UpstreamConfig, UsageConfig};
use crate::providers::Catalog;

/// The sections the admin API may edit; everything else is read at start only.
pub const EDITABLE: [&str; 4] = ["routing", "resilience", "upstream", "usage"];

/// Settings that only take effect after a restart. Every editable key applies live today (a new
/// connect timeout or pool size gets each worker a new upstream client at its next attempt), so
/// this is empty; it is part of the API's answer so a client need not guess.
pub const RESTART_REQUIRED: [&str; 0] = [];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Sections {
    routing: RoutingConfig,
    resilience: ResilienceConfig,
    upstream: UpstreamConfig,
    usage: UsageConfig,
}

fn key_error(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Key { key: key.into(), message: message.into() }
}

/// The editable sections of `cfg` as JSON.
pub fn sections(cfg: &Config) -> Value {
    let v = |r: Result<Value, serde_json::Error>| r.unwrap_or(Value::Null);
    json!({
        "routing": v(serde_json::to_value(&cfg.routing)),
        "resilience": v(serde_json::to_value(&cfg.resilience)),
        "upstream": v(serde_json::to_value(&cfg.upstream)),
        "usage": v(serde_json::to_value(&cfg.usage)),
    })
}

/// The file's config with `overrides` applied, validated as a config file is. An error names the
/// key (`routing.sticky_limit`).
pub fn effective(file: &Config, overrides: &Map<String, Value>, catalog: &Catalog) -> Result<Config, ConfigError> {
    let mut all = sections(file);
    for (section, keys) in overrides {
        let Some(keys) = keys.as_object() else {
            return Err(key_error(section.as_str(), "must be an object of keys"));
        };
        let Some(target) = all.get_mut(section).and_then(Value::as_object_mut) else {
            return Err(key_error(section.as_str(), not_editable(section)));
        };
        for (k, v) in keys {
            target.insert(k.clone(), v.clone());
        }
    }
    let s: Sections = serde_path_to_error::deserialize(all)
        .map_err(|e| key_error(e.path().to_string(), e.into_inner().to_string()))?;
    let mut cfg = file.clone();
    cfg.routing = s.routing;
    cfg.resilience = s.resilience;
    cfg.upstream = s.upstream;
    cfg.usage = s.usage;
    crate::config::validate(&cfg, catalog)?;
    Ok(cfg)
}

fn not_editable(section: &str) -> String {
    format!(
        "`{section}` cannot be edited at run time (editable: {}); change it in the config file and restart",
        EDITABLE.join(", ")
    )
}

/// `overrides` with a PATCH body applied: `{"routing": {"strategy": "p2c", "sticky_limit": null}}`
/// sets `strategy` and removes the `sticky_limit` override (the file's value applies again).
pub fn merge(overrides: &Map<String, Value>, patch: &Value) -> Result<Map<String, Value>, ConfigError> {
    let Some(patch) = patch.as_object() else {
        return Err(key_error("(body)", "expected an object of sections, e.g. {\"routing\": {\"strategy\": \"p2c\"}}"));
    };
    let mut out = overrides.clone();
    for (section, keys) in patch {
        if !EDITABLE.contains(&section.as_str()) {
            return Err(key_error(section.as_str(), not_editable(section)));
        }
        let Some(keys) = keys.as_object() else {
            return Err(key_error(section.as_str(), "must be an object of keys"));
        };
        let mut entry = match out.remove(section) {
            Some(Value::Object(m)) => m,
            Some(_) | None => Map::new(),
        };
        for (k, v) in keys {
            if v.is_null() {
                entry.remove(k);
            } else {
                entry.insert(k.clone(), v.clone());
            }
        }
        if !entry.is_empty() {
            out.insert(section.clone(), Value::Object(entry));
        }
    }
    Ok(out)
}

/// The resilience policy of a config.
pub fn policy(cfg: &Config) -> ResiliencePolicy {
    let r = &cfg.resilience;
    let ms = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    ResiliencePolicy {
        cooldown_base_ms: ms(r.cooldown_base_ms),
        cooldown_max_ms: ms(r.cooldown_max_ms),
        retry_after_max_ms: ms(r.retry_after_max_secs.saturating_mul(1000)),
        breaker_threshold: r.breaker_threshold.max(1),
        breaker_open_ms: ms(r.breaker_open_ms),
        breaker_open_max_ms: ms(r.breaker_open_max_ms),
        model_lock_ms: ms(r.model_lock_ms),
        account_fault_threshold: r.account_fault_threshold.max(1),
    }
}

/// The upstream timeouts and limits of a config.
pub fn executor_config(cfg: &Config) -> ExecutorConfig {
    let u = &cfg.upstream;
    ExecutorConfig {
        connect: Duration::from_millis(u.connect_timeout_ms),
        first_byte: Duration::from_millis(u.first_byte_timeout_ms),
        idle: Duration::from_millis(u.idle_timeout_ms),
        total: Duration::from_millis(u.total_timeout_ms),
        max_connections: u.max_connections,
        max_response_bytes: u.max_response_mib.saturating_mul(1024 * 1024),
    }
}

/// The usage writer's settings of a config.
pub fn writer_config(cfg: &Config) -> WriterConfig {
    WriterConfig {
        enabled: cfg.usage.enabled,
        batch_size: cfg.usage.batch_size,
        flush_interval: Duration::from_millis(cfg.usage.flush_interval_ms.max(10)),
        retention_days: cfg.usage.retention_days,
        hold_rows: cfg.usage.hold_rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::builtin().unwrap_or_else(|e| panic!("{e}"))
    }

    fn err_key(r: Result<Config, ConfigError>) -> String {
        match r {
            Err(ConfigError::Key { key, .. }) => key,
            Err(e) => format!("other error: {e}"),
            Ok(_) => "accepted".into(),
        }
    }

    #[test]
    fn overrides_apply_over_the_file_and_null_removes_one() -> Result<(), ConfigError> {
        let file = Config::default();
        let o = merge(&Map::new(), &json!({"routing": {"strategy": "p2c", "sticky_limit": 9}}))?;
        let cfg = effective(&file, &o, &catalog())?;
        assert_eq!((cfg.routing.strategy, cfg.routing.sticky_limit), (actors::Strategy::P2c, 9));
        let o = merge(&o, &json!({"routing": {"sticky_limit": null}}))?;
        assert_eq!(effective(&file, &o, &catalog())?.routing.sticky_limit, file.routing.sticky_limit);
        let o = merge(&o, &json!({"routing": {"strategy": null}}))?;
        assert!(o.is_empty(), "{o:?}");
        Ok(())
    }

    #[test]
    fn bad_values_are_named_by_their_key() {
        let c = catalog();
        let file = Config::default();
        let try_patch = |p: Value| {
            let o = merge(&Map::new(), &p).map_err(|e| e.to_string()).unwrap_or_default();
            err_key(effective(&file, &o, &c))
        };
        assert_eq!(try_patch(json!({"routing": {"sticky_limit": 0}})), "routing.sticky_limit");
        assert_eq!(try_patch(json!({"routing": {"strategy": "fastest"}})), "routing.strategy");
        assert_eq!(try_patch(json!({"upstream": {"idle_timeout_ms": -1}})), "upstream.idle_timeout_ms");
        assert_eq!(try_patch(json!({"usage": {"batch_size": 0}})), "usage.batch_size");
        assert_eq!(try_patch(json!({"usage": {"batchsize": 5}})), "usage.batchsize");
        assert!(
            matches!(merge(&Map::new(), &json!({"server": {"port": 1}})), Err(ConfigError::Key { key, .. }) if key == "server")
        );
    }
}
