//! `omnigate setup <tool>` (issue 13, "coding tools in one command"), through the real binary
//! against a running daemon, with HOME and the tools' own variables pointed at a temp dir: the
//! file written parses in the tool's format with every key as its docs name it, the user's own
//! keys survive, a second run changes nothing byte for byte, `--undo` restores the original byte
//! for byte (or removes the file setup created), `--print` writes nothing, and the key setup
//! made is accepted by the gateway.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::mock::MockUpstream;
use crate::support::{TestEnv, admin_get, base, client, json_body, mock_config};

const BIN: &str = env!("CARGO_BIN_EXE_omnigate");
const MODEL: &str = "mock/mock-model";

/// A home directory for the tools, with their own variables moved inside it.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("tempdir") }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The environment a CLI run gets: HOME, XDG_CONFIG_HOME, CODEX_HOME, CLAUDE_CONFIG_DIR here.
    pub fn vars(&self) -> Vec<(String, String)> {
        let p = |rel: &str| self.path(rel).display().to_string();
        vec![
            ("HOME".into(), p("")),
            ("XDG_CONFIG_HOME".into(), p("xdg")),
            ("CODEX_HOME".into(), p("codex-home")),
            ("CLAUDE_CONFIG_DIR".into(), p("claude-dir")),
        ]
    }
}

/// Runs `omnigate <sub> --url <url> <args>` with `home`'s variables, the admin token and `env`,
/// off the test's thread (the daemon's actors live on it).
pub async fn omni(sub: &str, url: &str, token: &str, home: &Home, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg(sub).args(["--url", url]).args(args);
    for k in [
        "OMNIGATE_CONFIG",
        "OMNIGATE_DATA_DIR",
        "OMNIGATE_MASTER_KEY",
        "OMNIGATE_PORT",
        "OMNIGATE_HOST",
        "OMNIGATE_API_KEY",
        "CONTINUE_GLOBAL_DIR",
        "DATABASE_URL",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("OMNIGATE_ADMIN_TOKEN", token).envs(home.vars());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    actix_rt::task::spawn_blocking(move || cmd.output().expect("run the CLI")).await.expect("join")
}

pub fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn ok(o: &Output) -> String {
    assert!(o.status.success(), "the command failed: {}{}", out(o), err(o));
    out(o)
}

fn bytes(p: &Path) -> Option<Vec<u8>> {
    std::fs::read(p).ok()
}

fn backup(p: &Path) -> PathBuf {
    PathBuf::from(format!("{}.omnigate-backup", p.display()))
}

/// A request with `key` through the gateway: the key works (not 401) and serves.
async fn key_serves(url: &str, key: &str) {
    let r = client()
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(key)
        .send_json(&json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}))
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "the key setup made is accepted by the gateway");
}

/// The names of the active keys.
async fn key_names(app: &omnigate::app::Running, env: &TestEnv) -> Vec<String> {
    let keys = admin_get(app, env, "/api/keys").await;
    keys.as_array()
        .unwrap()
        .iter()
        .filter(|k| k["revoked_at"].is_null())
        .map(|k| k["name"].as_str().unwrap().to_string())
        .collect()
}

