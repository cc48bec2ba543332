//! `/api/combos`: named fallback lists usable as a model name. Targets are `provider/model`, alias
//! or other combo strings, or `{model, weight}`; their order is the priority order, the weight a
//! target's share when the combo's strategy is `random` or `weighted`. Nesting is checked against
//! every stored combo (depth at most 3, no cycles). Combos of the config file are read-only here.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::change::{AdminError, Who, admit, answer, apply, begin, object_body, parse, to_json};
use crate::config::{ComboEntry, ComboOptions, ComboStrategy, ComboTarget, Config, WeightedTarget};
use crate::state::AppState;
use crate::store::combos::{ComboRows, TargetRow};
use crate::store::{self, SOURCE_CONFIG, audit};

const EXPECTED: &str =
    "{\"name\", \"strategy\"?, \"resume\"?, \"models\": [\"provider/model\" | {\"model\", \"weight\"}]}";

fn one() -> u32 {
    1
}

/// One target as the API takes and shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum TargetSpec {
    /// Just the model (weight 1).
    Model(String),
    /// The model with its weight.
    Weighted {
        /// `provider/model` or an alias.
        model: String,
        /// Share in a random order (at least 1).
        #[serde(default = "one")]
        weight: u32,
    },
}

/// A combo as the API takes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComboBody {
    name: String,
    #[serde(default)]
    strategy: ComboStrategy,
    models: Vec<TargetSpec>,
    #[serde(default)]
    resume: bool,
}

impl ComboBody {
    fn options(&self) -> ComboOptions {
        ComboOptions { resume: self.resume }
    }
}

fn combo_json((row, targets): &ComboRows) -> Value {
    let models: Vec<TargetSpec> = targets
        .iter()
        .map(|t| match t.weight {
            1 => TargetSpec::Model(t.model.clone()),
            w => TargetSpec::Weighted { model: t.model.clone(), weight: w },
        })
        .collect();
    json!({
        "name": row.name, "strategy": row.strategy, "models": to_json(&models),
        "resume": ComboOptions::from_json(&row.options).resume, "enabled": row.enabled,
        "source": row.source, "created_at": row.created_at, "updated_at": row.updated_at,
    })
}

/// Checks a combo as the config file's `[[combos]]` are checked, plus each target and weight.
fn validate(body: &ComboBody, state: &AppState) -> Result<Vec<TargetRow>, AdminError> {
    let mut targets = Vec::with_capacity(body.models.len());
    for (i, t) in body.models.iter().enumerate() {
        let (model, weight) = match t {
            TargetSpec::Model(m) => (m.trim(), 1),
            TargetSpec::Weighted { model, weight } => (model.trim(), *weight),
        };
        if model.is_empty() {
            return Err(AdminError::field(format!("models[{i}]"), "a target is a non-empty `provider/model` or alias"));
        }
        if weight == 0 {
            return Err(AdminError::field(format!("models[{i}].weight"), "must be at least 1"));
        }
        targets.push(TargetRow { model: model.to_string(), weight });
    }
    let entry = ComboEntry {
        name: body.name.clone(),
        models: targets
            .iter()
            .map(|t| ComboTarget::Weighted(WeightedTarget { model: t.model.clone(), weight: t.weight }))
            .collect(),
        strategy: body.strategy,
        resume: body.resume,
    };
    let cfg = Config { combos: vec![entry], ..Config::default() };
    crate::config::validate(&cfg, state.runtime.catalog()).map_err(|e| AdminError::from_config(e, "combos[0]"))?;
    Ok(targets)
}

/// Refuses a combo that would nest too deep or close a cycle with the stored combos (it takes
/// the place of its stored namesake).
async fn check_nesting(
    db: &impl sea_orm::ConnectionTrait,
    name: &str,
    targets: &[TargetRow],
) -> Result<(), AdminError> {
    let stored = store::combos::list(db).await?;
    let mut graph: std::collections::HashMap<&str, Vec<&str>> = stored
        .iter()
        .filter(|(row, _)| row.name != name)
        .map(|(row, t)| (row.name.as_str(), t.iter().map(|t| t.model.as_str()).collect()))
        .collect();
    graph.insert(name, targets.iter().map(|t| t.model.as_str()).collect());
    crate::config::nesting::check(&graph).map_err(|e| AdminError::field("models", e.message))
}

