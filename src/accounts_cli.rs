//! `omnigate accounts ...`: provider accounts managed through the running daemon's admin API.
//!
//! The CLI is a thin client of `/api/accounts`: the daemon validates, seals the key and applies
//! the change live before it answers, exactly as for the dashboard. The daemon's address comes
//! from the same config layers `serve` reads (`--url` overrides), the admin token from
//! `--admin-token-file`, `OMNIGATE_ADMIN_TOKEN`, or, for a daemon on this machine, the per-start
//! token it wrote to its data dir (`local_token`). A key arrives through an environment variable
//! or stdin, never argv, and is never printed.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use awc::http::Method;
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use crate::cli::Common;
use crate::config::Config;
use crate::local_token;
use crate::pipeline::words::span;

/// How the CLI reaches the daemon.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// The daemon's base URL (default: http://<server.host>:<server.port> from the config layers).
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// A file holding the admin token (default: OMNIGATE_ADMIN_TOKEN, else the local daemon's
    /// <data dir>/cli.token).
    #[arg(long, global = true)]
    pub admin_token_file: Option<PathBuf>,
}

/// The account commands. An account is named `provider/name`, or `name` when no other provider
/// has an account of that name.
#[derive(Debug, Subcommand)]
pub enum AccountsAction {
    /// Add an account; live at once.
    Add {
        /// A built-in provider (openai, anthropic, groq, ...) or a custom provider's id.
        provider: String,
        /// Unique within the provider.
        #[arg(long)]
        name: String,
        /// Read the upstream key from this environment variable.
        #[arg(long, value_name = "VAR", conflicts_with = "key_stdin")]
        key_env: Option<String>,
        /// Read the upstream key from stdin (`pass show openai | omnigate accounts add ...`).
        #[arg(long)]
        key_stdin: bool,
        /// Override of the provider's base URL.
        #[arg(long)]
        base_url: Option<String>,
        /// Lower is preferred (default 1).
        #[arg(long, allow_negative_numbers = true)]
        priority: Option<i32>,
        /// Relative share for weighted strategies (default 1).
        #[arg(long)]
        weight: Option<u32>,
        /// Most requests in flight at once.
        #[arg(long)]
        max_concurrent: Option<u32>,
        /// Add it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// List accounts: state, cooldown left, last error and since when.
    List,
    /// Send one minimal request upstream with the account's key.
    Test {
        /// `provider/name` or `name`.
        account: String,
        /// Model to test with (default: the provider's first).
        #[arg(long)]
        model: Option<String>,
    },
    /// Remove an account (requests in flight on it finish).
    Remove {
        /// `provider/name` or `name`.
        account: String,
    },
    /// Enable an account.
    Enable {
        /// `provider/name` or `name`.
        account: String,
    },
    /// Disable an account (never leased until enabled).
    Disable {
        /// `provider/name` or `name`.
        account: String,
    },
    /// Clear an account's cooldown, backoff and model locks.
    Reset {
        /// `provider/name` or `name`.
        account: String,
    },
    /// Subscription sign-in (`login`, `import`): on the daemon's machine, into its database.
    #[command(flatten)]
    SignIn(Box<crate::cli::SignInAction>),
}

/// Runs an account command; the error, if any, is one line on stderr.
pub async fn run(common: Common, remote: Remote, action: AccountsAction) -> ExitCode {
    if let AccountsAction::SignIn(sign_in) = action {
        return crate::commands::sign_in(&common, *sign_in).await;
    }
    let outcome = match Daemon::locate(&common, &remote) {
        Ok(d) => act(&d, action).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("omnigate: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The running daemon as the CLI reaches it.
pub(crate) struct Daemon {
    /// The base URL, without a trailing slash.
    pub(crate) url: String,
    token: Option<String>,
    /// The HTTP client (short connect timeout).
    pub(crate) client: awc::Client,
}

impl Daemon {
    /// Finds the daemon: `--url`, else the config layers' address; the admin token as the module
    /// doc says.
    pub(crate) fn locate(common: &Common, remote: &Remote) -> Result<Self, String> {
        let url = match &remote.url {
            Some(u) if u.contains("://") => u.trim_end_matches('/').to_string(),
            Some(u) => format!("http://{}", u.trim_end_matches('/')),
            None => default_url(&layered(common)?),
        };
        let token = match &remote.admin_token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read the admin token file {}: {e}", path.display()))?;
                Some(text.trim().to_string()).filter(|t| !t.is_empty())
            }
            None => std::env::var("OMNIGATE_ADMIN_TOKEN").ok().filter(|t| !t.is_empty()),
        };
        // The daemon's own per-start token, only ever sent to a daemon on this machine.
        let token = match token {
            Some(t) => Some(t),
            None if is_loopback(&url) => layered(common).ok().and_then(|c| local_token::read(&c.data_dir())),
            None => None,
        };
        let client = awc::Client::builder()
            .connector(awc::Connector::new().timeout(Duration::from_secs(3)))
            .timeout(Duration::from_secs(45))
            .disable_redirects()
            .finish();
        Ok(Self { url, token, client })
    }

    /// One admin API call; a non-2xx answer becomes its message.
    pub(crate) async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        self.request(method, path, body).await.map_err(|(_, message)| message)
    }

    /// One admin API call; a failure is the answer's status (none when no answer came) and its
    /// message.
    pub(crate) async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, (Option<u16>, String)> {
        let mut req = self.client.request(method, format!("{}{path}", self.url));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let sent = match body {
            Some(b) => req.send_json(&b).await,
            None => req.send().await,
        };
        let mut resp = sent.map_err(|e| {
            let message = match e {
                awc::error::SendRequestError::Connect(_) => {
                    format!("no daemon answering at {} — start it with `omnigate serve` or pass --url", self.url)
                }
                awc::error::SendRequestError::Timeout => format!("the daemon at {} did not answer in time", self.url),
                other => format!("cannot reach the daemon at {}: {other}", self.url),
            };
            (None, message)
        })?;
        let status = resp.status();
        let bytes = resp
            .body()
            .limit(16 * 1024 * 1024)
            .await
            .map_err(|e| (Some(status.as_u16()), format!("reading the answer: {e}")))?;
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(v);
        }
        if status.as_u16() == 401 {
            return Err((
                Some(401),
                match self.token {
                    Some(_) => format!(
                        "the daemon at {} refused the admin token: use the OMNIGATE_ADMIN_TOKEN it was started with",
                        self.url
                    ),
                    None => format!(
                        "the daemon at {} needs the admin token: run this as the daemon's user with its --data-dir, or set OMNIGATE_ADMIN_TOKEN to the value the daemon was started with",
                        self.url
                    ),
                },
            ));
        }
        let message = v["error"]["message"].as_str().map(str::to_string).unwrap_or_else(|| {
            let text = String::from_utf8_lossy(&bytes);
            text.chars().take(200).collect()
        });
        Err((Some(status.as_u16()), format!("{message} ({status})")))
    }

