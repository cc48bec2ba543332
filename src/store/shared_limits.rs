//! The rows several instances on one PostgreSQL share their key and team limits through: a
//! period's settled spend (`shared_spend`), what each instance holds of a budget and a concurrency
//! cap (`shared_holds`, gone unless renewed) and the grants counted in the sliding minute
//! (`shared_grants`). Every change of one scope happens in a transaction under that scope's lock
//! (PostgreSQL: an advisory transaction lock; MySQL: the row lock of a `settings` row
//! `cluster.lock.<scope>`, held until the transaction ends), on the database's clock. What to grant
//! is decided by the caller (`limits::shared`); this module only reads and writes. Several
//! instances only (PostgreSQL, MySQL), never SQLite.

use actors::sql::{self, Dialect, Merge};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, Statement, TransactionTrait, Value};

/// The sliding window of `rpm` and `tpm`.
const WINDOW_MS: i64 = actors::router::pacing::WINDOW_MS;

/// `text` (with `?` placeholders) for the engine behind `db`.
fn st(db: &impl ConnectionTrait, text: &str, values: Vec<Value>) -> Statement {
    sql::statement(db.get_database_backend(), text, values)
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
    let backend = txn.get_database_backend();
    let clock = match Dialect::of(backend) {
        Dialect::Postgres => {
            txn.execute_raw(st(
                &txn,
                "SELECT pg_advisory_xact_lock(hashtext(?))::text AS locked",
                vec![w.scope.into()],
            ))
            .await?;
            "SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint AS now"
        }
        Dialect::MySql => {
            // The row lock of an upsert lasts until the transaction ends, as the advisory lock.
            let lock = format!(
                "INSERT INTO settings (\"key\", value, updated_at) VALUES (?, '', 0){}",
                sql::on_conflict(backend, "settings", &["\"key\""], &[])
            );
            txn.execute_raw(st(&txn, &lock, vec![format!("cluster.lock.{}", w.scope).into()])).await?;
            "SELECT CAST(FLOOR(UNIX_TIMESTAMP(SYSDATE(3)) * 1000) AS SIGNED) AS now"
        }
        Dialect::Sqlite => return Err(DbErr::Custom("shared limits need PostgreSQL or MySQL".into())),
    };
    let row = txn.query_one_raw(st(&txn, clock, vec![])).await?;
    let now = row.map(|r| r.try_get::<i64>("", "now")).transpose()?.unwrap_or(0);
    // What expired (a killed instance's holds, grants out of the window) counts no more.
    txn.execute_raw(st(
        &txn,
        "DELETE FROM shared_holds WHERE scope = ? AND expires_at < ?",
        vec![w.scope.into(), now.into()],
    ))
    .await?;
    txn.execute_raw(st(
        &txn,
        "DELETE FROM shared_grants WHERE scope = ? AND counts_until <= ?",
        vec![w.scope.into(), now.into()],
    ))
    .await?;
    Ok((txn, now))
}

async fn give_back(txn: &DatabaseTransaction, w: &Who<'_>, back: &Back, now: i64) -> Result<(), DbErr> {
    if back.spent > 0.0 {
        let sql = format!(
            "INSERT INTO shared_spend (scope, period_start, spent_usd) VALUES (?, ?, ?){}",
            sql::on_conflict(
                txn.get_database_backend(),
                "shared_spend",
                &["scope", "period_start"],
                &[("spent_usd", Merge::Add)]
            )
        );
        txn.execute_raw(st(txn, &sql, vec![w.scope.into(), w.period_start.into(), back.spent.into()])).await?;
    }
    let sql = "UPDATE shared_holds SET usd = GREATEST(usd - ?, 0), permits = GREATEST(permits - ?, 0), \
               expires_at = ? WHERE scope = ? AND instance = ?";
    let less = back.spent + back.usd;
    txn.execute_raw(st(
        txn,
        sql,
        vec![less.into(), back.permits.into(), (now + w.ttl_ms).into(), w.scope.into(), w.instance.into()],
    ))
    .await?;
    if let Some(g) = back.grant {
        // `now` is later than the moment the instance measured `used_ago_ms` from: never early.
        let until = g.used_ago_ms.map_or(now, |ago| now - ago.max(0) + WINDOW_MS);
        let sql = "UPDATE shared_grants SET requests = GREATEST(requests - ?, 0), tokens = GREATEST(tokens - ?, 0), \
                   counts_until = LEAST(counts_until, ?) WHERE id = ?";
        txn.execute_raw(st(txn, sql, vec![g.requests.into(), g.tokens.into(), until.into(), g.id.into()])).await?;
    }
    Ok(())
}

