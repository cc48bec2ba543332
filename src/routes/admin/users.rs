//! `/api/users`: the dashboard's people and their roles (admin only), and a user changing their
//! own password. The bootstrap admin (`admin`, its password in `settings`) is listed, can have its
//! password changed, and can be neither deleted nor demoted. A deleted user's sessions end at once
//! (on every instance); so do a user's sessions when their role changes or an admin sets their
//! password. Passwords are hashed with Argon2id off the event loop and never answered or audited.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use entities::dashboard_user;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::change::{AdminError, Who, admit, answer, begin, object_body, parse};
use crate::auth::{AdminAuth, BOOTSTRAP_ADMIN, Role};
use crate::error::GatewayError;
use crate::secrets::hash_password;
use crate::state::AppState;
use crate::store::{audit, settings, users};

/// Shortest password accepted.
const MIN_PASSWORD: usize = 8;
/// Longest password accepted (Argon2 takes any length; a bound keeps a request cheap).
const MAX_PASSWORD: usize = 1024;

/// Whether `name` can be a user: 1 to 64 of letters, digits, `.`, `_`, `-` (no spaces: the
/// cluster's session notes are space-separated).
pub(super) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn user_json(u: &dashboard_user::Model) -> Value {
    json!({ "name": u.name, "role": u.role, "builtin": false, "created_at": u.created_at, "updated_at": u.updated_at })
}

fn bootstrap_json() -> Value {
    json!({ "name": BOOTSTRAP_ADMIN, "role": "admin", "builtin": true, "created_at": null, "updated_at": null })
}

fn role_of(s: &str) -> Result<Role, AdminError> {
    Role::parse(s).ok_or_else(|| AdminError::field("role", "must be `admin` or `viewer`"))
}

fn check_password(p: &str) -> Result<(), AdminError> {
    if p.chars().count() < MIN_PASSWORD || p.len() > MAX_PASSWORD {
        return Err(AdminError::field("password", format!("must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")));
    }
    Ok(())
}

async fn hash(password: String) -> Result<String, AdminError> {
    match web::block(move || hash_password(&password)).await {
        Ok(Ok(h)) => Ok(h),
        Ok(Err(_)) | Err(_) => Err(AdminError::Apply("the password could not be hashed".into())),
    }
}

/// Ends every session of `user`, here and (with several instances) everywhere.
async fn end_sessions(state: &AppState, user: &str) {
    let digests = state.sessions.close_user(user);
    if let Some(c) = &state.runtime.cluster {
        for d in &digests {
            c.session_closed_digest(d).await;
        }
    }
}

/// `GET /api/users`: the bootstrap admin, then every user by name (never a password hash).
pub(super) async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = admit(&req, &state) {
        return *r;
    }
    let r = users::list(&state.db)
        .await
        .map_err(AdminError::from)
        .map(|rows| Value::Array(std::iter::once(bootstrap_json()).chain(rows.iter().map(user_json)).collect()));
    answer(StatusCode::OK, r)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    role: String,
    password: String,
}

async fn create_inner(state: &AppState, who: &Who, body: Map<String, Value>) -> Result<Value, AdminError> {
    let new: NewUser = parse(Value::Object(body))?;
    if !valid_name(&new.name) {
        return Err(AdminError::field("name", "must be 1 to 64 letters, digits, `.`, `_` or `-`"));
    }
    if new.name == BOOTSTRAP_ADMIN {
        return Err(AdminError::Conflict(format!("`{BOOTSTRAP_ADMIN}` is the bootstrap admin")));
    }
    let role = role_of(&new.role)?;
    check_password(&new.password)?;
    let h = hash(new.password).await?;
    let tx = begin(state).await?;
    if users::get(&tx, &new.name).await?.is_some() {
        return Err(AdminError::Conflict(format!("a user named `{}` already exists", new.name)));
    }
    let row = users::insert(&tx, &new.name, role.as_str(), &h).await?;
    audit::record(&tx, who.change("user", &new.name, "create", None, Some(user_json(&row)))).await?;
    tx.commit().await?;
    Ok(user_json(&row))
}

