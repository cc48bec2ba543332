//! Coding tools pointed at the gateway (`omnigate setup | run`, `GET /api/tools`): which tools,
//! where each keeps its settings, and one module per tool that owns that tool's wire format
//! (merge into the user's file, read back what we wrote, the environment for `run`, the
//! dashboard's snippet). Nothing here talks to the daemon or touches a file: `cli` and `files` do.

pub mod aider;
pub mod claude_code;
pub mod cli;
pub mod cline;
pub mod codex;
pub mod continue_dev;
pub mod cursor;
pub mod files;
pub mod gemini_cli;
pub mod opencode;

use std::path::PathBuf;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The tools `omnigate setup` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Tool {
    /// Anthropic's Claude Code (`claude`).
    #[value(name = "claude-code", alias = "claude")]
    ClaudeCode,
    /// OpenAI's Codex CLI (`codex`).
    #[value(name = "codex")]
    Codex,
    /// Google's Gemini CLI (`gemini`).
    #[value(name = "gemini-cli", alias = "gemini")]
    GeminiCli,
    /// OpenCode (`opencode`).
    #[value(name = "opencode")]
    OpenCode,
    /// Cline (a VS Code extension; its settings live in the editor's state).
    #[value(name = "cline")]
    Cline,
    /// Continue (VS Code / JetBrains extension with a config.yaml).
    #[value(name = "continue")]
    Continue,
    /// Cursor (an editor; its settings live in the editor's state).
    #[value(name = "cursor")]
    Cursor,
    /// Aider (`aider`).
    #[value(name = "aider")]
    Aider,
}

/// How a tool's settings are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A JSON file.
    Json,
    /// A TOML file.
    Toml,
    /// A YAML file.
    Yaml,
    /// A dotenv file (`KEY=value` lines).
    Dotenv,
    /// Instructions to follow by hand (the tool keeps its settings in the editor's state).
    Text,
}

impl Tool {
    /// Every tool, in the order they are listed.
    pub const ALL: [Tool; 8] = [
        Tool::ClaudeCode,
        Tool::Codex,
        Tool::GeminiCli,
        Tool::OpenCode,
        Tool::Cline,
        Tool::Continue,
        Tool::Cursor,
        Tool::Aider,
    ];

