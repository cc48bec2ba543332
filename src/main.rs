//! The `omnigate` binary: parses the command line and runs the command inside an actix System.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // awc and rustls need a process-wide crypto provider; ring is the only one compiled in.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = omnigate::cli::Cli::parse();
    actix_rt::System::new().block_on(omnigate::commands::run(cli.command))
}
