//! Runtime views for the dashboard: accounts with their routing state, recent usage, status.

use std::sync::atomic::Ordering;

use actix_web::{HttpRequest, HttpResponse, web};
use actors::account::messages::ResetAccount;
use actors::breaker::messages::ResetBreaker;
use actors::router::messages::GetRoutingView;
use serde::Deserialize;
use serde_json::json;

use super::{db_fail, fail, guarded};
use crate::error::GatewayError;
use crate::state::AppState;
use crate::store::{now_ms, usage};

/// `GET /api/accounts`: every account with in-flight count, cooldown and breaker state.
pub(super) async fn accounts(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    match state.runtime.router.send(GetRoutingView).await {
        Ok(view) => HttpResponse::Ok().json(json!({ "now": now_ms(), "accounts": view })),
        Err(_) => fail(GatewayError::Internal("the router is not running".into())),
    }
}

/// `POST /api/accounts/{id}/reset`: clears an account's cooldown.
pub(super) async fn reset_account(req: HttpRequest, state: web::Data<AppState>, id: web::Path<i64>) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    match state.runtime.accounts.get(&id) {
        Some(a) => {
            a.do_send(ResetAccount);
            HttpResponse::Ok().json(json!({ "reset": *id }))
        }
        None => fail(GatewayError::NotFound(format!("no account {id}"))),
    }
}

/// `POST /api/providers/{id}/reset-breaker`: closes a provider's breaker.
pub(super) async fn reset_breaker(req: HttpRequest, state: web::Data<AppState>, id: web::Path<String>) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    match state.runtime.breakers.get(id.as_str()) {
        Some(b) => {
            b.do_send(ResetBreaker);
            HttpResponse::Ok().json(json!({ "reset": id.into_inner() }))
        }
        None => fail(GatewayError::NotFound(format!("no breaker for provider `{id}`"))),
    }
}

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
        "cost": r.cost, "latency_ms": r.latency_ms, "ttfb_ms": r.ttfb_ms, "streamed": r.streamed, "attempts": r.attempts,
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