/// `GET /api/combos`
pub(super) async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = admit(&req, &state) {
        return *r;
    }
    let r = store::combos::list(&state.db).await.map_err(AdminError::from);
    answer(StatusCode::OK, r.map(|all| Value::Array(all.iter().map(combo_json).collect())))
}

/// `GET /api/combos/{name}`
pub(super) async fn get(req: HttpRequest, state: web::Data<AppState>, name: web::Path<String>) -> HttpResponse {
    if let Err(r) = admit(&req, &state) {
        return *r;
    }
    let r = match store::combos::get(&state.db, &name).await {
        Ok(Some(c)) => Ok(combo_json(&c)),
        Ok(None) => Err(AdminError::NotFound(format!("no combo `{name}`"))),
        Err(e) => Err(e.into()),
    };
    answer(StatusCode::OK, r)
}

async fn create_inner(state: &AppState, who: &Who, body: Map<String, Value>) -> Result<Value, AdminError> {
    let body: ComboBody = parse(Value::Object(body))?;
    let targets = validate(&body, state)?;
    let tx = begin(state).await?;
    if store::combos::get(&tx, &body.name).await?.is_some() {
        return Err(AdminError::Conflict(format!("a combo `{}` exists already", body.name)));
    }
    check_nesting(&tx, &body.name, &targets).await?;
    let row = store::combos::insert(&tx, &body.name, body.strategy, &body.options(), &targets).await?;
    let after = combo_json(&(row, targets));
    audit::record(&tx, who.change("combo", &body.name, "create", None, Some(after.clone()))).await?;
    tx.commit().await?;
    apply(state).await?;
    Ok(after)
}

/// `POST /api/combos {name, strategy?, resume?, models}` → 201.
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

async fn editable(db: &impl sea_orm::ConnectionTrait, name: &str) -> Result<ComboRows, AdminError> {
    match store::combos::get(db, name).await? {
        Some((row, _)) if row.source == SOURCE_CONFIG => Err(AdminError::config_owned(&format!("combo `{name}`"))),
        Some(c) => Ok(c),
        None => Err(AdminError::NotFound(format!("no combo `{name}`"))),
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
            return Err(AdminError::field("name", "a combo's name cannot change; make a new combo instead"));
        }
        Some(_) => {}
        None => {
            body.insert("name".into(), json!(name));
        }
    }
    let body: ComboBody = parse(Value::Object(body))?;
    let targets = validate(&body, state)?;
    let tx = begin(state).await?;
    let current = editable(&tx, name).await?;
    let before = combo_json(&current);
    check_nesting(&tx, name, &targets).await?;
    let row = store::combos::replace(&tx, current.0, body.strategy, &body.options(), &targets).await?;
    let after = combo_json(&(row, targets));
    audit::record(&tx, who.change("combo", name, "update", Some(before), Some(after.clone()))).await?;
    tx.commit().await?;
    apply(state).await?;
    Ok(after)
}

/// `PUT /api/combos/{name} {strategy?, resume?, models}`: replaces the combo's strategy, options
/// and targets.
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
    let current = editable(&tx, name).await?;
    let before = combo_json(&current);
    store::combos::delete(&tx, current.0.id).await?;
    audit::record(&tx, who.change("combo", name, "delete", Some(before), None)).await?;
    tx.commit().await?;
    apply(state).await?;
    Ok(json!({ "deleted": name }))
}

/// `DELETE /api/combos/{name}`
pub(super) async fn delete(req: HttpRequest, state: web::Data<AppState>, name: web::Path<String>) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    answer(StatusCode::OK, delete_inner(&state, &who, &name).await)
}
