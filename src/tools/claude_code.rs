//! Claude Code's user settings, https://docs.anthropic.com/en/docs/claude-code/settings (the
//! `env` block of `~/.claude/settings.json`, or `$CLAUDE_CONFIG_DIR/settings.json`) and its
//! model variables, https://docs.anthropic.com/en/docs/claude-code/model-config: the gateway's
//! root URL in `ANTHROPIC_BASE_URL` (Claude Code appends `/v1/messages`), the key in
//! `ANTHROPIC_AUTH_TOKEN` (sent as `Authorization: Bearer`). Only those keys are ours.

use serde_json::Value;

use super::{Found, RunEnv, Target, json_child, json_object, json_text, same_url};

/// Where this format is documented.
pub const SOURCE: &str = "https://docs.anthropic.com/en/docs/claude-code/settings";
/// Shown with the snippet.
pub const NOTE: &str = "Claude Code reads the env block at start; restart it. A settings value wins over the same variable in your shell. \
     With --model, every model alias (opus, sonnet, haiku) goes to that model.";

const BASE_URL: &str = "ANTHROPIC_BASE_URL";
const AUTH_TOKEN: &str = "ANTHROPIC_AUTH_TOKEN";
const MODEL: &str = "ANTHROPIC_MODEL";
const ALIASES: [&str; 3] =
    ["ANTHROPIC_DEFAULT_OPUS_MODEL", "ANTHROPIC_DEFAULT_SONNET_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL"];

/// The variables we set, in order.
fn vars(t: &Target) -> Vec<(String, String)> {
    let mut v = vec![(BASE_URL.to_string(), t.url.clone()), (AUTH_TOKEN.to_string(), t.key.clone())];
    if let Some(m) = &t.model {
        v.push((MODEL.to_string(), m.clone()));
        v.extend(ALIASES.iter().map(|a| (a.to_string(), m.clone())));
    }
    v
}

/// `settings.json` with our variables in its `env` block.
pub fn merge(existing: Option<&str>, t: &Target) -> Result<String, String> {
    let what = "Claude Code's settings.json";
    let mut root = json_object(existing, what)?;
    let env = json_child(&mut root, "env", what)?;
    for (k, v) in vars(t) {
        env.insert(k, Value::String(v).into());
    }
    Ok(json_text(root))
}

/// The key and model of an `env` block pointed at `url`.
pub fn found(text: &str, url: &str) -> Found {
    let Ok(Value::Object(root)) = serde_json::from_str::<Value>(text) else { return Found::default() };
    let Some(env) = root.get("env").and_then(Value::as_object) else { return Found::default() };
    let get = |k: &str| env.get(k).and_then(Value::as_str).map(str::to_string);
    match get(BASE_URL) {
        Some(base) if same_url(&base, url) => Found { key: get(AUTH_TOKEN), model: get(MODEL) },
        Some(_) | None => Found::default(),
    }
}

/// The same variables for `omnigate run`. An `ANTHROPIC_API_KEY` of the shell would be sent as
/// well (as `x-api-key`), and `CLAUDE_CODE_USE_BEDROCK` / `CLAUDE_CODE_USE_VERTEX` would send
/// everything to Bedrock or Vertex AI instead, so they are removed.
pub fn run_env(t: &Target) -> RunEnv {
    RunEnv {
        set: vars(t),
        unset: vec!["ANTHROPIC_API_KEY", "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX"],
        args: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_env_block_is_merged_and_read_back() {
        let t = Target { url: "http://h:1".into(), key: "sk-og-k".into(), model: Some("m".into()) };
        let text = merge(Some(r#"{"theme":"dark","env":{"FOO":"1"}}"#), &t).unwrap_or_else(|e| panic!("{e}"));
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["theme"], "dark");
        assert_eq!(v["env"]["FOO"], "1");
        assert_eq!(v["env"]["ANTHROPIC_DEFAULT_HAIKU_MODEL"], "m");
        assert_eq!(found(&text, "http://h:1/"), Found { key: Some("sk-og-k".into()), model: Some("m".into()) });
        assert_eq!(found(&text, "http://other:1"), Found::default(), "another gateway's key is not ours");
        assert!(merge(Some("[1]"), &t).is_err() && merge(Some(r#"{"env":3}"#), &t).is_err());
    }

    #[test]
    fn the_users_key_order_stays() {
        let t = Target { url: "http://h:1".into(), key: "sk-og-k".into(), model: None };
        let text = merge(Some(r#"{"zeta":1,"env":{"Z":"1","A":"2"},"alpha":[3,{"y":1,"b":2}]}"#), &t)
            .unwrap_or_else(|e| panic!("{e}"));
        let at = |s: &str| text.find(s).unwrap_or(usize::MAX);
        assert!(at("\"zeta\"") < at("\"env\"") && at("\"env\"") < at("\"alpha\""), "{text}");
        assert!(at("\"Z\"") < at("\"A\"") && at("\"A\"") < at("ANTHROPIC_BASE_URL"), "ours go last: {text}");
        assert_eq!(merge(Some(&text), &t).as_deref(), Ok(text.as_str()));
    }
}
