//! `GET /api/usage/summary`: totals and time buckets of requests, errors, tokens and cost over a
//! window, optionally grouped by provider, model, key or account. The sums are SQL's
//! (`store::observe::summary`: rollups for whole hours and days, raw rows for the edges); this
//! module shapes them (dense overall buckets, sparse groups).

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::params::{Param, Query, bad};
use super::{db_fail, fail, guarded};
use crate::error::GatewayError;
use crate::state::AppState;
use crate::store::now_ms;
use crate::store::observe::summary::{self, Cell, Counts, GroupBy};

const WINDOWS: [(&str, i64); 4] =
    [("1h", 3_600_000), ("24h", 86_400_000), ("7d", 7 * 86_400_000), ("30d", 30 * 86_400_000)];
const BUCKETS: [(&str, i64); 3] = [("5m", 300_000), ("1h", 3_600_000), ("1d", 86_400_000)];

/// Most buckets one answer holds (7 days at 5 minutes).
const MAX_BUCKETS: i64 = 2016;

/// The query parameters of `GET /api/usage/summary`.
pub(super) const QUERY: &[Param] = &[
    Param::one_of("window", "how far back from now (default 24h)", &["1h", "24h", "7d", "30d"]),
    Param::one_of("by", "group by this dimension (default: no groups)", &["provider", "model", "key", "account"]),
    Param::one_of("bucket", "bucket size (default: 5m for 1h, 1h for 24h, 1d beyond)", &["5m", "1h", "1d"]),
];

fn lookup(table: &[(&'static str, i64)], v: &str) -> Option<(&'static str, i64)> {
    table.iter().find(|(n, _)| *n == v).copied()
}

/// The validated query: window, bucket and grouping.
struct Ask {
    window: (&'static str, i64),
    bucket: (&'static str, i64),
    by: Option<GroupBy>,
}

fn ask(q: &Query) -> Result<Ask, GatewayError> {
    let window = lookup(&WINDOWS, q.get("window").unwrap_or("24h")).ok_or_else(|| bad("window", "unknown"))?;
    let default_bucket = match window.0 {
        "1h" => "5m",
        "24h" => "1h",
        _ => "1d",
    };
    let bucket = lookup(&BUCKETS, q.get("bucket").unwrap_or(default_bucket)).ok_or_else(|| bad("bucket", "unknown"))?;
    if window.1 / bucket.1 > MAX_BUCKETS {
        return Err(bad(
            "bucket",
            format!(
                "{} buckets of {} over {} exceed {MAX_BUCKETS}; pick a larger bucket",
                window.1 / bucket.1,
                bucket.0,
                window.0
            ),
        ));
    }
    let by = match q.get("by") {
        Some(b) => Some(GroupBy::parse(b).ok_or_else(|| bad("by", "unknown"))?),
        None => None,
    };
    Ok(Ask { window, bucket, by })
}

fn at(ts: i64, c: &Counts) -> Value {
    let mut v = json!(c);
    v["ts"] = json!(ts);
    v
}

/// A group's totals and its sums per bucket.
type Group = (Counts, BTreeMap<i64, Counts>);

/// Shapes the cells: totals, dense overall buckets from `from` to `to`, and sparse buckets per
/// group (groups with the most requests first).
fn shape(cells: Vec<Cell>, from: i64, to: i64, bucket_ms: i64, grouped: bool) -> (Counts, Vec<Value>, Vec<Value>) {
    let mut totals = Counts::default();
    let mut overall: BTreeMap<i64, Counts> = BTreeMap::new();
    let mut groups: BTreeMap<Option<String>, Group> = BTreeMap::new();
    for c in cells {
        totals.add(&c.counts);
        overall.entry(c.bucket).or_default().add(&c.counts);
        if grouped {
            let g = groups.entry(c.key).or_default();
            g.0.add(&c.counts);
            g.1.entry(c.bucket).or_default().add(&c.counts);
        }
    }
    let first = from.div_euclid(bucket_ms) * bucket_ms;
    let last = to.div_euclid(bucket_ms) * bucket_ms;
    let mut dense = Vec::new();
    let mut b = first;
    while b <= last {
        dense.push(at(b, overall.get(&b).unwrap_or(&Counts::default())));
        b += bucket_ms;
    }
    let mut groups: Vec<(Option<String>, Group)> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1.0.requests.cmp(&a.1.0.requests).then_with(|| a.0.cmp(&b.0)));
    let groups = groups
        .into_iter()
        .map(|(key, (t, buckets))| {
            let buckets: Vec<Value> = buckets.iter().map(|(ts, c)| at(*ts, c)).collect();
            json!({ "key": key, "totals": t, "buckets": buckets })
        })
        .collect();
    (totals, dense, groups)
}

/// `GET /api/usage/summary`
pub(super) async fn summary(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    let a = match Query::parse(&req, QUERY).and_then(|q| ask(&q)) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let to = now_ms();
    let from = to - a.window.1;
    let cells = match summary::aggregate(&state.db, from, to, a.by, Some(a.bucket.1)).await {
        Ok(c) => c,
        Err(e) => return db_fail(e),
    };
    let (totals, buckets, groups) = shape(cells, from, to, a.bucket.1, a.by.is_some());
    HttpResponse::Ok().json(json!({
        "window": a.window.0, "bucket": a.bucket.0, "by": a.by.map(GroupBy::as_str),
        "from": from, "to": to, "bucket_ms": a.bucket.1,
        "totals": totals, "buckets": buckets, "groups": groups,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(key: &str, bucket: i64, requests: i64) -> Cell {
        Cell {
            key: Some(key.into()),
            bucket,
            counts: Counts { requests, input_tokens: requests * 10, ..Counts::default() },
        }
    }

    #[test]
    fn overall_buckets_are_dense_and_groups_sparse_and_ordered() {
        let cells = vec![cell("a", 1000, 1), cell("b", 1000, 2), cell("b", 3000, 3)];
        let (totals, dense, groups) = shape(cells, 1500, 3500, 1000, true);
        assert_eq!((totals.requests, totals.input_tokens), (6, 60));
        let ts: Vec<i64> = dense.iter().filter_map(|b| b["ts"].as_i64()).collect();
        assert_eq!(ts, vec![1000, 2000, 3000]);
        let reqs: Vec<i64> = dense.iter().filter_map(|b| b["requests"].as_i64()).collect();
        assert_eq!(reqs, vec![3, 0, 3]);
        assert_eq!(groups[0]["key"], "b");
        assert_eq!(groups[0]["totals"]["requests"], 5);
        assert_eq!(groups[0]["buckets"].as_array().map(Vec::len), Some(2));
        assert_eq!(groups[1]["key"], "a");
    }

    #[test]
    fn thirty_days_at_five_minutes_is_refused_naming_the_bucket() {
        let q =
            Query::parse(&actix_web::test::TestRequest::with_uri("/x?window=30d&bucket=5m").to_http_request(), QUERY);
        let e = q.and_then(|q| ask(&q).map(|_| ())).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("`bucket`"), "{e}");
    }
}
