//! The Responses API over WebSocket (`GET /v1/responses`), with awc's WebSocket client speaking
//! the message shapes Codex CLI sends (`tests/fixtures/openai-responses/ws_*.json`): streamed
//! events ending in `response.completed`, a tool round trip continued on the same socket (the
//! continuation expanded for a translated upstream), an Anthropic upstream after a warm-up, the
//! key refused before the upgrade, a client leaving mid-stream, and malformed messages.

use std::time::Duration;

use actix_codec::Framed;
use awc::BoxedSocket;
use awc::ws::{Codec, Frame, Message};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};

use crate::mock::{MockUpstream, Reply, fixture};
use crate::support::{TestEnv, admin_get, base, client, eventually, usage_rows};

type Ws = Framed<BoxedSocket, Codec>;

/// One custom provider per dialect on the same mock, each with its own credential.
fn config(mock: &MockUpstream) -> String {
    let v1 = mock.base();
    let mut s = String::from("[[keys]]\nname = \"ci\"\nkey = \"sk-og-ci-0001\"\n");
    for (id, dialect, key) in [
        ("up-chat", "openai-chat", "k-chat"),
        ("up-resp", "openai-responses", "k-resp"),
        ("up-anth", "anthropic", "k-anth"),
    ] {
        s.push_str(&format!(
            "\n[[providers]]\nid = \"{id}\"\ndialect = \"{dialect}\"\nbase_url = \"{v1}\"\nmodels = [\"m\"]\n\n[[accounts]]\nprovider = \"{id}\"\nname = \"a\"\napi_key = \"{key}\"\n"
        ));
    }
    s
}

fn fx(kind: &'static str) -> Reply {
    Reply::Fixture { kind, delay: Duration::from_millis(2) }
}

/// A Codex message fixture with its model set.
fn codex(file: &str, model: &str) -> Value {
    let mut v: Value = serde_json::from_str(&fixture("openai-responses", file)).unwrap();
    v["model"] = json!(model);
    v
}

async fn connect(app: &omnigate::app::Running) -> Ws {
    let url = format!("{}/v1/responses", base(app)).replacen("http://", "ws://", 1);
    let (resp, ws) = client()
        .ws(url)
        .bearer_auth("sk-og-ci-0001")
        .header("OpenAI-Beta", "responses_websockets=2026-02-06")
        .connect()
        .await
        .expect("upgrade");
    assert_eq!(resp.status(), 101);
    ws
}

async fn send(ws: &mut Ws, v: &Value) {
    ws.send(Message::Text(v.to_string().into())).await.expect("send");
}

/// The next text message as JSON (pings answered, pongs skipped), within 10 s.
async fn recv(ws: &mut Ws) -> Value {
    loop {
        let frame = actix_rt::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("the socket is open")
            .expect("a valid frame");
        match frame {
            Frame::Text(t) => return serde_json::from_slice(&t).expect("JSON message"),
            Frame::Ping(b) => ws.send(Message::Pong(b)).await.expect("pong"),
            Frame::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// The events of one response, up to its terminal event (or a wrapped error).
async fn turn(ws: &mut Ws) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let v = recv(ws).await;
        let end = matches!(v["type"].as_str(), Some("response.completed" | "response.failed" | "response.incomplete"))
            || (v["type"] == "error" && v.get("status").is_some());
        out.push(v);
        if end {
            return out;
        }
    }
}

/// The usage rows once there are `n` (a served response's row is written as its stream ends, a
/// moment after the client read its last event).
async fn rows(app: &omnigate::app::Running, n: usize) -> Vec<entities::usage::Model> {
    eventually(10, || async { usage_rows(app).await.len() >= n }).await;
    usage_rows(app).await
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().filter_map(|e| e["type"].as_str()).collect()
}

fn text_of(events: &[Value]) -> String {
    events.iter().filter(|e| e["type"] == "response.output_text.delta").filter_map(|e| e["delta"].as_str()).collect()
}

fn done_items<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["type"] == "response.output_item.done" && e["item"]["type"] == kind)
        .map(|e| &e["item"])
        .collect()
}

