//! The dashboard's playground: `POST /api/playground/preview` shows the upstream request the
//! gateway would build for a message in a client dialect (the translator made visible; nothing
//! is leased or sent), and `POST /api/playground/send` serves that message through the real
//! pipeline, answering exactly as that dialect's client endpoint would. Credentials never appear:
//! the preview builds its call without one, and scrubs credential headers and query keys anyway.

use std::sync::Arc;

use actix::Addr;
use actix_web::{HttpRequest, HttpResponse, web};
use actors::executor::Target;
use actors::executor::actor::ExecutorActor;
use actors::router::messages::{AccountStatus, GetRoutingView, LeaseGrant};
use actors::router::slot::{Slot, SlotGuard};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{fail, guarded};
use crate::error::GatewayError;
use crate::keys::KeyInfo;
use crate::pipeline::plan::Attempt;
use crate::pipeline::{self, Inbound, Op, Plan, resolve};
use crate::protocol::Dialect;
use crate::protocol::shape::{self, Surface};
use crate::providers::AccountInfo;
use crate::routes::common::{check_model_name, echo, meta, parse_object, read_body_limited};
use crate::state::AppState;
use crate::store::now_ms;
use crate::translate::thinking::Policy;

/// The key name playground requests are recorded under.
pub const PLAYGROUND_KEY: &str = "admin:playground";

/// Largest playground request body.
const BODY_LIMIT: usize = 1024 * 1024;

/// Output tokens asked of Anthropic (where the field is required) when none were given.
const DEFAULT_MAX_TOKENS: u32 = 1024;

/// Headers never shown, whatever built them.
const SECRET_HEADERS: [&str; 5] = ["authorization", "x-api-key", "x-goog-api-key", "cookie", "proxy-authorization"];

/// A playground request (see the OpenAPI schema `PlaygroundRequest`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ask {
    dialect: String,
    model: String,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    body: Option<Map<String, Value>>,
}

/// A checked playground request: the dialect, the model, and the client body it stands for.
#[derive(Debug)]
struct Prepared {
    dialect: Dialect,
    model: String,
    stream: bool,
    client_body: Map<String, Value>,
}

/// The body a client of `dialect` would send for one user message.
fn message_body(d: Dialect, model: &str, stream: bool, message: &str, system: Option<&str>, max: Option<u32>) -> Value {
    match d {
        Dialect::OpenaiChat => {
            let mut messages = Vec::new();
            if let Some(s) = system {
                messages.push(json!({"role": "system", "content": s}));
            }
            messages.push(json!({"role": "user", "content": message}));
            let mut b = json!({"model": model, "stream": stream, "messages": messages});
            if let Some(m) = max {
                b["max_tokens"] = json!(m);
            }
            b
        }
        Dialect::OpenaiResponses => {
            let mut b = json!({"model": model, "stream": stream, "input": message});
            if let Some(s) = system {
                b["instructions"] = json!(s);
            }
            if let Some(m) = max {
                b["max_output_tokens"] = json!(m);
            }
            b
        }
        Dialect::Anthropic => {
            let mut b = json!({
                "model": model, "stream": stream, "max_tokens": max.unwrap_or(DEFAULT_MAX_TOKENS),
                "messages": [{"role": "user", "content": message}],
            });
            if let Some(s) = system {
                b["system"] = json!(s);
            }
            b
        }
        // Gemini names the model and streaming in the URL, not the body.
        Dialect::Gemini => {
            let mut b = json!({"contents": [{"role": "user", "parts": [{"text": message}]}]});
            if let Some(s) = system {
                b["systemInstruction"] = json!({"parts": [{"text": s}]});
            }
            if let Some(m) = max {
                b["generationConfig"] = json!({"maxOutputTokens": m});
            }
            b
        }
    }
}

