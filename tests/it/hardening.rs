//! Regression tests for the hostile-input probe (issue "Hardening"): each is named after the
//! attack it reproduces. Access control, resource limits and hostile upstreams; stops and crashes
//! are in `stops.rs`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::mock::{MockUpstream, Reply};
use crate::support::{
    TestEnv, admin_get, base, client, header, json_body, mock_config, post, sse_data, text_body, usage_rows,
};

fn chat(model: &str) -> serde_json::Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hello"}]})
}

/// Sends raw bytes to the app and reads what comes back until the server closes or `wait` passes;
/// also says when the first byte of the answer came and whether the server closed.
async fn raw_exchange(addr: SocketAddr, request: &[u8], wait: Duration) -> (String, Duration, bool) {
    let request = request.to_vec();
    // Blocking socket work stays off the test's (single-threaded) runtime, which drives the app.
    actix_web::rt::task::spawn_blocking(move || raw_exchange_blocking(addr, &request, wait)).await.expect("join")
}

fn raw_exchange_blocking(addr: SocketAddr, request: &[u8], wait: Duration) -> (String, Duration, bool) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(wait)).ok();
    let t0 = Instant::now();
    s.write_all(request).expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut first = None;
    let closed = loop {
        match s.read(&mut chunk) {
            Ok(0) => break true,
            Ok(n) => {
                first.get_or_insert_with(|| t0.elapsed());
                buf.extend_from_slice(&chunk[..n]);
            }
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&buf).into_owned(), first.unwrap_or(wait), closed)
}

/// An upstream written by hand on a raw socket: `serve` gets each connection (after its request
/// head and body were read).
fn raw_upstream(serve: impl Fn(TcpStream) + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let serve = std::sync::Arc::new(serve);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let serve = std::sync::Arc::clone(&serve);
            std::thread::spawn(move || {
                let mut conn = conn;
                read_request(&mut conn);
                serve(conn);
            });
        }
    });
    addr
}

fn read_request(conn: &mut TcpStream) {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut b).unwrap_or(0) == 0 {
            return;
        }
        head.push(b[0]);
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let len = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body).ok();
}

