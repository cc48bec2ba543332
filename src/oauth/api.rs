//! What the admin API shows of subscription accounts and quota windows: the sign-in's status,
//! reason and expiry, the refresher's phase, the plan and e-mail the provider named, and every
//! account's windows with the routing view they make. Never a token.

use entities::{account, oauth_session};
use serde_json::{Value, json};

use super::Kind;
use crate::state::AppState;

/// The provider facts safe to show (never a token; account ids and projects are not secrets).
const SHOWN: [&str; 6] = ["email", "login", "plan", "organization", "project", "rate_limit_tier"];

/// An account's subscription view, from its session row and its refresher.
pub async fn subscription(state: &AppState, row: &account::Model, session: Option<&oauth_session::Model>) -> Value {
    let Some(kind) = Kind::parse(&row.provider) else { return Value::Null };
    let Some(s) = session else {
        return json!({"provider": kind.id(), "flow": kind.flow(), "status": "not_signed_in"});
    };
    let mut out = json!({
        "provider": kind.id(),
        "flow": kind.flow(),
        "status": s.status,
        "reason": s.reason,
        "expires_at": s.expires_at,
        "refreshed_at": s.refreshed_at,
        "endpoints_overridden": s.endpoints != "{}",
        "seeded_from_config": s.seed_digest.is_some(),
    });
    let hub = &state.runtime.oauth;
    if let Some(acct) = hub.oauth(row.id) {
        let t = acct.cell.get();
        let facts: serde_json::Map<String, Value> =
            SHOWN.iter().filter_map(|k| t.extra.get(*k).map(|v| ((*k).to_string(), v.clone()))).collect();
        out["facts"] = Value::Object(facts);
        if let Some(r) = hub.session_status(row.id).await {
            out["status"] = json!(r.status);
            out["refresher"] = json!({
                "phase": r.phase, "due_at": r.due_at, "retry_at": r.retry_at,
                "last_refresh_at": r.last_refresh_at, "last_error": r.last_error,
            });
            if r.status != actors::refresher::SessionStatus::Ok {
                out["reason"] = json!(r.last_error.or(s.reason.clone()));
            }
        }
    }
    out
}

/// An account's quota windows and routing view (`null` when it has no tracker).
pub async fn quota(state: &AppState, account_id: i64) -> Value {
    match state.runtime.oauth.quota(account_id).await {
        Some(q) => json!({"windows": q.windows, "view": q.view}),
        None => Value::Null,
    }
}

/// Adds `subscription` and `quota` to each account object of an `/api/accounts` answer (by its
/// `id`).
pub async fn annotate(state: &AppState, accounts: &mut [Value]) {
    let rows = crate::store::accounts::list(&state.db).await.unwrap_or_default();
    let sessions = super::store::rows(&state.db).await.unwrap_or_default();
    for a in accounts.iter_mut() {
        let Some(id) = a.get("id").and_then(Value::as_i64) else { continue };
        let sub = match rows.iter().find(|r| r.id == id) {
            Some(row) => subscription(state, row, sessions.iter().find(|s| s.account_id == id)).await,
            None => Value::Null,
        };
        let q = quota(state, id).await;
        if let Some(o) = a.as_object_mut() {
            o.insert("subscription".into(), sub);
            o.insert("quota".into(), q);
        }
    }
}
