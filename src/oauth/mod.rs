//! Subscription accounts: the five built-in OAuth providers (`claude-code`, `codex`,
//! `gemini-cli`, `github-copilot`, `qwen-code`), their sign-in flows, credential-file import,
//! token refresh, request rules and quota signals. Each provider's facts (client ids, endpoints,
//! scopes, headers, body rules, lifetimes) live once, in its own module, with their sources.
//!
//! This module owns the wire side of OAuth; the lifecycle (when to refresh, single flight,
//! backoff) belongs to `actors::refresher`, which calls back through `source::Source`. Tokens
//! never reach a log line, an API answer or the database in clear (`store` seals them).

pub mod adapters;
pub mod api;
pub mod attempt;
pub mod claude_code;
pub mod cli;
pub mod codex;
pub mod copilot;
pub mod device;
pub mod dress;
pub mod flow;
pub mod gemini_cli;
pub mod http;
pub mod hub;
pub mod import;
pub mod pending;
pub mod pkce;
pub mod qwen;
pub mod ratelimit;
pub mod seeds;
pub mod source;
pub mod store;

use std::sync::Arc;

use actors::credential::Credential;
use actors::refresher::Tokens;
use serde::{Deserialize, Serialize};

pub use http::OAuthError;

/// A built-in subscription provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Claude Pro/Max through Claude Code's OAuth client.
    ClaudeCode,
    /// ChatGPT Plus/Pro through the Codex CLI's OAuth client.
    Codex,
    /// Google sign-in of the Gemini CLI, served by Code Assist.
    GeminiCli,
    /// GitHub Copilot (a GitHub device sign-in, exchanged for short-lived Copilot tokens).
    Copilot,
    /// Qwen Code's device sign-in.
    QwenCode,
}

/// How a provider signs a user in from a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    /// Authorization code with PKCE; the user pastes back what the provider's page shows.
    PasteBack,
    /// Authorization code with PKCE; the provider redirects to a loopback address (the user may
    /// paste the redirected URL instead when nothing listens there).
    Loopback,
    /// Device code: the user enters a code on the provider's page while we poll.
    Device,
}

impl Kind {
    /// Every subscription provider.
    pub const ALL: [Kind; 5] = [Kind::ClaudeCode, Kind::Codex, Kind::GeminiCli, Kind::Copilot, Kind::QwenCode];

    /// The catalog id.
    pub fn id(self) -> &'static str {
        match self {
            Self::ClaudeCode => "claude-code",
            Self::Codex => "codex",
            Self::GeminiCli => "gemini-cli",
            Self::Copilot => "github-copilot",
            Self::QwenCode => "qwen-code",
        }
    }

    /// The catalog's short prefix.
    pub fn alias(self) -> &'static str {
        match self {
            Self::ClaudeCode => "cc",
            Self::Codex => "cx",
            Self::GeminiCli => "gc",
            Self::Copilot => "gh",
            Self::QwenCode => "qw",
        }
    }

    /// The provider of an id or prefix.
    pub fn parse(id_or_alias: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.id() == id_or_alias || k.alias() == id_or_alias)
    }

    /// How a user signs in.
    pub fn flow(self) -> FlowKind {
        match self {
            Self::ClaudeCode | Self::GeminiCli => FlowKind::PasteBack,
            Self::Codex => FlowKind::Loopback,
            Self::Copilot | Self::QwenCode => FlowKind::Device,
        }
    }

    /// The provider's endpoints, with nothing overridden.
    pub fn default_endpoints(self) -> Endpoints {
        match self {
            Self::ClaudeCode => claude_code::endpoints(),
            Self::Codex => codex::endpoints(),
            Self::GeminiCli => gemini_cli::endpoints(),
            Self::Copilot => copilot::endpoints(),
            Self::QwenCode => qwen::endpoints(),
        }
    }

    /// Where the official CLI leaves its credentials (under `home`).
    pub fn credential_file(self, home: &std::path::Path) -> std::path::PathBuf {
        match self {
            Self::ClaudeCode => home.join(".claude").join(".credentials.json"),
            Self::Codex => home.join(".codex").join("auth.json"),
            Self::GeminiCli => home.join(".gemini").join("oauth_creds.json"),
            Self::Copilot => home.join(".config").join("github-copilot").join("apps.json"),
            Self::QwenCode => home.join(".qwen").join("oauth_creds.json"),
        }
    }
}