    /// Every account, with the daemon's clock.
    async fn accounts(&self) -> Result<(i64, Vec<Value>), String> {
        let v = self.call(Method::GET, "/api/accounts", None).await?;
        let now = v["now"].as_i64().unwrap_or(0);
        Ok((now, v["accounts"].as_array().cloned().unwrap_or_default()))
    }

    /// The account `name` addresses: `provider/name`, or a name only one provider uses.
    async fn resolve(&self, name: &str) -> Result<Value, String> {
        let (_, all) = self.accounts().await?;
        pick(all, name)
    }
}

/// The config layers `serve` reads (file, environment, `--data-dir`), without the runtime
/// entries and so without their secrets.
pub(crate) fn layered(common: &Common) -> Result<Config, String> {
    crate::commands::load_settings(common).map_err(|e| e.to_string())
}

/// `http://<host>:<port>` of the config (a wildcard host means loopback).
pub(crate) fn default_url(cfg: &Config) -> String {
    let host = match cfg.server.host.as_str() {
        "" | "0.0.0.0" => "127.0.0.1".to_string(),
        "::" | "[::]" => "[::1]".to_string(),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_string(),
    };
    format!("http://{host}:{}", cfg.server.port)
}

/// Whether `url` names this machine (`localhost`, 127.0.0.0/8, `::1`).
pub(crate) fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    crate::config::is_loopback_host(host)
}

