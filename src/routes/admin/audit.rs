//! `GET /api/audit`: the audit log of admin changes, newest first, a page at a time.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::change::{AdminError, admit, answer};
use crate::state::AppState;
use crate::store::audit;

/// `?limit=&cursor=`
#[derive(Debug, Deserialize)]
pub(super) struct AuditQuery {
    limit: Option<u64>,
    cursor: Option<i64>,
}

fn parsed(text: Option<String>) -> Value {
    text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null)
}

/// `GET /api/audit?limit=N&cursor=C`: up to N rows (default 50, at most 500) older than the
/// cursor, and `next_cursor` for the page after (`null` at the end).
pub(super) async fn list(req: HttpRequest, state: web::Data<AppState>, q: web::Query<AuditQuery>) -> HttpResponse {
    if let Err(r) = admit(&req, &state) {
        return *r;
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let r = match audit::page(&state.db, limit + 1, q.cursor).await {
        Ok(mut rows) => {
            let more = rows.len() as u64 > limit;
            rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            let next = if more { rows.last().map(|r| r.id) } else { None };
            let items: Vec<Value> = rows
                .into_iter()
                .map(|r| {
                    json!({
                        "id": r.id, "ts": r.ts, "actor": r.actor, "ip": r.ip, "resource": r.resource,
                        "resource_id": r.resource_id, "action": r.action,
                        "before": parsed(r.before), "after": parsed(r.after),
                    })
                })
                .collect();
            Ok(json!({ "items": items, "next_cursor": next }))
        }
        Err(e) => Err(AdminError::from(e)),
    };
    answer(StatusCode::OK, r)
}