/// The whole setup cycle for a tool whose settings live in the file `rel` (under the test home):
/// `user` is the user's file before; `check(text, url, merged)` parses what setup wrote, checks
/// every key (and, when `merged` into the user's file, that the user's keys survived) and returns
/// the key written.
async fn cycle(tool: &str, rel: &str, user: &str, check: impl Fn(&str, &str, bool) -> String) {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let (url, tok) = (base(&app), env.admin_token.clone());
    let home = Home::new();
    let file = home.path(rel);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, user).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    // --print: shows, writes and creates nothing.
    let shown = ok(&omni("setup", &url, &tok, &home, &[tool, "--model", MODEL, "--print"], &[]).await);
    assert!(shown.contains(&url) && shown.contains("nothing written"), "{shown}");
    assert_eq!(bytes(&file).as_deref(), Some(user.as_bytes()), "--print writes nothing");
    assert!(!backup(&file).exists());
    assert!(!key_names(&app, &env).await.contains(&tool.to_string()), "--print makes no key");

    // First run: merged, backed up, a key named after the tool that the gateway accepts.
    let said = ok(&omni("setup", &url, &tok, &home, &[tool, "--model", MODEL], &[]).await);
    assert!(said.contains(&file.display().to_string()), "{said}");
    let first = std::fs::read(&file).unwrap();
    let key = check(&String::from_utf8(first.clone()).unwrap(), &url, true);
    assert!(key.starts_with("sk-og-"), "{key}");
    assert_eq!(bytes(&backup(&file)).as_deref(), Some(user.as_bytes()), "the original is backed up");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o644,
            "an existing file keeps its mode"
        );
    }
    assert!(key_names(&app, &env).await.contains(&tool.to_string()), "a key named after the tool");
    key_serves(&url, &key).await;

    // Twice: nothing changes (the key and model already written are reused), no new key.
    let keys_before = key_names(&app, &env).await;
    let said = ok(&omni("setup", &url, &tok, &home, &[tool], &[]).await);
    assert!(said.contains("nothing changed"), "{said}");
    assert_eq!(std::fs::read(&file).unwrap(), first, "running twice changes nothing byte for byte");
    assert_eq!(key_names(&app, &env).await, keys_before);

    // --print now shows the key masked, never whole.
    let shown = ok(&omni("setup", &url, &tok, &home, &[tool, "--print"], &[]).await);
    assert!(!shown.contains(&key) && shown.contains(&key[key.len() - 4..]), "{shown}");

    // --undo: the original, byte for byte.
    ok(&omni("setup", &url, &tok, &home, &[tool, "--undo"], &[]).await);
    assert_eq!(bytes(&file).as_deref(), Some(user.as_bytes()), "--undo restores the original");
    assert!(!backup(&file).exists());

    // No file at all: created owner-only (it holds a key), and --undo removes it.
    std::fs::remove_file(&file).unwrap();
    let o = omni("setup", &url, &tok, &home, &[tool, "--model", MODEL], &[]).await;
    ok(&o);
    assert!(err(&o).contains(&format!("`{tool}-2`")), "the name is taken, so the next: {}", err(&o));
    let text = std::fs::read_to_string(&file).unwrap();
    key_serves(&url, &check(&text, &url, false)).await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    ok(&omni("setup", &url, &tok, &home, &[tool, "--undo"], &[]).await);
    assert!(!file.exists(), "--undo removes the file setup created");
    app.stop().await;
}

#[actix_web::test]
async fn setup_claude_code_writes_the_env_block_of_settings_json() {
    let user = "{\n  \"theme\": \"dark\",\n  \"env\": { \"MY_VAR\": \"1\" },\n  \"permissions\": { \"allow\": [\"Bash(ls)\"] }\n}\n";
    cycle("claude-code", "claude-dir/settings.json", user, |text, url, merged| {
        let v: Value = serde_json::from_str(text).expect("JSON");
        let env = v["env"].as_object().expect("an env object");
        if merged {
            let at = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
            assert!(at("theme") < at("env") && at("env") < at("permissions"), "the user's order stays: {text}");
            assert_eq!(v["theme"], "dark");
            assert_eq!(v["permissions"]["allow"][0], "Bash(ls)");
            assert_eq!(env["MY_VAR"], "1", "the user's variable survives");
        }
        assert_eq!(env["ANTHROPIC_BASE_URL"], url, "the root URL: Claude Code appends /v1/messages");
        for k in [
            "ANTHROPIC_MODEL",
            "ANTHROPIC_DEFAULT_OPUS_MODEL",
            "ANTHROPIC_DEFAULT_SONNET_MODEL",
            "ANTHROPIC_DEFAULT_HAIKU_MODEL",
        ] {
            assert_eq!(env[k], MODEL, "{k}");
        }
        let documented = [
            "MY_VAR",
            "ANTHROPIC_BASE_URL",
            "ANTHROPIC_AUTH_TOKEN",
            "ANTHROPIC_MODEL",
            "ANTHROPIC_DEFAULT_OPUS_MODEL",
            "ANTHROPIC_DEFAULT_SONNET_MODEL",
            "ANTHROPIC_DEFAULT_HAIKU_MODEL",
        ];
        assert!(env.keys().all(|k| documented.contains(&k.as_str())), "{env:?}");
        assert!(env.values().all(Value::is_string), "Claude Code's env values are strings");
        env["ANTHROPIC_AUTH_TOKEN"].as_str().unwrap().to_string()
    })
    .await;
}