/// Reads and checks a playground request; every refusal is a 400 naming the field.
async fn prepare(req: &HttpRequest, payload: web::Payload, state: &AppState) -> Result<Prepared, GatewayError> {
    let raw = read_body_limited(req, payload, state, BODY_LIMIT).await?;
    let ask: Ask = serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(&raw)).map_err(|e| {
        let path = e.path().to_string();
        let inner = echo(&e.into_inner().to_string(), 160);
        if path == "." {
            GatewayError::BadRequest(format!("expected a JSON playground request: {inner}"))
        } else {
            GatewayError::BadRequest(format!("bad field `{path}`: {inner}"))
        }
    })?;
    let dialect = Dialect::parse(ask.dialect.trim()).ok_or_else(|| {
        GatewayError::BadRequest(format!(
            "bad field `dialect`: `{}` is not one of openai-chat, openai-responses, anthropic, gemini",
            echo(&ask.dialect, 40)
        ))
    })?;
    let model = ask.model.trim().to_string();
    if model.is_empty() {
        return Err(GatewayError::BadRequest("bad field `model`: required, e.g. `provider/model`".into()));
    }
    check_model_name(&model)?;
    let stream = ask.stream.unwrap_or(true);
    let client_body = match (ask.body, ask.message.as_deref()) {
        (Some(mut b), _) => {
            if dialect == Dialect::Gemini {
                b.remove("model");
                b.remove("stream");
            } else {
                b.insert("model".into(), json!(model));
                b.insert("stream".into(), json!(stream));
            }
            b
        }
        (None, Some(m)) if !m.trim().is_empty() => {
            match message_body(dialect, &model, stream, m, ask.system.as_deref(), ask.max_tokens) {
                Value::Object(o) => o,
                _ => Map::new(),
            }
        }
        (None, Some(_) | None) => {
            return Err(GatewayError::BadRequest(
                "bad field `message`: a non-empty message is required (or a whole client `body`)".into(),
            ));
        }
    };
    Ok(Prepared { dialect, model, stream, client_body })
}

/// The plan a client endpoint of the dialect would make of the body.
fn plan(p: &Prepared) -> Result<Plan, GatewayError> {
    let bytes = serde_json::to_vec(&p.client_body).map_err(|e| GatewayError::Internal(e.to_string()))?;
    let object = parse_object(&bytes)?;
    shape::check(Surface::Generate(p.dialect), &object)
        .map_err(|e| GatewayError::BadRequest(format!("bad field `body`: {e}")))?;
    let mut plan = Plan::new(p.dialect, Op::Generate, object);
    match p.dialect {
        Dialect::OpenaiChat => {
            plan.client_wants_usage =
                p.client_body.get("stream_options").and_then(|o| o.get("include_usage")) == Some(&Value::Bool(true));
            if p.client_body.get("messages").is_none() && p.client_body.get("input").is_some() {
                plan.request_dialect = Dialect::OpenaiResponses;
            }
        }
        // The playground reads Gemini streams as `alt=sse`, as the SDKs do.
        Dialect::Gemini => plan.gemini_sse = true,
        Dialect::OpenaiResponses | Dialect::Anthropic => {}
    }
    Ok(plan)
}

/// The account the router would most likely pick: enabled, not cooling, best priority.
fn likely_account<'a>(
    view: &[AccountStatus],
    reg: &'a crate::providers::Registry,
    provider: &str,
) -> Option<&'a AccountInfo> {
    let now = now_ms();
    let mut candidates: Vec<&AccountStatus> = view.iter().filter(|a| a.provider == provider && a.enabled).collect();
    candidates.sort_by_key(|a| (a.cooldown_until > now, a.priority, a.id));
    candidates
        .first()
        .and_then(|a| reg.account(a.id))
        .or_else(|| reg.accounts.iter().find(|a| a.provider == provider && a.enabled))
}

/// A URL without userinfo and without a `key=` query parameter.
fn scrub_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    let kept: Vec<&str> = query.split('&').filter(|kv| !kv.is_empty() && !kv.starts_with("key=")).collect();
    let q = if kept.is_empty() { String::new() } else { format!("?{}", kept.join("&")) };
    if scheme.is_empty() { format!("{authority}{path}{q}") } else { format!("{scheme}://{authority}{path}{q}") }
}

/// The path (and scrubbed query) of a URL.
fn url_path(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or_else(|| "/".to_string(), |i| rest[i..].to_string())
}

/// `POST /api/playground/preview`
pub(super) async fn preview(req: HttpRequest, state: web::Data<AppState>, payload: web::Payload) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    match build_preview(&req, &state, payload).await {
        Ok(v) => HttpResponse::Ok().json(v),
        Err(e) => fail(e),
    }
}