#[actix_web::test]
async fn a_text_answer_streams_as_events_ending_in_response_completed() {
    let mock = MockUpstream::start().await;
    mock.always("k-resp", fx("text"));
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let mut ws = connect(&app).await;
    let mut msg = codex("ws_create.json", "up-resp/m");
    msg["input"] = json!("How many people live in Paris?");
    for round in 0..2 {
        send(&mut ws, &msg).await;
        let events = turn(&mut ws).await;
        // The second round continues the first: previous_response_id + only the new question.
        msg["previous_response_id"] = events.last().unwrap()["response"]["id"].clone();
        msg["input"] = json!("And Lyon?");
        let t = types(&events);
        assert_eq!(t.first(), Some(&"response.created"), "{t:?}");
        assert_eq!(t.last(), Some(&"response.completed"), "{t:?}");
        assert!(text_of(&events).starts_with("Paris has about 2.1 million"), "round {round}: {events:?}");
        assert!(events.last().unwrap()["response"]["usage"]["output_tokens"].as_u64().is_some_and(|n| n > 0));
    }
    // The upstream saw a plain streaming Responses request: the socket's own fields are gone,
    // the announcement was not passed on.
    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].path, "/v1/responses");
    assert_eq!(sent[0].body["stream"], true);
    assert_eq!(sent[0].body["model"], "m");
    assert!(sent[0].body.get("type").is_none() && sent[0].body.get("generate").is_none(), "{}", sent[0].body);
    assert!(!sent[0].headers.get("openai-beta").is_some_and(|v| v.contains("responses_websockets")));
    // The continuation reached the (passthrough) upstream whole, with nothing it would have to
    // look up: no previous_response_id, the answer's items without their ids.
    assert!(sent[1].body.get("previous_response_id").is_none(), "{}", sent[1].body);
    let input = sent[1].body["input"].as_array().unwrap();
    assert_eq!(input.len(), 3, "{}", sent[1].body);
    assert_eq!(input[0]["content"], "How many people live in Paris?");
    assert_eq!((input[1]["type"].as_str(), input[1]["role"].as_str()), (Some("message"), Some("assistant")));
    assert!(input[1].get("id").is_none() && input[1]["content"][0]["text"].as_str().unwrap().starts_with("Paris has"));
    assert_eq!(input[2]["content"], "And Lyon?");
    let rows = rows(&app, 2).await;
    assert_eq!(rows.len(), 2, "one usage row per response.create");
    assert!(rows.iter().all(|r| r.status == 200 && r.client_dialect == "openai-responses"));
    assert!(rows.iter().all(|r| r.output_tokens > 0), "{rows:?}");
    app.stop().await;
}

#[actix_web::test]
async fn a_tool_call_round_trip_continues_on_the_same_socket_through_a_chat_upstream() {
    let mock = MockUpstream::start().await;
    mock.script("k-chat", vec![fx("tools"), fx("text")]);
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let mut ws = connect(&app).await;
    send(&mut ws, &codex("ws_create.json", "up-chat/m")).await;
    let first = turn(&mut ws).await;
    assert_eq!(types(&first).last(), Some(&"response.completed"), "{first:?}");
    let calls = done_items(&first, "function_call");
    assert_eq!(calls.len(), 2, "{first:?}");
    assert_eq!(calls[0]["name"], "get_weather");
    assert_eq!(serde_json::from_str::<Value>(calls[0]["arguments"].as_str().unwrap()).unwrap()["location"], "Paris");
    let id = first.last().unwrap()["response"]["id"].as_str().unwrap().to_string();

    // Codex's next message: only the tool outputs, chained by previous_response_id.
    let mut next = codex("ws_create_continuation.json", "up-chat/m");
    next["previous_response_id"] = json!(id);
    next["input"][0]["call_id"] = calls[0]["call_id"].clone();
    next["input"][1]["call_id"] = calls[1]["call_id"].clone();
    send(&mut ws, &next).await;
    let second = turn(&mut ws).await;
    assert_eq!(types(&second).last(), Some(&"response.completed"), "{second:?}");
    assert!(text_of(&second).starts_with("Paris has about 2.1 million"), "{second:?}");

    // The chat upstream was sent the whole conversation: the user's question, the assistant's
    // two calls, the two results, in order.
    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].path, "/v1/chat/completions");
    let msgs = sent[1].body["messages"].as_array().unwrap();
    let roles: Vec<&str> = msgs.iter().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "tool"], "{}", sent[1].body);
    let asked: Vec<&Value> = msgs[2]["tool_calls"].as_array().unwrap().iter().map(|c| &c["id"]).collect();
    assert_eq!(asked, [&calls[0]["call_id"], &calls[1]["call_id"]]);
    assert_eq!(msgs[3]["tool_call_id"], calls[0]["call_id"]);
    assert!(msgs[3]["content"].to_string().contains("cloudy"), "{}", msgs[3]);
    assert!(sent[1].body.get("previous_response_id").is_none());
    let rows = rows(&app, 2).await;
    assert_eq!(rows.iter().map(|r| r.status).collect::<Vec<_>>(), [200, 200]);
    app.stop().await;
}

