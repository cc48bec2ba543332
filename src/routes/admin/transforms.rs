//! `/api/transforms`: request transforms, checked as the config file's `[[transforms]]` are and
//! applied from the next request on (every match, in position order). Transforms of the config
//! file are listed but read-only here (409).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use entities::transform;
use serde_json::{Map, Value, json};

use super::change::{AdminError, Who, admit, answer, apply, begin, object_body, parse, to_json};
use crate::config::Config;
use crate::config::transform::TransformEntry;
use crate::state::AppState;
use crate::store::{self, SOURCE_CONFIG, audit};

const EXPECTED: &str = "{\"name\", \"provider\"?, \"model\"?, \"combo\"?, \"set\"?, \"remove\"?, \"headers\"?, \
                        \"remove_headers\"?, \"system\"?, \"system_mode\"?, \"max_tokens\"?, \"position\"?}";

/// A row as the API shows it: the transform's fields, its position and where it comes from.
fn transform_json(row: &transform::Model) -> Value {
    let mut out = match store::transforms::entry_of(row).map(|t| to_json(&t)) {
        Some(Value::Object(m)) => m,
        Some(_) | None => Map::from_iter([("name".to_string(), json!(row.name))]),
    };
    out.insert("position".into(), json!(row.position));
    out.insert("source".into(), json!(row.source));
    out.insert("created_at".into(), json!(row.created_at));
    out.insert("updated_at".into(), json!(row.updated_at));
    Value::Object(out)
}

/// Splits `position` off a body and reads the rest as a transform (unknown fields refused).
fn read(mut body: Map<String, Value>) -> Result<(TransformEntry, Option<i64>), AdminError> {
    let position = match body.remove("position") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(p) if p >= 0 => Some(p),
            Some(_) | None => return Err(AdminError::field("position", "must be a whole number, 0 or more")),
        },
    };
    Ok((parse(Value::Object(body))?, position))
}

/// Checks a transform as the config file's are, and that what it names exists: a provider the
/// registry knows (by id, as requests are matched), and a `combo` the gateway would route (a
/// combo, an alias or a model): a transform naming nothing would silently never apply.
fn validate(t: &TransformEntry, state: &AppState) -> Result<(), AdminError> {
    let cfg = Config { transforms: vec![t.clone()], ..Config::default() };
    crate::config::validate(&cfg, state.runtime.catalog()).map_err(|e| AdminError::from_config(e, "transforms[0]"))?;
    let reg = state.runtime.registry();
    if let Some(p) = &t.provider {
        match reg.provider(p) {
            Some(info) if info.id == *p => {}
            Some(info) => {
                return Err(AdminError::field(
                    "provider",
                    format!("`{p}` is an alias: use the provider id `{}`", info.id),
                ));
            }
            None => return Err(AdminError::field("provider", format!("unknown provider `{p}`"))),
        }
    }
    if let Some(c) = &t.combo
        && let Err(e) = crate::pipeline::resolve::resolve(&reg, c, None)
    {
        return Err(AdminError::field(
            "combo",
            format!("`{c}` is not a combo, alias or model the gateway routes: {e}"),
        ));
    }
    Ok(())
}

/// `GET /api/transforms`: every transform in application order.
pub(super) async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = admit(&req, &state) {
        return *r;
    }
    let r = store::transforms::list(&state.db).await.map_err(AdminError::from);
    answer(StatusCode::OK, r.map(|all| Value::Array(all.iter().map(transform_json).collect())))
}

async fn create_inner(state: &AppState, who: &Who, body: Map<String, Value>) -> Result<Value, AdminError> {
    let (t, position) = read(body)?;
    validate(&t, state)?;
    let tx = begin(state).await?;
    if let Some(row) = store::transforms::get(&tx, &t.name).await? {
        return Err(AdminError::Conflict(format!("a transform `{}` exists already ({})", row.name, row.source)));
    }
    let position = match position {
        Some(p) => p,
        None => store::transforms::list(&tx).await?.iter().map(|r| r.position.saturating_add(1)).max().unwrap_or(0),
    };
    let row = store::transforms::insert(&tx, &t, position).await?;
    let after = transform_json(&row);
    audit::record(&tx, who.change("transform", &row.name, "create", None, Some(after.clone()))).await?;
    tx.commit().await?;
    apply(state).await?;
    Ok(after)
}

/// `POST /api/transforms {name, …, position?}` → 201 (after the last one without `position`).
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

/// The row of an API-made transform, or the 404 / 409 that refuses the change.
async fn editable(db: &impl sea_orm::ConnectionTrait, name: &str) -> Result<transform::Model, AdminError> {
    match store::transforms::get(db, name).await? {
        Some(row) if row.source == SOURCE_CONFIG => Err(AdminError::config_owned(&format!("transform `{name}`"))),
        Some(row) => Ok(row),
        None => Err(AdminError::NotFound(format!("no transform `{name}`"))),
    }
}

async fn replace_inner(
    state: &AppState,
    who: &Who,
    name: &str,
    mut body: Map<String, Value>,
) -> Result<Value, AdminError> {
    match body.get("name") {
        Some(n) if n.as_str() != Some(name) => {
            return Err(AdminError::field("name", "a transform's name cannot change; make a new transform instead"));
        }
        Some(_) => {}
        None => {
            body.insert("name".into(), json!(name));
        }
    }
    let (t, position) = read(body)?;
    validate(&t, state)?;
    let tx = begin(state).await?;
    let current = editable(&tx, name).await?;
    let before = transform_json(&current);
    let position = position.unwrap_or(current.position);
    let row = store::transforms::update(&tx, current, &t, position).await?;
    let after = transform_json(&row);
    audit::record(&tx, who.change("transform", name, "update", Some(before), Some(after.clone()))).await?;
    tx.commit().await?;
    apply(state).await?;
    Ok(after)
}

/// `PUT /api/transforms/{name} {…, position?}`: replaces an API-made transform (its position
/// stays unless given).
pub(super) async fn replace(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let body = match object_body(&req, payload, &state, EXPECTED).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    answer(StatusCode::OK, replace_inner(&state, &who, &name, body).await)
}

async fn delete_inner(state: &AppState, who: &Who, name: &str) -> Result<Value, AdminError> {
    let tx = begin(state).await?;
    let row = editable(&tx, name).await?;
    store::transforms::delete(&tx, name).await?;
    audit::record(&tx, who.change("transform", name, "delete", Some(transform_json(&row)), None)).await?;
    tx.commit().await?;
    apply(state).await?;
    Ok(json!({ "deleted": name }))
}

/// `DELETE /api/transforms/{name}`
pub(super) async fn delete(req: HttpRequest, state: web::Data<AppState>, name: web::Path<String>) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    answer(StatusCode::OK, delete_inner(&state, &who, &name).await)
}
