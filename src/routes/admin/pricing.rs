//! `/api/pricing`: the price table (USD per million tokens per provider and model, and per image,
//! audio second or character for the surfaces billed so; `*` patterns
//! allowed, the most specific row wins: `crate::pricing`). A write is the operator's (`api`)
//! and is never overwritten by seeding; a delete leaves the model unpriced, across restarts too.
//! The model may hold `/` and `*`, so the delete names it in the query, not the path.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use actors::usage::cost::Price;
use entities::pricing;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::change::{AdminError, Who, admit, answer, apply, begin, object_body, parse};
use super::params::{Param, Query};
use crate::state::AppState;
use crate::store::{self, audit};

const EXPECTED: &str = "{\"provider\", \"model\", \"input\", \"output\", \"cache_read\"?, \"cache_write\"?, \"reasoning\"?, \"per_image\"?, \"per_second\"?, \"per_character\"?}";

/// `GET /api/pricing`'s parameter.
pub const LIST_QUERY: &[Param] = &[Param::str("provider", "only this provider's rows (`*` for the wildcard rows)")];

/// `DELETE /api/pricing`'s parameters.
pub const DELETE_QUERY: &[Param] = &[
    Param::str("provider", "the row's provider (or `*`), required"),
    Param::str("model", "the row's model or pattern, required"),
];

/// Longest provider or model text.
const MAX_NAME: usize = 256;

fn row_json(r: &pricing::Model) -> Value {
    json!({
        "provider": r.provider, "model": r.model, "input": r.input, "output": r.output,
        "cache_read": r.cache_read, "cache_write": r.cache_write, "reasoning": r.reasoning,
        "per_image": r.per_image, "per_second": r.per_second, "per_character": r.per_character,
        "source": r.source, "updated_at": r.updated_at,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceBody {
    provider: String,
    model: String,
    input: f64,
    output: f64,
    #[serde(default)]
    cache_read: Option<f64>,
    #[serde(default)]
    cache_write: Option<f64>,
    #[serde(default)]
    reasoning: Option<f64>,
    /// USD per image (image edits).
    #[serde(default)]
    per_image: Option<f64>,
    /// USD per audio second (transcriptions, translations).
    #[serde(default)]
    per_second: Option<f64>,
    /// USD per input character (speech).
    #[serde(default)]
    per_character: Option<f64>,
}

/// A provider or model name: non-empty, bounded, printable.
fn name(field: &str, v: &str) -> Result<(), AdminError> {
    if v.trim().is_empty() || v.len() > MAX_NAME || v.chars().any(char::is_control) || v.trim() != v {
        return Err(AdminError::field(
            field,
            format!("must be a non-empty name of at most {MAX_NAME} bytes, without surrounding spaces"),
        ));
    }
    Ok(())
}

fn validate(b: &PriceBody) -> Result<Price, AdminError> {
    name("provider", &b.provider)?;
    if b.provider.contains('*') && b.provider != "*" {
        return Err(AdminError::field("provider", "a provider id, or `*` alone for every provider"));
    }
    name("model", &b.model)?;
    let figures = [
        ("input", Some(b.input)),
        ("output", Some(b.output)),
        ("cache_read", b.cache_read),
        ("cache_write", b.cache_write),
        ("reasoning", b.reasoning),
    ];
    for (field, v) in figures {
        if let Some(v) = v
            && (!v.is_finite() || v < 0.0)
        {
            return Err(AdminError::field(field, "must be a finite number of USD per million tokens, 0 or more"));
        }
    }
    for (field, v) in [("per_image", b.per_image), ("per_second", b.per_second), ("per_character", b.per_character)] {
        if let Some(v) = v
            && (!v.is_finite() || v < 0.0)
        {
            return Err(AdminError::field(field, "must be a finite number of USD per unit, 0 or more"));
        }
    }
    Ok(Price {
        input: b.input,
        output: b.output,
        cache_read: b.cache_read,
        cache_write: b.cache_write,
        reasoning: b.reasoning,
        per_image: b.per_image,
        per_second: b.per_second,
        per_character: b.per_character,
    })
}

/// `GET /api/pricing[?provider=]`: the live rows by provider and model.
pub(super) async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = admit(&req, &state) {
        return *r;
    }
    let provider = match Query::parse(&req, LIST_QUERY).and_then(|q| q.text("provider")) {
        Ok(p) => p,
        Err(e) => return super::fail(e),
    };
    let r = store::pricing::list(&state.db, provider.as_deref()).await.map_err(AdminError::from);
    answer(StatusCode::OK, r.map(|rows| Value::Array(rows.iter().map(row_json).collect())))
}

async fn put_inner(state: &AppState, who: &Who, body: Map<String, Value>) -> Result<Value, AdminError> {
    let body: PriceBody = parse(Value::Object(body))?;
    let price = validate(&body)?;
    let tx = begin(state).await?;
    let before = store::pricing::get(&tx, &body.provider, &body.model)
        .await?
        .filter(|r| r.source != crate::pricing::SOURCE_DELETED)
        .map(|r| row_json(&r));
    let row = store::pricing::upsert(&tx, &body.provider, &body.model, &price).await?;
    let after = row_json(&row);
    let action = if before.is_some() { "update" } else { "create" };
    let id = format!("{}/{}", row.provider, row.model);
    audit::record(&tx, who.change("pricing", id, action, before, Some(after.clone()))).await?;
    tx.commit().await?;
    apply(state).await?;
    Ok(after)
}

/// `PUT /api/pricing {provider, model, input, output, cache_read?, cache_write?, reasoning?}`:
/// creates or replaces one row (then the operator's: seeding never overwrites it).
pub(super) async fn put(req: HttpRequest, state: web::Data<AppState>, payload: web::Payload) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let body = match object_body(&req, payload, &state, EXPECTED).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    answer(StatusCode::OK, put_inner(&state, &who, body).await)
}

async fn delete_inner(state: &AppState, who: &Who, provider: &str, model: &str) -> Result<Value, AdminError> {
    let tx = begin(state).await?;
    let row = match store::pricing::get(&tx, provider, model).await? {
        Some(r) if r.source != crate::pricing::SOURCE_DELETED => r,
        Some(_) | None => return Err(AdminError::NotFound(format!("no price for `{provider}` / `{model}`"))),
    };
    store::pricing::delete(&tx, &row).await?;
    let id = format!("{provider}/{model}");
    audit::record(&tx, who.change("pricing", id, "delete", Some(row_json(&row)), None)).await?;
    tx.commit().await?;
    apply(state).await?;
    Ok(json!({ "deleted": { "provider": provider, "model": model } }))
}

/// `DELETE /api/pricing?provider=&model=`: the model is unpriced from the next request on.
pub(super) async fn delete(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let q = match Query::parse(&req, DELETE_QUERY) {
        Ok(q) => q,
        Err(e) => return super::fail(e),
    };
    let field = |n: &'static str| -> Result<String, AdminError> {
        match q.text(n) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(AdminError::field(n, "is required (a query parameter)")),
            Err(e) => Err(AdminError::field(n, e.to_string())),
        }
    };
    let (provider, model) = match (field("provider"), field("model")) {
        (Ok(p), Ok(m)) => (p, m),
        (Err(e), _) | (_, Err(e)) => return e.response(),
    };
    answer(StatusCode::OK, delete_inner(&state, &who, &provider, &model).await)
}
