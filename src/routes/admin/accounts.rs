//! `/api/accounts`: provider accounts with their live routing state; create, edit, delete, and a
//! connection test. A key is sealed the moment it arrives and never leaves again (a hint like
//! `sk-…a1b2` is shown). Accounts declared in the config file are read-only here (409).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use actors::account::messages::ResetAccount;
use actors::executor::Target;
use actors::router::messages::{AccountStatus, GetRoutingView};
use entities::account;
use sea_orm::ConnectionTrait;
use serde_json::{Map, Value, json};

use super::change::{AdminError, Who, admit, answer, apply, begin, object_body, overlay, parse, to_json};
use crate::config::{AccountEntry, Config, ProviderEntry};
use crate::protocol::Dialect;
use crate::providers::bedrock;
use crate::providers::call::{Operation, Outgoing, http_target};
use crate::providers::registry::DEMO_PROVIDER;
use crate::state::AppState;
use crate::store::config_sync::ACCOUNT_SECRET;
use crate::store::{self, SOURCE_CONFIG, audit, now_ms};

const EXPECTED: &str = "{\"provider\", \"name\", \"api_key\", \"base_url\"?, \"priority\"?, \"weight\"?, \"max_concurrent\"?, \"rpm\"?, \"tpm\"?, \"min_gap_ms\"?, \"enabled\"?, \"forward_org_headers\"?}";

/// A recognisable, unusable hint of a key: `sk-…a1b2` (less of a short key, nothing of a tiny one).
fn hint(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let tail = |n: usize| chars[chars.len().saturating_sub(n)..].iter().collect::<String>();
    match chars.len() {
        n if n >= 16 => format!("{}…{}", chars[..3].iter().collect::<String>(), tail(4)),
        n if n >= 8 => format!("…{}", tail(2)),
        _ => "…".into(),
    }
}

/// An account's settings as the API shows them (and the audit log records them): never the key.
fn account_json(state: &AppState, row: &account::Model) -> Value {
    let e = store::accounts::to_entry(row);
    let key_hint = row.secret.as_deref().map(|s| match state.sealer.open(ACCOUNT_SECRET, s) {
        Ok(k) => hint(&k),
        Err(_) => "(unreadable)".into(),
    });
    json!({
        "id": row.id, "provider": e.provider, "name": e.name, "base_url": e.base_url,
        "priority": e.priority, "weight": e.weight, "enabled": e.enabled, "max_concurrent": e.max_concurrent,
        "forward_org_headers": e.forward_org_headers, "rpm": e.rpm, "tpm": e.tpm, "min_gap_ms": e.min_gap_ms,
        "has_key": row.secret.is_some(), "key_hint": key_hint,
        "source": row.source, "created_at": row.created_at, "updated_at": row.updated_at,
    })
}

/// The routing state of an account the router does not serve (its provider is gone).
fn idle_state() -> Value {
    json!({
        "in_flight": 0, "leases": 0, "cooldown_until": 0, "backoff_level": 0, "reason": null,
        "model_locks": {}, "breaker": "closed", "breaker_open_until": 0, "last_used_at": 0, "routable": false,
        "paced_until": 0,
    })
}

/// Settings and live state in one object (the router's fields win for what both have).
fn merged(settings: Option<Value>, status: Option<&AccountStatus>) -> Value {
    let mut out = match settings {
        Some(Value::Object(m)) => m,
        Some(_) | None => Map::new(),
    };
    let live = match status {
        Some(s) => {
            let mut v = to_json(s);
            if let Some(o) = v.as_object_mut() {
                o.insert("routable".into(), json!(true));
            }
            v
        }
        None => idle_state(),
    };
    if let Value::Object(live) = live {
        out.extend(live);
    }
    out.entry("source").or_insert_with(|| json!("builtin"));
    Value::Object(out)
}

async fn routing_view(state: &AppState) -> Result<Vec<AccountStatus>, AdminError> {
    state.runtime.router.send(GetRoutingView).await.map_err(|_| AdminError::Apply("the router is not running".into()))
}

async fn list_inner(state: &AppState) -> Result<Value, AdminError> {
    let view = routing_view(state).await?;
    let mut rows: HashMap<i64, account::Model> =
        store::accounts::list(&state.db).await?.into_iter().map(|r| (r.id, r)).collect();
    let mut out: Vec<Value> = view
        .iter()
        .map(|s| {
            let settings = rows.remove(&s.id).map(|r| account_json(state, &r));
            merged(settings, Some(s))
        })
        .collect();
    let mut rest: Vec<account::Model> = rows.into_values().collect();
    rest.sort_by_key(|r| r.id);
    out.extend(rest.iter().map(|r| merged(Some(account_json(state, r)), None)));
    crate::oauth::api::annotate(state, &mut out).await;
    Ok(json!({ "now": now_ms(), "accounts": out }))
}