#[actix_web::test]
async fn duplicate_model_keys_cannot_bypass_model_permissions() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let cfg = mock_config(&mock.base(), &[("a", "ka")], "")
        .replace("models = [\"mock-model\"]", "models = [\"mock-model\", \"forbidden\"]")
        .replace("key = \"sk-og-ci-0001\"\n", "key = \"sk-og-ci-0001\"\nmodels = [\"mock/mock-model\"]\n");
    let app = env.start(&cfg).await;
    for (path, body) in [
        (
            "/v1/chat/completions",
            r#"{"model":"mock/mock-model","messages":[{"role":"user","content":"x"}],"model":"mock/forbidden"}"#,
        ),
        ("/v1/messages", r#"{"model":"mock/mock-model","max_tokens":5,"model":"mock/forbidden","messages":[]}"#),
        ("/v1/responses", r#"{"model":"mock/mock-model","input":"x","model":"mock/forbidden"}"#),
    ] {
        let mut r = client()
            .post(format!("{}{path}", base(&app)))
            .bearer_auth("sk-og-ci-0001")
            .content_type("application/json")
            .send_body(body)
            .await
            .expect("send");
        assert_eq!(r.status(), 400, "{path}");
        let v = json_body(&mut r).await;
        assert!(v.to_string().contains("duplicate key `model`"), "{path}: {v}");
    }
    assert_eq!(mock.hits(), 0, "nothing reached the upstream");
    // The allowed model alone still works; the forbidden one alone is refused.
    assert_eq!(post(&app, "/v1/chat/completions", chat("mock/mock-model")).await.status(), 200);
    assert_eq!(post(&app, "/v1/chat/completions", chat("mock/forbidden")).await.status(), 403);
    app.stop().await;
}

#[actix_web::test]
async fn a_revoked_config_key_stays_revoked_after_a_restart() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let cfg = mock_config(&mock.base(), &[("a", "ka")], "");
    let app = env.start(&cfg).await;
    let r = client()
        .delete(format!("{}/api/keys/ci", base(&app)))
        .bearer_auth(&env.admin_token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(post(&app, "/v1/chat/completions", chat("mock/mock-model")).await.status(), 401);
    app.stop().await;

    // Same file, new start: still revoked.
    let app = env.start(&cfg).await;
    assert_eq!(post(&app, "/v1/chat/completions", chat("mock/mock-model")).await.status(), 401);
    app.stop().await;

    // The file changes the key's value: a new key, accepted; the old value stays dead.
    let app = env.start(&cfg.replace("sk-og-ci-0001", "sk-og-ci-0002")).await;
    let ok = client()
        .post(format!("{}/v1/chat/completions", base(&app)))
        .bearer_auth("sk-og-ci-0002")
        .send_json(&chat("mock/mock-model"))
        .await
        .expect("send");
    assert_eq!(ok.status(), 200);
    assert_eq!(post(&app, "/v1/chat/completions", chat("mock/mock-model")).await.status(), 401);
    app.stop().await;
}

#[actix_web::test]
async fn keys_in_the_query_string_work_only_where_the_dialect_uses_them() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let b = base(&app);
    let r = client()
        .post(format!("{b}/v1/chat/completions?key=sk-og-ci-0001"))
        .send_json(&chat("mock/mock-model"))
        .await
        .expect("send");
    assert_eq!(r.status(), 401, "OpenAI routes never read ?key=");
    let r = client()
        .post(format!("{b}/v1/messages?key=sk-og-ci-0001"))
        .send_json(
            &json!({"model": "mock/mock-model", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}),
        )
        .await
        .expect("send");
    assert_eq!(r.status(), 401, "Anthropic routes never read ?key=");
    let r = client().get(format!("{b}/v1/models?key=sk-og-ci-0001")).send().await.expect("send");
    assert_eq!(r.status(), 401);
    let r = client()
        .post(format!("{b}/v1beta/models/mock/mock-model:generateContent?key=sk-og-ci-0001"))
        .send_json(&json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}]}))
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "Gemini routes do");

    // The admin token: only as Authorization: Bearer.
    let tok = &env.admin_token;
    let r = client().get(format!("{b}/api/status?key={tok}")).send().await.expect("send");
    assert_eq!(r.status(), 401);
    let r =
        client().get(format!("{b}/api/status")).insert_header(("x-api-key", tok.as_str())).send().await.expect("send");
    assert_eq!(r.status(), 401);
    let r = client().get(format!("{b}/api/status")).bearer_auth(tok).send().await.expect("send");
    assert_eq!(r.status(), 200);
    app.stop().await;
}

#[actix_web::test]
async fn gemini_count_tokens_checks_the_keys_model_permissions() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let cfg = mock_config(&mock.base(), &[("a", "ka")], "")
        .replace("models = [\"mock-model\"]", "models = [\"mock-model\", \"secret-model\"]")
        .replace("key = \"sk-og-ci-0001\"\n", "key = \"sk-og-ci-0001\"\nmodels = [\"mock/mock-model\"]\n");
    let app = env.start(&cfg).await;
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "count me"}]}]});
    let count = |model: &'static str| {
        let url = format!("{}/v1beta/models/{model}:countTokens", base(&app));
        let body = body.clone();
        async move {
            client().post(url).insert_header(("x-goog-api-key", "sk-og-ci-0001")).send_json(&body).await.expect("send")
        }
    };
    let mut r = count("mock/secret-model").await;
    assert_eq!(r.status(), 403);
    assert_eq!(json_body(&mut r).await["error"]["status"], "PERMISSION_DENIED");
    let mut r = count("mock/mock-model").await;
    assert_eq!(r.status(), 200);
    assert!(json_body(&mut r).await["totalTokens"].as_u64().is_some_and(|n| n > 0));
    app.stop().await;
}

