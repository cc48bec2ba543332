//! The exact response cache and `Idempotency-Key` through the real daemon and the mock: a hit
//! costs no upstream call and repeats the body; a cached stream replays its events with their
//! framing (OpenAI chat and Anthropic, read by an SSE parser); non-deterministic requests, other
//! keys, cut streams and evicted entries are never answered from it; 20 concurrent duplicates of
//! one Idempotency-Key make one upstream call and get one answer; another body under the same key
//! is refused with 422 in the caller's dialect; a failure is not kept past its first call.

use std::time::Duration;

use omnigate::sse::SseParser;
use serde_json::{Value, json};

use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, base, client, header, json_body, mock_config, text_body, usage_rows};

const KEY: &str = "sk-og-ci-0001";
const OTHER: &str = "sk-og-other-0002";

/// The mock config with the `ci` key's cache set to `cache`, a second key `other` (cache on)
/// and `extra` sections.
fn config(base: &str, cache: bool, extra: &str) -> String {
    let s = mock_config(base, &[("a", "ka")], extra)
        .replace("key = \"sk-og-ci-0001\"", &format!("key = \"sk-og-ci-0001\"\ncache = {cache}"));
    format!("{s}\n[[keys]]\nname = \"other\"\nkey = \"{OTHER}\"\ncache = true\n")
}

fn chat(text: &str, stream: bool) -> Value {
    json!({"model": "mock/mock-model", "temperature": 0, "stream": stream,
           "messages": [{"role": "user", "content": text}]})
}

/// POSTs `body` to `path` with `key` and extra headers: (status, headers we look at, body text).
async fn send(
    app: &omnigate::app::Running,
    path: &str,
    key: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (u16, String, String, String) {
    let mut req = client().post(format!("{}{path}", base(app))).bearer_auth(key);
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    let mut r = req.send_json(body).await.expect("send");
    let text = text_body(&mut r).await;
    (r.status().as_u16(), header(&r, "x-omnigate-cache"), header(&r, "x-omnigate-idempotent-replay"), text)
}

/// The events of an SSE body, each checked to end with its blank line.
fn events(text: &str) -> Vec<(Option<String>, String)> {
    assert!(text.ends_with("\n\n") || text.ends_with("\r\n\r\n"), "the stream ends with a whole event: {text:?}");
    let mut p = SseParser::new();
    let mut out = Vec::new();
    p.push(text.as_bytes(), &mut out);
    let before = out.len();
    p.finish(&mut out);
    assert_eq!(before, out.len(), "no event left unterminated");
    out.into_iter().map(|e| (e.event, e.data)).collect()
}

#[actix_web::test]
async fn a_hit_costs_no_upstream_call_and_repeats_the_answer() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock.base(), true, "")).await;
    let (s1, c1, _, b1) = send(&app, "/v1/chat/completions", KEY, &[], &chat("hello", false)).await;
    assert_eq!((s1, c1.as_str()), (200, "miss"));
    // The same request, its fields in another order and with a `user`: the same entry.
    let again = json!({"messages": [{"content": "hello", "role": "user"}], "user": "u-1", "stream": false,
                       "temperature": 0.0, "model": "mock/mock-model"});
    let (s2, c2, _, b2) = send(&app, "/v1/chat/completions", KEY, &[], &again).await;
    assert_eq!((s2, c2.as_str()), (200, "hit"));
    assert_eq!(b1, b2, "the hit repeats the body byte for byte");
    assert_eq!(mock.hits(), 1, "a hit costs no upstream call");
    // `off` bypasses the cache of a cache-enabled key (and says nothing).
    let (_, c3, _, _) =
        send(&app, "/v1/chat/completions", KEY, &[("x-omnigate-cache", "off")], &chat("hello", false)).await;
    assert_eq!((c3.as_str(), mock.hits()), ("", 2));
    // The hit's usage row: no tokens, $0, source `cache`; the miss keeps its tokens.
    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 3);
    assert!(rows[0].total_tokens > 0 && rows[0].cost_source != "cache");
    assert_eq!((rows[1].total_tokens, rows[1].cost_usd, rows[1].cost_source.as_str()), (0, Some(0.0), "cache"));
    let mut m = client().get(format!("{}/metrics", base(&app))).send().await.expect("metrics");
    let text = text_body(&mut m).await;
    assert!(text.contains("omnigate_cache_requests_total{result=\"hit\"} 1"), "{text}");
    assert!(text.contains("omnigate_cache_requests_total{result=\"miss\"} 1"), "{text}");
    assert!(text.contains("omnigate_cache_entries 1"), "{text}");
    app.stop().await;
}