fn label(a: &Value) -> String {
    format!("{}/{}", a["provider"].as_str().unwrap_or("?"), a["name"].as_str().unwrap_or("?"))
}

/// The one account among `all` that `name` addresses.
fn pick(all: Vec<Value>, name: &str) -> Result<Value, String> {
    if let Some(a) = all.iter().find(|a| label(a) == name) {
        return Ok(a.clone());
    }
    let mut named: Vec<Value> = all.into_iter().filter(|a| a["name"].as_str() == Some(name)).collect();
    match named.len() {
        0 => Err(format!("no account named `{name}` (see `omnigate accounts list`)")),
        1 => Ok(named.remove(0)),
        _ => {
            let labels: Vec<String> = named.iter().map(label).collect();
            Err(format!("`{name}` names {} accounts ({}): write provider/name", named.len(), labels.join(", ")))
        }
    }
}

fn id_of(a: &Value) -> Result<i64, String> {
    a["id"].as_i64().ok_or_else(|| format!("account {} has no id", label(a)))
}

/// The upstream key, from the variable or stdin (trailing newline trimmed), never from argv.
fn read_key(key_env: Option<&str>, key_stdin: bool) -> Result<Option<String>, String> {
    if let Some(var) = key_env {
        return match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_string())),
            Ok(_) => Err(format!("environment variable {var} (--key-env) is empty")),
            Err(_) => Err(format!("environment variable {var} (--key-env) is not set")),
        };
    }
    if !key_stdin {
        return Ok(None);
    }
    let stdin = std::io::stdin();
    let mut text = String::new();
    let read = if stdin.is_terminal() {
        // Typed or pasted at a terminal: one line, not echoed.
        eprint!("upstream key (not shown): ");
        let hidden = terminal_echo(false);
        let read = stdin.lock().read_line(&mut text);
        if hidden {
            terminal_echo(true);
        }
        eprintln!();
        read
    } else {
        stdin.lock().read_to_string(&mut text)
    };
    read.map_err(|e| format!("cannot read the key from stdin: {e}"))?;
    let key = text.trim().to_string();
    if key.is_empty() {
        return Err("no key on stdin (--key-stdin)".into());
    }
    Ok(Some(key))
}

/// Switches the terminal's echo (through `stty`, on the inherited stdin); whether it worked.
pub(crate) fn terminal_echo(on: bool) -> bool {
    std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status()
        .is_ok_and(|s| s.success())
}

