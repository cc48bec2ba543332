//! Codex CLI's `config.toml` (`~/.codex/config.toml`, or `$CODEX_HOME/config.toml`): a
//! `[model_providers.omnigate]` entry as `ModelProviderInfo` in openai/codex
//! `codex-rs/core/src/model_provider_info.rs` reads it (`name`, `base_url`, `wire_api`,
//! `experimental_bearer_token`), selected by the top-level `model_provider`, and `model`.
//! Merged with `toml_edit`, so the user's comments, order and formatting stay.

use toml_edit::{DocumentMut, Item, Table, value};

use super::{Found, RunEnv, Target, same_url};

/// Where this format is documented.
pub const SOURCE: &str = "https://github.com/openai/codex/blob/main/codex-rs/core/src/model_provider_info.rs";
/// Shown with the snippet.
pub const NOTE: &str = "Codex speaks the Responses API (wire_api = \"responses\"), which Omnigate serves at /v1/responses. \
     `omnigate run codex` passes the same provider as -c overrides, with the key in OMNIGATE_API_KEY.";

/// Our provider's id in `model_providers`.
pub const PROVIDER_ID: &str = "omnigate";

/// `config.toml` with our provider and the top-level keys that select it.
pub fn merge(existing: Option<&str>, t: &Target) -> Result<String, String> {
    let mut doc: DocumentMut = existing
        .unwrap_or("")
        .parse()
        .map_err(|e| format!("Codex's config.toml is not valid TOML ({e}); fix or move it, then run setup again"))?;
    doc["model_provider"] = value(PROVIDER_ID);
    if let Some(m) = &t.model {
        doc["model"] = value(m.as_str());
    }
    let providers = doc.entry("model_providers").or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    let providers = providers
        .as_table_like_mut()
        .ok_or("`model_providers` in Codex's config.toml is not a table; fix or move it, then run setup again")?;
    let ours = providers.entry(PROVIDER_ID).or_insert(Item::Table(Table::new()));
    let ours = ours
        .as_table_like_mut()
        .ok_or("`model_providers.omnigate` in Codex's config.toml is not a table; fix or move it")?;
    ours.insert("name", value("Omnigate"));
    ours.insert("base_url", value(t.v1()));
    ours.insert("wire_api", value("responses"));
    // Codex 0.171+ then talks to /v1/responses over a WebSocket (Omnigate serves both; the
    // real CLI's test in tests/it/responses_ws.rs runs with this flag).
    ours.insert("supports_websockets", value(true));
    ours.insert("experimental_bearer_token", value(t.key.as_str()));
    Ok(doc.to_string())
}

/// The key and model of our provider entry, when it points at `url`.
pub fn found(text: &str, url: &str) -> Found {
    let Ok(doc) = text.parse::<DocumentMut>() else { return Found::default() };
    let Some(ours) = doc.get("model_providers").and_then(|p| p.get(PROVIDER_ID)) else { return Found::default() };
    let base = ours.get("base_url").and_then(Item::as_str).unwrap_or_default();
    if !same_url(base, &format!("{}/v1", url.trim_end_matches('/'))) {
        return Found::default();
    }
    let selected = doc.get("model_provider").and_then(Item::as_str) == Some(PROVIDER_ID);
    Found {
        key: ours.get("experimental_bearer_token").and_then(Item::as_str).map(str::to_string),
        model: doc.get("model").and_then(Item::as_str).filter(|_| selected).map(str::to_string),
    }
}

/// The variable `omnigate run codex` hands the key over in (named by the provider's `env_key`).
pub const KEY_VAR: &str = "OMNIGATE_API_KEY";

/// For `omnigate run codex`: the same provider through Codex's `-c key=value` overrides (values
/// are TOML), its key read from `OMNIGATE_API_KEY` (`env_key`), so no secret is on the command
/// line and no file is touched. (`OPENAI_BASE_URL` would do for the built-in provider, but a
/// ChatGPT sign-in of Codex wins over an API key there.)
pub fn run_env(t: &Target) -> RunEnv {
    let provider = format!(
        "model_providers.{PROVIDER_ID}={{ name = \"Omnigate\", base_url = {}, wire_api = \"responses\", supports_websockets = true, env_key = \"{KEY_VAR}\" }}",
        toml_edit::Value::from(t.v1())
    );
    let mut args = vec!["-c".to_string(), format!("model_provider=\"{PROVIDER_ID}\""), "-c".to_string(), provider];
    if let Some(m) = &t.model {
        args.extend(["-c".to_string(), format!("model={}", toml_edit::Value::from(m.as_str()))]);
    }
    RunEnv { set: vec![(KEY_VAR.into(), t.key.clone())], unset: vec![], args }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_is_merged_keeping_comments() {
        let t = Target { url: "http://h:1".into(), key: "sk-og-k".into(), model: Some("m".into()) };
        let before = "# mine\nmodel_reasoning_effort = \"high\" # keep\n\n[mcp_servers.x]\ncommand = \"y\"\n";
        let text = merge(Some(before), &t).unwrap_or_else(|e| panic!("{e}"));
        assert!(text.starts_with("# mine\nmodel_reasoning_effort = \"high\" # keep\n"), "{text}");
        let v: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(v["model_provider"].as_str(), Some("omnigate"));
        assert_eq!(v["model_providers"]["omnigate"]["base_url"].as_str(), Some("http://h:1/v1"));
        assert_eq!(v["mcp_servers"]["x"]["command"].as_str(), Some("y"));
        assert_eq!(merge(Some(&text), &t).as_deref(), Ok(text.as_str()), "twice changes nothing");
        assert_eq!(found(&text, "http://h:1"), Found { key: Some("sk-og-k".into()), model: Some("m".into()) });
    }

    #[test]
    fn run_passes_the_provider_as_overrides_and_the_key_in_the_environment() {
        let t = Target { url: "http://h:1".into(), key: "sk-og-k".into(), model: Some("p/m".into()) };
        let env = run_env(&t);
        assert_eq!(env.set, vec![(KEY_VAR.to_string(), "sk-og-k".to_string())]);
        assert!(!env.args.iter().any(|a| a.contains("sk-og-k")), "no secret on the command line");
        // Each -c value is TOML: parsed as Codex parses it, it is our provider.
        let values: Vec<&String> = env.args.iter().skip(1).step_by(2).collect();
        let doc: toml::Table = toml::from_str(&values.iter().map(|v| format!("{v}\n")).collect::<String>())
            .unwrap_or_else(|e| panic!("{e}: {values:?}"));
        assert_eq!(doc["model_provider"].as_str(), Some("omnigate"));
        assert_eq!(doc["model"].as_str(), Some("p/m"));
        assert_eq!(doc["model_providers"]["omnigate"]["base_url"].as_str(), Some("http://h:1/v1"));
        assert_eq!(doc["model_providers"]["omnigate"]["env_key"].as_str(), Some(KEY_VAR));
    }
}
