//! `/api/oauth/...`: the dashboard's side of subscription sign-in. `start` begins a provider's
//! flow (a PKCE page to open, or a device code the server polls in the background), `callback`
//! finishes a PKCE flow (the browser's redirect, or the code pasted back), `flows/{id}` tells a
//! device flow's outcome, `import` takes an official CLI's credential file. Every sign-in is
//! audited (without tokens) and made live before the answer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::change::{AdminError, Who, admit, answer, apply, object_body, parse};
use crate::oauth::cli::Target;
use crate::oauth::flow::{self, FlowError};
use crate::oauth::pending::{FlowState, PKCE_TTL_MS, Pending};
use crate::oauth::store::{self, SignIn};
use crate::oauth::{EndpointOverrides, FlowKind, Grant, Kind};
use crate::state::AppState;
use crate::store::{audit, now_ms};

const START: &str = "{\"name\"?, \"base_url\"?, \"endpoints\"?: {\"token_url\"?, \"authorize_url\"?, \"device_url\"?, \"device_token_url\"?, \"usage_url\"?, \"redirect_uri\"?}}";
const CALLBACK: &str =
    "{\"flow_id\", \"code\"}: the code the provider's page showed, or the address the browser was sent to";
const IMPORT: &str =
    "{\"credentials\": <the credential file's JSON, or its text>, \"name\"?, \"base_url\"?, \"endpoints\"?}";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    endpoints: EndpointOverrides,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallbackBody {
    flow_id: String,
    code: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportBody {
    credentials: Value,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    endpoints: EndpointOverrides,
}

/// The callback's query (the provider's redirect).
#[derive(Debug, Deserialize)]
pub(super) struct CallbackQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

fn kind_of(provider: &str) -> Result<Kind, AdminError> {
    Kind::parse(provider).ok_or_else(|| {
        AdminError::NotFound(format!(
            "`{provider}` is not a subscription provider (claude-code, codex, gemini-cli, github-copilot, qwen-code)"
        ))
    })
}

fn flow_error(e: FlowError) -> AdminError {
    AdminError::field("code", e.to_string())
}

/// What the dashboard reads of a sign-in that failed after the provider's part (never a
/// database cause: that is logged).
fn failure(e: AdminError) -> String {
    match e {
        AdminError::Field { field, message } => format!("`{field}`: {message}"),
        AdminError::NotFound(m) | AdminError::Conflict(m) | AdminError::Apply(m) => m,
        AdminError::Db(e) => {
            tracing::error!(error = %e, "storing a device sign-in failed");
            "database error".into()
        }
    }
}

/// Stores a sign-in, audits it and makes it live; answers the account (no token).
async fn signed_in(
    state: &AppState,
    who: &Who,
    kind: Kind,
    target: &Target,
    grant: Grant,
) -> Result<Value, AdminError> {
    let name = target.name.clone().or_else(|| grant.label().map(str::to_string)).unwrap_or_else(|| "default".into());
    let s = SignIn { kind, name, grant, endpoints: target.endpoints.clone(), base_url: target.base_url.clone() };
    let row = store::sign_in(&state.db, &state.sealer, &s).await?;
    let after = json!({"id": row.id, "provider": row.provider, "name": row.name, "enabled": row.enabled});
    audit::record(&state.db, who.change("account", row.id.to_string(), "sign_in", None, Some(after.clone()))).await?;
    apply(state).await?;
    Ok(after)
}

/// `GET /api/oauth/providers`: the subscription providers and how each signs in.
pub(super) async fn providers(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = admit(&req, &state) {
        return *r;
    }
    let list: Vec<Value> = Kind::ALL
        .iter()
        .map(|k| json!({"id": k.id(), "alias": k.alias(), "flow": k.flow(), "how": flow::describe(*k)}))
        .collect();
    answer(StatusCode::OK, Ok(json!({"providers": list})))
}

async fn start_inner(state: &AppState, who: &Who, kind: Kind, body: Map<String, Value>) -> Result<Value, AdminError> {
    let b: StartBody = parse(Value::Object(body))?;
    let target = Target { name: b.name, endpoints: b.endpoints, base_url: b.base_url };
    let ep = kind.default_endpoints().with(&target.endpoints);
    let now = now_ms();
    let flows = &state.runtime.oauth.flows;
    match kind.flow() {
        FlowKind::PasteBack | FlowKind::Loopback => {
            let f = flow::pkce_start(kind, &ep).map_err(flow_error)?;
            let id = f.pkce.state.clone();
            let url = f.url.clone();
            let p = Pending { kind, target, pkce: Some(f), expires_at: now + PKCE_TTL_MS, state: Default::default() };
            flows.insert(id.clone(), p, now);
            Ok(json!({"flow": kind.flow(), "flow_id": id, "authorize_url": url, "redirect_uri": ep.redirect_uri,
                      "expires_at": now + PKCE_TTL_MS, "how": flow::describe(kind)}))
        }
        FlowKind::Device => {
            let code = flow::device_start(kind, &ep, now).await.map_err(|e| AdminError::Apply(e.to_string()))?;
            let id = crate::secrets::random_token(18);
            let state_cell = std::sync::Arc::new(std::sync::Mutex::new((FlowState::Pending, now)));
            let p =
                Pending { kind, target: target.clone(), pkce: None, expires_at: code.expires_at, state: state_cell };
            flows.insert(id.clone(), p.clone(), now);
            let answer = json!({"flow": "device", "flow_id": id, "user_code": code.user_code,
                "verification_uri": code.verification_uri, "verification_uri_complete": code.verification_uri_complete,
                "expires_at": code.expires_at, "interval_ms": code.interval_ms});
            let (st, who) = (state.clone(), who.clone());
            actix_rt::spawn(async move {
                let outcome = match flow::device_wait(kind, &ep, &code, |_| {}).await {
                    Ok(grant) => match signed_in(&st, &who, kind, &p.target, grant).await {
                        Ok(v) => FlowState::Done {
                            account_id: v["id"].as_i64().unwrap_or_default(),
                            name: v["name"].as_str().unwrap_or_default().to_string(),
                        },
                        Err(e) => FlowState::Failed { error: failure(e) },
                    },
                    Err(e) => FlowState::Failed { error: e.to_string() },
                };
                p.finish(outcome, now_ms());
            });
            Ok(answer)
        }
    }
}

/// `POST /api/oauth/{provider}/start`: a PKCE page to open, or a device code to enter.
pub(super) async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    provider: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let kind = match kind_of(&provider) {
        Ok(k) => k,
        Err(e) => return e.response(),
    };
    let body = match object_body(&req, payload, &state, START).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    answer(StatusCode::OK, start_inner(&state, &who, kind, body).await)
}