async fn act(d: &Daemon, action: AccountsAction) -> Result<ExitCode, String> {
    match action {
        // Handled by `run` before the daemon is reached: it writes the database on this machine.
        AccountsAction::SignIn(_) => Err("`accounts login` and `accounts import` run on the daemon's machine".into()),
        AccountsAction::Add {
            provider,
            name,
            key_env,
            key_stdin,
            base_url,
            priority,
            weight,
            max_concurrent,
            disabled,
        } => {
            let key = read_key(key_env.as_deref(), key_stdin)?;
            let mut body = Map::new();
            body.insert("provider".into(), json!(provider));
            body.insert("name".into(), json!(name));
            if let Some(k) = key {
                body.insert("api_key".into(), json!(k));
            }
            let optional = [
                ("base_url", base_url.map(|u| json!(u))),
                ("priority", priority.map(|p| json!(p))),
                ("weight", weight.map(|w| json!(w))),
                ("max_concurrent", max_concurrent.map(|m| json!(m))),
                ("enabled", disabled.then_some(json!(false))),
            ];
            body.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), v))));
            let a = d.call(Method::POST, "/api/accounts", Some(Value::Object(body))).await?;
            let key = match a["key_hint"].as_str() {
                Some(h) => format!("key {h}"),
                None => "no key".into(),
            };
            let live = if disabled { "added disabled" } else { "serving now" };
            println!("added {} (id {}, {key}); {live}", label(&a), a["id"]);
            Ok(ExitCode::SUCCESS)
        }
        AccountsAction::List => list(d).await,
        AccountsAction::Test { account, model } => {
            let a = d.resolve(&account).await?;
            let body = model.map(|m| json!({ "model": m }));
            let r = d.call(Method::POST, &format!("/api/accounts/{}/test", id_of(&a)?), body).await?;
            let status = r["status"].as_u64().map_or_else(|| "no answer".to_string(), |s| s.to_string());
            let (model, ms) = (r["model"].as_str().unwrap_or("?"), r["latency_ms"].as_u64().unwrap_or(0));
            if r["ok"].as_bool() == Some(true) {
                println!("{}: ok ({status} in {ms} ms, model {model})", label(&a));
                Ok(ExitCode::SUCCESS)
            } else {
                let why = r["error"].as_str().unwrap_or("failed");
                Err(format!("{}: test failed ({status} after {ms} ms, model {model}): {why}", label(&a)))
            }
        }
        AccountsAction::Remove { account } => {
            let a = d.resolve(&account).await?;
            d.call(Method::DELETE, &format!("/api/accounts/{}", id_of(&a)?), None).await?;
            println!("removed {}", label(&a));
            Ok(ExitCode::SUCCESS)
        }
        AccountsAction::Enable { account } => switch(d, &account, true).await,
        AccountsAction::Disable { account } => switch(d, &account, false).await,
        AccountsAction::Reset { account } => {
            let a = d.resolve(&account).await?;
            d.call(Method::POST, &format!("/api/accounts/{}/reset", id_of(&a)?), None).await?;
            println!("reset {}: cooldown, backoff and model locks cleared", label(&a));
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn switch(d: &Daemon, account: &str, enabled: bool) -> Result<ExitCode, String> {
    let a = d.resolve(account).await?;
    d.call(Method::PATCH, &format!("/api/accounts/{}", id_of(&a)?), Some(json!({ "enabled": enabled }))).await?;
    println!("{} {}", if enabled { "enabled" } else { "disabled" }, label(&a));
    Ok(ExitCode::SUCCESS)
}

/// What an account is doing, in words: the router's own word (`ready`, `cooling`, `credentials
/// refused`, ...) with the cooldown left; worked out from the fields for an older daemon.
fn state_of(a: &Value, now: i64) -> String {
    let cooling = a["cooldown_until"].as_i64().unwrap_or(0) - now;
    let word = match a["state"].as_str() {
        Some("off") => "disabled".to_string(),
        Some(w) => w.to_string(),
        None if a["enabled"].as_bool() == Some(false) => "disabled".into(),
        None if a["routable"].as_bool() == Some(false) => "not served (unknown provider)".into(),
        None if a["disabled"].is_string() => "out of service".into(),
        None if cooling > 0 => "cooling".into(),
        None if a["breaker"].as_str() == Some("open") => "breaker open".into(),
        None => "ready".into(),
    };
    if cooling > 0 && word != "disabled" { format!("{word}, {} left", span(cooling)) } else { word }
}

/// The account's own last error and since when, else its newest failed request in the log.
fn last_error_of(a: &Value, now: i64, log: &HashMap<String, (i64, String)>) -> String {
    let own = a["last_error"].as_str().filter(|e| !e.is_empty());
    match (own, a["last_error_since"].as_i64().filter(|t| *t > 0), log.get(&label(a))) {
        (Some(e), Some(since), _) => format!("{} ago: {e}", span(now - since)),
        (Some(e), None, _) => e.to_string(),
        (None, _, Some((ts, e))) => format!("{} ago: {}", span(now - ts), e.trim()),
        (None, _, None) => "-".into(),
    }
}

/// The newest failed request per `provider/account` (as the dashboard shows it).
fn last_errors(items: &[Value]) -> HashMap<String, (i64, String)> {
    let mut out = HashMap::new();
    for r in items {
        let (Some(p), Some(acc)) = (r["provider"].as_str(), r["account"].as_str()) else { continue };
        let status = r["status"].as_i64().unwrap_or(0);
        let error: String = r["error"].as_str().unwrap_or("").chars().take(100).collect();
        out.entry(format!("{p}/{acc}")).or_insert((r["ts"].as_i64().unwrap_or(0), format!("{status} {error}")));
    }
    out
}

async fn list(d: &Daemon) -> Result<ExitCode, String> {
    let (now, all) = d.accounts().await?;
    let failed = d.call(Method::GET, "/api/requests?status=error&limit=200", None).await?;
    let errors = last_errors(failed["items"].as_array().map(Vec::as_slice).unwrap_or_default());
    println!("{:<28} {:<8} {:<4} {:<12} {:<30} LAST ERROR", "ACCOUNT", "SOURCE", "PRIO", "KEY", "STATE");
    for a in &all {
        let last = last_error_of(a, now, &errors);
        println!(
            "{:<28} {:<8} {:<4} {:<12} {:<30} {last}",
            label(a),
            a["source"].as_str().unwrap_or("?"),
            a["priority"].as_i64().map_or_else(|| "-".into(), |p| p.to_string()),
            a["key_hint"].as_str().unwrap_or("-"),
            state_of(a, now),
        );
    }
    if all.is_empty() {
        eprintln!("no accounts yet: `omnigate accounts add <provider> --name N --key-env VAR`");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(provider: &str, name: &str) -> Value {
        json!({"id": 1, "provider": provider, "name": name})
    }

    #[test]
    fn accounts_are_named_by_provider_slash_name_or_a_unique_name() {
        let all = vec![acc("openai", "a"), acc("groq", "a"), acc("groq", "b")];
        assert_eq!(pick(all.clone(), "groq/a").map(|a| label(&a)), Ok("groq/a".into()));
        assert_eq!(pick(all.clone(), "b").map(|a| label(&a)), Ok("groq/b".into()));
        let e = pick(all.clone(), "a").err().unwrap_or_default();
        assert!(e.contains("openai/a") && e.contains("groq/a") && e.contains("provider/name"), "{e}");
        assert!(pick(all, "zz").is_err_and(|e| e.contains("no account named `zz`")));
    }

    #[test]
    fn states_read_as_words() {
        let now = 1_000_000;
        let a = json!({"state": "cooling", "cooldown_until": now + 90_000, "last_error": "429", "last_error_since": now - 5000});
        assert_eq!(state_of(&a, now), "cooling, 90 s left");
        assert_eq!(last_error_of(&a, now, &HashMap::new()), "5 s ago: 429");
        assert_eq!(state_of(&json!({"state": "off", "cooldown_until": now + 9000}), now), "disabled");
        assert_eq!(state_of(&json!({"enabled": true, "routable": true, "breaker": "closed"}), now), "ready");
        let log = HashMap::from([("p/a".to_string(), (now - 60_000, "502 refused".to_string()))]);
        assert_eq!(last_error_of(&json!({"provider": "p", "name": "a"}), now, &log), "60 s ago: 502 refused");
        assert_eq!(span(150_000), "2 min");
    }

    #[test]
    fn only_this_machine_gets_the_local_token() {
        for url in ["http://127.0.0.1:20128", "http://localhost:1", "http://[::1]:20128/", "http://127.1.2.3"] {
            assert!(is_loopback(url), "{url}");
        }
        for url in
            ["http://10.0.0.1:20128", "https://gw.example.com", "http://[2001:db8::1]:80", "http://127.0.0.1.nip.io"]
        {
            assert!(!is_loopback(url), "{url}");
        }
    }
}
