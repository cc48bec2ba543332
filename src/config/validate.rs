//! Second phase of loading: cross-checks between sections and against the provider catalog.

use std::collections::HashSet;

use super::{Config, ConfigError};
use crate::providers::Catalog;

fn bad(key: String, message: impl Into<String>) -> ConfigError {
    ConfigError::Key { key, message: message.into() }
}

/// A provider or combo id: lowercase letters, digits and `-_.`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

fn valid_base_url(url: &str) -> bool {
    (url.starts_with("http://") || url.starts_with("https://")) && url.len() > "https://".len()
}

/// Checks references and values serde cannot check alone.
pub fn validate(cfg: &Config, catalog: &Catalog) -> Result<(), ConfigError> {
    if cfg.routing.sticky_limit == 0 {
        return Err(bad("routing.sticky_limit".into(), "must be at least 1"));
    }
    if cfg.routing.max_attempts == 0 {
        return Err(bad("routing.max_attempts".into(), "must be at least 1"));
    }
    if !(cfg.routing.quota_near_limit > 0.0 && cfg.routing.quota_near_limit <= 1.0) {
        return Err(bad("routing.quota_near_limit".into(), "must be above 0 and at most 1 (a share of the window)"));
    }
    if let Some(z) = &cfg.budgets.time_zone
        && let Err(e) = crate::limits::Zone::parse(z)
    {
        return Err(bad("budgets.time_zone".into(), &e));
    }
    if cfg.log.max_size_mb == 0 {
        return Err(bad("log.max_size_mb".into(), "must be at least 1"));
    }
    if cfg.usage.batch_size == 0 {
        return Err(bad("usage.batch_size".into(), "must be at least 1"));
    }
    if let Some(url) = &cfg.database.url
        && !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || crate::db::is_mysql(url))
    {
        return Err(bad(
            "database.url".into(),
            "must start with sqlite:, postgres://, postgresql://, mysql:// or mariadb://",
        ));
    }

    for (i, t) in cfg.thinking.iter().enumerate() {
        if t.models.is_empty() {
            return Err(bad(format!("thinking[{i}].models"), "must list at least one provider/model pattern"));
        }
        match (t.mode, t.budget) {
            (crate::config::ThinkingMode::Budget, None) => {
                return Err(bad(format!("thinking[{i}].budget"), "is required with mode = \"budget\""));
            }
            (crate::config::ThinkingMode::Budget, Some(b)) if b < 1024 => {
                return Err(bad(format!("thinking[{i}].budget"), "must be at least 1024"));
            }
            (crate::config::ThinkingMode::Passthrough | crate::config::ThinkingMode::Off, Some(_)) => {
                return Err(bad(format!("thinking[{i}].budget"), "only goes with mode = \"budget\""));
            }
            _ => {}
        }
    }

    if let Some(url) = &cfg.budgets.webhook
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(bad("budgets.webhook".into(), "must be an http:// or https:// URL"));
    }
    let mut teams = HashSet::new();
    for (i, t) in cfg.teams.iter().enumerate() {
        if t.name.trim().is_empty() || !teams.insert(t.name.as_str()) {
            return Err(bad(format!("teams[{i}].name"), "must be non-empty and unique"));
        }
        if let Some((field, message)) = t.limits().problem() {
            return Err(bad(format!("teams[{i}].{field}"), message));
        }
    }
    let mut names = HashSet::new();
    for (i, k) in cfg.keys.iter().enumerate() {
        if let Some(team) = &k.team
            && !teams.contains(team.as_str())
        {
            return Err(bad(format!("keys[{i}].team"), format!("no [[teams]] entry is named `{team}`")));
        }
        if let Some((field, message)) = k.limits().problem() {
            return Err(bad(format!("keys[{i}].{field}"), message));
        }
        if k.name.trim().is_empty() || !names.insert(k.name.as_str()) {
            return Err(bad(format!("keys[{i}].name"), "must be non-empty and unique"));
        }
        if k.key.len() < 8 || k.key.chars().any(char::is_whitespace) {
            return Err(bad(format!("keys[{i}].key"), "must be at least 8 characters without spaces"));
        }
        if k.models.is_empty() {
            return Err(bad(format!("keys[{i}].models"), "must allow at least one pattern (\"*\" for all)"));
        }
    }

    let mut custom = HashSet::new();
    for (i, p) in cfg.providers.iter().enumerate() {
        if !valid_id(&p.id) {
            return Err(bad(format!("providers[{i}].id"), "use lowercase letters, digits and -_."));
        }
        if p.id == "demo" || catalog.get(&p.id).is_some() {
            return Err(bad(
                format!("providers[{i}].id"),
                format!("`{}` is a built-in provider; add [[accounts]] for it instead", p.id),
            ));
        }
        if !custom.insert(p.id.as_str()) {
            return Err(bad(format!("providers[{i}].id"), "duplicate provider id"));
        }
        if !valid_base_url(&p.base_url) {
            return Err(bad(format!("providers[{i}].base_url"), "must be an http:// or https:// URL"));
        }
        for (j, m) in p.models.iter().enumerate() {
            let at = format!("providers[{i}].models[{j}]");
            if m.id().trim().is_empty() {
                return Err(bad(at, "needs an `id`"));
            }
            if let crate::config::ModelSpec::Full { max_output, price, per_image, per_second, per_character, .. } = m {
                if *max_output == Some(0) {
                    return Err(bad(format!("{at}.max_output"), "must be at least 1"));
                }
                for (k, v) in [("per_image", per_image), ("per_second", per_second), ("per_character", per_character)] {
                    if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
                        return Err(bad(format!("{at}.{k}"), "must be a finite number of USD per unit, 0 or more"));
                    }
                }
                if !price.is_empty() && !(2..=4).contains(&price.len()) {
                    return Err(bad(
                        format!("{at}.price"),
                        "give USD per million tokens: [input, output] or [input, output, cache read(, cache write)]",
                    ));
                }
                if price.iter().any(|x| !x.is_finite() || *x < 0.0) {
                    return Err(bad(format!("{at}.price"), "prices must be finite and not negative"));
                }
            }
        }
    }

    let mut accounts = HashSet::new();
    for (i, a) in cfg.accounts.iter().enumerate() {
        let builtin = catalog.get(&a.provider);
        let known = custom.contains(a.provider.as_str()) || builtin.is_some() || a.provider == "demo";
        if !known {
            return Err(bad(
                format!("accounts[{i}].provider"),
                format!("unknown provider `{}` (not in [[providers]] nor the built-in catalog)", a.provider),
            ));
        }
        if a.name.trim().is_empty() || !accounts.insert((a.provider.as_str(), a.name.as_str())) {
            return Err(bad(format!("accounts[{i}].name"), "must be non-empty and unique per provider"));
        }
        if let Some(url) = &a.base_url
            && !valid_base_url(url)
        {
            return Err(bad(format!("accounts[{i}].base_url"), "must be an http:// or https:// URL"));
        }
        if builtin.is_some_and(|p| p.base_url.is_empty()) && a.base_url.is_none() {
            return Err(bad(format!("accounts[{i}].base_url"), "required for this provider"));
        }
        if a.weight == 0 {
            return Err(bad(format!("accounts[{i}].weight"), "must be at least 1"));
        }
        check_oauth(i, a)?;
    }

    let mut combos = HashSet::new();
    for (i, c) in cfg.combos.iter().enumerate() {
        if !valid_id(&c.name) || !combos.insert(c.name.as_str()) {
            return Err(bad(format!("combos[{i}].name"), "must be a unique id (lowercase, digits, -_.)"));
        }
        if c.models.is_empty() {
            return Err(bad(format!("combos[{i}].models"), "needs at least one target"));
        }
        for (j, t) in c.models.iter().enumerate() {
            if t.model().trim().is_empty() {
                return Err(bad(format!("combos[{i}].models[{j}]"), "a target is a non-empty model string"));
            }
            if t.weight() == 0 {
                return Err(bad(format!("combos[{i}].models[{j}].weight"), "must be at least 1"));
            }
        }
    }
    let graph: std::collections::HashMap<&str, Vec<&str>> =
        cfg.combos.iter().map(|c| (c.name.as_str(), c.models.iter().map(|t| t.model()).collect())).collect();
    if let Err(e) = super::nesting::check(&graph) {
        let i = cfg.combos.iter().position(|c| c.name == e.combo).unwrap_or(0);
        return Err(bad(format!("combos[{i}].models"), e.message));
    }
    let mut transforms = HashSet::new();
    for (i, t) in cfg.transforms.iter().enumerate() {
        if let Some((field, message)) = t.problem() {
            return Err(bad(format!("transforms[{i}].{field}"), message));
        }
        if !transforms.insert(t.name.as_str()) {
            return Err(bad(format!("transforms[{i}].name"), "must be unique"));
        }
    }
    for (i, a) in cfg.aliases.iter().enumerate() {
        if a.alias.is_empty() || a.target.is_empty() {
            return Err(bad(format!("aliases[{i}]"), "alias and target must be non-empty"));
        }
    }
    Ok(())
}

