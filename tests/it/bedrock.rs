//! AWS Bedrock end to end: the real daemon against a loopback server acting as Bedrock Runtime,
//! which re-verifies every request's SigV4 signature with the accounts' secrets, records the
//! Converse bodies, and answers Converse JSON or real `application/vnd.amazon.eventstream`
//! frames (tests/fixtures/bedrock) in small chunks. Clients speak OpenAI Chat and Anthropic
//! Messages; what they get back, what is billed, and how throttling and in-stream exceptions
//! fail over or end the stream are checked as a user would see them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use bytes::Bytes;
use omnigate::app::Running;
use omnigate::providers::bedrock::{eventstream, sigv4};
use serde_json::{Value, json};

use crate::admin_write_support::{account_named, post_api};
use crate::support::{self, TestEnv, header, json_body, sse_data, text_body};

const SONNET: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const NOVA: &str = "amazon.nova-pro-v1:0";
/// Account A: a long-term key pair. Account B: temporary credentials with a session token.
const A: (&str, &str) = ("AKIDBEDROCKA", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
const B: (&str, &str, &str) =
    ("ASIABEDROCKB", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY", "FwoGZXIvYXdzEXAMPLE//token==");

/// What the mock Bedrock answers.
#[derive(Clone)]
enum Answer {
    /// A JSON body with a status (and `x-amzn-ErrorType`, when an error).
    Json(u16, Value),
    /// Event stream frames, written `split` bytes at a time.
    Frames(Vec<u8>, usize),
    /// Event stream frames, then (a moment later) the connection drops.
    Breaks(Vec<u8>),
}

/// A request the mock received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    headers: HashMap<String, String>,
    body: Bytes,
}

impl Seen {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn access_key(&self) -> String {
        let auth = self.headers.get("authorization").cloned().unwrap_or_default();
        auth.split("Credential=").nth(1).and_then(|c| c.split('/').next()).unwrap_or_default().to_string()
    }
}

#[derive(Default)]
struct State {
    seen: Mutex<Vec<Seen>>,
    script: Mutex<HashMap<String, VecDeque<Answer>>>,
}

struct Bedrock {
    addr: std::net::SocketAddr,
    state: Arc<State>,
    handle: ServerHandle,
}

impl Bedrock {
    async fn start() -> Self {
        let state = Arc::new(State::default());
        let s2 = Arc::clone(&state);
        let server = HttpServer::new(move || {
            App::new().app_data(web::Data::new(Arc::clone(&s2))).default_service(web::to(answer))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("binds");
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        Self { addr, state, handle }
    }

    /// The base URL an account names: a loopback host says no region, so it is given.
    fn base(&self) -> String {
        format!("http://{}/#region=us-west-2", self.addr)
    }

    fn script(&self, access_key: &str, answers: Vec<Answer>) {
        self.state.script.lock().unwrap().entry(access_key.into()).or_default().extend(answers);
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
}

async fn answer(req: HttpRequest, body: web::Bytes, state: web::Data<Arc<State>>) -> HttpResponse {
    let seen = Seen {
        method: req.method().to_string(),
        // The path as it came on the wire (not decoded): what the signature covers.
        path: req.uri().path().to_string(),
        query: req.uri().query().unwrap_or_default().to_string(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect(),
        body,
    };
    let key = seen.access_key();
    let streaming = seen.path.ends_with("/converse-stream");
    state.seen.lock().unwrap().push(seen);
    let scripted = state.script.lock().unwrap().get_mut(&key).and_then(VecDeque::pop_front);
    let reply = scripted.unwrap_or_else(|| {
        if streaming {
            Answer::Frames(fixture_frames("stream_tool_use.jsonl"), 7)
        } else {
            Answer::Json(200, fixture("converse_text.json"))
        }
    });
    match reply {
        Answer::Json(status, v) => {
            let mut r = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
            if status >= 400 {
                let kind = v["__type"].as_str().unwrap_or("InternalServerException").to_string();
                r.insert_header((
                    "x-amzn-ErrorType",
                    format!("{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
                ));
            }
            r.content_type("application/json").body(v.to_string())
        }
        Answer::Frames(bytes, split) => {
            let chunks: Vec<Result<Bytes, std::io::Error>> =
                bytes.chunks(split).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
            HttpResponse::Ok()
                .content_type("application/vnd.amazon.eventstream")
                .streaming(futures_util::stream::iter(chunks))
        }
        Answer::Breaks(bytes) => {
            let body = futures_util::stream::unfold(0u8, move |step| {
                let bytes = bytes.clone();
                async move {
                    match step {
                        0 => Some((Ok(Bytes::from(bytes)), 1)),
                        1 => {
                            actix_rt::time::sleep(std::time::Duration::from_millis(150)).await;
                            Some((Err(std::io::Error::other("the connection drops")), 2))
                        }
                        _ => None,
                    }
                }
            });
            HttpResponse::Ok().content_type("application/vnd.amazon.eventstream").streaming(body)
        }
    }
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/bedrock/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("fixture JSON")
}

/// A recorded ConverseStream (one `[event-type, payload]` per line) as event stream bytes.
fn fixture_frames(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/bedrock/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("fixture");
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("fixture line");
        out.extend(eventstream::event(v[0].as_str().unwrap(), &v[1]));
    }
    out
}

/// Re-verifies a request's SigV4 signature with the secret of its access key, as AWS would.
fn verify(s: &Seen) {
    let auth = &s.headers["authorization"];
    let (secret, token) = match s.access_key().as_str() {
        k if k == A.0 => (A.1, None),
        k if k == B.0 => (B.1, Some(B.2)),
        other => panic!("unknown access key {other:?}"),
    };
    assert_eq!(s.headers.get("x-amz-security-token").map(String::as_str), token, "the session token goes along");
    let signed_names = auth.split("SignedHeaders=").nth(1).and_then(|x| x.split(',').next()).unwrap();
    for must in ["host", "x-amz-date", "content-type"] {
        assert!(signed_names.split(';').any(|n| n == must), "{must} is signed: {auth}");
    }
    if token.is_some() {
        assert!(signed_names.contains("x-amz-security-token"), "{auth}");
    }
    let headers: Vec<(String, String)> =
        signed_names.split(';').map(|n| (n.to_string(), s.headers.get(n).cloned().unwrap_or_default())).collect();
    let amz_date = &s.headers["x-amz-date"];
    let today = chrono::Utc::now().format("%Y%m%d").to_string();
    assert!(amz_date.starts_with(&today[..6]), "a current x-amz-date: {amz_date}");
    let creds = sigv4::Credentials {
        access_key_id: s.access_key(),
        secret_access_key: secret.into(),
        session_token: token.map(str::to_string),
    };
    let want = sigv4::sign(
        &creds,
        sigv4::Scope { region: "us-west-2", service: "bedrock", amz_date },
        sigv4::Request { method: &s.method, path: &s.path, query: &s.query, headers: &headers, payload: &s.body },
    );
    assert_eq!(auth, &want.authorization, "the signature verifies with the account's secret");
    assert!(auth.contains("/us-west-2/bedrock/aws4_request"), "{auth}");
}

fn config(aws: &Bedrock) -> String {
    format!(
        r#"
[[keys]]
name = "ci"
key = "sk-og-ci-0001"

[[accounts]]
provider = "bedrock"
name = "aws-a"
api_key = "{}:{}"
base_url = "{base}"
priority = 0

[[accounts]]
provider = "bedrock"
name = "aws-b"
api_key = "{}:{}:{}"
base_url = "{base}"
priority = 1
"#,
        A.0,
        A.1,
        B.0,
        B.1,
        B.2,
        base = aws.base()
    )
}

async fn post(app: &Running, path: &str, body: Value) -> (u16, String, String) {
    let mut r = support::post(app, path, body).await;
    let account = header(&r, "x-omnigate-account");
    let text = text_body(&mut r).await;
    (r.status().as_u16(), account, text)
}

/// The encoded model path of a Converse call.
fn converse_path(model: &str, op: &str) -> String {
    format!("/model/{}/{op}", model.replace(':', "%3A"))
}

#[actix_web::test]
async fn bedrock_openai_and_anthropic_clients_get_signed_converse_answers() {
    let aws = Bedrock::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&aws)).await;
    aws.script(A.0, vec![Answer::Json(200, fixture("converse_tool_use.json"))]);
    // An OpenAI SDK's chat request with a system prompt and a tool.
    let mut r = support::post(
        &app,
        "/v1/chat/completions",
        json!({
            "model": format!("bedrock/{SONNET}"),
            "messages": [{"role": "system", "content": "You are a radio DJ."},
                         {"role": "user", "content": "What is the most popular song on WZPZ?"}],
            "max_tokens": 512, "temperature": 0.3,
            "tools": [{"type": "function", "function": {"name": "top_song", "description": "Get the most popular song played on a radio station.",
                "parameters": {"type": "object", "properties": {"sign": {"type": "string"}}, "required": ["sign"]}}}]
        }),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-omnigate-account"), "aws-a");
    let v = json_body(&mut r).await;
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "top_song");
    assert_eq!(
        serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap(),
        json!({"sign": "WZPZ"})
    );
    assert_eq!(call["id"], "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!((v["usage"]["prompt_tokens"].as_u64(), v["usage"]["completion_tokens"].as_u64()), (Some(397), Some(54)));

    let seen = aws.seen();
    let s = &seen[0];
    assert_eq!(s.path, converse_path(SONNET, "converse"), "the model id is percent-encoded in the path");
    verify(s);
    let c = s.json();
    assert_eq!(c["system"], json!([{"text": "You are a radio DJ."}]));
    assert_eq!(
        c["messages"],
        json!([{"role": "user", "content": [{"text": "What is the most popular song on WZPZ?"}]}])
    );
    assert_eq!(c["inferenceConfig"], json!({"maxTokens": 512, "temperature": 0.3}));
    assert_eq!(c["toolConfig"]["tools"][0]["toolSpec"]["name"], "top_song");
    assert_eq!(c["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["required"], json!(["sign"]));
    assert!(c.get("model").is_none() && c.get("stream").is_none(), "nothing of the Chat body's own: {c}");

    // An Anthropic SDK's request through the provider's alias: the answer in Messages shape.
    let (status, account, text) = post(
        &app,
        "/v1/messages",
        json!({"model": format!("aws/{NOVA}"), "max_tokens": 200, "system": "Answer in one sentence.",
               "messages": [{"role": "user", "content": [{"type": "text", "text": "Capital of France?"}]}]}),
    )
    .await;
    assert_eq!((status, account.as_str()), (200, "aws-a"), "{text}");
    let m: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(m["type"], "message");
    assert_eq!(m["content"][0]["text"], "The capital of France is Paris.");
    assert_eq!(m["stop_reason"], "end_turn");
    assert_eq!((m["usage"]["input_tokens"].as_u64(), m["usage"]["output_tokens"].as_u64()), (Some(21), Some(9)));
    assert_eq!(m["usage"]["cache_read_input_tokens"], 12);
    let s = &aws.seen()[1];
    assert_eq!(s.path, converse_path(NOVA, "converse"));
    verify(s);
    assert_eq!(s.json()["system"], json!([{"text": "Answer in one sentence."}]));
    assert_eq!(s.json()["inferenceConfig"]["maxTokens"], 200);

    // Billed at the catalog's Bedrock prices, with Bedrock's own counts.
    let rows = support::usage_rows(&app).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0].model.as_str(), rows[0].input_tokens, rows[0].output_tokens),
        (format!("bedrock/{SONNET}").as_str(), 397, 54)
    );
    assert_eq!((rows[1].input_tokens, rows[1].cache_read_tokens, rows[1].output_tokens), (33, 12, 9));
    assert!(rows.iter().all(|r| r.cost_source == "priced" && r.cost_usd.unwrap_or(0.0) > 0.0), "priced rows");

    // The dashboard's account test asks Bedrock in Converse, signed, as requests do.
    let id = account_named(&app, &env, "bedrock", "aws-a").await.expect("aws-a")["id"].as_i64().expect("id");
    let (s, v) = post_api(&app, &env, &format!("/api/accounts/{id}/test"), json!({"model": NOVA})).await;
    assert_eq!((s, v["ok"].as_bool(), v["status"].as_u64()), (200, Some(true), Some(200)), "{v}");
    let probe = aws.seen().last().cloned().expect("the probe");
    assert_eq!(probe.path, converse_path(NOVA, "converse"));
    verify(&probe);
    assert_eq!(probe.json()["inferenceConfig"]["maxTokens"], 1);
    aws.handle.stop(false).await;
}

#[actix_web::test]
async fn bedrock_streams_reach_openai_and_anthropic_clients_as_sse_with_the_tool_call() {
    let aws = Bedrock::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&aws)).await;
    // OpenAI Chat client, streaming, asking for usage. The frames arrive 7 bytes at a time.
    let (status, _, text) = post(
        &app,
        "/v1/chat/completions",
        json!({"model": format!("bedrock/{SONNET}"), "stream": true, "stream_options": {"include_usage": true},
               "messages": [{"role": "user", "content": "Top song on WZPZ?"}],
               "tools": [{"type": "function", "function": {"name": "top_song", "parameters": {"type": "object"}}}]}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let chunks = sse_data(&text);
    assert_eq!(chunks.last(), Some(&Value::String("[DONE]".into())), "{text}");
    let content: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "Let me check the station.");
    let calls: Vec<&Value> = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0)).collect();
    assert_eq!(calls[0]["function"]["name"], "top_song");
    assert_eq!(calls[0]["id"], "tooluse_5ZnmEPNkSz-Ijx1J8kDVAg");
    let args: String = calls.iter().filter_map(|c| c["function"]["arguments"].as_str()).collect();
    assert_eq!(serde_json::from_str::<Value>(&args).unwrap(), json!({"sign": "WZPZ"}));
    assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "tool_calls"), "{text}");
    let usage = chunks.iter().find(|c| c["usage"].is_object()).expect("a usage chunk");
    assert_eq!(
        (usage["usage"]["prompt_tokens"].as_u64(), usage["usage"]["completion_tokens"].as_u64()),
        (Some(397), Some(61))
    );
    let s = &aws.seen()[0];
    assert_eq!(s.path, converse_path(SONNET, "converse-stream"));
    assert_eq!(s.headers["accept"], "application/vnd.amazon.eventstream");
    verify(s);

    // Anthropic Messages client, streaming: the tool call as a tool_use block.
    let (status, _, text) = post(
        &app,
        "/v1/messages",
        json!({"model": format!("bedrock/{SONNET}"), "max_tokens": 300, "stream": true,
               "messages": [{"role": "user", "content": "Top song on WZPZ?"}],
               "tools": [{"name": "top_song", "input_schema": {"type": "object", "properties": {"sign": {"type": "string"}}}}]}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let events = sse_data(&text);
    let tool = events
        .iter()
        .find(|e| e["type"] == "content_block_start" && e["content_block"]["type"] == "tool_use")
        .expect("tool_use block");
    assert_eq!(tool["content_block"]["name"], "top_song");
    let json_parts: String = events
        .iter()
        .filter(|e| e["delta"]["type"] == "input_json_delta")
        .filter_map(|e| e["delta"]["partial_json"].as_str())
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&json_parts).unwrap(), json!({"sign": "WZPZ"}));
    let delta = events.iter().find(|e| e["type"] == "message_delta").expect("message_delta");
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["output_tokens"], 61);
    assert_eq!(events.last().map(|e| e["type"].clone()), Some(json!("message_stop")));
    verify(&aws.seen()[1]);
    assert_eq!(aws.seen()[1].json()["toolConfig"]["tools"][0]["toolSpec"]["name"], "top_song");

    let rows = support::usage_rows(&app).await;
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|r| r.streamed && r.status == 200 && r.input_tokens == 397 && r.output_tokens == 61),
        "usage recorded per stream"
    );
    aws.handle.stop(false).await;
}