/// `POST /api/users {"name", "role", "password"}` → 201 with the user.
pub(super) async fn create(req: HttpRequest, state: web::Data<AppState>, payload: web::Payload) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let body = match object_body(&req, payload, &state, "{\"name\", \"role\", \"password\"}").await {
        Ok(b) => b,
        Err(r) => return r,
    };
    answer(StatusCode::CREATED, create_inner(&state, &who, body).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Patch {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// Whether the caller is `name` signed in (a viewer may change only their own password).
fn is_self(who: &Who, name: &str) -> bool {
    matches!(&who.auth, AdminAuth::Session { user, .. } if user == name)
}

async fn update_inner(state: &AppState, who: &Who, name: &str, body: Map<String, Value>) -> Result<Value, AdminError> {
    let patch: Patch = parse(Value::Object(body))?;
    let role = patch.role.as_deref().map(role_of).transpose()?;
    if let Some(p) = &patch.password {
        check_password(p)?;
    }
    let h = match patch.password {
        Some(p) => Some(hash(p).await?),
        None => None,
    };
    if name == BOOTSTRAP_ADMIN {
        if role.is_some_and(|r| r != Role::Admin) {
            return Err(AdminError::Conflict(format!("`{BOOTSTRAP_ADMIN}` stays an admin")));
        }
        let tx = begin(state).await?;
        if let Some(h) = &h {
            settings::set(&tx, settings::ADMIN_PASSWORD_HASH, h).await?;
        }
        let after = json!({ "name": BOOTSTRAP_ADMIN, "role": "admin", "password_changed": h.is_some() });
        audit::record(&tx, who.change("user", name, "update", Some(bootstrap_json()), Some(after))).await?;
        tx.commit().await?;
        if h.is_some() && !is_self(who, name) {
            end_sessions(state, name).await;
        }
        return Ok(bootstrap_json());
    }
    let tx = begin(state).await?;
    let Some(row) = users::get(&tx, name).await? else {
        return Err(AdminError::NotFound(format!("no user `{name}`")));
    };
    let before = user_json(&row);
    let role_changed = role.is_some_and(|r| r.as_str() != row.role);
    let row = users::update(&tx, row, role.map(Role::as_str), h.as_deref()).await?;
    let mut after = user_json(&row);
    after["password_changed"] = json!(h.is_some());
    audit::record(&tx, who.change("user", name, "update", Some(before), Some(after))).await?;
    tx.commit().await?;
    if role_changed || (h.is_some() && !is_self(who, name)) {
        end_sessions(state, name).await;
    }
    Ok(user_json(&row))
}

/// `PATCH /api/users/{name} {"role"?, "password"?}`: an admin changes anyone; a viewer only their
/// own password (403 otherwise).
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
    let body = match object_body(&req, payload, &state, "{\"role\"?, \"password\"?}").await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if who.auth.role() == Role::Viewer && (!is_self(&who, &name) || body.contains_key("role")) {
        return super::fail(GatewayError::Forbidden("a viewer may change only their own password".into()));
    }
    answer(StatusCode::OK, update_inner(&state, &who, &name, body).await)
}

async fn delete_inner(state: &AppState, who: &Who, name: &str) -> Result<Value, AdminError> {
    if name == BOOTSTRAP_ADMIN {
        return Err(AdminError::Conflict(format!("`{BOOTSTRAP_ADMIN}` is the bootstrap admin and stays")));
    }
    let tx = begin(state).await?;
    let Some(row) = users::get(&tx, name).await? else {
        return Err(AdminError::NotFound(format!("no user `{name}`")));
    };
    users::delete(&tx, name).await?;
    audit::record(&tx, who.change("user", name, "delete", Some(user_json(&row)), None)).await?;
    tx.commit().await?;
    end_sessions(state, name).await;
    Ok(json!({ "deleted": name }))
}

/// `DELETE /api/users/{name}`: the user and every session of theirs.
pub(super) async fn delete(req: HttpRequest, state: web::Data<AppState>, name: web::Path<String>) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    answer(StatusCode::OK, delete_inner(&state, &who, &name).await)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_short_and_plain() {
        for ok in ["ann", "a.b-c_d", "X9"] {
            assert!(super::valid_name(ok), "{ok}");
        }
        for bad in ["", "a b", "ann\n", "é", &"x".repeat(65)] {
            assert!(!super::valid_name(bad), "{bad:?}");
        }
    }
}
