//! `/api/providers`: the built-in catalog (read-only) and custom providers. Custom providers made
//! here are `source = "api"`; those declared in the config file are read-only here (409).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use actors::breaker::messages::ResetBreaker;
use entities::provider;
use serde_json::{Map, Value, json};

use super::change::{AdminError, Who, admit, answer, apply, begin, object_body, overlay, parse, to_json};
use crate::config::{Config, ModelSpec, ProviderEntry};
use crate::providers::CatalogProvider;
use crate::providers::registry::DEMO_PROVIDER;
use crate::state::AppState;
use crate::store::{self, SOURCE_CONFIG, audit};

const EXPECTED: &str = "{\"id\", \"dialect\", \"base_url\", \"models\", \"auth\"?, \"strategy\"?, \"rpm\"?, \"tpm\"?, \"min_gap_ms\"?, \"max_concurrent\"?}";

fn builtin_json(p: &CatalogProvider, accounts: usize) -> Value {
    let models: Vec<ModelSpec> = p
        .models
        .iter()
        .map(|m| {
            let units = m.per_image.is_some() || m.per_second.is_some() || m.per_character.is_some();
            match (m.max_output, m.context, m.price.is_empty(), units) {
                (None, None, true, false) => ModelSpec::Id(m.id.clone()),
                (max_output, context, _, _) => ModelSpec::Full {
                    id: m.id.clone(),
                    max_output,
                    context,
                    price: m.price.clone(),
                    per_image: m.per_image,
                    per_second: m.per_second,
                    per_character: m.per_character,
                },
            }
        })
        .collect();
    json!({
        "id": p.id, "alias": p.alias, "dialect": p.dialect.as_str(), "base_url": p.base_url,
        "auth": p.auth.as_str(), "models": to_json(&models), "strategy": null,
        "builtin": true, "source": "builtin", "accounts": accounts,
    })
}

/// A custom provider as the API shows it (and the audit log records it).
fn custom_json(row: &provider::Model) -> Value {
    let e = store::providers::to_entry(row);
    json!({
        "id": e.id, "alias": null, "dialect": e.dialect.as_str(), "base_url": e.base_url,
        "auth": e.auth.map(|a| a.as_str()), "models": to_json(&e.models), "strategy": e.strategy.map(|s| s.as_str()),
        "builtin": false, "source": row.source, "created_at": row.created_at, "updated_at": row.updated_at,
    })
}

fn with_accounts(mut v: Value, n: usize) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.insert("accounts".into(), json!(n));
    }
    v
}

fn is_builtin(state: &AppState, id: &str) -> bool {
    state.runtime.catalog().get(id).is_some() || id == DEMO_PROVIDER
}

fn read_only_builtin(id: &str) -> AdminError {
    AdminError::Conflict(format!("`{id}` is a built-in provider and cannot be changed; add accounts for it instead"))
}

fn validate(entry: &ProviderEntry, state: &AppState) -> Result<(), AdminError> {
    let cfg = Config { providers: vec![entry.clone()], ..Config::default() };
    crate::config::validate(&cfg, state.runtime.catalog()).map_err(|e| AdminError::from_config(e, "providers[0]"))
}

async fn accounts_of(state: &AppState) -> Result<std::collections::HashMap<String, usize>, AdminError> {
    let mut n = std::collections::HashMap::new();
    for a in store::accounts::list(&state.db).await? {
        *n.entry(a.provider).or_insert(0) += 1;
    }
    Ok(n)
}

async fn list_inner(state: &AppState) -> Result<Value, AdminError> {
    let counts = accounts_of(state).await?;
    let count = |id: &str| counts.get(id).copied().unwrap_or(0);
    let mut out: Vec<Value> =
        store::providers::list(&state.db).await?.iter().map(|r| with_accounts(custom_json(r), count(&r.id))).collect();
    out.extend(state.runtime.catalog().providers().iter().map(|p| builtin_json(p, count(&p.id))));
    if let Some(demo) = state.runtime.registry().provider(DEMO_PROVIDER) {
        out.push(json!({
            "id": demo.id, "alias": null, "dialect": demo.dialect.as_str(), "base_url": demo.base_url,
            "auth": demo.auth.as_str(), "models": demo.models.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
            "strategy": null, "builtin": true, "source": "builtin", "accounts": 1,
        }));
    }
    Ok(Value::Array(out))
}

/// `GET /api/providers`: custom providers, then the built-in catalog (`"builtin": true`).
pub(super) async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = admit(&req, &state) {
        return *r;
    }
    answer(StatusCode::OK, list_inner(&state).await)
}

async fn get_inner(state: &AppState, id: &str) -> Result<Value, AdminError> {
    let counts = accounts_of(state).await?;
    let n = counts.get(id).copied().unwrap_or(0);
    if let Some(row) = store::providers::get(&state.db, id).await? {
        return Ok(with_accounts(custom_json(&row), n));
    }
    if let Some(p) = state.runtime.catalog().get(id) {
        return Ok(builtin_json(p, counts.get(&p.id).copied().unwrap_or(0)));
    }
    Err(AdminError::NotFound(format!("no provider `{id}`")))
}

