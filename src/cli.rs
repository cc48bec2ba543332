//! The command line: argument structs only (the commands themselves live in `commands`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Omnigate: a self-hosted AI gateway.
#[derive(Debug, Parser)]
#[command(name = "omnigate", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Config file (TOML); see config/default.toml for every key.
    #[arg(long, short = 'c', env = "OMNIGATE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Data directory (database, master key); default ~/.omnigate.
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon.
    Serve {
        /// Shared options.
        #[command(flatten)]
        common: Common,
        /// Address to listen on.
        #[arg(long)]
        host: Option<String>,
        /// Port to listen on.
        #[arg(long, short = 'p')]
        port: Option<u16>,
        /// Add the built-in local `demo` provider (an echo model; no network, no API key).
        #[arg(long)]
        demo: bool,
        /// Log to this file instead of stderr, rotated by size (`[log] max_size_mb`, `keep`)
        /// and reopened on SIGHUP.
        #[arg(long)]
        log_file: Option<std::path::PathBuf>,
    },
    /// Validate the configuration and exit (non-zero on error, naming the bad key).
    CheckConfig {
        /// Shared options.
        #[command(flatten)]
        common: Common,
    },
    /// Manage gateway keys.
    Keys {
        /// Shared options.
        #[command(flatten)]
        common: Common,
        /// The key command.
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Manage provider accounts of the running daemon (through its admin API; live at once);
    /// `login` and `import` sign in to a subscription provider on the daemon's machine.
    Accounts {
        /// Shared options.
        #[command(flatten)]
        common: Common,
        /// How to reach the daemon.
        #[command(flatten)]
        remote: crate::accounts_cli::Remote,
        /// The account command.
        #[command(subcommand)]
        action: crate::accounts_cli::AccountsAction,
    },
    /// Manage the dashboard's users and their roles (through the running daemon's admin API).
    Users {
        /// Shared options.
        #[command(flatten)]
        common: Common,
        /// How to reach the daemon.
        #[command(flatten)]
        remote: crate::accounts_cli::Remote,
        /// The user command.
        #[command(subcommand)]
        action: crate::users_cli::UsersAction,
    },
    /// Run database migrations and exit.
    Migrate {
        /// Shared options.
        #[command(flatten)]
        common: Common,
    },
    /// Write a consistent snapshot of the SQLite database to FILE (a new file), also while the
    /// daemon runs and serves; the snapshot is integrity-checked.
    Backup {
        /// Shared options.
        #[command(flatten)]
        common: Common,
        /// Where to write it (must not exist).
        file: PathBuf,
    },
    /// Replace the SQLite database with the backup FILE after checking it (integrity, and no
    /// migration this version does not know); the daemon must be stopped. The replaced database
    /// is kept beside it as `<name>.before-restore-<ms>`.
    Restore {
        /// Shared options.
        #[command(flatten)]
        common: Common,
        /// The backup to restore.
        file: PathBuf,
    },
    /// Write this gateway's configuration (providers, accounts and their credentials, sign-ins,
    /// combos, aliases, keys, prices, transforms, settings, dashboard users) to FILE, sealed with
    /// a passphrase, to move it to a machine with another master key.
    Export {
        /// Shared options.
        #[command(flatten)]
        common: Common,
        /// Where to write it (must not exist).
        file: PathBuf,
        /// The variable holding the passphrase (default: read one line from stdin).
        #[arg(long)]
        passphrase_env: Option<String>,
    },
    /// Replace this gateway's configuration with the bundle FILE written by `export`; the daemon
    /// (every instance) must be stopped. Credentials are re-sealed under this master key.
    Import {
        /// Shared options.
        #[command(flatten)]
        common: Common,
        /// The bundle.
        file: PathBuf,
        /// The variable holding the passphrase (default: read one line from stdin).
        #[arg(long)]
        passphrase_env: Option<String>,
    },
    /// Make an OmniRoute installation's providers, accounts, prices, aliases, combos and gateway
    /// keys here, through the running daemon; reports what it could not carry over and why.
    ImportOmniroute {
        /// Shared options.
        #[command(flatten)]
        common: Common,
        /// What to import and how.
        #[command(flatten)]
        args: crate::import_omniroute::ImportArgs,
    },
    /// Run as a systemd service.
    Service {
        /// Shared options.
        #[command(flatten)]
        common: Common,
        /// The service command.
        #[command(subcommand)]
        action: ServiceAction,
    },
    /// Set a new admin password (from OMNIGATE_ADMIN_PASSWORD, or generated and printed).
    ResetAdminPassword {
        /// Shared options.
        #[command(flatten)]
        common: Common,
    },
    /// Point a coding tool at this gateway: writes (merges into) the tool's own settings file
    /// with a gateway key named after the tool, keeping a backup of the file it changed.
    Setup {
        /// Shared options.
        #[command(flatten)]
        common: Common,
        /// How to reach the daemon.
        #[command(flatten)]
        remote: crate::accounts_cli::Remote,
        /// The tool.
        tool: crate::tools::Tool,
        /// The model the tool uses (default: the one written before, else the gateway's first).
        #[arg(long)]
        model: Option<String>,
        /// Only show what would be written (key masked); change nothing.
        #[arg(long, conflicts_with = "undo")]
        print: bool,
        /// Put back the file as it was before setup (or remove the file setup created).
        #[arg(long)]
        undo: bool,
    },
    /// Run a coding tool with this gateway's environment (no file is touched); exits with the
    /// tool's exit code.
    Run {
        /// Shared options.
        #[command(flatten)]
        common: Common,
        /// How to reach the daemon.
        #[command(flatten)]
        remote: crate::accounts_cli::Remote,
        /// The model (default: the one `setup` wrote).
        #[arg(long)]
        model: Option<String>,
        /// The tool.
        tool: crate::tools::Tool,
        /// Arguments passed to the tool as they are.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Is the daemon up? Its version, port, accounts and requests today (non-zero
    /// exit when it is down).
    Status {
        /// Shared options.
        #[command(flatten)]
        common: Common,
        /// How to reach the daemon.
        #[command(flatten)]
        remote: crate::accounts_cli::Remote,
    },
    /// Check the installation: config, data dir, database, master key, port or daemon, accounts
    /// and clock; one line per check, non-zero exit when any fails.
    Doctor {
        /// Shared options.
        #[command(flatten)]
        common: Common,
        /// How to reach the daemon.
        #[command(flatten)]
        remote: crate::accounts_cli::Remote,
    },
}

/// Subscription sign-in (`omnigate accounts login | import`): run on the daemon's machine, they
/// write the database (sealed) and the running daemon picks the account up within 5 s.
#[derive(Debug, Subcommand)]
pub enum SignInAction {
    /// Sign in to a subscription provider in the terminal and store the account (sealed).
    Login {
        /// claude-code (cc), codex (cx), gemini-cli (gc), github-copilot (gh) or qwen-code (qw).
        provider: String,
        /// The account's name (default: the sign-in's e-mail or login, else `default`).
        #[arg(long)]
        name: Option<String>,
        /// Endpoint overrides (proxies, tests).
        #[command(flatten)]
        endpoints: EndpointArgs,
    },
    /// Import the credentials the official CLI left on this machine (a dead refresh token is
    /// refused here, not at first use).
    Import {
        /// The provider, as for `login`.
        provider: String,
        /// The credential file (default: the official CLI's, e.g. ~/.claude/.credentials.json).
        #[arg(long)]
        from: Option<PathBuf>,
        /// The account's name.
        #[arg(long)]
        name: Option<String>,
        /// Endpoint overrides (proxies, tests).
        #[command(flatten)]
        endpoints: EndpointArgs,
    },
}

/// Per-account endpoint overrides of a subscription provider.
#[derive(Debug, Clone, Default, Args)]
pub struct EndpointArgs {
    /// The API base URL.
    #[arg(long)]
    pub base_url: Option<String>,
    /// The token endpoint (Copilot: its token exchange).
    #[arg(long)]
    pub token_url: Option<String>,
    /// The authorization page.
    #[arg(long)]
    pub authorize_url: Option<String>,
    /// The device-code endpoint.
    #[arg(long)]
    pub device_url: Option<String>,
    /// The device flow's token endpoint.
    #[arg(long)]
    pub device_token_url: Option<String>,
    /// The usage endpoint.
    #[arg(long)]
    pub usage_url: Option<String>,
    /// The redirect URI (PKCE flows).
    #[arg(long)]
    pub redirect_uri: Option<String>,
}

/// Gateway key commands.
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Create a key and print it once.
    Create {
        /// Unique name.
        #[arg(long)]
        name: String,
        /// Allowed model patterns, comma-separated (`*` and `?` wildcards); default all.
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
    },
    /// List keys (names, prefixes, models; never the keys).
    List,
    /// Revoke a key by name.
    Revoke {
        /// The key's name.
        name: String,
    },
}

/// `omnigate service ...`
#[derive(Debug, Subcommand)]
pub enum ServiceAction {
    /// Write a systemd unit for `omnigate serve` with this config and data directory
    /// (`/etc/systemd/system/omnigate.service`, or with --user `~/.config/systemd/user/`).
    Install {
        /// A user service instead of a system one.
        #[arg(long)]
        user: bool,
        /// Only show what would be written.
        #[arg(long)]
        print: bool,
    },
}
