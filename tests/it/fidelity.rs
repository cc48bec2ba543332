//! Real-client fidelity (issue "Real-client fidelity"): what real clients and upstreams do that a
//! clean round trip does not show — clients that leave early, error events inside a 200 stream,
//! tool-call fragments out of order, upstream error codes, header forwarding.

use std::io::Write;
use std::time::Duration;

use serde_json::json;

use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, admin_get, eventually, mock_config, usage_rows};

#[actix_web::test]
async fn a_client_that_leaves_before_the_first_byte_frees_the_upstream_and_the_lease_within_two_seconds() {
    let mock = MockUpstream::start().await;
    mock.always("ka", Reply::Stall);
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let addr = app.addr;
    for stream in [true, false] {
        let body = json!({"model": "mock/mock-model", "stream": stream, "messages": [{"role": "user", "content": "think hard"}]})
            .to_string();
        let req = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-og-ci-0001\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let before = mock.state.cancelled.load(std::sync::atomic::Ordering::SeqCst);
        actix_web::rt::task::spawn_blocking(move || {
            let mut s = std::net::TcpStream::connect(addr).expect("connect");
            s.write_all(req.as_bytes()).expect("write");
            std::thread::sleep(Duration::from_millis(300));
            drop(s);
        })
        .await
        .expect("client");
        let t0 = std::time::Instant::now();
        let freed = eventually(2, || async {
            let accounts = admin_get(&app, &env, "/api/accounts").await;
            mock.state.cancelled.load(std::sync::atomic::Ordering::SeqCst) == before + 1
                && accounts["accounts"][0]["in_flight"] == 0
        })
        .await;
        let accounts = admin_get(&app, &env, "/api/accounts").await;
        assert!(
            freed,
            "stream={stream}: upstream call and lease still held after {:?}: cancelled {} in flight {}",
            t0.elapsed(),
            mock.state.cancelled.load(std::sync::atomic::Ordering::SeqCst),
            accounts["accounts"][0]["in_flight"]
        );
    }
    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.status == 499), "{:?}", rows.iter().map(|r| r.status).collect::<Vec<_>>());
    app.stop().await;
}