#[actix_web::test]
async fn setup_codex_adds_a_model_provider_to_config_toml() {
    let user = "# my settings\napproval_policy = \"on-request\"   # keep me\n\n[mcp_servers.docs]\ncommand = \"npx\"\nargs = [\"-y\", \"docs\"]\n";
    cycle("codex", "codex-home/config.toml", user, |text, url, merged| {
        let v: toml::Table = toml::from_str(text).expect("TOML");
        if merged {
            assert!(
                text.starts_with("# my settings\napproval_policy = \"on-request\"   # keep me\n"),
                "comments and formatting stay: {text}"
            );
            assert_eq!(v["approval_policy"].as_str(), Some("on-request"));
            assert_eq!(v["mcp_servers"]["docs"]["command"].as_str(), Some("npx"));
        }
        assert_eq!(v["model_provider"].as_str(), Some("omnigate"));
        assert_eq!(v["model"].as_str(), Some(MODEL));
        let p = v["model_providers"]["omnigate"].as_table().expect("[model_providers.omnigate]");
        // The fields of codex-rs/core/src/model_provider_info.rs `ModelProviderInfo`.
        let documented = [
            "name",
            "base_url",
            "env_key",
            "env_key_instructions",
            "experimental_bearer_token",
            "wire_api",
            "query_params",
            "http_headers",
            "env_http_headers",
            "request_max_retries",
            "stream_max_retries",
            "stream_idle_timeout_ms",
            "requires_openai_auth",
            // Codex 0.171's WebSocket transport (the real CLI runs with it in responses_ws.rs).
            "supports_websockets",
        ];
        assert!(p.keys().all(|k| documented.contains(&k.as_str())), "{p:?}");
        assert_eq!(p["name"].as_str(), Some("Omnigate"));
        assert_eq!(p["supports_websockets"].as_bool(), Some(true));
        assert_eq!(p["base_url"].as_str(), Some(format!("{url}/v1").as_str()));
        assert_eq!(p["wire_api"].as_str(), Some("responses"), "one of Codex's `responses` | `chat`");
        p["experimental_bearer_token"].as_str().unwrap().to_string()
    })
    .await;
}

#[actix_web::test]
async fn setup_gemini_cli_writes_its_env_file() {
    let user = "# mine\nMY_VAR=1\nGEMINI_API_KEY=old-google-key\n";
    cycle("gemini-cli", ".gemini/.env", user, |text, url, merged| {
        let vars: Vec<(&str, &str)> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.split_once('=').expect("KEY=value"))
            .collect();
        let get = |k: &str| vars.iter().filter(|(n, _)| *n == k).map(|(_, v)| *v).collect::<Vec<_>>();
        if merged {
            assert!(text.starts_with("# mine\nMY_VAR=1\n"), "the user's lines stay: {text}");
        }
        assert_eq!(get("GOOGLE_GEMINI_BASE_URL"), [url], "the Gemini API root: the SDK appends /v1beta/models/...");
        assert_eq!(get("GEMINI_MODEL"), [MODEL]);
        let key = get("GEMINI_API_KEY");
        assert_eq!(key.len(), 1, "one GEMINI_API_KEY line: {text}");
        key[0].to_string()
    })
    .await;
}

#[actix_web::test]
async fn setup_opencode_adds_a_custom_provider() {
    let user = "{\n  \"theme\": \"opencode\",\n  \"provider\": { \"other\": { \"npm\": \"@ai-sdk/anthropic\" } }\n}\n";
    cycle("opencode", "xdg/opencode/opencode.json", user, |text, url, merged| {
        let v: Value = serde_json::from_str(text).expect("JSON");
        if merged {
            assert_eq!(v["theme"], "opencode");
            assert_eq!(v["provider"]["other"]["npm"], "@ai-sdk/anthropic", "the user's provider stays");
        }
        assert_eq!(v["$schema"], "https://opencode.ai/config.json");
        let p = v["provider"]["omnigate"].as_object().expect("provider.omnigate");
        assert!(p.keys().all(|k| ["npm", "name", "options", "models"].contains(&k.as_str())), "{p:?}");
        assert_eq!(p["npm"], "@ai-sdk/openai-compatible");
        assert_eq!(p["options"]["baseURL"], format!("{url}/v1"));
        assert_eq!(p["models"][MODEL]["name"], MODEL);
        assert_eq!(v["model"], format!("omnigate/{MODEL}"), "provider_id/model_id");
        p["options"]["apiKey"].as_str().unwrap().to_string()
    })
    .await;
}

