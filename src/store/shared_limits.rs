//! The rows several instances on one PostgreSQL share their key and team limits through: a
//! period's settled spend (`shared_spend`), what each instance holds of a budget and a concurrency
//! cap (`shared_holds`, gone unless renewed) and the grants counted in the sliding minute
//! (`shared_grants`). Every change of one scope happens in a transaction under that scope's
//! advisory lock, on the database's clock. What to grant is decided by the caller
//! (`limits::shared`); this module only reads and writes. PostgreSQL only.

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement, TransactionTrait, Value,
};

/// The sliding window of `rpm` and `tpm`.
const WINDOW_MS: i64 = actors::router::pacing::WINDOW_MS;

fn pg(sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// What the database says about one scope, under its lock.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen {
    /// The database's clock (ms).
    pub now: i64,
    /// Settled spend of the period.
    pub spent: f64,
    /// USD held by every instance (this one included) for the period.
    pub held_usd: f64,
    /// Concurrency permits held by every instance (this one included).
    pub permits: i64,
    /// The grants still counted: (counted until, requests, tokens), soonest first.
    pub grants: Vec<(i64, i64, i64)>,
    /// Whether this instance's hold row was still there (not expired).
    pub mine: bool,
}

/// What to add for this instance.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Add {
    /// USD to hold.
    pub usd: f64,
    /// Permits to hold.
    pub permits: i64,
    /// A grant of (requests, tokens) counted until `now + counted_for` ms, if any.
    pub grant: Option<(i64, i64, i64)>,
}

/// What to give back or settle for this instance.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Back {
    /// Spend settled here since the last sync (moved from the hold to `spent`).
    pub spent: f64,
    /// Unused USD handed back.
    pub usd: f64,
    /// Unused permits handed back.
    pub permits: i64,
    /// A grant served from no more.
    pub grant: Option<GrantBack>,
}

/// A grant given back: what it did not use, and when it was last used.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GrantBack {
    /// Its row.
    pub id: i64,
    /// Requests unused.
    pub requests: i64,
    /// Tokens unused.
    pub tokens: i64,
    /// How long ago (ms, before the transaction began) it last served a request; `None`: never.
    /// It then counts until that request leaves the minute, not until the end of its whole span.
    pub used_ago_ms: Option<i64>,
}

/// One scope's identity: whose limits (`key:<name>` / `team:<name>`), which instance, which
/// budget period, and how long a hold lives unless renewed.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    /// `key:<name>` or `team:<name>`.
    pub scope: &'a str,
    /// This instance's id.
    pub instance: &'a str,
    /// The budget period's start (ms; 0 without a budget).
    pub period_start: i64,
    /// A hold not renewed within this many ms is gone.
    pub ttl_ms: i64,
}

/// What a take or a sync ended with.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    /// The scope as seen before the change.
    pub seen: Seen,
    /// The new grant's id.
    pub grant_id: Option<i64>,
}

async fn begin(db: &DatabaseConnection, w: &Who<'_>) -> Result<(DatabaseTransaction, i64), DbErr> {
    let txn = db.begin().await?;
    txn.execute_raw(pg("SELECT pg_advisory_xact_lock(hashtext($1))::text AS locked", vec![w.scope.into()])).await?;
    let row =
        txn.query_one_raw(pg("SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint AS now", vec![])).await?;
    let now = row.map(|r| r.try_get::<i64>("", "now")).transpose()?.unwrap_or(0);
    // What expired (a killed instance's holds, grants out of the window) counts no more.
    txn.execute_raw(pg(
        "DELETE FROM shared_holds WHERE scope = $1 AND expires_at < $2",
        vec![w.scope.into(), now.into()],
    ))
    .await?;
    txn.execute_raw(pg(
        "DELETE FROM shared_grants WHERE scope = $1 AND counts_until <= $2",
        vec![w.scope.into(), now.into()],
    ))
    .await?;
    Ok((txn, now))
}