#[actix_web::test]
async fn forty_parallel_wrong_passwords_get_at_most_five_checks() {
    let env = TestEnv::new().await;
    let app = env.start("").await;
    let url = format!("{}/api/login", base(&app));
    let tries = (0..40).map(|i| {
        let url = url.clone();
        async move {
            client()
                .post(url)
                .send_json(&json!({"password": format!("wrong-{i}")}))
                .await
                .expect("send")
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(tries).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(checked <= 5, "{checked} passwords were checked: {statuses:?}");
    assert_eq!(checked + refused, 40, "{statuses:?}");
    // Locked out: even the right password waits now.
    let r = client().post(&url).send_json(&json!({"password": env.admin_password})).await.expect("send");
    assert_eq!(r.status(), 429);
    assert!(!header(&r, "retry-after").is_empty());
    app.stop().await;
}

async fn login_cookie(app: &omnigate::app::Running, env: &TestEnv, forwarded_https: bool) -> (String, String) {
    let mut req = client().post(format!("{}/api/login", base(app)));
    if forwarded_https {
        req = req.insert_header(("x-forwarded-proto", "https"));
    }
    let r = req.send_json(&json!({"password": env.admin_password})).await.expect("send");
    assert_eq!(r.status(), 200);
    let set = header(&r, "set-cookie");
    let cookie = set.split(';').next().unwrap_or_default().to_string();
    (cookie, set)
}

#[actix_web::test]
async fn cross_origin_and_non_json_admin_writes_are_refused() {
    let env = TestEnv::new().await;
    let app = env.start("").await;
    let b = base(&app);
    let own_origin = b.clone();
    let (cookie, set) = login_cookie(&app, &env, false).await;
    assert!(!set.to_ascii_lowercase().contains("secure"), "plain HTTP: no Secure flag ({set})");
    let (_, set) = login_cookie(&app, &env, true).await;
    assert!(set.contains("Secure") && set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");

    let create = |origin: Option<String>, fetch_site: Option<&'static str>, name: &'static str| {
        let (url, cookie) = (format!("{b}/api/keys"), cookie.clone());
        async move {
            let mut req = client().post(url).insert_header(("cookie", cookie));
            if let Some(o) = origin {
                req = req.insert_header(("origin", o));
            }
            if let Some(s) = fetch_site {
                req = req.insert_header(("sec-fetch-site", s));
            }
            req.send_json(&json!({"name": name})).await.expect("send").status().as_u16()
        }
    };
    assert_eq!(create(Some("http://evil.example".into()), None, "k1").await, 403);
    let other_port = format!("http://{}:{}", app.addr.ip(), app.addr.port() + 1);
    assert_eq!(create(Some(other_port), None, "k2").await, 403, "another port is another origin");
    assert_eq!(create(None, Some("cross-site"), "k3").await, 403);
    assert_eq!(create(None, Some("same-site"), "k4").await, 403, "a sibling site is not this origin");
    assert_eq!(create(Some(own_origin.clone()), Some("same-origin"), "k5").await, 201);
    assert_eq!(create(None, None, "k6").await, 201, "non-browser clients send neither header");

    // A form post (the CSRF vehicle) cannot carry JSON: refused whatever the auth.
    for ct in ["text/plain", "application/x-www-form-urlencoded"] {
        let r = client()
            .post(format!("{b}/api/keys"))
            .bearer_auth(&env.admin_token)
            .content_type(ct)
            .send_body(r#"{"name":"k7"}"#)
            .await
            .expect("send");
        assert_eq!(r.status(), 415, "{ct}");
    }
    let logins = client()
        .post(format!("{b}/api/login"))
        .insert_header(("origin", "http://evil.example"))
        .send_json(&json!({"password": env.admin_password}))
        .await
        .expect("send");
    assert_eq!(logins.status(), 403, "no login CSRF either");

    // Security headers on the dashboard and the API; HEAD answers where GET does.
    for path in ["/dashboard", "/dashboard/app.js", "/api/session"] {
        let r =
            client().get(format!("{b}{path}")).insert_header(("cookie", cookie.clone())).send().await.expect("send");
        assert_eq!(header(&r, "x-frame-options"), "DENY", "{path}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&r, "referrer-policy"), "no-referrer", "{path}");
    }
    assert!(
        header(&client().get(format!("{b}/dashboard")).send().await.expect("send"), "content-security-policy")
            .contains("frame-ancestors 'none'")
    );
    for path in ["/dashboard", "/health", "/dashboard/app.js"] {
        let mut r = client().head(format!("{b}{path}")).send().await.expect("send");
        assert_eq!(r.status(), 200, "HEAD {path}");
        assert!(r.body().await.expect("body").is_empty(), "HEAD {path} has no body");
    }
    let r = client().head(format!("{b}/api/status")).bearer_auth(&env.admin_token).send().await.expect("send");
    assert_eq!(r.status(), 200);
    app.stop().await;

    #[cfg(unix)]
    if env.is_sqlite() {
        use std::os::unix::fs::PermissionsExt;
        for f in ["omnigate.db", "omnigate.db-wal", "omnigate.lock"] {
            let p = env.dir.path().join(f);
            if let Ok(m) = std::fs::metadata(&p) {
                assert_eq!(m.permissions().mode() & 0o777, 0o600, "{f} is owner-only");
            }
        }
        assert!(env.sqlite_file().exists());
    }
}

#[actix_web::test]
async fn unauthenticated_requests_cannot_make_the_daemon_buffer_a_body() {
    let env = TestEnv::new().await;
    let app = env.start("").await;
    let head = |path: &str, extra: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extra}Content-Length: 31457280\r\n\r\n{{\"a\""
        )
    };
    // No key / no session: refused at once, without waiting for the 30 MB.
    for path in [
        "/v1/chat/completions",
        "/v1/messages",
        "/api/keys",
        "/v1beta/models/x:generateContent",
        "/v1/completions",
        "/v1/moderations",
        "/v1/rerank",
        "/v1/images/generations",
        "/v1/images/edits",
        "/v1/audio/transcriptions",
        "/v1/audio/translations",
        "/v1/audio/speech",
    ] {
        let (resp, took, _) = raw_exchange(app.addr, head(path, "").as_bytes(), Duration::from_secs(5)).await;
        assert!(resp.starts_with("HTTP/1.1 401"), "{path}: {resp}");
        assert!(took < Duration::from_secs(2), "{path} answered in {took:?}");
    }
    // Login has no credential to check first: its body is capped at a few KB, refused up front.
    let (resp, took, _) = raw_exchange(app.addr, head("/api/login", "").as_bytes(), Duration::from_secs(5)).await;
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    assert!(took < Duration::from_secs(2));
    app.stop().await;
}

#[actix_web::test]
async fn a_body_that_trickles_in_is_answered_408_and_the_connection_closed() {
    let env = TestEnv::new().await;
    let mut cfg = env.config("[[keys]]\nname = \"ci\"\nkey = \"sk-og-ci-0001\"\n");
    cfg.server.body_timeout_secs = 1;
    let app = env.start_with(cfg, env.bootstrap()).await;
    let req = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-og-ci-0001\r\n\
               Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\":";
    let (resp, took, closed) = raw_exchange(app.addr, req.as_bytes(), Duration::from_secs(10)).await;
    assert!(resp.starts_with("HTTP/1.1 408"), "{resp}");
    assert!(resp.to_ascii_lowercase().contains("connection: close"), "{resp}");
    assert!(closed, "the connection is closed after the 408");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(5), "{took:?}");
    app.stop().await;
}

#[actix_web::test]
async fn an_overlong_model_name_is_refused_and_never_stored_whole() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let long = "m".repeat(5000);
    let mut r = post(&app, "/v1/chat/completions", chat(&long)).await;
    assert_eq!(r.status(), 400);
    let msg = json_body(&mut r).await["error"]["message"].as_str().unwrap_or_default().to_string();
    assert!(msg.contains("at most 256") && msg.len() < 200, "{msg}");
    // A long-but-allowed unknown model: refused as unknown, echoed only in part, row bounded.
    let mid = format!("nope/{}", "x".repeat(240));
    let mut r = post(&app, "/v1/chat/completions", chat(&mid)).await;
    let v = json_body(&mut r).await;
    assert!(r.status().is_client_error(), "{v}");
    let rows = usage_rows(&app).await;
    assert!(
        rows.iter().all(|row| row.model.len() <= 256),
        "{:?}",
        rows.iter().map(|r| r.model.len()).collect::<Vec<_>>()
    );
    assert!(rows.iter().all(|row| row.error.as_deref().is_none_or(|e| e.len() <= 1024)));
    assert_eq!(mock.hits(), 0);
    app.stop().await;
}

#[actix_web::test]
async fn a_trickling_upstream_cannot_hold_a_request_past_the_total_timeout() {
    let upstream = raw_upstream(|mut conn| {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
        if conn.write_all(head.as_bytes()).is_err() {
            return;
        }
        for _ in 0..600 {
            std::thread::sleep(Duration::from_millis(100));
            if conn.write_all(b" ").is_err() {
                return;
            }
        }
    });
    let env = TestEnv::new().await;
    let mut cfg = env.config(&mock_config(&format!("http://{upstream}/v1"), &[("a", "ka")], ""));
    cfg.upstream.total_timeout_ms = 1_000;
    cfg.upstream.idle_timeout_ms = 5_000;
    let app = env.start_with(cfg, env.bootstrap()).await;
    let t0 = Instant::now();
    let mut r = post(&app, "/v1/chat/completions", chat("mock/mock-model")).await;
    let took = t0.elapsed();
    assert_eq!(r.status(), 504, "{}", json_body(&mut r).await);
    assert!(took < Duration::from_secs(4), "held for {took:?} although every byte came within the idle timeout");
    app.stop().await;
}

#[actix_web::test]
async fn upstream_redirects_are_never_followed() {
    let mock = MockUpstream::start().await;
    let elsewhere = MockUpstream::start().await;
    mock.always("ka", Reply::Redirect { status: 307, location: format!("{}/chat/completions", elsewhere.base()) });
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let mut r = post(&app, "/v1/chat/completions", chat("mock/mock-model")).await;
    assert_eq!(r.status(), 502);
    let v = json_body(&mut r).await;
    assert!(v["error"]["message"].as_str().unwrap_or_default().contains("307"), "the status is named: {v}");
    assert_eq!(elsewhere.hits(), 0, "the prompt was not replayed to the redirect target");
    assert_eq!(mock.hits(), 1);
    app.stop().await;
}

#[actix_web::test]
async fn client_type_mistakes_are_400s_that_never_reach_or_trip_a_provider() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let extra = "[resilience]\nbreaker_threshold = 2\n";
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], extra)).await;
    let bad = [
        ("/v1/chat/completions", json!({"model": "mock/mock-model", "stream": "yes", "messages": []})),
        ("/v1/chat/completions", json!({"model": "mock/mock-model", "messages": "hello"})),
        ("/v1/chat/completions", json!({"model": "mock/mock-model", "messages": [], "max_tokens": "10"})),
        ("/v1/messages", json!({"model": "mock/mock-model", "max_tokens": 1.5, "messages": []})),
        ("/v1/responses", json!({"model": "mock/mock-model", "input": 5})),
        ("/v1/embeddings", json!({"model": "mock/mock-model", "input": {"a": 1}})),
        ("/v1/completions", json!({"model": "mock/mock-model", "prompt": 5})),
        ("/v1/moderations", json!({"model": "mock/mock-model", "input": {"a": 1}})),
        ("/v1/rerank", json!({"model": "mock/mock-model", "query": "q", "documents": ["d"], "top_n": "2"})),
        ("/v1/images/generations", json!({"model": "mock/mock-model", "prompt": "p", "n": "2"})),
    ];
    for _ in 0..3 {
        for (path, body) in &bad {
            let mut r = post(&app, path, body.clone()).await;
            assert_eq!(r.status(), 400, "{path} {body}");
            let v = json_body(&mut r).await;
            assert!(v.to_string().contains("must be"), "the field is named: {v}");
        }
    }
    assert_eq!(mock.hits(), 0);
    // An upstream 400 is the client's too: never the breaker's.
    mock.script("ka", vec![Reply::status(400), Reply::status(400), Reply::status(400)]);
    for _ in 0..3 {
        assert_eq!(post(&app, "/v1/chat/completions", chat("mock/mock-model")).await.status(), 400);
    }
    assert_eq!(post(&app, "/v1/chat/completions", chat("mock/mock-model")).await.status(), 200, "breaker closed");
    let accounts = admin_get(&app, &env, "/api/accounts").await;
    assert_eq!(accounts["accounts"][0]["breaker"], "closed");
    app.stop().await;
}

