//! Helpers of the admin write-side tests (`admin_write_*`): admin calls with the management
//! token or a dashboard session, chat requests through `/v1`, and the audit log.

#![allow(dead_code)]

use awc::http::Method;
use omnigate::app::Running;
use serde_json::{Value, json};

use crate::support::{TestEnv, base, client, header, json_body};

/// An admin call with the management token: `(status, JSON body or null)`.
pub async fn call(app: &Running, env: &TestEnv, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let req = client().request(method, format!("{}{path}", base(app))).bearer_auth(&env.admin_token);
    let mut r = match body {
        Some(b) => req.send_json(&b).await.expect("send"),
        None => req.send().await.expect("send"),
    };
    let status = r.status().as_u16();
    let bytes = r.body().limit(16 * 1024 * 1024).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// `POST` with the management token.
pub async fn post_api(app: &Running, env: &TestEnv, path: &str, body: Value) -> (u16, Value) {
    call(app, env, Method::POST, path, Some(body)).await
}

/// `PATCH` with the management token.
pub async fn patch_api(app: &Running, env: &TestEnv, path: &str, body: Value) -> (u16, Value) {
    call(app, env, Method::PATCH, path, Some(body)).await
}

/// `PUT` with the management token.
pub async fn put_api(app: &Running, env: &TestEnv, path: &str, body: Value) -> (u16, Value) {
    call(app, env, Method::PUT, path, Some(body)).await
}

/// `DELETE` with the management token.
pub async fn delete_api(app: &Running, env: &TestEnv, path: &str) -> (u16, Value) {
    call(app, env, Method::DELETE, path, None).await
}

/// `GET` with the management token.
pub async fn get_api(app: &Running, env: &TestEnv, path: &str) -> (u16, Value) {
    call(app, env, Method::GET, path, None).await
}

/// The field a 400 names (`error.param`), checked to appear in the message too.
pub fn param_of(status: u16, v: &Value) -> String {
    assert_eq!(status, 400, "expected a 400: {v}");
    let p = v["error"]["param"].as_str().unwrap_or_default().to_string();
    assert!(v["error"]["message"].as_str().unwrap_or_default().contains(&p), "the message names the field: {v}");
    p
}

/// A chat request body for `model`.
pub fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hello"}]})
}

/// Sends a chat request with `key`: `(status, serving account, body)`.
pub async fn chat_with(app: &Running, key: &str, model: &str) -> (u16, String, Value) {
    let mut r = client()
        .post(format!("{}/v1/chat/completions", base(app)))
        .bearer_auth(key)
        .send_json(&chat(model))
        .await
        .expect("send");
    let account = header(&r, "x-omnigate-account");
    (r.status().as_u16(), account, json_body(&mut r).await)
}

/// Sends a chat request with the CI key `sk-og-ci-0001`.
pub async fn chat_ci(app: &Running, model: &str) -> (u16, String, Value) {
    chat_with(app, "sk-og-ci-0001", model).await
}

/// A dashboard session cookie (`name=value`).
pub async fn session_cookie(app: &Running, env: &TestEnv) -> String {
    let r = client()
        .post(format!("{}/api/login", base(app)))
        .send_json(&json!({"password": env.admin_password}))
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    header(&r, "set-cookie").split(';').next().unwrap_or_default().to_string()
}

/// The newest audit rows of changes (up to 500; sign-ins left out).
pub async fn audit(app: &Running, env: &TestEnv) -> Vec<Value> {
    let (s, v) = get_api(app, env, "/api/audit?limit=500").await;
    assert_eq!(s, 200, "{v}");
    // Sign-ins are audited too (`resource: session`); these tests count changes.
    v["items"].as_array().into_iter().flatten().filter(|r| r["resource"] != "session").cloned().collect()
}

/// Whether the audit log has a row for `action` on `resource` `id` (by the management token).
pub async fn audited(app: &Running, env: &TestEnv, resource: &str, id: &str, action: &str) -> bool {
    audit(app, env)
        .await
        .iter()
        .any(|r| r["resource"] == resource && r["resource_id"] == id && r["action"] == action && r["actor"] == "token")
}

/// One account of `GET /api/accounts` by provider and name.
pub async fn account_named(app: &Running, env: &TestEnv, provider: &str, name: &str) -> Option<Value> {
    let (s, v) = get_api(app, env, "/api/accounts").await;
    assert_eq!(s, 200);
    v["accounts"].as_array()?.iter().find(|a| a["provider"] == provider && a["name"] == name).cloned()
}
