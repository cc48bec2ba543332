//! What the pipeline does for an attempt on a subscription account: get tokens fit for a
//! request (the shared cell's when fresh; else the refresher's single refresh, waited for within
//! a bound), dress the plan's call for the provider, and after a 401 refresh once and let the
//! same account retry; a second 401 cools the account down and marks it `reauth_required`.

use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use actors::account::actor::AccountActor;
use actors::account::messages::AccountOutcome;
use actors::executor::UpstreamCall;
use actors::outcome::OutcomeKind;
use actors::refresher::messages::{ConfirmWorking, GetToken, MarkReauthRequired, RefreshRejected};
use actors::refresher::{TokenError, Tokens};

use super::dress::{Dressing, dress as dress_call};
use super::hub::OAuthAccount;
use crate::error::GatewayError;
use crate::pipeline::Op;
use crate::providers::Registry;
use crate::providers::call::Operation;

/// The longest a request waits for a refresh it needs.
pub const REFRESH_WAIT: Duration = Duration::from_secs(45);

/// Skew under which the cell's token is still handed out without asking the refresher (the
/// refresher itself refreshes well before this).
const SKEW_MS: i64 = 30_000;

async fn ask<M>(addr: &Addr<actors::refresher::actor::TokenRefresher>, msg: M) -> Result<Arc<Tokens>, TokenError>
where
    M: actix::Message<Result = Result<Arc<Tokens>, TokenError>> + Send + 'static,
    actors::refresher::actor::TokenRefresher: actix::Handler<M>,
{
    match tokio::time::timeout(REFRESH_WAIT, addr.send(msg)).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => Err(TokenError::Unavailable("the token refresher is not running".into())),
        Err(_) => Err(TokenError::Unavailable("the token refresh took too long".into())),
    }
}

/// Tokens for a request: after a refused token of generation `refused`, the refreshed ones;
/// otherwise the current ones when fresh (no message), else the refresher's answer.
pub async fn tokens(acct: &OAuthAccount, refused: Option<i64>) -> Result<Arc<Tokens>, TokenError> {
    if let Some(generation) = refused {
        return ask(&acct.refresher, RefreshRejected { generation }).await;
    }
    if acct.cell.dead() {
        return ask(&acct.refresher, GetToken).await;
    }
    let t = acct.cell.get();
    let now = actors::clock::now_ms();
    let fresh = !t.access.expose().is_empty() && t.expires_at.is_none_or(|exp| exp - SKEW_MS > now);
    let prepared = acct.kind != super::Kind::GeminiCli || t.extra_str("project").is_some();
    if fresh && prepared { Ok(t) } else { ask(&acct.refresher, GetToken).await }
}

/// The pipeline's operation as the provider call's.
pub fn operation(op: Op) -> Operation {
    match op {
        Op::Generate => Operation::Generate,
        Op::Embeddings => Operation::Embeddings,
        Op::CountTokens => Operation::CountTokens,
        // A completion reaches a subscription upstream only translated to its chat dialect.
        Op::Completions => Operation::Generate,
        Op::Moderations => Operation::Moderations,
        Op::Rerank => Operation::Rerank,
        Op::Images => Operation::Images,
        Op::ImageEdits => Operation::ImageEdits,
        Op::Transcriptions => Operation::Transcriptions,
        Op::Translations => Operation::Translations,
        Op::Speech => Operation::Speech,
    }
}

/// Dresses the plan's call for the account's provider.
pub fn dress(
    acct: &OAuthAccount,
    tokens: &Tokens,
    op: Op,
    model: &str,
    call: UpstreamCall,
) -> Result<UpstreamCall, GatewayError> {
    let base = acct.base(tokens);
    let d = Dressing { kind: acct.kind, tokens, base: &base, op: operation(op), model };
    dress_call(d, call).map_err(GatewayError::BadRequest)
}

/// Every other account of `provider`: leasing with these excluded retries the one account.
pub fn others(reg: &Registry, provider: &str, account_id: i64) -> Vec<i64> {
    reg.accounts.iter().filter(|a| a.provider == provider && a.id != account_id).map(|a| a.id).collect()
}

/// The refreshed token was refused too: the account cools down (the executor left this 401 to
/// us) and needs a new sign-in.
pub fn rejected_twice(acct: &OAuthAccount, account: Option<Addr<AccountActor>>, model: &str, why: &str) {
    if let Some(a) = account {
        a.do_send(AccountOutcome { kind: OutcomeKind::AuthFailed, model: model.to_string() });
    }
    acct.refresher.do_send(MarkReauthRequired { reason: why.to_string() });
}

/// A request went through on a refreshed token: a `reauth_required` mark is cleared.
pub fn worked(acct: &OAuthAccount) {
    acct.refresher.do_send(ConfirmWorking);
}
