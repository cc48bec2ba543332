//! The cloud providers of the catalog, called as their public docs show: every OpenAI- or
//! Anthropic-compatible cloud's documented sample request (tests/fixtures/providers) reaches the loopback stand-in at
//! the documented path with the key where the docs put it; Azure OpenAI is called per deployment
//! with its `api-version` and `api-key` header (or on its v1 API); Vertex AI mints one access token
//! (for five requests at once) from a service account key (an RS256 JWT the stand-in verifies with the key's public half) and
//! calls the project's model URL with it, never sending the key itself.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use omnigate::app::Running;
use serde_json::{Value, json};

use crate::mock::{MockUpstream, Recorded, Reply};
use crate::support::{TestEnv, base, client, json_body};

const KEY: &str = "sk-og-ci-0001";

fn fixtures_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/providers")
}

/// `[[keys]]` plus one account per `(provider, name, key, base_url)`.
fn config(accounts: &[(&str, &str, &str, String)]) -> String {
    let mut s = format!("[[keys]]\nname = \"ci\"\nkey = \"{KEY}\"\n");
    for (provider, name, key, url) in accounts {
        s.push_str(&format!(
            "\n[[accounts]]\nprovider = \"{provider}\"\nname = \"{name}\"\napi_key = {}\nbase_url = \"{url}\"\n",
            toml::Value::String((*key).to_string())
        ));
    }
    s
}

async fn chat(app: &Running, body: &Value) -> (u16, Value) {
    let mut r = client()
        .post(format!("{}/v1/chat/completions", base(app)))
        .bearer_auth(KEY)
        .send_json(body)
        .await
        .expect("send");
    let status = r.status().as_u16();
    if body["stream"] == true && status == 200 {
        let bytes = r.body().limit(1 << 20).await.expect("stream");
        return (status, Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    }
    (status, json_body(&mut r).await)
}

/// An Anthropic-dialect request (`/v1/messages`) with the gateway key.
async fn messages(app: &Running, body: &Value) -> (u16, Value) {
    let mut r = client()
        .post(format!("{}/v1/messages", base(app)))
        .insert_header(("x-api-key", KEY))
        .insert_header(("anthropic-version", "2023-06-01"))
        .send_json(body)
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, json_body(&mut r).await)
}

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/".to_string(), |i| rest[i..].to_string())
}

fn only(mock: &MockUpstream, path_part: &str) -> Vec<Recorded> {
    mock.requests().into_iter().filter(|r| r.path.contains(path_part)).collect()
}

#[actix_web::test]
async fn every_openai_compatible_clouds_documented_sample_reaches_it_as_documented() {
    let catalog = omnigate::providers::Catalog::builtin().expect("catalog");
    let mut seen = 0;
    for entry in std::fs::read_dir(fixtures_dir()).expect("fixtures") {
        let file = entry.expect("entry").path();
        let id = file.file_stem().and_then(|s| s.to_str()).expect("name").to_string();
        if id == "vertex" || id == "azure" {
            continue; // Their own tests below.
        }
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
        let provider = catalog.get(&id).unwrap_or_else(|| panic!("{id}: a fixture for a provider not in the catalog"));
        let anthropic = provider.dialect == omnigate::protocol::Dialect::Anthropic;
        if anthropic {
            assert_eq!(fixture["auth_header"], "x-api-key", "{id}");
        } else {
            assert_eq!(provider.dialect, omnigate::protocol::Dialect::OpenaiChat, "{id}");
            assert_eq!(fixture["auth_header"], "authorization", "{id}");
            assert!(fixture["auth_value"].as_str().is_some_and(|v| v.starts_with("Bearer ")), "{id}");
        }
        let documented = path_of(fixture["url"].as_str().expect("url"));
        // The catalog's base URL is the documented endpoint's prefix (a base URL the account must
        // give has the placeholder the docs show).
        let route = if anthropic { "/messages" } else { "/chat/completions" };
        let prefix = documented.strip_suffix(route).unwrap_or_else(|| panic!("{id}: {documented}"));
        if !provider.base_url.is_empty() {
            assert_eq!(path_of(&provider.base_url), prefix, "{id}: the catalog's base URL path is the documented one");
        }

        let mock = MockUpstream::start().await;
        let env = TestEnv::new().await;
        let origin = format!("http://{}", mock.addr);
        let secret = format!("key-of-{id}");
        let app = env.start(&config(&[(&id, "docs", &secret, format!("{origin}{prefix}"))])).await;
        let mut body = fixture["body"].clone();
        let model = body["model"].as_str().expect("model").to_string();
        body["model"] = json!(format!("{id}/{model}"));
        let (status, answer) = if anthropic { messages(&app, &body).await } else { chat(&app, &body).await };
        assert_eq!(status, 200, "{id}: {answer}");
        let got = mock.requests();
        assert_eq!(got.len(), 1, "{id}");
        let r = &got[0];
        assert_eq!(r.path, documented, "{id}");
        let credential =
            if anthropic { r.headers.get("x-api-key").cloned() } else { r.headers.get("authorization").cloned() };
        let expected = if anthropic { secret.clone() } else { format!("Bearer {secret}") };
        assert_eq!(credential, Some(expected), "{id}");
        assert_eq!(r.body["model"], json!(model), "{id}");
        assert_eq!(r.body["messages"], fixture["body"]["messages"], "{id}");
        app.stop().await;
        mock.stop().await;
        seen += 1;
    }
    assert_eq!(seen, 13, "one documented sample per OpenAI- or Anthropic-compatible cloud");
}