#[actix_web::test]
async fn cached_streams_replay_their_events_with_their_framing() {
    let mock = MockUpstream::start().await;
    mock.always("ka", Reply::Text("one two three".into()));
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock.base(), false, "")).await;
    let on = [("x-omnigate-cache", "on")];
    // OpenAI chat, asked per request (the key has no cache).
    let body = chat("stream me", true);
    let (_, c1, _, first) = send(&app, "/v1/chat/completions", KEY, &on, &body).await;
    let (_, c2, _, second) = send(&app, "/v1/chat/completions", KEY, &on, &body).await;
    assert_eq!((c1.as_str(), c2.as_str(), mock.hits()), ("miss", "hit", 1));
    assert_eq!(first, second);
    let evs = events(&second);
    assert_eq!(evs.last().map(|e| e.1.as_str()), Some("[DONE]"));
    let text: String = evs
        .iter()
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| v["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, "one two three");
    // Anthropic, translated from the OpenAI-dialect mock.
    let msg = json!({"model": "mock/mock-model", "max_tokens": 50, "temperature": 0, "stream": true,
                     "messages": [{"role": "user", "content": "stream me"}]});
    let (_, c1, _, first) = send(&app, "/v1/messages", KEY, &on, &msg).await;
    let (_, c2, _, second) = send(&app, "/v1/messages", KEY, &on, &msg).await;
    assert_eq!((c1.as_str(), c2.as_str(), mock.hits()), ("miss", "hit", 2));
    assert_eq!(first, second);
    let evs = events(&second);
    assert_eq!(evs.first().and_then(|e| e.0.as_deref()), Some("message_start"));
    assert_eq!(evs.last().and_then(|e| e.0.as_deref()), Some("message_stop"));
    // The whole answer and the stream of the same request are two entries.
    let (_, c3, _, _) = send(&app, "/v1/chat/completions", KEY, &on, &chat("stream me", false)).await;
    assert_eq!((c3.as_str(), mock.hits()), ("miss", 3));
    app.stop().await;
}

#[actix_web::test]
async fn non_deterministic_requests_other_keys_and_cut_streams_are_never_served_from_it() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock.base(), true, "")).await;
    // No temperature 0 and no seed: never cached (the answer says so).
    let free = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hi"}]});
    for _ in 0..2 {
        let (s, c, _, _) = send(&app, "/v1/chat/completions", KEY, &[], &free).await;
        assert_eq!((s, c.as_str()), (200, "bypass"));
    }
    assert_eq!(mock.hits(), 2);
    // A seed makes it deterministic.
    let seeded = json!({"model": "mock/mock-model", "seed": 7, "messages": [{"role": "user", "content": "hi"}]});
    send(&app, "/v1/chat/completions", KEY, &[], &seeded).await;
    let (_, c, _, _) = send(&app, "/v1/chat/completions", KEY, &[], &seeded).await;
    assert_eq!((c.as_str(), mock.hits()), ("hit", 3));
    // Another key never sees this key's entry.
    let (_, c, _, _) = send(&app, "/v1/chat/completions", OTHER, &[], &seeded).await;
    assert_eq!((c.as_str(), mock.hits()), ("miss", 4));
    // A stream the upstream cut is answered (with an error event) but not stored.
    let frames = Reply::chat_frames(&["cut", " here"], false);
    let cut = Reply::Sse { frames, first_delay: Duration::ZERO, delay: Duration::ZERO, drop_after: Some(2) };
    mock.script("ka", vec![cut]);
    let body = chat("cut me", true);
    let (_, c1, _, _) = send(&app, "/v1/chat/completions", KEY, &[], &body).await;
    let (_, c2, _, again) = send(&app, "/v1/chat/completions", KEY, &[], &body).await;
    assert_eq!((c1.as_str(), c2.as_str(), mock.hits()), ("miss", "miss", 6));
    assert_eq!(events(&again).last().map(|e| e.1.as_str()), Some("[DONE]"));
    // An upstream error is not stored either.
    mock.script("ka", vec![Reply::status(400)]);
    let (s1, c1, _, _) = send(&app, "/v1/chat/completions", KEY, &[], &chat("fails", false)).await;
    let (s2, c2, _, _) = send(&app, "/v1/chat/completions", KEY, &[], &chat("fails", false)).await;
    assert_eq!((s1, c1.as_str(), s2, c2.as_str(), mock.hits()), (400, "miss", 200, "miss", 8));
    app.stop().await;
}

