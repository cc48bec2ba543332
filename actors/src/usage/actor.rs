//! The usage writer: buffers usage events and inserts them in batches (by count or every
//! `flush_interval`), adding each batch to the hourly and daily rollups in the same transaction
//! (`rollup`), prunes old raw rows (never the rollups), and flushes on shutdown. Nothing on the response path waits
//! for it. While the database cannot be reached it holds the rows in memory (up to
//! `hold_rows`, then counts them dropped), probes every second and writes them when it answers.
//! It also keeps the Prometheus aggregates of every event (`metrics`), recorded or not.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Duration;

use actix::{
    Actor, ActorFutureExt, AsyncContext, Context, Handler, Message, ResponseActFuture, SpawnHandle, WrapFuture,
};
use entities::{request_log, usage};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    Statement, TransactionTrait, Value,
};

use super::metrics::{Metrics, family};
use super::{UsageEvent, rollup};
use crate::clock::now_ms;

/// How often rows older than the retention are pruned (besides once at start).
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Longest wait for a connection to start a batch's transaction: past it the database counts as
/// unreachable and the batch is held.
const BEGIN_WAIT: Duration = Duration::from_secs(3);
/// While the database is unreachable it is probed this often (never blocking the mailbox).
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Writes everything buffered; answers when it is in the database.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Flush;

/// New batching settings (edited at run time): applied from the next row on.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Reconfigure(pub WriterConfig);

/// Batching settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterConfig {
    /// Record rows at all (`usage.enabled`); when off, events are dropped on arrival.
    pub enabled: bool,
    /// Rows per batch.
    pub batch_size: usize,
    /// Longest wait before a partial batch is written.
    pub flush_interval: Duration,
    /// Rows older than this many days are pruned at start and hourly (0: never).
    pub retention_days: u32,
    /// Most rows held in memory while the database cannot be written (past it: dropped).
    pub hold_rows: usize,
}

/// The one usage writer.
#[derive(Debug)]
pub struct UsageWriter {
    db: DatabaseConnection,
    cfg: WriterConfig,
    buf: Vec<UsageEvent>,
    timers: Vec<SpawnHandle>,
    metrics: Metrics,
    /// Rows that could not be written and were dropped, since start.
    dropped: u64,
    /// Rows waiting for the database to answer again, oldest first.
    held: VecDeque<UsageEvent>,
    /// Since when (ms) the database has not taken a batch; `None` while it does.
    down_since: Option<i64>,
    /// A probe of the database is under way.
    probing: bool,
    /// When (ms) the last probe started.
    probed_at: i64,
}

/// The writer's backlog, for `/ready` and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, actix::MessageResponse)]
pub struct Backlog {
    /// Rows waiting for the next batch.
    pub buffered: usize,
    /// Rows held because the database could not be written.
    pub held: usize,
    /// Since when (ms) the database has not taken a batch.
    pub down_since: Option<i64>,
    /// Rows dropped since start.
    pub dropped: u64,
}

/// Asks for the writer's `Backlog`.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Backlog")]
pub struct GetBacklog;

/// A batch that did not land: how many rows, why, and the rows themselves when the database was
/// not reached at all (nothing of them was sent, so they can be written later).
struct Failed {
    rows: usize,
    error: DbErr,
    kept: Option<Vec<UsageEvent>>,
}

/// Renders the Prometheus text of what the writer counted (requests, tokens, cost, latency
/// histograms, its backlog and dropped rows).
#[derive(Message)]
#[rtype(result = "String")]
pub struct RenderMetrics;

impl UsageWriter {
    /// A writer over `db`.
    pub fn new(db: DatabaseConnection, cfg: WriterConfig) -> Self {
        Self {
            db,
            buf: Vec::with_capacity(cfg.batch_size),
            cfg,
            timers: Vec::new(),
            metrics: Metrics::default(),
            dropped: 0,
            held: VecDeque::new(),
            down_since: None,
            probing: false,
            probed_at: 0,
        }
    }

    /// Holds rows until the database answers; past `hold_rows` they are dropped (counted).
    fn hold(&mut self, rows: Vec<UsageEvent>) {
        for e in rows {
            if self.held.len() >= self.cfg.hold_rows {
                self.dropped += 1;
            } else {
                self.held.push_back(e);
            }
        }
    }

