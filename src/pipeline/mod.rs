//! The request pipeline: resolve the model → check the key → for each target, lease an account
//! from the router → build the attempt → hand it to this worker's executor → on a retryable failure
//! before any byte reached the client, exclude that account and try the next → respond.

pub mod admit;
pub mod media;
pub mod plan;
pub mod queue;
pub mod resolve;
pub mod resume;
pub mod session;
pub mod stats;
pub mod surfaces;
pub mod transform;
pub mod words;

use std::convert::Infallible;
use std::time::{Duration, Instant};

use actix::Addr;
use actix_web::HttpResponse;
use actix_web::http::header::HeaderValue;
use actors::clock::now_ms;
use actors::executor::actor::ExecutorActor;
use actors::executor::{Completed, ExecContext, ExecOutcome, Execute, Failure, Started};
use actors::outcome::OutcomeKind;
use actors::router::messages::Lease;
use actors::router::table::Unavailable;
use futures_util::StreamExt;

use crate::error::GatewayError;
use crate::keys::KeyInfo;
use crate::state::AppState;
pub use plan::{Op, Plan};
use resolve::Target;

/// What is known about a client request before it is served.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// Request id (echoed as `x-request-id`).
    pub request_id: String,
    /// The request id is the client's own `x-request-id` (an idempotency key when
    /// `[cache] idempotency_from_request_id`).
    pub client_request_id: bool,
    /// `x-omnigate-cache: on | off` (`None`: the key's own setting).
    pub cache: Option<bool>,
    /// The client's `Idempotency-Key`.
    pub idempotency_key: Option<String>,
    /// The caller's key.
    pub key: Option<KeyInfo>,
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Arrival.
    pub started: Instant,
    /// Arrival, ms since the epoch.
    pub ts: i64,
    /// Test hook: make stream translation panic (fault-injection builds only).
    pub inject_panic: bool,
    /// The session key the client's headers carry (`session::from_headers`).
    pub session: Option<String>,
}

/// A request ready to serve.
#[derive(Debug)]
pub struct Inbound {
    /// What the client asked for.
    pub model: String,
    /// Whether the client wants a stream.
    pub stream: bool,
    /// How to build upstream calls.
    pub plan: Plan,
    /// Provider the route pins the request to.
    pub pinned: Option<String>,
}

/// Keeps the targets the key may use: all of them when the requested name (a combo, an alias or
/// a model) is allowed, else those whose `provider/model` is.
pub fn authorize(key: Option<&KeyInfo>, requested: &str, targets: Vec<Target>) -> Result<Vec<Target>, GatewayError> {
    let Some(key) = key else { return Ok(targets) };
    if key.allows(requested) {
        return Ok(targets);
    }
    let allowed: Vec<Target> = targets.into_iter().filter(|t| key.allows(&t.label())).collect();
    if allowed.is_empty() {
        return Err(GatewayError::Forbidden(format!("this API key may not use model `{requested}`")));
    }
    Ok(allowed)
}

/// The request's context while no answer has reached the client: if the client goes away in
/// that time (the handler future is dropped), the usage row is written as a 499 on drop. While an
/// attempt is with the executor the guard is disarmed: the executor (or an unreceived `Failure`)
/// records instead.
struct Unanswered {
    ctx: ExecContext,
    armed: bool,
    /// The key's in-flight slot and budget reservation, held by the answer's body.
    admission: Option<crate::limits::Admission>,
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if self.armed {
            self.ctx.record_unserved(499, "the client disconnected before a response".into());
        }
    }
}

/// Serves one request end to end, answering in the client's dialect. Exactly one usage row is
/// written per request: by the executor for answers that reached the client, here otherwise.
/// A request that asks for the response cache or carries an idempotency key goes through
/// `cache::serve` (one check here; nothing else is done for the others).
pub async fn serve(state: &AppState, exec: &Addr<ExecutorActor>, meta: RequestMeta, inbound: Inbound) -> HttpResponse {
    if crate::cache::wanted(state, &meta) {
        return crate::cache::serve(state, exec, meta, inbound).await;
    }
    serve_with(state, exec, meta, inbound, None).await
}

