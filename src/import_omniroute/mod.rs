//! `omnigate import-omniroute PATH`: reads an OmniRoute data directory (or its
//! `storage.sqlite`, or a backup of it) and makes the same providers, accounts, prices, aliases,
//! combos and gateway keys here through the running daemon's admin API, so each entry is
//! validated, sealed and applied live as a dashboard edit is. Gateway keys keep their secret, so
//! the tools using them go on working. Subscription sign-ins move only with `--move-sign-ins`
//! (refresh tokens rotate: OmniRoute's copy stops working at the first refresh here). The report
//! names every entry made and everything left behind, with its reason; `--dry-run` only reports.

mod plan;
mod read;
mod secret;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use awc::http::Method;
use clap::Args;

use crate::accounts_cli::{Daemon, Remote};
use crate::cli::Common;

/// `omnigate import-omniroute` options.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// OmniRoute's data directory (`~/.omniroute`), its `storage.sqlite`, or a backup of it.
    pub path: PathBuf,
    /// The variable holding OmniRoute's STORAGE_ENCRYPTION_KEY (default: STORAGE_ENCRYPTION_KEY,
    /// else the `.env` file in PATH).
    #[arg(long)]
    pub storage_key_env: Option<String>,
    /// Also move subscription sign-ins (Claude Code, Codex): OmniRoute's copy stops working once
    /// this gateway refreshes them.
    #[arg(long)]
    pub move_sign_ins: bool,
    /// Only report what would be made and what would be left behind.
    #[arg(long)]
    pub dry_run: bool,
    /// How to reach the daemon.
    #[command(flatten)]
    pub remote: Remote,
}

/// The database file and the `.env` beside it.
fn locate(path: &Path) -> (PathBuf, Option<PathBuf>) {
    if path.is_dir() {
        (path.join("storage.sqlite"), Some(path.join(".env")))
    } else {
        (path.to_path_buf(), path.parent().map(|d| d.join(".env")))
    }
}

/// STORAGE_ENCRYPTION_KEY from the variable named, else the usual one, else `.env` beside the
/// database (OmniRoute writes it there on first start).
fn storage_key(var: Option<&str>, env_file: Option<&Path>) -> Result<Option<String>, String> {
    if let Some(var) = var {
        return std::env::var(var).map(Some).map_err(|_| format!("--storage-key-env: `{var}` is not set"));
    }
    if let Ok(k) = std::env::var("STORAGE_ENCRYPTION_KEY")
        && !k.is_empty()
    {
        return Ok(Some(k));
    }
    let Some(text) = env_file.and_then(|f| std::fs::read_to_string(f).ok()) else { return Ok(None) };
    Ok(text.lines().find_map(|l| {
        let v = l.trim().strip_prefix("STORAGE_ENCRYPTION_KEY=")?.trim();
        let v = v.trim_matches(|c| c == '"' || c == '\'');
        (!v.is_empty()).then(|| v.to_string())
    }))
}

/// Runs the import; non-zero when the database cannot be read or a call was refused.
pub async fn run(common: &Common, args: ImportArgs) -> ExitCode {
    let fail = |e: String| {
        eprintln!("omnigate: {e}");
        ExitCode::FAILURE
    };
    let (file, env_file) = locate(&args.path);
    if !file.is_file() {
        return fail(format!("{} is not there: give OmniRoute's data directory or its storage.sqlite", file.display()));
    }
    let key = match storage_key(args.storage_key_env.as_deref(), env_file.as_deref()) {
        Ok(k) => k,
        Err(e) => return fail(e),
    };
    let src = match read::read(&file).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let keys = key.as_deref().map(secret::Keys::new);
    let plan = plan::plan(&src, keys.as_ref(), args.move_sign_ins);
    let daemon = if args.dry_run {
        None
    } else {
        match Daemon::locate(common, &args.remote) {
            Ok(d) => Some(d),
            Err(e) => return fail(e),
        }
    };
    let mut refused = 0;
    for call in &plan.calls {
        let Some(d) = &daemon else {
            println!("would make {}", call.what);
            continue;
        };
        let method = if call.put { Method::PUT } else { Method::POST };
        match d.request(method, &format!("/api{}", call.path), Some(call.body.clone())).await {
            Ok(_) => println!("made {}", call.what),
            Err((None, why)) => return fail(why),
            Err((Some(status), why)) => {
                refused += 1;
                println!("refused {} ({status}): {why}", call.what);
            }
        }
    }
    for why in &plan.skipped {
        println!("left behind: {why}");
    }
    println!(
        "{} {} entries, {} refused, {} left behind",
        if daemon.is_some() { "made" } else { "would make" },
        plan.calls.len() - refused,
        refused,
        plan.skipped.len()
    );
    if refused > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