    /// Probes the database off the mailbox; when it answers, what is held is written.
    fn probe(&mut self, ctx: &mut Context<Self>) {
        let now = now_ms();
        if self.probing || now - self.probed_at < PROBE_EVERY.as_millis() as i64 {
            return;
        }
        self.probing = true;
        self.probed_at = now;
        let db = self.db.clone();
        let ping = async move { matches!(actix_rt::time::timeout(BEGIN_WAIT, db.ping()).await, Ok(Ok(()))) };
        ctx.spawn(ping.into_actor(self).map(|up, act, ctx| {
            act.probing = false;
            if up {
                act.down_since = None;
                act.flush(ctx);
            }
        }));
    }

    /// (Re)starts the flush and prune timers for the current settings.
    fn schedule(&mut self, ctx: &mut Context<Self>, prune_now: bool) {
        for t in self.timers.drain(..) {
            ctx.cancel_future(t);
        }
        self.timers.push(ctx.run_interval(self.cfg.flush_interval, |act, ctx| act.flush(ctx)));
        if self.cfg.retention_days > 0 {
            // Once at start, then hourly: a daemon restarted more often than hourly still prunes.
            if prune_now {
                self.prune_expired();
            }
            self.timers.push(ctx.run_interval(PRUNE_EVERY, |act, _| act.prune_expired()));
        }
    }

    /// Deletes usage rows and request logs older than the retention, off the mailbox.
    fn prune_expired(&self) {
        let db = self.db.clone();
        let before = now_ms() - i64::from(self.cfg.retention_days) * 86_400_000;
        actix_rt::spawn(async move {
            match prune(&db, before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "pruned old usage rows and request logs"),
                Err(e) => tracing::warn!(error = %e, "pruning usage failed"),
            }
        });
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.buf.is_empty() && self.held.is_empty() {
            return;
        }
        let fresh = std::mem::replace(&mut self.buf, Vec::with_capacity(self.cfg.batch_size));
        if self.down_since.is_some() {
            // Not again until a probe sees the database answer: nothing waits on a dead pool.
            self.hold(fresh);
            self.probe(ctx);
            return;
        }
        let were_held = self.held.len();
        let batch = if self.held.is_empty() {
            fresh
        } else {
            let mut all: Vec<UsageEvent> = self.held.drain(..).collect();
            all.extend(fresh);
            all
        };
        let db = self.db.clone();
        // `wait` keeps batches in order and makes a later `Flush` answer after this one landed.
        ctx.wait(async move { write(&db, batch).await }.into_actor(self).map(move |res, act, _| match res {
            Ok(_) => {
                if were_held > 0 {
                    tracing::info!(rows = were_held, "the database answers again: held usage rows written");
                }
            }
            Err(Failed { rows, error, kept: Some(kept) }) => {
                if act.down_since.is_none() {
                    act.down_since = Some(now_ms());
                    tracing::warn!(rows, error = %error, "the database cannot be reached: usage rows are held in memory");
                }
                act.hold(kept);
            }
            Err(Failed { rows, error, kept: None }) => {
                act.dropped += rows as u64;
                tracing::error!(rows, error = %error, "usage rows could not be written and were dropped");
            }
        }));
    }
}

/// Usage columns, in the order of the values `write` binds.
const USAGE_COLUMNS: [&str; 25] = [
    "ts",
    "request_id",
    "key_name",
    "client_dialect",
    "provider",
    "account",
    "model",
    "status",
    "error",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cost_usd",
    "list_cost_usd",
    "cost_source",
    "latency_ms",
    "ttfb_ms",
    "streamed",
    "attempts",
    "path",
    "units",
    "unit",
];

/// The row counts of the multi-row INSERTs a batch is cut into. The driver keeps every distinct
/// statement text prepared on each pooled connection (up to 100): one text per batch size let a
/// soak test's RSS climb by tens of MiB until connections were recycled. With these four shapes at
/// most four statements per table are ever prepared.
const CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// `n` rows as chunk sizes from `CHUNKS`, largest first.
fn chunk_sizes(mut n: usize) -> Vec<usize> {
    let mut out = Vec::new();
    for c in CHUNKS {
        while n >= c {
            out.push(c);
            n -= c;
        }
    }
    out
}

