//! `omnigate accounts login | import | list`: subscription sign-in from a terminal. Login runs
//! the provider's flow (prints the URL and takes the pasted code or redirected address; listens
//! on the loopback redirect when it can; or shows the device code and polls), import reads the
//! official CLI's credential file and refuses a dead refresh token, and both store the account
//! sealed and print it. Never a token on screen.

use std::io::Write;
use std::path::PathBuf;

use futures_util::future::LocalBoxFuture;
use sea_orm::DatabaseConnection;

use super::flow::{self, FlowError};
use super::import::{self, ImportError};
use super::store::{self, SignIn};
use super::{EndpointOverrides, FlowKind, Grant, Kind};
use crate::secrets::Sealer;

/// What the user supplies besides the provider.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// The account name (default: the sign-in's e-mail or login, else `default`).
    pub name: Option<String>,
    /// Endpoint overrides to store with the account.
    pub endpoints: EndpointOverrides,
    /// The account's base URL override.
    pub base_url: Option<String>,
}

/// Why a login or import failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Not a subscription provider.
    #[error("`{0}` is not a subscription provider (claude-code, codex, gemini-cli, github-copilot, qwen-code)")]
    Provider(String),
    /// The flow failed.
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// The import was refused.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// Nothing was pasted.
    #[error("no code was entered")]
    NothingPasted,
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// The provider of a command-line argument.
pub fn kind(provider: &str) -> Result<Kind, CliError> {
    Kind::parse(provider).ok_or_else(|| CliError::Provider(provider.to_string()))
}

fn name_of(t: &Target, g: &Grant) -> String {
    t.name.clone().or_else(|| g.label().map(str::to_string)).unwrap_or_else(|| "default".into())
}

async fn save(
    db: &DatabaseConnection,
    sealer: &Sealer,
    kind: Kind,
    t: &Target,
    grant: Grant,
    out: &mut dyn Write,
) -> Result<entities::account::Model, CliError> {
    let name = name_of(t, &grant);
    let label = grant.label().map(str::to_string);
    let expires = grant.expires_at;
    let s = SignIn { kind, name, grant, endpoints: t.endpoints.clone(), base_url: t.base_url.clone() };
    let acc = store::sign_in(db, sealer, &s).await?;
    let _ = writeln!(
        out,
        "signed in: account {} `{}/{}`{}{}",
        acc.id,
        kind.id(),
        acc.name,
        label.map(|l| format!(" ({l})")).unwrap_or_default(),
        expires.map(|e| format!(", token expires {}", when(e))).unwrap_or_default(),
    );
    let _ = writeln!(out, "use it as `{}/<model>`; a running daemon picks it up within a few seconds", kind.alias());
    Ok(acc)
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339()).unwrap_or_else(|| ms.to_string())
}

/// What the terminal pastes: given the URL to open, the line the user pastes (or the address
/// the loopback listener received), `None` when the input ended.
pub type Paste<'a> = Box<dyn FnOnce(String) -> LocalBoxFuture<'a, Option<String>> + 'a>;

/// Signs in with `kind`'s flow and stores the account.
pub async fn login(
    db: &DatabaseConnection,
    sealer: &Sealer,
    kind: Kind,
    target: &Target,
    paste: Paste<'_>,
    out: &mut dyn Write,
) -> Result<entities::account::Model, CliError> {
    let ep = kind.default_endpoints().with(&target.endpoints);
    let grant = match kind.flow() {
        FlowKind::PasteBack | FlowKind::Loopback => {
            let f = flow::pkce_start(kind, &ep)?;
            let _ = writeln!(out, "Sign in to {}: {}.\n\n  {}\n", kind.id(), flow::describe(kind), f.url);
            let pasted = paste(f.url.clone()).await.ok_or(CliError::NothingPasted)?;
            flow::pkce_finish(&f, &ep, &pasted, actors::clock::now_ms()).await?
        }
        FlowKind::Device => {
            let code = flow::device_start(kind, &ep, actors::clock::now_ms()).await?;
            let page = code.verification_uri_complete.clone().unwrap_or_else(|| code.verification_uri.clone());
            let _ = writeln!(out, "Sign in to {}: open {page}\nand enter the code  {}\n", kind.id(), code.user_code);
            let _ = out.flush();
            let mut last_minute = i64::MAX;
            flow::device_wait(kind, &ep, &code, |left| {
                let minutes = left / 60_000;
                if minutes < last_minute {
                    last_minute = minutes;
                    eprintln!("waiting for the sign-in ({} min left)", minutes + 1);
                }
            })
            .await?
        }
    };
    save(db, sealer, kind, target, grant, out).await
}

/// Imports the official CLI's credentials (`from`, or its usual file) and stores the account.
pub async fn import(
    db: &DatabaseConnection,
    sealer: &Sealer,
    kind: Kind,
    from: Option<PathBuf>,
    target: &Target,
    out: &mut dyn Write,
) -> Result<entities::account::Model, CliError> {
    let path = from.or_else(|| import::default_file(kind)).unwrap_or_default();
    let ep = kind.default_endpoints().with(&target.endpoints);
    let grant = import::import(kind, &path, &ep, actors::clock::now_ms()).await?;
    let _ = writeln!(out, "imported {} (its refresh token works)", path.display());
    if matches!(kind, Kind::Codex | Kind::ClaudeCode | Kind::QwenCode) {
        let _ = writeln!(
            out,
            "note: checking the refresh token spent it; the gateway holds the new one, so the official CLI may ask you to sign in again"
        );
    }
    save(db, sealer, kind, target, grant, out).await
}

