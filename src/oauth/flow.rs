//! The sign-in flows as steps the terminal and the dashboard share: start a PKCE flow (the
//! URL to open) and finish it with what the user pasted (`code#state`, a redirected URL, or a
//! bare code); start a device flow (the code to enter) and poll it to the end. Also the
//! provider dispatch of refresh and of the first preparation step.

use serde_json::Value;

use super::device::{self, DeviceCode, Pacer, Poll, SlowDown};
use super::pkce::Pkce;
use super::{Endpoints, FlowKind, Grant, Kind, OAuthError, claude_code, codex, copilot, gemini_cli, qwen};

/// Why a sign-in did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    /// The provider has no flow of this kind.
    #[error("{0} does not sign in this way")]
    WrongFlow(&'static str),
    /// What was pasted holds no code.
    #[error("no authorization code in what was pasted")]
    NoCode,
    /// The pasted `state` is not this sign-in's (another attempt's code, or a forged one).
    #[error("the pasted code belongs to another sign-in attempt (state mismatch); start again")]
    StateMismatch,
    /// The device code expired before the user finished.
    #[error("the device code expired before the sign-in was finished; start again")]
    Expired,
    /// The user declined, or the provider refused.
    #[error("the sign-in was refused: {0}")]
    Denied(String),
    /// The provider failed.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
}

/// A started PKCE flow.
#[derive(Debug, Clone)]
pub struct PkceFlow {
    /// The provider.
    pub kind: Kind,
    /// The page to open.
    pub url: String,
    /// The secrets of this attempt (kept until it finishes).
    pub pkce: Pkce,
}

/// Starts a PKCE flow.
pub fn pkce_start(kind: Kind, ep: &Endpoints) -> Result<PkceFlow, FlowError> {
    let pkce = Pkce::new();
    let url = match kind {
        Kind::ClaudeCode => claude_code::authorize_url(ep, &pkce),
        Kind::Codex => codex::authorize_url(ep, &pkce),
        Kind::GeminiCli => gemini_cli::authorize_url(ep, &pkce),
        Kind::Copilot | Kind::QwenCode => return Err(FlowError::WrongFlow(kind.id())),
    };
    Ok(PkceFlow { kind, url, pkce })
}

/// The code and state in what the user pasted: a redirected URL (`...?code=..&state=..`),
/// Claude's `code#state`, or the code alone.
pub fn read_pasted(pasted: &str) -> Result<(String, Option<String>), FlowError> {
    let pasted = pasted.trim();
    if let Some((_, query)) = pasted.split_once('?').filter(|(_, q)| q.contains("code=")) {
        let query = query.split('#').next().unwrap_or(query);
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|_| FlowError::NoCode)?;
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if let Some(e) = get("error") {
            return Err(FlowError::Denied(get("error_description").map_or(e.clone(), |d| format!("{e}: {d}"))));
        }
        return get("code").filter(|c| !c.is_empty()).map(|c| (c, get("state"))).ok_or(FlowError::NoCode);
    }
    let (code, state) = claude_code::split_pasted(pasted);
    if code.is_empty() { Err(FlowError::NoCode) } else { Ok((code, state)) }
}

/// Finishes a PKCE flow with what the user pasted (or the callback received).
pub async fn pkce_finish(flow: &PkceFlow, ep: &Endpoints, pasted: &str, now: i64) -> Result<Grant, FlowError> {
    let (code, state) = read_pasted(pasted)?;
    if state.as_deref().is_some_and(|s| s != flow.pkce.state) {
        return Err(FlowError::StateMismatch);
    }
    let grant = match flow.kind {
        Kind::ClaudeCode => claude_code::exchange(ep, &code, &flow.pkce, now).await?,
        Kind::Codex => codex::exchange(ep, &code, &flow.pkce, now).await?,
        Kind::GeminiCli => gemini_cli::exchange(ep, &code, &flow.pkce, now).await?,
        Kind::Copilot | Kind::QwenCode => return Err(FlowError::WrongFlow(flow.kind.id())),
    };
    Ok(grant)
}

/// Starts a device flow.
pub async fn device_start(kind: Kind, ep: &Endpoints, now: i64) -> Result<DeviceCode, FlowError> {
    match kind {
        Kind::Copilot => Ok(copilot::device_start(ep, now).await?),
        Kind::QwenCode => Ok(qwen::device_start(ep, now).await?),
        Kind::ClaudeCode | Kind::Codex | Kind::GeminiCli => Err(FlowError::WrongFlow(kind.id())),
    }
}

/// How the provider wants `slow_down` honoured.
pub fn slow_down_rule(kind: Kind) -> SlowDown {
    if kind == Kind::QwenCode { SlowDown::TimesOneAndAHalf } else { SlowDown::AddFiveSeconds }
}

