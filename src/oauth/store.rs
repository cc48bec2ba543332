//! OAuth sessions in the database (`oauth_sessions`, one per account): tokens sealed under the
//! master key (never in clear), the generation that orders writers, status and reason, endpoint
//! overrides, and the digest of a config seed. Also the account row a sign-in creates.

use actors::refresher::{SessionStatus, Tokens};
use entities::{account, oauth_session};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::{EndpointOverrides, Grant, Kind};
use crate::secrets::{Sealer, SecretError};
use crate::store::{SOURCE_API, now_ms};

/// Associated-data label of sealed OAuth tokens.
pub const TOKENS_PURPOSE: &str = "account.oauth";

/// Why a session could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// The sealed tokens could not be opened.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The sealed tokens are not ours.
    #[error("the stored OAuth tokens of account {0} are unreadable")]
    Corrupt(i64),
}

impl StoreError {
    /// As a start-up error.
    pub fn into_start(self) -> crate::app::StartError {
        match self {
            Self::Db(e) => crate::app::StartError::Store(e),
            Self::Secret(e) => crate::app::StartError::Secret(e),
            Self::Corrupt(id) => {
                crate::app::StartError::Catalog(format!("the stored OAuth tokens of account {id} are unreadable"))
            }
        }
    }
}

/// What is sealed: the tokens and the provider facts that travel with them.
#[derive(Serialize, Deserialize)]
struct Sealed {
    access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    obtained_at: i64,
    #[serde(default)]
    extra: serde_json::Map<String, serde_json::Value>,
}

fn seal(sealer: &Sealer, t: &Tokens) -> String {
    let s = Sealed {
        access_token: t.access.expose().to_string(),
        refresh_token: t.refresh.as_ref().map(|r| r.expose().to_string()),
        expires_at: t.expires_at,
        obtained_at: t.obtained_at,
        extra: (*t.extra).clone(),
    };
    sealer.seal(TOKENS_PURPOSE, &serde_json::to_string(&s).unwrap_or_default())
}

fn open(sealer: &Sealer, row: &oauth_session::Model) -> Result<Tokens, StoreError> {
    let text = sealer.open(TOKENS_PURPOSE, &row.secret)?;
    let s: Sealed = serde_json::from_str(&text).map_err(|_| StoreError::Corrupt(row.account_id))?;
    let g = Grant { access: s.access_token, refresh: s.refresh_token, expires_at: s.expires_at, extra: s.extra };
    Ok(g.into_tokens(s.obtained_at, row.generation))
}

/// One account's session as stored.
#[derive(Debug, Clone)]
pub struct Session {
    /// The account.
    pub account_id: i64,
    /// The provider.
    pub kind: Kind,
    /// The tokens.
    pub tokens: Tokens,
    /// How the account stands.
    pub status: SessionStatus,
    /// Why it needs a new sign-in.
    pub reason: Option<String>,
    /// Endpoint overrides.
    pub endpoints: EndpointOverrides,
    /// Digest of the config seed the tokens came from (config accounts).
    pub seed_digest: Option<String>,
    /// Last refresh (ms).
    pub refreshed_at: Option<i64>,
}

fn session(sealer: &Sealer, row: &oauth_session::Model) -> Result<Option<Session>, StoreError> {
    let Some(kind) = Kind::parse(&row.provider) else { return Ok(None) };
    Ok(Some(Session {
        account_id: row.account_id,
        kind,
        tokens: open(sealer, row)?,
        status: SessionStatus::parse(&row.status),
        reason: row.reason.clone(),
        endpoints: EndpointOverrides::from_json(&row.endpoints),
        seed_digest: row.seed_digest.clone(),
        refreshed_at: row.refreshed_at,
    }))
}

/// One account's session.
pub async fn load(db: &impl ConnectionTrait, sealer: &Sealer, account_id: i64) -> Result<Option<Session>, StoreError> {
    match oauth_session::Entity::find_by_id(account_id).one(db).await? {
        Some(row) => session(sealer, &row),
        None => Ok(None),
    }
}

/// Every session row without opening its tokens (for listings).
pub async fn rows(db: &impl ConnectionTrait) -> Result<Vec<oauth_session::Model>, DbErr> {
    oauth_session::Entity::find().order_by_asc(oauth_session::Column::AccountId).all(db).await
}

