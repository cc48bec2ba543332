//! Gemini CLI's environment file `~/.gemini/.env` (read at start when the project has none),
//! https://github.com/google-gemini/gemini-cli/blob/main/docs/get-started/authentication.md, and
//! how google-gemini/gemini-cli `packages/core/src/core/contentGenerator.ts` reads it:
//! `GOOGLE_GEMINI_BASE_URL` (the Gemini API's root; the SDK appends `/v1beta/models/...`) selects
//! its `gateway` auth type, whose key is `GEMINI_API_KEY` (sent as `x-goog-api-key`), and
//! `GEMINI_MODEL` names the model. Lines we do not own are kept as they are.

use super::{Found, RunEnv, Target, same_url};

/// Where this format is documented.
pub const SOURCE: &str = "https://github.com/google-gemini/gemini-cli/blob/main/docs/get-started/authentication.md";
/// Shown with the snippet.
pub const NOTE: &str = "GOOGLE_GEMINI_BASE_URL makes Gemini CLI use its gateway sign-in with this key; if an older version asks how to sign in, pick \"Use Gemini API Key\". \
     A .env file in your project (or its .gemini folder) is read instead of this one.";

const BASE_URL: &str = "GOOGLE_GEMINI_BASE_URL";
const API_KEY: &str = "GEMINI_API_KEY";
const MODEL: &str = "GEMINI_MODEL";

fn vars(t: &Target) -> Vec<(&'static str, String)> {
    let mut v = vec![(BASE_URL, t.url.clone()), (API_KEY, t.key.clone())];
    if let Some(m) = &t.model {
        v.push((MODEL, m.clone()));
    }
    v
}

/// The variable a dotenv line sets, and its value (quotes removed).
fn parse_line(line: &str) -> Option<(&str, String)> {
    let l = line.trim_start();
    if l.starts_with('#') {
        return None;
    }
    let l = l.strip_prefix("export ").unwrap_or(l);
    let (k, v) = l.split_once('=')?;
    let v = v.trim();
    let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
    let v = v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')).unwrap_or(v);
    Some((k.trim(), v.to_string()))
}

/// The file with our variables set: a line that sets one is replaced in place (later duplicates
/// dropped), missing ones are appended.
pub fn merge(existing: Option<&str>, t: &Target) -> String {
    let ours = vars(t);
    let mut written: Vec<&str> = Vec::new();
    let mut out = String::new();
    for line in existing.unwrap_or("").lines() {
        match parse_line(line).and_then(|(k, _)| ours.iter().find(|(o, _)| *o == k)) {
            Some((k, v)) => {
                if !written.contains(k) {
                    out.push_str(&format!("{k}={v}\n"));
                    written.push(k);
                }
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (k, v) in &ours {
        if !written.contains(k) {
            out.push_str(&format!("{k}={v}\n"));
        }
    }
    out
}

/// The key and model, when the file's base URL is `url`.
pub fn found(text: &str, url: &str) -> Found {
    let get = |name: &str| text.lines().filter_map(parse_line).find(|(k, _)| *k == name).map(|(_, v)| v);
    match get(BASE_URL) {
        Some(base) if same_url(&base, url) => Found { key: get(API_KEY), model: get(MODEL) },
        Some(_) | None => Found::default(),
    }
}

/// The same variables for `omnigate run`, without the ones Gemini CLI would pick another sign-in
/// from before ours (`OPENAI_BASE_URL` and `SGLANG_BASE_URL` select its SGLang backend, the
/// `GOOGLE_GENAI_USE_*` switches Google sign-in or Vertex AI) or another key.
pub fn run_env(t: &Target) -> RunEnv {
    RunEnv {
        set: vars(t).into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        unset: vec![
            "OPENAI_BASE_URL",
            "SGLANG_BASE_URL",
            "GOOGLE_GENAI_USE_GCA",
            "GOOGLE_GENAI_USE_VERTEXAI",
            "GOOGLE_API_KEY",
        ],
        args: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_replaced_in_place_and_others_kept() {
        let t = Target { url: "http://h:1".into(), key: "sk-og-k".into(), model: None };
        let text = merge(Some("# c\nexport GEMINI_API_KEY=\"old\"\nOTHER=1\nGEMINI_API_KEY=x"), &t);
        assert_eq!(text, "# c\nGEMINI_API_KEY=sk-og-k\nOTHER=1\nGOOGLE_GEMINI_BASE_URL=http://h:1\n");
        assert_eq!(merge(Some(&text), &t), text);
        assert_eq!(found(&text, "http://h:1"), Found { key: Some("sk-og-k".into()), model: None });
    }
}
