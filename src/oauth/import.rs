//! Importing the credentials an official CLI left on this machine (`~/.claude/.credentials.json`,
//! `~/.codex/auth.json`, `~/.gemini/oauth_creds.json`, Copilot's `apps.json` / `hosts.json`,
//! `~/.qwen/oauth_creds.json`): each provider module reads its own file; here the refresh token
//! is tried once, so a dead one is refused at import with a clear message, not at first use.

use std::path::{Path, PathBuf};

use super::{Endpoints, Grant, Kind, OAuthError, claude_code, codex, copilot, flow, gemini_cli, qwen};

/// Why an import was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not the official CLI's credential file.
    #[error("{path} is not a {provider} credential file: {why}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The provider.
        provider: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The file has no refresh token: the gateway could use it only until it expires.
    #[error("{path} holds no refresh token; sign in with `omnigate accounts login {provider}` instead")]
    NoRefreshToken {
        /// The file.
        path: PathBuf,
        /// The provider.
        provider: &'static str,
    },
    /// The provider refused the refresh token.
    #[error(
        "the refresh token in {path} is no longer valid ({cause}); sign in again with the official CLI, or use `omnigate accounts login {provider}`"
    )]
    Dead {
        /// The file.
        path: PathBuf,
        /// The provider.
        provider: &'static str,
        /// The provider's words.
        cause: String,
    },
    /// The provider could not be asked.
    #[error("could not check the refresh token with {provider}: {cause}")]
    Unchecked {
        /// The provider.
        provider: &'static str,
        /// Why.
        cause: String,
    },
}

/// Milliseconds since the epoch of an RFC 3339 time, or of a plain date (midnight UTC).
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

/// The official CLI's credential file for `kind`: `$HOME/...`, or, for Copilot, `hosts.json`
/// when there is no `apps.json`.
pub fn default_file(kind: Kind) -> Option<PathBuf> {
    let home = PathBuf::from(std::env::var_os("HOME")?);
    let file = kind.credential_file(&home);
    if kind == Kind::Copilot && !file.exists() {
        let hosts = file.with_file_name("hosts.json");
        if hosts.exists() {
            return Some(hosts);
        }
    }
    Some(file)
}

/// Reads a credential file's text as `kind`'s.
pub fn parse(kind: Kind, text: &str, now: i64) -> Result<Grant, String> {
    match kind {
        Kind::ClaudeCode => claude_code::import(text),
        Kind::Codex => codex::import(text, now),
        Kind::GeminiCli => gemini_cli::import(text, now),
        Kind::Copilot => copilot::import(text),
        Kind::QwenCode => qwen::import(text, now),
    }
}

/// Reads `path` and checks its refresh token by spending it once (providers that rotate
/// refresh tokens hand a new one back, which is what gets stored: the official CLI's copy may
/// stop working, as it would after a sign-in elsewhere).
pub async fn import(kind: Kind, path: &Path, ep: &Endpoints, now: i64) -> Result<Grant, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read { path: path.into(), source })?;
    import_text(kind, &text, path, ep, now).await
}

/// As `import`, from the file's text (`path` only names it in messages).
pub async fn import_text(kind: Kind, text: &str, path: &Path, ep: &Endpoints, now: i64) -> Result<Grant, ImportError> {
    let provider = kind.id();
    let grant = parse(kind, text, now).map_err(|why| ImportError::Format { path: path.into(), provider, why })?;
    if grant.refresh.is_none() {
        return Err(ImportError::NoRefreshToken { path: path.into(), provider });
    }
    match flow::refresh(kind, ep, &grant, now).await {
        Ok(fresh) => Ok(fresh),
        Err(e @ OAuthError::Refused { status: 400 | 401 | 403, .. }) => {
            Err(ImportError::Dead { path: path.into(), provider, cause: e.to_string() })
        }
        Err(e) => Err(ImportError::Unchecked { provider, cause: e.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_with_offsets_fractions_and_plain_dates() {
        assert_eq!(parse_time("2026-01-02T19:59:59.600956+00:00"), Some(1_767_383_999_600));
        assert_eq!(parse_time("2026-01-02T20:59:59.600+01:00"), Some(1_767_383_999_600));
        assert_eq!(parse_time("2026-01-01"), Some(1_767_225_600_000));
        assert_eq!(parse_time("soon"), None);
    }
}
