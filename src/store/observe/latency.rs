//! Recent request latencies per provider, for the health view: the newest usage rows of a time
//! window (bounded in number), and nearest-rank percentiles over them.

use std::collections::BTreeMap;

use entities::usage;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// Most rows read for one health view: beyond this the percentiles come from the newest rows.
pub const MAX_SAMPLES: u64 = 50_000;

/// Latencies of one provider's recent requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderSamples {
    /// Requests (rows read).
    pub requests: u64,
    /// Of which answered with a status of 400 or more.
    pub errors: u64,
    /// Whole-request latencies, ms, sorted.
    pub latency: Vec<i64>,
    /// Times to first byte, ms, sorted (rows that have one).
    pub ttfb: Vec<i64>,
}

/// The rows since `since` that reached a provider, by provider, and whether `MAX_SAMPLES` cut
/// them short.
pub async fn recent(db: &impl ConnectionTrait, since: i64) -> Result<(BTreeMap<String, ProviderSamples>, bool), DbErr> {
    let rows: Vec<(Option<String>, i32, i64, Option<i64>)> = usage::Entity::find()
        .select_only()
        .columns([usage::Column::Provider, usage::Column::Status, usage::Column::LatencyMs, usage::Column::TtfbMs])
        .filter(usage::Column::Ts.gte(since))
        .filter(usage::Column::Provider.is_not_null())
        .order_by_desc(usage::Column::Id)
        .limit(MAX_SAMPLES)
        .into_tuple()
        .all(db)
        .await?;
    let capped = rows.len() as u64 >= MAX_SAMPLES;
    let mut out: BTreeMap<String, ProviderSamples> = BTreeMap::new();
    for (provider, status, latency, ttfb) in rows {
        let Some(p) = provider else { continue };
        let s = out.entry(p).or_default();
        s.requests += 1;
        if status >= 400 {
            s.errors += 1;
        }
        s.latency.push(latency);
        if let Some(t) = ttfb {
            s.ttfb.push(t);
        }
    }
    for s in out.values_mut() {
        s.latency.sort_unstable();
        s.ttfb.sort_unstable();
    }
    Ok((out, capped))
}

/// The nearest-rank `p`-th percentile (0 < p ≤ 100) of sorted values.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    // rank = ceil(p/100 · n), 1-based.
    let rank = (u64::from(p.clamp(1, 100)) * n as u64).div_ceil(100) as usize;
    sorted.get(rank.clamp(1, n) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!((percentile(&v, 50), percentile(&v, 95), percentile(&v, 99)), (Some(50), Some(95), Some(99)));
        assert_eq!(percentile(&[7], 99), Some(7));
        assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 95), Some(4));
        assert_eq!(percentile(&[], 50), None);
    }
}
