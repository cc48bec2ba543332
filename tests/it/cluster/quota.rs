//! Subscription quota across instances: a usage endpoint is polled once per cluster each turn (the
//! instance that claims the turn polls; two instances polling on their own would ask twice as
//! often), and the windows one instance learns reach the other's tracker and routing view.
//! PostgreSQL only, like the rest of `cluster::`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

use super::{PROPAGATION, require_shared, second, within};
use crate::subs::{CC, World, api_account};

fn window(account: &Value, key: &str) -> Option<f64> {
    account["quota"]["windows"].as_array()?.iter().find(|w| w["key"] == key)?["used"].as_f64()
}

#[ignore = "needs PostgreSQL or MariaDB (OG_TEST_PG / OG_TEST_MYSQL): scripts/test runs it in those passes"]
#[actix_web::test]
async fn a_usage_endpoint_is_polled_once_per_cluster_and_its_windows_reach_every_instance() {
    require_shared();
    let w = World::new().await;
    let u = uuid::Uuid::new_v4().simple().to_string();
    let (at, rt) = (format!("cc-q-at-{u}"), format!("cc-q-rt-{u}"));
    w.oauth.set_usage(
        "cc",
        json!({"five_hour": {"utilization": 24.0, "resets_at": "2099-01-02T19:59:59Z"},
               "seven_day": {"utilization": 36.0, "resets_at": "2099-01-05T00:00:00Z"}}),
    );
    let text =
        w.config("", &w.account(CC, "p", &at, &rt, 3_600_000)).replace("quota_poll_secs = 0", "quota_poll_secs = 1");
    let a = w.start(&text).await;
    let (b, _dir) = second(&w.env, &text).await;

    // Over six seconds, one poll a second for the cluster (give or take the turn's slack and the
    // first jittered tick): two instances on their own would make about twelve.
    let before = w.oauth.state.usage_calls.load(Ordering::SeqCst);
    actix_rt::time::sleep(Duration::from_secs(6)).await;
    let polls = w.oauth.state.usage_calls.load(Ordering::SeqCst) - before;
    println!("{polls} usage polls in 6 s by two instances polling every second");
    assert!((4..=8).contains(&polls), "{polls} polls in 6 s by two instances polling at 1 s");
    for app in [&a, &b] {
        let acct = api_account(app, &w.env, "p").await;
        assert_eq!((window(&acct, "5h"), window(&acct, "7d")), (Some(0.24), Some(0.36)), "{acct}");
    }

    // What one instance learns (here: a poll it runs on demand) reaches the other's tracker.
    w.oauth.set_usage(
        "cc",
        json!({"five_hour": {"utilization": 100.0, "resets_at": "2099-01-02T19:59:59Z"},
               "seven_day": {"utilization": 40.0, "resets_at": "2099-01-05T00:00:00Z"}}),
    );
    let id = api_account(&a, &w.env, "p").await["id"].as_i64().expect("id");
    let r = crate::support::client()
        .post(format!("{}/api/accounts/{id}/quota/poll", crate::support::base(&a)))
        .bearer_auth(&w.env.admin_token)
        .send_json(&json!({}))
        .await
        .expect("poll");
    assert_eq!(r.status(), 200);
    within(PROPAGATION, || async { window(&api_account(&b, &w.env, "p").await, "5h") == Some(1.0) }).await;
    a.stop().await;
    b.stop().await;
}
