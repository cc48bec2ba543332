//! Routing and resilience through the real actors: strategies, cooldowns (also across a
//! restart), breakers, timeouts, empty answers, broken streams, client disconnects, and a
//! supervised executor restart that other traffic never notices.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;

use crate::mock::{MockUpstream, Reply};
use crate::support::{
    TestEnv, admin_get, eventually, header, json_body, mock_config, post, sse_data, text_body, usage_rows,
};

fn chat(stream: bool) -> serde_json::Value {
    json!({"model": "mock/mock-model", "stream": stream, "messages": [{"role": "user", "content": "hello"}]})
}

async fn account_state(app: &omnigate::app::Running, env: &TestEnv, name: &str) -> serde_json::Value {
    let v = admin_get(app, env, "/api/accounts").await;
    v["accounts"].as_array().expect("accounts").iter().find(|a| a["name"] == name).cloned().expect("account listed")
}

#[actix_web::test]
async fn round_robin_spreads_over_accounts_with_the_sticky_limit() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let extra = "[routing]\nstrategy = \"round-robin\"\nsticky_limit = 2\n";
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka"), ("b", "kb"), ("c", "kc")], extra)).await;
    for _ in 0..12 {
        let r = post(&app, "/v1/chat/completions", chat(false)).await;
        assert_eq!(r.status(), 200);
    }
    let order: Vec<String> = mock.requests().iter().map(|r| r.credential().unwrap_or_default()).collect();
    assert_eq!(order, vec!["ka", "ka", "kb", "kb", "kc", "kc", "ka", "ka", "kb", "kb", "kc", "kc"]);
    app.stop().await;
}

#[actix_web::test]
async fn fill_first_stays_on_the_preferred_account() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let text = mock_config(&mock.base(), &[("a", "ka"), ("b", "kb")], "")
        .replace("name = \"b\"\napi_key = \"kb\"\n", "name = \"b\"\napi_key = \"kb\"\npriority = 0\n");
    let app = env.start(&text).await;
    for _ in 0..5 {
        let r = post(&app, "/v1/chat/completions", chat(false)).await;
        assert_eq!((r.status().as_u16(), header(&r, "x-omnigate-account")), (200, "b".into()));
    }
    let used: Vec<Option<String>> = mock.requests().iter().map(|r| r.credential()).collect();
    assert_eq!(used, vec![Some("kb".to_string()); 5]);
    app.stop().await;
}

#[actix_web::test]
async fn a_rate_limited_account_cools_down_traffic_moves_on_and_a_restart_keeps_the_cooldown() {
    let mock = MockUpstream::start().await;
    mock.always("ka", Reply::rate_limited("120"));
    let env = TestEnv::new().await;
    let text = mock_config(&mock.base(), &[("a", "ka"), ("b", "kb")], "");
    let app = env.start(&text).await;
    let mut r = post(&app, "/v1/chat/completions", chat(false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!((header(&r, "x-omnigate-account"), header(&r, "x-omnigate-attempts")), ("b".into(), "2".into()));
    json_body(&mut r).await;
    for _ in 0..4 {
        let r = post(&app, "/v1/chat/completions", chat(true)).await;
        assert_eq!(header(&r, "x-omnigate-account"), "b");
    }
    let hits_a = mock.requests().iter().filter(|r| r.credential().as_deref() == Some("ka")).count();
    assert_eq!(hits_a, 1, "the cooling account is not tried again");
    let a = account_state(&app, &env, "a").await;
    let until = a["cooldown_until"].as_i64().unwrap_or_default();
    let now = actors::clock::now_ms();
    assert!(until > now + 100_000 && until <= now + 121_000, "Retry-After 120 s honoured: {a}");
    assert_eq!(a["reason"], "rate limited (429)");
    let rows = usage_rows(&app).await;
    let trace = &rows[0];
    assert_eq!((trace.attempts, trace.account.as_deref()), (2, Some("b")));
    app.stop().await;

    // Restarted mid-cooldown: the cooldown is read back, `a` is still skipped.
    let app = env.start(&text).await;
    let a = account_state(&app, &env, "a").await;
    assert_eq!(a["cooldown_until"].as_i64(), Some(until), "cooldown restored after restart");
    let before = mock.hits();
    for _ in 0..3 {
        let r = post(&app, "/v1/chat/completions", chat(false)).await;
        assert_eq!((r.status().as_u16(), header(&r, "x-omnigate-attempts")), (200, "1".into()));
    }
    let used: Vec<Option<String>> = mock.requests()[before..].iter().map(|r| r.credential()).collect();
    assert_eq!(used, vec![Some("kb".to_string()); 3]);
    app.stop().await;
}

#[actix_web::test]
async fn all_accounts_rate_limited_gives_429_with_retry_after() {
    let mock = MockUpstream::start().await;
    mock.always("ka", Reply::rate_limited("30"));
    let env = TestEnv::new().await;
    // A cooldown longer than the gateway waits for one.
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "[routing]\nmax_wait_ms = 5000\n")).await;
    let mut r = post(&app, "/v1/chat/completions", chat(false)).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after"), "30");
    assert_eq!(json_body(&mut r).await["error"]["type"], "rate_limit_error");
    // Now cooling: refused without touching the upstream.
    let r = post(&app, "/v1/chat/completions", chat(false)).await;
    assert_eq!(r.status(), 429);
    let ra: u64 = header(&r, "retry-after").parse().unwrap_or(0);
    assert!((25..=30).contains(&ra), "{ra}");
    assert_eq!(mock.hits(), 1);
    app.stop().await;
}