/// `GET /api/providers/{id}`
pub(super) async fn get(req: HttpRequest, state: web::Data<AppState>, id: web::Path<String>) -> HttpResponse {
    if let Err(r) = admit(&req, &state) {
        return *r;
    }
    answer(StatusCode::OK, get_inner(&state, &id).await)
}

async fn create_inner(state: &AppState, who: &Who, body: Map<String, Value>) -> Result<Value, AdminError> {
    let entry: ProviderEntry = parse(Value::Object(body))?;
    if is_builtin(state, &entry.id) {
        return Err(AdminError::Conflict(format!(
            "`{}` is a built-in provider: it exists already (add accounts for it instead)",
            entry.id
        )));
    }
    validate(&entry, state)?;
    let tx = begin(state).await?;
    if store::providers::get(&tx, &entry.id).await?.is_some() {
        return Err(AdminError::Conflict(format!("a provider `{}` exists already", entry.id)));
    }
    let row = store::providers::insert(&tx, &entry).await?;
    let after = custom_json(&row);
    audit::record(&tx, who.change("provider", &row.id, "create", None, Some(after.clone()))).await?;
    tx.commit().await?;
    apply(state).await?;
    Ok(with_accounts(after, 0))
}

/// `POST /api/providers {id, dialect, base_url, models, auth?, strategy?}` → 201.
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

/// The row of an editable custom provider, read inside the change's transaction.
async fn editable(
    db: &impl sea_orm::ConnectionTrait,
    state: &AppState,
    id: &str,
) -> Result<provider::Model, AdminError> {
    match store::providers::get(db, id).await? {
        Some(row) if row.source == SOURCE_CONFIG => Err(AdminError::config_owned(&format!("provider `{id}`"))),
        Some(row) => Ok(row),
        None if is_builtin(state, id) => Err(read_only_builtin(id)),
        None => Err(AdminError::NotFound(format!("no provider `{id}`"))),
    }
}

async fn update_inner(state: &AppState, who: &Who, id: &str, patch: Map<String, Value>) -> Result<Value, AdminError> {
    if patch.get("id").is_some_and(|v| v.as_str() != Some(id)) {
        return Err(AdminError::field("id", "a provider's id cannot change; make a new provider instead"));
    }
    let tx = begin(state).await?;
    let row = editable(&tx, state, id).await?;
    let before = custom_json(&row);
    let entry: ProviderEntry = parse(overlay(to_json(&store::providers::to_entry(&row)), &patch))?;
    validate(&entry, state)?;
    let row = store::providers::update(&tx, row, &entry).await?;
    let after = custom_json(&row);
    audit::record(&tx, who.change("provider", id, "update", Some(before), Some(after.clone()))).await?;
    tx.commit().await?;
    apply(state).await?;
    Ok(after)
}

/// `PATCH /api/providers/{id}`: any of `dialect`, `base_url`, `models`, `auth`, `strategy`
/// (`null` restores a default).
pub(super) async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
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
    answer(StatusCode::OK, update_inner(&state, &who, &id, patch).await)
}

async fn delete_inner(state: &AppState, who: &Who, id: &str) -> Result<Value, AdminError> {
    let tx = begin(state).await?;
    let row = editable(&tx, state, id).await?;
    let accounts = store::accounts::of_provider(&tx, id).await?;
    if !accounts.is_empty() {
        let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
        return Err(AdminError::Conflict(format!(
            "provider `{id}` still has accounts ({}): delete them first",
            names.join(", ")
        )));
    }
    let before = custom_json(&row);
    store::providers::delete(&tx, id).await?;
    audit::record(&tx, who.change("provider", id, "delete", Some(before), None)).await?;
    tx.commit().await?;
    apply(state).await?;
    Ok(json!({ "deleted": id }))
}

/// `DELETE /api/providers/{id}`: only a provider without accounts.
pub(super) async fn delete(req: HttpRequest, state: web::Data<AppState>, id: web::Path<String>) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    answer(StatusCode::OK, delete_inner(&state, &who, &id).await)
}

async fn reset_breaker_inner(state: &AppState, who: &Who, id: &str) -> Result<Value, AdminError> {
    let Some(breaker) = state.runtime.breaker_actor(id) else {
        return Err(AdminError::NotFound(format!("no breaker for provider `{id}`")));
    };
    breaker.do_send(ResetBreaker);
    audit::record(&state.db, who.change("breaker", id, "reset", None, None)).await?;
    Ok(json!({ "reset": id }))
}

/// `POST /api/providers/{id}/reset-breaker`: closes a provider's breaker.
pub(super) async fn reset_breaker(req: HttpRequest, state: web::Data<AppState>, id: web::Path<String>) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    answer(StatusCode::OK, reset_breaker_inner(&state, &who, &id).await)
}
