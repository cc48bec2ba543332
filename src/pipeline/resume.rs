//! Mid-stream failover (`resume = true` on a combo). A resumable stream is translated through the
//! hub even when the dialects match, so the gateway holds the client stream's state. When its
//! upstream breaks after text reached the client (no tool call begun), the executor hands the
//! stream back (`actors::executor::Resumed`) instead of ending it; `follow` then asks the combo's
//! next target to continue from the text already sent (an assistant prefill for Anthropic, the
//! partial answer and a "continue exactly" turn for the others), and splices the continuation's
//! text into the same client stream: its start and reasoning are dropped, its text and end go on.
//! When no target can continue, the stream ends as any broken stream does (an error event, then
//! the dialect's terminal events).

use std::sync::{Arc, Mutex, MutexGuard};

use actix::Addr;
use actors::executor::actor::ExecutorActor;
use actors::executor::{
    AdapterError, ExecContext, ExecOutcome, Execute, ResponseAdapter, Resumed, StreamEnd, UpstreamCall, UpstreamFault,
};
use actors::router::messages::Lease;
use actors::usage::TokenUsage;
use bytes::Bytes;
use tokio::sync::oneshot;

use super::Inbound;
use super::resolve::Target;
use crate::state::AppState;
use crate::translate::adapter::ResumeWith;
use crate::translate::canonical::{Message, Part, Request, Role};

/// The turn that asks a model which cannot take a prefill to go on from its partial answer.
pub const CONTINUE: &str = "Your previous answer was cut off. Continue it exactly from where it stopped: \
do not repeat anything already written, do not add any preamble, start with the next character.";

/// Appends the continuation of `text` to `req` for an upstream of `dialect`.
pub fn continue_from(req: &mut Request, upstream: crate::protocol::Dialect, text: &str) {
    // The continuation writes text only.
    req.reasoning = None;
    req.tool_choice = None;
    if upstream == crate::protocol::Dialect::Anthropic {
        // A prefill: the model goes on with its own turn (a final assistant turn may not end in
        // whitespace).
        req.messages.push(Message { role: Role::Assistant, parts: vec![Part::Text(text.trim_end().to_string())] });
    } else {
        req.messages.push(Message { role: Role::Assistant, parts: vec![Part::Text(text.to_string())] });
        req.messages.push(Message { role: Role::User, parts: vec![Part::Text(CONTINUE.to_string())] });
    }
}

/// Makes `call` hand its stream back when it breaks after text.
pub fn arm(call: &mut UpstreamCall) -> oneshot::Receiver<Resumed> {
    let (tx, rx) = oneshot::channel();
    call.resume = Some(tx);
    rx
}

/// One adapter shared by the attempts that continue a stream (the last one still holds it if
/// every continuation fails, to end the client stream).
struct Shared {
    inner: Arc<Mutex<Box<dyn ResponseAdapter>>>,
    fault: Option<UpstreamFault>,
}

fn lock(m: &Mutex<Box<dyn ResponseAdapter>>) -> MutexGuard<'_, Box<dyn ResponseAdapter>> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl ResponseAdapter for Shared {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        let mut a = lock(&self.inner);
        let r = a.push(chunk, out);
        self.fault = a.fault().cloned();
        r
    }
    fn finish(&mut self, error: Option<StreamEnd<'_>>, out: &mut Vec<Bytes>) {
        lock(&self.inner).finish(error, out);
    }
    fn complete(&mut self, body: Bytes) -> Result<Bytes, AdapterError> {
        lock(&self.inner).complete(body)
    }
    fn has_content(&self) -> bool {
        lock(&self.inner).has_content()
    }
    fn terminated(&self) -> bool {
        lock(&self.inner).terminated()
    }
    fn usage(&self) -> TokenUsage {
        lock(&self.inner).usage()
    }
    fn dropped_frames(&self) -> u64 {
        lock(&self.inner).dropped_frames()
    }
    fn fault(&self) -> Option<&UpstreamFault> {
        self.fault.as_ref()
    }
    fn resume_point(&self) -> Option<String> {
        lock(&self.inner).resume_point()
    }
    fn resume(&mut self, next: &dyn std::any::Any) -> bool {
        lock(&self.inner).resume(next)
    }
}

/// What continuing a request needs.
pub struct Follow {
    /// The gateway.
    pub state: AppState,
    /// This worker's executor.
    pub exec: Addr<ExecutorActor>,
    /// The request.
    pub inbound: Inbound,
    /// The combo's targets, the one that broke last (so the others are asked first).
    pub targets: Vec<Target>,
}