async fn build_preview(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Result<Value, GatewayError> {
    let p = prepare(req, payload, state).await?;
    let plan = plan(&p)?;
    let reg = state.runtime.registry();
    let targets = resolve::resolve(&reg, &p.model, None)?;
    let Some(t) = targets.first() else {
        return Err(GatewayError::NotFound(format!("model `{}` resolves to nothing", echo(&p.model, 64))));
    };
    let Some(provider) = reg.provider(&t.provider) else {
        return Err(GatewayError::NotFound(format!("unknown provider `{}`", t.provider)));
    };
    let view = state
        .runtime
        .router
        .send(GetRoutingView)
        .await
        .map_err(|_| GatewayError::Internal("the router is not running".into()))?;
    let account = likely_account(&view, &reg, &provider.id);
    // A lease in name only: no credential, no actors, a slot of its own (nothing is counted).
    let grant = LeaseGrant {
        account_id: account.map_or(0, |a| a.id),
        account_name: account.map_or("", |a| a.name.as_str()).into(),
        provider: provider.id.as_str().into(),
        base_url: account.map_or(provider.base_url.as_str(), |a| a.base_url.as_str()).into(),
        credential: None,
        probe: false,
        account_clean: true,
        breaker_clean: true,
        account: None,
        breaker: None,
        guard: SlotGuard::take(&Arc::new(Slot::default()), now_ms()),
        streak: Default::default(),
        probe_ticket: None,
    };
    // The demo provider answers in-process; built as an HTTP call its body becomes visible.
    let mut shown = provider.clone();
    shown.local = false;
    let rules = reg.rules_for(provider.dialect, &t.model);
    let transforms = crate::pipeline::transform::covering(&reg, &t.provider, &t.model, &p.model);
    let call = plan.build(&Attempt {
        provider: &shown,
        info: reg.model(&t.provider, &t.model),
        lease: &grant,
        account: account.map(|a| &a.options),
        rules: &rules,
        thinking: Policy::pick(None, &state.config.thinking, &t.label()),
        model: &t.model,
        stream: p.stream,
        transforms: &transforms,
        on_response_id: None,
        continue_from: None,
    })?;
    let (method, url, headers, body) = match call.target {
        Target::Http { method, url, headers, body } => (method, url, headers, body),
        Target::Local(_) | Target::Upload { .. } => {
            return Err(GatewayError::Internal("the preview call was not built as a JSON HTTP call".into()));
        }
    };
    let mut shown_headers = Map::new();
    for (k, v) in headers {
        if !SECRET_HEADERS.contains(&k.to_ascii_lowercase().as_str()) {
            shown_headers.insert(k, Value::String(v));
        }
    }
    let body: Value =
        serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let url = scrub_url(&url);
    let local = provider.local;
    Ok(json!({
        "model": p.model,
        "client_dialect": p.dialect.as_str(),
        "client_body": p.client_body,
        "stream": p.stream,
        "target": t.label(),
        "fallbacks": targets.iter().skip(1).map(|t| t.label()).collect::<Vec<_>>(),
        "provider": provider.id,
        "upstream_model": t.model,
        "account": account.map(|a| a.name.as_str()),
        "upstream_dialect": provider.dialect.as_str(),
        "mode": if provider.dialect == p.dialect && plan.request_dialect == p.dialect { "passthrough" } else { "translate" },
        "method": (!local).then(|| method.to_string()),
        "path": (!local).then(|| url_path(&url)),
        "url": (!local).then_some(url),
        "headers": shown_headers,
        "body": body,
    }))
}

/// `POST /api/playground/send`: the request runs through the pipeline under the key name
/// `admin:playground` (every model allowed), and the answer is the dialect's own.
pub(super) async fn send(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    let p = match prepare(&req, payload, &state).await {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let plan = match plan(&p) {
        Ok(plan) => plan,
        Err(e) => return fail(e),
    };
    let key = KeyInfo {
        name: PLAYGROUND_KEY.into(),
        models: vec!["*".into()],
        limits: Default::default(),
        team: None,
        cache: false,
    };
    let inbound = Inbound { model: p.model, stream: p.stream, plan, pinned: None };
    pipeline::serve(&state, &exec, meta(&req, Some(key)), inbound).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_userinfo_and_query_keys() {
        assert_eq!(
            scrub_url("https://u:p@h.example/v1beta/models/m:x?alt=sse&key=SECRET"),
            "https://h.example/v1beta/models/m:x?alt=sse"
        );
        assert_eq!(scrub_url("http://h/v1/chat/completions?key=S"), "http://h/v1/chat/completions");
        assert_eq!(url_path("http://h:1/v1/messages"), "/v1/messages");
    }

    #[test]
    fn message_bodies_per_dialect() {
        let a = message_body(Dialect::Anthropic, "m", true, "hi", Some("sys"), None);
        assert_eq!((a["max_tokens"].as_u64(), a["system"].as_str()), (Some(1024), Some("sys")));
        let g = message_body(Dialect::Gemini, "m", true, "hi", None, Some(5));
        assert!(g.get("model").is_none());
        assert_eq!(g["generationConfig"]["maxOutputTokens"], 5);
        let r = message_body(Dialect::OpenaiResponses, "m", false, "hi", None, None);
        assert_eq!((r["input"].as_str(), r["stream"].as_bool()), (Some("hi"), Some(false)));
    }
}