/// One multi-row INSERT for `rows` usage rows. Usage is the one write on the request path's
/// wake: going through `Statement` skips building an ActiveModel and a sea-query tree per row,
/// which cost ~20 % of the gateway's throughput.
fn usage_insert(backend: DbBackend, rows: usize) -> String {
    let sql = format!(
        "INSERT INTO \"usage\" ({}) VALUES {}",
        USAGE_COLUMNS.join(", "),
        crate::sql::tuples(rows, USAGE_COLUMNS.len())
    );
    crate::sql::text(backend, &sql)
}

/// Writes one batch in one transaction. The transaction starts before the rows are taken apart:
/// a database that cannot be reached (no connection within `BEGIN_WAIT`) gives them back whole.
async fn write(db: &DatabaseConnection, batch: Vec<UsageEvent>) -> Result<usize, Failed> {
    let n = batch.len();
    let tx = match actix_rt::time::timeout(BEGIN_WAIT, db.begin()).await {
        Ok(Ok(tx)) => tx,
        Ok(Err(error)) => return Err(Failed { rows: n, error, kept: Some(batch) }),
        Err(_) => {
            let error = DbErr::Custom(format!("no database connection within {BEGIN_WAIT:?}"));
            return Err(Failed { rows: n, error, kept: Some(batch) });
        }
    };
    // The rollups' cells, before the events are taken apart for the raw rows.
    let rollup_cells = rollup::cells(&batch);
    let mut values: Vec<Value> = Vec::with_capacity(n * USAGE_COLUMNS.len());
    let mut log_rows = Vec::new();
    for e in &batch {
        // The usage row says everything about a clean single-attempt request; the request log
        // keeps the detail of the others (errors, fallbacks, cancellations, transformed calls).
        if e.error.is_some() || e.attempts.len() > 1 || e.status >= 300 || !e.transforms.is_empty() {
            let detail = serde_json::json!({ "attempts": e.attempts, "error": e.error,
                "client_dialect": e.client_dialect, "transforms": e.transforms });
            log_rows.push(request_log::ActiveModel {
                ts: Set(e.ts),
                request_id: Set(e.request_id.clone()),
                method: Set(e.method.clone()),
                path: Set(e.path.clone()),
                status: Set(i32::from(e.status)),
                key_name: Set(e.key_name.clone()),
                model: Set(e.model.clone()),
                detail: Set(detail.to_string()),
                ..Default::default()
            });
        }
        let t = e.tokens;
        let big = |v: u64| Value::from(i64::try_from(v).unwrap_or(i64::MAX));
        values.extend([
            Value::from(e.ts),
            Value::from(e.request_id.clone()),
            Value::from(e.key_name.clone()),
            Value::from(e.client_dialect.clone()),
            Value::from(e.provider.clone()),
            Value::from(e.account.clone()),
            Value::from(e.model.clone()),
            Value::from(i32::from(e.status)),
            Value::from(e.error.clone()),
            big(t.input),
            big(t.output),
            big(t.cache_read),
            big(t.cache_write),
            big(t.reasoning),
            big(t.total()),
            Value::from(e.cost.usd),
            Value::from(e.cost.list_usd),
            Value::from(e.cost.source.as_str()),
            Value::from(e.latency_ms),
            Value::from(e.ttfb_ms),
            Value::from(e.streamed),
            Value::from(i32::try_from(e.attempts.len()).unwrap_or(i32::MAX)),
            Value::from(e.path.clone()),
            Value::from(t.units.and_then(|u| u.count())),
            Value::from(t.units.map(|u| u.unit.as_str())),
        ]);
    }
    let backend = db.get_database_backend();
    // One transaction for the whole batch: all of it lands or none (and one commit, one fsync).
    let inserted: Result<(), DbErr> = async {
        let mut values = values.into_iter();
        for rows in chunk_sizes(n) {
            let chunk: Vec<Value> = values.by_ref().take(rows * USAGE_COLUMNS.len()).collect();
            let stmt = Statement::from_sql_and_values(backend, usage_insert(backend, rows), chunk);
            tx.execute_raw(stmt).await?;
        }
        // The rollups in the same transaction: they always equal the raw rows written.
        rollup::add(&tx, rollup_cells, chunk_sizes).await?;
        let mut logs = log_rows.into_iter();
        for rows in chunk_sizes(logs.len()) {
            let chunk: Vec<request_log::ActiveModel> = logs.by_ref().take(rows).collect();
            request_log::Entity::insert_many(chunk).exec(&tx).await?;
        }
        Ok(())
    }
    .await;
    if let Err(error) = inserted {
        // Nothing was committed. A database that has gone away meanwhile (it does not answer a
        // ping) gets the rows back whole, to be held; one that answers refused these rows, which
        // would fail again: they are dropped and counted.
        drop(tx);
        let answers = matches!(actix_rt::time::timeout(BEGIN_WAIT, db.ping()).await, Ok(Ok(())));
        return Err(Failed { rows: n, error, kept: (!answers).then_some(batch) });
    }
    // A commit cut off on the way is the one case whose outcome is unknown: not written twice.
    let lost = |error: DbErr| Failed { rows: n, error, kept: None };
    tx.commit().await.map_err(lost)?;
    Ok(n)
}