/// `GET /api/accounts`: every account with its settings (never its key), in-flight count,
/// cooldown and breaker state, and (`subscription`, `quota`) its sign-in and quota windows. A
/// viewer (who reads it for the overview) gets no key hints.
pub(super) async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let mut r = list_inner(&state).await;
    if who.auth.role() == crate::auth::Role::Viewer
        && let Ok(v) = &mut r
        && let Some(list) = v["accounts"].as_array_mut()
    {
        for a in list.iter_mut().filter_map(Value::as_object_mut) {
            a.remove("key_hint");
        }
    }
    answer(StatusCode::OK, r)
}

async fn get_inner(state: &AppState, id: i64) -> Result<Value, AdminError> {
    let view = routing_view(state).await?;
    let status = view.iter().find(|s| s.id == id);
    let mut one = match store::accounts::get(&state.db, id).await? {
        Some(row) => [merged(Some(account_json(state, &row)), status)],
        None if status.is_some() => [merged(None, status)],
        None => return Err(AdminError::NotFound(format!("no account {id}"))),
    };
    crate::oauth::api::annotate(state, &mut one).await;
    let [v] = one;
    Ok(v)
}

/// `GET /api/accounts/{id}`
pub(super) async fn get(req: HttpRequest, state: web::Data<AppState>, id: web::Path<i64>) -> HttpResponse {
    if let Err(r) = admit(&req, &state) {
        return *r;
    }
    answer(StatusCode::OK, get_inner(&state, *id).await)
}

/// The provider id an account names (a catalog alias becomes its id), checked to exist, with the
/// custom provider entry validation needs to know of it.
async fn provider_of(
    db: &impl ConnectionTrait,
    state: &AppState,
    provider: &str,
) -> Result<(String, Option<ProviderEntry>), AdminError> {
    if let Some(p) = state.runtime.catalog().get(provider) {
        return Ok((p.id.clone(), None));
    }
    if let Some(row) = store::providers::get(db, provider).await? {
        return Ok((row.id.clone(), Some(store::providers::to_entry(&row))));
    }
    if provider == DEMO_PROVIDER && state.runtime.registry().provider(DEMO_PROVIDER).is_some() {
        return Ok((provider.to_string(), None));
    }
    Err(AdminError::field(
        "provider",
        format!("unknown provider `{provider}` (not a custom provider nor in the built-in catalog)"),
    ))
}

/// Checks an account entry as the config file's `[[accounts]]` are checked.
fn validate(entry: &AccountEntry, custom: Option<ProviderEntry>, state: &AppState) -> Result<(), AdminError> {
    if let Some(k) = &entry.api_key
        && (k.is_empty() || k.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err(AdminError::field("api_key", "must be non-empty, without spaces (omit it for keyless providers)"));
    }
    let cfg = Config { providers: custom.into_iter().collect(), accounts: vec![entry.clone()], ..Config::default() };
    crate::config::validate(&cfg, state.runtime.catalog()).map_err(|e| AdminError::from_config(e, "accounts[0]"))
}

async fn create_inner(state: &AppState, who: &Who, body: Map<String, Value>) -> Result<Value, AdminError> {
    let mut entry: AccountEntry = parse(Value::Object(body))?;
    let tx = begin(state).await?;
    let (provider, custom) = provider_of(&tx, state, &entry.provider).await?;
    entry.provider = provider;
    validate(&entry, custom, state)?;
    if store::accounts::find(&tx, &entry.provider, &entry.name).await?.is_some() {
        return Err(AdminError::Conflict(format!(
            "provider `{}` has an account named `{}` already",
            entry.provider, entry.name
        )));
    }
    let sealed = entry.api_key.as_deref().map(|k| state.sealer.seal(ACCOUNT_SECRET, k));
    let row = store::accounts::insert(&tx, &entry, sealed).await?;
    let after = account_json(state, &row);
    audit::record(&tx, who.change("account", row.id.to_string(), "create", None, Some(after.clone()))).await?;
    tx.commit().await?;
    apply(state).await?;
    Ok(after)
}

/// `POST /api/accounts {provider, name, api_key, ...}` → 201 with the account (a key hint only).
pub(super) async fn create(req: HttpRequest, state: web::Data<AppState>, payload: web::Payload) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let body = match object_body(&req, payload, &state, EXPECTED).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    answer(StatusCode::CREATED, create_inner(&state, &who, body).await)
}

/// The row of an editable account, read inside the change's transaction.
async fn editable(db: &impl ConnectionTrait, id: i64) -> Result<account::Model, AdminError> {
    match store::accounts::get(db, id).await? {
        Some(row) if row.source == SOURCE_CONFIG => {
            Err(AdminError::config_owned(&format!("account {id} (`{}/{}`)", row.provider, row.name)))
        }
        Some(row) => Ok(row),
        None => Err(AdminError::NotFound(format!("no account {id}"))),
    }
}

