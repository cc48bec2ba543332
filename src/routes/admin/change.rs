//! What every write route of the admin API shares: who is asking (for the audit row), bodies read
//! with the offending field named, the error answers (400 naming the field, 404, 409), and
//! `apply`, which makes a committed change live. It never builds SQL (that is `store`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use sea_orm::{DatabaseTransaction, DbErr, SqlErr, SqliteTransactionMode, TransactionOptions, TransactionTrait};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::{guarded, json_body};
use crate::auth::AdminAuth;
use crate::config::ConfigError;
use crate::state::AppState;
use crate::store::audit::Change;

/// Who made a change, as the audit log records it.
#[derive(Debug, Clone)]
pub(super) struct Who {
    actor: String,
    ip: Option<String>,
    /// How the caller was admitted (its user and role).
    pub(super) auth: AdminAuth,
}

impl Who {
    /// The audit row of a change to `resource` `id`.
    pub(super) fn change<'a>(
        &'a self,
        resource: &'a str,
        id: impl Into<String>,
        action: &'a str,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Change<'a> {
        Change { actor: &self.actor, ip: self.ip.clone(), resource, resource_id: id.into(), action, before, after }
    }
}

/// Admits an admin request like `guarded` (CSRF checks on state changes, then authentication)
/// and says who it is.
pub(super) fn admit(req: &HttpRequest, state: &AppState) -> Result<Who, Box<HttpResponse>> {
    let auth = guarded(req, state)?;
    Ok(Who { actor: auth.actor(), ip: req.peer_addr().map(|a| a.ip().to_string()), auth })
}

/// An admin API refusal or failure.
#[derive(Debug)]
pub(super) enum AdminError {
    /// A field is missing, of the wrong type or invalid (400; `param` names it).
    Field {
        /// The field's path in the body (`base_url`, `models[1].price`, `routing.sticky_limit`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// No such resource (404).
    NotFound(String),
    /// The change conflicts with what exists: a duplicate name, a config-file entry, a built-in
    /// provider, a provider that still has accounts (409).
    Conflict(String),
    /// The database failed (500; the cause is logged, never answered).
    Db(DbErr),
    /// The change was saved but could not be applied (500).
    Apply(String),
}

impl From<DbErr> for AdminError {
    fn from(e: DbErr) -> Self {
        match e.sql_err() {
            // Two requests racing for one name: the loser hears what it would have heard later.
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::Conflict("it already exists".into()),
            Some(_) | None => Self::Db(e),
        }
    }
}

impl AdminError {
    /// A 400 naming `field`.
    pub(super) fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Field { field: field.into(), message: message.into() }
    }

    /// The 409 for an entry declared in the config file.
    pub(super) fn config_owned(what: &str) -> Self {
        Self::Conflict(format!(
            "{what} is declared in the config file (config as code): edit the file and restart instead"
        ))
    }

    /// A config validation error, its key taken relative to `prefix` (`providers[0]`).
    pub(super) fn from_config(e: ConfigError, prefix: &str) -> Self {
        match e {
            ConfigError::Key { key, message } => {
                let field = key
                    .strip_prefix(prefix)
                    .map(|k| k.trim_start_matches('.'))
                    .filter(|k| !k.is_empty())
                    .unwrap_or(&key)
                    .to_string();
                Self::Field { field, message }
            }
            other @ (ConfigError::Read { .. } | ConfigError::Syntax { .. } | ConfigError::UnknownEnv { .. }) => {
                Self::field("(body)", other.to_string())
            }
        }
    }

    /// The HTTP answer, in the admin API's (OpenAI-like) error shape.
    pub(super) fn response(self) -> HttpResponse {
        let (status, message, param, code) = match self {
            Self::Field { field, message } => {
                (StatusCode::BAD_REQUEST, format!("`{field}`: {message}"), Some(field), "invalid_field")
            }
            Self::NotFound(m) => (StatusCode::NOT_FOUND, m, None, "not_found"),
            Self::Conflict(m) => (StatusCode::CONFLICT, m, None, "conflict"),
            Self::Db(e) => {
                tracing::error!(error = %e, "admin API database error");
                (StatusCode::INTERNAL_SERVER_ERROR, "database error".into(), None, "internal_error")
            }
            Self::Apply(m) => (StatusCode::INTERNAL_SERVER_ERROR, m, None, "internal_error"),
        };
        let kind = match status.as_u16() {
            400 | 404 | 409 => "invalid_request_error",
            _ => "api_error",
        };
        HttpResponseBuilder::new(status)
            .json(json!({ "error": { "message": message, "type": kind, "param": param, "code": code } }))
    }
}

/// The answer of a write route: `status` with the JSON, or the error.
pub(super) fn answer(status: StatusCode, r: Result<Value, AdminError>) -> HttpResponse {
    match r {
        Ok(v) => HttpResponseBuilder::new(status).json(v),
        Err(e) => e.response(),
    }
}

/// Reads a JSON object body (at most 1 MiB).
pub(super) async fn object_body(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    expected: &str,
) -> Result<Map<String, Value>, HttpResponse> {
    match json_body::<Value>(req, payload, state, expected).await? {
        Value::Object(m) => Ok(m),
        _ => Err(AdminError::field("(body)", format!("expected a JSON object {expected}")).response()),
    }
}

/// Deserializes `value` as `T`, naming the offending field (`models[1].price`) on failure.
pub(super) fn parse<T: DeserializeOwned>(value: Value) -> Result<T, AdminError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        // A missing field is reported at its parent: name the field itself.
        let missing = message.strip_prefix("missing field `").and_then(|m| m.split('`').next());
        let field = match (path.as_str(), missing) {
            (".", Some(f)) => f.to_string(),
            (p, Some(f)) => format!("{p}.{f}"),
            (".", None) => "(body)".to_string(),
            (p, None) => p.to_string(),
        };
        AdminError::Field { field, message }
    })
}

/// `current` with `patch` laid over it key by key (`null` removes a key, so the default applies).
pub(super) fn overlay(current: Value, patch: &Map<String, Value>) -> Value {
    let mut out = match current {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    for (k, v) in patch {
        if v.is_null() {
            out.remove(k);
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// Opens the transaction of one change. On SQLite it is `BEGIN IMMEDIATE`: the write lock is
/// taken up front (waiting up to the busy timeout), where a deferred transaction that read first
/// would fail at its first write once another writer (the usage writer, say) had committed
/// meanwhile. PostgreSQL ignores the mode.
pub(super) async fn begin(state: &AppState) -> Result<DatabaseTransaction, AdminError> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    Ok(state.db.begin_with_options(options).await?)
}

/// Makes a committed change live (`Runtime::reload`) before the API answers, and with several
/// instances on one PostgreSQL announces it so every other one reloads too.
pub(super) async fn apply(state: &AppState) -> Result<(), AdminError> {
    if let Some(c) = &state.runtime.cluster {
        c.changed().await;
    }
    match state.runtime.reload().await {
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::error!(error = %e, "an admin change was saved but could not be applied");
            Err(AdminError::Apply(
                "the change was saved but could not be applied to the running gateway (see the log); it applies at the next restart".into(),
            ))
        }
    }
}

/// A JSON value, or `null` when it cannot be rendered (never happens for our own types).
pub(super) fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}
