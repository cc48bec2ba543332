//! Bootstrap configuration: typed sections with documented defaults (see `config/default.toml`).
//!
//! Loading is two-phase: `load` turns file + environment + flags into a `Config` (serde, unknown keys
//! rejected with their path), then `validate` checks cross-references against the provider catalog.
//! Runtime state (accounts, keys, combos) declared here is upserted into the database at start-up.

mod auth_style;
pub mod cache;
mod keys;
mod load;
pub mod nesting;
mod secret_ref;
pub mod transform;
mod validate;

use std::path::PathBuf;

use actors::Strategy;
use serde::{Deserialize, Serialize};

use crate::protocol::Dialect;

pub use auth_style::AuthStyle;
pub use cache::CacheConfig;
pub use keys::{KeyEntry, TeamEntry};
pub use load::{ConfigError, LoadOptions, load, load_without_entries, parse_str};
pub use validate::validate;

/// The whole bootstrap configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Listening address, data directory, request limits.
    pub server: ServerConfig,
    /// Database location and pool.
    pub database: DatabaseConfig,
    /// Client authentication.
    pub auth: AuthConfig,
    /// Log format and level.
    pub log: LogConfig,
    /// Account selection.
    pub routing: RoutingConfig,
    /// Cooldowns and circuit breakers.
    pub resilience: ResilienceConfig,
    /// Upstream HTTP client limits and timeouts.
    pub upstream: UpstreamConfig,
    /// Usage recording.
    pub usage: UsageConfig,
    /// Who may read `/metrics`.
    pub metrics: MetricsConfig,
    /// `[budgets]`: where budget warnings go.
    pub budgets: BudgetsConfig,
    /// `[cache]`: the response cache's bounds and the idempotency window.
    pub cache: CacheConfig,
    /// Gateway keys declared as code.
    pub keys: Vec<KeyEntry>,
    /// Teams of keys, with limits and a budget shared by their keys.
    pub teams: Vec<TeamEntry>,
    /// Custom providers declared as code.
    pub providers: Vec<ProviderEntry>,
    /// Provider accounts declared as code.
    pub accounts: Vec<AccountEntry>,
    /// Combos declared as code.
    pub combos: Vec<ComboEntry>,
    /// Model aliases declared as code.
    pub aliases: Vec<AliasEntry>,
    /// Thinking policies per provider/model (first match wins; a request header overrides).
    pub thinking: Vec<ThinkingEntry>,
    /// Request transforms per provider, model pattern or combo (every match applies, in order),
    /// stored at start as `source = "config"` rows positioned by their index here.
    pub transforms: Vec<transform::TransformEntry>,
    /// Whether the entries above come from a config file: only then does start-up remove the
    /// config-declared rows the file no longer lists. Set by loading, not a config key.
    #[serde(skip)]
    pub from_file: bool,
}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub host: String,
    /// Port to listen on.
    pub port: u16,
    /// Where the database, master key and lock live (default `~/.omnigate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// HTTP worker threads (0: one per CPU core).
    pub workers: usize,
    /// Largest accepted request body, in MiB.
    pub max_body_mib: usize,
    /// Seconds a client has to send its whole request body (after the headers); then 408.
    pub body_timeout_secs: u64,
    /// Largest audio file of a transcription or translation, in MiB (OpenAI's limit: 25 MB).
    pub max_audio_upload_mib: u64,
    /// Largest image (or mask) file of an image edit, in MiB (OpenAI's: 50 MB per image for the
    /// GPT image models); an edit takes at most 16 images and a mask.
    pub max_image_upload_mib: u64,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_grace_secs: u64,
    /// Add the built-in local `demo` provider (an echo model, no network).
    pub demo: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 20128,
            data_dir: None,
            workers: 0,
            max_body_mib: 32,
            body_timeout_secs: 30,
            max_audio_upload_mib: 25,
            max_image_upload_mib: 50,
            shutdown_grace_secs: 30,
            demo: false,
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://...`, `postgres://...` or `mysql://...` / `mariadb://...` (MariaDB 10.5+);
    /// default `sqlite://<data dir>/omnigate.db`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Pool size.
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { url: None, max_connections: 8 }
    }
}