    /// The id used on the command line and as the gateway key's name.
    pub fn id(self) -> &'static str {
        match self {
            Tool::ClaudeCode => "claude-code",
            Tool::Codex => "codex",
            Tool::GeminiCli => "gemini-cli",
            Tool::OpenCode => "opencode",
            Tool::Cline => "cline",
            Tool::Continue => "continue",
            Tool::Cursor => "cursor",
            Tool::Aider => "aider",
        }
    }

    /// The name people know it by.
    pub fn title(self) -> &'static str {
        match self {
            Tool::ClaudeCode => "Claude Code",
            Tool::Codex => "Codex CLI",
            Tool::GeminiCli => "Gemini CLI",
            Tool::OpenCode => "OpenCode",
            Tool::Cline => "Cline",
            Tool::Continue => "Continue",
            Tool::Cursor => "Cursor",
            Tool::Aider => "aider",
        }
    }

    /// The program `omnigate run` starts; `None` for editor extensions.
    pub fn binary(self) -> Option<&'static str> {
        match self {
            Tool::ClaudeCode => Some("claude"),
            Tool::Codex => Some("codex"),
            Tool::GeminiCli => Some("gemini"),
            Tool::OpenCode => Some("opencode"),
            Tool::Aider => Some("aider"),
            Tool::Cline | Tool::Continue | Tool::Cursor => None,
        }
    }

    /// How its settings are written.
    pub fn format(self) -> Format {
        match self {
            Tool::ClaudeCode | Tool::OpenCode => Format::Json,
            Tool::Codex => Format::Toml,
            Tool::Continue | Tool::Aider => Format::Yaml,
            Tool::GeminiCli => Format::Dotenv,
            Tool::Cline | Tool::Cursor => Format::Text,
        }
    }

    /// The settings file as documented (`~` for the home directory); `None` when print-only.
    pub fn documented_path(self) -> Option<&'static str> {
        match self {
            Tool::ClaudeCode => Some("~/.claude/settings.json"),
            Tool::Codex => Some("~/.codex/config.toml"),
            Tool::GeminiCli => Some("~/.gemini/.env"),
            Tool::OpenCode => Some("~/.config/opencode/opencode.json"),
            Tool::Continue => Some("~/.continue/config.yaml"),
            Tool::Aider => Some("~/.aider.conf.yml"),
            Tool::Cline | Tool::Cursor => None,
        }
    }

    /// The settings file on this machine under `homes`; `None` when print-only.
    pub fn path(self, homes: &Homes) -> Option<PathBuf> {
        match self {
            Tool::ClaudeCode => Some(homes.claude.join("settings.json")),
            Tool::Codex => Some(homes.codex.join("config.toml")),
            Tool::GeminiCli => Some(homes.home.join(".gemini").join(".env")),
            Tool::OpenCode => Some(homes.xdg_config.join("opencode").join("opencode.json")),
            Tool::Continue => Some(homes.continue_dir.join("config.yaml")),
            Tool::Aider => Some(homes.home.join(".aider.conf.yml")),
            Tool::Cline | Tool::Cursor => None,
        }
    }

    /// Whether a model must be named (the tool has no default that this gateway would know).
    pub fn needs_model(self) -> bool {
        match self {
            Tool::Codex | Tool::OpenCode | Tool::Continue | Tool::Aider | Tool::Cline | Tool::Cursor => true,
            Tool::ClaudeCode | Tool::GeminiCli => false,
        }
    }

    /// The user's file with our settings merged in (their other keys kept), or the instructions
    /// of a print-only tool.
    pub fn merge(self, existing: Option<&str>, t: &Target) -> Result<String, String> {
        match self {
            Tool::ClaudeCode => claude_code::merge(existing, t),
            Tool::Codex => codex::merge(existing, t),
            Tool::GeminiCli => Ok(gemini_cli::merge(existing, t)),
            Tool::OpenCode => opencode::merge(existing, t),
            Tool::Continue => continue_dev::merge(existing, t),
            Tool::Aider => aider::merge(existing, t),
            Tool::Cline => Ok(cline::instructions(t)),
            Tool::Cursor => Ok(cursor::instructions(t)),
        }
    }

    /// What an earlier `setup` wrote into `text` for the gateway at `url`: its key and model.
    pub fn found(self, text: &str, url: &str) -> Found {
        match self {
            Tool::ClaudeCode => claude_code::found(text, url),
            Tool::Codex => codex::found(text, url),
            Tool::GeminiCli => gemini_cli::found(text, url),
            Tool::OpenCode => opencode::found(text, url),
            Tool::Continue => continue_dev::found(text, url),
            Tool::Aider => aider::found(text, url),
            Tool::Cline | Tool::Cursor => Found::default(),
        }
    }

    /// The environment `omnigate run` gives the tool; `None` for editor extensions.
    pub fn run_env(self, t: &Target) -> Option<RunEnv> {
        match self {
            Tool::ClaudeCode => Some(claude_code::run_env(t)),
            Tool::Codex => Some(codex::run_env(t)),
            Tool::GeminiCli => Some(gemini_cli::run_env(t)),
            Tool::OpenCode => Some(opencode::run_env(t)),
            Tool::Aider => Some(aider::run_env(t)),
            Tool::Cline | Tool::Continue | Tool::Cursor => None,
        }
    }

    /// A note shown with the snippet (what the tool needs besides the file).
    pub fn note(self) -> &'static str {
        match self {
            Tool::ClaudeCode => claude_code::NOTE,
            Tool::Codex => codex::NOTE,
            Tool::GeminiCli => gemini_cli::NOTE,
            Tool::OpenCode => opencode::NOTE,
            Tool::Continue => continue_dev::NOTE,
            Tool::Aider => aider::NOTE,
            Tool::Cline => cline::NOTE,
            Tool::Cursor => cursor::NOTE,
        }
    }

    /// Where the format was taken from.
    pub fn source(self) -> &'static str {
        match self {
            Tool::ClaudeCode => claude_code::SOURCE,
            Tool::Codex => codex::SOURCE,
            Tool::GeminiCli => gemini_cli::SOURCE,
            Tool::OpenCode => opencode::SOURCE,
            Tool::Continue => continue_dev::SOURCE,
            Tool::Aider => aider::SOURCE,
            Tool::Cline => cline::SOURCE,
            Tool::Cursor => cursor::SOURCE,
        }
    }
}