async fn give_back(txn: &DatabaseTransaction, w: &Who<'_>, back: &Back, now: i64) -> Result<(), DbErr> {
    if back.spent > 0.0 {
        let sql = "INSERT INTO shared_spend (scope, period_start, spent_usd) VALUES ($1, $2, $3) \
                   ON CONFLICT (scope, period_start) DO UPDATE SET spent_usd = shared_spend.spent_usd + EXCLUDED.spent_usd";
        txn.execute_raw(pg(sql, vec![w.scope.into(), w.period_start.into(), back.spent.into()])).await?;
    }
    let sql = "UPDATE shared_holds SET usd = GREATEST(usd - $3, 0), permits = GREATEST(permits - $4, 0), \
               expires_at = $5 WHERE scope = $1 AND instance = $2";
    let less = back.spent + back.usd;
    txn.execute_raw(pg(
        sql,
        vec![w.scope.into(), w.instance.into(), less.into(), back.permits.into(), (now + w.ttl_ms).into()],
    ))
    .await?;
    if let Some(g) = back.grant {
        // `now` is later than the moment the instance measured `used_ago_ms` from: never early.
        let until = g.used_ago_ms.map_or(now, |ago| now - ago.max(0) + WINDOW_MS);
        let sql = "UPDATE shared_grants SET requests = GREATEST(requests - $2, 0), tokens = GREATEST(tokens - $3, 0), \
                   counts_until = LEAST(counts_until, $4) WHERE id = $1";
        txn.execute_raw(pg(sql, vec![g.id.into(), g.requests.into(), g.tokens.into(), until.into()])).await?;
    }
    Ok(())
}

async fn look(txn: &DatabaseTransaction, w: &Who<'_>, now: i64) -> Result<Seen, DbErr> {
    let mut seen = Seen { now, ..Seen::default() };
    let row = txn
        .query_one_raw(pg(
            "SELECT spent_usd FROM shared_spend WHERE scope = $1 AND period_start = $2",
            vec![w.scope.into(), w.period_start.into()],
        ))
        .await?;
    seen.spent = row.map(|r| r.try_get::<f64>("", "spent_usd")).transpose()?.unwrap_or(0.0);
    let holds = txn
        .query_all_raw(pg(
            "SELECT instance, period_start, usd, permits FROM shared_holds WHERE scope = $1",
            vec![w.scope.into()],
        ))
        .await?;
    for r in holds {
        let instance: String = r.try_get("", "instance")?;
        let period: i64 = r.try_get("", "period_start")?;
        seen.mine |= instance == w.instance;
        if period == w.period_start {
            seen.held_usd += r.try_get::<f64>("", "usd")?;
        }
        seen.permits += i64::from(r.try_get::<i32>("", "permits")?);
    }
    let grants = txn
        .query_all_raw(pg(
            "SELECT counts_until, requests, tokens FROM shared_grants WHERE scope = $1 ORDER BY counts_until",
            vec![w.scope.into()],
        ))
        .await?;
    for r in grants {
        seen.grants.push((r.try_get("", "counts_until")?, r.try_get("", "requests")?, r.try_get("", "tokens")?));
    }
    Ok(seen)
}