#[actix_web::test]
async fn setup_continue_adds_a_model_to_config_yaml() {
    let user = "name: My setup\nversion: 0.0.1\nschema: v1\nmodels:\n  - name: Local\n    provider: ollama\n    model: llama3\n";
    cycle("continue", ".continue/config.yaml", user, |text, url, merged| {
        let v: serde_norway::Value = serde_norway::from_str(text).expect("YAML");
        assert_eq!(v["schema"].as_str(), Some("v1"));
        assert!(v["name"].as_str().is_some() && v["version"].as_str().is_some(), "name and version are required");
        let models = v["models"].as_sequence().expect("models");
        if merged {
            assert_eq!(v["name"].as_str(), Some("My setup"));
            assert_eq!(models[0]["name"].as_str(), Some("Local"), "the user's model stays first");
        }
        let ours = models.iter().find(|m| m["name"].as_str() == Some("Omnigate")).expect("our entry");
        assert_eq!(ours["provider"].as_str(), Some("openai"));
        assert_eq!(ours["model"].as_str(), Some(MODEL));
        assert_eq!(ours["apiBase"].as_str(), Some(format!("{url}/v1").as_str()));
        let roles = ["chat", "autocomplete", "embed", "rerank", "edit", "apply", "summarize"];
        assert!(ours["roles"].as_sequence().unwrap().iter().all(|r| roles.contains(&r.as_str().unwrap())));
        ours["apiKey"].as_str().unwrap().to_string()
    })
    .await;
}

#[actix_web::test]
async fn setup_aider_writes_aider_conf_yml() {
    let user = "# aider\ndark-mode: true\nauto-commits: false\n";
    cycle("aider", ".aider.conf.yml", user, |text, url, merged| {
        let v: serde_norway::Value = serde_norway::from_str(text).expect("YAML");
        if merged {
            assert_eq!(v["dark-mode"].as_bool(), Some(true));
            assert_eq!(v["auto-commits"].as_bool(), Some(false));
        }
        assert_eq!(v["openai-api-base"].as_str(), Some(format!("{url}/v1").as_str()));
        assert_eq!(
            v["model"].as_str(),
            Some(format!("openai/{MODEL}").as_str()),
            "aider's prefix for OpenAI-compatible servers"
        );
        v["openai-api-key"].as_str().unwrap().to_string()
    })
    .await;
}

#[actix_web::test]
async fn setup_cline_and_cursor_print_their_settings_and_write_nothing() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let (url, tok) = (base(&app), env.admin_token.clone());
    let home = Home::new();
    for tool in ["cline", "cursor"] {
        let said = ok(&omni("setup", &url, &tok, &home, &[tool, "--model", MODEL], &[]).await);
        assert!(said.contains(&format!("{url}/v1")) && said.contains(MODEL), "{said}");
        let key = said.split_whitespace().find(|w| w.starts_with("sk-og-")).expect("the new key, shown once");
        key_serves(&url, key).await;
        let masked = ok(&omni("setup", &url, &tok, &home, &[tool, "--print"], &[]).await);
        assert!(!masked.contains("sk-og-") && masked.contains("nothing written"), "{masked}");
        let undo = ok(&omni("setup", &url, &tok, &home, &[tool, "--undo"], &[]).await);
        assert!(undo.contains("nothing to undo"), "{undo}");
    }
    let written: Vec<_> = walk(home.dir.path());
    assert!(written.is_empty(), "nothing written under HOME: {written:?}");
    app.stop().await;
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[actix_web::test]
async fn the_tools_api_renders_the_same_snippets_setup_writes() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let url = base(&app);
    let mut r = client()
        .get(format!("{url}/api/tools?model={MODEL}"))
        .bearer_auth(&env.admin_token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let v = json_body(&mut r).await;
    let tools = v["tools"].as_array().expect("tools");
    let ids: Vec<&str> = tools.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["claude-code", "codex", "gemini-cli", "opencode", "cline", "continue", "cursor", "aider"]);
    for t in tools {
        let tool = <omnigate::tools::Tool as clap::ValueEnum>::from_str(t["id"].as_str().unwrap(), false).unwrap();
        let target = omnigate::tools::Target {
            url: url.clone(),
            key: omnigate::tools::KEY_PLACEHOLDER.into(),
            model: Some(MODEL.into()),
        };
        assert_eq!(t["text"].as_str(), Some(tool.merge(None, &target).unwrap().as_str()), "one source of truth");
        assert_eq!(t["command"], format!("omnigate setup {} --model {MODEL}", t["id"].as_str().unwrap()));
    }
    let r = client().get(format!("{url}/api/tools")).send().await.expect("send");
    assert_eq!(r.status(), 401, "an admin route");
    app.stop().await;
}