/// A subscription account's `oauth` seed and overrides; API keys belong to other providers.
fn check_oauth(i: usize, a: &super::AccountEntry) -> Result<(), ConfigError> {
    let subscription = crate::oauth::Kind::parse(&a.provider).is_some();
    if subscription && a.api_key.is_some() {
        return Err(bad(
            format!("accounts[{i}].api_key"),
            "a subscription account signs in (`omnigate accounts login`) or takes `oauth` tokens, not an API key",
        ));
    }
    let Some(o) = &a.oauth else { return Ok(()) };
    let at = |k: &str| format!("accounts[{i}].oauth.{k}");
    if !subscription {
        return Err(bad(
            format!("accounts[{i}].oauth"),
            "only subscription providers (claude-code, codex, gemini-cli, github-copilot, qwen-code) sign in with OAuth",
        ));
    }
    if o.access_token.is_some() && o.refresh_token.is_none() && a.provider != "github-copilot" {
        // An access token alone works until it expires; allowed, but it must say when.
        if o.expires_at.is_none() {
            return Err(bad(at("expires_at"), "required with an access token that has no refresh token"));
        }
    }
    if let Some(t) = &o.expires_at
        && crate::oauth::import::parse_time(t).is_none()
    {
        return Err(bad(at("expires_at"), "must be an RFC 3339 time, e.g. 2026-12-31T12:00:00Z"));
    }
    for (k, v) in [
        ("token_url", &o.token_url),
        ("authorize_url", &o.authorize_url),
        ("device_url", &o.device_url),
        ("device_token_url", &o.device_token_url),
        ("usage_url", &o.usage_url),
    ] {
        if let Some(url) = v
            && !valid_base_url(url)
        {
            return Err(bad(at(k), "must be an http:// or https:// URL"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;

    fn check(text: &str) -> Result<(), String> {
        let catalog = Catalog::builtin()?;
        let cfg = parse_str(text).map_err(|e| e.to_string())?;
        validate(&cfg, &catalog).map_err(|e| e.to_string())
    }

    #[test]
    fn issue_example_is_valid() {
        let text = r#"
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
base_url = "http://127.0.0.1:18080/v1"
models = ["mock-model"]
[[accounts]]
provider = "mock"
name = "mock-a"
api_key = "upstream-secret-a"
"#;
        assert_eq!(check(text), Ok(()));
    }

    #[test]
    fn transforms_are_checked_and_named() {
        assert_eq!(check("[[transforms]]\nname = 't'\nmodel = 'gpt-*'\nset = { temperature = 0.2 }\n"), Ok(()));
        let err = check("[[transforms]]\nname = 't'\nset = { model = 'x' }\n").err().unwrap_or_default();
        assert!(err.contains("transforms[0].set"), "{err}");
        let err = check("[[transforms]]\nname = 't'\n[[transforms]]\nname = 't'\n").err().unwrap_or_default();
        assert!(err.contains("transforms[1].name"), "{err}");
        let err = check("[[transforms]]\nname = 't'\nheaders = { 'bad header' = 'x' }\n").err().unwrap_or_default();
        assert!(err.contains("transforms[0].headers"), "{err}");
        let err = check("[[transforms]]\nname = 't'\nsystem_mode = 'sideways'\n").err().unwrap_or_default();
        assert!(err.contains("sideways") || err.contains("system_mode"), "{err}");
    }

    #[test]
    fn unknown_provider_is_named() {
        let err = check("[[accounts]]\nprovider = \"mokc\"\nname = \"a\"\n").err().unwrap_or_default();
        assert!(err.contains("accounts[0].provider") && err.contains("mokc"), "{err}");
    }

    #[test]
    fn oauth_seeds_are_checked() {
        let ok = "[[accounts]]\nprovider='claude-code'\nname='max'\noauth={access_token='a',refresh_token='r',expires_at='2026-12-31T12:00:00Z'}\n";
        assert_eq!(check(ok), Ok(()));
        let err =
            check("[[accounts]]\nprovider='openai'\nname='a'\noauth={refresh_token='r'}\n").err().unwrap_or_default();
        assert!(err.contains("accounts[0].oauth"), "{err}");
        let err = check("[[accounts]]\nprovider='cc'\nname='a'\noauth={refresh_token='r',expires_at='tomorrow'}\n")
            .err()
            .unwrap_or_default();
        assert!(err.contains("accounts[0].oauth.expires_at"), "{err}");
        let err = check("[[accounts]]\nprovider='codex'\nname='a'\noauth={refresh_token='r',token_url='ftp://x'}\n")
            .err()
            .unwrap_or_default();
        assert!(err.contains("accounts[0].oauth.token_url"), "{err}");
        let err = check("[routing]\nquota_near_limit = 1.5\n").err().unwrap_or_default();
        assert!(err.contains("routing.quota_near_limit"), "{err}");
    }

    #[test]
    fn builtin_ids_cannot_be_redeclared_and_generic_needs_url() {
        let err =
            check("[[providers]]\nid='openai'\ndialect='openai-chat'\nbase_url='http://x'\n").err().unwrap_or_default();
        assert!(err.contains("providers[0].id"), "{err}");
        let err = check("[[accounts]]\nprovider='openai-compatible'\nname='a'\n").err().unwrap_or_default();
        assert!(err.contains("accounts[0].base_url"), "{err}");
    }
}
