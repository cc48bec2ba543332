//! The refresher actor against a scripted token source: single flight, refresh on a rejected
//! token, saving before use, final and passing failures.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use futures_util::future::LocalBoxFuture;

use super::actor::TokenRefresher;
use super::messages::{GetRefresherStatus, GetToken, RefreshRejected, ReplaceTokens};
use super::{RefreshError, SessionStatus, Timing, TokenCell, TokenError, TokenSource, Tokens};
use crate::clock::now_ms;
use crate::credential::Credential;

#[derive(Default)]
struct Script {
    refreshes: usize,
    /// What each refresh answers, in order (then "ok").
    answers: Vec<Result<(), RefreshError>>,
    /// The access token the cell held while each save ran.
    seen_at_persist: Vec<String>,
    saves: usize,
    statuses: Vec<(SessionStatus, Option<String>)>,
    fail_saves: usize,
}

struct Fake {
    script: Rc<RefCell<Script>>,
    cell: TokenCell,
}

impl TokenSource for Fake {
    fn refresh(&self, current: Arc<Tokens>) -> LocalBoxFuture<'static, Result<Tokens, RefreshError>> {
        let script = Rc::clone(&self.script);
        Box::pin(async move {
            // Slow enough for every concurrent caller to arrive while it is out.
            actix_rt::time::sleep(Duration::from_millis(50)).await;
            let mut s = script.borrow_mut();
            s.refreshes += 1;
            let n = s.refreshes;
            let answer = if s.answers.is_empty() { Ok(()) } else { s.answers.remove(0) };
            answer.map(|()| Tokens {
                access: Credential::new(format!("access-{n}")),
                refresh: Some(Credential::new(format!("refresh-{n}"))),
                expires_at: Some(now_ms() + 3_600_000),
                obtained_at: now_ms(),
                generation: current.generation,
                extra: Arc::default(),
            })
        })
    }

    fn persist(&self, tokens: Arc<Tokens>) -> LocalBoxFuture<'static, Result<(), String>> {
        let script = Rc::clone(&self.script);
        let in_cell = self.cell.get().access.expose().to_string();
        Box::pin(async move {
            let mut s = script.borrow_mut();
            s.seen_at_persist.push(format!("{in_cell}->{}", tokens.access.expose()));
            if s.fail_saves > 0 {
                s.fail_saves -= 1;
                return Err("database is locked".into());
            }
            s.saves += 1;
            Ok(())
        })
    }

    fn load(&self) -> LocalBoxFuture<'static, Result<Option<Tokens>, String>> {
        Box::pin(async { Ok(None) })
    }

    fn set_status(&self, status: SessionStatus, reason: Option<String>) -> LocalBoxFuture<'static, Result<(), String>> {
        self.script.borrow_mut().statuses.push((status, reason));
        Box::pin(async { Ok(()) })
    }
}

fn stale_tokens() -> Tokens {
    Tokens {
        access: Credential::new("access-0"),
        refresh: Some(Credential::new("refresh-0")),
        expires_at: Some(now_ms() - 1),
        obtained_at: now_ms() - 3_600_000,
        generation: 1,
        extra: Arc::default(),
    }
}

fn fresh_tokens() -> Tokens {
    Tokens { expires_at: Some(now_ms() + 3_600_000), obtained_at: now_ms(), ..stale_tokens() }
}

fn start(tokens: Tokens, script: &Rc<RefCell<Script>>) -> (actix::Addr<TokenRefresher>, TokenCell) {
    start_with(tokens, script, Timing::default())
}

fn start_with(
    tokens: Tokens,
    script: &Rc<RefCell<Script>>,
    timing: Timing,
) -> (actix::Addr<TokenRefresher>, TokenCell) {
    let cell = TokenCell::new(Arc::new(tokens.clone()));
    let source = Rc::new(Fake { script: Rc::clone(script), cell: cell.clone() });
    let addr = TokenRefresher::new(7, tokens, SessionStatus::Ok, None, timing, source, cell.clone()).start();
    (addr, cell)
}

#[actix_rt::test]
async fn fifty_callers_of_a_stale_token_share_one_refresh_saved_before_use() {
    let script = Rc::new(RefCell::new(Script::default()));
    let (addr, cell) = start(stale_tokens(), &script);
    let calls: Vec<_> = (0..50).map(|_| addr.send(GetToken)).collect();
    let answers = futures_util::future::join_all(calls).await;
    for a in answers {
        let t = a.expect("delivered").expect("a token");
        assert_eq!(t.access.expose(), "access-1");
        assert_eq!(t.generation, 2);
    }
    let s = script.borrow();
    assert_eq!(s.refreshes, 1, "exactly one refresh call");
    assert_eq!(s.seen_at_persist, vec!["access-0->access-1".to_string()], "saved while the old token was in force");
    assert_eq!(cell.get().access.expose(), "access-1");
}

