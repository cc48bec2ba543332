//! aider's YAML config `~/.aider.conf.yml`, https://aider.chat/docs/config/aider_conf.html (each
//! key is a command-line option without its dashes) with an OpenAI-compatible server as
//! https://aider.chat/docs/llms/openai-compat.html describes it: `openai-api-base`,
//! `openai-api-key`, and `model` prefixed with `openai/`. The user's other keys stay (YAML
//! comments do not: the backup has them).

use serde_norway::Value;

use super::{Found, RunEnv, Target, same_url, yaml_mapping, yaml_text};

/// Where this format is documented.
pub const SOURCE: &str = "https://aider.chat/docs/llms/openai-compat.html";
/// Shown with the snippet.
pub const NOTE: &str = "aider may warn that it does not know the model's context size; the warning is harmless \
     (--no-show-model-warnings hides it). A .aider.conf.yml in your repository wins over this one.";

const BASE: &str = "openai-api-base";
const KEY: &str = "openai-api-key";
const MODEL: &str = "model";

/// `.aider.conf.yml` with our three keys.
pub fn merge(existing: Option<&str>, t: &Target) -> Result<String, String> {
    let what = "aider's .aider.conf.yml";
    let mut root = yaml_mapping(existing, what)?;
    let s = |v: &str| Value::String(v.to_string());
    root.insert(s(BASE), s(&t.v1()));
    root.insert(s(KEY), s(&t.key));
    if let Some(m) = &t.model {
        root.insert(s(MODEL), s(&format!("openai/{m}")));
    }
    yaml_text(root, what)
}

/// The key and model, when the file's API base is `url`.
pub fn found(text: &str, url: &str) -> Found {
    let Ok(root) = yaml_mapping(Some(text), "") else { return Found::default() };
    let get = |k: &str| root.get(k).and_then(Value::as_str).map(str::to_string);
    match get(BASE) {
        Some(base) if same_url(&base, &format!("{}/v1", url.trim_end_matches('/'))) => Found {
            key: get(KEY),
            model: get(MODEL).map(|m| m.strip_prefix("openai/").map(str::to_string).unwrap_or(m)),
        },
        Some(_) | None => Found::default(),
    }
}

/// aider reads `OPENAI_API_BASE` and `OPENAI_API_KEY`, and every option as `AIDER_<OPTION>`.
pub fn run_env(t: &Target) -> RunEnv {
    let mut set = vec![("OPENAI_API_BASE".to_string(), t.v1()), ("OPENAI_API_KEY".to_string(), t.key.clone())];
    if let Some(m) = &t.model {
        set.push(("AIDER_MODEL".into(), format!("openai/{m}")));
    }
    RunEnv { set, unset: vec![], args: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_keys_are_merged() {
        let t = Target { url: "http://h:1".into(), key: "sk-og-k".into(), model: Some("p/m".into()) };
        let text = merge(Some("dark-mode: true\n"), &t).unwrap_or_else(|e| panic!("{e}"));
        let v: Value = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["dark-mode"].as_bool(), Some(true));
        assert_eq!(v["model"].as_str(), Some("openai/p/m"));
        assert_eq!(found(&text, "http://h:1"), Found { key: Some("sk-og-k".into()), model: Some("p/m".into()) });
    }
}