#[actix_web::test]
async fn a_close_delimited_sse_stream_is_a_valid_stream() {
    let upstream = raw_upstream(|mut conn| {
        let mut out = String::from("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n");
        for f in Reply::chat_frames(&["close", " delimited"], true) {
            out.push_str(&f);
        }
        let _ = conn.write_all(out.as_bytes());
        let _ = conn.shutdown(std::net::Shutdown::Both);
    });
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&format!("http://{upstream}/v1"), &[("a", "ka")], "")).await;
    let mut body = chat("mock/mock-model");
    body["stream"] = json!(true);
    let mut r = post(&app, "/v1/chat/completions", body).await;
    let text = text_body(&mut r).await;
    assert_eq!(r.status(), 200, "{text}");
    let data = sse_data(&text);
    let words: String =
        data.iter().filter_map(|d| d["choices"][0]["delta"]["content"].as_str()).collect::<Vec<_>>().concat();
    assert_eq!(words, "close delimited");
    assert_eq!(data.last(), Some(&json!("[DONE]")));
    assert!(!text.contains("\"error\""), "a clean end, not an abrupt one: {text}");
    let rows = usage_rows(&app).await;
    assert_eq!((rows[0].status, rows[0].error.as_deref()), (200, None));
    app.stop().await;
}

