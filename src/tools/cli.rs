//! `omnigate setup <tool>` and `omnigate run <tool>`: the daemon's address from the same config
//! layers as `serve` (`--url` overrides), a gateway key named after the tool made through the
//! running daemon's admin API on the first setup (later runs reuse the key the tool's file
//! holds), the file merged and written by `files`, or the tool started with the environment
//! only. The key appears in full only where the user asked for it: in the file setup writes, or
//! in the instructions of a print-only tool; `--print` shows it masked.

use std::process::ExitCode;

use awc::http::Method;
use serde_json::{Value, json};

use super::files::{self, Undone, Wrote};
use super::{Found, Homes, MODEL_PLACEHOLDER, Target, Tool, mask};
use crate::accounts_cli::{Daemon, Remote};
use crate::cli::Common;

/// The options of `omnigate setup`.
#[derive(Debug, Clone)]
pub struct SetupArgs {
    /// The tool.
    pub tool: Tool,
    /// The model to write (default: the one already written, else the gateway's first).
    pub model: Option<String>,
    /// Show, change nothing.
    pub print: bool,
    /// Put the original back.
    pub undo: bool,
}

fn finish(r: Result<(), String>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("omnigate: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `omnigate setup`.
pub async fn setup(common: Common, remote: Remote, args: SetupArgs) -> ExitCode {
    finish(setup_inner(&common, &remote, args).await)
}

async fn setup_inner(common: &Common, remote: &Remote, args: SetupArgs) -> Result<(), String> {
    let tool = args.tool;
    let homes = Homes::from_env()?;
    let path = tool.path(&homes);
    if args.undo {
        let Some(path) = path else {
            println!(
                "{} keeps its settings in the editor: setup wrote nothing there, so there is nothing to undo",
                tool.title()
            );
            return Ok(());
        };
        match files::undo(&path)? {
            Undone::Restored => println!("restored {} as it was before setup", path.display()),
            Undone::Removed => println!("removed {} (setup had created it)", path.display()),
            Undone::Nothing => println!("{}: setup has not changed it, nothing to undo", path.display()),
        }
        return Ok(());
    }
    let daemon = Daemon::locate(common, remote)?;
    let existing = match &path {
        Some(p) => files::read(p)?,
        None => None,
    };
    let found = existing.as_deref().map(|t| tool.found(t, &daemon.url)).unwrap_or_default();
    // A file we cannot read back stops us before a key is made for it.
    tool.merge(existing.as_deref(), &Target { url: daemon.url.clone(), key: String::new(), model: None })?;
    if args.print {
        return print(tool, path.as_deref(), existing.as_deref(), &daemon, found, args.model).await;
    }
    let (key, models, created) = match found.key {
        Some(k) => match gateway_models(&daemon, &k).await {
            Probe::Refused => {
                eprintln!("the key in the {} settings is refused by the gateway: making a new one", tool.title());
                let (key, name) = create_key(&daemon, tool).await?;
                (key.clone(), gateway_models(&daemon, &key).await.into_models(), Some(name))
            }
            other => (k, other.into_models(), None),
        },
        None => {
            let (key, name) = create_key(&daemon, tool).await?;
            (key.clone(), gateway_models(&daemon, &key).await.into_models(), Some(name))
        }
    };
    let model = args.model.or(found.model).or_else(|| models.first().cloned());
    if tool.needs_model() && model.is_none() {
        return Err(format!(
            "{} needs a model and the gateway lists none: pass --model <provider/model>",
            tool.title()
        ));
    }
    let target = Target { url: daemon.url.clone(), key, model };
    let text = tool.merge(existing.as_deref(), &target)?;
    if let Some(name) = &created {
        eprintln!("created the gateway key `{name}` for {}", tool.title());
    }
    let Some(path) = path else {
        // Print-only: the one place this key is shown (it is stored as a digest).
        print!("{text}");
        eprintln!("{}", tool.note());
        return Ok(());
    };
    match files::write(&path, existing.as_deref(), &text)? {
        Wrote::Unchanged => println!("{} is already set up for {}: nothing changed", path.display(), daemon.url),
        Wrote::Created => {
            println!("wrote {} (new file; `omnigate setup {} --undo` removes it)", path.display(), tool.id())
        }
        Wrote::Updated { backup } => println!(
            "updated {} (the original is in {}; `omnigate setup {} --undo` puts it back)",
            path.display(),
            backup.display(),
            tool.id()
        ),
        Wrote::Rewritten => println!("updated {}", path.display()),
    }
    if let Some(m) = &target.model {
        println!("{} now uses {} with model {m}", tool.title(), daemon.url);
    }
    Ok(())
}

/// `--print`: what setup would write, the key masked; nothing is created or written.
async fn print(
    tool: Tool,
    path: Option<&std::path::Path>,
    existing: Option<&str>,
    daemon: &Daemon,
    found: Found,
    model: Option<String>,
) -> Result<(), String> {
    let models = match &found.key {
        Some(k) => gateway_models(daemon, k).await.into_models(),
        None => Vec::new(),
    };
    let key = found.key.as_deref().map_or_else(|| "<a new key, made by setup>".to_string(), mask);
    // Without a key to ask the gateway with, the model setup would pick is not known here.
    let model = model
        .or(found.model)
        .or_else(|| models.first().cloned())
        .or_else(|| tool.needs_model().then(|| MODEL_PLACEHOLDER.to_string()));
    let target = Target { url: daemon.url.clone(), key, model };
    let text = tool.merge(existing, &target)?;
    match path {
        Some(p) => println!("# {} would become (nothing written; key masked):", p.display()),
        None => println!("# {} settings (nothing written; key masked):", tool.title()),
    }
    print!("{text}");
    Ok(())
}

/// What the gateway said to a key.
enum Probe {
    /// It listed these models.
    Models(Vec<String>),
    /// 401: the key is not (or no longer) valid.
    Refused,
    /// No answer or another status: nothing learned.
    Unknown,
}

impl Probe {
    fn into_models(self) -> Vec<String> {
        match self {
            Probe::Models(m) => m,
            Probe::Refused | Probe::Unknown => Vec::new(),
        }
    }
}

/// `GET /v1/models` with `key`.
async fn gateway_models(d: &Daemon, key: &str) -> Probe {
    let Ok(mut resp) = d.client.get(format!("{}/v1/models", d.url)).bearer_auth(key).send().await else {
        return Probe::Unknown;
    };
    if resp.status().as_u16() == 401 {
        return Probe::Refused;
    }
    if !resp.status().is_success() {
        return Probe::Unknown;
    }
    let Ok(v) = resp.json::<Value>().limit(8 * 1024 * 1024).await else { return Probe::Unknown };
    let ids = v["data"].as_array().map(|a| a.iter().filter_map(|m| m["id"].as_str().map(str::to_string)).collect());
    Probe::Models(ids.unwrap_or_default())
}

/// A new gateway key named after the tool (`<tool>`, else `<tool>-2`, ... when taken): its
/// secret and name.
async fn create_key(d: &Daemon, tool: Tool) -> Result<(String, String), String> {
    for n in 1..=20 {
        let name = if n == 1 { tool.id().to_string() } else { format!("{}-{n}", tool.id()) };
        match d.request(Method::POST, "/api/keys", Some(json!({ "name": name }))).await {
            Ok(v) => {
                let key = v["key"].as_str().ok_or("the daemon answered without a key")?;
                return Ok((key.to_string(), name));
            }
            // The name is taken (an active key, or one the config file declares).
            Err((Some(409), _)) => continue,
            Err((_, e)) => return Err(format!("cannot create a gateway key for {}: {e}", tool.title())),
        }
    }
    Err(format!("keys `{0}` to `{0}-20` all exist: revoke some with `omnigate keys revoke`", tool.id()))
}

/// Runs `omnigate run`: the tool with this gateway's environment, its exit code passed on.
pub async fn run(common: Common, remote: Remote, tool: Tool, model: Option<String>, args: Vec<String>) -> ExitCode {
    match prepare_run(&common, &remote, tool, model) {
        Ok(mut cmd) => {
            cmd.args(args);
            exec(cmd, tool)
        }
        Err(e) => finish(Err(e)),
    }
}

fn prepare_run(
    common: &Common,
    remote: &Remote,
    tool: Tool,
    model: Option<String>,
) -> Result<std::process::Command, String> {
    let binary = tool.binary().ok_or_else(|| {
        format!(
            "{} runs inside an editor, not from here: `omnigate setup {}` gives its settings",
            tool.title(),
            tool.id()
        )
    })?;
    let daemon = Daemon::locate(common, remote)?;
    let found = match tool.path(&Homes::from_env()?) {
        Some(p) => files::read(&p)?.map(|t| tool.found(&t, &daemon.url)).unwrap_or_default(),
        None => Found::default(),
    };
    let key =
        std::env::var("OMNIGATE_API_KEY").ok().filter(|k| !k.trim().is_empty()).or(found.key).ok_or_else(|| {
            format!(
                "no gateway key for {}: run `omnigate setup {}` once, or set OMNIGATE_API_KEY",
                tool.title(),
                tool.id()
            )
        })?;
    let target = Target { url: daemon.url, key, model: model.or(found.model) };
    let env = tool.run_env(&target).unwrap_or_default();
    let mut cmd = std::process::Command::new(binary);
    for var in env.unset {
        cmd.env_remove(var);
    }
    cmd.envs(env.set).args(env.args);
    Ok(cmd)
}

fn exec(mut cmd: std::process::Command, tool: Tool) -> ExitCode {
    let not_found = |e: std::io::Error| {
        let bin = tool.binary().unwrap_or_default();
        match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "`{bin}` ({}) is not installed or not on PATH: install it (see {}), then run this again",
                tool.title(),
                tool.source()
            ),
            _ => format!("cannot start `{bin}`: {e}"),
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Only returns on failure: on success the tool replaces this process (and its exit
        // code is the one the shell sees).
        finish(Err(not_found(cmd.exec())))
    }
    #[cfg(not(unix))]
    {
        match cmd.status() {
            Ok(s) => ExitCode::from(u8::try_from(s.code().unwrap_or(1)).unwrap_or(1)),
            Err(e) => finish(Err(not_found(e))),
        }
    }
}