#[actix_web::test]
async fn bedrock_throttling_fails_over_and_cools_down_and_stream_exceptions_end_in_the_clients_dialect() {
    let aws = Bedrock::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&aws)).await;
    let throttled =
        json!({"__type": "ThrottlingException", "message": "Too many requests, please wait before trying again."});
    aws.script(A.0, vec![Answer::Json(429, throttled)]);
    let ask = json!({"model": format!("bedrock/{NOVA}"), "messages": [{"role": "user", "content": "hi"}]});
    let (status, account, text) = post(&app, "/v1/chat/completions", ask.clone()).await;
    assert_eq!((status, account.as_str()), (200, "aws-b"), "the throttled account's request went to the next: {text}");
    let seen = aws.seen();
    assert_eq!(seen.iter().map(Seen::access_key).collect::<Vec<_>>(), [A.0, B.0]);
    seen.iter().for_each(verify);
    // Account A cools down: the next request goes to B without trying A.
    let (status, account, _) = post(&app, "/v1/chat/completions", ask.clone()).await;
    assert_eq!((status, account.as_str()), (200, "aws-b"));
    assert_eq!(aws.seen().len(), 3, "A was not asked again while cooling down");

    // An exception after the first words: the OpenAI stream ends with an error chunk.
    let partial = |exception: &str| {
        let mut f = eventstream::event("messageStart", &json!({"role": "assistant"}));
        f.extend(eventstream::event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": 0, "delta": {"text": "Partial answer"}}),
        ));
        f.extend(eventstream::exception(
            exception,
            "The system encountered an unexpected error during processing. Try your request again.",
        ));
        f
    };
    aws.script(
        B.0,
        vec![
            Answer::Frames(partial("internalServerException"), 5),
            Answer::Frames(partial("modelStreamErrorException"), 64),
        ],
    );
    let mut stream_ask = ask.clone();
    stream_ask["stream"] = json!(true);
    let (status, _, text) = post(&app, "/v1/chat/completions", stream_ask).await;
    assert_eq!(status, 200);
    let chunks = sse_data(&text);
    assert_eq!(
        chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect::<String>(),
        "Partial answer"
    );
    assert!(!chunks.iter().any(|c| c["usage"].is_object()), "no usage chunk the client did not ask for: {text}");
    let err = chunks.iter().find(|c| c["error"].is_object()).unwrap_or_else(|| panic!("an error chunk: {text}"));
    assert!(err["error"]["message"].as_str().unwrap().contains("unexpected error"), "{err}");
    // The Anthropic client gets its own `error` event.
    let (status, _, text) = post(
        &app,
        "/v1/messages",
        json!({"model": format!("bedrock/{NOVA}"), "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(text.contains("Partial answer"), "{text}");
    assert!(text.contains("event: error"), "{text}");

    // A validation error is the client's: passed on with Bedrock's own words.
    aws.script(B.0, vec![Answer::Json(400, json!({"__type": "ValidationException", "message": "The model returned the following errors: messages: text field is blank"}))]);
    let (status, _, text) = post(&app, "/v1/chat/completions", ask).await;
    assert_eq!(status, 400, "{text}");
    let e: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        e["error"]["message"], "upstream error: The model returned the following errors: messages: text field is blank",
        "Bedrock's own words, not its JSON"
    );
    assert!(!text.contains(A.1) && !text.contains(B.1), "no secret in an answer");
    let rows = support::usage_rows(&app).await;
    assert!(rows.iter().any(|r| r.status == 400), "the refusal is recorded");
    aws.handle.stop(false).await;
}

#[actix_web::test]
async fn bedrock_an_exception_before_content_fails_over_to_an_api_key_account() {
    let aws = Bedrock::start().await;
    let env = TestEnv::new().await;
    // Account B holds a Bedrock API key (no `:`): sent as a bearer, nothing signed.
    let cfg = format!(
        "[[keys]]\nname = \"ci\"\nkey = \"sk-og-ci-0001\"\n\n[[accounts]]\nprovider = \"bedrock\"\nname = \"aws-a\"\napi_key = \"{}:{}\"\nbase_url = \"{base}\"\npriority = 0\n\n[[accounts]]\nprovider = \"bedrock\"\nname = \"aws-key\"\napi_key = \"ABSKQmVkcm9ja0FQSUtleS1leGFtcGxl\"\nbase_url = \"{base}\"\npriority = 1\n",
        A.0,
        A.1,
        base = aws.base()
    );
    let app = env.start(&cfg).await;
    let mut throttled = eventstream::event("messageStart", &json!({"role": "assistant"}));
    throttled
        .extend(eventstream::exception("throttlingException", "Too many tokens, please wait before trying again."));
    aws.script(A.0, vec![Answer::Frames(throttled, 3)]);
    let (status, account, text) = post(
        &app,
        "/v1/chat/completions",
        json!({"model": format!("bedrock/{SONNET}"), "stream": true, "messages": [{"role": "user", "content": "Top song on WZPZ?"}]}),
    )
    .await;
    assert_eq!(
        (status, account.as_str()),
        (200, "aws-key"),
        "nothing reached the client, so the next account served: {text}"
    );
    let chunks = sse_data(&text);
    assert!(!chunks.iter().any(|c| c["error"].is_object()), "{text}");
    assert_eq!(
        chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect::<String>(),
        "Let me check the station."
    );
    let seen = aws.seen();
    verify(&seen[0]);
    assert_eq!(seen[1].headers["authorization"], "Bearer ABSKQmVkcm9ja0FQSUtleS1leGFtcGxl");
    assert!(!seen[1].headers.contains_key("x-amz-date"), "an API key request is not signed");
    assert_eq!(seen[1].path, converse_path(SONNET, "converse-stream"));
    // The throttled account cools down like after a 429 answer.
    let (status, account, _) = post(
        &app,
        "/v1/chat/completions",
        json!({"model": format!("bedrock/{SONNET}"), "messages": [{"role": "user", "content": "again"}]}),
    )
    .await;
    assert_eq!((status, account.as_str(), aws.seen().len()), (200, "aws-key", 3));
    let rows = support::usage_rows(&app).await;
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].status, rows[0].attempts), (200, 2), "one request, two attempts");
    aws.handle.stop(false).await;
}