/// The usage context of a request before any attempt.
pub fn context(state: &AppState, meta: &RequestMeta, inbound: &Inbound) -> ExecContext {
    ExecContext {
        request_id: meta.request_id.clone(),
        key_name: meta.key.as_ref().map(|k| k.name.clone()),
        client_dialect: inbound.plan.client_dialect().as_str().to_string(),
        method: meta.method.clone(),
        path: meta.path.clone(),
        model_label: inbound.model.clone(),
        upstream_model: String::new(),
        started: meta.started,
        ts: meta.ts,
        attempts: Vec::new(),
        price: None,
        subscription: false,
        usage: state.runtime.usage_inbox.clone(),
        inject_panic: meta.inject_panic,
        transforms: Vec::new(),
        spend: None,
        clean_end: None,
    }
}

/// `serve` without the cache check; `clean_end` is set when a stream ends cleanly.
pub async fn serve_with(
    state: &AppState,
    exec: &Addr<ExecutorActor>,
    meta: RequestMeta,
    inbound: Inbound,
    clean_end: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
) -> HttpResponse {
    let dialect = inbound.plan.client_dialect();
    let mut ctx = context(state, &meta, &inbound);
    ctx.clean_end = clean_end;
    let mut guard = Unanswered { ctx, armed: true, admission: None };
    let result = serve_inner(state, exec, &meta, inbound, &mut guard).await;
    guard.armed = false;
    match result {
        Ok(resp) => admit::hold(resp, guard.admission.take()),
        Err(err) => {
            guard.ctx.record_unserved(err.status().as_u16(), err.to_string());
            let mut resp = err.response(dialect);
            if let Ok(v) = HeaderValue::from_str(&meta.request_id) {
                resp.headers_mut().insert(actix_web::http::header::HeaderName::from_static("x-request-id"), v);
            }
            resp
        }
    }
}

/// The message of an upstream client error, without echoing secrets.
fn upstream_message(f: &Failure, secret: Option<&str>) -> String {
    let body = f.upstream_body.as_deref().unwrap_or_default();
    let from_json = serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| {
        // AWS services (Bedrock) answer `{"message": ...}`, with no `error` object.
        let Some(e) = v.get("error") else { return v.get("message").and_then(|m| m.as_str()).map(str::to_string) };
        e.get("message").and_then(|m| m.as_str()).map(str::to_string).or_else(|| e.as_str().map(str::to_string))
    });
    // Redact the whole text first, then shorten: a cut must never leave half a secret behind.
    let mut msg = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    if let Some(s) = secret {
        msg = crate::redact::redact(&msg, s);
    }
    if msg.chars().count() > 500 {
        msg = msg.chars().take(500).chain(std::iter::once('…')).collect();
    }
    if msg.trim().is_empty() { f.message.clone() } else { format!("upstream error: {}", msg.trim()) }
}

/// An error the upstream reported, for the client: its status, its redacted message, and its own
/// error class / type / code when the body says them in `dialect`'s shape.
fn upstream_error(f: &Failure, dialect: crate::protocol::Dialect, secret: Option<&str>) -> GatewayError {
    let detail = f
        .upstream_body
        .as_deref()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .and_then(|v| crate::translate::errors::parse(dialect, &v, f.status))
        .map(Box::new);
    GatewayError::Upstream { status: f.status.unwrap_or(502), message: upstream_message(f, secret), detail }
}

/// What each failed attempt ran into, by provider and account, for the client's error message.
/// (An upstream's words may quote a key: every key this request used is redacted.)
fn attempts_in_words(f: &Failure, secrets: &[String]) -> String {
    let parts: Vec<String> = f
        .ctx
        .attempts
        .iter()
        .map(|a| {
            let mut cause = a.error.clone().unwrap_or_else(|| a.outcome.to_string());
            for s in secrets {
                cause = crate::redact::redact(&cause, s);
            }
            format!("{}/{}: {cause}", a.provider, a.account)
        })
        .collect();
    parts.join("; ")
}