/// Per-account endpoint overrides (stored as JSON with the session): for corporate proxies and
/// for tests against a mock. `base_url` stays on the account itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EndpointOverrides {
    /// The authorization page (PKCE flows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorize_url: Option<String>,
    /// The token endpoint (code exchange, refresh; Copilot: the Copilot token exchange).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// The device-code endpoint (device flows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_url: Option<String>,
    /// The device flow's token endpoint (GitHub: `login/oauth/access_token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_token_url: Option<String>,
    /// The usage (quota) endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_url: Option<String>,
    /// Where the provider redirects after sign-in (PKCE flows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
}

impl EndpointOverrides {
    /// Reads the stored JSON (unreadable: none).
    pub fn from_json(s: &str) -> Self {
        serde_json::from_str(s).unwrap_or_default()
    }

    /// The stored JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A provider's endpoints, overrides applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The authorization page.
    pub authorize_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The device-code endpoint (empty when the provider has none).
    pub device_url: String,
    /// The device flow's token endpoint.
    pub device_token_url: String,
    /// The usage endpoint (empty when the provider has none).
    pub usage_url: String,
    /// The redirect URI registered for the provider's client.
    pub redirect_uri: String,
}

impl Endpoints {
    /// These endpoints with `o`'s overrides.
    pub fn with(mut self, o: &EndpointOverrides) -> Self {
        let set = |field: &mut String, v: &Option<String>| {
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                field.clone_from(v);
            }
        };
        set(&mut self.authorize_url, &o.authorize_url);
        set(&mut self.token_url, &o.token_url);
        set(&mut self.device_url, &o.device_url);
        set(&mut self.device_token_url, &o.device_token_url);
        set(&mut self.usage_url, &o.usage_url);
        set(&mut self.redirect_uri, &o.redirect_uri);
        self
    }
}

/// Tokens as a sign-in, an import or a refresh obtained them, before they are stored.
#[derive(Clone, PartialEq)]
pub struct Grant {
    /// The access token (empty for a Copilot sign-in until its first exchange).
    pub access: String,
    /// The refresh credential (Copilot: the GitHub token).
    pub refresh: Option<String>,
    /// When the access token expires (ms).
    pub expires_at: Option<i64>,
    /// Provider facts that travel with the tokens (account id, project, API base URL, e-mail).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("expires_at", &self.expires_at)
            .field("has_refresh", &self.refresh.is_some())
            .field("extra", &self.extra)
            .finish_non_exhaustive()
    }
}

impl Grant {
    /// The grant as refresher tokens obtained at `now`.
    pub fn into_tokens(self, now: i64, generation: i64) -> Tokens {
        Tokens {
            access: Credential::new(self.access),
            refresh: self.refresh.map(Credential::new),
            expires_at: self.expires_at,
            obtained_at: now,
            generation,
            extra: Arc::new(self.extra),
        }
    }

    /// A grant from refresher tokens (to refresh from, or to store).
    pub fn from_tokens(t: &Tokens) -> Self {
        Self {
            access: t.access.expose().to_string(),
            refresh: t.refresh.as_ref().map(|r| r.expose().to_string()),
            expires_at: t.expires_at,
            extra: (*t.extra).clone(),
        }
    }

    /// A label for the account when the user gave no name (an e-mail, a login).
    pub fn label(&self) -> Option<&str> {
        ["email", "login", "account_label"]
            .iter()
            .find_map(|k| self.extra.get(*k).and_then(|v| v.as_str()))
            .filter(|s| !s.is_empty())
    }
}

/// `expires_in` seconds from `now` (ms), as an expiry in ms.
pub fn expiry(now: i64, expires_in: Option<i64>) -> Option<i64> {
    expires_in.filter(|s| *s > 0).map(|s| now + s * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_is_in_the_catalog_under_its_id_and_prefix() {
        let c = crate::providers::Catalog::builtin().unwrap_or_else(|e| panic!("{e}"));
        for k in Kind::ALL {
            let p = c.get(k.id()).unwrap_or_else(|| panic!("catalog lacks {}", k.id()));
            assert_eq!(p.alias.as_deref(), Some(k.alias()));
            assert_eq!(Kind::parse(k.alias()), Some(k));
            assert!(!p.base_url.is_empty());
        }
        assert_eq!(Kind::parse("openai"), None);
    }

    #[test]
    fn overrides_replace_only_what_they_name() {
        let o =
            EndpointOverrides { token_url: Some("http://127.0.0.1:9/token".into()), ..EndpointOverrides::default() };
        let ep = Kind::ClaudeCode.default_endpoints().with(&o);
        assert_eq!(ep.token_url, "http://127.0.0.1:9/token");
        assert_eq!(ep.authorize_url, claude_code::AUTHORIZE_URL);
        assert_eq!(EndpointOverrides::from_json(&o.to_json()), o);
    }
}
