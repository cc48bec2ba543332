//! The usage writer: buffers usage events and inserts them in batches (by count or every
//! `flush_interval`), prunes old rows, and flushes on shutdown. Nothing on the response path waits
//! for it.

use std::time::Duration;

use actix::{Actor, ActorFutureExt, AsyncContext, Context, Handler, Message, ResponseActFuture, WrapFuture};
use entities::{request_log, usage};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use super::UsageEvent;
use crate::clock::now_ms;

/// Records one request's usage.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Record(pub UsageEvent);

/// Writes everything buffered; answers when it is in the database.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Flush;

/// Batching settings.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Rows per batch.
    pub batch_size: usize,
    /// Longest wait before a partial batch is written.
    pub flush_interval: Duration,
    /// Rows older than this many days are pruned (0: never).
    pub retention_days: u32,
}

/// The one usage writer.
#[derive(Debug)]
pub struct UsageWriter {
    db: DatabaseConnection,
    cfg: WriterConfig,
    buf: Vec<UsageEvent>,
}

impl UsageWriter {
    /// A writer over `db`.
    pub fn new(db: DatabaseConnection, cfg: WriterConfig) -> Self {
        Self { db, buf: Vec::with_capacity(cfg.batch_size), cfg }
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.buf.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.buf, Vec::with_capacity(self.cfg.batch_size));
        let db = self.db.clone();
        // `wait` keeps batches in order and makes a later `Flush` answer after this one landed.
        ctx.wait(async move { write(&db, batch).await }.into_actor(self).map(|res, _, _| {
            if let Err((n, e)) = res {
                tracing::error!(rows = n, error = %e, "usage rows could not be written and were dropped");
            }
        }));
    }
}

async fn write(db: &DatabaseConnection, batch: Vec<UsageEvent>) -> Result<(), (usize, DbErr)> {
    let n = batch.len();
    let mut usage_rows = Vec::with_capacity(n);
    let mut log_rows = Vec::with_capacity(n);
    for e in batch {
        let detail =
            serde_json::json!({ "attempts": e.attempts, "error": e.error, "client_dialect": e.client_dialect });
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
        let t = e.tokens;
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        usage_rows.push(usage::ActiveModel {
            ts: Set(e.ts),
            request_id: Set(e.request_id),
            key_name: Set(e.key_name),
            client_dialect: Set(e.client_dialect),
            provider: Set(e.provider),
            account: Set(e.account),
            model: Set(e.model),
            status: Set(i32::from(e.status)),
            error: Set(e.error),
            input_tokens: Set(n(t.input)),
            output_tokens: Set(n(t.output)),
            cache_read_tokens: Set(n(t.cache_read)),
            cache_write_tokens: Set(n(t.cache_write)),
            reasoning_tokens: Set(n(t.reasoning)),
            total_tokens: Set(n(t.total())),
            cost: Set(e.cost),
            latency_ms: Set(e.latency_ms),
            ttfb_ms: Set(e.ttfb_ms),
            streamed: Set(e.streamed),
            attempts: Set(i32::try_from(e.attempts.len()).unwrap_or(i32::MAX)),
            ..Default::default()
        });
    }
    usage::Entity::insert_many(usage_rows).exec(db).await.map_err(|e| (n, e))?;
    request_log::Entity::insert_many(log_rows).exec(db).await.map_err(|e| (n, e))?;
    Ok(())
}

async fn prune(db: &DatabaseConnection, before: i64) -> Result<u64, DbErr> {
    let a = usage::Entity::delete_many().filter(usage::Column::Ts.lt(before)).exec(db).await?;
    let b = request_log::Entity::delete_many().filter(request_log::Column::Ts.lt(before)).exec(db).await?;
    Ok(a.rows_affected + b.rows_affected)
}

impl Actor for UsageWriter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.cfg.flush_interval, |act, ctx| act.flush(ctx));
        if self.cfg.retention_days > 0 {
            ctx.run_interval(Duration::from_secs(3600), |act, _| {
                let db = act.db.clone();
                let before = now_ms() - i64::from(act.cfg.retention_days) * 86_400_000;
                actix_rt::spawn(async move {
                    match prune(&db, before).await {
                        Ok(n) if n > 0 => {
                            tracing::info!(rows = n, "pruned old usage rows and request logs")
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "pruning usage failed"),
                    }
                });
            });
        }
    }
}

impl Handler<Record> for UsageWriter {
    type Result = ();

    fn handle(&mut self, msg: Record, ctx: &mut Context<Self>) {
        self.buf.push(msg.0);
        if self.buf.len() >= self.cfg.batch_size {
            self.flush(ctx);
        }
    }
}

impl Handler<Flush> for UsageWriter {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: Flush, _: &mut Context<Self>) -> Self::Result {
        let batch = std::mem::take(&mut self.buf);
        let db = self.db.clone();
        Box::pin(async move { if batch.is_empty() { Ok(()) } else { write(&db, batch).await } }.into_actor(self).map(
            |res, _, _| {
                if let Err((n, e)) = res {
                    tracing::error!(rows = n, error = %e, "usage rows could not be written at shutdown");
                }
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::TokenUsage;

    #[test]
    fn cost_counts_cache_at_its_own_price() {
        let u = TokenUsage { input: 1_000_000, output: 1_000_000, cache_read: 500_000, cache_write: 0, reasoning: 0 };
        let c = u.cost(&[2.0, 8.0, 0.5]);
        assert!((c - (1.0 + 8.0 + 0.25)).abs() < 1e-9, "{c}");
        assert_eq!(u.cost(&[]), 0.0);
        assert_eq!(u.total(), 2_000_000);
    }
}
