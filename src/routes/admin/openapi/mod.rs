//! The OpenAPI 3.1 document of every `/api` route, and what keeps it from drifting: the routes
//! are registered through `Routes` (the real scope, or `Recorded`, which only notes the paths),
//! each route has one `Op` in `SPEC`, and tests compare the two: the paths here, the methods
//! against the running app (tests/it/admin_observe.rs). This module renders; it never routes.

mod schemas;

use actix_web::{HttpRequest, HttpResponse, Route, Scope, web};
use serde_json::{Map, Value, json};

use super::params::{Kind, Param};
use super::{guarded, pricing, requests, tools, usage_summary};
use crate::state::AppState;

/// Something `/api` routes are added to: the real scope, or a recorder of their paths. The
/// admin route list (`admin::routes`) is written once, generic over this.
pub trait Routes: Sized {
    /// Adds `route` at `path` (relative to `/api`).
    fn route(self, path: &str, route: Route) -> Self;
}

impl Routes for Scope {
    fn route(self, path: &str, route: Route) -> Self {
        Scope::route(self, path, route)
    }
}

/// The paths routes were registered at, in order (a path per route: repeated per method).
#[derive(Debug, Default)]
pub struct Recorded(pub Vec<String>);

impl Routes for Recorded {
    fn route(mut self, path: &str, _: Route) -> Self {
        self.0.push(path.to_string());
        self
    }
}

/// An HTTP method of the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// GET (and HEAD).
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

impl Verb {
    /// Every verb, for probing.
    pub const ALL: [Verb; 5] = [Verb::Get, Verb::Post, Verb::Put, Verb::Patch, Verb::Delete];

    /// The spelling in an OpenAPI path item.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Post => "post",
            Self::Put => "put",
            Self::Patch => "patch",
            Self::Delete => "delete",
        }
    }
}

/// Shorthands for `SPEC` lines.
pub const GET: Verb = Verb::Get;
/// POST.
pub const POST: Verb = Verb::Post;
/// PUT.
pub const PUT: Verb = Verb::Put;
/// PATCH.
pub const PATCH: Verb = Verb::Patch;
/// DELETE.
pub const DELETE: Verb = Verb::Delete;

/// One operation of the admin API, as the spec shows it.
#[derive(Debug, Clone, Copy)]
pub struct Op {
    /// Method.
    pub verb: Verb,
    /// Path relative to `/api`, exactly as registered (`{id}` parameters; a `{x:regex}` is shown as `{x}`).
    pub path: &'static str,
    /// Group in the document.
    pub tag: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// Query parameters.
    pub query: &'static [Param],
    /// Request body schema (a name in `schemas`, or `object`).
    pub body: Option<&'static str>,
    /// 200 response schema (a name in `schemas`, or `object`).
    pub returns: &'static str,
    /// The answer may be `text/event-stream`.
    pub streams: bool,
    /// Needs no admin session.
    pub public: bool,
}

impl Op {
    /// An operation answering a JSON object.
    pub const fn new(verb: Verb, path: &'static str, tag: &'static str, summary: &'static str) -> Self {
        Self { verb, path, tag, summary, query: &[], body: None, returns: "object", streams: false, public: false }
    }

    /// With query parameters.
    pub const fn query(self, query: &'static [Param]) -> Self {
        Self { query, ..self }
    }

    /// With a JSON request body of this schema.
    pub const fn body(self, schema: &'static str) -> Self {
        Self { body: Some(schema), ..self }
    }

    /// Answering this schema.
    pub const fn returns(self, schema: &'static str) -> Self {
        Self { returns: schema, ..self }
    }

    /// Whose answer may be a server-sent event stream.
    pub const fn streams(self) -> Self {
        Self { streams: true, ..self }
    }

    /// Open without an admin session.
    pub const fn public(self) -> Self {
        Self { public: true, ..self }
    }
}

/// `GET /api/usage`'s parameter (its handler reads it with serde).
const USAGE_QUERY: &[Param] = &[Param::int("limit", "rows, 1..=1000 (default 50)")];