#[actix_web::test]
async fn an_anthropic_upstream_answers_after_a_warm_up_that_costs_no_upstream_call() {
    let mock = MockUpstream::start().await;
    mock.always("k-anth", fx("text"));
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let mut ws = connect(&app).await;
    send(&mut ws, &codex("ws_warmup.json", "up-anth/m")).await;
    let warm = turn(&mut ws).await;
    assert_eq!(types(&warm), ["response.created", "response.completed"], "{warm:?}");
    assert_eq!(mock.hits(), 0, "a warm-up asks nothing of an upstream");
    let warm_id = warm[1]["response"]["id"].as_str().unwrap().to_string();
    assert!(warm_id.starts_with("resp_"));

    // An acknowledgement gets no answer; the next create continues from the warm-up.
    send(&mut ws, &json!({"type": "response.processed", "response_id": warm_id})).await;
    let mut next = codex("ws_warmup.json", "up-anth/m");
    next.as_object_mut().unwrap().remove("generate");
    next["previous_response_id"] = json!(warm_id);
    next["input"] =
        json!([{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "And Paris?"}]}]);
    send(&mut ws, &next).await;
    let events = turn(&mut ws).await;
    assert_eq!(types(&events).last(), Some(&"response.completed"), "{events:?}");
    assert!(text_of(&events).starts_with("Paris has about 2.1 million"), "{events:?}");
    let sent = mock.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/v1/messages");
    let msgs = sent[0].body["messages"].as_array().unwrap();
    let said = serde_json::to_string(msgs).unwrap();
    assert!(
        said.contains("environment_context") && said.contains("And Paris?"),
        "the warm-up's input comes first: {said}"
    );
    assert!(sent[0].body["system"].to_string().contains("You are Codex"), "{}", sent[0].body);
    let rows = rows(&app, 1).await;
    assert_eq!(rows.len(), 1, "the warm-up leaves no usage row: {rows:?}");
    assert_eq!((rows[0].status, rows[0].client_dialect.as_str()), (200, "openai-responses"));
    app.stop().await;
}

#[actix_web::test]
async fn a_wrong_key_is_refused_before_the_upgrade() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let url = format!("{}/v1/responses", base(&app)).replacen("http://", "ws://", 1);
    for key in [Some("sk-og-wrong"), None] {
        let mut req = client().ws(url.as_str()).header("OpenAI-Beta", "responses_websockets=2026-02-06");
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        match req.connect().await {
            Err(awc::error::WsClientError::InvalidResponseStatus(s)) => assert_eq!(s, 401, "{key:?}"),
            Err(e) => panic!("{key:?}: {e}"),
            Ok((r, _)) => panic!("{key:?}: upgraded with {}", r.status()),
        }
    }
    // The refusal is the HTTP error, in the Responses dialect's shape.
    let mut r = client()
        .get(format!("{}/v1/responses", base(&app)))
        .insert_header(("connection", "Upgrade"))
        .insert_header(("upgrade", "websocket"))
        .insert_header(("sec-websocket-version", "13"))
        .insert_header(("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="))
        .bearer_auth("sk-og-wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body = crate::support::json_body(&mut r).await;
    assert_eq!(body["error"]["code"], "invalid_api_key", "{body}");
    // A plain GET with a good key is told what the endpoint is.
    let mut r = client().get(format!("{}/v1/responses", base(&app))).bearer_auth("sk-og-ci-0001").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body = crate::support::json_body(&mut r).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("WebSocket"), "{body}");
    assert_eq!(mock.hits(), 0);
    let rows = rows(&app, 4).await;
    assert_eq!(rows.iter().map(|r| r.status).collect::<Vec<_>>(), [401, 401, 401, 400], "every refusal leaves a row");
    app.stop().await;
}

