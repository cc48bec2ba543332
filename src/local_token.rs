//! The local management token: a fresh random token each daemon start writes to
//! `<data dir>/cli.token` (0600, in the 0700 data dir) and accepts like `OMNIGATE_ADMIN_TOKEN`, so
//! CLI commands run on the daemon's machine by its user (who can read the master key anyway) reach
//! the admin API without a token set up by hand.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The token file in a data directory.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("cli.token")
}

/// Makes this start's token and writes it owner-only; `None` (with a warning) when the file
/// cannot be written: then only `OMNIGATE_ADMIN_TOKEN` and sessions open the admin API.
pub fn create(data_dir: &Path) -> Option<String> {
    let file = path(data_dir);
    let token = crate::secrets::random_token(24);
    let write = || -> std::io::Result<()> {
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        opts.open(&file)?.write_all(format!("{token}\n").as_bytes())
    };
    match write() {
        Ok(()) => Some(token),
        Err(e) => {
            tracing::warn!(path = %file.display(), error = %e, "cannot write the local CLI token; the CLI needs OMNIGATE_ADMIN_TOKEN");
            None
        }
    }
}

/// The token a daemon on `data_dir` wrote, if it is readable.
pub fn read(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(path(data_dir)).ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_start_writes_a_new_owner_only_token() -> std::io::Result<()> {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path();
        let first = create(dir);
        assert!(first.is_some() && read(dir) == first);
        let second = create(dir);
        assert!(second.is_some() && second != first && read(dir) == second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path(dir)).map(|m| m.permissions().mode() & 0o777).ok();
            assert_eq!(mode, Some(0o600));
        }
        Ok(())
    }
}
