//! An account's pacing across instances: two instances on one database each take half of an
//! account's `rpm` (and of its concurrency cap), so together they never send it more than its
//! limit, and one alone takes all of it again once the other has gone. PostgreSQL only.

use std::time::Duration;

use serde_json::json;

use super::{require_shared, second};
use crate::mock::MockUpstream;
use crate::support::{TestEnv, base, client, mock_config};

async fn chat(app: &omnigate::app::Running) -> u16 {
    let body = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hi"}]});
    client()
        .post(format!("{}/v1/chat/completions", base(app)))
        .bearer_auth("sk-og-ci-0001")
        .send_json(&body)
        .await
        .map_or(0, |r| r.status().as_u16())
}

#[ignore = "needs PostgreSQL or MariaDB (OG_TEST_PG / OG_TEST_MYSQL): scripts/test runs it in those passes"]
#[actix_web::test]
async fn two_instances_send_an_account_no_more_than_its_rpm_together() {
    require_shared();
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    // rpm = 4 on the one account; a paced request is refused at once (no waiting in the queue).
    let text = mock_config(&mock.base(), &[("a", "ka")], "[routing]\nmax_wait_ms = 0\n")
        .replace("api_key = \"ka\"", "rpm = 4\napi_key = \"ka\"");
    let a = env.start(&text).await;
    let (b, _dir) = second(&env, &text).await;
    // Both have heard of each other at their next heartbeat.
    actix_rt::time::sleep(omnigate::cluster::HEARTBEAT + Duration::from_millis(500)).await;

    let mut served = 0;
    for _ in 0..5 {
        for app in [&a, &b] {
            let s = chat(app).await;
            assert!(s == 200 || s == 429, "{s}");
            served += usize::from(s == 200);
        }
    }
    assert_eq!(served, 4, "two instances together served the account's rpm, no more");
    assert_eq!(mock.hits(), 4, "the upstream saw 4 requests in the minute");

    // Alone again (B stopped): A takes the whole rpm at its next heartbeat, minus what it used.
    b.stop().await;
    let limit = omnigate::cluster::ALIVE + omnigate::cluster::HEARTBEAT * 2;
    let t = std::time::Instant::now();
    let mut more = false;
    while t.elapsed() < limit {
        if chat(&a).await == 200 {
            more = true;
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(more, "alone, A serves past its half of the rpm");
    a.stop().await;
}
