//! OpenCode's global config `~/.config/opencode/opencode.json` (`$XDG_CONFIG_HOME`), as
//! https://opencode.ai/docs/providers/#custom-provider and the schema at
//! https://opencode.ai/config.json describe a custom provider: `provider.<id>` with `npm`
//! (`@ai-sdk/openai-compatible`), `name`, `options.baseURL`, `options.apiKey` and `models`,
//! chosen by the top-level `model` (`<provider>/<model>`). `OPENCODE_CONFIG_CONTENT` takes the
//! same JSON inline (sst/opencode `packages/opencode/src/config/config.ts`), which `run` uses.

use serde_json::{Map, Value, json};

use super::{Found, RunEnv, Target, json_child, json_object, json_text, same_url};

/// Where this format is documented.
pub const SOURCE: &str = "https://opencode.ai/docs/providers/#custom-provider";
/// Shown with the snippet.
pub const NOTE: &str = "Pick the model in OpenCode with /models (it is listed under Omnigate); other models of the gateway can be added under provider.omnigate.models.";

/// Our provider's id.
pub const PROVIDER_ID: &str = "omnigate";
const SCHEMA: &str = "https://opencode.ai/config.json";

/// `opencode.json` with our provider (models added to the ones already listed) and, with a
/// model, the top-level `model`.
pub fn merge(existing: Option<&str>, t: &Target) -> Result<String, String> {
    let what = "OpenCode's opencode.json";
    let mut root = json_object(existing, what)?;
    root.entry("$schema".to_string()).or_insert_with(|| json!(SCHEMA).into());
    let ours = json_child(json_child(&mut root, "provider", what)?, PROVIDER_ID, what)?;
    ours.insert("npm".into(), json!("@ai-sdk/openai-compatible").into());
    ours.insert("name".into(), json!("Omnigate").into());
    let options = json_child(ours, "options", what)?;
    options.insert("baseURL".into(), json!(t.v1()).into());
    options.insert("apiKey".into(), json!(t.key).into());
    let models = json_child(ours, "models", what)?;
    if let Some(m) = &t.model {
        models.entry(m.clone()).or_insert_with(|| json!({ "name": m }).into());
    }
    if let Some(m) = &t.model {
        root.insert("model".into(), json!(format!("{PROVIDER_ID}/{m}")).into());
    }
    Ok(json_text(root))
}

/// The key and model of our provider entry, when it points at `url`.
pub fn found(text: &str, url: &str) -> Found {
    let Ok(Value::Object(root)) = serde_json::from_str::<Value>(text) else { return Found::default() };
    let ours = &root.get("provider").and_then(|p| p.get(PROVIDER_ID)).cloned().unwrap_or(Value::Null);
    let base = ours["options"]["baseURL"].as_str().unwrap_or_default();
    if !same_url(base, &format!("{}/v1", url.trim_end_matches('/'))) {
        return Found::default();
    }
    let model = root.get("model").and_then(Value::as_str).and_then(|m| m.strip_prefix("omnigate/"));
    Found { key: ours["options"]["apiKey"].as_str().map(str::to_string), model: model.map(str::to_string) }
}

/// The provider JSON inline in `OPENCODE_CONFIG_CONTENT` (merged over the user's files).
pub fn run_env(t: &Target) -> RunEnv {
    let text = merge(None, t).unwrap_or_default();
    let compact =
        serde_json::from_str::<Map<String, Value>>(&text).map(|m| Value::Object(m).to_string()).unwrap_or(text);
    RunEnv { set: vec![("OPENCODE_CONFIG_CONTENT".into(), compact)], unset: vec![], args: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_is_merged_and_models_kept() {
        let t = Target { url: "http://h:1".into(), key: "sk-og-k".into(), model: Some("m".into()) };
        let before = r#"{"theme":"x","provider":{"omnigate":{"models":{"old":{"name":"old"}}}}}"#;
        let text = merge(Some(before), &t).unwrap_or_else(|e| panic!("{e}"));
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["theme"], "x");
        assert_eq!(v["model"], "omnigate/m");
        assert!(
            v["provider"]["omnigate"]["models"]["old"].is_object()
                && v["provider"]["omnigate"]["models"]["m"].is_object()
        );
        assert_eq!(found(&text, "http://h:1"), Found { key: Some("sk-og-k".into()), model: Some("m".into()) });
        let env = run_env(&t);
        assert!(env.set[0].1.contains("\"baseURL\":\"http://h:1/v1\""), "{:?}", env.set);
    }
}