fn final_error(
    last: Option<&Failure>,
    last_upstream: Option<GatewayError>,
    unavailable: &[Unavailable],
    attempts: u32,
    secrets: &[String],
    accounts: Option<&words::Unusable>,
) -> GatewayError {
    let soonest = |pred: fn(&Unavailable) -> Option<i64>| unavailable.iter().filter_map(pred).min();
    let cooling = soonest(|u| match u {
        Unavailable::Cooling { retry_after_ms } => Some(*retry_after_ms),
        _ => None,
    });
    let paced = soonest(|u| match u {
        Unavailable::Paced { retry_after_ms } => Some(*retry_after_ms),
        _ => None,
    });
    let breaker = soonest(|u| match u {
        Unavailable::BreakerOpen { retry_after_ms } => Some(*retry_after_ms),
        _ => None,
    });
    let ms = |v: i64| Some(Duration::from_millis(v.max(0) as u64));
    match last {
        Some(f) => match f.kind {
            OutcomeKind::RateLimited { retry_after } => GatewayError::RateLimited {
                message: format!(
                    "every account is rate limited ({attempts} attempt(s): {})",
                    attempts_in_words(f, secrets)
                ),
                retry_after: retry_after.or_else(|| cooling.and_then(ms)),
            },
            OutcomeKind::Timeout => GatewayError::Timeout(format!(
                "no upstream answered in time ({attempts} attempt(s): {})",
                attempts_in_words(f, secrets)
            )),
            // Trying again will not help: a 503 that tells SDKs not to retry (no Retry-After).
            OutcomeKind::AuthFailed => GatewayError::Unavailable {
                message: format!(
                    "no usable account: the upstream refused the credentials ({attempts} attempt(s): {}); check the accounts' API keys (a subscription account: sign in again)",
                    attempts_in_words(f, secrets)
                ),
                retry_after: None,
            },
            // The upstream said what went wrong (an overloaded_error, a 500 with a body): the status
            // stays ours (every attempt failed: 502), the class, type and code are the upstream's,
            // in the client's dialect.
            OutcomeKind::ServerError
                if matches!(last_upstream, Some(GatewayError::Upstream { detail: Some(_), .. })) =>
            {
                match last_upstream {
                    Some(GatewayError::Upstream { message, detail, .. }) => GatewayError::Upstream {
                        status: 502,
                        message: format!(
                            "all upstream attempts failed ({attempts} attempt(s): {}); last: {message}",
                            attempts_in_words(f, secrets)
                        ),
                        detail,
                    },
                    _ => GatewayError::BadGateway(format!("all upstream attempts failed ({attempts} attempt(s))")),
                }
            }
            // A model the upstream says it does not have: its own 404 is the answer.
            OutcomeKind::ModelUnavailable { .. } if f.status == Some(404) && last_upstream.is_some() => {
                last_upstream.unwrap_or_else(|| GatewayError::BadGateway(String::new()))
            }
            OutcomeKind::ModelUnavailable { retry_after } => GatewayError::RateLimited {
                message: format!(
                    "the model is rate limited or unavailable on every account ({attempts} attempt(s): {})",
                    attempts_in_words(f, secrets)
                ),
                retry_after: retry_after.or_else(|| cooling.and_then(ms)),
            },
            OutcomeKind::ServerError
            | OutcomeKind::ConnectError
            | OutcomeKind::EmptyResponse
            | OutcomeKind::ProtocolError
            | OutcomeKind::ClientError
            | OutcomeKind::Cancelled
            | OutcomeKind::Banned { .. }
            | OutcomeKind::ContextExceeded
            | OutcomeKind::Success => GatewayError::BadGateway(format!(
                "all upstream attempts failed ({attempts} attempt(s): {})",
                attempts_in_words(f, secrets)
            )),
        },
        None => {
            let why = accounts.map(|a| format!(": {}", a.words)).unwrap_or_default();
            if let Some(p) = paced.filter(|p| cooling.is_none_or(|c| *p <= c)) {
                GatewayError::RateLimited {
                    message: "every account is at its pace (rpm, tpm, min_gap_ms) for longer than the gateway waits"
                        .into(),
                    retry_after: ms(p),
                }
            } else if let Some(c) = cooling {
                if accounts.is_some_and(|a| a.only_dead) {
                    // Nothing comes back by itself: the Retry-After is only the next probe.
                    GatewayError::Unavailable { message: format!("no usable account{why}"), retry_after: ms(c) }
                } else {
                    GatewayError::RateLimited {
                        message: format!("every account is cooling down after rate limits or errors{why}"),
                        retry_after: ms(c),
                    }
                }
            } else if let Some(b) = breaker {
                GatewayError::Unavailable {
                    message: "the provider's circuit breaker is open".into(),
                    retry_after: ms(b),
                }
            } else if unavailable.contains(&Unavailable::Busy) {
                GatewayError::RateLimited {
                    message: "every account is at its concurrency limit".into(),
                    retry_after: Some(Duration::from_secs(1)),
                }
            } else {
                GatewayError::Unavailable {
                    message: format!("no enabled account can serve this model{why}"),
                    retry_after: None,
                }
            }
        }
    }
}