#[actix_web::test]
async fn the_byte_bound_evicts_the_least_recently_used() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    // Room for one answer of the mock (a few hundred bytes), not two.
    let app = env.start(&config(&mock.base(), true, "[cache]\nmax_bytes = 600\n")).await;
    let (a, b) = (chat("first question", false), chat("second question", false));
    let (_, c, _, body) = send(&app, "/v1/chat/completions", KEY, &[], &a).await;
    assert!(body.len() <= 600 && body.len() > 300, "the bound fits one answer: {}", body.len());
    assert_eq!(c, "miss");
    assert_eq!(send(&app, "/v1/chat/completions", KEY, &[], &a).await.1, "hit");
    assert_eq!(send(&app, "/v1/chat/completions", KEY, &[], &b).await.1, "miss");
    // `b` took `a`'s room.
    assert_eq!(send(&app, "/v1/chat/completions", KEY, &[], &a).await.1, "miss");
    assert_eq!(mock.hits(), 3);
    let snap = app.state.runtime.cache.snapshot();
    assert_eq!(snap.0, 1, "one entry held");
    assert!(snap.1 <= 600);
    app.stop().await;
}

#[actix_web::test]
async fn twenty_concurrent_duplicates_make_one_upstream_call() {
    let mock = MockUpstream::start().await;
    // Slow enough that the duplicates arrive while the first runs (correct either way).
    let frames = Reply::chat_frames(&["only", " once"], false);
    let slow = Reply::Sse { frames, first_delay: Duration::from_millis(300), delay: Duration::ZERO, drop_after: None };
    mock.always("ka", slow);
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock.base(), false, "")).await;
    // Not deterministic: idempotency needs no cache.
    let body = json!({"model": "mock/mock-model", "stream": true, "messages": [{"role": "user", "content": "pay"}]});
    let idem = [("idempotency-key", "order-42")];
    let all =
        futures_util::future::join_all((0..20).map(|_| send(&app, "/v1/chat/completions", KEY, &idem, &body))).await;
    assert_eq!(mock.hits(), 1, "never two upstream calls");
    let first = &all[0].3;
    assert!(all.iter().all(|(s, _, _, b)| *s == 200 && b == first), "20 identical answers");
    assert_eq!(all.iter().filter(|r| r.2 == "true").count(), 19, "all but the first are replays");
    assert_eq!(events(first).last().map(|e| e.1.as_str()), Some("[DONE]"));
    // After it finished: the stored answer, still no upstream call.
    let (_, _, replay, again) = send(&app, "/v1/chat/completions", KEY, &idem, &body).await;
    assert_eq!((replay.as_str(), &again, mock.hits()), ("true", first, 1));
    // The same key under another gateway key is another request.
    send(&app, "/v1/chat/completions", OTHER, &idem, &body).await;
    assert_eq!(mock.hits(), 2);
    app.stop().await;
}

#[actix_web::test]
async fn another_body_under_the_same_key_is_refused_and_failures_are_not_kept() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock.base(), false, "")).await;
    let idem = [("idempotency-key", "k-1")];
    let (s, _, _, _) = send(&app, "/v1/chat/completions", KEY, &idem, &chat("a", false)).await;
    assert_eq!(s, 200);
    let (s, _, _, e) = send(&app, "/v1/chat/completions", KEY, &idem, &chat("b", false)).await;
    let e: Value = serde_json::from_str(&e).unwrap();
    assert_eq!((s, e["error"]["code"].as_str()), (422, Some("idempotency_key_reused")), "{e}");
    let msg = json!({"model": "mock/mock-model", "max_tokens": 5, "messages": [{"role": "user", "content": "b"}]});
    let mut r = client()
        .post(format!("{}/v1/messages", base(&app)))
        .insert_header(("x-api-key", KEY))
        .insert_header(("idempotency-key", "k-1"))
        .send_json(&msg)
        .await
        .unwrap();
    let e = json_body(&mut r).await;
    assert_eq!(
        (r.status().as_u16(), e["type"].as_str(), e["error"]["type"].as_str()),
        (422, Some("error"), Some("invalid_request_error"))
    );
    assert_eq!(mock.hits(), 1);
    // A failure reaches its own caller and is not kept: the retry runs anew and succeeds.
    mock.script("ka", vec![Reply::status(400)]);
    let idem = [("idempotency-key", "k-2")];
    let (s1, _, _, _) = send(&app, "/v1/chat/completions", KEY, &idem, &chat("c", false)).await;
    let (s2, _, r2, _) = send(&app, "/v1/chat/completions", KEY, &idem, &chat("c", false)).await;
    assert_eq!((s1, s2, r2.as_str(), mock.hits()), (400, 200, "", 3));
    app.stop().await;
}

