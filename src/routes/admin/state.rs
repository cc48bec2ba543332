//! Runtime views for the dashboard: recent usage, status. (Accounts and their resets live in
//! `accounts`, breaker resets in `providers`.)

use std::sync::atomic::Ordering;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{db_fail, guarded};
use crate::state::AppState;
use crate::store::usage;

#[derive(Deserialize)]
pub(super) struct UsageQuery {
    limit: Option<u64>,
}

/// `GET /api/usage?limit=N`: the latest usage rows (default 50, at most 1000), newest first.
pub(super) async fn recent_usage(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<UsageQuery>,
) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    match usage::recent(&state.db, limit).await {
        Ok(rows) => HttpResponse::Ok().json(rows.into_iter().map(usage_json).collect::<Vec<_>>()),
        Err(e) => db_fail(e),
    }
}

fn usage_json(r: entities::usage::Model) -> serde_json::Value {
    json!({
        "id": r.id, "ts": r.ts, "request_id": r.request_id, "key_name": r.key_name,
        "client_dialect": r.client_dialect, "provider": r.provider, "account": r.account, "model": r.model,
        "status": r.status, "error": r.error,
        "input_tokens": r.input_tokens, "output_tokens": r.output_tokens,
        "cache_read_tokens": r.cache_read_tokens, "cache_write_tokens": r.cache_write_tokens,
        "reasoning_tokens": r.reasoning_tokens, "total_tokens": r.total_tokens,
        "cost_usd": r.cost_usd, "list_cost_usd": r.list_cost_usd, "cost_source": r.cost_source,
        "latency_ms": r.latency_ms, "ttfb_ms": r.ttfb_ms, "streamed": r.streamed, "attempts": r.attempts,
        "units": r.units, "unit": r.unit,
    })
}

/// `GET /api/status`: version, uptime, executor restarts and faults.
pub(super) async fn status(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    let s = &state.runtime.executor_stats;
    let reg = state.runtime.registry();
    HttpResponse::Ok().json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": state.started.elapsed().as_secs(),
        "executor_restarts": s.restarts.load(Ordering::Relaxed),
        "executor_faults": s.faults.load(Ordering::Relaxed),
        "dropped_frames": s.dropped_frames.load(Ordering::Relaxed),
        "accounts": reg.accounts.len(),
        "combos": reg.combos.len(),
    }))
}
