//! Usage rollups (issue 11, "Governance"): the hourly and daily rollups the usage writer keeps in
//! each batch's transaction give exactly the sums of the raw rows, for whole days, whole hours
//! and ragged edges alike, grouped or not; and pruning raw rows by retention leaves the rollups'
//! totals as they were.

use actors::usage::cost::{Cost, CostSource};
use actors::usage::{TokenUsage, UsageEvent};
use omnigate::store::observe::summary::{self, Cell, GroupBy};
use sea_orm::{ActiveValue::Set, ConnectionTrait};

use crate::support::{TestEnv, seed_usage};

const H: i64 = 3_600_000;
const D: i64 = 86_400_000;

/// A small deterministic generator (no dependency, same rows on every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Varied usage events over the ten days before `now`: providers, accounts, keys and models
/// (some missing), statuses of every class, costs priced, unpriced and by subscription.
fn events(now: i64, n: usize) -> Vec<UsageEvent> {
    let mut r = Lcg(11);
    (0..n)
        .map(|i| {
            let provider = [Some("p1"), Some("p2"), None][r.next(3) as usize];
            let status = [200, 200, 200, 201, 429, 499, 500, 503][r.next(8) as usize];
            let input = r.next(5_000);
            let (usd, list, source) = match r.next(4) {
                0 => (None, None, CostSource::Unpriced),
                1 => (Some(0.0), Some(r.next(1000) as f64 / 7.0), CostSource::Subscription),
                2 => (Some(r.next(1000) as f64 / 3.0), None, CostSource::Estimated),
                _ => (Some(r.next(1000) as f64 / 1e4), None, CostSource::Priced),
            };
            UsageEvent {
                ts: now - r.next(10 * D as u64) as i64,
                request_id: format!("ev-{i}"),
                key_name: [Some("k1".to_string()), Some("k2".to_string()), None][r.next(3) as usize].clone(),
                client_dialect: "openai-chat".into(),
                method: "POST".into(),
                path: "/v1/chat/completions".into(),
                provider: provider.map(str::to_string),
                account: provider.map(|_| ["a", "b"][r.next(2) as usize].to_string()),
                model: format!("{}/m{}", provider.unwrap_or("none"), r.next(3)),
                status,
                tokens: TokenUsage {
                    input,
                    output: r.next(900),
                    cache_read: r.next(100),
                    cache_write: r.next(50),
                    reasoning: r.next(70),
                    estimated: false,
                    units: None,
                },
                cost: Cost { usd, list_usd: list, source },
                latency_ms: 5,
                ..UsageEvent::default()
            }
        })
        .collect()
}

/// Raw usage rows written around the writer (a bulk load), for `seed_usage`.
fn seeded(now: i64, n: usize) -> Vec<entities::usage::ActiveModel> {
    let mut r = Lcg(29);
    (0..n)
        .map(|i| {
            let tokens = r.next(400) as i64;
            entities::usage::ActiveModel {
                ts: Set(now - r.next(10 * D as u64) as i64),
                request_id: Set(format!("seed-{i}")),
                key_name: Set(Some("bulk".into())),
                client_dialect: Set("anthropic".into()),
                provider: Set(Some("p3".into())),
                account: Set(None),
                model: Set("p3/big".into()),
                status: Set([200, 400, 502][r.next(3) as usize]),
                input_tokens: Set(tokens),
                output_tokens: Set(1),
                cache_read_tokens: Set(0),
                cache_write_tokens: Set(0),
                reasoning_tokens: Set(0),
                total_tokens: Set(tokens + 1),
                cost_usd: Set(Some(0.001)),
                list_cost_usd: Set(None),
                cost_source: Set("priced".into()),
                latency_ms: Set(1),
                streamed: Set(false),
                attempts: Set(1),
                ..Default::default()
            }
        })
        .collect()
}

fn sorted(mut cells: Vec<Cell>) -> Vec<Cell> {
    cells.sort_by(|a, b| (&a.key, a.bucket).cmp(&(&b.key, b.bucket)));
    cells
}

/// Equal counts, and costs equal up to float summation order.
fn assert_same(a: &[Cell], b: &[Cell], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: {a:?}\n{b:?}");
    for (x, y) in a.iter().zip(b) {
        let (mut cx, mut cy) = (x.counts, y.counts);
        assert!((cx.cost - cy.cost).abs() < 1e-6 && (cx.list_cost - cy.list_cost).abs() < 1e-6, "{what}: {x:?} {y:?}");
        (cx.cost, cy.cost, cx.list_cost, cy.list_cost) = (0.0, 0.0, 0.0, 0.0);
        assert_eq!((&x.key, x.bucket, cx), (&y.key, y.bucket, cy), "{what}");
    }
}

