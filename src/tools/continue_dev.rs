//! Continue's global `~/.continue/config.yaml` (`$CONTINUE_GLOBAL_DIR`), as
//! https://docs.continue.dev/reference (config.yaml: `name`, `version`, `schema: v1`, `models`
//! with `name`, `provider`, `model`, `apiBase`, `apiKey`, `roles`) and
//! https://docs.continue.dev/customize/model-providers/top-level/openai (an OpenAI-compatible
//! server through `provider: openai` and `apiBase`) describe it. Our model is the entry named
//! `Omnigate`; the user's other entries and keys stay (YAML comments do not: the backup has them).

use serde_norway::{Mapping, Value};

use super::{Found, Target, same_url, yaml_mapping, yaml_text};

/// Where this format is documented.
pub const SOURCE: &str = "https://docs.continue.dev/reference";
/// Shown with the snippet.
pub const NOTE: &str = "Continue reloads config.yaml on save; pick \"Omnigate\" in its model list. \
     Comments in an existing config.yaml are not kept (the backup has them).";

/// The name of our entry in `models`.
pub const ENTRY: &str = "Omnigate";

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn entry(t: &Target) -> Value {
    let mut m = Mapping::new();
    m.insert(s("name"), s(ENTRY));
    m.insert(s("provider"), s("openai"));
    m.insert(s("model"), s(&t.model_or_placeholder()));
    m.insert(s("apiBase"), s(&t.v1()));
    m.insert(s("apiKey"), s(&t.key));
    m.insert(s("roles"), Value::Sequence(vec![s("chat"), s("edit"), s("apply")]));
    Value::Mapping(m)
}

/// `config.yaml` with our model entry (replaced in place when present, else appended).
pub fn merge(existing: Option<&str>, t: &Target) -> Result<String, String> {
    let what = "Continue's config.yaml";
    let mut root = yaml_mapping(existing, what)?;
    for (k, v) in [("name", "Local config"), ("version", "1.0.0"), ("schema", "v1")] {
        if !root.contains_key(k) {
            root.insert(s(k), s(v));
        }
    }
    let models = root.entry(s("models")).or_insert_with(|| Value::Sequence(Vec::new()));
    if models.is_null() {
        *models = Value::Sequence(Vec::new());
    }
    let models = models
        .as_sequence_mut()
        .ok_or("`models` in Continue's config.yaml is not a list; fix or move it, then run setup again")?;
    match models.iter_mut().find(|m| m.get("name").and_then(Value::as_str) == Some(ENTRY)) {
        Some(slot) => *slot = entry(t),
        None => models.push(entry(t)),
    }
    yaml_text(root, what)
}

/// The key and model of our entry, when it points at `url`.
pub fn found(text: &str, url: &str) -> Found {
    let Ok(root) = yaml_mapping(Some(text), "") else { return Found::default() };
    let Some(models) = root.get("models").and_then(Value::as_sequence) else { return Found::default() };
    let v1 = format!("{}/v1", url.trim_end_matches('/'));
    let ours = models.iter().find(|m| {
        m.get("name").and_then(Value::as_str) == Some(ENTRY)
            && m.get("apiBase").and_then(Value::as_str).is_some_and(|b| same_url(b, &v1))
    });
    match ours {
        Some(m) => {
            let get = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
            Found { key: get("apiKey"), model: get("model") }
        }
        None => Found::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_entry_is_replaced_in_place() {
        let t = Target { url: "http://h:1".into(), key: "sk-og-k".into(), model: Some("m".into()) };
        let before = "name: Mine\nversion: 0.0.1\nschema: v1\nmodels:\n  - name: Local\n    provider: ollama\n    model: llama\n";
        let text = merge(Some(before), &t).unwrap_or_else(|e| panic!("{e}"));
        let v: Value = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["name"].as_str(), Some("Mine"));
        assert_eq!(v["models"][0]["name"].as_str(), Some("Local"));
        assert_eq!(v["models"][1]["apiBase"].as_str(), Some("http://h:1/v1"));
        assert_eq!(merge(Some(&text), &t).as_deref(), Ok(text.as_str()));
        assert_eq!(found(&text, "http://h:1"), Found { key: Some("sk-og-k".into()), model: Some("m".into()) });
    }
}
