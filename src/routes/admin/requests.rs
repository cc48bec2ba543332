//! `GET /api/requests` (the request log, filtered and cursor-paged) and `GET /api/requests/{id}`
//! (one request with every upstream attempt). Reads only; the rows come from the usage writer.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::params::{Param, Query, bad, parse_since};
use super::{db_fail, fail, guarded};
use crate::error::GatewayError;
use crate::state::AppState;
use crate::store::now_ms;
use crate::store::observe::requests::{self, RequestFilter, StatusFilter};

/// Largest page.
const MAX_LIMIT: i64 = 500;

/// The query parameters of `GET /api/requests`.
pub(super) const QUERY: &[Param] = &[
    Param::str("status", "an exact status (`429`), a class (`4xx`, `5xx`), `ok` (< 400) or `error` (≥ 400)"),
    Param::str("provider", "provider id"),
    Param::str("model", "model as recorded (`provider/model`)"),
    Param::str("key", "gateway key name"),
    Param::str("since", "ms since the epoch, or a duration back from now (`30s`, `15m`, `1h`, `7d`)"),
    Param::int("limit", "rows per page, 1..=500 (default 50)"),
    Param::int("cursor", "`next_cursor` of the previous page"),
];

fn filter(q: &Query) -> Result<(RequestFilter, u64), GatewayError> {
    let status = match q.get("status") {
        Some(s) => Some(
            StatusFilter::parse(s)
                .ok_or_else(|| bad("status", "expected a code 100..=599, a class like `4xx`, `ok` or `error`"))?,
        ),
        None => None,
    };
    let since = match q.get("since") {
        Some(s) => Some(
            parse_since(s, now_ms()).ok_or_else(|| bad("since", "expected ms since the epoch or `15m`, `1h`, `7d`"))?,
        ),
        None => None,
    };
    let limit = q.int("limit", 1, MAX_LIMIT)?.unwrap_or(50);
    let f = RequestFilter {
        status,
        provider: q.text("provider")?,
        model: q.text("model")?,
        key: q.text("key")?,
        since,
        cursor: q.int("cursor", 1, i64::MAX)?,
    };
    Ok((f, u64::try_from(limit).unwrap_or(50)))
}

/// A usage row as the request log shows it.
pub(super) fn summary(r: &entities::usage::Model) -> serde_json::Map<String, Value> {
    let v = json!({
        "id": r.id, "ts": r.ts, "request_id": r.request_id, "key_name": r.key_name,
        "client_dialect": r.client_dialect, "provider": r.provider, "account": r.account, "model": r.model,
        "status": r.status, "error": r.error,
        "input_tokens": r.input_tokens, "output_tokens": r.output_tokens,
        "cache_read_tokens": r.cache_read_tokens, "cache_write_tokens": r.cache_write_tokens,
        "reasoning_tokens": r.reasoning_tokens, "total_tokens": r.total_tokens,
        "cost_usd": r.cost_usd, "list_cost_usd": r.list_cost_usd, "cost_source": r.cost_source,
        "latency_ms": r.latency_ms, "ttfb_ms": r.ttfb_ms, "streamed": r.streamed,
        "attempts": r.attempts, "path": r.path, "units": r.units, "unit": r.unit,
    });
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// `GET /api/requests`
pub(super) async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    let (f, limit) = match Query::parse(&req, QUERY).and_then(|q| filter(&q)) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    match requests::page(&state.db, &f, limit).await {
        Ok((rows, next)) => {
            let items: Vec<Value> = rows.iter().map(|r| Value::Object(summary(r))).collect();
            HttpResponse::Ok().json(json!({ "items": items, "next_cursor": next }))
        }
        Err(e) => db_fail(e),
    }
}

/// The attempts of a request: from its request log when one was kept, else rebuilt from the
/// row (a clean request had one attempt, on the provider and account that served it).
fn trace(row: &entities::usage::Model, log: Option<&entities::request_log::Model>) -> Vec<Value> {
    let logged: Option<Vec<Value>> = log
        .and_then(|l| serde_json::from_str::<Value>(&l.detail).ok())
        .and_then(|d| d.get("attempts").and_then(Value::as_array).cloned());
    if let Some(list) = logged {
        return list
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                json!({
                    "n": i + 1,
                    "provider": a.get("provider").cloned().unwrap_or(Value::Null),
                    "account": a.get("account").cloned().unwrap_or(Value::Null),
                    "outcome": a.get("outcome").cloned().unwrap_or(Value::Null),
                    "status": a.get("status").cloned().unwrap_or(Value::Null),
                    "ms": a.get("ms").cloned().unwrap_or(Value::Null),
                    "error": a.get("error").cloned().unwrap_or(Value::Null),
                })
            })
            .collect();
    }
    match (&row.provider, &row.account, row.attempts) {
        (Some(p), Some(a), 1..) => vec![json!({
            "n": 1, "provider": p, "account": a,
            // Only clean single-attempt requests go without a log: the attempt succeeded.
            "outcome": "success",
            "status": row.status, "ms": row.latency_ms, "error": row.error,
        })],
        _ => Vec::new(),
    }
}

/// `GET /api/requests/{id}`: `{id}` is the row id, or else the request id (`x-request-id`).
pub(super) async fn detail(req: HttpRequest, state: web::Data<AppState>, id: web::Path<String>) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    let id = id.into_inner();
    if id.is_empty() || id.len() > 128 {
        return fail(GatewayError::BadRequest("`id` must be a row id or a request id of at most 128 bytes".into()));
    }
    match requests::find(&state.db, &id).await {
        Ok(Some((row, log))) => {
            let mut out = summary(&row);
            let detail = log.as_ref().and_then(|l| serde_json::from_str::<Value>(&l.detail).ok());
            out.insert("method".into(), log.as_ref().map_or(Value::Null, |l| json!(l.method)));
            out.insert("path".into(), log.as_ref().map_or(Value::Null, |l| json!(l.path)));
            out.insert("detail_logged".into(), json!(detail.is_some()));
            // Transforms applied to the attempt that served (or last failed); a request without a
            // log had none (a transformed request always keeps one).
            let transforms = detail.as_ref().and_then(|d| d.get("transforms")).cloned().unwrap_or_else(|| json!([]));
            out.insert("transforms".into(), transforms);
            out.insert("trace".into(), Value::Array(trace(&row, log.as_ref())));
            HttpResponse::Ok().json(Value::Object(out))
        }
        Ok(None) => fail(GatewayError::NotFound(format!("no request `{}`", crate::routes::common::echo(&id, 64)))),
        Err(e) => db_fail(e),
    }
}