async fn finish(state: &AppState, who: &Who, kind: Kind, flow_id: &str, pasted: &str) -> Result<Value, AdminError> {
    let now = now_ms();
    let p = state
        .runtime
        .oauth
        .flows
        .get(flow_id, now)
        .filter(|p| p.kind == kind && p.state() == FlowState::Pending)
        .ok_or_else(|| {
        AdminError::NotFound("no sign-in waiting with this id (it expired or finished); start again".into())
    })?;
    let Some(f) = p.pkce.clone() else { return Err(AdminError::field("flow_id", "this sign-in is a device flow")) };
    let ep = kind.default_endpoints().with(&p.target.endpoints);
    let grant = match flow::pkce_finish(&f, &ep, pasted, now).await {
        Ok(g) => g,
        Err(e) => {
            p.finish(FlowState::Failed { error: e.to_string() }, now_ms());
            return Err(flow_error(e));
        }
    };
    let v = signed_in(state, who, kind, &p.target, grant).await?;
    p.finish(
        FlowState::Done {
            account_id: v["id"].as_i64().unwrap_or_default(),
            name: v["name"].as_str().unwrap_or_default().to_string(),
        },
        now_ms(),
    );
    Ok(v)
}

/// `POST /api/oauth/{provider}/callback {flow_id, code}`: finishes a PKCE sign-in with the
/// pasted code (or redirected address).
pub(super) async fn callback_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    provider: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let kind = match kind_of(&provider) {
        Ok(k) => k,
        Err(e) => return e.response(),
    };
    let body = match object_body(&req, payload, &state, CALLBACK).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let res = match parse::<CallbackBody>(Value::Object(body)) {
        Ok(b) => finish(&state, &who, kind, &b.flow_id, &b.code).await,
        Err(e) => Err(e),
    };
    answer(StatusCode::CREATED, res)
}

fn page(status: StatusCode, title: &str, text: &str) -> HttpResponse {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    HttpResponse::build(status).content_type("text/html; charset=utf-8").body(format!(
        "<!doctype html><meta charset=utf-8><title>{t}</title><p>{b}</p><p><a href=\"/dashboard\">Back to the dashboard</a></p>",
        t = esc(title),
        b = esc(text)
    ))
}