/// Continues the stream each time it is handed back, until it ends or nothing can continue it.
pub async fn follow(f: Follow, mut handed: oneshot::Receiver<Resumed>) {
    let max = f.state.runtime.max_attempts().max(1);
    let mut hops = 0u32;
    // Dropped when the stream ended without a break: nothing to do.
    while let Ok(r) = handed.await {
        let Resumed { client, adapter, ctx, text, kind, message } = r;
        let shared = Arc::new(Mutex::new(adapter));
        hops += 1;
        let next = if hops <= max { continue_once(&f, &shared, &client, &ctx, &text).await } else { None };
        match next {
            Some(rx) => handed = rx,
            None => {
                // Nobody could continue: the client stream ends as a broken one does.
                let mut out = Vec::new();
                lock(&shared).finish(Some(StreamEnd { kind, message: &message }), &mut out);
                for b in out {
                    if client.send(b).await.is_err() {
                        break;
                    }
                }
                ctx.record_unserved(200, format!("{message}; no target could continue the answer"));
                return;
            }
        }
    }
}

/// One continuation: the first target that starts streaming text is spliced into `client`
/// (in a task of its own); its own break comes back through the receiver returned.
async fn continue_once(
    f: &Follow,
    shared: &Arc<Mutex<Box<dyn ResponseAdapter>>>,
    client: &tokio::sync::mpsc::Sender<Bytes>,
    ctx: &ExecContext,
    text: &str,
) -> Option<oneshot::Receiver<Resumed>> {
    let state = &f.state;
    let reg = state.runtime.registry();
    let mut ctx = ctx.clone();
    for t in &f.targets {
        let Some(provider) = reg.provider(&t.provider) else { continue };
        if provider.local {
            continue;
        }
        let lease = Lease {
            provider: t.provider.clone(),
            model: t.model.clone(),
            exclude: Vec::new(),
            session: None,
            tokens: 0,
        };
        let Ok(Ok(grant)) = state.lease(lease).await else { continue };
        let sub = state.runtime.oauth.oauth(grant.account_id);
        let tokens = match &sub {
            Some(s) => match crate::oauth::attempt::tokens(s, None).await {
                Ok(tk) => Some(tk),
                Err(_) => continue,
            },
            None => None,
        };
        let info = reg.model(&t.provider, &t.model);
        let rules = reg.rules_for(provider.dialect, &t.model);
        let transforms = super::transform::covering(&reg, &t.provider, &t.model, &f.inbound.model);
        let built = f.inbound.plan.build(&super::plan::Attempt {
            provider,
            info,
            lease: &grant,
            account: reg.account(grant.account_id).map(|a| &a.options),
            rules: &rules,
            thinking: crate::translate::thinking::Policy::pick(None, &state.config.thinking, &t.label()),
            model: &t.model,
            stream: true,
            transforms: &transforms,
            on_response_id: None,
            continue_from: Some(text),
        });
        let Ok(mut call) = built else { continue };
        if let (Some(s), Some(tk)) = (&sub, &tokens) {
            match crate::oauth::attempt::dress(s, tk, f.inbound.plan.op, &t.model, call) {
                Ok(c) => call = c,
                Err(_) => continue,
            }
        }
        let Ok(mut call) = crate::providers::sign(&state.runtime, provider, &grant, call).await else { continue };
        if !lock(shared).resume(&ResumeWith { upstream: provider.dialect }) {
            return None;
        }
        call.adapter = Box::new(Shared { inner: shared.clone(), fault: None });
        let Ok(mut call) = crate::providers::bedrock::dress(provider, &grant, &t.model, call) else { continue };
        call.observer = state.runtime.oauth.observer(grant.account_id);
        let handed = arm(&mut call);
        ctx.model_label = t.label();
        ctx.upstream_model = t.model.clone();
        ctx.price = state.runtime.prices().find(&t.provider, &t.model);
        ctx.subscription = sub.is_some();
        ctx.transforms = transforms.iter().map(|x| x.name.clone()).collect();
        let (present, caller) = oneshot::channel::<()>();
        let execute = Execute { call, lease: grant, ctx: ctx.clone(), caller };
        let outcome = tokio::select! {
            o = f.exec.send(execute) => o,
            // The client left meanwhile: dropping `present` stops the attempt.
            () = client.closed() => return None,
        };
        drop(present);
        match outcome {
            Ok(ExecOutcome::Started(s)) => {
                let (mut rx, client) = (s.body, client.clone());
                actix_rt::spawn(async move {
                    while let Some(b) = rx.recv().await {
                        if client.send(b).await.is_err() {
                            // Dropping `rx` stops the continuation's upstream.
                            break;
                        }
                    }
                });
                return Some(handed);
            }
            Ok(ExecOutcome::Failed(mut failure)) => {
                failure.received = true;
                ctx = failure.ctx.clone();
            }
            Ok(ExecOutcome::Complete(_)) | Err(_) => return None,
        }
    }
    None
}
