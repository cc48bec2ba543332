//! Dashboard users and roles (issue 11, "Governance"): a viewer reads usage, requests and health
//! and is refused every write and every secret (403 in the admin API's shape); an admin user may
//! do everything; a wrong password is 401; a deleted user's session stops working at once; logins
//! and user changes land in the audit log; `omnigate users add` works through the admin API.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::mock::MockUpstream;
use crate::support::{TestEnv, admin_get, base, client, json_body, mock_config, post};

const BIN: &str = env!("CARGO_BIN_EXE_omnigate");

/// Logs in as `user` (none: the bootstrap admin); the cookie pair, or the refusal's status.
async fn login(app: &omnigate::app::Running, user: Option<&str>, password: &str) -> Result<String, u16> {
    let body = match user {
        Some(u) => json!({"username": u, "password": password}),
        None => json!({"password": password}),
    };
    let r = client().post(format!("{}/api/login", base(app))).send_json(&body).await.expect("send");
    if r.status() != 200 {
        return Err(r.status().as_u16());
    }
    let set_cookie = r.headers().get("set-cookie").and_then(|v| v.to_str().ok()).expect("cookie");
    Ok(set_cookie.split(';').next().expect("pair").to_string())
}

/// One admin API call with a session cookie: status and JSON body.
async fn call(
    app: &omnigate::app::Running,
    cookie: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let c = client();
    let url = format!("{}{path}", base(app));
    let req = match method {
        "GET" => c.get(url),
        "POST" => c.post(url),
        "PATCH" => c.patch(url),
        "PUT" => c.put(url),
        _ => c.delete(url),
    }
    .insert_header(("cookie", cookie.to_string()));
    let mut r = match body {
        Some(b) => req.send_json(&b).await,
        None => req.send().await,
    }
    .expect("send");
    let status = r.status().as_u16();
    (status, json_body(&mut r).await)
}

/// Adds a user with the management token.
async fn add_user(app: &omnigate::app::Running, env: &TestEnv, name: &str, role: &str, password: &str) {
    let r = client()
        .post(format!("{}/api/users", base(app)))
        .bearer_auth(&env.admin_token)
        .send_json(&json!({"name": name, "role": role, "password": password}))
        .await
        .expect("send");
    assert_eq!(r.status(), 201, "add {name}");
}

#[actix_web::test]
async fn a_viewer_reads_usage_and_health_and_is_refused_writes_and_secrets() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    post(
        &app,
        "/v1/chat/completions",
        json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    app.state.runtime.flush_usage().await;
    add_user(&app, &env, "ann", "viewer", "ann-password-1").await;
    let ann = login(&app, Some("ann"), "ann-password-1").await.expect("the viewer signs in");

    let (s, who) = call(&app, &ann, "GET", "/api/session", None).await;
    assert_eq!((s, who["user"].as_str(), who["role"].as_str()), (200, Some("ann"), Some("viewer")));
    let (s, summary) = call(&app, &ann, "GET", "/api/usage/summary?window=24h", None).await;
    assert_eq!((s, summary["totals"]["requests"].as_i64()), (200, Some(1)), "{summary}");
    for path in ["/api/health", "/api/requests", "/api/usage", "/api/status", "/api/usage/export?format=jsonl"] {
        assert_eq!(call(&app, &ann, "GET", path, None).await.0, 200, "a viewer reads {path}");
    }
    let (s, accounts) = call(&app, &ann, "GET", "/api/accounts", None).await;
    assert_eq!(s, 200);
    assert!(
        accounts["accounts"][0]["name"].is_string() && accounts["accounts"][0].get("key_hint").is_none(),
        "{accounts}"
    );
    let id = accounts["accounts"][0]["id"].as_i64().expect("id");

    // Secrets and writes: 403 in the admin API's error shape, and nothing changed.
    let refused: [(&str, String, Option<Value>); 10] = [
        ("GET", "/api/keys".into(), None),
        ("GET", format!("/api/accounts/{id}"), None),
        ("GET", "/api/backup".into(), None),
        ("GET", "/api/settings".into(), None),
        ("GET", "/api/audit".into(), None),
        ("GET", "/api/users".into(), None),
        ("POST", "/api/keys".into(), Some(json!({"name": "sneaky"}))),
        ("POST", format!("/api/accounts/{id}/reset"), None),
        ("PATCH", "/api/users/ann".into(), Some(json!({"role": "admin"}))),
        ("DELETE", "/api/users/admin".into(), None),
    ];
    for (method, path, body) in refused {
        let (s, err) = call(&app, &ann, method, &path, body).await;
        assert_eq!(s, 403, "{method} {path}: {err}");
        assert!(err["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{err}");
    }
    assert!(
        admin_get(&app, &env, "/api/keys").await.as_array().is_some_and(|k| k.iter().all(|k| k["name"] != "sneaky"))
    );

    // A viewer changes their own password (and only theirs).
    let (s, _) = call(&app, &ann, "PATCH", "/api/users/ann", Some(json!({"password": "ann-password-2"}))).await;
    assert_eq!(s, 200);
    assert_eq!(call(&app, &ann, "GET", "/api/health", None).await.0, 200, "their own session stays open");
    assert_eq!(login(&app, Some("ann"), "ann-password-1").await, Err(401));
    assert!(login(&app, Some("ann"), "ann-password-2").await.is_ok());
    add_user(&app, &env, "bob", "viewer", "bob-password-1").await;
    let (s, _) = call(&app, &ann, "PATCH", "/api/users/bob", Some(json!({"password": "hijacked-123"}))).await;
    assert_eq!(s, 403, "not someone else's");
    app.stop().await;
}

#[actix_web::test]
async fn an_admin_user_does_everything_and_wrong_passwords_are_401() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    assert_eq!(login(&app, None, "not-the-password").await, Err(401));
    assert_eq!(login(&app, Some("nobody"), &env.admin_password).await, Err(401), "an unknown user");
    let root = login(&app, None, &env.admin_password).await.expect("the bootstrap admin");
    let (s, created) = call(
        &app,
        &root,
        "POST",
        "/api/users",
        Some(json!({"name": "carol", "role": "admin", "password": "carol-password"})),
    )
    .await;
    assert_eq!((s, created["role"].as_str()), (201, Some("admin")), "{created}");
    assert!(!created.to_string().contains("argon2"), "no hash answered");
    let (s, _) = call(
        &app,
        &root,
        "POST",
        "/api/users",
        Some(json!({"name": "admin", "role": "viewer", "password": "x-password"})),
    )
    .await;
    assert_eq!(s, 409, "the bootstrap admin's name is taken");
    let (s, _) =
        call(&app, &root, "POST", "/api/users", Some(json!({"name": "dan", "role": "viewer", "password": "short"})))
            .await;
    assert_eq!(s, 400, "a short password");
    assert_eq!(login(&app, Some("carol"), "wrong-password").await, Err(401));

    let carol = login(&app, Some("carol"), "carol-password").await.expect("carol signs in");
    let (s, key) = call(&app, &carol, "POST", "/api/keys", Some(json!({"name": "carols"}))).await;
    assert_eq!(s, 201, "{key}");
    assert_eq!(call(&app, &carol, "GET", "/api/settings", None).await.0, 200);
    let (s, users) = call(&app, &carol, "GET", "/api/users", None).await;
    let names: Vec<&str> = users.as_array().into_iter().flatten().filter_map(|u| u["name"].as_str()).collect();
    assert_eq!((s, names), (200, vec!["admin", "carol"]));

    // The audit log names who signed in and who changed what.
    let audit = admin_get(&app, &env, "/api/audit?limit=50").await;
    let rows: Vec<(String, String, String, String)> = audit["items"]
        .as_array()
        .or(audit.as_array())
        .into_iter()
        .flatten()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (s("actor"), s("resource"), s("resource_id"), s("action"))
        })
        .collect();
    let has = |actor: &str, resource: &str, id: &str, action: &str| {
        rows.iter().any(|r| (r.0.as_str(), r.1.as_str(), r.2.as_str(), r.3.as_str()) == (actor, resource, id, action))
    };
    assert!(has("session", "user", "carol", "create"), "{rows:?}");
    assert!(has("session:carol", "session", "carol", "login"), "{rows:?}");
    assert!(has("anonymous", "session", "carol", "login_failed"), "{rows:?}");
    assert!(has("session:carol", "key", "carols", "create"), "{rows:?}");
    assert!(!audit.to_string().contains("carol-password"), "no password in the audit log");
    app.stop().await;
}