/// `GET /api/audit`'s parameters (its handler reads them with serde).
const AUDIT_QUERY: &[Param] =
    &[Param::int("limit", "rows, 1..=500 (default 50)"), Param::int("cursor", "the next_cursor of the previous page")];

/// Every `/api` operation. A route registered in `admin::routes` without a line here (or a line
/// without a route) fails the drift tests; see the module doc.
pub const SPEC: &[Op] = &[
    // Session.
    Op::new(POST, "/login", "session", "Opens a dashboard session (sets an HttpOnly cookie)").body("Login").public(),
    Op::new(POST, "/logout", "session", "Ends the dashboard session"),
    Op::new(GET, "/session", "session", "Who is signed in (user and role)"),
    // Dashboard users (admin only; a viewer may change their own password).
    Op::new(GET, "/users", "users", "Lists the dashboard users and their roles").returns("UserList"),
    Op::new(POST, "/users", "users", "Adds a dashboard user (admin or viewer)").body("NewUser").returns("User"),
    Op::new(PATCH, "/users/{name}", "users", "Changes a user's role or password (a viewer: their own password)")
        .body("UserPatch")
        .returns("User"),
    Op::new(DELETE, "/users/{name}", "users", "Deletes a user and ends their sessions"),
    // Gateway keys.
    Op::new(GET, "/keys", "keys", "Lists gateway keys (never their secrets)"),
    Op::new(GET, "/teams", "keys", "Each team with its limits, its keys and its budget's state"),
    Op::new(
        POST,
        "/keys",
        "keys",
        "Creates a gateway key (or keeps one brought from elsewhere: `key`); the secret is shown once",
    )
    .body("object"),
    Op::new(DELETE, "/keys/{name}", "keys", "Revokes a gateway key"),
    Op::new(PATCH, "/keys/{name}", "keys", "Edits a gateway key's models, enabled flag, limits, team or cache flag")
        .body("object"),
    // Runtime state.
    Op::new(GET, "/accounts", "state", "Every account with its routing state"),
    Op::new(POST, "/accounts/{id}/reset", "state", "Clears an account's cooldown"),
    Op::new(POST, "/providers/{id}/reset-breaker", "state", "Closes a provider's circuit breaker"),
    Op::new(GET, "/usage", "observe", "The latest usage rows, newest first").query(USAGE_QUERY),
    Op::new(GET, "/status", "state", "Version, uptime, executor restarts and faults"),
    // Configuration (the write side): live without a restart, every change audited.
    Op::new(GET, "/providers", "providers", "Custom providers, then the built-in catalog (builtin: true)"),
    Op::new(POST, "/providers", "providers", "Creates a custom provider").body("object"),
    Op::new(GET, "/providers/{id}", "providers", "One provider"),
    Op::new(PATCH, "/providers/{id}", "providers", "Edits a custom provider made through the API").body("object"),
    Op::new(DELETE, "/providers/{id}", "providers", "Deletes a custom provider that has no accounts"),
    Op::new(POST, "/accounts", "accounts", "Creates an account; its key is sealed and never shown again")
        .body("object"),
    Op::new(GET, "/accounts/{id}", "accounts", "One account with its settings and routing state"),
    Op::new(PATCH, "/accounts/{id}", "accounts", "Edits an account made through the API").body("object"),
    Op::new(DELETE, "/accounts/{id}", "accounts", "Deletes an account (requests in flight on it finish)"),
    Op::new(POST, "/accounts/{id}/test", "accounts", "One minimal request upstream: {ok, status, latency_ms, error?}"),
    Op::new(
        POST,
        "/accounts/{id}/quota/poll",
        "accounts",
        "Polls a subscription account's usage endpoint now; its windows",
    ),
    // Subscription sign-in (OAuth): never a token in an answer.
    Op::new(GET, "/oauth/providers", "oauth", "The subscription providers and how each signs in"),
    Op::new(POST, "/oauth/{provider}/start", "oauth", "Starts a sign-in: a page to open (PKCE) or a device code")
        .body("object"),
    Op::new(GET, "/oauth/{provider}/callback", "oauth", "The provider's redirect back (code, state): a small page"),
    Op::new(POST, "/oauth/{provider}/callback", "oauth", "Finishes a PKCE sign-in with the pasted code").body("object"),
    Op::new(GET, "/oauth/{provider}/flows/{id}", "oauth", "A sign-in's state: pending, done (account) or failed"),
    Op::new(POST, "/oauth/{provider}/import", "oauth", "Imports an official CLI's credentials (a dead one is refused)")
        .body("object"),
    Op::new(GET, "/combos", "combos", "Every combo"),
    Op::new(POST, "/combos", "combos", "Creates a combo").body("object"),
    Op::new(GET, "/combos/{name}", "combos", "One combo"),
    Op::new(PUT, "/combos/{name}", "combos", "Replaces a combo's strategy and targets").body("object"),
    Op::new(DELETE, "/combos/{name}", "combos", "Deletes a combo"),
    Op::new(GET, "/aliases", "aliases", "Every model alias"),
    Op::new(POST, "/aliases", "aliases", "Creates a model alias").body("object"),
    Op::new(DELETE, "/aliases/{alias}", "aliases", "Deletes a model alias"),
    Op::new(GET, "/transforms", "transforms", "Every request transform, in application order, with its source"),
    Op::new(POST, "/transforms", "transforms", "Creates a request transform (after the last unless `position`)")
        .body("object"),
    Op::new(PUT, "/transforms/{name}", "transforms", "Replaces a request transform made through the API")
        .body("object"),
    Op::new(DELETE, "/transforms/{name}", "transforms", "Deletes a request transform made through the API"),
    Op::new(GET, "/pricing", "pricing", "Prices per million tokens (catalog, config and operator rows)")
        .query(pricing::LIST_QUERY),
    Op::new(
        PUT,
        "/pricing",
        "pricing",
        "Sets one price {provider, model, input, output, cache_read?, cache_write?, reasoning?}",
    )
    .body("object"),
    Op::new(DELETE, "/pricing", "pricing", "Deletes a price (the model is unpriced from the next request)")
        .query(pricing::DELETE_QUERY),
    Op::new(
        GET,
        "/settings",
        "settings",
        "routing, resilience, upstream and usage in effect, with the stored overrides",
    ),
    Op::new(PATCH, "/settings", "settings", "Changes settings live (null drops an override)").body("object"),
    Op::new(GET, "/audit", "audit", "The audit log of admin changes, newest first").query(AUDIT_QUERY),
    // Observability (the read side).
    Op::new(GET, "/requests", "observe", "The request log, newest first, cursor-paginated")
        .query(requests::QUERY)
        .returns("RequestPage"),
    Op::new(GET, "/requests/{id}", "observe", "One request with every upstream attempt (row id or request id)")
        .returns("RequestDetail"),
    Op::new(GET, "/usage/summary", "observe", "Totals and time buckets of requests, errors, tokens and cost")
        .query(usage_summary::QUERY)
        .returns("UsageSummary"),
    Op::new(GET, "/backup", "data", "A consistent snapshot of the SQLite database, taken while traffic runs"),
    Op::new(GET, "/usage/export", "observe", "Every usage row in a time range as CSV or JSON lines, streamed")
        .query(super::export::QUERY),
    Op::new(GET, "/health", "observe", "Breakers, cooldowns, lockouts, in-flight and latency percentiles")
        .returns("Health"),
    Op::new(GET, "/tools", "tools", "Each coding tool's settings for this gateway (what `omnigate setup` writes)")
        .query(tools::QUERY),
    Op::new(GET, "/openapi.json", "meta", "This document"),
    // Playground.
    Op::new(POST, "/playground/preview", "playground", "The upstream request a message would become (nothing sent)")
        .body("PlaygroundRequest")
        .returns("PlaygroundPreview"),
    Op::new(POST, "/playground/send", "playground", "Sends a message through the pipeline, answering in its dialect")
        .body("PlaygroundRequest")
        .streams(),
];