/// What the tool is pointed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The gateway's base URL without a trailing slash and without `/v1`.
    pub url: String,
    /// The gateway key.
    pub key: String,
    /// The model, when one was named or found.
    pub model: Option<String>,
}

impl Target {
    /// The OpenAI-style base (`<url>/v1`) most tools want.
    pub fn v1(&self) -> String {
        format!("{}/v1", self.url)
    }

    /// The model, or a placeholder for a snippet.
    pub fn model_or_placeholder(&self) -> String {
        self.model.clone().unwrap_or_else(|| MODEL_PLACEHOLDER.to_string())
    }
}

/// Stands for the model in a snippet when none was named.
pub const MODEL_PLACEHOLDER: &str = "<model>";
/// Stands for the key in the dashboard's snippets (the daemon keeps only digests).
pub const KEY_PLACEHOLDER: &str = "<your gateway key>";

/// What an earlier `setup` left in a tool's file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// The gateway key written there.
    pub key: Option<String>,
    /// The model written there.
    pub model: Option<String>,
}

/// The environment of `omnigate run`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunEnv {
    /// Variables to set.
    pub set: Vec<(String, String)>,
    /// Variables to remove (they would override ours or send another credential).
    pub unset: Vec<&'static str>,
    /// Arguments put before the user's (configuration flags that hold no secret).
    pub args: Vec<String>,
}

/// The directories tools keep their settings in, from the environment (so tests and users can
/// move them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Homes {
    /// `$HOME`.
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME`, else `~/.config`.
    pub xdg_config: PathBuf,
    /// `$CODEX_HOME`, else `~/.codex`.
    pub codex: PathBuf,
    /// `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
    pub claude: PathBuf,
    /// `$CONTINUE_GLOBAL_DIR`, else `~/.continue`.
    pub continue_dir: PathBuf,
}

impl Homes {
    /// From the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// From variables read by `var`; `HOME` must be set.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let set = |k: &str| var(k).filter(|v| !v.trim().is_empty()).map(PathBuf::from);
        let home = set("HOME").ok_or("HOME is not set: cannot tell where the tools keep their settings")?;
        Ok(Self {
            xdg_config: set("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config")),
            codex: set("CODEX_HOME").unwrap_or_else(|| home.join(".codex")),
            claude: set("CLAUDE_CONFIG_DIR").unwrap_or_else(|| home.join(".claude")),
            continue_dir: set("CONTINUE_GLOBAL_DIR").unwrap_or_else(|| home.join(".continue")),
            home,
        })
    }
}

/// A key shown in `--print`: its start and last four characters.
pub fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return "…".to_string();
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// Whether two base URLs name the same place (a trailing slash aside).
pub fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// One tool's snippet for the dashboard (`GET /api/tools`).
#[derive(Debug, Clone, Serialize)]
pub struct Snippet {
    /// The tool's id.
    pub id: &'static str,
    /// Its name.
    pub title: &'static str,
    /// The file it goes in (`~` for home), or `None` for instructions.
    pub path: Option<&'static str>,
    /// The file's format.
    pub format: Format,
    /// The command that writes it.
    pub command: String,
    /// The text: the whole file as setup would write it to an empty home, or the instructions.
    pub text: String,
    /// Whether `omnigate run <tool>` works for it.
    pub runs: bool,
    /// What else to know.
    pub note: &'static str,
    /// Where the format comes from.
    pub source: &'static str,
}

/// Every tool's snippet for the gateway at `url` with `model` (placeholders for the key, and
/// for the model when none is given).
pub fn snippets(url: &str, model: Option<&str>) -> Result<Vec<Snippet>, String> {
    let t = Target {
        url: url.trim_end_matches('/').to_string(),
        key: KEY_PLACEHOLDER.to_string(),
        model: Some(model.map_or_else(|| MODEL_PLACEHOLDER.to_string(), str::to_string)),
    };
    Tool::ALL
        .iter()
        .map(|&tool| {
            let text = tool.merge(None, &t)?;
            Ok(Snippet {
                id: tool.id(),
                title: tool.title(),
                path: tool.documented_path(),
                format: tool.format(),
                command: format!(
                    "omnigate setup {}{}",
                    tool.id(),
                    model.map(|m| format!(" --model {m}")).unwrap_or_default()
                ),
                text,
                runs: tool.binary().is_some(),
                note: tool.note(),
                source: tool.source(),
            })
        })
        .collect()
}

