//! `/api/settings`: the `[routing]`, `[resilience]`, `[upstream]` and `[usage]` sections as they
//! apply now (the config file's values with the API's stored overrides on top), and PATCH to
//! change them live. A change is checked exactly as the config file is; a bad value is a 400
//! naming its key (`routing.sticky_limit`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::change::{AdminError, Who, admit, answer, apply, begin, object_body};
use crate::runtime::settings::{self, EDITABLE, RESTART_REQUIRED};
use crate::state::AppState;
use crate::store::{audit, overrides};

fn view(state: &AppState, stored: &Map<String, Value>) -> Value {
    let live = state.runtime.live();
    let mut v = settings::sections(&live);
    if let Some(o) = v.as_object_mut() {
        o.insert("overrides".into(), Value::Object(stored.clone()));
        o.insert("file".into(), settings::sections(&state.runtime.file()));
        o.insert("editable".into(), json!(EDITABLE));
        o.insert("restart_required".into(), json!(RESTART_REQUIRED));
    }
    v
}

/// `GET /api/settings`: `{routing, resilience, upstream, usage}` in effect, the stored
/// `overrides`, the config `file`'s values, and which keys need a restart (none).
pub(super) async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = admit(&req, &state) {
        return *r;
    }
    let r = overrides::load(&state.db).await.map(|stored| view(&state, &stored)).map_err(AdminError::from);
    answer(StatusCode::OK, r)
}

async fn patch_inner(state: &AppState, who: &Who, patch: Map<String, Value>) -> Result<Value, AdminError> {
    let tx = begin(state).await?;
    let stored = overrides::load(&tx).await?;
    let next = settings::merge(&stored, &Value::Object(patch)).map_err(|e| AdminError::from_config(e, ""))?;
    let file = state.runtime.file();
    let before = settings::effective(&file, &stored, state.runtime.catalog())
        .map(|c| settings::sections(&c))
        .unwrap_or(Value::Null);
    let after =
        settings::effective(&file, &next, state.runtime.catalog()).map_err(|e| AdminError::from_config(e, ""))?;
    overrides::save(&tx, &next).await?;
    let change = who.change("settings", "settings", "update", Some(before), Some(settings::sections(&after)));
    audit::record(&tx, change).await?;
    tx.commit().await?;
    apply(state).await?;
    Ok(view(state, &next))
}

/// `PATCH /api/settings {"routing": {"strategy": "round-robin"}, "usage": {"retention_days": null}}`:
/// sets the given keys (`null` drops an override: the file's value applies again). Every key
/// applies live: router strategy and stickiness at once, resilience tuning from the next
/// outcome, upstream timeouts from the next attempt, usage settings from the next row.
pub(super) async fn patch(req: HttpRequest, state: web::Data<AppState>, payload: web::Payload) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let body = match object_body(&req, payload, &state, "{\"routing\": {\"strategy\": \"round-robin\"}, ...}").await {
        Ok(b) => b,
        Err(r) => return r,
    };
    answer(StatusCode::OK, patch_inner(&state, &who, body).await)
}
