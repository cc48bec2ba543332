//! `/api/keys`: list (with each budget's spend in its period), create (the key is shown once),
//! edit (models, enabled, limits), revoke. A revoked
//! key's name can be used again: the new key takes the row, and the old key stays dead. Keys of
//! the config file cannot be edited here (409), but can be revoked (an emergency stop that
//! survives restarts until the file gives the key a new value).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use entities::api_key;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::change::{AdminError, Who, admit, answer, apply, begin, object_body, parse, to_json};
use crate::config::{Config, KeyEntry};
use crate::keys::{KeyLimits, generate_key};
use crate::state::AppState;
use crate::store::keys::{self, KeyRow, display_prefix};
use crate::store::{SOURCE_API, SOURCE_CONFIG, audit};

fn key_json(row: &api_key::Model) -> Value {
    to_json(&KeyRow::from(row.clone()))
}

/// A key as listed, with its budget's state (spent, held by requests in flight, the period's end).
fn key_with_spend(row: &api_key::Model, state: &AppState) -> Value {
    let mut v = key_json(row);
    let limits = crate::keys::KeyLimits::from_column(row.limits.as_deref());
    if let Some(b) = limits.budget {
        v["budget_state"] = budget_state(state, crate::limits::Holder::Key, &row.name, b);
    }
    v
}

/// A budget's state now: spent, held by requests in flight, when it resets, past 80 %, spent.
fn budget_state(state: &AppState, holder: crate::limits::Holder, name: &str, b: crate::limits::Budget) -> Value {
    let now = crate::store::now_ms();
    let b = crate::limits::Budget { zone: state.runtime.limiter.zone(), ..b };
    let (spent, reserved) = state.runtime.limiter.spend(holder, name, b, now);
    let (_, next) = b.bounds(now);
    json!({
        "spent_usd": spent, "reserved_usd": reserved, "resets_at": b.when(next),
        "warning": spent >= crate::limits::WARN_AT * b.usd, "spent": spent >= b.usd,
    })
}

