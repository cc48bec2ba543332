//! Tracing set-up: `RUST_LOG` (else `log.level`) filters; `log.format` picks text or JSON; lines
//! go to stderr, or to `log.file` (`serve --log-file`) rotated by size and reopened on SIGHUP.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// The log file in use, for `reopen` (none when logging to stderr).
static FILE: OnceLock<Arc<RotatingFile>> = OnceLock::new();

/// Installs the global subscriber once; later calls are ignored. Fails only when `log.file`
/// cannot be opened.
pub fn init(cfg: &LogConfig) -> io::Result<()> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cfg.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match &cfg.file {
        Some(path) => {
            let file = Arc::new(RotatingFile::open(path, cfg.max_size_mb.saturating_mul(1 << 20), cfg.keep)?);
            let _ = FILE.set(Arc::clone(&file));
            let builder = builder.with_ansi(false).with_writer(file);
            match cfg.format {
                LogFormat::Json => builder.json().flatten_event(true).try_init(),
                LogFormat::Text => builder.try_init(),
            }
        }
        None => {
            let builder = builder.with_writer(std::io::stderr);
            match cfg.format {
                LogFormat::Json => builder.json().flatten_event(true).try_init(),
                LogFormat::Text => builder.try_init(),
            }
        }
    };
    Ok(())
}

/// Opens the log file again (after an outside tool such as logrotate moved it away).
pub fn reopen() {
    if let Some(f) = FILE.get()
        && let Err(e) = f.reopen()
    {
        tracing::error!(error = %e, path = %f.path.display(), "reopening the log file failed: logging on to the old one");
    }
}

/// A log file that moves itself aside when it reaches `max` bytes: `FILE` → `FILE.1` →
/// `FILE.2` … up to `keep` old files (the oldest is deleted). A line is never split across two
/// files; a write that fails is dropped (logging must never stop the daemon).
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    max: u64,
    keep: u32,
    state: Mutex<Current>,
}

#[derive(Debug)]
struct Current {
    file: File,
    written: u64,
}

fn open_append(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o640);
    }
    o.open(path)
}

impl RotatingFile {
    /// Opens (or creates) `path` for appending, rotating from `max` bytes and keeping `keep` old files.
    pub fn open(path: &Path, max: u64, keep: u32) -> io::Result<Self> {
        let file = open_append(path)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot open log file {}: {e}", path.display())))?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Self { path: path.to_path_buf(), max: max.max(1), keep, state: Mutex::new(Current { file, written }) })
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    }

    fn rotate(&self, cur: &mut Current) -> io::Result<()> {
        if self.keep == 0 {
            cur.file.set_len(0)?;
        } else {
            let _ = std::fs::remove_file(self.rotated(self.keep));
            for n in (1..self.keep).rev() {
                let from = self.rotated(n);
                if from.exists() {
                    std::fs::rename(&from, self.rotated(n + 1))?;
                }
            }
            std::fs::rename(&self.path, self.rotated(1))?;
            cur.file = open_append(&self.path)?;
        }
        cur.written = 0;
        Ok(())
    }

    fn reopen(&self) -> io::Result<()> {
        let file = open_append(&self.path)?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut cur = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *cur = Current { file, written };
        Ok(())
    }
}

impl Write for &RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut cur = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cur.written > 0 && cur.written + buf.len() as u64 > self.max {
            // A rotation that fails (a read-only directory, say) keeps writing to the current file.
            let _ = self.rotate(&mut cur);
        }
        cur.file.write_all(buf)?;
        cur.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Logs every panic through tracing (one line, with its location), so a panic caught by an
/// executor still leaves a trace in the daemon's log.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        tracing::error!(%location, %message, "panic");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(p: &Path) -> Vec<String> {
        std::fs::read_to_string(p).map(|s| s.lines().map(String::from).collect()).unwrap_or_default()
    }

    #[test]
    fn the_file_rotates_by_size_keeps_whole_lines_and_at_most_keep_old_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("omnigate.log");
        let f = RotatingFile::open(&path, 100, 2).expect("open");
        for i in 0..20 {
            (&f).write_all(format!("line {i:02} ........................\n").as_bytes()).expect("write");
        }
        let (now, one, two) = (lines(&path), lines(&f.rotated(1)), lines(&f.rotated(2)));
        assert!(!f.rotated(3).exists(), "only two old files are kept");
        for file in [&now, &one, &two] {
            assert!(!file.is_empty() && file.len() <= 3, "each file holds whole lines up to 100 bytes: {file:?}");
            assert!(file.iter().all(|l| l.ends_with('.') && l.starts_with("line ")), "no line split: {file:?}");
        }
        assert_eq!(now.last().map(String::as_str), Some("line 19 ........................"));
        let all: Vec<_> = two.iter().chain(&one).chain(&now).cloned().collect();
        let first: u32 = all[0][5..7].parse().expect("number");
        let numbers: Vec<u32> = all.iter().map(|l| l[5..7].parse().expect("number")).collect();
        assert_eq!(numbers, (first..20).collect::<Vec<_>>(), "the newest lines, in order, none lost between files");
    }

    #[test]
    fn with_keep_zero_the_file_starts_over_and_reopen_follows_a_moved_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("o.log");
        let f = RotatingFile::open(&path, 30, 0).expect("open");
        (&f).write_all(b"first line ............\n").expect("write");
        (&f).write_all(b"second line ...........\n").expect("write");
        assert_eq!(lines(&path), vec!["second line ..........."]);
        assert!(!f.rotated(1).exists());
        // logrotate moves the file away, then SIGHUP: the next line goes to a new file at `path`.
        std::fs::rename(&path, dir.path().join("moved.log")).expect("move");
        f.reopen().expect("reopen");
        (&f).write_all(b"third\n").expect("write");
        assert_eq!(lines(&path), vec!["third"]);
        assert_eq!(lines(&dir.path().join("moved.log")), vec!["second line ..........."]);
    }
}
