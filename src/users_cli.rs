//! `omnigate users ...`: dashboard users managed through the running daemon's admin API
//! (`/api/users`), reached like `omnigate accounts` (`accounts_cli::Daemon`). A password arrives
//! on stdin only (never argv, never printed).

use std::io::{BufRead, IsTerminal, Read};
use std::process::ExitCode;

use awc::http::Method;
use clap::Subcommand;
use serde_json::{Value, json};

use crate::accounts_cli::{Daemon, Remote, terminal_echo};
use crate::cli::Common;

/// The user commands.
#[derive(Debug, Subcommand)]
pub enum UsersAction {
    /// List the dashboard users and their roles.
    List,
    /// Add a user who signs in to the dashboard with a name and password.
    Add {
        /// Sign-in name: letters, digits, `.`, `_`, `-`.
        name: String,
        /// `admin` (everything) or `viewer` (reads usage, requests and health).
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Read the password from stdin (required: passwords never go on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Change a user's role and/or password (`admin`: the bootstrap admin's password).
    Set {
        /// The user.
        name: String,
        /// A new role.
        #[arg(long)]
        role: Option<String>,
        /// Read a new password from stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete a user; their dashboard sessions end at once.
    Delete {
        /// The user.
        name: String,
    },
}

/// Runs a user command; the error, if any, is one line on stderr.
pub async fn run(common: Common, remote: Remote, action: UsersAction) -> ExitCode {
    let outcome = match Daemon::locate(&common, &remote) {
        Ok(d) => act(&d, action).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("omnigate: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A path segment for a user name (names are plain; anything else the daemon refuses).
fn seg(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn act(d: &Daemon, action: UsersAction) -> Result<(), String> {
    match action {
        UsersAction::List => {
            let v = d.call(Method::GET, "/api/users", None).await?;
            for u in v.as_array().cloned().unwrap_or_default() {
                let builtin = if u["builtin"].as_bool() == Some(true) { "  (bootstrap)" } else { "" };
                println!("{:<24} {}{builtin}", u["name"].as_str().unwrap_or("?"), u["role"].as_str().unwrap_or("?"));
            }
        }
        UsersAction::Add { name, role, password_stdin: _ } => {
            let password = read_password()?;
            let body = json!({ "name": name, "role": role, "password": password });
            d.call(Method::POST, "/api/users", Some(body)).await?;
            println!("added {name} ({role})");
        }
        UsersAction::Set { name, role, password_stdin } => {
            let mut body = serde_json::Map::new();
            if let Some(r) = &role {
                body.insert("role".into(), Value::from(r.clone()));
            }
            if password_stdin {
                body.insert("password".into(), Value::from(read_password()?));
            }
            if body.is_empty() {
                return Err("nothing to change: pass --role and/or --password-stdin".into());
            }
            d.call(Method::PATCH, &format!("/api/users/{}", seg(&name)), Some(Value::Object(body))).await?;
            println!("updated {name}");
        }
        UsersAction::Delete { name } => {
            d.call(Method::DELETE, &format!("/api/users/{}", seg(&name)), None).await?;
            println!("deleted {name}");
        }
    }
    Ok(())
}

/// The password from stdin: one line not echoed at a terminal, else everything piped in, with
/// the trailing line break removed (inner and edge spaces are the password's).
fn read_password() -> Result<String, String> {
    let stdin = std::io::stdin();
    let mut text = String::new();
    let read = if stdin.is_terminal() {
        eprint!("password (not shown): ");
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
    read.map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = text.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        return Err("no password on stdin (--password-stdin)".into());
    }
    Ok(password)
}
