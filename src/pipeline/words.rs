//! Why the accounts of a request's targets cannot serve, in words a person can act on
//! ("mock/a: credentials refused 2 min ago, next try in 40 s"), from the router's view.

use actors::router::messages::{AccountState, AccountStatus};

/// The accounts that could not serve, described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    /// One phrase per account, `; `-separated.
    pub words: String,
    /// Every one of them needs a person (credentials refused, out of service, switched off):
    /// waiting does not help.
    pub only_dead: bool,
}

/// Describes the accounts of `providers` that are not ready at `now`; `None` when there is none.
pub fn unusable(view: &[AccountStatus], providers: &[&str], now: i64) -> Option<Unusable> {
    let mut parts = Vec::new();
    let mut only_dead = true;
    for a in view.iter().filter(|a| providers.contains(&a.provider.as_str()) && a.state != AccountState::Ready) {
        let next = (a.cooldown_until > now).then(|| format!(", next try in {}", span(a.cooldown_until - now)));
        let since = (a.last_error_since > 0).then(|| format!(" {} ago", span(now - a.last_error_since)));
        let what = match a.state {
            AccountState::Off => "switched off by an operator".to_string(),
            AccountState::OutOfService => {
                format!("out of service ({}){}", a.disabled.as_deref().unwrap_or("?"), since.unwrap_or_default())
            }
            AccountState::CredentialsRefused => {
                format!("credentials refused{}{}", since.unwrap_or_default(), next.unwrap_or_default())
            }
            AccountState::Cooling | AccountState::BreakerOpen | AccountState::Ready => {
                only_dead = false;
                let reason = a.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
                format!("{}{reason}{}", a.state.as_str(), next.unwrap_or_default())
            }
        };
        parts.push(format!("{}/{} {what}", a.provider, a.name));
    }
    (!parts.is_empty()).then(|| Unusable { words: parts.join("; "), only_dead })
}

/// Subscription accounts switched off because their sign-in was refused for good (`invalid_grant`)
/// read as out of service with the provider's words, not as switched off by an operator.
pub async fn signed_out(hub: &crate::oauth::hub::Hub, view: &mut [AccountStatus], providers: &[&str]) {
    for a in view.iter_mut().filter(|a| providers.contains(&a.provider.as_str()) && a.state == AccountState::Off) {
        if let Some(s) = hub.session_status(a.id).await
            && s.status == actors::refresher::SessionStatus::Disabled
        {
            a.state = AccountState::OutOfService;
            let why = s.last_error.unwrap_or_else(|| "refused".into());
            a.disabled = Some(format!("sign-in refused: {why}; sign in again"));
        }
    }
}

/// A duration in ms as people say it: `40 s`, `2 min`, `3 h`, `2 d` (rounded down past a minute).
pub fn span(ms: i64) -> String {
    let s = (ms.max(0) + 999) / 1000;
    match s {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(name: &str, state: AccountState, reason: Option<&str>, cooldown_until: i64, since: i64) -> AccountStatus {
        AccountStatus {
            id: 1,
            provider: "p".into(),
            name: name.into(),
            enabled: state != AccountState::Off,
            priority: 0,
            in_flight: 0,
            leases: 0,
            cooldown_until,
            backoff_level: 1,
            reason: reason.map(str::to_string),
            model_locks: Default::default(),
            breaker: "closed",
            breaker_open_until: 0,
            disabled: None,
            last_used_at: 0,
            last_error: reason.map(str::to_string),
            last_error_since: since,
            state,
            pacing: Default::default(),
            paced_until: 0,
            quota_blocked_until: 0,
            quota_reason: None,
        }
    }

    #[test]
    fn dead_and_cooling_accounts_in_words() {
        let now = 1_000_000;
        let dead = status(
            "a",
            AccountState::CredentialsRefused,
            Some("credentials refused (401/403)"),
            now + 40_000,
            now - 120_000,
        );
        let u = unusable(std::slice::from_ref(&dead), &["p"], now).expect("one");
        assert_eq!(u.words, "p/a credentials refused 2 min ago, next try in 40 s");
        assert!(u.only_dead);
        let cooling = status("b", AccountState::Cooling, Some("rate limited (429)"), now + 3_000, now - 1_000);
        let ready = status("c", AccountState::Ready, None, 0, 0);
        let u = unusable(&[dead, cooling, ready], &["p"], now).expect("two");
        assert_eq!(
            u.words,
            "p/a credentials refused 2 min ago, next try in 40 s; p/b cooling: rate limited (429), next try in 3 s"
        );
        assert!(!u.only_dead);
        assert_eq!(unusable(&[status("c", AccountState::Ready, None, 0, 0)], &["p"], now), None);
        assert_eq!(span(7_200_000), "2 h");
    }
}
