//! `GET /metrics` (Prometheus text: the usage writer's request, token, cost and latency figures,
//! plus live gauges from the router: in flight, account states, breakers, build info) and
//! `GET /ready` for load balancers (database answers, actors answer, not draining).

use std::fmt::Write as _;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use actors::router::messages::GetRoutingView;
use actors::usage::actor::{Backlog, GetBacklog, RenderMetrics};
use actors::usage::metrics::{esc, family};
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::config::MetricsAuth;
use crate::protocol::Dialect;
use crate::state::AppState;

/// How long an actor may take to answer before it counts as not answering.
const ACTOR_DEADLINE: Duration = Duration::from_secs(1);

/// Whether `/metrics` needs the admin token: `auto` asks for it unless the daemon listens on a
/// loopback address only.
fn needs_token(state: &AppState) -> bool {
    match state.config.metrics.require_token {
        MetricsAuth::Always => true,
        MetricsAuth::Never => false,
        MetricsAuth::Auto => !crate::config::is_loopback_host(&state.config.server.host),
    }
}

/// `GET /metrics`.
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if needs_token(&state)
        && let Err(e) = crate::auth::admin(&req, &state)
    {
        return e.response(Dialect::OpenaiChat);
    }
    let mut out = match &state.runtime.usage {
        Some(w) => tokio::time::timeout(ACTOR_DEADLINE, w.send(RenderMetrics)).await.ok().and_then(Result::ok),
        None => None,
    }
    .unwrap_or_default();
    state.runtime.cache.render(&mut out);
    family(&mut out, "omnigate_build_info", "gauge", "Version of the running daemon.");
    let _ = writeln!(out, "omnigate_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
    family(&mut out, "omnigate_uptime_seconds", "gauge", "Seconds since the daemon started.");
    let _ = writeln!(out, "omnigate_uptime_seconds {}", state.started.elapsed().as_secs());
    let view = tokio::time::timeout(ACTOR_DEADLINE, state.runtime.router.send(GetRoutingView))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    family(&mut out, "omnigate_in_flight", "gauge", "Upstream requests in flight, by provider and account.");
    for a in &view {
        let _ = writeln!(
            out,
            "omnigate_in_flight{{provider=\"{}\",account=\"{}\"}} {}",
            esc(&a.provider),
            esc(&a.name),
            a.in_flight
        );
    }
    family(&mut out, "omnigate_account_state", "gauge", "1 for each account's current state.");
    for a in &view {
        let _ = writeln!(
            out,
            "omnigate_account_state{{provider=\"{}\",account=\"{}\",state=\"{}\"}} 1",
            esc(&a.provider),
            esc(&a.name),
            a.state.as_str()
        );
    }
    family(&mut out, "omnigate_account_cooldown_seconds", "gauge", "Seconds until a cooling account is leased again.");
    let now = actors::clock::now_ms();
    for a in view.iter().filter(|a| a.cooldown_until > now) {
        let secs = (a.cooldown_until - now) as f64 / 1000.0;
        let _ = writeln!(
            out,
            "omnigate_account_cooldown_seconds{{provider=\"{}\",account=\"{}\"}} {secs}",
            esc(&a.provider),
            esc(&a.name)
        );
    }
    family(&mut out, "omnigate_breaker_state", "gauge", "1 for each provider's breaker phase.");
    let mut seen = std::collections::BTreeMap::new();
    for a in &view {
        seen.entry(a.provider.as_str()).or_insert(a.breaker);
    }
    for (p, phase) in seen {
        let _ = writeln!(out, "omnigate_breaker_state{{provider=\"{}\",state=\"{phase}\"}} 1", esc(p));
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(out)
}

/// `GET /ready`: 200 when the router and usage writer answer within a second and the daemon is
/// not draining, else 503 naming what is not. A database that does not answer within a second
/// makes it `degraded`, still 200: requests are served from the state last loaded and usage rows
/// are held until it answers (`usage_held` says how many).
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let database =
        tokio::time::timeout(ACTOR_DEADLINE, state.db.execute_unprepared("SELECT 1")).await.is_ok_and(|r| r.is_ok());
    let router =
        tokio::time::timeout(ACTOR_DEADLINE, state.runtime.router.send(GetRoutingView)).await.is_ok_and(|r| r.is_ok());
    let backlog = match &state.runtime.usage {
        Some(w) => tokio::time::timeout(ACTOR_DEADLINE, w.send(GetBacklog)).await.ok().and_then(Result::ok),
        None => Some(Backlog::default()),
    };
    let writer = backlog.is_some();
    let held = backlog.map_or(0, |b| b.held);
    let draining = *state.runtime.drain.borrow();
    let ok = router && writer && !draining;
    let body = json!({
        "ready": ok,
        "degraded": !database || held > 0,
        "database": if database { "ok" } else { "unreachable" },
        "actors": if router && writer { "ok" } else { "not answering" },
        "draining": draining,
        "usage_held": held,
    });
    if ok { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}
