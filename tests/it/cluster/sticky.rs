//! Sticky sessions across instances on one PostgreSQL: a session bound on one instance keeps its
//! account on the other (round-robin would rotate it), a session that moves on one moves on the
//! other, an instance started later loads the live bindings, and a combo's session keeps its
//! target on every instance. PostgreSQL only, like the rest of `cluster::`.

use omnigate::app::Running;
use serde_json::{Value, json};

use super::{PROPAGATION, require_shared, second, within};
use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, base, client, header, mock_config};

const ROUND_ROBIN: &str = "[routing]\nstrategy = \"round-robin\"\nsticky_limit = 1\n";

/// `(status, account, provider)` of a chat request for `model` with `X-Session-Id` when given.
async fn send(app: &Running, session: Option<&str>, model: &str) -> (u16, String, String) {
    let mut req = client().post(format!("{}/v1/chat/completions", base(app))).bearer_auth("sk-og-ci-0001");
    if let Some(s) = session {
        req = req.insert_header(("X-Session-Id", s));
    }
    let body: Value = json!({"model": model, "messages": [{"role": "user", "content": "hello"}]});
    let mut r = req.send_json(&body).await.expect("send");
    let _ = r.body().await;
    (r.status().as_u16(), header(&r, "x-omnigate-account"), header(&r, "x-omnigate-provider"))
}

#[ignore = "needs PostgreSQL or MariaDB (OG_TEST_PG / OG_TEST_MYSQL): scripts/test runs it in those passes"]
#[actix_web::test]
async fn a_session_bound_on_one_instance_keeps_its_account_and_its_moves_on_every_instance() {
    require_shared();
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let other = crate::routing_sessions::other_and_combo(&mock);
    let text = format!("{}{other}", mock_config(&mock.base(), &[("a", "ka"), ("b", "kb"), ("c", "kc")], ROUND_ROBIN));
    let a = env.start(&text).await;
    let (b, _dir) = second(&env, &text).await;

    // Bound on A.
    let (s, bound, _) = send(&a, Some("sess-1"), "mock/mock-model").await;
    assert_eq!(s, 200);
    // On B, round-robin would rotate it over three accounts; the session keeps A's choice.
    within(PROPAGATION, || async { send(&b, Some("sess-1"), "mock/mock-model").await.1 == bound }).await;
    let mut on_b = Vec::new();
    let mut rest = std::collections::HashSet::new();
    for _ in 0..9 {
        on_b.push(send(&b, Some("sess-1"), "mock/mock-model").await.1);
        rest.insert(send(&b, None, "mock/mock-model").await.1);
    }
    assert!(on_b.iter().all(|x| *x == bound), "B keeps the session on {bound}: {on_b:?}");
    assert_eq!(rest.len(), 3, "requests without a session still rotate on B: {rest:?}");

    // Its account fails on B: the session moves there, and A follows the move (after the failed
    // account heals too).
    let key = format!("k{bound}");
    mock.always(&key, Reply::status(500));
    let (s, moved, _) = send(&b, Some("sess-1"), "mock/mock-model").await;
    assert_eq!(s, 200);
    assert_ne!(moved, bound);
    mock.always(&key, Reply::Text("fine".into()));
    within(PROPAGATION, || async { send(&a, Some("sess-1"), "mock/mock-model").await.1 == moved }).await;
    for _ in 0..5 {
        assert_eq!(send(&a, Some("sess-1"), "mock/mock-model").await.1, moved);
    }

    // A combo's session keeps the target that served it on both instances.
    let (_, _, target) = send(&a, Some("sess-2"), "rr").await;
    within(PROPAGATION, || async { send(&b, Some("sess-2"), "rr").await.2 == target }).await;
    for _ in 0..5 {
        assert_eq!(send(&b, Some("sess-2"), "rr").await.2, target, "round-robin would alternate the targets");
    }

    // An instance started now loads the live bindings.
    let (c, _dir_c) = second(&env, &text).await;
    for _ in 0..5 {
        assert_eq!(send(&c, Some("sess-1"), "mock/mock-model").await.1, moved);
        assert_eq!(send(&c, Some("sess-2"), "rr").await.2, target);
    }
    for app in [a, b, c] {
        app.stop().await;
    }
}