/// The `settings` row whose `updated_at` says when an instance last pruned (PostgreSQL).
const PRUNE_CLAIM: &str = "cluster.usage_pruned_at";

/// Whether this instance prunes rows older than `before` now. On PostgreSQL several instances
/// share the rows: the one that moves the claim row forward prunes, and the others skip while an
/// instance pruned within `PRUNE_EVERY` (a minute's slack for drifting timers) up to a cutoff
/// within that hour of theirs; a shorter retention (a later cutoff) prunes at once. So retention
/// runs once per cluster, not once per instance.
async fn claim_prune(db: &DatabaseConnection, now: i64, before: i64) -> Result<bool, DbErr> {
    use crate::sql::{self, Dialect};
    let backend = db.get_database_backend();
    match Dialect::of(backend) {
        Dialect::Sqlite => return Ok(true),
        Dialect::Postgres | Dialect::MySql => {}
    }
    let insert = format!(
        "INSERT INTO settings (\"key\", value, updated_at) VALUES (?, '0', 0){}",
        sql::on_conflict(backend, "settings", &["\"key\""], &[])
    );
    db.execute_raw(sql::statement(backend, &insert, vec![PRUNE_CLAIM.into()])).await?;
    let every = i64::try_from(PRUNE_EVERY.as_millis()).unwrap_or(i64::MAX / 4);
    // One conditional UPDATE: the instance whose statement changed the row won (row locks order
    // the others after it, and they then find the condition false).
    let claim = format!(
        "UPDATE settings SET updated_at = ?, value = ? WHERE \"key\" = ? AND (updated_at < ? OR {} < ?)",
        sql::cast_bigint(backend, "value")
    );
    let won = db
        .execute_raw(sql::statement(
            backend,
            &claim,
            vec![
                now.into(),
                before.to_string().into(),
                PRUNE_CLAIM.into(),
                (now - every + 60_000).into(),
                (before - every).into(),
            ],
        ))
        .await?;
    Ok(won.rows_affected() == 1)
}

async fn prune(db: &DatabaseConnection, before: i64) -> Result<u64, DbErr> {
    if !claim_prune(db, now_ms(), before).await? {
        tracing::debug!("another instance pruned usage rows within the hour");
        return Ok(0);
    }
    let a = usage::Entity::delete_many().filter(usage::Column::Ts.lt(before)).exec(db).await?;
    let b = request_log::Entity::delete_many().filter(request_log::Column::Ts.lt(before)).exec(db).await?;
    Ok(a.rows_affected + b.rows_affected)
}

impl Actor for UsageWriter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.schedule(ctx, true);
    }
}

impl Handler<Reconfigure> for UsageWriter {
    type Result = ();