/// Under the scope's lock: gives `back` what this instance no longer needs, looks at the scope,
/// and adds what `decide` grants (or nothing, when it refuses with `R`).
pub async fn take<R>(
    db: &DatabaseConnection,
    w: &Who<'_>,
    back: &Back,
    decide: impl FnOnce(&Seen) -> Result<Add, R>,
) -> Result<(Done, Result<Add, R>), DbErr> {
    let (txn, now) = begin(db, w).await?;
    give_back(&txn, w, back, now).await?;
    let seen = look(&txn, w, now).await?;
    let decided = decide(&seen);
    let mut grant_id = None;
    if let Ok(add) = &decided {
        if add.usd > 0.0 || add.permits > 0 {
            // A hold of another period is started afresh.
            let sql = "INSERT INTO shared_holds (scope, instance, period_start, usd, permits, expires_at) \
                       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, instance) DO UPDATE SET \
                       usd = CASE WHEN shared_holds.period_start = EXCLUDED.period_start THEN shared_holds.usd ELSE 0 END + EXCLUDED.usd, \
                       permits = shared_holds.permits + EXCLUDED.permits, period_start = EXCLUDED.period_start, \
                       expires_at = EXCLUDED.expires_at";
            let values = vec![
                w.scope.into(),
                w.instance.into(),
                w.period_start.into(),
                add.usd.into(),
                add.permits.into(),
                (now + w.ttl_ms).into(),
            ];
            txn.execute_raw(pg(sql, values)).await?;
        }
        if let Some((requests, tokens, counted_for)) = add.grant {
            let sql = "INSERT INTO shared_grants (scope, instance, requests, tokens, counts_until) \
                       VALUES ($1, $2, $3, $4, $5) RETURNING id";
            let values =
                vec![w.scope.into(), w.instance.into(), requests.into(), tokens.into(), (now + counted_for).into()];
            let row = txn.query_one_raw(pg(sql, values)).await?;
            grant_id = row.map(|r| r.try_get::<i64>("", "id")).transpose()?;
        }
    }
    txn.commit().await?;
    Ok((Done { seen, grant_id }, decided))
}

/// Under the scope's lock: settles and gives `back`, renews this instance's hold and says how the
/// scope stands (the hold row dropped when nothing is left in it).
pub async fn sync(db: &DatabaseConnection, w: &Who<'_>, back: &Back) -> Result<Seen, DbErr> {
    let (txn, now) = begin(db, w).await?;
    let had = txn
        .query_one_raw(pg(
            "SELECT 1 AS one FROM shared_holds WHERE scope = $1 AND instance = $2",
            vec![w.scope.into(), w.instance.into()],
        ))
        .await?
        .is_some();
    give_back(&txn, w, back, now).await?;
    txn.execute_raw(pg(
        "DELETE FROM shared_holds WHERE scope = $1 AND instance = $2 AND usd <= 0 AND permits <= 0",
        vec![w.scope.into(), w.instance.into()],
    ))
    .await?;
    let mut seen = look(&txn, w, now).await?;
    seen.mine = had;
    txn.commit().await?;
    Ok(seen)
}

/// The settled spend of a scope's period, starting it from `seed` (the usage rows) when no
/// instance counted it yet.
pub async fn start_period(db: &DatabaseConnection, scope: &str, period_start: i64, seed: f64) -> Result<f64, DbErr> {
    let sql = "INSERT INTO shared_spend (scope, period_start, spent_usd) VALUES ($1, $2, $3) \
               ON CONFLICT (scope, period_start) DO NOTHING";
    db.execute_raw(pg(sql, vec![scope.into(), period_start.into(), seed.into()])).await?;
    spent(db, scope, period_start).await.map(|s| s.unwrap_or(seed))
}

/// The settled spend of a scope's period, if any instance counted it.
pub async fn spent(db: &DatabaseConnection, scope: &str, period_start: i64) -> Result<Option<f64>, DbErr> {
    let row = db
        .query_one_raw(pg(
            "SELECT spent_usd FROM shared_spend WHERE scope = $1 AND period_start = $2",
            vec![scope.into(), period_start.into()],
        ))
        .await?;
    row.map(|r| r.try_get::<f64>("", "spent_usd")).transpose()
}

/// Drops every hold of `instance` (it stops; its spend was synced before).
pub async fn leave(db: &DatabaseConnection, instance: &str) -> Result<(), DbErr> {
    db.execute_raw(pg("DELETE FROM shared_holds WHERE instance = $1", vec![instance.into()])).await?;
    Ok(())
}