/// A line from the terminal, read on a thread of its own (stdin blocks).
pub fn read_line() -> LocalBoxFuture<'static, Option<String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let got = std::io::stdin().read_line(&mut line).ok().filter(|n| *n > 0).map(|_| line);
        let _ = tx.send(got);
    });
    Box::pin(async move { rx.await.ok().flatten().filter(|l| !l.trim().is_empty()) })
}

/// The loopback redirect's port when it points at this machine.
fn loopback_port(redirect_uri: &str) -> Option<u16> {
    let rest = redirect_uri.strip_prefix("http://")?;
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    matches!(host, "localhost" | "127.0.0.1").then(|| port.parse().ok()).flatten()
}

/// Waits for the browser's redirect on the loopback port: answers a short page and returns the
/// address it was sent to.
async fn listen(port: u16) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.ok()?;
    loop {
        let (mut sock, _) = listener.accept().await.ok()?;
        let mut buf = vec![0u8; 8192];
        let n = sock.read(&mut buf).await.ok()?;
        let head = String::from_utf8_lossy(&buf[..n]);
        let path = head.lines().next().and_then(|l| l.split(' ').nth(1)).unwrap_or_default().to_string();
        if !path.contains("code=") && !path.contains("error=") {
            let _ = sock.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
            continue;
        }
        let page = "Signed in. You can close this tab and return to the terminal.";
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
            page.len()
        );
        let _ = sock.write_all(reply.as_bytes()).await;
        return Some(format!("http://localhost:{port}{path}"));
    }
}

/// The terminal's paste step for `kind`: the pasted line, or, for a loopback flow whose port
/// is free, whichever comes first of the redirect and the pasted address.
pub fn terminal_paste(kind: Kind, target: &Target) -> Paste<'static> {
    let redirect = kind.default_endpoints().with(&target.endpoints).redirect_uri;
    let port = (kind.flow() == FlowKind::Loopback).then(|| loopback_port(&redirect)).flatten();
    Box::new(move |_url| {
        Box::pin(async move {
            match port {
                Some(p) => {
                    eprintln!("waiting for the browser on port {p} (or paste the address it was sent to):");
                    let mut typed = read_line();
                    tokio::select! {
                        got = listen(p) => match got { Some(g) => Some(g), None => typed.await },
                        got = &mut typed => got,
                    }
                }
                None => {
                    eprint!("paste here: ");
                    read_line().await
                }
            }
        })
    })
}

/// Runs an `accounts` command.
pub async fn run(db: &DatabaseConnection, sealer: &Sealer, action: crate::cli::SignInAction) -> Result<(), CliError> {
    use crate::cli::SignInAction as AccountsAction;
    let mut out = std::io::stdout();
    match action {
        AccountsAction::Login { provider, name, endpoints } => {
            let kind = kind(&provider)?;
            let target = target(name, endpoints);
            login(db, sealer, kind, &target, terminal_paste(kind, &target), &mut out).await.map(|_| ())
        }
        AccountsAction::Import { provider, from, name, endpoints } => {
            let kind = kind(&provider)?;
            import(db, sealer, kind, from, &target(name, endpoints), &mut out).await.map(|_| ())
        }
    }
}

fn target(name: Option<String>, e: crate::cli::EndpointArgs) -> Target {
    Target {
        name,
        base_url: e.base_url,
        endpoints: EndpointOverrides {
            authorize_url: e.authorize_url,
            token_url: e.token_url,
            device_url: e.device_url,
            device_token_url: e.device_token_url,
            usage_url: e.usage_url,
            redirect_uri: e.redirect_uri,
        },
    }
}

/// `omnigate accounts list`: every subscription account with its sign-in status.
pub async fn list(db: &DatabaseConnection, out: &mut dyn Write) -> Result<(), CliError> {
    let sessions = store::rows(db).await?;
    let _ = writeln!(out, "{:<6} {:<16} {:<24} {:<16} {:<26} REASON", "ID", "PROVIDER", "NAME", "STATUS", "EXPIRES");
    for a in crate::store::accounts::list(db).await? {
        if Kind::parse(&a.provider).is_none() {
            continue;
        }
        let s = sessions.iter().find(|s| s.account_id == a.id);
        let status = match s {
            Some(s) if !a.enabled && s.status == "ok" => "account disabled".to_string(),
            Some(s) => s.status.clone(),
            None => "not signed in".to_string(),
        };
        let expires = s.and_then(|s| s.expires_at).map(when).unwrap_or_default();
        let reason = s.and_then(|s| s.reason.clone()).unwrap_or_default();
        let _ = writeln!(out, "{:<6} {:<16} {:<24} {:<16} {:<26} {reason}", a.id, a.provider, a.name, status, expires);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_ports() {
        assert_eq!(loopback_port("http://localhost:1455/auth/callback"), Some(1455));
        assert_eq!(loopback_port("http://127.0.0.1:8085/oauth2callback"), Some(8085));
        assert_eq!(loopback_port("https://platform.claude.com/oauth/code/callback"), None);
        assert_eq!(loopback_port("http://10.0.0.1:9/cb"), None);
    }
}