/// `[auth]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Require a gateway key on `/v1/...`.
    pub require_api_key: bool,
    /// Lifetime of a dashboard login, in hours.
    pub session_ttl_hours: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self { require_api_key: true, session_ttl_hours: 12 }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// Filter in `RUST_LOG` syntax; `RUST_LOG` itself wins when set.
    pub level: String,
    /// A file to log to instead of stderr (`serve --log-file`), rotated by size.
    pub file: Option<PathBuf>,
    /// The size (MiB) from which the file is rotated: `FILE` becomes `FILE.1`, `FILE.1` `FILE.2`…
    pub max_size_mb: u64,
    /// Rotated files kept beside the current one (0: the file starts over when full).
    pub keep: u32,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: LogFormat::Text, level: "info".into(), file: None, max_size_mb: 50, keep: 5 }
    }
}

/// `[routing]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// Default account strategy (providers may override it).
    pub strategy: Strategy,
    /// Round-robin: consecutive calls on one account before moving on.
    pub sticky_limit: u32,
    /// Upper bound on upstream attempts for one request (accounts and combo targets).
    pub max_attempts: u32,
    /// Used share of a quota window (0 to 1) from which an account is leased only when no other
    /// account of its provider is left.
    pub quota_near_limit: f64,
    /// A sticky session's binding to its account ends after this long unused, in seconds
    /// (0: no sticky sessions).
    pub session_ttl_secs: u64,
    /// Most sticky session bindings kept; beyond it the least recently used ends.
    pub max_sessions: u32,
    /// Longest a request waits for a paced or cooling account before it is answered 429, ms
    /// (0: never wait).
    pub max_wait_ms: u64,
    /// Most requests waiting at once; one more is answered 429 at once.
    pub max_queue: u32,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            strategy: Strategy::FillFirst,
            sticky_limit: 3,
            max_attempts: 8,
            quota_near_limit: 0.95,
            session_ttl_secs: 3600,
            max_sessions: 50_000,
            max_wait_ms: 30_000,
            max_queue: 256,
        }
    }
}

impl RoutingConfig {
    /// How the router keeps sticky sessions.
    pub fn session_policy(&self) -> actors::router::sessions::SessionPolicy {
        actors::router::sessions::SessionPolicy {
            ttl_ms: i64::try_from(self.session_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
            max: self.max_sessions as usize,
        }
    }
}

/// `[resilience]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResilienceConfig {
    /// First cooldown step of an account, in ms (doubles per consecutive failure).
    pub cooldown_base_ms: u64,
    /// Longest backoff step, in ms.
    pub cooldown_max_ms: u64,
    /// Longest cooldown an upstream `Retry-After` may impose, in seconds.
    pub retry_after_max_secs: u64,
    /// Consecutive provider failures that open its breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker stays open before a probe, in ms (doubles per trip).
    pub breaker_open_ms: u64,
    /// Longest open period, in ms.
    pub breaker_open_max_ms: u64,
    /// How long a model stays locked on one account after the upstream refused that model only
    /// (a 404 "model not found", a 429 naming the model) without a `Retry-After`, in ms.
    pub model_lock_ms: u64,
    /// Provider faults in a row on one account, while the provider's other accounts answer, that
    /// cool that account (backoff as for a 429).
    pub account_fault_threshold: u32,
}

impl Default for ResilienceConfig {
    fn default() -> Self {
        Self {
            cooldown_base_ms: 1_000,
            cooldown_max_ms: 120_000,
            retry_after_max_secs: 86_400,
            breaker_threshold: 5,
            breaker_open_ms: 30_000,
            breaker_open_max_ms: 600_000,
            model_lock_ms: 300_000,
            account_fault_threshold: 3,
        }
    }
}