#[actix_web::test]
async fn a_deleted_or_demoted_users_session_stops_working() {
    let env = TestEnv::new().await;
    let app = env.start("").await;
    add_user(&app, &env, "ann", "viewer", "ann-password-1").await;
    add_user(&app, &env, "eve", "admin", "eve-password-1").await;
    let ann = login(&app, Some("ann"), "ann-password-1").await.expect("ann");
    let eve = login(&app, Some("eve"), "eve-password-1").await.expect("eve");
    assert_eq!(call(&app, &ann, "GET", "/api/health", None).await.0, 200);

    let r = client().delete(format!("{}/api/users/ann", base(&app))).bearer_auth(&env.admin_token).send().await;
    assert_eq!(r.expect("send").status(), 200);
    assert_eq!(call(&app, &ann, "GET", "/api/health", None).await.0, 401, "the deleted user's session is gone");
    assert_eq!(login(&app, Some("ann"), "ann-password-1").await, Err(401), "and they cannot sign in again");

    // Demoting an admin ends their admin session; they sign in again as a viewer.
    assert_eq!(call(&app, &eve, "GET", "/api/keys", None).await.0, 200);
    let r = client()
        .patch(format!("{}/api/users/eve", base(&app)))
        .bearer_auth(&env.admin_token)
        .send_json(&json!({"role": "viewer"}))
        .await;
    assert_eq!(r.expect("send").status(), 200);
    assert_eq!(call(&app, &eve, "GET", "/api/keys", None).await.0, 401);
    let eve = login(&app, Some("eve"), "eve-password-1").await.expect("eve again");
    assert_eq!(call(&app, &eve, "GET", "/api/keys", None).await.0, 403);
    app.stop().await;
}

#[actix_web::test]
async fn omnigate_users_add_makes_a_viewer_through_the_admin_api() {
    let env = TestEnv::new().await;
    let app = env.start("").await;
    let url = base(&app);
    let token = env.admin_token.clone();
    let out = actix_rt::task::spawn_blocking(move || {
        let mut child = Command::new(BIN)
            .args(["users", "add", "ann", "--role", "viewer", "--password-stdin", "--url", &url])
            .env("OMNIGATE_ADMIN_TOKEN", token)
            .env_remove("OMNIGATE_CONFIG")
            .env_remove("OMNIGATE_DATA_DIR")
            .env("HOME", "/nonexistent-omnigate-test-home")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the CLI");
        child.stdin.take().expect("stdin").write_all(b"ann-password-1\n").expect("write");
        child.wait_with_output().expect("wait")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(!stdout.contains("ann-password-1"), "the password is never printed");
    let ann = login(&app, Some("ann"), "ann-password-1").await.expect("the trailing newline is not part of it");
    assert_eq!(call(&app, &ann, "GET", "/api/session", None).await.1["role"], "viewer");
    app.stop().await;
}