#[actix_web::test]
async fn azure_is_called_per_deployment_with_its_api_version_and_key_header_or_on_the_v1_api() {
    let mock = MockUpstream::start().await;
    let origin = format!("http://{}", mock.addr);
    let fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures_dir().join("azure.json")).expect("read")).expect("json");
    let mut body = fixture["body"].clone();
    body["model"] = json!("azure/pirate-gpt");

    // The documented sample, to a deployment named `pirate-gpt`, then embeddings on another.
    let env = TestEnv::new().await;
    let app = env.start(&config(&[("azure", "classic", "az-key-1", format!("{origin}/openai"))])).await;
    let (status, v) = chat(&app, &body).await;
    assert_eq!(status, 200, "{v}");
    let documented = path_of(fixture["url"].as_str().expect("url")).replace("<deployment-id>", "pirate-gpt");
    let r = mock.requests().pop().expect("a call");
    assert_eq!(r.path, documented);
    assert_eq!(r.headers.get("api-key").map(String::as_str), Some("az-key-1"));
    assert!(!r.headers.contains_key("authorization"), "the key goes in api-key only");
    assert_eq!(r.body["messages"], fixture["body"]["messages"]);
    let mut e = client()
        .post(format!("{}/v1/embeddings", base(&app)))
        .bearer_auth(KEY)
        .send_json(&json!({"model": "azure/emb-small", "input": "hi"}))
        .await
        .expect("send");
    let status = e.status().as_u16();
    let v = json_body(&mut e).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        mock.requests().pop().expect("a call").path,
        "/openai/deployments/emb-small/embeddings?api-version=2024-10-21"
    );
    app.stop().await;

    // A base URL that names a version is called with it; one on the v1 API takes plain paths.
    for (url, expected) in [
        (
            format!("{origin}/openai?api-version=2025-04-01-preview"),
            "/openai/deployments/pirate-gpt/chat/completions?api-version=2025-04-01-preview",
        ),
        (format!("{origin}/openai/v1"), "/openai/v1/chat/completions"),
    ] {
        let env = TestEnv::new().await;
        let app = env.start(&config(&[("azure", "a", "az-key-2", url)])).await;
        let (status, v) = chat(&app, &body).await;
        assert_eq!(status, 200, "{v}");
        let r = mock.requests().pop().expect("a call");
        assert_eq!(r.path, expected);
        assert_eq!(r.headers.get("api-key").map(String::as_str), Some("az-key-2"));
        app.stop().await;
    }
}

/// An RSA key made for this test: (PKCS#8 PEM, PKCS#1 public key DER).
fn throwaway_rsa_key(dir: &Path) -> (String, Vec<u8>) {
    let pem = dir.join("key.pem");
    let der = dir.join("pub.der");
    let ok = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
        .arg(&pem)
        .status()
        .expect("openssl makes the test's RSA key")
        .success();
    assert!(ok, "openssl genpkey");
    let ok = std::process::Command::new("openssl")
        .args(["rsa", "-RSAPublicKey_out", "-outform", "DER", "-in"])
        .arg(&pem)
        .arg("-out")
        .arg(&der)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl")
        .success();
    assert!(ok, "openssl rsa -RSAPublicKey_out");
    (std::fs::read_to_string(pem).expect("pem"), std::fs::read(der).expect("der"))
}

