//! `/api/aliases`: model aliases (`*` and `?` wildcards; a target `provider/*` keeps the asked-for
//! model name). Aliases of the config file are read-only here (409).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use entities::model_alias;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::change::{AdminError, Who, admit, answer, apply, begin, object_body, parse};
use crate::config::{AliasEntry, Config};
use crate::state::AppState;
use crate::store::{self, SOURCE_CONFIG, audit};

const EXPECTED: &str = "{\"alias\", \"target\": \"provider/model\"}";

fn alias_json(row: &model_alias::Model) -> Value {
    json!({ "alias": row.alias, "target": row.target, "source": row.source, "created_at": row.created_at })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AliasBody {
    alias: String,
    target: String,
}

/// Checks an alias as the config file's `[[aliases]]` are checked, and that its target names a
/// provider the gateway knows (an alias to nowhere would only fail later, at request time).
fn validate(body: &AliasBody, state: &AppState) -> Result<(), AdminError> {
    if body.alias.trim().is_empty() || body.alias.chars().any(char::is_control) {
        return Err(AdminError::field("alias", "must be non-empty (wildcards `*` and `?` allowed)"));
    }
    let reg = state.runtime.registry();
    match body.target.split_once('/') {
        Some((p, m)) if !m.is_empty() && reg.provider(p).is_some() => {}
        Some((p, m)) if !m.is_empty() => {
            return Err(AdminError::field("target", format!("unknown provider `{p}` (use provider/model)")));
        }
        Some(_) | None => return Err(AdminError::field("target", "must be `provider/model` (or `provider/*`)")),
    }
    let entry = AliasEntry { alias: body.alias.clone(), target: body.target.clone() };
    let cfg = Config { aliases: vec![entry], ..Config::default() };
    crate::config::validate(&cfg, state.runtime.catalog()).map_err(|e| AdminError::from_config(e, "aliases[0]"))
}

/// `GET /api/aliases`
pub(super) async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = admit(&req, &state) {
        return *r;
    }
    let r = store::aliases::list(&state.db).await.map_err(AdminError::from);
    answer(StatusCode::OK, r.map(|all| Value::Array(all.iter().map(alias_json).collect())))
}

async fn create_inner(state: &AppState, who: &Who, body: Map<String, Value>) -> Result<Value, AdminError> {
    let body: AliasBody = parse(Value::Object(body))?;
    validate(&body, state)?;
    let tx = begin(state).await?;
    if let Some(row) = store::aliases::get(&tx, &body.alias).await? {
        return Err(AdminError::Conflict(format!("an alias `{}` exists already (→ `{}`)", row.alias, row.target)));
    }
    let row = store::aliases::insert(&tx, &body.alias, &body.target).await?;
    let after = alias_json(&row);
    audit::record(&tx, who.change("alias", &row.alias, "create", None, Some(after.clone()))).await?;
    tx.commit().await?;
    apply(state).await?;
    Ok(after)
}

/// `POST /api/aliases {alias, target}` → 201.
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

async fn delete_inner(state: &AppState, who: &Who, alias: &str) -> Result<Value, AdminError> {
    let tx = begin(state).await?;
    let row = match store::aliases::get(&tx, alias).await? {
        Some(row) if row.source == SOURCE_CONFIG => return Err(AdminError::config_owned(&format!("alias `{alias}`"))),
        Some(row) => row,
        None => return Err(AdminError::NotFound(format!("no alias `{alias}`"))),
    };
    store::aliases::delete(&tx, alias).await?;
    audit::record(&tx, who.change("alias", alias, "delete", Some(alias_json(&row)), None)).await?;
    tx.commit().await?;
    apply(state).await?;
    Ok(json!({ "deleted": alias }))
}

/// `DELETE /api/aliases/{alias}`
pub(super) async fn delete(req: HttpRequest, state: web::Data<AppState>, alias: web::Path<String>) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    answer(StatusCode::OK, delete_inner(&state, &who, &alias).await)
}