    fn handle(&mut self, msg: Reconfigure, ctx: &mut Context<Self>) {
        if msg.0 == self.cfg {
            return;
        }
        let retention_changed = msg.0.retention_days != self.cfg.retention_days;
        self.cfg = msg.0;
        // What is buffered was accepted under the old settings: write it now rather than drop it.
        self.flush(ctx);
        self.schedule(ctx, retention_changed);
    }
}

impl UsageWriter {
    /// Takes one request's event (from the inbox, `inbox::Drain`): counted, logged, buffered.
    pub(super) fn accept(&mut self, event: UsageEvent, ctx: &mut Context<Self>) {
        self.metrics.observe(&event);
        log_request(&event);
        if !self.cfg.enabled {
            return;
        }
        let mut event = event;
        event.bound_fields();
        self.buf.push(event);
        if self.buf.len() >= self.cfg.batch_size {
            self.flush(ctx);
        }
    }
}

/// The request's one log line (target `omnigate::request`, level info; with `log.format = "json"`
/// one JSON object): who, where, what came of it and how long it took. Never a body or a secret.
fn log_request(e: &UsageEvent) {
    tracing::info!(
        target: "omnigate::request",
        request_id = %e.request_id,
        key = e.key_name.as_deref().unwrap_or("-"),
        method = %e.method,
        path = %e.path,
        client = %e.client_dialect,
        provider = e.provider.as_deref().unwrap_or("-"),
        account = e.account.as_deref().unwrap_or("-"),
        model = %e.model,
        status = e.status,
        attempts = e.attempts.len().max(usize::from(e.provider.is_some())),
        streamed = e.streamed,
        latency_ms = e.latency_ms,
        ttfb_ms = e.ttfb_ms.unwrap_or(-1),
        input_tokens = e.tokens.input,
        output_tokens = e.tokens.output,
        cost_usd = e.cost.usd.unwrap_or(0.0),
        cost_source = e.cost.source.as_str(),
        error = e.error.as_deref().unwrap_or(""),
        "request"
    );
}

impl Handler<RenderMetrics> for UsageWriter {
    type Result = String;

    fn handle(&mut self, _: RenderMetrics, _: &mut Context<Self>) -> String {
        let mut out = String::with_capacity(16 * 1024);
        self.metrics.render(&mut out);
        family(&mut out, "omnigate_usage_backlog_rows", "gauge", "Usage rows waiting for the next batch write.");
        let _ = writeln!(out, "omnigate_usage_backlog_rows {}", self.buf.len() + self.held.len());
        family(&mut out, "omnigate_usage_held_rows", "gauge", "Usage rows held while the database cannot be written.");
        let _ = writeln!(out, "omnigate_usage_held_rows {}", self.held.len());
        family(&mut out, "omnigate_usage_dropped_rows_total", "counter", "Usage rows that could not be written.");
        let _ = writeln!(out, "omnigate_usage_dropped_rows_total {}", self.dropped);
        out
    }
}

impl Handler<GetBacklog> for UsageWriter {
    type Result = Backlog;

    fn handle(&mut self, _: GetBacklog, _: &mut Context<Self>) -> Backlog {
        Backlog { buffered: self.buf.len(), held: self.held.len(), down_since: self.down_since, dropped: self.dropped }
    }
}

impl Handler<Flush> for UsageWriter {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: Flush, _: &mut Context<Self>) -> Self::Result {
        // Held rows first (one more try), then the buffer: in the order they came.
        let mut batch: Vec<UsageEvent> = self.held.drain(..).collect();
        batch.append(&mut self.buf);
        let db = self.db.clone();
        Box::pin(async move { if batch.is_empty() { Ok(0) } else { write(&db, batch).await } }.into_actor(self).map(
            |res, _, _| {
                if let Err(Failed { rows, error, .. }) = res {
                    tracing::error!(rows, error = %error, "usage rows could not be written at shutdown");
                }
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn batches_are_cut_into_four_statement_shapes_that_add_up() {
        for n in 0..=600 {
            let sizes = super::chunk_sizes(n);
            assert_eq!(sizes.iter().sum::<usize>(), n);
            assert!(sizes.iter().all(|s| super::CHUNKS.contains(s)));
            assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "largest first");
        }
        assert_eq!(super::chunk_sizes(85), vec![64, 16, 4, 1]);
    }
}
