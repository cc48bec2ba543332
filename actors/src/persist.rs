//! Reading and writing the actor state that survives a restart (SeaORM, either backend).

use std::collections::HashMap;

use entities::{account_state, breaker_state, model_lockout};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use crate::account::AccountHealth;
use crate::breaker::{BreakerPhase, BreakerState};
use crate::clock::now_ms;

/// A state row an actor has just written, for the instances sharing the database to re-read
/// (`omnigate::cluster` announces it on PostgreSQL; nothing listens on SQLite).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// An account's `account_state` and `model_lockout` rows.
    Account(i64),
    /// A provider's `breaker_state` row.
    Breaker(String),
    /// An account's `quota_windows` rows.
    Quota(i64),
}

/// Where an actor announces what it wrote (none on a single instance).
pub type Announce = Option<tokio::sync::mpsc::UnboundedSender<Written>>;

/// An actor's state written in the order it changed: one write at a time, and a newer state
/// waiting replaces an older one not yet written. (A task spawned per change let two writes race
/// on two pooled connections, and an older state could land last and stay.)
#[derive(Debug)]
pub struct Saver<T> {
    latest: tokio::sync::watch::Sender<Option<T>>,
}

impl<T: Clone + Send + Sync + 'static> Saver<T> {
    /// Starts the writing task (on the current actix runtime) around `write`.
    pub fn start<F, Fut>(write: F) -> Self
    where
        F: Fn(T) -> Fut + 'static,
        Fut: std::future::Future<Output = ()> + 'static,
    {
        let (latest, mut rx) = tokio::sync::watch::channel(None::<T>);
        actix_rt::spawn(async move {
            // Ends once the actor is gone and its last state is written.
            while rx.changed().await.is_ok() {
                let next = rx.borrow_and_update().clone();
                if let Some(v) = next {
                    write(v).await;
                }
            }
        });
        Self { latest }
    }

    /// Writes `v` after what is being written now (replacing what waits).
    pub fn save(&self, v: T) {
        self.latest.send_replace(Some(v));
    }
}

/// Writes one account's health (and replaces its model locks).
pub async fn save_account(db: &DatabaseConnection, id: i64, h: &AccountHealth) -> Result<(), DbErr> {
    let row = account_state::ActiveModel {
        account_id: Set(id),
        cooldown_until: Set(h.cooldown_until),
        backoff_level: Set(i32::try_from(h.backoff_level).unwrap_or(i32::MAX)),
        reason: Set(h.reason.clone()),
        last_used_at: Set(h.last_used_at),
        updated_at: Set(now_ms()),
        disabled: Set(h.disabled.clone()),
        reason_since: Set(h.reason_since),
    };
    account_state::Entity::insert(row)
        .on_conflict(
            OnConflict::column(account_state::Column::AccountId)
                .update_columns([
                    account_state::Column::CooldownUntil,
                    account_state::Column::BackoffLevel,
                    account_state::Column::Reason,
                    account_state::Column::LastUsedAt,
                    account_state::Column::UpdatedAt,
                    account_state::Column::Disabled,
                    account_state::Column::ReasonSince,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    model_lockout::Entity::delete_many().filter(model_lockout::Column::AccountId.eq(id)).exec(db).await?;
    for (model, until) in &h.model_locks {
        model_lockout::Entity::insert(model_lockout::ActiveModel {
            account_id: Set(id),
            model: Set(model.clone()),
            until: Set(*until),
            reason: Set(h.reason.clone()),
        })
        .exec(db)
        .await?;
    }
    Ok(())
}

/// Reads every account's health.
pub async fn load_accounts(db: &DatabaseConnection) -> Result<HashMap<i64, AccountHealth>, DbErr> {
    let mut out: HashMap<i64, AccountHealth> = account_state::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|r| {
            let h = AccountHealth {
                cooldown_until: r.cooldown_until,
                backoff_level: u32::try_from(r.backoff_level).unwrap_or(0),
                reason: r.reason,
                last_used_at: r.last_used_at,
                model_locks: HashMap::new(),
                disabled: r.disabled,
                reason_since: r.reason_since,
            };
            (r.account_id, h)
        })
        .collect();
    for l in model_lockout::Entity::find().all(db).await? {
        out.entry(l.account_id).or_default().model_locks.insert(l.model, l.until);
    }
    Ok(out)
}

/// Reads one account's health (default when never written).
pub async fn load_account(db: &DatabaseConnection, id: i64) -> Result<AccountHealth, DbErr> {
    let Some(r) = account_state::Entity::find_by_id(id).one(db).await? else {
        return Ok(AccountHealth::default());
    };
    let locks = model_lockout::Entity::find().filter(model_lockout::Column::AccountId.eq(id)).all(db).await?;
    Ok(AccountHealth {
        cooldown_until: r.cooldown_until,
        backoff_level: u32::try_from(r.backoff_level).unwrap_or(0),
        reason: r.reason,
        last_used_at: r.last_used_at,
        model_locks: locks.into_iter().map(|l| (l.model, l.until)).collect(),
        disabled: r.disabled,
        reason_since: r.reason_since,
    })
}

/// Writes one provider's breaker.
pub async fn save_breaker(db: &DatabaseConnection, provider: &str, b: &BreakerState) -> Result<(), DbErr> {
    let row = breaker_state::ActiveModel {
        provider: Set(provider.to_string()),
        state: Set(b.phase.as_str().to_string()),
        failures: Set(i32::try_from(b.failures).unwrap_or(i32::MAX)),
        open_until: Set(b.open_until),
        trips: Set(i32::try_from(b.trips).unwrap_or(i32::MAX)),
        updated_at: Set(now_ms()),
    };
    breaker_state::Entity::insert(row)
        .on_conflict(
            OnConflict::column(breaker_state::Column::Provider)
                .update_columns([
                    breaker_state::Column::State,
                    breaker_state::Column::Failures,
                    breaker_state::Column::OpenUntil,
                    breaker_state::Column::Trips,
                    breaker_state::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Reads every provider's breaker.
pub async fn load_breakers(db: &DatabaseConnection) -> Result<HashMap<String, BreakerState>, DbErr> {
    Ok(breaker_state::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|r| {
            let b = BreakerState {
                phase: BreakerPhase::parse(&r.state),
                failures: u32::try_from(r.failures).unwrap_or(0),
                open_until: r.open_until,
                trips: u32::try_from(r.trips).unwrap_or(0),
            };
            (r.provider, b)
        })
        .collect())
}