#[actix_web::test]
async fn garbage_lines_in_a_passthrough_stream_are_dropped_counted_and_never_forwarded() {
    let mock = MockUpstream::start().await;
    let mut frames = Reply::chat_frames(&["one", " two"], false);
    frames.insert(2, "GARBAGE-LINE\n<html>injected</html>\n\n".into());
    frames.insert(3, "data: {\"truncated\": \n\n".into());
    frames.insert(4, "X-Injected: yes\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"!\"}}]}\n\n".into());
    mock.always("ka", Reply::Sse { frames, first_delay: Duration::ZERO, delay: Duration::ZERO, drop_after: None });
    let anthropic_frames: Vec<String> = crate::mock::sse_events(&crate::mock::fixture("anthropic", "stream_text.sse"))
        .into_iter()
        .enumerate()
        .flat_map(|(i, f)| if i == 2 { vec!["not-a-field\n\n".to_string(), f] } else { vec![f] })
        .collect();
    mock.always(
        "kb",
        Reply::Sse { frames: anthropic_frames, first_delay: Duration::ZERO, delay: Duration::ZERO, drop_after: None },
    );
    let env = TestEnv::new().await;
    let extra = "[[providers]]\nid = \"anth\"\ndialect = \"anthropic\"\nbase_url = \"BASE\"\nmodels = [\"m\"]\n\
                 [[accounts]]\nprovider = \"anth\"\nname = \"b\"\napi_key = \"kb\"\n"
        .replace("BASE", &mock.base());
    let app = env.start(&format!("{}\n{extra}", mock_config(&mock.base(), &[("a", "ka")], ""))).await;
    let mut body = chat("mock/mock-model");
    body["stream"] = json!(true);
    let text = text_body(&mut post(&app, "/v1/chat/completions", body).await).await;
    for bad in ["GARBAGE", "html", "truncated", "X-Injected"] {
        assert!(!text.contains(bad), "{bad} forwarded: {text}");
    }
    let words: String = sse_data(&text)
        .iter()
        .filter_map(|d| d["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(words, "one! two");
    let anth =
        json!({"model": "anth/m", "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "x"}]});
    let text = text_body(&mut post(&app, "/v1/messages", anth).await).await;
    assert!(!text.contains("not-a-field") && text.contains("message_stop"), "{text}");
    let status = admin_get(&app, &env, "/api/status").await;
    // Chat: three garbage lines and a cut frame; Anthropic: one garbage line.
    assert_eq!(status["dropped_frames"], 5, "{status}");
    app.stop().await;
}

#[actix_web::test]
async fn upstream_errors_never_echo_the_account_key_in_any_encoding() {
    use base64::Engine;
    let key = "sk-upstream/secret+key=0123456789";
    let b64 = base64::engine::general_purpose::STANDARD.encode(key);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("user:{key}"));
    let url = key.replace('/', "%2F").replace('+', "%2B").replace('=', "%3D");
    let mock = MockUpstream::start().await;
    let message = format!("bad key {key} (b64 {b64}, basic {basic}, url {url}, json {})", key.replace('/', "\\/"));
    mock.always(key, Reply::Json { status: 400, body: json!({"error": {"message": message}}), retry_after: None });
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", key)], "")).await;
    let mut r = post(&app, "/v1/chat/completions", chat("mock/mock-model")).await;
    assert_eq!(r.status(), 400);
    let shown = json_body(&mut r).await.to_string();
    assert!(shown.contains("bad key ***"), "{shown}");
    for leak in [key, b64.as_str(), &b64[4..24], &basic[8..30], url.as_str(), "secret"] {
        assert!(!shown.contains(leak), "leaked `{leak}`: {shown}");
    }
    let rows = usage_rows(&app).await;
    assert!(rows.iter().all(|r| !r.error.as_deref().unwrap_or_default().contains("secret")));
    app.stop().await;
}