/// `[upstream]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    /// TCP + TLS connect timeout, in ms.
    pub connect_timeout_ms: u64,
    /// Time from sending the request to the first response byte, in ms.
    pub first_byte_timeout_ms: u64,
    /// Longest silence between two chunks of a response, in ms.
    pub idle_timeout_ms: u64,
    /// Longest time a non-streamed response may take in all (request sent → last byte), in ms.
    pub total_timeout_ms: u64,
    /// Pooled connections per worker thread (0: unlimited).
    pub max_connections: usize,
    /// Largest non-streaming upstream response accepted, in MiB.
    pub max_response_mib: usize,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 10_000,
            first_byte_timeout_ms: 300_000,
            idle_timeout_ms: 120_000,
            total_timeout_ms: 600_000,
            max_connections: 0,
            max_response_mib: 64,
        }
    }
}

/// `[usage]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageConfig {
    /// Record one usage row per request.
    pub enabled: bool,
    /// Rows buffered before a batch insert.
    pub batch_size: usize,
    /// Longest time a row waits in the buffer, in ms.
    pub flush_interval_ms: u64,
    /// Days of usage rows and request logs kept (0: forever).
    pub retention_days: u32,
    /// Seconds between polls of a subscription account's usage endpoint (0: never poll; the
    /// windows are still read from every answer's headers).
    pub quota_poll_secs: u64,
    /// Most usage rows held in memory while the database cannot be written; past it they are
    /// dropped (counted in `/metrics`).
    pub hold_rows: usize,
}

impl Default for UsageConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            batch_size: 256,
            flush_interval_ms: 200,
            retention_days: 90,
            quota_poll_secs: 300,
            hold_rows: 100_000,
        }
    }
}

/// `[metrics]`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Whether `GET /metrics` needs the admin token (Bearer).
    pub require_token: MetricsAuth,
}

/// `[budgets]`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetsConfig {
    /// A URL told (POST, JSON) when a key crosses 80 % of its budget; retried with backoff,
    /// never in a request's way.
    pub webhook: Option<String>,
    /// The IANA time zone budget days, weeks and months start in (default UTC).
    pub time_zone: Option<String>,
}

impl BudgetsConfig {
    /// The zone budget periods are counted in (UTC when unset; `validate` refuses a bad name).
    pub fn zone(&self) -> crate::limits::Zone {
        self.time_zone.as_deref().and_then(|z| crate::limits::Zone::parse(z).ok()).unwrap_or_default()
    }
}

/// When `/metrics` needs the admin token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsAuth {
    /// Open while the daemon listens on a loopback address only; the token otherwise.
    #[default]
    Auto,
    /// Always the token.
    Always,
    /// Never (a scraper on a network you trust).
    Never,
}

fn yes() -> bool {
    true
}

fn one_i32() -> i32 {
    1
}

fn one_u32() -> u32 {
    1
}

/// `[[providers]]`: a custom provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderEntry {
    /// Id used in `provider/model`.
    pub id: String,
    /// Wire dialect of the upstream.
    pub dialect: Dialect,
    /// Base URL (the dialect's path is appended, e.g. `/chat/completions`).
    pub base_url: String,
    /// Models it serves: ids, or `{ id, context, max_output, price }` to size, limit and price them.
    #[serde(default)]
    pub models: Vec<ModelSpec>,
    /// Credential style (default: the dialect's usual one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthStyle>,
    /// Account strategy for this provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// Default `rpm` of its accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    /// Default `tpm` of its accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u32>,
    /// Default `min_gap_ms` of its accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_gap_ms: Option<u64>,
    /// Default `max_concurrent` of its accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    /// Surfaces it serves beyond chat and embeddings: `completions`, `moderations`, `rerank`,
    /// `images`, `image_edits`, `transcriptions`, `translations`, `speech`.
    #[serde(default, skip_serializing_if = "crate::providers::Serves::is_empty")]
    pub serves: crate::providers::Serves,
}

impl ProviderEntry {
    /// The options stored as JSON beside the provider's columns.
    pub fn options(&self) -> crate::providers::ProviderOptions {
        crate::providers::ProviderOptions {
            rpm: self.rpm,
            tpm: self.tpm,
            min_gap_ms: self.min_gap_ms,
            max_concurrent: self.max_concurrent,
            serves: self.serves,
        }
    }
}