async fn serve_inner(
    state: &AppState,
    exec: &Addr<ExecutorActor>,
    meta: &RequestMeta,
    mut inbound: Inbound,
    guard: &mut Unanswered,
) -> Result<HttpResponse, GatewayError> {
    let reg = state.runtime.registry();
    let resolution = resolve::resolve_in(&reg, &state.runtime.targets, &inbound.model, inbound.pinned.as_deref())?;
    inbound.plan.resumable = resolution.resume && inbound.stream && inbound.plan.op == Op::Generate;
    if inbound.plan.resumable {
        // A stream another target may continue is spliced from two answers: never cached.
        guard.ctx.clean_end = None;
    }
    let targets = authorize(meta.key.as_ref(), &inbound.model, resolution.targets)?;
    let mut targets = surfaces::servable(&reg, inbound.plan.op, targets)?;
    guard.admission = admit::admit(state, meta.key.as_ref(), &inbound.plan, &targets).await?;
    guard.ctx.spend = guard.admission.as_ref().and_then(crate::limits::Admission::spend_sink);
    // A session is the client's own: bindings of two keys never mix.
    let key_name = meta.key.as_ref().map_or("", |k| k.name.as_str());
    let chains = &state.runtime.response_chains;
    let responses = inbound.plan.client == crate::protocol::Dialect::OpenaiResponses && inbound.plan.op == Op::Generate;
    let session = meta.session.clone().or_else(|| session::from_body(&inbound.plan.body)).or_else(|| {
        responses.then(|| chains.session_for(key_name, &inbound.plan.body, &meta.request_id, actors::clock::now_ms()))
    });
    let bound: Option<std::sync::Arc<str>> = session.as_ref().map(|s| format!("{key_name}\u{0}{s}").into());
    // Each response id the upstream gives joins this session's chain.
    let on_response_id = session.as_deref().filter(|_| responses).map(|s| chains.hook(key_name, s));
    // A session stays on the combo target that served it while that one serves.
    let combo = resolution.combos.first().filter(|_| bound.is_some());
    if let (Some(c), Some(b)) = (combo, &bound) {
        state.runtime.combo_sessions.prefer(c, b, &mut targets, actors::clock::now_ms());
    }
    let token_cost = inbound.plan.token_estimate();
    let max_attempts = state.runtime.max_attempts();
    let mut attempts = 0u32;
    let mut unavailable: Vec<Unavailable> = Vec::new();
    let mut ticket: Option<queue::Ticket> = None;
    // Targets whose context window is smaller than the request (label, window), and the estimate.
    let mut too_small: Vec<(String, u32)> = Vec::new();
    let mut estimate = 0u64;
    // Requests for the same model wait in one FIFO lane.
    let lane = inbound.model.as_str();
    let mut wait_started: Option<Instant> = None;
    let mut last: Option<Box<Failure>> = None;
    let mut last_upstream: Option<GatewayError> = None;
    let mut refused: Option<GatewayError> = None;
    let mut secrets: Vec<String> = Vec::new();
    // Subscription accounts whose sign-in could not give a token (dead, or the refresh failed).
    let mut no_token: Vec<String> = Vec::new();
    'rounds: loop {
        // Behind requests already waiting for this model: queue behind them, then lease at the
        // head of the lane (the turn is given up with the lease, below).
        if ticket.is_none() && state.runtime.queue.busy(lane) {
            let started = *wait_started.get_or_insert_with(Instant::now);
            admit(state, &mut ticket, lane, started, 0)?;
        }
        if let Some(t) = ticket.as_mut() {
            let started = *wait_started.get_or_insert_with(Instant::now);
            let left = state.runtime.queue.max_wait_ms().saturating_sub(elapsed_ms(started));
            let turn = tokio::select! {
                got = queue::WaitQueue::turn(t, Duration::from_millis(left)) => got,
                () = drained(state) => return Err(shutting_down()),
            };
            if !turn {
                return Err(queue_timeout(&unavailable));
            }
        }
        unavailable.clear();
        // The soonest `Retry-After` a 429 of this round named (its account is then cooling).
        let mut retry_in: Option<i64> = None;
        'targets: for t in &targets {
            let Some(provider) = reg.provider(&t.provider) else {
                continue;
            };
            if let Some(window) = reg.model(&t.provider, &t.model).and_then(|m| m.context)
                && let Some(n) = inbound.plan.exceeds(window, inbound.stream)
            {
                if !too_small.iter().any(|(l, _)| *l == t.label()) {
                    too_small.push((t.label(), window));
                }
                estimate = n;
                continue;
            }
            let mut exclude = Vec::new();
            // After a 401 on an OAuth account: that account and the generation of its refused
            // token, for one retry on the same account with a refreshed token.
            let mut auth_retry: Option<(i64, i64)> = None;
            loop {
                if attempts >= max_attempts {
                    break 'targets;
                }
                let only = auth_retry.map(|(id, _)| crate::oauth::attempt::others(&reg, &t.provider, id));
                let lease = Lease {
                    provider: t.provider.clone(),
                    model: t.model.clone(),
                    exclude: only.unwrap_or_else(|| exclude.clone()),
                    session: bound.clone(),
                    tokens: token_cost,
                };
                let grant = match state.lease(lease).await {
                    Ok(Ok(g)) => {
                        // An account at last: out of the queue, the next in the lane goes.
                        ticket = None;
                        g
                    }
                    Ok(Err(_)) if auth_retry.is_some() => {
                        // The account cannot be leased again right now: on to the others.
                        exclude.extend(auth_retry.take().map(|(id, _)| id));
                        continue;
                    }
                    Ok(Err(u)) => {
                        unavailable.push(u);
                        continue 'targets;
                    }
                    Err(_) => return Err(GatewayError::Internal("the router is not running".into())),
                };
                let retrying = auth_retry.take();
                let sub = state.runtime.oauth.oauth(grant.account_id);
                let tokens = match &sub {
                    Some(s) => match crate::oauth::attempt::tokens(s, retrying.map(|(_, g)| g)).await {
                        Ok(tk) => Some(tk),
                        Err(e) => {
                            no_token.push(format!("{}/{}: {e}", grant.provider, grant.account_name));
                            exclude.push(grant.account_id);
                            continue;
                        }
                    },
                    None => None,
                };
                attempts += 1;
                let info = reg.model(&t.provider, &t.model);
                let rules = reg.rules_for(provider.dialect, &t.model);
                let transforms = transform::covering(&reg, &t.provider, &t.model, &inbound.model);
                let mut call = inbound.plan.build(&plan::Attempt {
                    provider,
                    info,
                    lease: &grant,
                    account: reg.account(grant.account_id).map(|a| &a.options),
                    rules: &rules,
                    thinking: crate::translate::thinking::Policy::pick(
                        inbound.plan.thinking_header.as_deref(),
                        &state.config.thinking,
                        &t.label(),
                    ),
                    model: &t.model,
                    stream: inbound.stream,
                    transforms: &transforms,
                    on_response_id: on_response_id.as_ref(),
                    continue_from: None,
                })?;
                if let (Some(s), Some(tk)) = (&sub, &tokens) {
                    call = crate::oauth::attempt::dress(s, tk, inbound.plan.op, &t.model, call)?;
                }
                call = match crate::providers::sign(&state.runtime, provider, &grant, call).await {
                    Ok(c) => c,
                    Err(e) => {
                        // No upstream call was made: not an attempt.
                        attempts -= 1;
                        no_token.push(format!("{}/{}: {e}", grant.provider, grant.account_name));
                        exclude.push(grant.account_id);
                        continue;
                    }
                };
                call = crate::providers::bedrock::dress(provider, &grant, &t.model, call)?;
                // Armed on the call as it is sent: dressing rebuilds it (a subscription's did, and
                // dropped the hand-back, so its broken streams were never resumed).
                let handed = inbound.plan.resumable.then(|| resume::arm(&mut call));
                call.observer = state.runtime.oauth.observer(grant.account_id);
                let applied: Vec<&str> = transforms.iter().map(|x| x.name.as_str()).collect();
                let ctx = &mut guard.ctx;
                ctx.transforms = applied.iter().map(|n| n.to_string()).collect();
                ctx.model_label = t.label();
                ctx.upstream_model = t.model.clone();
                // From memory: the table the last reload built (never the database per request).
                ctx.price = state.runtime.prices().find(&t.provider, &t.model);
                ctx.subscription = sub.is_some();
                let served_by = (grant.provider.to_string(), grant.account_name.to_string());
                let secret = grant
                    .credential
                    .as_ref()
                    .map(|c| c.expose().to_string())
                    .or_else(|| tokens.as_ref().map(|tk| tk.access.expose().to_string()));
                let account_actor = grant.account.clone();
                // Held while the attempt runs: if this handler is dropped (the client left), the
                // executor sees the sender go and stops the upstream call at once.
                let (_present, caller) = tokio::sync::oneshot::channel::<()>();
                let execute = Execute { call, lease: grant, ctx: ctx.clone(), caller };
                guard.armed = false;
                let outcome = exec
                    .send(execute)
                    .await
                    .map_err(|_| GatewayError::Internal("the executor is not running".into()))?;
                if let ExecOutcome::Started(Started { upstream_ms, .. })
                | ExecOutcome::Complete(Completed { upstream_ms, .. }) = &outcome
                {
                    let now = actors::clock::now_ms();
                    state.runtime.targets.served(&t.label(), *upstream_ms, now);
                    if let (Some(c), Some(b)) = (combo, &bound) {
                        state.runtime.combo_sessions.served(c, b, &t.label(), now);
                    }
                }
                match outcome {
                    ExecOutcome::Started(s) => {
                        if let (Some(sub), Some(_)) = (&sub, retrying) {
                            crate::oauth::attempt::worked(sub);
                        }
                        let mut rx = s.body;
                        let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).map(Ok::<_, Infallible>);
                        let mut resp = HttpResponse::Ok();
                        resp.content_type(media::answer_type(inbound.plan.op, s.content_type, "text/event-stream"))
                            .insert_header(("cache-control", "no-cache"))
                            .insert_header(("x-accel-buffering", "no"));
                        headers(&mut resp, meta, &served_by, attempts, s.upstream_ms, session.as_deref(), &applied);
                        if let Some(handed) = handed {
                            // The other targets are asked to continue first, this one last.
                            let at = targets.iter().position(|x| x == t).unwrap_or(0);
                            let order = targets[at + 1..].iter().chain(&targets[..=at]).cloned().collect();
                            let follow =
                                resume::Follow { state: state.clone(), exec: exec.clone(), inbound, targets: order };
                            actix_rt::spawn(resume::follow(follow, handed));
                        }
                        return Ok(resp.streaming(body));
                    }
                    ExecOutcome::Complete(c) => {
                        if let (Some(sub), Some(_)) = (&sub, retrying) {
                            crate::oauth::attempt::worked(sub);
                        }
                        let mut resp = HttpResponse::Ok();
                        resp.content_type(media::answer_type(inbound.plan.op, c.content_type, "application/json"));
                        headers(&mut resp, meta, &served_by, attempts, c.upstream_ms, session.as_deref(), &applied);
                        cost_headers(&mut resp, &c.cost);
                        return Ok(resp.body(c.body));
                    }
                    ExecOutcome::Failed(mut f) => {
                        f.received = true;
                        guard.ctx = f.ctx.clone();
                        guard.armed = true;
                        if f.kind == OutcomeKind::Cancelled {
                            return Err(shutting_down());
                        }
                        if f.status == Some(401)
                            && let (Some(sub), Some(tk)) = (&sub, &tokens)
                        {
                            if retrying.is_none() {
                                // Refresh once and retry this request on the same account.
                                auth_retry = Some((f.account_id, tk.generation));
                                secrets.extend(secret);
                                last = Some(f);
                                continue;
                            }
                            let why = upstream_message(&f, secret.as_deref());
                            crate::oauth::attempt::rejected_twice(sub, account_actor, &t.model, &why);
                        }
                        if !f.kind.is_retryable() {
                            // A refusal of the request itself: no other account of this provider will
                            // differ, but a later combo target (another provider) may accept it.
                            refused = Some(upstream_error(&f, provider.dialect, secret.as_deref()));
                            continue 'targets;
                        }
                        last_upstream =
                            f.upstream_body.is_some().then(|| upstream_error(&f, provider.dialect, secret.as_deref()));
                        if let OutcomeKind::RateLimited { retry_after: Some(d) } = f.kind {
                            let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
                            retry_in = Some(retry_in.map_or(ms, |r| r.min(ms)));
                        }
                        exclude.push(f.account_id);
                        secrets.extend(secret);
                        last = Some(f);
                    }
                }
            }
        }
        // Every target lacked only a ready account (paced or cooling a little while, or every
        // account tried answered 429 with a short `Retry-After`): wait for the soonest, in the
        // queue's bounds, and try the same request again; otherwise answer now.
        if refused.is_some() || attempts >= max_attempts || unavailable.is_empty() {
            break 'rounds;
        }
        let Some(soonest) = unavailable
            .iter()
            .map(|u| if *u == Unavailable::AllTried { retry_in } else { u.wait_ms() })
            .collect::<Option<Vec<i64>>>()
            .and_then(|w| w.into_iter().min())
        else {
            break 'rounds;
        };
        let wait = u64::try_from(soonest).unwrap_or(0);
        let started = *wait_started.get_or_insert_with(Instant::now);
        let had_turn = ticket.as_ref().is_some_and(queue::Ticket::has_turn);
        if !admit(state, &mut ticket, lane, started, wait)? {
            break 'rounds;
        }
        // A request that just joined a lane first waits for its turn (above), then looks again.
        if had_turn {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(wait)) => {}
                () = drained(state) => return Err(shutting_down()),
            }
        }
    }
    if let Some(e) = refused {
        return Err(e);
    }
    if attempts == 0 && !no_token.is_empty() {
        return Err(GatewayError::Unavailable {
            message: format!("no account could get a token to call with ({})", no_token.join("; ")),
            retry_after: None,
        });
    }
    if attempts == 0 && unavailable.is_empty() && !too_small.is_empty() {
        let windows: Vec<String> = too_small.iter().map(|(l, w)| format!("{l} ({w})")).collect();
        return Err(GatewayError::BadRequest(format!(
            "the request (about {estimate} input tokens) is larger than the context window of {}; \
             shorten it or use a model with a larger window",
            windows.join(", ")
        )));
    }
    // Nothing was sent: say why each account of the targets is out, from the router's view.
    let unusable = match (&last, unavailable.is_empty()) {
        (None, false) => {
            let providers: Vec<&str> = targets.iter().map(|t| t.provider.as_str()).collect();
            let mut view =
                state.runtime.router.send(actors::router::messages::GetRoutingView).await.unwrap_or_default();
            words::signed_out(&state.runtime.oauth, &mut view, &providers).await;
            words::unusable(&view, &providers, now_ms())
        }
        _ => None,
    };
    let e = final_error(last.as_deref(), last_upstream, &unavailable, attempts, &secrets, unusable.as_ref());
    tracing::warn!(request_id = %meta.request_id, model = %inbound.model, attempts, error = %e, "request failed");
    Err(e)
}

