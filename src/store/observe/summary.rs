//! Usage totals grouped by a dimension and by time bucket, summed in SQL that both backends run
//! alike: integer division of the ms timestamp makes the bucket, and every sum is cast to a
//! 64-bit integer (PostgreSQL sums `bigint` into `numeric` otherwise).

use sea_orm::{ConnectionTrait, DbErr, Value};
use serde::Serialize;

use super::statement;

/// What rows are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// Provider id.
    Provider,
    /// Model as recorded (`provider/model`).
    Model,
    /// Gateway key name.
    Key,
    /// `provider/account`.
    Account,
}

impl GroupBy {
    /// Every dimension, in its query spelling.
    pub const ALL: [(&'static str, Self); 4] =
        [("provider", Self::Provider), ("model", Self::Model), ("key", Self::Key), ("account", Self::Account)];

    /// Parses the query spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, g)| *g)
    }

    /// The query spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provider => "provider",
            Self::Model => "model",
            Self::Key => "key",
            Self::Account => "account",
        }
    }

    /// The usage columns that make the group (fixed names: never client text).
    fn columns(self) -> &'static [&'static str] {
        match self {
            Self::Provider => &["provider"],
            Self::Model => &["model"],
            Self::Key => &["key_name"],
            Self::Account => &["provider", "account"],
        }
    }
}

/// Sums over a set of usage rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Counts {
    /// Requests.
    pub requests: i64,
    /// Requests answered with a status of 400 or more (499: the client went away).
    pub errors: i64,
    /// Input tokens (cache reads and writes included).
    pub input_tokens: i64,
    /// Output tokens (reasoning included).
    pub output_tokens: i64,
    /// Input tokens read from a prompt cache.
    pub cache_read_tokens: i64,
    /// Input tokens written to a prompt cache.
    pub cache_write_tokens: i64,
    /// Output tokens spent on reasoning.
    pub reasoning_tokens: i64,
    /// Cost in USD of the rows that have one (priced, estimated; subscription rows are $0).
    pub cost: f64,
    /// What the subscription rows would have cost at list price.
    pub list_cost: f64,
    /// Rows with tokens but no price: their cost is unknown, not $0.
    pub unpriced_requests: i64,
}

impl Counts {
    /// Adds `o` to these counts.
    pub fn add(&mut self, o: &Counts) {
        self.requests += o.requests;
        self.errors += o.errors;
        self.input_tokens += o.input_tokens;
        self.output_tokens += o.output_tokens;
        self.cache_read_tokens += o.cache_read_tokens;
        self.cache_write_tokens += o.cache_write_tokens;
        self.reasoning_tokens += o.reasoning_tokens;
        self.cost += o.cost;
        self.list_cost += o.list_cost;
        self.unpriced_requests += o.unpriced_requests;
    }
}

/// The sums of one group in one bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// The group's key (`None`: rows without one, or no grouping).
    pub key: Option<String>,
    /// The bucket's start (ms; 0 without bucketing).
    pub bucket: i64,
    /// The sums.
    pub counts: Counts,
}

/// Sums of the usage rows with `from <= ts <= to`, per group of `by` (one group when `None`)
/// and per bucket of `bucket_ms` (one bucket when `None`).
pub async fn aggregate(
    db: &impl ConnectionTrait,
    from: i64,
    to: i64,
    by: Option<GroupBy>,
    bucket_ms: Option<i64>,
) -> Result<Vec<Cell>, DbErr> {
    let dims = by.map_or(&[][..], GroupBy::columns);
    let bucket = match bucket_ms {
        // An integer of our own (one of a few fixed sizes), so the select and the group by
        // carry the same expression text, which PostgreSQL needs.
        Some(b) => format!("(ts / {}) * {}", b.max(1), b.max(1)),
        None => "CAST(0 AS BIGINT)".to_string(),
    };
    let mut select: Vec<String> = dims.iter().enumerate().map(|(i, c)| format!("{c} AS d{i}")).collect();
    let mut group: Vec<String> = dims.iter().map(|c| (*c).to_string()).collect();
    select.push(format!("{bucket} AS bucket"));
    if bucket_ms.is_some() {
        group.push(bucket);
    }
    let sum = |c: &str| format!("CAST(COALESCE(SUM({c}), 0) AS BIGINT) AS {c}");
    let sql = format!(
        "SELECT {}, CAST(COUNT(*) AS BIGINT) AS requests, \
         CAST(COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0) AS BIGINT) AS errors, \
         {}, {}, {}, {}, {}, CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION) AS cost, \
         CAST(COALESCE(SUM(list_cost_usd), 0) AS DOUBLE PRECISION) AS list_cost, \
         CAST(COALESCE(SUM(CASE WHEN cost_source = 'unpriced' AND total_tokens > 0 THEN 1 ELSE 0 END), 0) \
         AS BIGINT) AS unpriced_requests \
         FROM usage WHERE ts >= ? AND ts <= ?{}",
        select.join(", "),
        sum("input_tokens"),
        sum("output_tokens"),
        sum("cache_read_tokens"),
        sum("cache_write_tokens"),
        sum("reasoning_tokens"),
        if group.is_empty() { String::new() } else { format!(" GROUP BY {}", group.join(", ")) },
    );
    let stmt = statement(db.get_database_backend(), &sql, vec![Value::from(from), Value::from(to)]);
    let rows = db.query_all_raw(stmt).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let counts = Counts {
            requests: r.try_get("", "requests")?,
            errors: r.try_get("", "errors")?,
            input_tokens: r.try_get("", "input_tokens")?,
            output_tokens: r.try_get("", "output_tokens")?,
            cache_read_tokens: r.try_get("", "cache_read_tokens")?,
            cache_write_tokens: r.try_get("", "cache_write_tokens")?,
            reasoning_tokens: r.try_get("", "reasoning_tokens")?,
            cost: r.try_get("", "cost")?,
            list_cost: r.try_get("", "list_cost")?,
            unpriced_requests: r.try_get("", "unpriced_requests")?,
        };
        // Without grouping an empty window still yields one row of zeros: no cell.
        if counts.requests == 0 {
            continue;
        }
        let mut parts = Vec::with_capacity(dims.len());
        for i in 0..dims.len() {
            parts.push(r.try_get::<Option<String>>("", &format!("d{i}"))?);
        }
        let key = match (by, parts.as_slice()) {
            (Some(GroupBy::Account), [p, a]) => match (p, a) {
                (None, None) => None,
                (p, a) => Some(format!("{}/{}", p.as_deref().unwrap_or(""), a.as_deref().unwrap_or(""))),
            },
            (_, [k]) => k.clone(),
            _ => None,
        };
        out.push(Cell { key, bucket: r.try_get("", "bucket")?, counts });
    }
    Ok(out)
}