#[actix_web::test]
async fn a_client_that_leaves_mid_stream_cancels_the_upstream_and_frees_the_lease() {
    let mock = MockUpstream::start().await;
    let words: Vec<String> = (0..200).map(|i| format!("w{i} ")).collect();
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let slow = Reply::Sse {
        frames: Reply::chat_frames(&refs, true),
        first_delay: Duration::ZERO,
        delay: Duration::from_millis(50),
        drop_after: None,
    };
    mock.always("k-chat", slow);
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let mut msg = codex("ws_create.json", "up-chat/m");
    msg["input"] = json!("count slowly");
    for (round, polite) in [(1, false), (2, true)] {
        let mut ws = connect(&app).await;
        send(&mut ws, &msg).await;
        // Wait until text flows, then leave: abruptly (socket dropped) or with a close frame.
        loop {
            if recv(&mut ws).await["type"] == "response.output_text.delta" {
                break;
            }
        }
        if polite {
            ws.send(Message::Close(None)).await.unwrap();
        }
        drop(ws);
        let freed = eventually(10, || async {
            let accounts = admin_get(&app, &env, "/api/accounts").await;
            let chat = accounts["accounts"].as_array().unwrap().iter().find(|a| a["provider"] == "up-chat").cloned();
            mock.state.cancelled.load(std::sync::atomic::Ordering::SeqCst) == round
                && chat.is_some_and(|a| a["in_flight"] == 0)
        })
        .await;
        assert!(freed, "round {round}: cancelled {}", mock.state.cancelled.load(std::sync::atomic::Ordering::SeqCst));
    }
    assert_eq!(mock.state.completed.load(std::sync::atomic::Ordering::SeqCst), 0);
    let rows = rows(&app, 2).await;
    assert_eq!(rows.iter().map(|r| r.status).collect::<Vec<_>>(), [499, 499], "{rows:?}");
    app.stop().await;
}

#[actix_web::test]
async fn a_malformed_message_gets_an_error_event_and_the_socket_stays_usable() {
    let mock = MockUpstream::start().await;
    mock.always("k-resp", fx("text"));
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let mut ws = connect(&app).await;
    for (bad, words) in [
        (json!("not an object"), "not a valid JSON object"),
        (json!({"type": "session.update"}), "unsupported message type"),
        (json!({"type": "response.create", "input": "no model"}), "`model`"),
        (json!({"type": "response.create", "model": "up-resp/m", "input": 42}), "input"),
        (json!({"type": "response.create", "model": "nobody/none", "input": "x"}), "none"),
    ] {
        let text = if bad.is_string() { bad.as_str().unwrap().to_string() } else { bad.to_string() };
        ws.send(Message::Text(text.into())).await.unwrap();
        let ev = recv(&mut ws).await;
        assert_eq!(ev["type"], "error", "{bad}: {ev}");
        assert!(ev["status"].as_u64().is_some_and(|s| (400..500).contains(&s)), "{bad}: {ev}");
        assert!(ev["error"]["message"].as_str().unwrap_or_default().contains(words), "{bad}: {ev}");
    }
    // Pings are answered.
    ws.send(Message::Ping("hb".into())).await.unwrap();
    let pong = actix_rt::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(pong, Frame::Pong("hb".into()));

    // The socket still serves, one response at a time: a second create while one runs is
    // refused and the first completes.
    mock.always("k-resp", Reply::Fixture { kind: "text", delay: Duration::from_millis(40) });
    let mut msg = codex("ws_create.json", "up-resp/m");
    msg["input"] = json!("How many people live in Paris?");
    send(&mut ws, &msg).await;
    assert_eq!(recv(&mut ws).await["type"], "response.created");
    send(&mut ws, &msg).await;
    let mut events = Vec::new();
    let mut refused = None;
    loop {
        let v = recv(&mut ws).await;
        if v["type"] == "error" && v.get("status").is_some() {
            refused = Some(v);
            continue;
        }
        let done = v["type"] == "response.completed";
        events.push(v);
        if done {
            break;
        }
    }
    let refused = refused.expect("the second create is refused");
    assert!(refused["error"]["message"].as_str().unwrap().contains("already in progress"), "{refused}");
    assert!(text_of(&events).starts_with("Paris has about 2.1 million"));
    assert_eq!(mock.hits(), 1);
    let rows = rows(&app, 7).await;
    let statuses: Vec<i32> = rows.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.len(), 7, "each refused message leaves a row: {statuses:?}");
    app.stop().await;
}

#[actix_web::test]
#[ignore = "needs the Python SDKs (.venv from .ci/run): run through scripts/test"]
async fn openai_python_sdk_websocket_mode_runs_a_tool_round_trip_through_a_chat_upstream() {
    let py = crate::clients::sdk_python();
    let mock = MockUpstream::start().await;
    mock.script("k-chat", vec![fx("tools"), fx("text")]);
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let v = crate::clients::run_script(
        py,
        "openai_responses_ws.py",
        vec![format!("{}/v1", base(&app)), "sk-og-ci-0001".into(), "up-chat/m".into()],
    )
    .await;
    let first = &v["first"];
    assert_eq!(first["types"][0], "response.created", "{v}");
    assert_eq!(first["types"].as_array().unwrap().last().unwrap(), "response.completed", "{v}");
    assert_eq!(first["calls"], json!(["get_weather", "get_time"]), "{v}");
    assert_eq!(first["args"][0]["location"], "Paris");
    let second = &v["second"];
    assert!(second["text"].as_str().unwrap_or_default().starts_with("Paris has about 2.1 million"), "{v}");
    assert_eq!(second["output_text"], second["text"], "{v}");
    assert_eq!(v["bad"]["type"], "error", "{v}");
    assert_eq!(v["bad"]["status"], 404, "{v}");
    // The chat upstream got the whole conversation for the continuation.
    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    let roles: Vec<&str> =
        sent[1].body["messages"].as_array().unwrap().iter().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "tool"], "{}", sent[1].body);
    app.stop().await;
}