/// `{name}` and `{name:regex}` segments → `{name}` (the OpenAPI spelling).
pub fn openapi_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    out.push_str("/api");
    let mut in_param = false;
    let mut skipping = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push(c);
            }
            '}' if in_param => {
                in_param = false;
                skipping = false;
                out.push(c);
            }
            ':' if in_param => skipping = true,
            _ if skipping => {}
            _ => out.push(c),
        }
    }
    out
}

/// The names of a path's `{parameters}`.
fn path_params(path: &str) -> Vec<&str> {
    path.split('{').skip(1).filter_map(|s| s.split('}').next()).map(|s| s.split(':').next().unwrap_or(s)).collect()
}

fn schema_ref(name: &str) -> Value {
    if name == "object" { json!({"type": "object"}) } else { json!({"$ref": format!("#/components/schemas/{name}")}) }
}

fn param_schema(kind: Kind) -> Value {
    match kind {
        Kind::Str => json!({"type": "string"}),
        Kind::Int => json!({"type": "integer"}),
        Kind::OneOf(values) => json!({"type": "string", "enum": values}),
    }
}

fn operation(op: &Op) -> Value {
    let mut params: Vec<Value> = path_params(op.path)
        .into_iter()
        .map(|n| json!({"name": n, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    params.extend(op.query.iter().map(|p| {
        json!({"name": p.name, "in": "query", "required": false, "description": p.doc, "schema": param_schema(p.kind)})
    }));
    let mut ok = Map::new();
    ok.insert("application/json".into(), json!({"schema": schema_ref(op.returns)}));
    if op.streams {
        ok.insert("text/event-stream".into(), json!({"schema": {"type": "string"}}));
    }
    let error = json!({"description": "An error (400 names the bad field or parameter; 401 without a session; 404 for unknown ids)",
        "content": {"application/json": {"schema": schema_ref("Error")}}});
    let mut o = json!({
        "tags": [op.tag],
        "summary": op.summary,
        "operationId": format!("{}{}", op.verb.as_str(), op.path.replace(['/', '{', '}', '.', '-'], "_")),
        "responses": {"200": {"description": "OK", "content": ok}, "default": error},
    });
    if !params.is_empty() {
        o["parameters"] = Value::Array(params);
    }
    if let Some(b) = op.body {
        o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": schema_ref(b)}}});
    }
    if op.public {
        o["security"] = json!([]);
    }
    o
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in SPEC {
        let item = paths.entry(openapi_path(op.path)).or_insert_with(|| json!({}));
        item[op.verb.as_str()] = operation(op);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Omnigate admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The JSON API under /api/ that the dashboard uses. Every route but login needs a dashboard session cookie or the management token (Authorization: Bearer). A viewer's session opens only the reads of usage, requests and health (403 otherwise).",
        },
        "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "the management token (OMNIGATE_ADMIN_TOKEN)"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE},
            },
            "schemas": schemas::all(),
        },
    })
}

