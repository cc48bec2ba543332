//! The usage rollups (`usage_hourly`, `usage_daily`): a batch of usage events summed per bucket
//! and per provider, account, model, key and status class, added to the stored cells with one
//! upsert per chunk in the batch's own transaction, so a rollup always equals the raw rows
//! written (pruning raw rows never touches them). `''` stands for a missing provider, account or
//! key, so the cell key is never NULL.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

use crate::sql::{self, Merge};

use super::UsageEvent;
use super::cost::CostSource;

/// The rollup tables and their bucket sizes (ms).
pub const TABLES: [(&str, i64); 2] = [("usage_hourly", HOUR_MS), ("usage_daily", DAY_MS)];
/// An hour, ms.
pub const HOUR_MS: i64 = 3_600_000;
/// A (UTC) day, ms.
pub const DAY_MS: i64 = 86_400_000;

/// What makes a cell: bucket start, provider, account, model, key name, status class.
pub type CellKey = (i64, String, String, String, String, i32);

/// The sums of one cell.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sums {
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

/// Columns of a rollup row, in the order `upsert` binds them.
const COLUMNS: [&str; 15] = [
    "bucket",
    "provider",
    "account",
    "model",
    "key_name",
    "status_class",
    "requests",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "list_cost_usd",
    "unpriced_requests",
];

/// The columns before these make a cell's key; a conflicting row adds to the rest.
const KEY_COLUMNS: usize = 6;

/// The clause that adds a conflicting cell's sums to the stored ones.
fn on_conflict_add(backend: DbBackend, table: &str) -> String {
    let set: Vec<(&str, Merge)> = COLUMNS[KEY_COLUMNS..].iter().map(|c| (*c, Merge::Add)).collect();
    sql::on_conflict(backend, table, &COLUMNS[..KEY_COLUMNS], &set)
}

