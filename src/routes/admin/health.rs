//! `GET /api/health`: each provider's breaker and recent latency percentiles, each account's
//! cooldown, model lockouts and in-flight count. The live state comes from the router's view and
//! the breaker actors (as `GET /api/accounts` does); the latencies from the last 15 minutes of
//! usage rows, read here and never on the request path. With several instances on one PostgreSQL,
//! the instances whose heartbeat is recent (`cluster`).

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use actix::Addr;
use actix_web::{HttpRequest, HttpResponse, web};
use actors::breaker::actor::BreakerActor;
use actors::breaker::messages::GetBreaker;
use actors::router::messages::{AccountStatus, GetRoutingView, GetSessionCount};
use serde_json::{Value, json};

use super::{db_fail, fail, guarded};
use crate::error::GatewayError;
use crate::state::AppState;
use crate::store::now_ms;
use crate::store::observe::latency::{self, ProviderSamples, percentile};

/// How far back the latency percentiles look.
pub const WINDOW_MS: i64 = 15 * 60_000;

fn percentiles(sorted: &[i64]) -> Value {
    match (percentile(sorted, 50), percentile(sorted, 95), percentile(sorted, 99)) {
        (Some(p50), Some(p95), Some(p99)) => json!({ "p50": p50, "p95": p95, "p99": p99 }),
        _ => Value::Null,
    }
}

/// The address behind a map entry (a plain reference or a map guard), owned.
fn owned<B: std::ops::Deref<Target = Addr<BreakerActor>>>(b: B) -> Addr<BreakerActor> {
    Addr::clone(&b)
}

/// Whether the router would lease this account now (for some model).
fn available(a: &AccountStatus, now: i64) -> bool {
    a.enabled && a.cooldown_until <= now && a.quota_blocked_until <= now && a.breaker != "open"
}

fn account_json(a: &AccountStatus, now: i64) -> Value {
    let cooldown = (a.cooldown_until > now).then(|| json!({ "until": a.cooldown_until, "reason": a.reason }));
    let mut locks: Vec<(&String, &i64)> = a.model_locks.iter().collect();
    locks.sort();
    let locks: Vec<Value> = locks.into_iter().map(|(m, u)| json!({ "model": m, "until": u })).collect();
    json!({
        "id": a.id, "provider": a.provider, "name": a.name, "enabled": a.enabled, "priority": a.priority,
        "in_flight": a.in_flight, "leases": a.leases, "last_used_at": a.last_used_at,
        "backoff_level": a.backoff_level, "cooldown": cooldown, "model_lockouts": locks,
        "available": available(a, now), "paced_until": a.paced_until,
        "quota_blocked_until": a.quota_blocked_until, "quota_reason": a.quota_reason,
    })
}

/// `GET /api/health`
pub(super) async fn health(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    let now = now_ms();
    let view = match state.runtime.router.send(GetRoutingView).await {
        Ok(v) => v,
        Err(_) => return fail(GatewayError::Internal("the router is not running".into())),
    };
    let (samples, sampled) = match latency::recent(&state.db, now - WINDOW_MS).await {
        Ok(s) => s,
        Err(e) => return db_fail(e),
    };
    let reg = state.runtime.registry();
    let ids: BTreeSet<&str> =
        view.iter().map(|a| a.provider.as_str()).chain(samples.keys().map(String::as_str)).collect();
    let mut providers = Vec::with_capacity(ids.len());
    let empty = ProviderSamples::default();
    for id in ids {
        let accounts: Vec<&AccountStatus> = view.iter().filter(|a| a.provider == id).collect();
        // Every account of a provider carries the same breaker view; the actor adds its counters.
        let (phase, open_until) = accounts.first().map_or(("closed", 0), |a| (a.breaker, a.breaker_open_until));
        // The address is cloned out first: no map guard is held across the await.
        let breaker = state.runtime.breakers.get(id).map(owned);
        let counters = match breaker {
            Some(b) => b.send(GetBreaker).await.ok(),
            None => None,
        };
        let s = samples.get(id).unwrap_or(&empty);
        providers.push(json!({
            "id": id,
            "dialect": reg.provider(id).map(|p| p.dialect.as_str()),
            "breaker": {
                "state": phase,
                "open_until": if phase == "closed" { 0 } else { open_until },
                "failures": counters.map_or(0, |c| c.failures),
                "trips": counters.map_or(0, |c| c.trips),
            },
            "accounts": accounts.len(),
            "available_accounts": accounts.iter().filter(|a| available(a, now)).count(),
            "requests": s.requests, "errors": s.errors,
            "samples": s.latency.len(), "sampled": sampled,
            "latency_ms": percentiles(&s.latency),
            "ttfb_ms": percentiles(&s.ttfb),
        }));
    }
    let mut accounts: Vec<&AccountStatus> = view.iter().collect();
    accounts.sort_by(|a, b| (&a.provider, a.priority, a.id).cmp(&(&b.provider, b.priority, b.id)));
    let stats = &state.runtime.executor_stats;
    // The instances sharing this PostgreSQL (null on SQLite: one instance by construction).
    let instances = match &state.runtime.cluster {
        Some(c) => match c.instances().await {
            Ok(list) => json!(list),
            Err(e) => return db_fail(e),
        },
        None => Value::Null,
    };
    HttpResponse::Ok().json(json!({
        "now": now,
        "window_ms": WINDOW_MS,
        "providers": providers,
        "accounts": accounts.iter().map(|a| account_json(a, now)).collect::<Vec<_>>(),
        "routing": {
            "sessions": state.runtime.router.send(GetSessionCount).await.unwrap_or(0),
            "waiting": state.runtime.queue.waiting(),
        },
        "executor": {
            "restarts": stats.restarts.load(Ordering::Relaxed),
            "faults": stats.faults.load(Ordering::Relaxed),
            "dropped_frames": stats.dropped_frames.load(Ordering::Relaxed),
        },
        "instances": instances,
    }))
}
