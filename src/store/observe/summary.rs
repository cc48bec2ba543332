//! Usage totals grouped by a dimension and by time bucket, summed in SQL that both backends run
//! alike: integer division of the ms timestamp makes the bucket, and every sum is cast to a
//! 64-bit integer (PostgreSQL sums `bigint` into `numeric` otherwise). A range is cut into parts
//! (`plan`): whole days from `usage_daily`, whole hours from `usage_hourly`, the ragged edges from
//! raw rows, so a month costs a few hundred rollup rows instead of millions of raw ones.

use std::collections::BTreeMap;

use actors::sql;
use actors::usage::rollup::{DAY_MS, HOUR_MS};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Value};
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

/// Where one part of an asked range is summed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The raw usage rows (`ts` between the part's bounds).
    Raw,
    /// A rollup table of buckets of `size` ms (bucket starts between the part's bounds).
    Rollup {
        /// `usage_hourly` or `usage_daily`.
        table: &'static str,
        /// Its bucket size, ms.
        size: i64,
    },
}

/// One part of an asked range: `lo..=hi` (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// What it is summed from.
    pub source: Source,
    /// First ms (for a rollup: the first bucket start).
    pub lo: i64,
    /// Last ms, inclusive (for a rollup: the last bucket start is at most this).
    pub hi: i64,
}

/// The rollups from coarsest, with their sizes.
const GRAINS: [(&str, i64); 2] = [("usage_daily", DAY_MS), ("usage_hourly", HOUR_MS)];