fn big(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// `events` summed into cells of `bucket_ms`, in a stable order (so the statements of two
/// writers never take row locks in opposite orders).
pub fn fold(events: &[UsageEvent], bucket_ms: i64) -> Vec<(CellKey, Sums)> {
    let mut cells: HashMap<CellKey, Sums> = HashMap::new();
    for e in events {
        let key = (
            e.ts.div_euclid(bucket_ms) * bucket_ms,
            e.provider.clone().unwrap_or_default(),
            e.account.clone().unwrap_or_default(),
            e.model.clone(),
            e.key_name.clone().unwrap_or_default(),
            i32::from(e.status / 100),
        );
        let s = cells.entry(key).or_default();
        let t = e.tokens;
        s.requests += 1;
        s.input_tokens += big(t.input);
        s.output_tokens += big(t.output);
        s.cache_read_tokens += big(t.cache_read);
        s.cache_write_tokens += big(t.cache_write);
        s.reasoning_tokens += big(t.reasoning);
        s.cost_usd += e.cost.usd.unwrap_or(0.0);
        s.list_cost_usd += e.cost.list_usd.unwrap_or(0.0);
        if e.cost.source == CostSource::Unpriced && t.total() > 0 {
            s.unpriced_requests += 1;
        }
    }
    let mut out: Vec<(CellKey, Sums)> = cells.into_iter().collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The upsert of `rows` cells into `table` (a fixed name of ours, never client text).
pub fn upsert_sql(backend: DbBackend, table: &str, rows: usize) -> String {
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES {}{}",
        COLUMNS.join(", "),
        sql::tuples(rows, COLUMNS.len()),
        on_conflict_add(backend, table)
    );
    sql::text(backend, &sql)
}

/// The values of one cell, in `COLUMNS` order.
pub fn values(key: CellKey, s: Sums) -> [Value; 15] {
    let (bucket, provider, account, model, key_name, class) = key;
    [
        bucket.into(),
        provider.into(),
        account.into(),
        model.into(),
        key_name.into(),
        class.into(),
        s.requests.into(),
        s.input_tokens.into(),
        s.output_tokens.into(),
        s.cache_read_tokens.into(),
        s.cache_write_tokens.into(),
        s.reasoning_tokens.into(),
        s.cost_usd.into(),
        s.list_cost_usd.into(),
        s.unpriced_requests.into(),
    ]
}

/// The cells of `events` for each table of `TABLES`, in its order.
pub fn cells(events: &[UsageEvent]) -> Vec<Vec<(CellKey, Sums)>> {
    TABLES.iter().map(|(_, size)| fold(events, *size)).collect()
}

/// Adds `cells` (from `cells`) to the rollup tables, on `db` (the batch's transaction). Chunked
/// like the raw insert (`chunks`), so few statement texts are ever prepared.
pub async fn add(
    db: &impl ConnectionTrait,
    cells: Vec<Vec<(CellKey, Sums)>>,
    chunks: impl Fn(usize) -> Vec<usize>,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    for ((table, _), cells) in TABLES.iter().zip(cells) {
        let mut cells = cells.into_iter();
        for rows in chunks(cells.len()) {
            let vals: Vec<Value> = cells.by_ref().take(rows).flat_map(|(k, s)| values(k, s)).collect();
            db.execute_raw(Statement::from_sql_and_values(backend, upsert_sql(backend, table, rows), vals)).await?;
        }
    }
    Ok(())
}

/// Adds the raw usage rows with an id above `after_id` to both rollup tables, summed in SQL: for
/// rows written by other means than the writer (a bulk load, a test's seed). Never run it over
/// rows the writer already added.
pub async fn add_rows(db: &impl ConnectionTrait, after_id: i64) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let sum = |c: &str| sql::cast_bigint(backend, &format!("COALESCE(SUM({c}), 0)"));
    for (table, size) in TABLES {
        let bucket = format!("({}) * {size}", sql::int_div(backend, "ts", &size.to_string()));
        let dims = format!(
            "{bucket}, COALESCE(provider, ''), COALESCE(account, ''), model, COALESCE(key_name, ''), {}",
            sql::int_div(backend, "status", "100")
        );
        let sql = format!(
            "INSERT INTO {table} ({}) SELECT {dims}, {}, {}, {}, {}, {}, {}, {}, {}, {} \
             FROM \"usage\" WHERE id > ? GROUP BY {dims}{}",
            COLUMNS.join(", "),
            sql::cast_bigint(backend, "COUNT(*)"),
            sum("input_tokens"),
            sum("output_tokens"),
            sum("cache_read_tokens"),
            sum("cache_write_tokens"),
            sum("reasoning_tokens"),
            sql::cast_double(backend, "COALESCE(SUM(cost_usd), 0)"),
            sql::cast_double(backend, "COALESCE(SUM(list_cost_usd), 0)"),
            sum("CASE WHEN cost_source = 'unpriced' AND total_tokens > 0 THEN 1 ELSE 0 END"),
            on_conflict_add(backend, table),
        );
        db.execute_raw(sql::statement(backend, &sql, vec![Value::from(after_id)])).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::TokenUsage;
    use crate::usage::cost::Cost;

    fn ev(ts: i64, status: u16, input: u64, usd: Option<f64>) -> UsageEvent {
        let source = if usd.is_some() { CostSource::Priced } else { CostSource::Unpriced };
        UsageEvent {
            ts,
            provider: Some("p".into()),
            model: "p/m".into(),
            status,
            tokens: TokenUsage { input, output: 1, ..TokenUsage::default() },
            cost: Cost { usd, list_usd: None, source },
            ..UsageEvent::default()
        }
    }

    #[test]
    fn events_fold_into_hour_cells_by_status_class() {
        let cells = fold(
            &[
                ev(10, 200, 5, Some(0.5)),
                ev(20, 201, 7, Some(0.25)),
                ev(30, 503, 1, None),
                ev(HOUR_MS + 1, 200, 1, None),
            ],
            HOUR_MS,
        );
        assert_eq!(cells.len(), 3);
        let (k, s) = &cells[0];
        assert_eq!((k.0, k.2.as_str(), k.4.as_str(), k.5), (0, "", "", 2));
        assert_eq!((s.requests, s.input_tokens, s.cost_usd, s.unpriced_requests), (2, 12, 0.75, 0));
        assert_eq!((cells[1].0.5, cells[1].1.unpriced_requests), (5, 1));
        assert_eq!(cells[2].0.0, HOUR_MS);
    }

    #[test]
    fn the_upsert_adds_to_existing_cells() {
        let sql = upsert_sql(DbBackend::Postgres, "usage_hourly", 2);
        assert!(sql.contains("$30)") && !sql.contains("$31"), "{sql}");
        assert!(sql.contains("requests = usage_hourly.requests + excluded.requests"), "{sql}");
        let sql = upsert_sql(DbBackend::MySql, "usage_hourly", 2);
        assert!(sql.contains("ON DUPLICATE KEY UPDATE requests = usage_hourly.requests + VALUES(requests)"), "{sql}");
        assert!(!sql.contains('$'), "{sql}");
    }
}
