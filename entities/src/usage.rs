//! `usage`: one row per client request, success or failure.

use sea_orm::entity::prelude::*;

/// Token counts, cost and timings of one request.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "usage")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Request start, ms since the epoch.
    pub ts: i64,
    pub request_id: String,
    pub key_name: Option<String>,
    /// Dialect the client spoke.
    pub client_dialect: String,
    pub provider: Option<String>,
    pub account: Option<String>,
    /// Model as served (`provider/model`), or as requested when nothing served it.
    pub model: String,
    /// HTTP status returned to the client (499: the client went away).
    pub status: i32,
    pub error: Option<String>,
    /// Input tokens including cache reads and cache writes.
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    pub total_tokens: i64,
    /// Cost in USD (`None`: unpriced, the cost is unknown).
    pub cost_usd: Option<f64>,
    /// A subscription account's request at list price (what it would have cost).
    pub list_cost_usd: Option<f64>,
    /// `priced`, `estimated` (token counts estimated), `unpriced` or `subscription`.
    pub cost_source: String,
    pub latency_ms: i64,
    /// Time to the first byte sent to the client.
    pub ttfb_ms: Option<i64>,
    pub streamed: bool,
    /// Upstream attempts made (fallbacks included).
    pub attempts: i32,
    /// The request path: the surface asked (`/v1/completions`, `/v1/rerank`, ...).
    #[sea_orm(default_value = "")]
    pub path: String,
    /// What a surface billed per unit measured (images, audio seconds, characters spoken);
    /// `None` for a token-billed request, or when the answer did not say.
    pub units: Option<f64>,
    /// The unit of `units`: `image`, `second` or `character`.
    pub unit: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
