//! A key's limits and budget, checked once the request's targets are known and before any
//! upstream call (`limits::Limiter`): the worst case a budget reserves is the input estimate plus
//! the output asked for (or the largest output limit among the targets, or `DEFAULT_OUTPUT`) at
//! the most expensive price among the targets (subscription targets cost nothing at the margin;
//! an unpriced target adds nothing; speech and image edits at their per-unit price when the
//! target has one). What the request holds comes back as an `Admission`, kept
//! with the answer's body until its last byte has gone.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use bytes::Bytes;

use super::Plan;
use super::resolve::Target;
use crate::error::GatewayError;
use crate::keys::KeyInfo;
use crate::limits::Admission;
use crate::state::AppState;

/// The output a request without `max_tokens` is assumed to ask for when no target states an
/// output limit.
pub const DEFAULT_OUTPUT: u64 = 4096;

/// What a request billed by the unit asks for, when it is known before the call: speech's input
/// characters, an image edit's `n` images (1 when not given). A transcription's seconds are not
/// known until it is answered.
pub fn units_asked(plan: &Plan) -> Option<actors::usage::Units> {
    use actors::usage::{Unit, Units};
    match plan.op {
        super::Op::Speech => {
            plan.body.parse::<String>("input").map(|s| Units::whole(Unit::Character, s.chars().count() as u64))
        }
        super::Op::ImageEdits => {
            let n = plan.body.parse::<String>("n").and_then(|n| n.trim().parse::<u64>().ok()).unwrap_or(1);
            Some(Units::whole(Unit::Image, n.max(1)))
        }
        _ => None,
    }
}

/// The worst-case cost of `plan` on any of `targets` (`None`: none is priced). A target priced
/// per unit for what the request asks (`units_asked`) costs that instead of tokens.
pub fn worst_cost(state: &AppState, plan: &Plan, targets: &[Target]) -> Option<f64> {
    let reg = state.runtime.registry();
    let prices = state.runtime.prices();
    let units = units_asked(plan);
    let asked = plan.output_asked();
    let input = plan.token_estimate().saturating_sub(asked.unwrap_or(0));
    let mut worst: Option<f64> = None;
    for t in targets {
        let output = asked
            .or_else(|| reg.model(&t.provider, &t.model).and_then(|m| m.max_output).map(u64::from))
            .unwrap_or(DEFAULT_OUTPUT);
        let cost = if crate::oauth::Kind::parse(&t.provider).is_some() {
            Some(0.0)
        } else {
            prices.find(&t.provider, &t.model).map(|p| match units.and_then(|u| p.per(u.unit).zip(u.count())) {
                Some((rate, n)) => rate * n,
                None => (p.input * input as f64 + p.output * output as f64) / 1e6,
            })
        };
        if let Some(c) = cost {
            worst = Some(worst.map_or(c, |w: f64| w.max(c)));
        }
    }
    worst
}

/// Admits the request of `key` (if it has limits) for `targets`. On PostgreSQL the limits hold
/// across instances (`limits::SharedLimits`): served from this instance's leases, the database is
/// asked only when they do not cover the request.
pub async fn admit(
    state: &AppState,
    key: Option<&KeyInfo>,
    plan: &Plan,
    targets: &[Target],
) -> Result<Option<Admission>, GatewayError> {
    let Some(key) = key.filter(|k| k.limits.is_set() || k.team.is_some()) else { return Ok(None) };
    let team_budget =
        key.team.as_deref().and_then(|t| state.runtime.limiter.team(t)).is_some_and(|l| l.budget.is_some());
    let worst = if key.limits.budget.is_some() || team_budget { worst_cost(state, plan, targets) } else { None };
    let now = actors::clock::now_ms();
    state.runtime.limiter.admit_shared(key, plan.token_estimate(), worst, now).await.map(Some)
}

/// A response body that holds the request's admission until it is done.
struct Held {
    body: BoxBody,
    _admission: Admission,
}

impl MessageBody for Held {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

/// `resp` with `admission` held by its body.
pub fn hold(resp: actix_web::HttpResponse, admission: Option<Admission>) -> actix_web::HttpResponse {
    match admission {
        None => resp,
        Some(a) => resp.map_body(|_, body| BoxBody::new(Held { body, _admission: a })),
    }
}

#[cfg(test)]
mod tests {
    use actors::usage::{Unit, Units};

    use super::*;
    use crate::protocol::Dialect;

    fn plan(op: super::super::Op, body: &str) -> Plan {
        Plan::new(Dialect::OpenaiChat, op, serde_json::from_str(body).unwrap())
    }

    #[test]
    fn speech_and_edits_ask_for_units_before_the_call_and_transcripts_do_not() {
        use super::super::Op;
        let speech = plan(Op::Speech, r#"{"model":"m","input":"héllo","voice":"alloy"}"#);
        assert_eq!(units_asked(&speech), Some(Units::whole(Unit::Character, 5)));
        assert_eq!(units_asked(&plan(Op::ImageEdits, r#"{"model":"m","n":"3"}"#)), Some(Units::whole(Unit::Image, 3)));
        assert_eq!(units_asked(&plan(Op::ImageEdits, r#"{"model":"m"}"#)), Some(Units::whole(Unit::Image, 1)));
        assert_eq!(units_asked(&plan(Op::Transcriptions, r#"{"model":"m"}"#)), None);
    }
}