#[actix_web::test]
async fn a_message_over_the_size_limit_closes_the_socket_with_1009() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&format!("[server]\nmax_body_mib = 1\n{}", config(&mock))).await;
    let mut ws = connect(&app).await;
    let mut msg = codex("ws_create.json", "up-resp/m");
    msg["input"] = json!("x".repeat(1024 * 1024 + 1));
    send(&mut ws, &msg).await;
    let frame = actix_rt::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap();
    match frame {
        Frame::Close(Some(reason)) => assert_eq!(reason.code, awc::ws::CloseCode::Size, "{reason:?}"),
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert_eq!(mock.hits(), 0);
    app.stop().await;
}

/// The Codex CLI binary to drive (`OG_TEST_CODEX`), or the test fails saying how to get one.
fn codex_binary() -> String {
    std::env::var("OG_TEST_CODEX").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| {
        panic!("set OG_TEST_CODEX to a Codex CLI binary (npm install @openai/codex; node_modules/.bin/codex)")
    })
}

#[actix_web::test]
#[ignore = "needs the Codex CLI (OG_TEST_CODEX=path/to/codex)"]
async fn codex_cli_talks_to_the_gateway_over_the_websocket() {
    let codex = codex_binary();
    let mock = MockUpstream::start().await;
    // A Responses upstream: Codex's own tool types (`namespace`, ...) pass through untranslated.
    // It first calls tools Codex does not have (Codex answers each with an error output and
    // continues on the same socket), then answers in text.
    mock.script("k-resp", vec![fx("tools"), fx("text")]);
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "model_provider = \"omnigate\"\nmodel = \"up-resp/m\"\n\n[model_providers.omnigate]\nname = \"Omnigate\"\n\
             base_url = \"{}/v1\"\nwire_api = \"responses\"\nenv_key = \"OMNIGATE_API_KEY\"\nsupports_websockets = true\n\
             request_max_retries = 0\nstream_max_retries = 0\n",
            base(&app)
        ),
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let (home_path, work_path) = (home.path().to_path_buf(), work.path().to_path_buf());
    let out = actix_web::web::block(move || {
        std::process::Command::new(codex)
            .args(["exec", "--skip-git-repo-check", "--sandbox", "read-only", "Say hello."])
            .env("CODEX_HOME", &home_path)
            .env("OMNIGATE_API_KEY", "sk-og-ci-0001")
            .env_remove("OPENAI_API_KEY")
            .current_dir(&work_path)
            .stdin(std::process::Stdio::null())
            .output()
    })
    .await
    .unwrap()
    .expect("codex runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "codex failed:\n{stderr}\n{stdout}");
    assert!(stdout.contains("Paris has about 2.1 million"), "{stdout}\n{stderr}");
    // The answers came over the socket, not Codex's HTTP fallback: Codex stamps `client_metadata`
    // with its WebSocket send time only on a `response.create` message.
    let sent = mock.requests();
    assert_eq!(sent.len(), 2, "the tool call and the answer after its outputs");
    for r in &sent {
        assert!(r.body["client_metadata"]["x-codex-ws-stream-request-start-ms"].is_string(), "{}", r.body);
        assert!(r.body.get("previous_response_id").is_none() && r.body.get("generate").is_none(), "{}", r.body);
    }
    // The second turn reached the upstream whole: Codex's continuation (or full resend) carries the
    // calls the first answer made and Codex's outputs for them.
    let input = sent[1].body["input"].as_array().unwrap();
    let calls: Vec<&Value> = input.iter().filter(|i| i["type"] == "function_call").collect();
    let outputs: Vec<&Value> = input.iter().filter(|i| i["type"] == "function_call_output").collect();
    assert_eq!((calls.len(), outputs.len()), (2, 2), "{}", sent[1].body["input"]);
    assert_eq!(outputs[0]["call_id"], calls[0]["call_id"]);
    let rows = rows(&app, 2).await;
    assert_eq!(rows.iter().map(|r| r.status).collect::<Vec<_>>(), [200, 200], "{rows:?}");
    app.stop().await;
}