#[actix_web::test]
async fn vertex_mints_one_token_from_a_service_account_and_calls_the_projects_model_with_it() {
    let mock = MockUpstream::start().await;
    mock.always_prefix(
        "/token",
        Reply::Json {
            status: 200,
            body: json!({"access_token": "ya29.minted-for-test", "expires_in": 3599, "token_type": "Bearer"}),
            retry_after: None,
        },
    );
    let env = TestEnv::new().await;
    let (pem, public) = throwaway_rsa_key(env.dir.path());
    let origin = format!("http://{}", mock.addr);
    let token_uri = format!("{origin}/token");
    let sa = json!({
        "type": "service_account", "project_id": "proj-7", "private_key_id": "kid-1",
        "private_key": pem, "client_email": "gw@proj-7.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": token_uri,
    })
    .to_string();
    let url = format!("{origin}/v1/projects/{{project}}/locations/us-central1/publishers/google");
    let app = env.start(&config(&[("vertex", "sa", &sa, url)])).await;

    // Five at once: one mint serves them all.
    let ask = json!({"model": "vertex/gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]});
    let answers = futures_util::future::join_all((0..5).map(|_| chat(&app, &ask))).await;
    for (status, v) in answers {
        assert_eq!(status, 200, "{v}");
        assert!(v["choices"][0]["message"]["content"].as_str().is_some_and(|t| !t.is_empty()), "{v}");
    }
    let (status, v) = chat(
        &app,
        &json!({"model": "vertex/gemini-2.5-flash", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert!(v.as_str().is_some_and(|s| s.contains("[DONE]")), "{v}");

    // One token for all six calls (five of them at once).
    let minted = only(&mock, "/token");
    assert_eq!(minted.len(), 1, "one mint at a time, then the token is cached");
    let form = &minted[0].body;
    assert_eq!(form["grant_type"], "urn:ietf:params:oauth:grant-type:jwt-bearer");
    let jwt = form["assertion"].as_str().expect("assertion");
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let part =
        |i: usize| -> Value { serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[i]).expect("b64")).expect("json") };
    let (header, claims) = (part(0), part(1));
    assert_eq!((header["alg"].as_str(), header["kid"].as_str()), (Some("RS256"), Some("kid-1")));
    assert_eq!(claims["iss"], "gw@proj-7.iam.gserviceaccount.com");
    assert_eq!(claims["scope"], "https://www.googleapis.com/auth/cloud-platform");
    assert_eq!(claims["aud"], json!(token_uri));
    assert_eq!(claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"), 3600);
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("sig");
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, &public)
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .expect("the JWT verifies with the service account's public key");

    // The model calls: the project's URL, the minted token, and never the key.
    let calls = only(&mock, "/publishers/google/models/");
    let paths: Vec<&str> = calls.iter().map(|r| r.path.as_str()).collect();
    let model = "/v1/projects/proj-7/locations/us-central1/publishers/google/models/gemini-2.5-flash";
    let whole = format!("{model}:generateContent");
    let streamed = format!("{model}:streamGenerateContent?alt=sse");
    assert_eq!(paths.len(), 6, "{paths:?}");
    assert!(paths[..5].iter().all(|p| *p == whole), "{paths:?}");
    assert_eq!(paths[5], streamed);
    for r in &calls {
        assert_eq!(r.headers.get("authorization").map(String::as_str), Some("Bearer ya29.minted-for-test"));
        assert!(r.headers.values().all(|v| !v.contains("PRIVATE KEY")));
        assert!(!r.headers.contains_key("x-goog-api-key"));
    }
    app.stop().await;
}

#[actix_web::test]
async fn a_vertex_account_whose_key_is_not_a_service_account_is_refused_without_the_key_in_the_answer() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let url = format!("http://{}/v1/projects/{{project}}/locations/global/publishers/google", mock.addr);
    let app = env.start(&config(&[("vertex", "bad", "AIza-not-a-key-file-secret", url)])).await;
    let (status, v) =
        chat(&app, &json!({"model": "vertex/gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]})).await;
    assert!(status >= 400, "{v}");
    let text = v.to_string();
    assert!(text.contains("service account"), "the answer says why: {text}");
    assert!(!text.contains("AIza-not-a-key-file-secret"), "never the key: {text}");
    assert_eq!(mock.hits(), 0, "nothing was sent upstream");
    app.stop().await;
}