/// How `from..=to` is summed: whole days from `usage_daily`, the whole hours around them from
/// `usage_hourly`, the ragged minutes at either end from raw rows. A rollup serves only when the
/// answer's buckets are whole multiples of its grain (5-minute buckets are raw rows throughout).
pub fn plan(from: i64, to: i64, bucket_ms: Option<i64>) -> Vec<Part> {
    let grains: Vec<(&'static str, i64)> =
        GRAINS.into_iter().filter(|(_, g)| bucket_ms.is_none_or(|b| b > 0 && b % g == 0)).collect();
    let mut out = Vec::new();
    split(from, to.saturating_add(1), &grains, &mut out);
    out
}

/// Parts of `lo..hi` (end exclusive) with the coarsest of `grains` in the middle.
fn split(lo: i64, hi: i64, grains: &[(&'static str, i64)], out: &mut Vec<Part>) {
    if lo >= hi {
        return;
    }
    let Some(((table, g), finer)) = grains.split_first() else {
        out.push(Part { source: Source::Raw, lo, hi: hi - 1 });
        return;
    };
    let (a, b) = ((lo + g - 1).div_euclid(*g) * g, hi.div_euclid(*g) * g);
    if a >= b {
        return split(lo, hi, finer, out);
    }
    split(lo, a, finer, out);
    out.push(Part { source: Source::Rollup { table, size: *g }, lo: a, hi: b - 1 });
    split(b, hi, finer, out);
}

/// Sums of the usage with `from <= ts <= to`, per group of `by` (one group when `None`) and per
/// bucket of `bucket_ms` (one bucket when `None`), from the rollups where the range allows
/// (`plan`) and raw rows for the rest.
pub async fn aggregate(
    db: &impl ConnectionTrait,
    from: i64,
    to: i64,
    by: Option<GroupBy>,
    bucket_ms: Option<i64>,
) -> Result<Vec<Cell>, DbErr> {
    let parts = plan(from, to, bucket_ms);
    if let [one] = parts.as_slice() {
        return sum_part(db, *one, by, bucket_ms).await;
    }
    let mut merged: BTreeMap<(Option<String>, i64), Counts> = BTreeMap::new();
    for p in parts {
        for c in sum_part(db, p, by, bucket_ms).await? {
            merged.entry((c.key, c.bucket)).or_default().add(&c.counts);
        }
    }
    Ok(merged.into_iter().map(|((key, bucket), counts)| Cell { key, bucket, counts }).collect())
}

/// The same sums from raw rows only (what the rollups must always agree with).
pub async fn aggregate_raw(
    db: &impl ConnectionTrait,
    from: i64,
    to: i64,
    by: Option<GroupBy>,
    bucket_ms: Option<i64>,
) -> Result<Vec<Cell>, DbErr> {
    sum_part(db, Part { source: Source::Raw, lo: from, hi: to }, by, bucket_ms).await
}

/// The select list of the sums, over raw rows or a rollup.
fn sums(backend: DbBackend, source: Source) -> String {
    let sum =
        |c: &str, name: &str| format!("{} AS {name}", sql::cast_bigint(backend, &format!("COALESCE(SUM({c}), 0)")));
    let tokens = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"]
        .map(|c| sum(c, c))
        .join(", ");
    let cost =
        |c: &str, name: &str| format!("{} AS {name}", sql::cast_double(backend, &format!("COALESCE(SUM({c}), 0)")));
    match source {
        Source::Raw => format!(
            "{} AS requests, {}, {tokens}, {}, {}, {}",
            sql::cast_bigint(backend, "COUNT(*)"),
            sum("CASE WHEN status >= 400 THEN 1 ELSE 0 END", "errors"),
            cost("cost_usd", "cost"),
            cost("list_cost_usd", "list_cost"),
            sum("CASE WHEN cost_source = 'unpriced' AND total_tokens > 0 THEN 1 ELSE 0 END", "unpriced_requests"),
        ),
        Source::Rollup { .. } => format!(
            "{}, {}, {tokens}, {}, {}, {}",
            sum("requests", "requests"),
            sum("CASE WHEN status_class >= 4 THEN requests ELSE 0 END", "errors"),
            cost("cost_usd", "cost"),
            cost("list_cost_usd", "list_cost"),
            sum("unpriced_requests", "unpriced_requests"),
        ),
    }
}

/// The sums of one part.
async fn sum_part(
    db: &impl ConnectionTrait,
    part: Part,
    by: Option<GroupBy>,
    bucket_ms: Option<i64>,
) -> Result<Vec<Cell>, DbErr> {
    let dims = by.map_or(&[][..], GroupBy::columns);
    let backend = db.get_database_backend();
    let (table, ts) = match part.source {
        // SQLite's planner would rather walk the model or key index for a grouping in its order
        // than range-read `ts`: over millions of rows that reads them all for an hour's edge.
        Source::Raw if backend == DbBackend::Sqlite => ("usage INDEXED BY ix_usage_ts", "ts"),
        Source::Raw => ("\"usage\"", "ts"),
        Source::Rollup { table, .. } => (table, "bucket"),
    };
    let bucket = match bucket_ms {
        // An integer of our own (one of a few fixed sizes), so the select and the group by
        // carry the same expression text, which PostgreSQL needs.
        Some(b) => format!("({}) * {}", sql::int_div(backend, ts, &b.max(1).to_string()), b.max(1)),
        None => sql::cast_bigint(backend, "0"),
    };
    // A rollup keeps `''` for a missing dimension; the answer says `null` as for raw rows.
    let dim = |c: &str| match part.source {
        Source::Raw => c.to_string(),
        Source::Rollup { .. } if c == "model" => c.to_string(),
        Source::Rollup { .. } => format!("NULLIF({c}, '')"),
    };
    let mut select: Vec<String> = dims.iter().enumerate().map(|(i, c)| format!("{} AS d{i}", dim(c))).collect();
    let mut group: Vec<String> = dims.iter().map(|c| (*c).to_string()).collect();
    select.push(format!("{bucket} AS bkt"));
    if bucket_ms.is_some() {
        group.push(bucket);
    }
    let sql = format!(
        "SELECT {}, {} FROM {table} WHERE {ts} >= ? AND {ts} <= ?{}",
        select.join(", "),
        sums(backend, part.source),
        if group.is_empty() { String::new() } else { format!(" GROUP BY {}", group.join(", ")) },
    );
    let stmt = statement(backend, &sql, vec![Value::from(part.lo), Value::from(part.hi)]);
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
        out.push(Cell { key, bucket: r.try_get("", "bkt")?, counts });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = HOUR_MS;
    const D: i64 = DAY_MS;

    fn rollup(table: &'static str, lo: i64, hi: i64) -> Part {
        let size = if table == "usage_daily" { D } else { H };
        Part { source: Source::Rollup { table, size }, lo, hi }
    }

    fn raw(lo: i64, hi: i64) -> Part {
        Part { source: Source::Raw, lo, hi }
    }

    #[test]
    fn a_range_is_whole_days_then_whole_hours_then_raw_edges() {
        let (from, to) = (3 * D - 2 * H - 5, 6 * D + 3 * H + 7);
        assert_eq!(
            plan(from, to, Some(D)),
            vec![
                raw(from, 3 * D - 2 * H - 1),
                rollup("usage_hourly", 3 * D - 2 * H, 3 * D - 1),
                rollup("usage_daily", 3 * D, 6 * D - 1),
                rollup("usage_hourly", 6 * D, 6 * D + 3 * H - 1),
                raw(6 * D + 3 * H, to),
            ]
        );
        // Hourly buckets cannot come from day rows (a day row has no hours in it).
        assert_eq!(plan(from, to, Some(H))[1], rollup("usage_hourly", 3 * D - 2 * H, 6 * D + 3 * H - 1));
        // Five-minute buckets: raw rows throughout.
        assert_eq!(plan(from, to, Some(300_000)), vec![raw(from, to)]);
        // Aligned ends leave no raw part; a range inside one hour is all raw.
        assert_eq!(plan(2 * D, 4 * D - 1, None), vec![rollup("usage_daily", 2 * D, 4 * D - 1)]);
        assert_eq!(plan(H + 1, 2 * H - 2, None), vec![raw(H + 1, 2 * H - 2)]);
    }

    #[test]
    fn the_parts_cover_the_range_exactly_once() {
        for (from, to) in [(0, 10 * D), (17, 3 * D + 5), (H - 1, H), (5 * H, 5 * H), (D + 1, 40 * D - 1)] {
            for bucket in [None, Some(H), Some(D), Some(300_000)] {
                let parts = plan(from, to, bucket);
                assert_eq!(parts.first().map(|p| p.lo), Some(from));
                assert_eq!(parts.last().map(|p| p.hi), Some(to));
                assert!(parts.windows(2).all(|w| w[0].hi + 1 == w[1].lo), "{parts:?}");
            }
        }
    }
}