/// A model of a custom provider: its id alone, or with its output limit and price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ModelSpec {
    /// Just the id: no known limit, no cost recorded.
    Id(String),
    /// The id with what the catalog knows of its own models.
    Full {
        /// Model id as the upstream names it.
        id: String,
        /// Most output tokens the upstream accepts (requests are clamped to it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_output: Option<u32>,
        /// Context window, tokens: requests estimated larger skip this model.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<u32>,
        /// USD per million tokens: input, output[, cache read[, cache write]].
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        price: Vec<f64>,
        /// USD per image made or edited (image edits).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        per_image: Option<f64>,
        /// USD per second of audio transcribed or translated.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        per_second: Option<f64>,
        /// USD per character of input spoken.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        per_character: Option<f64>,
    },
}

impl ModelSpec {
    /// The model id.
    pub fn id(&self) -> &str {
        match self {
            Self::Id(id) | Self::Full { id, .. } => id,
        }
    }
}

/// `[[accounts]]`: one provider account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    /// A custom provider id or a catalog id.
    pub provider: String,
    /// Unique within the provider.
    pub name: String,
    /// Upstream credential (sealed in the database).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Override of the provider's base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Lower is preferred.
    #[serde(default = "one_i32")]
    pub priority: i32,
    /// Relative share for weighted choice.
    #[serde(default = "one_u32")]
    pub weight: u32,
    /// A disabled account is never leased.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Most requests in flight at once (unset: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    /// Pass the client's `OpenAI-Organization` / `OpenAI-Project` headers on to this account.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forward_org_headers: bool,
    /// Most requests in any 60 seconds (unset: unpaced); a burst up to it is allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    /// Most tokens in any 60 seconds (the input estimate plus the output asked for, counted
    /// before sending; unset: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u32>,
    /// Least time between two requests, ms (unset: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_gap_ms: Option<u64>,
    /// A subscription account's tokens (a seed: once refreshed, the stored tokens are kept
    /// until these values change) and endpoint overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthEntry>,
}

/// `oauth = { ... }` of a subscription account (`claude-code`, `codex`, `gemini-cli`,
/// `github-copilot`, `qwen-code`). Tokens are sealed at upsert and never written back out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthEntry {
    /// The access token (Copilot: may be left out; it is obtained from the GitHub token).
    #[serde(default, skip_serializing)]
    pub access_token: Option<String>,
    /// The refresh token (Copilot: the GitHub token).
    #[serde(default, skip_serializing)]
    pub refresh_token: Option<String>,
    /// When the access token expires (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Provider facts the tokens need (Codex `account_id`, Gemini `project`, Qwen
    /// `resource_url`), as the official CLI's files hold them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub extra: std::collections::BTreeMap<String, String>,
    /// Override of the provider's token endpoint (Copilot: its token exchange).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// Override of the provider's authorization page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorize_url: Option<String>,
    /// Override of the provider's device-code endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_url: Option<String>,
    /// Override of the provider's device-flow token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token_url: Option<String>,
    /// Override of the provider's usage endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_url: Option<String>,
}

impl AccountEntry {
    /// The options stored as JSON beside the account's columns.
    pub fn options(&self) -> crate::providers::AccountOptions {
        crate::providers::AccountOptions {
            forward_org_headers: self.forward_org_headers,
            rpm: self.rpm,
            tpm: self.tpm,
            min_gap_ms: self.min_gap_ms,
        }
    }
}

/// Order in which a combo tries its targets (a nested combo counts as one target, placed by
/// its own first target).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ComboStrategy {
    /// In the listed order.
    #[default]
    Priority,
    /// Rotating the first target per request.
    RoundRobin,
    /// A random order in which a target comes first with a chance proportional to its weight.
    Random,
    /// Smooth weighted round-robin: over any run of requests each target comes first in
    /// proportion to its weight (deterministic, no streaks); the others follow in listed order.
    Weighted,
    /// The target that served longest ago (or never) first.
    LeastUsed,
    /// The cheapest target first, by the price table's price (3 input : 1 output tokens blended);
    /// targets without a price last.
    CostOptimized,
    /// The target with the lowest average time to first byte first (an EWMA of served
    /// requests); a target never measured goes first to be measured.
    LatencyOptimized,
    /// The target that served last, until it fails; then the next one in the list, and so on.
    FillFirst,
}