async fn look(txn: &DatabaseTransaction, w: &Who<'_>, now: i64) -> Result<Seen, DbErr> {
    let mut seen = Seen { now, ..Seen::default() };
    let row = txn
        .query_one_raw(st(
            txn,
            "SELECT spent_usd FROM shared_spend WHERE scope = ? AND period_start = ?",
            vec![w.scope.into(), w.period_start.into()],
        ))
        .await?;
    seen.spent = row.map(|r| r.try_get::<f64>("", "spent_usd")).transpose()?.unwrap_or(0.0);
    let holds = txn
        .query_all_raw(st(
            txn,
            "SELECT instance, period_start, usd, permits FROM shared_holds WHERE scope = ?",
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
        .query_all_raw(st(
            txn,
            "SELECT counts_until, requests, tokens FROM shared_grants WHERE scope = ? ORDER BY counts_until",
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
            let sql = match Dialect::of(txn.get_database_backend()) {
                Dialect::Postgres | Dialect::Sqlite => {
                    "INSERT INTO shared_holds (scope, instance, period_start, usd, permits, expires_at) \
                     VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, instance) DO UPDATE SET \
                     usd = CASE WHEN shared_holds.period_start = EXCLUDED.period_start THEN shared_holds.usd ELSE 0 END + EXCLUDED.usd, \
                     permits = shared_holds.permits + EXCLUDED.permits, period_start = EXCLUDED.period_start, \
                     expires_at = EXCLUDED.expires_at"
                }
                // Assigned left to right: `usd` reads the stored period before it is replaced.
                Dialect::MySql => {
                    "INSERT INTO shared_holds (scope, instance, period_start, usd, permits, expires_at) \
                     VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE \
                     usd = CASE WHEN period_start = VALUES(period_start) THEN usd ELSE 0 END + VALUES(usd), \
                     permits = permits + VALUES(permits), period_start = VALUES(period_start), \
                     expires_at = VALUES(expires_at)"
                }
            };
            let values = vec![
                w.scope.into(),
                w.instance.into(),
                w.period_start.into(),
                add.usd.into(),
                add.permits.into(),
                (now + w.ttl_ms).into(),
            ];
            txn.execute_raw(st(&txn, sql, values)).await?;
        }
        if let Some((requests, tokens, counted_for)) = add.grant {
            let sql =
                "INSERT INTO shared_grants (scope, instance, requests, tokens, counts_until) VALUES (?, ?, ?, ?, ?)";
            let values =
                vec![w.scope.into(), w.instance.into(), requests.into(), tokens.into(), (now + counted_for).into()];
            grant_id = match Dialect::of(txn.get_database_backend()) {
                Dialect::Postgres | Dialect::Sqlite => {
                    let row = txn.query_one_raw(st(&txn, &format!("{sql} RETURNING id"), values)).await?;
                    row.map(|r| r.try_get::<i64>("", "id")).transpose()?
                }
                // The id this connection's INSERT made (MySQL has no INSERT ... RETURNING).
                Dialect::MySql => {
                    let done = txn.execute_raw(st(&txn, sql, values)).await?;
                    i64::try_from(done.last_insert_id()).ok()
                }
            };
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
        .query_one_raw(st(
            &txn,
            "SELECT 1 AS one FROM shared_holds WHERE scope = ? AND instance = ?",
            vec![w.scope.into(), w.instance.into()],
        ))
        .await?
        .is_some();
    give_back(&txn, w, back, now).await?;
    txn.execute_raw(st(
        &txn,
        "DELETE FROM shared_holds WHERE scope = ? AND instance = ? AND usd <= 0 AND permits <= 0",
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
    let sql = format!(
        "INSERT INTO shared_spend (scope, period_start, spent_usd) VALUES (?, ?, ?){}",
        sql::on_conflict(db.get_database_backend(), "shared_spend", &["scope", "period_start"], &[])
    );
    db.execute_raw(st(db, &sql, vec![scope.into(), period_start.into(), seed.into()])).await?;
    spent(db, scope, period_start).await.map(|s| s.unwrap_or(seed))
}

/// The settled spend of a scope's period, if any instance counted it.
pub async fn spent(db: &DatabaseConnection, scope: &str, period_start: i64) -> Result<Option<f64>, DbErr> {
    let row = db
        .query_one_raw(st(
            db,
            "SELECT spent_usd FROM shared_spend WHERE scope = ? AND period_start = ?",
            vec![scope.into(), period_start.into()],
        ))
        .await?;
    row.map(|r| r.try_get::<f64>("", "spent_usd")).transpose()
}

/// Drops every hold of `instance` (it stops; its spend was synced before).
pub async fn leave(db: &DatabaseConnection, instance: &str) -> Result<(), DbErr> {
    db.execute_raw(st(db, "DELETE FROM shared_holds WHERE instance = ?", vec![instance.into()])).await?;
    Ok(())
}