#[actix_web::test]
async fn the_cache_is_turned_on_for_a_key_through_the_admin_api() {
    use crate::admin_write_support::{get_api, patch_api, post_api};
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock.base(), false, "")).await;
    let (s, made) = post_api(&app, &env, "/api/keys", json!({"name": "app"})).await;
    assert_eq!(s, 201, "{made}");
    let key = made["key"].as_str().unwrap().to_string();
    let body = chat("admin", false);
    assert_eq!(send(&app, "/v1/chat/completions", &key, &[], &body).await.1, "", "off by default: no header");
    let (s, v) = patch_api(&app, &env, "/api/keys/app", json!({"cache": true})).await;
    assert_eq!((s, &v["cache"]), (200, &json!(true)), "{v}");
    assert_eq!(send(&app, "/v1/chat/completions", &key, &[], &body).await.1, "miss");
    assert_eq!(send(&app, "/v1/chat/completions", &key, &[], &body).await.1, "hit");
    assert_eq!(mock.hits(), 2);
    let (_, keys) = get_api(&app, &env, "/api/keys").await;
    let listed = keys.as_array().unwrap().iter().find(|k| k["name"] == "app").cloned().unwrap_or_default();
    assert_eq!(listed["cache"], true, "{keys}");
    app.stop().await;
}

#[actix_web::test]
async fn gemini_and_responses_requests_are_cached_in_their_own_shape() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock.base(), true, "")).await;
    let gemini =
        json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"temperature": 0}});
    let path = "/v1beta/models/mock/mock-model:generateContent";
    let (s1, c1, _, b1) = send(&app, path, KEY, &[], &gemini).await;
    let (s2, c2, _, b2) = send(&app, path, KEY, &[], &gemini).await;
    assert_eq!((s1, c1.as_str(), s2, c2.as_str(), mock.hits()), (200, "miss", 200, "hit", 1));
    assert_eq!(b1, b2);
    let v: Value = serde_json::from_str(&b2).unwrap();
    assert!(v["candidates"][0]["content"]["parts"][0]["text"].is_string(), "{v}");
    // A Gemini stream (alt=sse) is its own entry, replayed as the same events.
    let sse = "/v1beta/models/mock/mock-model:streamGenerateContent?alt=sse";
    let (_, c1, _, first) = send(&app, sse, KEY, &[], &gemini).await;
    let (_, c2, _, second) = send(&app, sse, KEY, &[], &gemini).await;
    assert_eq!((c1.as_str(), c2.as_str(), mock.hits()), ("miss", "hit", 2));
    assert_eq!(first, second);
    assert!(!events(&second).is_empty());
    // Responses: no seed in the API, temperature 0 is deterministic.
    let resp = json!({"model": "mock/mock-model", "input": "hi", "temperature": 0});
    let (_, c1, _, b1) = send(&app, "/v1/responses", KEY, &[], &resp).await;
    let (_, c2, _, b2) = send(&app, "/v1/responses", KEY, &[], &resp).await;
    assert_eq!((c1.as_str(), c2.as_str(), mock.hits()), ("miss", "hit", 3));
    assert_eq!(b1, b2);
    app.stop().await;
}

#[actix_web::test]
async fn a_request_id_is_an_idempotency_key_only_when_configured() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let body = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "once"}]});
    let rid = [("x-request-id", "req-7")];
    let app = env.start(&config(&mock.base(), false, "")).await;
    send(&app, "/v1/chat/completions", KEY, &rid, &body).await;
    let (_, _, replay, _) = send(&app, "/v1/chat/completions", KEY, &rid, &body).await;
    assert_eq!((replay.as_str(), mock.hits()), ("", 2), "off by default");
    app.stop().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock.base(), false, "[cache]\nidempotency_from_request_id = true\n")).await;
    let (_, _, _, first) = send(&app, "/v1/chat/completions", KEY, &rid, &body).await;
    let (_, _, replay, again) = send(&app, "/v1/chat/completions", KEY, &rid, &body).await;
    assert_eq!((replay.as_str(), mock.hits()), ("true", 3));
    assert_eq!(first, again);
    app.stop().await;
}
