//! Messages the token refresher hears.

use std::sync::Arc;

use actix::Message;

use super::{RefresherStatus, SessionStatus, TokenError, Tokens};

/// Answers with tokens fit for a request: the current ones when fresh, else the result of the
/// one refresh every waiting caller shares.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<Arc<Tokens>, TokenError>")]
pub struct GetToken;

/// The upstream refused the token of `generation` (a 401): refresh once, unless a newer token
/// is already in force, and answer with the token to retry with.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<Arc<Tokens>, TokenError>")]
pub struct RefreshRejected {
    /// Generation of the token the upstream refused.
    pub generation: i64,
}

/// The upstream refused the refreshed token too: the account is marked `reauth_required`.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct MarkReauthRequired {
    /// What the upstream said (no token in it).
    pub reason: String,
}

/// A request succeeded on the account: clears a `reauth_required` mark.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct ConfirmWorking;

/// Newer stored tokens (a new sign-in or import, a changed config seed) replace the refresher's.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ReplaceTokens {
    /// The stored tokens.
    pub tokens: Tokens,
    /// The stored status.
    pub status: SessionStatus,
}

/// Returns the refresher's state, without any token.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "RefresherStatus")]
pub struct GetRefresherStatus;

/// The account was deleted, or its refresher replaced by one with other endpoints: the timer
/// stops and no refresh call goes out any more (the actor ends once its last address is gone;
/// callers still holding it are told the token is unavailable).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Retire;
