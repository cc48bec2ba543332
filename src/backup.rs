//! Online backup and restore of the embedded SQLite database. A backup is `VACUUM INTO` a new
//! owner-only file: one read transaction, so it is a consistent snapshot while traffic runs (the
//! daemon keeps serving and writing). A restore checks the file first (SQLite's integrity check,
//! and that every migration it has applied is one this binary knows), refuses while a daemon holds
//! the database, and swaps the file in atomically, keeping the one it replaces. PostgreSQL has its
//! own tools (`pg_dump`); both commands say so.

use std::path::{Path, PathBuf};

use migration::Trait as _;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

/// What went wrong with a backup or a restore.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Not an SQLite database.
    #[error("backups are for the embedded SQLite database; back PostgreSQL up with pg_dump, MariaDB with mariadb-dump")]
    NotSqlite,
    /// The destination exists.
    #[error("{0} exists already: pick a new file")]
    Exists(PathBuf),
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database refused.
    #[error("the database failed: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// The file is not a sound Omnigate database.
    #[error("{path} cannot be restored: {why}")]
    Unsound {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// A daemon holds the database.
    #[error("the database is in use by a running daemon: stop it first ({0})")]
    InUse(String),
}

/// What a checked backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Its size in bytes.
    pub bytes: u64,
    /// Migrations applied in it.
    pub migrations: usize,
    /// Rows per table, by name.
    pub rows: Vec<(String, i64)>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io { path: path.to_path_buf(), source }
}

/// Creates an empty owner-only file (what `VACUUM INTO` then fills).
fn new_private(path: &Path) -> Result<(), BackupError> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    match o.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(BackupError::Exists(path.to_path_buf())),
        Err(e) => Err(io(path)(e)),
    }
}

/// Writes a consistent snapshot of the running database `db` to `dest` (a new file).
pub async fn snapshot(db: &DatabaseConnection, dest: &Path) -> Result<u64, BackupError> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Err(BackupError::NotSqlite);
    }
    new_private(dest)?;
    let target = dest.to_string_lossy().replace('\'', "''");
    if let Err(e) = db.execute_unprepared(&format!("VACUUM INTO '{target}'")).await {
        let _ = std::fs::remove_file(dest);
        return Err(e.into());
    }
    Ok(std::fs::metadata(dest).map_err(io(dest))?.len())
}

/// Opens `path` read-only and checks it: SQLite's integrity check, and every applied migration
/// known to this binary (a newer version's backup is refused, not half-understood).
pub async fn check(path: &Path) -> Result<Checked, BackupError> {
    let unsound = |why: String| BackupError::Unsound { path: path.to_path_buf(), why };
    let bytes = std::fs::metadata(path).map_err(io(path))?.len();
    let url = format!("sqlite://{}?mode=ro", path.display());
    let conn = sea_orm::Database::connect(sea_orm::ConnectOptions::new(url).sqlx_logging(false).to_owned())
        .await
        .map_err(|e| unsound(format!("not an SQLite database ({e})")))?;
    let q = |sql: &str| Statement::from_string(DbBackend::Sqlite, sql.to_string());
    let verdict = conn.query_one_raw(q("PRAGMA integrity_check")).await.map_err(|e| unsound(e.to_string()))?;
    let verdict: String = verdict.and_then(|r| r.try_get_by_index(0).ok()).unwrap_or_default();
    if verdict != "ok" {
        conn.close().await.ok();
        return Err(unsound(format!("integrity check: {verdict}")));
    }
    let applied = conn
        .query_all_raw(q("SELECT version FROM seaql_migrations ORDER BY version"))
        .await
        .map_err(|_| unsound("it has no Omnigate migrations table".into()))?;
    let known: Vec<String> = migration::Migrator::migrations().iter().map(|m| m.name().to_string()).collect();
    let mut migrations = 0;
    for r in applied {
        let v: String = r.try_get_by_index(0).unwrap_or_default();
        if !known.contains(&v) {
            conn.close().await.ok();
            return Err(unsound(format!("it was made by a newer Omnigate (migration {v} is unknown here)")));
        }
        migrations += 1;
    }
    let tables = conn
        .query_all_raw(q(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'seaql_migrations' ORDER BY name",
        ))
        .await?;
    let mut rows = Vec::new();
    for t in tables {
        let name: String = t.try_get_by_index(0).unwrap_or_default();
        let n = conn.query_one_raw(q(&format!("SELECT COUNT(*) FROM \"{}\"", name.replace('"', "\"\"")))).await?;
        rows.push((name, n.and_then(|r| r.try_get_by_index::<i64>(0).ok()).unwrap_or(0)));
    }
    conn.close().await.ok();
    Ok(Checked { bytes, migrations, rows })
}

/// Replaces the SQLite database at `db_url` with the checked backup `from`; the replaced file is
/// kept beside it as `<name>.before-restore-<ms>`. Refused while a daemon holds the database.
pub async fn restore(from: &Path, db_url: &str) -> Result<(Checked, Option<PathBuf>), BackupError> {
    let Some(db) = crate::db::sqlite_file(db_url) else { return Err(BackupError::NotSqlite) };
    let checked = check(from).await?;
    // The daemon's lock: held while one runs (and by us until the swap is done).
    let _lock = crate::db::take_lock(&db).map_err(|e| BackupError::InUse(e.to_string()))?;
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let tmp = db.with_extension("restoring");
    let _ = std::fs::remove_file(&tmp);
    new_private(&tmp)?;
    std::fs::copy(from, &tmp).map_err(io(&tmp))?;
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(io(&tmp))?;
    let with = |p: &Path, suffix: &str| {
        let mut name = p.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let kept = if db.exists() {
        let kept = with(&db, &format!(".before-restore-{}", crate::store::now_ms()));
        std::fs::rename(&db, &kept).map_err(io(&db))?;
        Some(kept)
    } else {
        None
    };
    // The old file's write-ahead log belongs to it (it may hold its last writes), not to the
    // restored one: it goes along with the kept file.
    for suffix in ["-wal", "-shm"] {
        let p = with(&db, suffix);
        if p.exists() {
            match &kept {
                Some(k) => std::fs::rename(&p, with(k, suffix)).map_err(io(&p))?,
                None => std::fs::remove_file(&p).map_err(io(&p))?,
            }
        }
    }
    std::fs::rename(&tmp, &db).map_err(io(&db))?;
    Ok((checked, kept))
}