impl ComboStrategy {
    /// Every strategy.
    pub const ALL: [Self; 8] = [
        Self::Priority,
        Self::RoundRobin,
        Self::Random,
        Self::Weighted,
        Self::LeastUsed,
        Self::CostOptimized,
        Self::LatencyOptimized,
        Self::FillFirst,
    ];

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Priority => "priority",
            Self::RoundRobin => "round-robin",
            Self::Random => "random",
            Self::Weighted => "weighted",
            Self::LeastUsed => "least-used",
            Self::CostOptimized => "cost-optimized",
            Self::LatencyOptimized => "latency-optimized",
            Self::FillFirst => "fill-first",
        }
    }

    /// Parses the config spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// One target of a combo: a model string (`provider/model`, an alias or another combo), or a
/// table with its weight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ComboTarget {
    /// Just the model (weight 1).
    Model(String),
    /// `{ model = "...", weight = 3 }`.
    Weighted(WeightedTarget),
}

/// `{ model = "...", weight = 3 }` in a combo's `models`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedTarget {
    /// `provider/model`, an alias or another combo.
    pub model: String,
    /// Share for `random` and `weighted` (at least 1).
    #[serde(default = "one_u32")]
    pub weight: u32,
}

impl ComboTarget {
    /// The model string.
    pub fn model(&self) -> &str {
        match self {
            Self::Model(m) | Self::Weighted(WeightedTarget { model: m, .. }) => m,
        }
    }

    /// The weight (1 unless given).
    pub fn weight(&self) -> u32 {
        match self {
            Self::Model(_) => 1,
            Self::Weighted(w) => w.weight,
        }
    }
}

impl From<&str> for ComboTarget {
    fn from(m: &str) -> Self {
        Self::Model(m.to_string())
    }
}

/// `[[combos]]`: a named fallback list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComboEntry {
    /// Used as the `model` value by clients.
    pub name: String,
    /// Targets, in priority order: `provider/model`, aliases or other combos (nested at most
    /// three deep, no cycles), each a string or `{ model, weight }`.
    pub models: Vec<ComboTarget>,
    /// How targets are ordered per request.
    #[serde(default)]
    pub strategy: ComboStrategy,
    /// Mid-stream failover: when a stream breaks after text was sent, the next target continues
    /// it from that text in the same client stream (not for tool-call streams).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resume: bool,
}

/// What a combo keeps beyond its strategy and targets (`combos.options`, JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ComboOptions {
    /// Mid-stream failover (see `ComboEntry::resume`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resume: bool,
}

impl ComboOptions {
    /// Reads the stored JSON (an unreadable value is the defaults).
    pub fn from_json(s: &str) -> Self {
        serde_json::from_str(s).unwrap_or_default()
    }

    /// The stored JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// `[[aliases]]`: a model alias.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliasEntry {
    /// Alias; `*` and `?` wildcards allowed.
    pub alias: String,
    /// `provider/model` it resolves to.
    pub target: String,
}

/// What a thinking policy does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ThinkingMode {
    /// As the client asked.
    #[default]
    Passthrough,
    /// Never asked for.
    Off,
    /// Always on, with `budget` tokens.
    Budget,
}

/// `[[thinking]]`: the thinking policy of some models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThinkingEntry {
    /// `provider/model` patterns (`*`, `?`).
    pub models: Vec<String>,
    /// What to do.
    pub mode: ThinkingMode,
    /// Tokens of thinking, for `mode = "budget"` (at least 1024).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<u32>,
}

/// Whether `host` (a name or an address, IPv6 with or without brackets) names this machine only:
/// `localhost`, 127.0.0.0/8 or `::1`.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Config {
    /// The data directory: the configured one, else `~/.omnigate`.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(dir) = &self.server.data_dir {
            return dir.clone();
        }
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
        home.join(".omnigate")
    }

    /// The database URL: the configured one, else the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir().join("omnigate.db").display()),
        }
    }
}