#[actix_rt::test]
async fn a_rejected_token_is_refreshed_once_for_all_who_saw_it() {
    let script = Rc::new(RefCell::new(Script::default()));
    let (addr, _) = start(fresh_tokens(), &script);
    let first = addr.send(GetToken).await.expect("delivered").expect("fresh token needs no refresh");
    assert_eq!(first.access.expose(), "access-0");
    assert_eq!(script.borrow().refreshes, 0);
    let calls: Vec<_> = (0..50).map(|_| addr.send(RefreshRejected { generation: first.generation })).collect();
    for a in futures_util::future::join_all(calls).await {
        assert_eq!(a.expect("delivered").expect("a token").access.expose(), "access-1");
    }
    // A late report about the old token gets the new one without another refresh.
    let late = addr.send(RefreshRejected { generation: first.generation }).await.expect("delivered");
    assert_eq!(late.expect("token").access.expose(), "access-1");
    assert_eq!(script.borrow().refreshes, 1);
}

#[actix_rt::test]
async fn invalid_grant_disables_with_the_reason_and_a_new_sign_in_revives() {
    let script = Rc::new(RefCell::new(Script {
        answers: vec![Err(RefreshError::Revoked("invalid_grant: Refresh token not found or invalid".into()))],
        ..Script::default()
    }));
    let (addr, cell) = start(stale_tokens(), &script);
    let got = addr.send(GetToken).await.expect("delivered");
    assert_eq!(got, Err(TokenError::Revoked("invalid_grant: Refresh token not found or invalid".into())));
    assert!(cell.dead());
    actix_rt::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        script.borrow().statuses,
        vec![(SessionStatus::Disabled, Some("invalid_grant: Refresh token not found or invalid".into()))]
    );
    let status = addr.send(GetRefresherStatus).await.expect("delivered");
    assert_eq!((status.phase, status.status), ("dead", SessionStatus::Disabled));
    let again = addr.send(GetToken).await.expect("delivered");
    assert!(matches!(again, Err(TokenError::Revoked(_))));
    assert_eq!(script.borrow().refreshes, 1, "a dead account is not refreshed again");
    let mut signed_in = fresh_tokens();
    signed_in.access = Credential::new("access-new");
    signed_in.generation = 9;
    addr.send(ReplaceTokens { tokens: signed_in, status: SessionStatus::Ok }).await.expect("delivered");
    assert!(!cell.dead());
    assert_eq!(addr.send(GetToken).await.expect("delivered").expect("token").access.expose(), "access-new");
}

#[actix_rt::test]
async fn a_passing_failure_is_retried_and_an_unsaved_rotation_is_saved_not_refreshed_again() {
    let script = Rc::new(RefCell::new(Script {
        answers: vec![Err(RefreshError::Transient("503".into()))],
        ..Script::default()
    }));
    let timing = Timing { backoff_base_ms: 200, ..Timing::default() };
    let (addr, _) = start_with(stale_tokens(), &script, timing);
    let got = addr.send(GetToken).await.expect("delivered");
    assert_eq!(got, Err(TokenError::Unavailable("503".into())));
    let status = addr.send(GetRefresherStatus).await.expect("delivered");
    assert_eq!(status.phase, "backoff");
    // While it backs off, callers are told at once, and nothing is sent to the token endpoint.
    let got = addr.send(GetToken).await.expect("delivered");
    assert_eq!(got, Err(TokenError::Unavailable("503".into())));
    assert_eq!(script.borrow().refreshes, 1);
    // The timer's retry obtains new tokens, but saving them fails once: they are kept aside.
    script.borrow_mut().fail_saves = 1;
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        addr.send(GetRefresherStatus).await.expect("delivered").last_error.as_deref(),
        Some("database is locked")
    );
    // The next retry saves them (and spends no refresh token).
    let mut got = None;
    for _ in 0..100 {
        actix_rt::time::sleep(Duration::from_millis(50)).await;
        if let Ok(t) = addr.send(GetToken).await.expect("delivered") {
            got = Some(t);
            break;
        }
    }
    let got = got.expect("saved on the retry");
    assert_eq!(got.access.expose(), "access-2");
    let s = script.borrow();
    assert_eq!(s.refreshes, 2, "the save was retried, the refresh token was not spent twice");
    assert_eq!(s.saves, 1);
}

#[actix_rt::test]
async fn a_retired_refresher_never_refreshes_again() {
    // Tokens due about 200 ms from now (half-way through a 400 ms life).
    let short = || Tokens { expires_at: Some(now_ms() + 400), obtained_at: now_ms(), ..stale_tokens() };
    let kept = Rc::new(RefCell::new(Script::default()));
    let (_kept, _) = start(short(), &kept);
    let retired = Rc::new(RefCell::new(Script::default()));
    let (addr, _) = start(short(), &retired);
    addr.send(super::messages::Retire).await.expect("delivered");
    actix_rt::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(kept.borrow().refreshes, 1, "a running refresher refreshes on its timer");
    assert_eq!(retired.borrow().refreshes, 0, "a retired one does not");
    // A caller still holding its address is told, without a refresh call.
    let answer = addr.send(GetToken).await.expect("delivered");
    assert!(matches!(answer, Err(TokenError::Unavailable(_))), "{answer:?}");
    assert_eq!(retired.borrow().refreshes, 0);
}