#[actix_web::test]
async fn setup_picks_the_gateways_model_and_replaces_a_refused_key() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let (url, tok) = (base(&app), env.admin_token.clone());
    let home = Home::new();
    let file = home.path("codex-home/config.toml");
    let read = |f: &Path| toml::from_str::<toml::Table>(&std::fs::read_to_string(f).unwrap()).unwrap();

    // No --model: the gateway's first (here its only) model.
    ok(&omni("setup", &url, &tok, &home, &["codex"], &[]).await);
    let v = read(&file);
    assert_eq!(v["model"].as_str(), Some(MODEL), "the gateway's first model");
    let first = v["model_providers"]["omnigate"]["experimental_bearer_token"].as_str().unwrap().to_string();

    // The key revoked: the next setup makes a new one and writes it.
    let r = client().delete(format!("{url}/api/keys/codex")).bearer_auth(&tok).send().await.expect("send");
    assert_eq!(r.status(), 200);
    crate::support::eventually(10, || async {
        let r = client().get(format!("{url}/v1/models")).bearer_auth(&first).send().await.expect("send");
        r.status() == 401
    })
    .await;
    let o = omni("setup", &url, &tok, &home, &["codex"], &[]).await;
    ok(&o);
    // A revoked key's name is free again, so the new key takes it.
    assert!(err(&o).contains("refused") && err(&o).contains("created the gateway key `codex`"), "{}", err(&o));
    let second = read(&file)["model_providers"]["omnigate"]["experimental_bearer_token"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    key_serves(&url, &second).await;
    app.stop().await;
}

#[actix_web::test]
async fn setup_finds_the_daemon_through_the_config_layers_like_serve() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let home = Home::new();
    // No --url: the port from OMNIGATE_PORT (as `serve` reads it), the token from the daemon's
    // data dir (its cli.token), the host from the defaults.
    let port = app.addr.port().to_string();
    let mut cmd = Command::new(BIN);
    cmd.args(["setup", "aider", "--model", MODEL, "--data-dir"])
        .arg(env.dir.path())
        .env_remove("OMNIGATE_ADMIN_TOKEN")
        .env_remove("OMNIGATE_CONFIG")
        .env_remove("OMNIGATE_HOST")
        .env("OMNIGATE_PORT", &port)
        .envs(home.vars())
        .stdin(Stdio::null());
    let o = actix_rt::task::spawn_blocking(move || cmd.output().expect("run")).await.expect("join");
    ok(&o);
    let text = std::fs::read_to_string(home.path(".aider.conf.yml")).unwrap();
    assert!(text.contains(&format!("openai-api-base: http://127.0.0.1:{port}/v1")), "{text}");
    app.stop().await;
}

#[actix_web::test]
async fn setup_refuses_a_file_it_cannot_parse_and_makes_no_key() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let (url, tok) = (base(&app), env.admin_token.clone());
    let home = Home::new();
    let file = home.path("claude-dir/settings.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let broken = "{ \"theme\": \"dark\", // a comment\n}";
    std::fs::write(&file, broken).unwrap();
    let o = omni("setup", &url, &tok, &home, &["claude-code"], &[]).await;
    assert!(!o.status.success());
    let e = err(&o);
    assert!(e.contains("not valid JSON") && e.contains("fix or move it") && e.trim().lines().count() == 1, "{e}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), broken, "left as it was");
    assert!(!key_names(&app, &env).await.contains(&"claude-code".to_string()), "no key made for nothing");
    app.stop().await;
}