#[actix_web::test]
async fn bedrock_a_broken_stream_is_resumed_by_the_next_bedrock_target() {
    let aws = Bedrock::start().await;
    let env = TestEnv::new().await;
    let combo = "\n[[combos]]\nname = \"writer\"\nstrategy = \"priority\"\nresume = true\nmodels = [\"bedrock/amazon.nova-pro-v1:0\", \"bedrock/amazon.nova-lite-v1:0\"]\n";
    let app = env.start(&format!("{}{combo}", config(&aws))).await;
    let mut first = eventstream::event("messageStart", &json!({"role": "assistant"}));
    first.extend(eventstream::event("contentBlockDelta", &json!({"contentBlockIndex": 0, "delta": {"text": "Hello"}})));
    first.extend(eventstream::event("contentBlockDelta", &json!({"contentBlockIndex": 0, "delta": {"text": " wor"}})));
    let mut rest = eventstream::event("messageStart", &json!({"role": "assistant"}));
    rest.extend(eventstream::event(
        "contentBlockDelta",
        &json!({"contentBlockIndex": 0, "delta": {"text": "ld, from Bedrock."}}),
    ));
    rest.extend(eventstream::event("contentBlockStop", &json!({"contentBlockIndex": 0})));
    rest.extend(eventstream::event("messageStop", &json!({"stopReason": "end_turn"})));
    rest.extend(eventstream::event(
        "metadata",
        &json!({"usage": {"inputTokens": 30, "outputTokens": 6, "totalTokens": 36}, "metrics": {"latencyMs": 80}}),
    ));
    aws.script(A.0, vec![Answer::Breaks(first), Answer::Frames(rest, 9)]);
    let (status, _, text) = post(
        &app,
        "/v1/chat/completions",
        json!({"model": "writer", "stream": true, "messages": [{"role": "user", "content": "Say hello"}]}),
    )
    .await;
    assert_eq!(status, 200);
    let chunks = sse_data(&text);
    let content: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "Hello world, from Bedrock.", "one answer, spliced: {text}");
    assert!(!chunks.iter().any(|c| c["error"].is_object()), "{text}");
    assert_eq!(chunks.iter().filter(|c| **c == json!("[DONE]")).count(), 1, "{text}");
    let seen = aws.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].path, converse_path("amazon.nova-lite-v1:0", "converse-stream"));
    seen.iter().for_each(verify);
    let turns = seen[1].json()["messages"].clone();
    assert!(turns.to_string().contains("Hello wor"), "the continuation carries what was said: {turns}");
    aws.handle.stop(false).await;
}
