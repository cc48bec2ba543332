//! `usage_daily`: usage summed per day (UTC) and per provider, account, model, key and
//! status class, kept by the usage writer in the batch's transaction; never pruned with the raw
//! rows. `''` stands for a missing provider, account or key.

use sea_orm::entity::prelude::*;

/// The sums of one cell.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_daily")]
pub struct Model {
    /// The bucket's start, ms since the epoch.
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket: i64,
    /// Provider id (`''`: none).
    #[sea_orm(primary_key, auto_increment = false)]
    pub provider: String,
    /// Account name (`''`: none).
    #[sea_orm(primary_key, auto_increment = false)]
    pub account: String,
    /// Model as recorded.
    #[sea_orm(primary_key, auto_increment = false)]
    pub model: String,
    /// Gateway key name (`''`: none).
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_name: String,
    /// HTTP status / 100 (4 and 5 are errors).
    #[sea_orm(primary_key, auto_increment = false)]
    pub status_class: i32,
    /// Requests.
    pub requests: i64,
    /// Input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Cache-read input tokens.
    pub cache_read_tokens: i64,
    /// Cache-write input tokens.
    pub cache_write_tokens: i64,
    /// Reasoning output tokens.
    pub reasoning_tokens: i64,
    /// Cost in USD of the rows that had one.
    pub cost_usd: f64,
    /// List cost of subscription rows.
    pub list_cost_usd: f64,
    /// Rows with tokens but no price.
    pub unpriced_requests: i64,
}

impl ActiveModelBehavior for ActiveModel {}