/// `GET /api/oauth/{provider}/callback?code&state`: where a provider redirects the browser
/// when the redirect URI points at the gateway; answers a small page.
pub(super) async fn callback_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    provider: web::Path<String>,
    q: web::Query<CallbackQuery>,
) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let Ok(kind) = kind_of(&provider) else { return page(StatusCode::NOT_FOUND, "Unknown provider", &provider) };
    if let Some(e) = &q.error {
        let text = q.error_description.as_deref().map_or(e.clone(), |d| format!("{e}: {d}"));
        return page(StatusCode::BAD_REQUEST, "Sign-in refused", &text);
    }
    let (Some(code), Some(flow_id)) = (&q.code, &q.state) else {
        return page(StatusCode::BAD_REQUEST, "Sign-in failed", "the provider sent no code");
    };
    let pasted = format!("{code}#{flow_id}");
    match finish(&state, &who, kind, flow_id, &pasted).await {
        Ok(v) => page(
            StatusCode::OK,
            "Signed in",
            &format!("{} account `{}` is ready.", kind.id(), v["name"].as_str().unwrap_or_default()),
        ),
        Err(e) => {
            let r = e.response();
            page(
                r.status(),
                "Sign-in failed",
                "the code could not be exchanged; start the sign-in again from the dashboard",
            )
        }
    }
}

/// `GET /api/oauth/{provider}/flows/{id}`: a sign-in's state (`pending`, `done` with the
/// account, or `failed` with the reason).
pub(super) async fn flow_state(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    if let Err(r) = admit(&req, &state) {
        return *r;
    }
    let (provider, id) = path.into_inner();
    let res = match state.runtime.oauth.flows.get(&id, now_ms()) {
        Some(p) if Some(p.kind) == Kind::parse(&provider) => {
            let mut v = json!(p.state());
            v["expires_at"] = json!(p.expires_at);
            Ok(v)
        }
        Some(_) | None => {
            Err(AdminError::NotFound("no such sign-in (it expired, or finished more than 10 min ago)".into()))
        }
    };
    answer(StatusCode::OK, res)
}

async fn import_inner(state: &AppState, who: &Who, kind: Kind, body: Map<String, Value>) -> Result<Value, AdminError> {
    let b: ImportBody = parse(Value::Object(body))?;
    let text = match &b.credentials {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let target = Target { name: b.name, endpoints: b.endpoints, base_url: b.base_url };
    let ep = kind.default_endpoints().with(&target.endpoints);
    let label = std::path::Path::new("the pasted credentials");
    let grant = crate::oauth::import::import_text(kind, &text, label, &ep, now_ms())
        .await
        .map_err(|e| AdminError::field("credentials", e.to_string()))?;
    signed_in(state, who, kind, &target, grant).await
}

/// `POST /api/oauth/{provider}/import {credentials, name?}`: an official CLI's credential file,
/// its refresh token checked (a dead one is refused here).
pub(super) async fn import(
    req: HttpRequest,
    state: web::Data<AppState>,
    provider: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let who = match admit(&req, &state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let kind = match kind_of(&provider) {
        Ok(k) => k,
        Err(e) => return e.response(),
    };
    let body = match object_body(&req, payload, &state, IMPORT).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    answer(StatusCode::CREATED, import_inner(&state, &who, kind, body).await)
}

/// `POST /api/accounts/{id}/quota/poll`: asks the account's usage endpoint now; answers the
/// windows.
pub(super) async fn poll_quota(req: HttpRequest, state: web::Data<AppState>, id: web::Path<i64>) -> HttpResponse {
    if let Err(r) = admit(&req, &state) {
        return *r;
    }
    let id = *id;
    let res = match state.runtime.oauth.poller(id) {
        Some(p) => match p.send(actors::quota::poller::PollNow).await {
            Ok(Ok(())) => Ok(crate::oauth::api::quota(&state, id).await),
            Ok(Err(e)) => Err(AdminError::Apply(format!("the usage endpoint failed: {e}"))),
            Err(_) => Err(AdminError::Apply("the usage poller is not running".into())),
        },
        None => Err(AdminError::NotFound(format!("account {id} has no usage endpoint to poll"))),
    };
    answer(StatusCode::OK, res)
}
