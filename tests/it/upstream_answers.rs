//! What clients get when upstreams answer badly: the recorded error bodies of every dialect
//! (tests/fixtures/*/error.json, anthropic/stream_error.sse), malformed bodies and streams,
//! a stream that goes silent half-way (idle timeout), and the gateway's own overhead figure.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use omnigate::app::Running;
use serde_json::{Value, json};

use crate::mock::{MockUpstream, Reply, fixture, sse_events};
use crate::support::{
    TestEnv, admin_get, base, client, header, json_body, mock_config, post, sse_data, text_body, usage_rows,
};

/// One custom provider per upstream dialect, all on `mock`, each with its own credential.
fn dialects_config(mock: &MockUpstream, extra: &str) -> String {
    let v1 = mock.base();
    let gem = format!("http://{}/v1beta", mock.addr);
    let mut s = format!("{extra}\n[[keys]]\nname = \"ci\"\nkey = \"sk-og-ci-0001\"\n");
    for (id, dialect, url, key) in [
        ("up-chat", "openai-chat", &v1, "k-chat"),
        ("up-resp", "openai-responses", &v1, "k-resp"),
        ("up-anth", "anthropic", &v1, "k-anth"),
        ("up-gem", "gemini", &gem, "k-gem"),
    ] {
        s.push_str(&format!(
            "\n[[providers]]\nid = \"{id}\"\ndialect = \"{dialect}\"\nbase_url = \"{url}\"\nmodels = [\"m\"]\n\n[[accounts]]\nprovider = \"{id}\"\nname = \"a\"\napi_key = \"{key}\"\n"
        ));
    }
    s
}

/// Calls `model` on one client surface (`chat`, `responses`, `messages`, `gemini`).
async fn call(app: &Running, surface: &str, model: &str, stream: bool) -> (u16, String) {
    let (c, b) = (client(), base(app));
    let msgs = json!([{"role": "user", "content": "x"}]);
    let sent = match surface {
        "chat" => {
            c.post(format!("{b}/v1/chat/completions"))
                .bearer_auth("sk-og-ci-0001")
                .send_json(&json!({"model": model, "stream": stream, "messages": msgs}))
                .await
        }
        "responses" => {
            c.post(format!("{b}/v1/responses"))
                .bearer_auth("sk-og-ci-0001")
                .send_json(&json!({"model": model, "stream": stream, "input": "x"}))
                .await
        }
        "messages" => {
            c.post(format!("{b}/v1/messages"))
                .insert_header(("x-api-key", "sk-og-ci-0001"))
                .send_json(&json!({"model": model, "stream": stream, "max_tokens": 10, "messages": msgs}))
                .await
        }
        _ => {
            let verb = if stream { "streamGenerateContent?alt=sse" } else { "generateContent" };
            c.post(format!("{b}/v1beta/models/{model}:{verb}"))
                .insert_header(("x-goog-api-key", "sk-og-ci-0001"))
                .send_json(&json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}]}))
                .await
        }
    };
    let mut r = sent.expect("send");
    (r.status().as_u16(), text_body(&mut r).await)
}

/// The error a client of `surface` gets for an upstream 400 whose `error` object is `up`: the
/// message, and on OpenAI surfaces the upstream's code (held in `code_field`) and `param`.
fn error_in(surface: &str, up: &Value, code_field: &str) -> Value {
    let m = format!("upstream error: {}", up["message"].as_str().expect("a message"));
    match surface {
        "messages" => json!({"type": "error", "error": {"type": "invalid_request_error", "message": m}}),
        "gemini" => json!({"error": {"code": 400, "message": m, "status": "INVALID_ARGUMENT"}}),
        _ => json!({"error": {"code": up[code_field], "message": m, "param": up.get("param").unwrap_or(&Value::Null),
                              "type": "invalid_request_error"}}),
    }
}