#[actix_web::test]
async fn server_errors_fall_over_then_open_the_breaker() {
    let mock = MockUpstream::start().await;
    mock.always("ka", Reply::status(500));
    mock.always("kb", Reply::status(503));
    let env = TestEnv::new().await;
    let extra = "[resilience]\nbreaker_threshold = 4\nbreaker_open_ms = 60000\n";
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka"), ("b", "kb")], extra)).await;
    let mut r = post(&app, "/v1/chat/completions", chat(false)).await;
    assert_eq!(r.status(), 502);
    assert_eq!(header(&r, "x-omnigate-attempts"), "");
    let e = json_body(&mut r).await;
    assert!(e["error"]["message"].as_str().unwrap_or_default().contains("2 attempt(s)"), "{e}");
    let r = post(&app, "/v1/chat/completions", chat(true)).await;
    assert_eq!(r.status(), 502);
    assert_eq!(mock.hits(), 4);
    // Four end-to-end failures: the breaker is open; nothing reaches the upstream.
    assert!(eventually(10, || async { account_state(&app, &env, "a").await["breaker"] == "open" }).await);
    let r = post(&app, "/v1/chat/completions", chat(false)).await;
    assert_eq!(r.status(), 503);
    let ra: u64 = header(&r, "retry-after").parse().unwrap_or(0);
    assert!((50..=60).contains(&ra), "the breaker's 60 s open period: {ra}");
    assert_eq!(mock.hits(), 4);
    // An operator reset closes it; a success keeps it closed.
    mock.always("ka", Reply::Text("back".into()));
    let r = crate::support::client()
        .post(format!("{}/api/providers/mock/reset-breaker", crate::support::base(&app)))
        .bearer_auth(&env.admin_token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert!(eventually(10, || async { account_state(&app, &env, "a").await["breaker"] == "closed" }).await);
    let r = post(&app, "/v1/chat/completions", chat(false)).await;
    assert_eq!(r.status(), 200);
    app.stop().await;
}

#[actix_web::test]
async fn a_stalled_upstream_times_out_before_the_first_byte_and_falls_over() {
    let mock = MockUpstream::start().await;
    mock.always("ka", Reply::Stall);
    mock.always(
        "kb",
        Reply::Sse {
            frames: vec!["data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n".into()],
            first_delay: Duration::ZERO,
            delay: Duration::from_secs(3600),
            drop_after: None,
        },
    );
    mock.always("kc", Reply::Text("served by c".into()));
    let env = TestEnv::new().await;
    let extra = "[upstream]\nfirst_byte_timeout_ms = 400\n[routing]\nstrategy = \"fill-first\"\n";
    let text = mock_config(&mock.base(), &[("a", "ka"), ("b", "kb"), ("c", "kc")], extra)
        .replace("api_key = \"kc\"\n", "api_key = \"kc\"\npriority = 9\n");
    let app = env.start(&text).await;
    let t0 = std::time::Instant::now();
    // a: no answer at all; b: headers and a role chunk, then silence (no content) → both time out.
    let mut r = post(&app, "/v1/chat/completions", chat(true)).await;
    assert_eq!(r.status(), 200);
    assert_eq!((header(&r, "x-omnigate-account"), header(&r, "x-omnigate-attempts")), ("c".into(), "3".into()));
    let text = text_body(&mut r).await;
    let content: String = sse_data(&text).iter().filter_map(|e| e["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "served by c");
    assert!(text.ends_with("data: [DONE]\n\n"));
    assert!(t0.elapsed() < Duration::from_secs(3));
    let rows = usage_rows(&app).await;
    assert_eq!(rows[0].attempts, 3);
    app.stop().await;
}

#[actix_web::test]
async fn an_empty_200_is_a_failure_that_falls_over() {
    let mock = MockUpstream::start().await;
    mock.always("ka", Reply::Empty);
    mock.always("kb", Reply::Json { status: 200, body: json!({"choices": []}), retry_after: None });
    mock.always("kc", Reply::Text("real".into()));
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka"), ("b", "kb"), ("c", "kc")], "")).await;
    let mut r = post(&app, "/v1/chat/completions", chat(false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-omnigate-account"), "c");
    assert_eq!(json_body(&mut r).await["choices"][0]["message"]["content"], "real");
    // An empty stream ([DONE] only) also falls over.
    mock.always(
        "ka",
        Reply::Sse {
            frames: vec!["data: [DONE]\n\n".into()],
            first_delay: Duration::ZERO,
            delay: Duration::ZERO,
            drop_after: None,
        },
    );
    let mut r = post(&app, "/v1/chat/completions", chat(true)).await;
    assert_eq!((header(&r, "x-omnigate-account"), header(&r, "x-omnigate-attempts")), ("c".into(), "3".into()));
    let text = text_body(&mut r).await;
    let content: String = sse_data(&text).iter().filter_map(|e| e["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "real");
    app.stop().await;
}

#[actix_web::test]
async fn empty_answers_explained_by_their_finish_reason_are_answers_not_failures() {
    let mock = MockUpstream::start().await;
    // Account a answers with nothing; b would answer with text if a's answer were a failure.
    let empty_whole = |finish: &str| Reply::Json {
        status: 200,
        body: json!({"id": "c1", "object": "chat.completion", "model": "mock-model",
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": finish}],
                     "usage": {"prompt_tokens": 12, "completion_tokens": 64, "total_tokens": 76}}),
        retry_after: None,
    };
    let empty_stream = |finish: &str| {
        Reply::Sse {
        frames: vec![
            "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"mock-model\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n".into(),
            format!("data: {{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"mock-model\",\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"{finish}\"}}]}}\n\n"),
            "data: [DONE]\n\n".into(),
        ],
        first_delay: Duration::ZERO,
        delay: Duration::ZERO,
        drop_after: None,
    }
    };
    mock.always("kb", Reply::Text("from b".into()));
    let env = TestEnv::new().await;
    let app = env
        .start(&mock_config(&mock.base(), &[("a", "ka"), ("b", "kb")], "[routing]\nstrategy = \"fill-first\"\n"))
        .await;
    // The output limit spent (on thinking, say): the answer is the empty one, whole or streamed.
    mock.always("ka", empty_whole("length"));
    let mut r = post(&app, "/v1/chat/completions", chat(false)).await;
    assert_eq!((r.status().as_u16(), header(&r, "x-omnigate-account")), (200, "a".into()));
    assert_eq!(json_body(&mut r).await["choices"][0]["finish_reason"], "length");
    mock.always("ka", empty_stream("length"));
    let mut r = post(&app, "/v1/chat/completions", chat(true)).await;
    assert_eq!(header(&r, "x-omnigate-account"), "a");
    let text = text_body(&mut r).await;
    assert!(sse_data(&text).iter().any(|e| e["choices"][0]["finish_reason"] == "length"), "{text}");
    // After a tool result, an empty end_turn is the model having nothing to add (Claude client,
    // translated from the Chat upstream).
    let after_tool = json!({"model": "mock/mock-model", "max_tokens": 100, "stream": true, "messages": [
        {"role": "user", "content": "run it"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "run", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]}
    ]});
    mock.always("ka", empty_stream("stop"));
    let mut r = post(&app, "/v1/messages", after_tool.clone()).await;
    assert_eq!(header(&r, "x-omnigate-account"), "a");
    let text = text_body(&mut r).await;
    assert!(text.contains("\"stop_reason\":\"end_turn\""), "{text}");
    assert!(!text.contains("text_delta"), "no text: {text}");
    // But an empty end_turn to a plain question explains nothing: it falls over to b.
    let mut plain = after_tool;
    plain["messages"] = json!([{"role": "user", "content": "hello"}]);
    let mut r = post(&app, "/v1/messages", plain).await;
    assert_eq!(header(&r, "x-omnigate-account"), "b");
    let text = text_body(&mut r).await;
    let said: String = sse_data(&text).iter().filter_map(|e| e["delta"]["text"].as_str()).collect();
    assert_eq!(said, "from b");
    mock.always("ka", empty_whole("stop"));
    let r = post(&app, "/v1/chat/completions", chat(false)).await;
    assert_eq!(header(&r, "x-omnigate-account"), "b");
    let rows = usage_rows(&app).await;
    let statuses: Vec<(i32, Option<&str>)> = rows.iter().map(|r| (r.status, r.account.as_deref())).collect();
    assert_eq!(
        statuses,
        vec![(200, Some("a")), (200, Some("a")), (200, Some("a")), (200, Some("b")), (200, Some("b"))]
    );
    assert_eq!(rows[0].output_tokens, 64, "the tokens spent are recorded");
    app.stop().await;
}

#[actix_web::test]
async fn a_stream_broken_after_the_first_byte_ends_with_an_error_event_and_is_not_retried() {
    let mock = MockUpstream::start().await;
    let mut frames = Reply::chat_frames(&["a", "b", "c", "d"], true);
    // The mock drops the connection right after its last frame, which may then never leave its
    // buffer: that last frame is an SSE comment, so what the client sees does not depend on it.
    frames.insert(3, ": last before the drop\n\n".into());
    mock.always(
        "ka",
        Reply::Sse { frames, first_delay: Duration::ZERO, delay: Duration::from_millis(20), drop_after: Some(4) },
    );
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka"), ("b", "kb")], "")).await;
    let mut r = post(&app, "/v1/chat/completions", chat(true)).await;
    assert_eq!(r.status(), 200);
    let text = text_body(&mut r).await;
    let events = sse_data(&text);
    // The three frames sent before the drop (role, "a", "b"), one error event, the terminator.
    let content: String = events.iter().filter_map(|e| e["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!((events.len(), content.as_str()), (5, "ab"), "{text}");
    let broke = "the upstream stream ended before it was complete";
    assert_eq!(events[3], json!({"error": {"code": null, "message": broke, "param": null, "type": "server_error"}}));
    assert_eq!(events[4], json!("[DONE]"));
    assert_eq!(mock.hits(), 1, "no retry after the first byte");
    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].error.as_deref(), Some(broke), "the break is recorded");
    app.stop().await;
}

#[actix_web::test]
async fn a_client_disconnect_cancels_the_upstream_and_frees_the_lease() {
    let mock = MockUpstream::start().await;
    let words: Vec<String> = (0..50).map(|i| format!("w{i} ")).collect();
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let frames = Reply::chat_frames(&refs, true);
    mock.always(
        "ka",
        Reply::Sse { frames, first_delay: Duration::ZERO, delay: Duration::from_millis(200), drop_after: None },
    );
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let mut r = post(&app, "/v1/chat/completions", chat(true)).await;
    assert_eq!(r.status(), 200);
    let first = r.next().await.expect("a chunk").expect("ok");
    assert!(!first.is_empty());
    assert_eq!(account_state(&app, &env, "a").await["in_flight"], 1);
    drop(r);
    assert!(
        eventually(10, || async { mock.state.cancelled.load(Ordering::SeqCst) == 1 }).await,
        "the upstream stream was cancelled"
    );
    assert!(
        eventually(10, || async { account_state(&app, &env, "a").await["in_flight"] == 0 }).await,
        "the lease was freed"
    );
    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, 499);
    assert_eq!(mock.state.completed.load(Ordering::SeqCst), 0);
    app.stop().await;
}

#[actix_web::test]
async fn an_executor_fault_restarts_it_and_other_traffic_never_notices() {
    let mock = MockUpstream::start().await;
    let words: Vec<String> = (0..20).map(|i| format!("w{i} ")).collect();
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let slow = Reply::Sse {
        frames: Reply::chat_frames(&refs, true),
        first_delay: Duration::ZERO,
        delay: Duration::from_millis(40),
        drop_after: None,
    };
    mock.always("ka", slow);
    let env = TestEnv::new().await;
    let mut cfg = env.config(&mock_config(&mock.base(), &[("a", "ka")], ""));
    cfg.server.workers = 1; // every request on the one executor that will fault
    let app = env.start_with(cfg, env.bootstrap()).await;
    let base = crate::support::base(&app);
    let url = format!("{base}/v1/chat/completions");
    // Long, healthy streams in flight on the same executor.
    let healthy: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            actix_rt::spawn(async move {
                let mut r = crate::support::client()
                    .post(url)
                    .bearer_auth("sk-og-ci-0001")
                    .send_json(&chat(true))
                    .await
                    .expect("send");
                (r.status().as_u16(), text_body(&mut r).await)
            })
        })
        .collect();
    actix_rt::time::sleep(Duration::from_millis(150)).await;
    let mut r = crate::support::client()
        .post(&url)
        .bearer_auth("sk-og-ci-0001")
        .insert_header(("x-omnigate-inject-fault", "panic"))
        .send_json(&chat(true))
        .await
        .expect("send");
    let faulty = text_body(&mut r).await;
    let errors: Vec<serde_json::Value> = sse_data(&faulty).into_iter().filter(|e| !e["error"].is_null()).collect();
    assert_eq!(
        errors,
        vec![
            json!({"error": {"code": null, "message": "the upstream sent a malformed stream", "param": null, "type": "server_error"}})
        ],
        "{faulty}"
    );
    assert!(faulty.ends_with("data: [DONE]\n\n"), "{faulty}");
    for h in healthy {
        let (status, text) = h.await.expect("task");
        assert_eq!(status, 200);
        let content: String =
            sse_data(&text).iter().filter_map(|e| e["choices"][0]["delta"]["content"].as_str()).collect();
        assert_eq!(content, words.concat(), "a healthy stream is intact");
        assert!(text.ends_with("data: [DONE]\n\n"));
    }
    let status = admin_get(&app, &env, "/api/status").await;
    assert_eq!(status["executor_restarts"], 1, "{status}");
    assert_eq!(status["executor_faults"], 1);
    // The restarted executor serves new requests.
    mock.always("ka", Reply::Text("after restart".into()));
    let mut r = post(&app, "/v1/chat/completions", chat(false)).await;
    assert_eq!(json_body(&mut r).await["choices"][0]["message"]["content"], "after restart");
    app.stop().await;
}

#[actix_web::test]
async fn concurrency_limits_and_in_flight_counts_hold_under_parallel_streams() {
    let mock = MockUpstream::start_with(2, true).await;
    let slow = Reply::Sse {
        frames: Reply::chat_frames(&["x", "y"], true),
        first_delay: Duration::ZERO,
        delay: Duration::from_millis(150),
        drop_after: None,
    };
    mock.always("ka", slow.clone());
    mock.always("kb", slow);
    let env = TestEnv::new().await;
    let text = mock_config(&mock.base(), &[("a", "ka"), ("b", "kb")], "[routing]\nstrategy = \"p2c\"\n")
        .replace("api_key = \"ka\"\n", "api_key = \"ka\"\nmax_concurrent = 2\n")
        .replace("api_key = \"kb\"\n", "api_key = \"kb\"\nmax_concurrent = 2\n");
    let app = env.start(&text).await;
    let url = format!("{}/v1/chat/completions", crate::support::base(&app));
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            actix_rt::spawn(async move {
                let r = crate::support::client()
                    .post(url)
                    .bearer_auth("sk-og-ci-0001")
                    .send_json(&chat(true))
                    .await
                    .expect("send");
                (r.status().as_u16(), header(&r, "x-omnigate-account"))
            })
        })
        .collect();
    let mut by: HashMap<u16, usize> = HashMap::new();
    let mut accounts: HashMap<String, usize> = HashMap::new();
    for t in tasks {
        let (s, a) = t.await.expect("task");
        *by.entry(s).or_default() += 1;
        *accounts.entry(a).or_default() += 1;
    }
    assert_eq!(by.get(&200), Some(&4), "two slots per account: {by:?}");
    assert_eq!(by.get(&429), Some(&2), "{by:?}");
    assert_eq!((accounts.get("a"), accounts.get("b")), (Some(&2), Some(&2)), "{accounts:?}");
    app.stop().await;
}

#[actix_web::test]
async fn a_client_that_leaves_before_any_answer_still_gets_exactly_one_usage_row() {
    let mock = MockUpstream::start().await;
    mock.always("ka", Reply::Stall);
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "[upstream]\nfirst_byte_timeout_ms = 700\n")).await;
    let url = format!("{}/v1/chat/completions", crate::support::base(&app));
    let c = awc::Client::builder().timeout(Duration::from_millis(150)).finish();
    let r = c.post(url).bearer_auth("sk-og-ci-0001").send_json(&chat(false)).await;
    assert!(r.is_err(), "the client gave up first");
    // The executor's attempt times out after the client left; its failure is recorded once.
    actix_rt::time::sleep(Duration::from_millis(1200)).await;
    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    // The client left 550 ms before the upstream timed out: the server noticed (the handler was
    // dropped), so the row says 499, not the 504 nobody received.
    assert_eq!(rows[0].status, 499, "{rows:?}");
    assert_eq!((rows[0].attempts, rows[0].account.as_deref()), (1, Some("a")));
    app.stop().await;
}