/// Polls a device flow once. `Poll::SlowDown` carries no new interval here; the caller's pacer
/// applies the provider's rule.
pub async fn device_poll(kind: Kind, ep: &Endpoints, code: &DeviceCode, now: i64) -> Result<Poll<Grant>, FlowError> {
    let answer = match kind {
        Kind::Copilot => copilot::device_poll(ep, code).await,
        Kind::QwenCode => qwen::device_poll(ep, code).await,
        Kind::ClaudeCode | Kind::Codex | Kind::GeminiCli => return Err(FlowError::WrongFlow(kind.id())),
    };
    Ok(match device::classify(answer)? {
        Poll::Done(v) => Poll::Done(device_grant(kind, &v, now)?),
        Poll::Pending => Poll::Pending,
        Poll::SlowDown => Poll::SlowDown,
        Poll::Expired => Poll::Expired,
        Poll::Denied(why) => Poll::Denied(why),
    })
}

fn device_grant(kind: Kind, v: &Value, now: i64) -> Result<Grant, OAuthError> {
    match kind {
        Kind::Copilot => copilot::device_grant(v),
        Kind::ClaudeCode | Kind::Codex | Kind::GeminiCli | Kind::QwenCode => qwen::grant(v, now, None),
    }
}

/// Polls a device flow until it ends, honouring the interval and `slow_down`. `tick` is called
/// before each wait (for a countdown).
pub async fn device_wait(
    kind: Kind,
    ep: &Endpoints,
    code: &DeviceCode,
    mut tick: impl FnMut(i64),
) -> Result<Grant, FlowError> {
    let mut pacer = Pacer::new(code, slow_down_rule(kind));
    loop {
        let now = actors::clock::now_ms();
        let Some(wait) = pacer.next_wait(now) else { return Err(FlowError::Expired) };
        tick(code.expires_at - now);
        actix_rt::time::sleep(std::time::Duration::from_millis(u64::try_from(wait).unwrap_or(0))).await;
        match device_poll(kind, ep, code, actors::clock::now_ms()).await? {
            Poll::Done(g) => {
                // A Copilot sign-in is complete once its first exchange works.
                return if kind == Kind::Copilot {
                    Ok(refresh(kind, ep, &g, actors::clock::now_ms()).await?)
                } else {
                    Ok(g)
                };
            }
            Poll::Pending => {}
            Poll::SlowDown => pacer.slow_down(None),
            Poll::Expired => return Err(FlowError::Expired),
            Poll::Denied(why) => return Err(FlowError::Denied(why)),
        }
    }
}

/// Refreshes `grant` with its provider (Copilot: the Copilot token exchange).
pub async fn refresh(kind: Kind, ep: &Endpoints, grant: &Grant, now: i64) -> Result<Grant, OAuthError> {
    let Some(rt) = grant.refresh.as_deref() else {
        return Err(OAuthError::Refused {
            status: 401,
            code: "invalid_grant".into(),
            description: "no refresh token is stored; sign in again".into(),
        });
    };
    let mut fresh = match kind {
        Kind::ClaudeCode => claude_code::refresh(ep, rt, now).await?,
        Kind::Codex => codex::refresh(ep, grant, now).await?,
        Kind::GeminiCli => gemini_cli::refresh(ep, grant, now).await?,
        Kind::Copilot => copilot::refresh(ep, grant).await?,
        Kind::QwenCode => qwen::refresh(ep, grant, now).await?,
    };
    // Provider facts learnt earlier (a project, a login) travel on unless the answer replaced them.
    for (k, v) in &grant.extra {
        fresh.extra.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Ok(fresh)
}

/// What a provider's flow kind is called in the terminal.
pub fn describe(kind: Kind) -> &'static str {
    match kind.flow() {
        FlowKind::PasteBack => "open the URL, sign in, and paste the code the page shows",
        FlowKind::Loopback => "open the URL, sign in, and paste the address your browser was sent to",
        FlowKind::Device => "open the page and enter the code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_codes_in_every_shape() {
        assert_eq!(read_pasted("abc#st"), Ok(("abc".into(), Some("st".into()))));
        assert_eq!(read_pasted("  abc \n"), Ok(("abc".into(), None)));
        assert_eq!(
            read_pasted("http://localhost:1455/auth/callback?code=c%2F1&scope=x&state=s1"),
            Ok(("c/1".into(), Some("s1".into())))
        );
        assert_eq!(
            read_pasted(
                "http://localhost:1455/auth/callback?code=&error=access_denied&error_description=missing_codex_entitlement"
            ),
            Err(FlowError::Denied("access_denied: missing_codex_entitlement".into()))
        );
        assert_eq!(read_pasted(""), Err(FlowError::NoCode));
    }
}
