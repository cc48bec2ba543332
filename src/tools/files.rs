//! Writing a tool's settings file safely: the original is copied to `<file>.omnigate-backup`
//! once, before our first change (a file we created is marked by `<file>.omnigate-created`
//! instead), the new text replaces the file atomically, and `undo` puts back the original byte
//! for byte or removes the file we created. Nothing here knows any tool's format.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The copy of the user's file taken before our first change.
pub fn backup_path(file: &Path) -> PathBuf {
    suffixed(file, ".omnigate-backup")
}

/// The mark that `setup` created the file (so `undo` removes it).
pub fn created_marker(file: &Path) -> PathBuf {
    suffixed(file, ".omnigate-created")
}

fn suffixed(file: &Path, suffix: &str) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The file's text, `None` when it does not exist.
pub fn read(file: &Path) -> Result<Option<String>, String> {
    match std::fs::read(file) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| format!("{} is not UTF-8 text; fix or move it, then run setup again", file.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", file.display())),
    }
}

/// What `write` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wrote {
    /// The file already said exactly this.
    Unchanged,
    /// The file did not exist; it was created (owner-only: it holds a key).
    Created,
    /// The file was changed; the original is in the backup (taken now or by an earlier run).
    Updated {
        /// The backup file.
        backup: PathBuf,
    },
    /// The file was changed; it was ours from the start (no backup needed).
    Rewritten,
}

/// Replaces `file` (whose current text is `existing`) with `new`.
pub fn write(file: &Path, existing: Option<&str>, new: &str) -> Result<Wrote, String> {
    if existing == Some(new) {
        return Ok(Wrote::Unchanged);
    }
    let io = |what: &str, p: &Path, e: std::io::Error| format!("cannot {what} {}: {e}", p.display());
    let outcome = match existing {
        Some(_) if created_marker(file).exists() => Wrote::Rewritten,
        Some(_) => {
            let backup = backup_path(file);
            if !backup.exists() {
                std::fs::copy(file, &backup).map_err(|e| io("back up to", &backup, e))?;
            }
            Wrote::Updated { backup }
        }
        None => {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
            }
            let marker = created_marker(file);
            std::fs::write(&marker, b"").map_err(|e| io("write", &marker, e))?;
            Wrote::Created
        }
    };
    let tmp = suffixed(file, ".omnigate-tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(|e| io("write", &tmp, e))?;
    f.write_all(new.as_bytes()).and_then(|()| f.sync_all()).map_err(|e| io("write", &tmp, e))?;
    drop(f);
    // An existing file keeps its mode; a new one stays owner-only.
    if existing.is_some()
        && let Ok(meta) = std::fs::metadata(file)
    {
        std::fs::set_permissions(&tmp, meta.permissions()).map_err(|e| io("set the mode of", &tmp, e))?;
    }
    std::fs::rename(&tmp, file).map_err(|e| io("replace", file, e))?;
    Ok(outcome)
}

/// What `undo` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undone {
    /// The backup was put back.
    Restored,
    /// The file we created was removed.
    Removed,
    /// Setup never changed this file.
    Nothing,
}

/// Puts back the original of `file`: the backup (renamed over it), or no file at all when setup
/// created it.
pub fn undo(file: &Path) -> Result<Undone, String> {
    let backup = backup_path(file);
    let marker = created_marker(file);
    if backup.exists() {
        std::fs::rename(&backup, file).map_err(|e| format!("cannot restore {}: {e}", file.display()))?;
        return Ok(Undone::Restored);
    }
    if marker.exists() {
        match std::fs::remove_file(file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove {}: {e}", file.display())),
        }
        std::fs::remove_file(&marker).map_err(|e| format!("cannot remove {}: {e}", marker.display()))?;
        return Ok(Undone::Removed);
    }
    Ok(Undone::Nothing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_once_and_undo_byte_for_byte() -> Result<(), String> {
        let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
        let f = tmp.path().join("a").join("c.json");
        assert_eq!(write(&f, None, "one")?, Wrote::Created);
        assert_eq!(write(&f, Some("one"), "one")?, Wrote::Unchanged);
        assert_eq!(write(&f, Some("one"), "two")?, Wrote::Rewritten);
        assert_eq!(undo(&f)?, Undone::Removed);
        assert!(!f.exists() && !created_marker(&f).exists());

        let original = b"{ \"mine\": 1 }\r\n\xe2\x82\xac";
        std::fs::write(&f, original).map_err(|e| e.to_string())?;
        let text = read(&f)?;
        assert!(matches!(write(&f, text.as_deref(), "x")?, Wrote::Updated { .. }));
        assert!(matches!(write(&f, Some("x"), "y")?, Wrote::Updated { .. }));
        assert_eq!(std::fs::read(backup_path(&f)).ok().as_deref(), Some(&original[..]), "the first original is kept");
        assert_eq!(undo(&f)?, Undone::Restored);
        assert_eq!(std::fs::read(&f).ok().as_deref(), Some(&original[..]));
        assert_eq!(undo(&f)?, Undone::Nothing);
        Ok(())
    }
}
