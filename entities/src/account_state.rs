//! `account_state`: an account actor's state that survives a restart.

use sea_orm::entity::prelude::*;

/// Cooldown and backoff of one account.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account_state")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: i64,
    /// The account is not leased before this time (ms since the epoch).
    pub cooldown_until: i64,
    /// Exponent of the next backoff step.
    pub backoff_level: i32,
    /// Why the account is cooling down.
    pub reason: Option<String>,
    pub last_used_at: i64,
    pub updated_at: i64,
    /// Why the account is out of service until an operator resets it (`None`: it serves).
    pub disabled: Option<String>,
    /// Since when (ms) the account has its current `reason` or `disabled`; 0 when it has none.
    pub reason_since: i64,
}

impl ActiveModelBehavior for ActiveModel {}
