//! First-start credentials that survive a failed start: the generated admin password and gateway
//! key are kept in `<data dir>/first-start.txt` (mode 0600) and shown at every start until the
//! first dashboard login deletes the file (a reset of the admin password drops the stale one).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::app::FirstStart;

/// The file's name inside the data dir.
pub const FILE: &str = "first-start.txt";

const PASSWORD: &str = "admin_password";
const KEY: &str = "gateway_key";

/// Where the credentials are kept.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// Adds this start's generated credentials to those still unclaimed and returns all of them.
/// Writing is best effort: a read-only data dir costs the re-showing, never the start.
pub fn remember(data_dir: &Path, generated: &FirstStart) -> FirstStart {
    let mut all = pending(data_dir);
    if generated.admin_password.is_none() && generated.gateway_key.is_none() {
        return all;
    }
    if generated.admin_password.is_some() {
        all.admin_password.clone_from(&generated.admin_password);
    }
    if generated.gateway_key.is_some() {
        all.gateway_key.clone_from(&generated.gateway_key);
    }
    if let Err(e) = write(data_dir, &all) {
        tracing::warn!(error = %e, file = %path(data_dir).display(), "cannot keep the first-start credentials");
    }
    all
}

/// The credentials not yet claimed by a dashboard login.
pub fn pending(data_dir: &Path) -> FirstStart {
    let mut out = FirstStart::default();
    let Ok(text) = std::fs::read_to_string(path(data_dir)) else { return out };
    for line in text.lines() {
        let Some((k, v)) = line.split_once(" = ") else { continue };
        match k.trim() {
            PASSWORD => out.admin_password = Some(v.trim().to_string()),
            KEY => out.gateway_key = Some(v.trim().to_string()),
            _ => {}
        }
    }
    out
}

/// The dashboard was used: the file goes.
pub fn claimed(data_dir: &Path) {
    match std::fs::remove_file(path(data_dir)) {
        Ok(()) => tracing::info!("first-start credentials claimed: {} deleted", FILE),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(error = %e, "cannot delete {}", FILE),
    }
}

/// The admin password was reset: a kept generated one is no longer valid.
pub fn password_replaced(data_dir: &Path) {
    let mut left = pending(data_dir);
    if left.admin_password.take().is_none() {
        return;
    }
    let result = if left.gateway_key.is_none() { std::fs::remove_file(path(data_dir)) } else { write(data_dir, &left) };
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot update {}", FILE);
    }
}

fn write(data_dir: &Path, creds: &FirstStart) -> std::io::Result<()> {
    let mut text = String::from(
        "# Omnigate first-start credentials, shown at each start until the first dashboard login\n\
         # deletes this file. Store them somewhere safe.\n",
    );
    if let Some(p) = &creds.admin_password {
        text.push_str(&format!("{PASSWORD} = {p}\n"));
    }
    if let Some(k) = &creds.gateway_key {
        text.push_str(&format!("{KEY} = {k}\n"));
    }
    let tmp = data_dir.join(format!("{FILE}.tmp"));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path(data_dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_until_claimed_and_a_reset_drops_only_the_password() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        assert!(pending(d).admin_password.is_none());
        let first = FirstStart { admin_password: Some("pw-1".into()), gateway_key: Some("sk-og-1".into()) };
        let shown = remember(d, &first);
        assert_eq!(shown.admin_password.as_deref(), Some("pw-1"));
        // A later start generates nothing: the kept ones are shown again.
        let again = remember(d, &FirstStart::default());
        assert_eq!(again.gateway_key.as_deref(), Some("sk-og-1"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path(d)).expect("file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        password_replaced(d);
        let left = pending(d);
        assert!(left.admin_password.is_none());
        assert_eq!(left.gateway_key.as_deref(), Some("sk-og-1"));
        claimed(d);
        assert!(!path(d).exists());
        assert!(pending(d).gateway_key.is_none());
    }
}
