//! `breaker_state`: a provider circuit breaker's state.

use sea_orm::entity::prelude::*;

/// Breaker state of one provider.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "breaker_state")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub provider: String,
    /// `closed`, `open` or `half-open`.
    pub state: String,
    /// Consecutive end-to-end failures.
    pub failures: i32,
    /// While open: when it may half-open (ms since the epoch).
    pub open_until: i64,
    /// Consecutive trips, to lengthen the open period.
    pub trips: i32,
    pub updated_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
