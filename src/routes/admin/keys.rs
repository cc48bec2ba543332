//! `/api/keys`: list, create (the key is shown once), revoke.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{db_fail, fail, guarded, json_body};
use crate::error::GatewayError;
use crate::keys::generate_key;
use crate::state::AppState;
use crate::store::keys::{self, KeyRow, display_prefix};

/// `GET /api/keys`
pub(super) async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    match keys::list(&state.db).await {
        Ok(rows) => HttpResponse::Ok().json(rows.into_iter().map(KeyRow::from).collect::<Vec<_>>()),
        Err(e) => db_fail(e),
    }
}

#[derive(Deserialize)]
pub(super) struct NewKey {
    name: String,
    #[serde(default)]
    models: Option<Vec<String>>,
}

/// `POST /api/keys {"name", "models"?}` → `{"name", "key"}`; the key is never shown again.
pub(super) async fn create(req: HttpRequest, state: web::Data<AppState>, payload: web::Payload) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    let new: NewKey = match json_body(&req, payload, &state, "{\"name\": \"...\", \"models\": [...]}").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if new.name.trim().is_empty() {
        return fail(GatewayError::BadRequest("name must not be empty".into()));
    }
    let models = new.models.unwrap_or_else(|| vec!["*".into()]);
    let key = generate_key();
    let digest = state.sealer.digest(&key);
    if let Err(e) = keys::insert(&state.db, &new.name, &digest, &display_prefix(&key), &models, "api").await {
        if matches!(keys::list(&state.db).await, Ok(rows) if rows.iter().any(|r| r.name == new.name)) {
            return fail(GatewayError::BadRequest(format!("a key named `{}` already exists", new.name)));
        }
        return db_fail(e);
    }
    if let Ok(rows) = keys::list(&state.db).await {
        state.keys.reload(&rows);
    }
    HttpResponse::Created().json(json!({ "name": new.name, "key": key, "models": models }))
}

/// `DELETE /api/keys/{name}`
pub(super) async fn revoke(req: HttpRequest, state: web::Data<AppState>, name: web::Path<String>) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    match keys::revoke(&state.db, &name).await {
        Ok(true) => {
            if let Ok(rows) = keys::list(&state.db).await {
                state.keys.reload(&rows);
            }
            HttpResponse::Ok().json(json!({ "revoked": name.into_inner() }))
        }
        Ok(false) => fail(GatewayError::NotFound(format!("no active key named `{name}`"))),
        Err(e) => db_fail(e),
    }
}