/// `GET /api/keys`
pub(super) async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = admit(&req, &state) {
        return *r;
    }
    let r = keys::list(&state.db).await.map_err(AdminError::from);
    answer(StatusCode::OK, r.map(|rows| Value::Array(rows.iter().map(|k| key_with_spend(k, &state)).collect())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    #[serde(default)]
    models: Option<Vec<String>>,
    #[serde(default)]
    limits: Option<KeyLimits>,
    #[serde(default)]
    team: Option<String>,
    /// A key brought from elsewhere (another gateway), kept as it is so its clients go on
    /// working; by default one is generated.
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    cache: Option<bool>,
}

/// The team named, when it is a `[[teams]]` entry (an empty name: none).
fn team_of(name: Option<String>, state: &AppState) -> Result<Option<String>, AdminError> {
    match name.filter(|t| !t.trim().is_empty()) {
        None => Ok(None),
        Some(t) if state.runtime.live().teams.iter().any(|x| x.name == t) => Ok(Some(t)),
        Some(t) => Err(AdminError::field("team", format!("no [[teams]] entry is named `{t}`"))),
    }
}

/// Checks a key as the config file's `[[keys]]` are checked (the key itself is ours, so fine).
fn validate(name: &str, key: &str, models: &[String], limits: &KeyLimits, state: &AppState) -> Result<(), AdminError> {
    if let Some((field, message)) = limits.problem() {
        return Err(AdminError::field(format!("limits.{field}"), message));
    }
    let entry = KeyEntry {
        name: name.to_string(),
        key: key.to_string(),
        models: models.to_vec(),
        enabled: true,
        rpm: None,
        tpm: None,
        max_concurrent: None,
        budget: None,
        team: None,
        cache: false,
    };
    let cfg = Config { keys: vec![entry], ..Config::default() };
    crate::config::validate(&cfg, state.runtime.catalog()).map_err(|e| AdminError::from_config(e, "keys[0]"))
}

fn declared_in_file(state: &AppState, name: &str) -> bool {
    state.runtime.file().keys.iter().any(|k| k.name == name)
}

async fn create_inner(state: &AppState, who: &Who, body: Map<String, Value>) -> Result<Value, AdminError> {
    let new: NewKey = parse(Value::Object(body))?;
    let models = new.models.unwrap_or_else(|| vec!["*".into()]);
    let limits = new.limits.unwrap_or_default();
    let given = new.key.is_some();
    let key = new.key.unwrap_or_else(generate_key);
    validate(&new.name, &key, &models, &limits, state)?;
    let team = team_of(new.team, state)?;
    if declared_in_file(state, &new.name) {
        return Err(AdminError::Conflict(format!(
            "the name `{}` belongs to a key declared in the config file",
            new.name
        )));
    }
    let (digest, prefix) = (state.sealer.digest(&key), display_prefix(&key));
    let tx = begin(state).await?;
    if given && keys::list(&tx).await?.iter().any(|k| k.digest == digest) {
        return Err(AdminError::Conflict("that key is already in use (by another name)".into()));
    }
    let (row, before) = match keys::get(&tx, &new.name).await? {
        Some(old) if old.revoked_at.is_some() => {
            let before = key_json(&old);
            (keys::reissue(&tx, old, &digest, &prefix, &models, SOURCE_API).await?, Some(before))
        }
        Some(_) => return Err(AdminError::Conflict(format!("a key named `{}` already exists", new.name))),
        None => {
            keys::insert(&tx, &new.name, &digest, &prefix, &models, SOURCE_API).await?;
            match keys::get(&tx, &new.name).await? {
                Some(row) => (row, None),
                None => return Err(AdminError::Apply("the new key could not be read back".into())),
            }
        }
    };
    let row = keys::set_limits(&tx, row, &limits).await?;
    let row = keys::set_team(&tx, row, team.as_deref()).await?;
    let cache = new.cache.unwrap_or(false);
    let row = keys::set_cache(&tx, row, cache).await?;
    audit::record(&tx, who.change("key", &new.name, "create", before, Some(key_json(&row)))).await?;
    tx.commit().await?;
    apply(state).await?;
    Ok(json!({ "name": new.name, "key": key, "models": models, "limits": limits, "team": team, "cache": cache }))
}

/// `POST /api/keys {"name", "models"?}` → 201 `{"name", "key", "models"}`; the key is never shown
/// again.
pub(super) async fn create(req: HttpRequest, state: web::Data<AppState>, payload: web::Payload) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let body = match object_body(&req, payload, &state, "{\"name\": \"...\", \"models\": [...]}").await {
        Ok(b) => b,
        Err(r) => return r,
    };
    answer(StatusCode::CREATED, create_inner(&state, &who, body).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyPatch {
    #[serde(default)]
    models: Option<Vec<String>>,
    #[serde(default)]
    enabled: Option<bool>,
    /// Replaces every limit (`{}`: none).
    #[serde(default)]
    limits: Option<KeyLimits>,
    /// Moves it to a team (`""`: none).
    #[serde(default)]
    team: Option<String>,
    /// Turns the response cache on or off for its deterministic requests.
    #[serde(default)]
    cache: Option<bool>,
}

async fn update_inner(state: &AppState, who: &Who, name: &str, body: Map<String, Value>) -> Result<Value, AdminError> {
    let patch: KeyPatch = parse(Value::Object(body))?;
    let tx = begin(state).await?;
    let row = match keys::get(&tx, name).await? {
        Some(row) if row.revoked_at.is_some() => {
            return Err(AdminError::NotFound(format!("no active key named `{name}`")));
        }
        Some(row) if row.source == SOURCE_CONFIG => return Err(AdminError::config_owned(&format!("key `{name}`"))),
        Some(row) => row,
        None => return Err(AdminError::NotFound(format!("no active key named `{name}`"))),
    };
    let before = key_json(&row);
    let models = match patch.models {
        Some(m) => m,
        None => KeyRow::from(row.clone()).models,
    };
    let limits = patch.limits.unwrap_or_else(|| KeyLimits::from_column(row.limits.as_deref()));
    validate(name, &generate_key(), &models, &limits, state)?;
    let enabled = patch.enabled.unwrap_or(row.enabled);
    let row = keys::update(&tx, row, &models, enabled).await?;
    let row = keys::set_limits(&tx, row, &limits).await?;
    let row = match patch.team {
        Some(t) => {
            let team = team_of(Some(t), state)?;
            keys::set_team(&tx, row, team.as_deref()).await?
        }
        None => row,
    };
    let row = match patch.cache {
        Some(c) => keys::set_cache(&tx, row, c).await?,
        None => row,
    };
    let after = key_json(&row);
    audit::record(&tx, who.change("key", name, "update", Some(before), Some(after.clone()))).await?;
    tx.commit().await?;
    apply(state).await?;
    Ok(after)
}

/// `PATCH /api/keys/{name} {"models"?, "enabled"?}`
pub(super) async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let body = match object_body(
        &req,
        payload,
        &state,
        "{\"models\"?: [...], \"enabled\"?: bool, \"limits\"?: {...}, \"cache\"?: bool}",
    )
    .await
    {
        Ok(b) => b,
        Err(r) => return r,
    };
    answer(StatusCode::OK, update_inner(&state, &who, &name, body).await)
}

async fn revoke_inner(state: &AppState, who: &Who, name: &str) -> Result<Value, AdminError> {
    let tx = begin(state).await?;
    let before = match keys::get(&tx, name).await? {
        Some(row) if row.revoked_at.is_none() => key_json(&row),
        Some(_) | None => return Err(AdminError::NotFound(format!("no active key named `{name}`"))),
    };
    keys::revoke(&tx, name).await?;
    let after = keys::get(&tx, name).await?.map(|r| key_json(&r));
    audit::record(&tx, who.change("key", name, "revoke", Some(before), after)).await?;
    tx.commit().await?;
    apply(state).await?;
    Ok(json!({ "revoked": name }))
}

/// `DELETE /api/keys/{name}`: revokes the key at once (config keys included).
pub(super) async fn revoke(req: HttpRequest, state: web::Data<AppState>, name: web::Path<String>) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    answer(StatusCode::OK, revoke_inner(&state, &who, &name).await)
}

/// `GET /api/teams`: each `[[teams]]` entry with its limits, its keys and its budget's state.
pub(super) async fn teams(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = admit(&req, &state) {
        return *r;
    }
    let rows = match keys::list(&state.db).await {
        Ok(r) => r,
        Err(e) => return answer(StatusCode::OK, Err(AdminError::from(e))),
    };
    let out: Vec<Value> = state
        .runtime
        .live()
        .teams
        .iter()
        .map(|t| {
            let members: Vec<&str> = rows
                .iter()
                .filter(|r| r.revoked_at.is_none() && r.team.as_deref() == Some(t.name.as_str()))
                .map(|r| r.name.as_str())
                .collect();
            let mut v = json!({ "name": t.name, "limits": t.limits(), "keys": members });
            if let Some(b) = t.budget {
                v["budget_state"] = budget_state(&state, crate::limits::Holder::Team, &t.name, b);
            }
            v
        })
        .collect();
    answer(StatusCode::OK, Ok(Value::Array(out)))
}
