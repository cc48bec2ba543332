//! The refresher's and the poller's view of one account: `Source` refreshes through the
//! provider module (on PostgreSQL under an advisory lock per account, so one instance at a time
//! spends the refresh token), prepares a Code Assist project, and saves and loads the sealed session;
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

/// Advisory lock class of OAuth refreshes (the second key is the account id).
const REFRESH_LOCK: i32 = 0x6f67_0001;

/// How long an instance waits for another one's refresh of the same account (seconds).
const REFRESH_LOCK_WAIT: u32 = 30;

impl Source {
    /// Spends the refresh token of `current` (no lock).
    async fn refresh_now(&self, current: &Tokens) -> Result<Tokens, RefreshError> {
        let now = actors::clock::now_ms();
        let grant = Grant::from_tokens(current);
        let fresh = flow::refresh(self.kind, &self.endpoints, &grant, now).await.map_err(|e| {
            // A provider's words never carry the token back, but make sure.
            let mut e = e.into_refresh();
            if let (RefreshError::Revoked(m) | RefreshError::Transient(m), Some(rt)) = (&mut e, &grant.refresh) {
                *m = crate::redact::redact(m, rt);
            }
            e
        })?;
        Ok(fresh.into_tokens(now, current.generation))
    }

    /// On PostgreSQL and MariaDB, a transaction holding this account's refresh lock: several
    /// instances share the session, and exactly one may spend its refresh token at a time (the
    /// others wait, then read what it stored). `None` on SQLite (one instance).
    async fn exclusive(&self) -> Result<Option<sea_orm::DatabaseTransaction>, RefreshError> {
        use actors::sql::{self, Dialect};
        use sea_orm::{ConnectionTrait, TransactionTrait};
        let backend = self.db.get_database_backend();
        let fail = |e: sea_orm::DbErr| RefreshError::Transient(format!("taking the refresh lock failed: {e}"));
        match Dialect::of(backend) {
            Dialect::Sqlite => Ok(None),
            Dialect::Postgres => {
                let txn = self.db.begin().await.map_err(fail)?;
                txn.execute_unprepared(&format!("SET LOCAL lock_timeout = '{REFRESH_LOCK_WAIT}s'"))
                    .await
                    .map_err(fail)?;
                let id = i32::try_from(self.account_id).unwrap_or(i32::MAX);
                let lock = sql::statement(
                    backend,
                    "SELECT pg_advisory_xact_lock(?, ?)::text AS locked",
                    vec![REFRESH_LOCK.into(), id.into()],
                );
                txn.execute_raw(lock).await.map_err(fail)?;
                Ok(Some(txn))
            }
            Dialect::MySql => {
                // The lock is the row lock of a `settings` row of the account's own (never the
                // session row, which the refresh writes on another connection): taken by the
                // upsert, held until the transaction ends, waited for at most REFRESH_LOCK_WAIT.
                let key = format!("cluster.refresh_lock.{}", self.account_id);
                let txn = self.db.begin().await.map_err(fail)?;
                let lock = format!(
                    "SET STATEMENT innodb_lock_wait_timeout = {REFRESH_LOCK_WAIT} FOR \
                     INSERT INTO settings (\"key\", value, updated_at) VALUES (?, '', 0){}",
                    sql::on_conflict(backend, "settings", &["\"key\""], &[])
                );
                txn.execute_raw(sql::statement(backend, &lock, vec![key.into()])).await.map_err(fail)?;
                Ok(Some(txn))
            }
        }
    }

    /// Under the cluster lock: another instance may have refreshed while this one waited (then
    /// its stored tokens are the answer); otherwise refresh and store before letting go, so the
    /// next instance to take the lock reads them.
    async fn refresh_locked(
        &self,
        txn: sea_orm::DatabaseTransaction,
        current: &Tokens,
    ) -> Result<Tokens, RefreshError> {
        if let Ok(Some(stored)) = store::load(&self.db, &self.sealer, self.account_id).await
            && stored.tokens.generation > current.generation
        {
            let _ = txn.commit().await;
            return Ok(stored.tokens);
        }
        let mut fresh = match self.refresh_now(current).await {
            Ok(t) => t,
            Err(e) => {
                let _ = txn.commit().await;
                return Err(e);
            }
        };
        fresh.generation = current.generation + 1;
        if let Err(e) = store::save_tokens(&self.db, &self.sealer, self.account_id, &fresh).await {
            // The refresher persists them again (and handles that failure).
            tracing::warn!(account = self.account_id, error = %e, "saving refreshed tokens under the lock failed");
        }
        let _ = txn.commit().await;
        Ok(fresh)
    }
}

impl TokenSource for Source {
    fn refresh(&self, current: Arc<Tokens>) -> LocalBoxFuture<'static, Result<Tokens, RefreshError>> {
        let s = self.clone();
        Box::pin(async move {
            match s.exclusive().await? {
                Some(txn) => s.refresh_locked(txn, &current).await,
                None => s.refresh_now(&current).await,
            }
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