async fn update_inner(state: &AppState, who: &Who, id: i64, patch: Map<String, Value>) -> Result<Value, AdminError> {
    let tx = begin(state).await?;
    let row = editable(&tx, id).await?;
    if patch.get("provider").is_some_and(|p| p.as_str() != Some(row.provider.as_str())) {
        return Err(AdminError::field("provider", "an account's provider cannot change; make a new account instead"));
    }
    let before = account_json(state, &row);
    let mut entry: AccountEntry = parse(overlay(to_json(&store::accounts::to_entry(&row)), &patch))?;
    let (provider, custom) = provider_of(&tx, state, &row.provider).await?;
    entry.provider = provider;
    validate(&entry, custom, state)?;
    if entry.name != row.name
        && let Some(other) = store::accounts::find(&tx, &row.provider, &entry.name).await?
        && other.id != id
    {
        return Err(AdminError::Conflict(format!(
            "provider `{}` has an account named `{}` already",
            row.provider, entry.name
        )));
    }
    // Absent: keep the key; `null`: remove it; a string: a new key, sealed at once.
    let secret = match patch.get("api_key") {
        None => None,
        Some(_) => Some(entry.api_key.as_deref().map(|k| state.sealer.seal(ACCOUNT_SECRET, k))),
    };
    let new_key = secret.is_some();
    let row = store::accounts::update(&tx, row, &entry, secret).await?;
    let after = account_json(state, &row);
    audit::record(&tx, who.change("account", id.to_string(), "update", Some(before), Some(after.clone()))).await?;
    tx.commit().await?;
    apply(state).await?;
    if new_key && let Some(actor) = state.runtime.account_actor(id) {
        // A cooldown the old key earned (a 401, a quota) says nothing about the new one.
        actor.do_send(ResetAccount);
    }
    Ok(after)
}

/// `PATCH /api/accounts/{id}`: any field but `provider` (`null` restores a default; `api_key`
/// absent keeps the key).
pub(super) async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    payload: web::Payload,
) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let patch = match object_body(&req, payload, &state, EXPECTED).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    answer(StatusCode::OK, update_inner(&state, &who, *id, patch).await)
}

async fn delete_inner(state: &AppState, who: &Who, id: i64) -> Result<Value, AdminError> {
    let tx = begin(state).await?;
    let row = editable(&tx, id).await?;
    let before = account_json(state, &row);
    store::accounts::delete(&tx, id).await?;
    audit::record(&tx, who.change("account", id.to_string(), "delete", Some(before), None)).await?;
    tx.commit().await?;
    apply(state).await?;
    Ok(json!({ "deleted": id }))
}

/// `DELETE /api/accounts/{id}`: requests in flight on it finish normally.
pub(super) async fn delete(req: HttpRequest, state: web::Data<AppState>, id: web::Path<i64>) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    answer(StatusCode::OK, delete_inner(&state, &who, *id).await)
}

async fn reset_inner(state: &AppState, who: &Who, id: i64) -> Result<Value, AdminError> {
    let Some(actor) = state.runtime.account_actor(id) else {
        return Err(AdminError::NotFound(format!("no account {id}")));
    };
    actor.do_send(ResetAccount);
    audit::record(&state.db, who.change("account", id.to_string(), "reset", None, None)).await?;
    Ok(json!({ "reset": id }))
}

/// `POST /api/accounts/{id}/reset`: clears an account's cooldown, backoff and model locks.
pub(super) async fn reset(req: HttpRequest, state: web::Data<AppState>, id: web::Path<i64>) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    answer(StatusCode::OK, reset_inner(&state, &who, *id).await)
}