/// A JSON value whose objects keep their keys in the file's order (serde_json's `Map` sorts
/// them), so a merged file reads as the user wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Json {
    /// An object, in order.
    Object(IndexMap<String, Json>),
    /// Anything else (arrays and scalars).
    Other(Value),
}

impl From<Value> for Json {
    fn from(v: Value) -> Self {
        match v {
            Value::Object(m) => Json::Object(m.into_iter().map(|(k, v)| (k, Json::from(v))).collect()),
            other => Json::Other(other),
        }
    }
}

/// An ordered JSON object.
pub(crate) type JsonObject = IndexMap<String, Json>;

/// Parses a JSON file's text as an object (`{}` when absent or blank), naming `what` on error.
pub(crate) fn json_object(existing: Option<&str>, what: &str) -> Result<JsonObject, String> {
    match existing.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(JsonObject::new()),
        Some(text) => match serde_json::from_str::<Json>(text) {
            Ok(Json::Object(m)) => Ok(m),
            Ok(Json::Other(_)) => Err(format!("{what} is not a JSON object; fix or move it, then run setup again")),
            Err(e) => Err(format!("{what} is not valid JSON ({e}); fix or move it, then run setup again")),
        },
    }
}

/// The object under `key` in `m`, created when missing; an error when it is something else.
pub(crate) fn json_child<'a>(m: &'a mut JsonObject, key: &str, what: &str) -> Result<&'a mut JsonObject, String> {
    match m.entry(key.to_string()).or_insert_with(|| Json::Object(JsonObject::new())) {
        Json::Object(child) => Ok(child),
        Json::Other(_) => Err(format!("`{key}` in {what} is not an object; fix or move it, then run setup again")),
    }
}

/// A JSON object as written to disk: two-space indent, trailing newline.
pub(crate) fn json_text(m: JsonObject) -> String {
    let mut s = serde_json::to_string_pretty(&Json::Object(m)).unwrap_or_default();
    s.push('\n');
    s
}

/// Parses a YAML file's text as a mapping (empty when absent or blank), naming `what` on error.
pub(crate) fn yaml_mapping(existing: Option<&str>, what: &str) -> Result<serde_norway::Mapping, String> {
    match existing.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(serde_norway::Mapping::new()),
        Some(text) => match serde_norway::from_str::<serde_norway::Value>(text) {
            Ok(serde_norway::Value::Mapping(m)) => Ok(m),
            Ok(serde_norway::Value::Null) => Ok(serde_norway::Mapping::new()),
            Ok(_) => Err(format!("{what} is not a YAML mapping; fix or move it, then run setup again")),
            Err(e) => Err(format!("{what} is not valid YAML ({e}); fix or move it, then run setup again")),
        },
    }
}

/// A YAML mapping as written to disk.
pub(crate) fn yaml_text(m: serde_norway::Mapping, what: &str) -> Result<String, String> {
    serde_norway::to_string(&serde_norway::Value::Mapping(m)).map_err(|e| format!("cannot write {what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homes_follow_the_environment() {
        let vars = |k: &str| match k {
            "HOME" => Some("/h".to_string()),
            "CODEX_HOME" => Some("/c".to_string()),
            "XDG_CONFIG_HOME" => Some(String::new()),
            _ => None,
        };
        let h = Homes::from_vars(vars).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.codex, PathBuf::from("/c"));
        assert_eq!(h.xdg_config, PathBuf::from("/h/.config"), "an empty variable counts as unset");
        assert_eq!(Tool::ClaudeCode.path(&h), Some(PathBuf::from("/h/.claude/settings.json")));
        assert!(Homes::from_vars(|_| None).is_err());
    }

    #[test]
    fn keys_are_masked_and_every_snippet_renders() {
        assert_eq!(mask("sk-og-abcdefghijklmnop"), "sk-og-…mnop");
        assert_eq!(mask("short"), "…");
        let all = snippets("http://127.0.0.1:20128/", None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(all.len(), Tool::ALL.len());
        for s in &all {
            assert!(s.text.contains(KEY_PLACEHOLDER), "{}: {}", s.id, s.text);
            assert!(s.text.contains("http://127.0.0.1:20128"), "{}: {}", s.id, s.text);
        }
    }
}
