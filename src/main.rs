//! The `omnigate` binary: parses the command line and runs the command inside an actix System.

use std::process::ExitCode;

use clap::Parser;

// mimalloc: the request path allocates many small short-lived objects across worker threads, where
// glibc malloc spent ~17 % of the gateway's CPU (consolidation, arena locks) in the benchmark.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc reads its options from the environment when the process starts, before `main`:
/// on first start the daemon sets them and re-executes itself (same pid, same arguments). They keep
/// an idle daemon small: arena memory is committed on demand and freed pages go back at once
/// (the defaults cost ~17 MiB of idle RSS). Any value already set by the operator wins.
#[cfg(unix)]
fn tune_allocator() {
    use std::os::unix::process::CommandExt;
    const TUNED: [(&str, &str); 2] = [("MIMALLOC_ARENA_EAGER_COMMIT", "0"), ("MIMALLOC_PURGE_DELAY", "0")];
    if std::env::var_os("OMNIGATE_ALLOCATOR_TUNED").is_some()
        || TUNED.iter().all(|(k, _)| std::env::var_os(k).is_some())
    {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let mut cmd = std::process::Command::new(exe);
    cmd.args(std::env::args_os().skip(1)).env("OMNIGATE_ALLOCATOR_TUNED", "1");
    for (k, v) in TUNED {
        if std::env::var_os(k).is_none() {
            cmd.env(k, v);
        }
    }
    // `exec` only returns on failure; then run untuned.
    let _ = cmd.exec();
}

#[cfg(not(unix))]
fn tune_allocator() {}

fn main() -> ExitCode {
    tune_allocator();
    // awc and rustls need a process-wide crypto provider; ring is the only one compiled in.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = omnigate::cli::Cli::parse();
    actix_rt::System::new().block_on(omnigate::commands::run(cli.command))
}
