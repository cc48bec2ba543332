//! The refresher's and the poller's view of one account: `Source` refreshes through the
//! provider module, prepares a Code Assist project, and saves and loads the sealed session;
//! `Usage` polls the provider's usage endpoint with the tokens in force.

use std::sync::Arc;

use actors::quota::Observation;
use actors::quota::poller::UsageSource;
use actors::refresher::{RefreshError, SessionStatus, TokenCell, TokenSource, Tokens};
use futures_util::future::LocalBoxFuture;
use sea_orm::DatabaseConnection;
use serde_json::json;

use super::{Endpoints, Grant, Kind, claude_code, codex, copilot, flow, gemini_cli, store};
use crate::secrets::Sealer;

/// One OAuth account, as its refresher reaches the provider and the database.
#[derive(Clone)]
pub struct Source {
    /// The account.
    pub account_id: i64,
    /// The provider.
    pub kind: Kind,
    /// Its endpoints, overrides applied.
    pub endpoints: Endpoints,
    /// Where its API calls go (Code Assist project discovery uses it).
    pub base: String,
    /// The database.
    pub db: DatabaseConnection,
    /// Seals the tokens.
    pub sealer: Sealer,
    /// Woken when the account was disabled, so the running system stops routing to it.
    pub changed: Arc<tokio::sync::Notify>,
}

impl TokenSource for Source {
    fn refresh(&self, current: Arc<Tokens>) -> LocalBoxFuture<'static, Result<Tokens, RefreshError>> {
        let s = self.clone();
        Box::pin(async move {
            let now = actors::clock::now_ms();
            let grant = Grant::from_tokens(&current);
            let fresh = flow::refresh(s.kind, &s.endpoints, &grant, now).await.map_err(|e| {
                // A provider's words never carry the token back, but make sure.
                let mut e = e.into_refresh();
                if let (RefreshError::Revoked(m) | RefreshError::Transient(m), Some(rt)) = (&mut e, &grant.refresh) {
                    *m = crate::redact::redact(m, rt);
                }
                e
            })?;
            Ok(fresh.into_tokens(now, current.generation))
        })
    }

    fn needs_prepare(&self, tokens: &Tokens) -> bool {
        self.kind == Kind::GeminiCli && tokens.extra_str("project").is_none()
    }

    fn prepare(&self, tokens: Arc<Tokens>) -> LocalBoxFuture<'static, Result<Tokens, RefreshError>> {
        let s = self.clone();
        Box::pin(async move {
            let project = gemini_cli::discover_project(&s.base, &tokens)
                .await
                .map_err(|e| RefreshError::Transient(format!("finding the Code Assist project failed: {e}")))?;
            tracing::info!(account = s.account_id, "Code Assist project found");
            let mut t = (*tokens).clone();
            let mut extra = (*t.extra).clone();
            extra.insert("project".into(), json!(project));
            t.extra = Arc::new(extra);
            Ok(t)
        })
    }

    fn persist(&self, tokens: Arc<Tokens>) -> LocalBoxFuture<'static, Result<(), String>> {
        let s = self.clone();
        Box::pin(async move {
            store::save_tokens(&s.db, &s.sealer, s.account_id, &tokens).await.map(|_| ()).map_err(|e| e.to_string())
        })
    }

    fn load(&self) -> LocalBoxFuture<'static, Result<Option<Tokens>, String>> {
        let s = self.clone();
        Box::pin(async move {
            store::load(&s.db, &s.sealer, s.account_id).await.map(|o| o.map(|x| x.tokens)).map_err(|e| e.to_string())
        })
    }

    fn set_status(&self, status: SessionStatus, reason: Option<String>) -> LocalBoxFuture<'static, Result<(), String>> {
        let s = self.clone();
        Box::pin(async move {
            store::set_status(&s.db, s.account_id, status, reason).await.map_err(|e| e.to_string())?;
            if status == SessionStatus::Disabled {
                s.changed.notify_one();
            }
            Ok(())
        })
    }
}

/// One account's usage endpoint.
pub struct Usage {
    /// The provider.
    pub kind: Kind,
    /// Its endpoints.
    pub endpoints: Endpoints,
    /// Where its API calls go.
    pub base: String,
    /// The tokens in force.
    pub cell: TokenCell,
}

impl Usage {
    /// Whether the provider has a usage endpoint.
    pub fn exists(kind: Kind, endpoints: &Endpoints) -> bool {
        match kind {
            Kind::ClaudeCode | Kind::Codex | Kind::Copilot => !endpoints.usage_url.is_empty(),
            Kind::GeminiCli => true,
            Kind::QwenCode => false,
        }
    }
}

impl UsageSource for Usage {
    fn poll(&self) -> LocalBoxFuture<'static, Result<Observation, String>> {
        let (kind, ep, base, cell) = (self.kind, self.endpoints.clone(), self.base.clone(), self.cell.clone());
        Box::pin(async move {
            let tokens = cell.get();
            if cell.dead() || tokens.access.expose().is_empty() {
                return Ok(Observation::default());
            }
            let res = match kind {
                Kind::ClaudeCode => claude_code::usage(&ep, &tokens).await,
                Kind::Codex => codex::usage(&ep, &tokens).await,
                Kind::Copilot => copilot::usage(&ep, &tokens).await,
                Kind::GeminiCli => gemini_cli::usage(&ep, &base, &tokens).await,
                Kind::QwenCode => return Ok(Observation::default()),
            };
            res.map_err(|e| e.to_string())
        })
    }
}