/// The answer to a request the shutdown's drain ended before it was served.
fn shutting_down() -> GatewayError {
    GatewayError::Unavailable {
        message: "the gateway is shutting down; retry shortly".into(),
        retry_after: Some(Duration::from_secs(1)),
    }
}

/// Resolves when the shutdown's grace is nearly over (never, if the signal is gone).
async fn drained(state: &AppState) {
    let mut rx = state.runtime.drain.subscribe();
    if rx.wait_for(|d| *d).await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Takes or keeps a place in `lane` for a wait of `wait` ms: `Ok(false)` when the wait would be
/// longer than the gateway waits, a 429 when the queue is full.
fn admit(
    state: &AppState,
    ticket: &mut Option<queue::Ticket>,
    lane: &str,
    started: Instant,
    wait: u64,
) -> Result<bool, GatewayError> {
    match state.runtime.queue.admit(ticket, lane, elapsed_ms(started), wait) {
        queue::Admission::Wait => Ok(true),
        queue::Admission::TooLong => Ok(false),
        queue::Admission::Full => Err(GatewayError::RateLimited {
            message: format!(
                "{} requests are waiting for an account already; retry shortly",
                state.runtime.queue.waiting()
            ),
            retry_after: Some(Duration::from_millis(wait.max(1_000))),
        }),
    }
}

/// The answer to a request whose turn in its lane did not come within the longest wait.
fn queue_timeout(unavailable: &[Unavailable]) -> GatewayError {
    let soonest = unavailable.iter().filter_map(Unavailable::wait_ms).min().unwrap_or(1_000);
    GatewayError::RateLimited {
        message: "the requests waiting ahead of this one took longer than the gateway waits".into(),
        retry_after: Some(Duration::from_millis(u64::try_from(soonest.max(1_000)).unwrap_or(1_000))),
    }
}

/// `x-omnigate-cost-usd` (decimal USD; left out when unpriced) and `x-omnigate-cost-source` of
/// a whole response. A stream's cost is known only after its last byte, when headers are long
/// gone, and no dialect's final usage has a cost field: streams carry neither.
fn cost_headers(resp: &mut actix_web::HttpResponseBuilder, cost: &actors::usage::cost::Cost) {
    if let Some(usd) = cost.usd {
        resp.insert_header(("x-omnigate-cost-usd", decimal_usd(usd)));
    }
    resp.insert_header(("x-omnigate-cost-source", cost.source.as_str()));
}

/// USD as a plain decimal (no exponent), to the 1e-12 dollar, without trailing zeros.
pub fn decimal_usd(usd: f64) -> String {
    let s = format!("{usd:.12}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" { "0".into() } else { s.to_string() }
}

fn headers(
    resp: &mut actix_web::HttpResponseBuilder,
    meta: &RequestMeta,
    served_by: &(String, String),
    attempts: u32,
    upstream_ms: f64,
    session: Option<&str>,
    transforms: &[&str],
) {
    let overhead = (meta.started.elapsed().as_secs_f64() * 1000.0 - upstream_ms).max(0.0);
    if let Some(s) = session {
        resp.insert_header(("x-omnigate-session-id", s));
    }
    if !transforms.is_empty() {
        resp.insert_header(("x-omnigate-transforms", transforms.join(",")));
    }
    resp.insert_header(("x-request-id", meta.request_id.as_str()))
        .insert_header(("x-omnigate-provider", served_by.0.as_str()))
        .insert_header(("x-omnigate-account", served_by.1.as_str()))
        .insert_header(("x-omnigate-attempts", attempts.to_string()))
        .insert_header(("x-omnigate-overhead-ms", millis_3(overhead)));
}

/// `ms` with three decimals, from whole microseconds (float formatting at a fixed precision can
/// take the slow exact path, on every response).
fn millis_3(ms: f64) -> String {
    let us = (ms * 1000.0).round() as u64;
    format!("{}.{:03}", us / 1000, us % 1000)
}