#[actix_web::test]
async fn every_dialects_recorded_error_reaches_every_client_in_its_own_shape_and_trips_nothing() {
    let mock = MockUpstream::start().await;
    let mut upstream = HashMap::new();
    for (dialect, key, provider, code_field) in [
        ("openai-chat", "k-chat", "up-chat", "code"),
        ("openai-responses", "k-resp", "up-resp", "code"),
        ("anthropic", "k-anth", "up-anth", "type"),
        ("gemini", "k-gem", "up-gem", "status"),
    ] {
        let body: Value = serde_json::from_str(&fixture(dialect, "error.json")).expect("fixture JSON");
        upstream.insert(provider, (body["error"].clone(), code_field));
        mock.always(key, Reply::Json { status: 400, body, retry_after: None });
    }
    let env = TestEnv::new().await;
    let app = env.start(&dialects_config(&mock, "[resilience]\nbreaker_threshold = 2\n")).await;
    for provider in ["up-chat", "up-resp", "up-anth", "up-gem"] {
        for surface in ["chat", "responses", "messages", "gemini"] {
            let (status, body) = call(&app, surface, &format!("{provider}/m"), false).await;
            let body: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"));
            let (up, code_field) = &upstream[provider];
            assert_eq!((status, &body), (400, &error_in(surface, up, code_field)), "{provider} to {surface}");
        }
    }
    assert_eq!(mock.hits(), 16, "a client error is neither retried nor failed over");
    // Four client errors per provider: no breaker opened, no account cooling.
    let v = admin_get(&app, &env, "/api/accounts").await;
    let states: Vec<(&str, i64)> = v["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| (a["breaker"].as_str().unwrap_or_default(), a["cooldown_until"].as_i64().unwrap_or(-1)))
        .collect();
    assert_eq!(states, vec![("closed", 0); 4]);
    app.stop().await;
}

#[actix_web::test]
async fn an_anthropic_error_event_mid_stream_reaches_each_client_once_and_is_not_retried() {
    let mock = MockUpstream::start().await;
    let frames = sse_events(&fixture("anthropic", "stream_error.sse"));
    mock.always("k-anth", Reply::Sse { frames, first_delay: Duration::ZERO, delay: Duration::ZERO, drop_after: None });
    let env = TestEnv::new().await;
    let app = env.start(&dialects_config(&mock, "")).await;

    // Anthropic to Anthropic is a passthrough: the very events, ending with the error.
    let (status, body) = call(&app, "messages", "up-anth/m", true).await;
    assert_eq!(status, 200);
    let recorded = sse_data(&fixture("anthropic", "stream_error.sse"));
    assert_eq!(sse_data(&body), recorded);

    // Translated for an OpenAI client: the text so far, one error event, then `[DONE]`.
    let (status, body) = call(&app, "chat", "up-anth/m", true).await;
    assert_eq!(status, 200);
    let events = sse_data(&body);
    let text: String = events.iter().filter_map(|e| e["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "Paris has");
    let errors: Vec<&Value> = events.iter().filter(|e| !e["error"].is_null()).collect();
    assert_eq!(
        errors,
        vec![
            &json!({"error": {"code": "overloaded_error", "message": "Overloaded", "param": null, "type": "server_error"}})
        ]
    );
    assert_eq!(events.last(), Some(&json!("[DONE]")));

    // For a Gemini client: the text, then Gemini's error object.
    let (status, body) = call(&app, "gemini", "up-anth/m", true).await;
    assert_eq!(status, 200);
    let events = sse_data(&body.replace("\r\n", "\n"));
    assert_eq!(events[0]["candidates"][0]["content"]["parts"][0]["text"], "Paris has");
    assert_eq!(events[1], json!({"error": {"code": 503, "message": "Overloaded", "status": "UNAVAILABLE"}}));

    assert_eq!(mock.hits(), 3, "nothing retried after the first byte");
    let rows = usage_rows(&app).await;
    let seen: Vec<(i32, bool, Option<&str>)> =
        rows.iter().map(|r| (r.status, r.streamed, r.error.as_deref())).collect();
    assert_eq!(
        seen,
        vec![(200, true, Some("the upstream reported an error: Overloaded")); 3],
        "the in-band error is recorded"
    );
    app.stop().await;
}

/// An upstream that answers each credential with a fixed status, content type and body, after
/// an optional delay; counts hits per credential.
struct RawUpstream {
    addr: std::net::SocketAddr,
    hits: Arc<HashMap<String, AtomicUsize>>,
}

type RawReply = (u16, &'static str, &'static str, Duration);

impl RawUpstream {
    async fn start(replies: &[(&str, RawReply)]) -> Self {
        let table: Arc<HashMap<String, RawReply>> =
            Arc::new(replies.iter().map(|(k, r)| ((*k).to_string(), *r)).collect());
        let hits: Arc<HashMap<String, AtomicUsize>> =
            Arc::new(replies.iter().map(|(k, _)| ((*k).to_string(), AtomicUsize::new(0))).collect());
        let (t, h) = (Arc::clone(&table), Arc::clone(&hits));
        let server = HttpServer::new(move || {
            let (t, h) = (Arc::clone(&t), Arc::clone(&h));
            App::new().default_service(web::to(move |req: HttpRequest, _body: web::Bytes| {
                let (t, h) = (Arc::clone(&t), Arc::clone(&h));
                async move {
                    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
                    let key = auth.strip_prefix("Bearer ").unwrap_or_default().to_string();
                    let Some(&(status, ctype, body, delay)) = t.get(&key) else {
                        return HttpResponse::Unauthorized().finish();
                    };
                    h[&key].fetch_add(1, Ordering::SeqCst);
                    actix_rt::time::sleep(delay).await;
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
                        .content_type(ctype)
                        .body(body)
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("bind");
        let addr = server.addrs()[0];
        actix_rt::spawn(server.run());
        Self { addr, hits }
    }

    fn base(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn hits(&self, key: &str) -> usize {
        self.hits[key].load(Ordering::SeqCst)
    }
}

const HTML: RawReply = (200, "text/html", "<html><body>502 Bad Gateway</body></html>", Duration::ZERO);
const TRUNCATED: RawReply =
    (200, "application/json", r#"{"id":"x","choices":[{"message":{"content":"hal"#, Duration::ZERO);
const WRONG_SHAPE: RawReply = (200, "application/json", r#"{"choices":"none","usage":7}"#, Duration::ZERO);
const GOOD: RawReply = (
    200,
    "application/json",
    r#"{"id":"c","object":"chat.completion","created":1,"model":"mock-model","choices":[{"index":0,"message":{"role":"assistant","content":"fine"},"finish_reason":"stop"}],"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}}"#,
    Duration::ZERO,
);

#[actix_web::test]
async fn malformed_upstream_bodies_fail_over_to_a_sound_account() {
    let up = RawUpstream::start(&[("ka", HTML), ("kb", TRUNCATED), ("kc", GOOD)]).await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&up.base(), &[("a", "ka"), ("b", "kb"), ("c", "kc")], "")).await;
    let chat = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hi"}]});
    let mut r = post(&app, "/v1/chat/completions", chat.clone()).await;
    assert_eq!((r.status().as_u16(), header(&r, "x-omnigate-account")), (200, "c".into()));
    assert_eq!(header(&r, "x-omnigate-attempts"), "3");
    assert_eq!(json_body(&mut r).await["choices"][0]["message"]["content"], "fine");
    // Translated for an Anthropic client, the same fallback.
    let anth = json!({"model": "mock/mock-model", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    let mut r = post(&app, "/v1/messages", anth).await;
    assert_eq!((r.status().as_u16(), header(&r, "x-omnigate-account")), (200, "c".into()));
    assert_eq!(json_body(&mut r).await["content"][0]["text"], "fine");
    assert_eq!((up.hits("ka"), up.hits("kb"), up.hits("kc")), (2, 2, 2));
    let rows = usage_rows(&app).await;
    let seen: Vec<(i32, i32, Option<&str>)> =
        rows.iter().map(|r| (r.status, r.attempts, r.account.as_deref())).collect();
    assert_eq!(seen, vec![(200, 3, Some("c")), (200, 3, Some("c"))]);
    app.stop().await;
}

#[actix_web::test]
async fn only_malformed_upstreams_give_a_502_in_the_clients_shape() {
    let up = RawUpstream::start(&[("ka", TRUNCATED), ("kb", WRONG_SHAPE)]).await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&up.base(), &[("a", "ka"), ("b", "kb")], "")).await;
    let chat = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hi"}]});
    let mut r = post(&app, "/v1/chat/completions", chat).await;
    assert_eq!(r.status(), 502);
    let e = json_body(&mut r).await;
    assert_eq!(e["error"]["type"], "api_error", "{e}");
    assert!(e["error"]["message"].as_str().is_some_and(|m| m.contains("2 attempt(s)")), "{e}");
    // An Anthropic client (translated: the wrong shape cannot be decoded either).
    let anth = json!({"model": "mock/mock-model", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    let mut r = post(&app, "/v1/messages", anth).await;
    assert_eq!(r.status(), 502);
    let e = json_body(&mut r).await;
    assert_eq!((e["type"].as_str(), e["error"]["type"].as_str()), (Some("error"), Some("api_error")), "{e}");
    assert_eq!((up.hits("ka"), up.hits("kb")), (2, 2));
    let rows = usage_rows(&app).await;
    let seen: Vec<(i32, i32)> = rows.iter().map(|r| (r.status, r.attempts)).collect();
    assert_eq!(seen, vec![(502, 2), (502, 2)]);
    app.stop().await;
}

#[actix_web::test]
async fn a_stream_of_nothing_but_garbage_frames_is_an_empty_answer_that_fails_over() {
    let mock = MockUpstream::start().await;
    let garbage = vec![
        "data: {\"choices\":[{\"delta\":{\"content\":\"cut\n\n".to_string(),
        "data: <html>oops</html>\n\n".to_string(),
        "data: [DONE]\n\n".to_string(),
    ];
    mock.always(
        "ka",
        Reply::Sse { frames: garbage, first_delay: Duration::ZERO, delay: Duration::ZERO, drop_after: None },
    );
    mock.always("kb", Reply::Text("sound stream".into()));
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka"), ("b", "kb")], "")).await;
    let chat = json!({"model": "mock/mock-model", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let mut r = post(&app, "/v1/chat/completions", chat).await;
    assert_eq!((r.status().as_u16(), header(&r, "x-omnigate-account")), (200, "b".into()));
    assert_eq!(header(&r, "x-omnigate-attempts"), "2");
    let body = text_body(&mut r).await;
    let text: String = sse_data(&body).iter().filter_map(|e| e["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "sound stream");
    assert!(!body.contains("oops") && !body.contains("cut"), "{body}");
    assert_eq!((mock.hits(), usage_rows(&app).await[0].attempts), (2, 2));
    app.stop().await;
}

#[actix_web::test]
async fn a_stream_that_goes_silent_half_way_ends_at_the_idle_timeout_with_an_error_event() {
    let mock = MockUpstream::start().await;
    let frames = Reply::chat_frames(&["Hel", "lo"], true);
    // The role and the first words arrive together; the rest would come an hour later.
    let mut sent = vec![format!("{}{}", frames[0], frames[1])];
    sent.extend(frames[2..].iter().cloned());
    mock.always(
        "ka",
        Reply::Sse { frames: sent, first_delay: Duration::ZERO, delay: Duration::from_secs(3600), drop_after: None },
    );
    let env = TestEnv::new().await;
    let extra = "[upstream]\nidle_timeout_ms = 400\n";
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka"), ("b", "kb")], extra)).await;
    let t0 = Instant::now();
    let chat = json!({"model": "mock/mock-model", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let mut r = post(&app, "/v1/chat/completions", chat).await;
    assert_eq!((r.status().as_u16(), header(&r, "x-omnigate-account")), (200, "a".into()));
    let body = text_body(&mut r).await;
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(400) && took < Duration::from_secs(3), "ended after {took:?}");
    let events = sse_data(&body);
    let text: String = events.iter().filter_map(|e| e["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "Hel");
    let errors: Vec<&Value> = events.iter().filter(|e| !e["error"].is_null()).collect();
    let stalled = "the upstream stalled mid-stream";
    let event = json!({"error": {"code": null, "message": stalled, "param": null, "type": "timeout_error"}});
    assert_eq!(errors, vec![&event], "{body}");
    assert_eq!(events.last(), Some(&json!("[DONE]")));
    assert_eq!(mock.hits(), 1, "never retried after the first byte, though b was free");
    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!((row.status, row.streamed, row.attempts, row.account.as_deref()), (200, true, 1, Some("a")));
    assert_eq!(row.error.as_deref(), Some(stalled));
    assert_eq!(mock.state.cancelled.load(Ordering::SeqCst), 1, "the silent upstream stream was closed");
    app.stop().await;
}

#[actix_web::test]
async fn the_overhead_header_leaves_out_the_upstreams_own_time() {
    let slow = (GOOD.0, GOOD.1, GOOD.2, Duration::from_millis(800));
    let up = RawUpstream::start(&[("ka", slow)]).await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&up.base(), &[("a", "ka")], "")).await;
    let t0 = Instant::now();
    let chat = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hi"}]});
    let mut r = post(&app, "/v1/chat/completions", chat).await;
    assert_eq!(r.status(), 200);
    assert!(t0.elapsed() >= Duration::from_millis(800));
    let overhead: f64 = header(&r, "x-omnigate-overhead-ms").parse().expect("a number of ms");
    assert!(overhead > 0.0 && overhead < 400.0, "the 800 ms upstream wait is not overhead: {overhead}");
    json_body(&mut r).await;
    app.stop().await;
}

/// An upstream (raw HTTP/1.1 over a socket) whose keep-alive runs out after 300 ms idle, and
/// which closes such a connection the moment the next request starts to arrive on it: the race a
/// client writing on a pooled connection loses when the server's keep-alive ends at that instant.
/// Counts the connections it closed under a request.
fn closing_upstream() -> (String, Arc<AtomicUsize>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let refused = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&refused);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let refused = Arc::clone(&counted);
            std::thread::spawn(move || {
                let mut out = stream.try_clone().expect("clone");
                let mut reader = BufReader::new(stream);
                loop {
                    let mut length = 0usize;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let answer = json!({"id": "c1", "object": "chat.completion", "created": 0, "model": "mock-model",
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": "served"}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
                    .to_string();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        answer.len()
                    );
                    if out.write_all(head.as_bytes()).and_then(|()| out.write_all(answer.as_bytes())).is_err() {
                        return;
                    }
                    // A request within the keep-alive is served; after it, the next one is refused
                    // by closing with its first bytes unread (the writer sees a reset).
                    let _ = reader.get_ref().set_read_timeout(Some(Duration::from_millis(300)));
                    match reader.fill_buf() {
                        Ok([]) => return,
                        Ok(_) => {
                            let _ = reader.get_ref().set_read_timeout(None);
                            continue;
                        }
                        Err(_) => {
                            let _ = reader.get_ref().set_read_timeout(None);
                            if matches!(reader.fill_buf(), Ok(b) if !b.is_empty()) {
                                refused.fetch_add(1, Ordering::SeqCst);
                            }
                            return;
                        }
                    }
                }
            });
        }
    });
    (format!("http://{addr}/v1"), refused)
}

/// An upstream that closed a kept-alive connection while the gateway was writing never read the
/// request: it is sent again on a fresh connection instead of failing the client's request.
#[actix_web::test]
async fn a_kept_alive_connection_the_upstream_closed_is_replaced_not_reported() {
    let (url, refused) = closing_upstream();
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&url, &[("a", "ka")], "")).await;
    // Every executor gets a pooled connection to the upstream.
    for _ in 0..8 {
        let small = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "one"}]});
        assert_eq!(post(&app, "/v1/chat/completions", small).await.status(), 200);
    }
    // Large enough that the write is still going when the upstream's reset arrives.
    let big = "x".repeat(4 * 1024 * 1024);
    for round in 0..4 {
        actix_rt::time::sleep(Duration::from_millis(400)).await;
        let body = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": big}]});
        let mut r = post(&app, "/v1/chat/completions", body).await;
        let status = r.status().as_u16();
        let text = String::from_utf8_lossy(&r.body().limit(1 << 20).await.expect("body")).into_owned();
        assert_eq!(status, 200, "round {round}: {text}");
        assert!(text.contains("served"), "{text}");
    }
    assert!(refused.load(Ordering::SeqCst) >= 1, "the upstream closed a connection under a request");
    app.stop().await;
}