/// The smallest generation request of a dialect.
fn probe_body(dialect: Dialect, model: &str) -> Value {
    match dialect {
        Dialect::OpenaiChat => {
            json!({"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1})
        }
        Dialect::OpenaiResponses => json!({"model": model, "input": "ping", "max_output_tokens": 16}),
        Dialect::Anthropic => {
            json!({"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1})
        }
        Dialect::Gemini => json!({"contents": [{"role": "user", "parts": [{"text": "ping"}]}],
            "generationConfig": {"maxOutputTokens": 1}}),
    }
}

/// What an upstream's error body says, briefly.
fn error_excerpt(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let said = v["error"]["message"].as_str().or_else(|| v["error"].as_str()).or_else(|| v["message"].as_str());
    let text = match said {
        Some(s) => s.to_string(),
        None => String::from_utf8_lossy(body).into_owned(),
    };
    text.chars().take(300).collect()
}

async fn test_inner(state: &AppState, id: i64, model: Option<String>) -> Result<Value, AdminError> {
    let reg = state.runtime.registry();
    let Some(account) = reg.account(id) else {
        return match store::accounts::get(&state.db, id).await? {
            Some(_) => Err(AdminError::Conflict(format!("account {id} is not served (its provider is unknown)"))),
            None => Err(AdminError::NotFound(format!("no account {id}"))),
        };
    };
    let Some(provider) = reg.provider(&account.provider) else {
        return Err(AdminError::Conflict(format!("account {id} is not served (its provider is unknown)")));
    };
    let Some(model) = model.or_else(|| provider.models.first().map(|m| m.id.clone())) else {
        return Err(AdminError::field("model", "the provider lists no models: name one to test with"));
    };
    // The demo provider answers in-process: there is no upstream to reach.
    if provider.local {
        return Ok(json!({"ok": true, "status": 200, "latency_ms": 0, "model": model}));
    }
    let body = bytes::Bytes::from(probe_body(provider.dialect, &model).to_string());
    let out = Outgoing { op: Operation::Generate, model: &model, stream: false, body, extra: Vec::new() };
    let target = http_target(provider, &account.base_url, account.credential.as_ref(), out);
    // A Bedrock account is asked in Converse, signed, as the pipeline would.
    let target = match provider.auth {
        crate::config::AuthStyle::AwsSigv4 => {
            let who = bedrock::Account {
                name: &account.name,
                base_url: &account.base_url,
                credential: account.credential.as_ref(),
            };
            match bedrock::converse_target(provider, who, &model, false, target) {
                Ok(t) => t,
                Err(e) => {
                    return Ok(
                        json!({"ok": false, "status": null, "latency_ms": 0, "model": model, "error": e.to_string()}),
                    );
                }
            }
        }
        _ => target,
    };
    let (url, headers, body) = match target {
        Target::Http { url, headers, body, .. } => (url, headers, body),
        Target::Local(_) | Target::Upload { .. } => {
            return Ok(json!({"ok": true, "status": 200, "latency_ms": 0, "model": model}));
        }
    };
    let live = state.runtime.live();
    let connect = Duration::from_millis(live.upstream.connect_timeout_ms);
    let total = Duration::from_millis(live.upstream.total_timeout_ms).min(Duration::from_secs(30));
    let client = awc::Client::builder()
        .connector(awc::Connector::new().timeout(connect))
        .timeout(total)
        .disable_redirects()
        .finish();
    let mut req = client.post(url.as_str());
    for (k, v) in &headers {
        req = req.insert_header((k.as_str(), v.as_str()));
    }
    let t0 = Instant::now();
    let secret = account.credential.as_ref().map(|c| c.expose().to_string()).unwrap_or_default();
    let redact = |s: &str| crate::redact::redact(s, &secret);
    let (status, error) = match req.send_body(body).await {
        Ok(mut resp) => {
            let status = resp.status().as_u16();
            let text = resp.body().limit(64 * 1024).await.unwrap_or_default();
            let error = (!resp.status().is_success()).then(|| redact(&error_excerpt(&text)));
            (Some(status), error)
        }
        Err(e) => (None, Some(redact(&format!("the upstream could not be reached: {e}")))),
    };
    let latency_ms = u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX);
    let ok = error.is_none();
    let mut v = json!({"ok": ok, "status": status, "latency_ms": latency_ms, "model": model});
    if let (Some(o), Some(e)) = (v.as_object_mut(), error) {
        o.insert("error".into(), json!(e));
    }
    Ok(v)
}

/// `POST /api/accounts/{id}/test {"model"?}`: one minimal real request upstream (a one-token
/// answer of `model`, default the provider's first model) → `{ok, status, latency_ms, error?}`,
/// the error redacted of the key. The account's health is not touched.
pub(super) async fn test(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    payload: web::Payload,
) -> HttpResponse {
    if let Err(r) = admit(&req, &state) {
        return *r;
    }
    let raw = match crate::routes::common::read_body_limited(&req, payload, &state, 64 * 1024).await {
        Ok(b) => b,
        Err(e) => return super::fail(e),
    };
    let model = if raw.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Probe {
            model: Option<String>,
        }
        let v: Value = match serde_json::from_slice(&raw) {
            Ok(v) => v,
            Err(e) => return AdminError::field("(body)", format!("expected JSON {{\"model\"?}}: {e}")).response(),
        };
        match parse::<Probe>(v) {
            Ok(p) => p.model,
            Err(e) => return e.response(),
        }
    };
    answer(StatusCode::OK, test_inner(&state, *id, model).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_reveal_little() {
        assert_eq!(hint("sk-proj-abcdefghijklmnopa1b2"), "sk-…a1b2");
        assert_eq!(hint("upstream-k"), "…-k");
        assert_eq!(hint("ka"), "…");
    }
}