/// Writes refreshed tokens, unless a newer generation is stored already (another writer won:
/// its tokens stay, and the refresher adopts them on its next round).
pub async fn save_tokens(
    db: &impl ConnectionTrait,
    sealer: &Sealer,
    account_id: i64,
    t: &Tokens,
) -> Result<bool, DbErr> {
    let now = now_ms();
    let res = oauth_session::Entity::update_many()
        .col_expr(oauth_session::Column::Secret, sea_orm::sea_query::Expr::value(seal(sealer, t)))
        .col_expr(oauth_session::Column::ExpiresAt, sea_orm::sea_query::Expr::value(t.expires_at))
        .col_expr(oauth_session::Column::Generation, sea_orm::sea_query::Expr::value(t.generation))
        .col_expr(oauth_session::Column::RefreshedAt, sea_orm::sea_query::Expr::value(Some(now)))
        .col_expr(oauth_session::Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
        .filter(oauth_session::Column::AccountId.eq(account_id))
        .filter(oauth_session::Column::Generation.lt(t.generation))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Records a session's status; a disabled one also disables its account (with the reason in
/// the session), so every view of the account shows it out of service.
pub async fn set_status(
    db: &impl ConnectionTrait,
    account_id: i64,
    status: SessionStatus,
    reason: Option<String>,
) -> Result<(), DbErr> {
    let now = now_ms();
    oauth_session::Entity::update_many()
        .col_expr(oauth_session::Column::Status, sea_orm::sea_query::Expr::value(status.as_str()))
        .col_expr(oauth_session::Column::Reason, sea_orm::sea_query::Expr::value(reason))
        .col_expr(oauth_session::Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
        .filter(oauth_session::Column::AccountId.eq(account_id))
        .exec(db)
        .await?;
    if status == SessionStatus::Disabled {
        account::Entity::update_many()
            .col_expr(account::Column::Enabled, sea_orm::sea_query::Expr::value(false))
            .col_expr(account::Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
            .filter(account::Column::Id.eq(account_id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// What a sign-in or an import stores.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// The provider.
    pub kind: Kind,
    /// The account's name (unique within the provider).
    pub name: String,
    /// The tokens.
    pub grant: Grant,
    /// Endpoint overrides for this account.
    pub endpoints: EndpointOverrides,
    /// The account's base URL override.
    pub base_url: Option<String>,
}

/// Stores a sign-in: creates the account (made through the API) or signs an existing one in
/// again, and writes its session with a newer generation, status `ok` and the account enabled.
/// Returns the account row.
pub async fn sign_in(db: &sea_orm::DatabaseConnection, sealer: &Sealer, s: &SignIn) -> Result<account::Model, DbErr> {
    // BEGIN IMMEDIATE on SQLite: take the write lock up front rather than fail on upgrading it.
    let options = sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..sea_orm::TransactionOptions::default()
    };
    let tx = db.begin_with_options(options).await?;
    let now = now_ms();
    let existing = account::Entity::find()
        .filter(account::Column::Provider.eq(s.kind.id()))
        .filter(account::Column::Name.eq(s.name.as_str()))
        .one(&tx)
        .await?;
    let acc = match existing {
        Some(row) => {
            let mut am: account::ActiveModel = row.into();
            am.enabled = Set(true);
            if s.base_url.is_some() {
                am.base_url = Set(s.base_url.clone());
            }
            am.updated_at = Set(now);
            am.update(&tx).await?
        }
        None => {
            account::ActiveModel {
                provider: Set(s.kind.id().into()),
                name: Set(s.name.clone()),
                secret: Set(None),
                base_url: Set(s.base_url.clone()),
                priority: Set(1),
                weight: Set(1),
                enabled: Set(true),
                max_concurrent: Set(None),
                options: Set("{}".into()),
                source: Set(SOURCE_API.into()),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&tx)
            .await?
        }
    };
    let old = oauth_session::Entity::find_by_id(acc.id).one(&tx).await?;
    let generation = old.as_ref().map_or(0, |o| o.generation) + 1;
    let tokens = s.grant.clone().into_tokens(now, generation);
    let endpoints = if s.endpoints.is_empty() {
        old.as_ref().map_or_else(|| "{}".to_string(), |o| o.endpoints.clone())
    } else {
        s.endpoints.to_json()
    };
    write(&tx, sealer, acc.id, s.kind, &tokens, endpoints, old.and_then(|o| o.seed_digest), now).await?;
    tx.commit().await?;
    Ok(acc)
}

/// Writes a whole session row (insert or replace), status `ok`.
#[allow(clippy::too_many_arguments)]
async fn write(
    db: &impl ConnectionTrait,
    sealer: &Sealer,
    account_id: i64,
    kind: Kind,
    t: &Tokens,
    endpoints: String,
    seed_digest: Option<String>,
    now: i64,
) -> Result<(), DbErr> {
    let row = oauth_session::ActiveModel {
        account_id: Set(account_id),
        provider: Set(kind.id().into()),
        secret: Set(seal(sealer, t)),
        expires_at: Set(t.expires_at),
        generation: Set(t.generation),
        status: Set(SessionStatus::Ok.as_str().into()),
        reason: Set(None),
        seed_digest: Set(seed_digest),
        endpoints: Set(endpoints),
        refreshed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    oauth_session::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(oauth_session::Column::AccountId)
                .update_columns([
                    oauth_session::Column::Provider,
                    oauth_session::Column::Secret,
                    oauth_session::Column::ExpiresAt,
                    oauth_session::Column::Generation,
                    oauth_session::Column::Status,
                    oauth_session::Column::Reason,
                    oauth_session::Column::SeedDigest,
                    oauth_session::Column::Endpoints,
                    oauth_session::Column::RefreshedAt,
                    oauth_session::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Replaces a session's endpoint overrides (a session that does not exist yet is left alone).
pub async fn set_endpoints(
    db: &impl ConnectionTrait,
    account_id: i64,
    endpoints: &EndpointOverrides,
) -> Result<(), DbErr> {
    oauth_session::Entity::update_many()
        .col_expr(oauth_session::Column::Endpoints, sea_orm::sea_query::Expr::value(endpoints.to_json()))
        .filter(oauth_session::Column::AccountId.eq(account_id))
        .filter(oauth_session::Column::Endpoints.ne(endpoints.to_json()))
        .exec(db)
        .await?;
    Ok(())
}

/// A config seed for one account: its tokens and endpoint overrides.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The account row it belongs to.
    pub account_id: i64,
    /// The provider.
    pub kind: Kind,
    /// The tokens the file declares.
    pub grant: Grant,
    /// Keyed digest of those tokens.
    pub digest: String,
    /// Endpoint overrides the file declares.
    pub endpoints: EndpointOverrides,
}

/// Upserts a config seed: the stored tokens are replaced only when the seed changed since it
/// was last applied (a refreshed token survives a restart with the same config). The endpoint
/// overrides always follow the file. A session the provider disabled stays disabled (with its
/// account) until its seed changes. Returns whether the tokens were replaced.
pub async fn apply_seed(db: &impl ConnectionTrait, sealer: &Sealer, seed: &Seed) -> Result<bool, DbErr> {
    let now = now_ms();
    let old = oauth_session::Entity::find_by_id(seed.account_id).one(db).await?;
    let endpoints = seed.endpoints.to_json();
    match old {
        Some(o) if o.seed_digest.as_deref() == Some(seed.digest.as_str()) && o.provider == seed.kind.id() => {
            if o.endpoints != endpoints {
                let mut am: oauth_session::ActiveModel = o.clone().into();
                am.endpoints = Set(endpoints);
                am.updated_at = Set(now);
                am.update(db).await?;
            }
            if SessionStatus::parse(&o.status) == SessionStatus::Disabled {
                set_status(db, seed.account_id, SessionStatus::Disabled, o.reason).await?;
            }
            Ok(false)
        }
        old => {
            let generation = old.as_ref().map_or(0, |o| o.generation) + 1;
            let tokens = seed.grant.clone().into_tokens(now, generation);
            write(db, sealer, seed.account_id, seed.kind, &tokens, endpoints, Some(seed.digest.clone()), now).await?;
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_tokens_hold_no_plaintext() {
        let sealer = Sealer::new(&crate::secrets::MasterKey::generate());
        let g = Grant {
            access: "sk-ant-oat01-secret-access".into(),
            refresh: Some("sk-ant-ort01-secret-refresh".into()),
            expires_at: Some(5),
            extra: Default::default(),
        };
        let t = g.into_tokens(1, 3);
        let sealed = seal(&sealer, &t);
        assert!(!sealed.contains("secret"));
        let row = oauth_session::Model {
            account_id: 1,
            provider: "claude-code".into(),
            secret: sealed,
            expires_at: Some(5),
            generation: 3,
            status: "ok".into(),
            reason: None,
            seed_digest: None,
            endpoints: "{}".into(),
            refreshed_at: None,
            created_at: 0,
            updated_at: 0,
        };
        let back = open(&sealer, &row).expect("opens");
        assert_eq!(back, t);
    }
}