/// `GET /api/openapi.json`
pub(super) async fn serve(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    HttpResponse::Ok().json(document())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_registered_path_is_in_the_spec_and_back() {
        let registered: BTreeSet<String> = super::super::registered_paths().iter().map(|p| openapi_path(p)).collect();
        let spec: BTreeSet<String> = SPEC.iter().map(|o| openapi_path(o.path)).collect();
        let missing: Vec<_> = registered.difference(&spec).collect();
        let stale: Vec<_> = spec.difference(&registered).collect();
        assert!(missing.is_empty(), "routes without a line in openapi::SPEC: {missing:?}");
        assert!(stale.is_empty(), "SPEC lines without a route in admin::routes: {stale:?}");
    }

    #[test]
    fn no_operation_is_listed_twice_and_every_schema_exists() {
        let mut seen = BTreeSet::new();
        for op in SPEC {
            assert!(seen.insert((op.verb.as_str(), openapi_path(op.path))), "{} {} twice", op.verb.as_str(), op.path);
        }
        let doc = document();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().cloned().unwrap_or_default();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            assert!(schemas.contains_key(&name), "schema `{name}` is referenced but not defined");
        }
    }

    #[test]
    fn paths_render_in_openapi_spelling() {
        assert_eq!(openapi_path("/keys/{name}"), "/api/keys/{name}");
        assert_eq!(openapi_path("/a/{id:\\d+}/b"), "/api/a/{id}/b");
        assert_eq!(path_params("/a/{id:\\d+}/b/{x}"), vec!["id", "x"]);
    }
}