/// Every grouping and bucket size over `ranges`: rollups (as `/api/usage/summary` reads them)
/// against the raw rows.
async fn compare(db: &sea_orm::DatabaseConnection, ranges: &[(i64, i64)]) {
    let groupings = [None, Some(GroupBy::Provider), Some(GroupBy::Model), Some(GroupBy::Key), Some(GroupBy::Account)];
    for &(from, to) in ranges {
        for by in groupings {
            for bucket in [None, Some(H), Some(D)] {
                let what = format!("{from}..={to} by {by:?} bucket {bucket:?}");
                let fast = sorted(summary::aggregate(db, from, to, by, bucket).await.expect("from rollups"));
                let slow = sorted(summary::aggregate_raw(db, from, to, by, bucket).await.expect("from raw rows"));
                assert!(!slow.is_empty(), "{what}: no rows to compare");
                assert_same(&fast, &slow, &what);
            }
        }
    }
}

async fn sum_of(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    let row = db.query_one_raw(crate::support::fitted(db, sql)).await.expect("sum");
    row.and_then(|r| r.try_get::<i64>("", "n").ok()).unwrap_or(-1)
}

#[actix_web::test]
async fn the_summary_from_rollups_equals_the_raw_rows_also_after_pruning() {
    let env = TestEnv::new().await;
    let app = env.start("").await;
    let db = app.state.db.clone();
    let now = omnigate::store::now_ms();
    let usage = app.state.runtime.usage_inbox.clone().expect("the usage writer's inbox");
    // Through the real writer (batches, upserts), and around it (a bulk load).
    for e in events(now, 1500) {
        usage.send(e);
    }
    app.state.runtime.flush_usage().await;
    seed_usage(&db, seeded(now, 300)).await;
    assert_eq!(sum_of(&db, "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM \"usage\"").await, 1800);
    assert_eq!(sum_of(&db, "SELECT CAST(SUM(requests) AS BIGINT) AS n FROM usage_daily").await, 1800);
    assert_eq!(sum_of(&db, "SELECT CAST(SUM(requests) AS BIGINT) AS n FROM usage_hourly").await, 1800);

    let day = now.div_euclid(D) * D;
    let ranges = [
        (now - 10 * D - 1, now),                        // everything: days, hours and raw edges
        (day - 7 * D, day - 1),                         // whole days only
        (day - 3 * D + 5 * H, day - D + 2 * H - 1),     // whole hours around whole days
        (now - 30 * D, now),                            // the 30-day window as the API asks it
        (now - D, now),                                 // the 24-hour window
        (day - 2 * D + 17, day - 2 * D + 3 * H + 1234), // ragged at both ends inside one day
    ];
    compare(&db, &ranges).await;

    // The HTTP answer agrees too.
    let summary = crate::support::admin_get(&app, &env, "/api/usage/summary?window=30d&by=model").await;
    assert_eq!(summary["totals"]["requests"], 1800);

    // Retention prunes raw rows older than 4 days (a restart prunes at once): the rollups keep
    // their totals, and the whole days before the cut still read as they did.
    let old_days = (day - 8 * D, day - 5 * D - 1);
    let before =
        sorted(summary::aggregate(&db, old_days.0, old_days.1, Some(GroupBy::Model), Some(D)).await.expect("before"));
    app.stop().await;
    let app = env.start("[usage]\nretention_days = 4\n").await;
    let db = app.state.db.clone();
    assert!(
        crate::support::eventually(10, || async {
            sum_of(&db, &format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM \"usage\" WHERE ts < {}", now - 4 * D))
                .await
                == 0
        })
        .await,
        "old raw rows pruned"
    );
    assert!(sum_of(&db, "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM \"usage\"").await < 1800);
    assert_eq!(sum_of(&db, "SELECT CAST(SUM(requests) AS BIGINT) AS n FROM usage_daily").await, 1800);
    assert_eq!(sum_of(&db, "SELECT CAST(SUM(requests) AS BIGINT) AS n FROM usage_hourly").await, 1800);
    let after =
        sorted(summary::aggregate(&db, old_days.0, old_days.1, Some(GroupBy::Model), Some(D)).await.expect("after"));
    assert_same(&after, &before, "whole days before the retention cut");
    // Within the retention the rollups and raw rows still agree.
    compare(&db, &[(now - 3 * D, now), (day - 2 * D, day - 1)]).await;
    app.stop().await;
}

#[actix_web::test]
async fn the_migration_rolls_up_the_usage_rows_that_existed_before_it() {
    use migration::{Migrator, Trait as _};
    use sea_orm::EntityTrait;
    let env = TestEnv::new().await;
    let db = omnigate::db::connect(&env.db_url, 2, false).await.expect("connect");
    Migrator::up(&db.conn, Some(12)).await.expect("up to 000012");
    let now = omnigate::store::now_ms();
    for chunk in seeded(now, 400).chunks(100) {
        entities::usage::Entity::insert_many(chunk.to_vec()).exec(&db.conn).await.expect("old rows");
    }
    Migrator::up(&db.conn, None).await.expect("up to the latest");
    assert_eq!(sum_of(&db.conn, "SELECT CAST(SUM(requests) AS BIGINT) AS n FROM usage_daily").await, 400);
    let day = now.div_euclid(D) * D;
    compare(&db.conn, &[(now - 11 * D, now), (day - 6 * D + 3 * H, day - 1)]).await;
}
