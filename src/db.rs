//! The database: connecting (SQLite with WAL, PostgreSQL, or MariaDB through `mysql://` /
//! `mariadb://`, checked for a server version and character set that work), the single-writer
//! lock on a SQLite file, migrations, and the WAL checkpoint on shutdown.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use migration::{Migrator, Trait as _};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection};

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Another process holds the SQLite file.
    #[error("another Omnigate is already using {db} (lock {lock} is held); stop it or use another data directory")]
    Locked {
        /// The database file.
        db: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// A file or directory could not be created.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The connection failed.
    #[error("cannot connect to {url}: {message}")]
    Connect {
        /// The URL without its password.
        url: String,
        /// The driver's message.
        message: String,
    },
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(String),
    /// The server answers but cannot hold Omnigate's data as it is.
    #[error("{url}: {message}")]
    Unsupported {
        /// The URL without its password.
        url: String,
        /// What is wrong and what to do.
        message: String,
    },
}

/// Which engine is behind the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (or memory when `path` is `None`).
    Sqlite {
        /// The database file.
        path: Option<PathBuf>,
    },
    /// PostgreSQL.
    Postgres,
    /// MariaDB (MySQL protocol).
    MySql,
}

/// The oldest MariaDB that works: `INSERT ... RETURNING` (SeaORM) and `DELETE ... RETURNING`.
const MARIADB_MIN: (u32, u32) = (10, 5);

/// Whether `url` names a MySQL-protocol server (`mysql://` or `mariadb://`).
pub fn is_mysql(url: &str) -> bool {
    url.starts_with("mysql://") || url.starts_with("mariadb://")
}

/// The URL the driver takes: `mariadb://` is spelled `mysql://` there.
pub fn driver_url(url: &str) -> String {
    match url.strip_prefix("mariadb://") {
        Some(rest) => format!("mysql://{rest}"),
        None => url.to_string(),
    }
}

/// Why a server version string (`SELECT VERSION()`) is not one Omnigate runs on, if it is not.
fn mysql_version_problem(version: &str) -> Option<String> {
    if !version.to_ascii_lowercase().contains("mariadb") {
        return Some(format!(
            "MySQL server {version} is not supported (Omnigate's MySQL backend is built and tested on MariaDB {}.{} or newer, \
             which has the RETURNING and TEXT defaults its schema uses); use MariaDB or PostgreSQL",
            MARIADB_MIN.0, MARIADB_MIN.1
        ));
    }
    // `10.11.6-MariaDB-0+deb12u1`, or `5.5.5-10.11.6-MariaDB` from older proxies.
    let v = version.strip_prefix("5.5.5-").unwrap_or(version);
    let mut parts = v.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty()).map(|p| p.parse::<u32>().ok());
    let found = (parts.next().flatten(), parts.next().flatten());
    match found {
        (Some(major), Some(minor)) if (major, minor) >= MARIADB_MIN => None,
        _ => Some(format!(
            "MariaDB {version} is too old: Omnigate needs MariaDB {}.{} or newer",
            MARIADB_MIN.0, MARIADB_MIN.1
        )),
    }
}

/// Checks the MariaDB behind `conn`: its version, and that the database stores utf8mb4 (names,
/// prompts in request logs and model ids may hold any Unicode character).
async fn check_mysql(conn: &DatabaseConnection, url: &str) -> Result<(), DbError> {
    use sea_orm::Statement;
    let unsupported = |message: String| DbError::Unsupported { url: redact_url(url), message };
    let connect_err = |e: sea_orm::DbErr| DbError::Connect { url: redact_url(url), message: e.to_string() };
    let sql = "SELECT VERSION() AS v, @@character_set_database AS cs, @@collation_database AS co, DATABASE() AS db";
    let row = conn
        .query_one_raw(Statement::from_string(sea_orm::DbBackend::MySql, sql))
        .await
        .map_err(connect_err)?
        .ok_or_else(|| unsupported("the server did not say its version".into()))?;
    let get = |c: &str| row.try_get::<Option<String>>("", c).map_err(connect_err);
    let version = get("v")?.unwrap_or_default();
    if let Some(problem) = mysql_version_problem(&version) {
        return Err(unsupported(problem));
    }
    let Some(db) = get("db")? else {
        return Err(unsupported("the URL names no database (mysql://user:password@host/DATABASE)".into()));
    };
    let charset = get("cs")?.unwrap_or_default();
    if charset != "utf8mb4" {
        return Err(unsupported(format!(
            "database `{db}` uses the character set {charset}; Omnigate needs utf8mb4 \
             (ALTER DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, before the first start)"
        )));
    }
    let collation = get("co")?.unwrap_or_default();
    if !collation.ends_with("_bin") {
        // It works, but not quite as on SQLite and PostgreSQL: said once, at every start.
        tracing::warn!(
            database = %db,
            collation = %collation,
            "this database compares text case-insensitively: names differing only in case (keys, accounts, \
             aliases) collide; create it with COLLATE utf8mb4_bin"
        );
    }
    Ok(())
}

/// An open database, holding the SQLite lock for as long as it lives.
#[derive(Debug)]
pub struct Database {
    /// The pool.
    pub conn: DatabaseConnection,
    /// The engine.
    pub backend: Backend,
    _lock: Option<File>,
}

/// The URL with any password replaced, safe for logs and errors.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((auth, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// The file of an SQLite database URL (`None` for PostgreSQL and in-memory databases).
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    sqlite_path(url)
}

fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || rest.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Opens (creating when missing) a data file readable by its owner only.
fn private_file(path: &Path) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let f = o.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

/// Creates the SQLite file owner-only before SQLite opens it (SQLite gives its `-wal` and `-shm`
/// files the main file's mode), and tightens files an older version left readable.
fn secure_sqlite_files(db: &Path) -> Result<(), DbError> {
    private_file(db).map_err(|source| DbError::Io { path: db.to_path_buf(), source })?;
    #[cfg(unix)]
    for suffix in ["-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let p = PathBuf::from(p);
        if p.exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                .map_err(|source| DbError::Io { path: p.clone(), source })?;
        }
    }
    Ok(())
}

/// Takes the single-daemon lock of the SQLite file `db` (held until the file handle is dropped).
pub fn take_lock(db: &Path) -> Result<File, DbError> {
    lock_file(db)
}

fn lock_file(db: &Path) -> Result<File, DbError> {
    let lock = db.with_extension("lock");
    let io = |source| DbError::Io { path: lock.clone(), source };
    let f = private_file(&lock).map_err(io)?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(DbError::Locked { db: db.to_path_buf(), lock }),
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
}

/// Opens the database at `url` for the daemon (taking the SQLite lock) and runs pending migrations.
pub async fn open(url: &str, max_connections: u32) -> Result<Database, DbError> {
    let db = connect(url, max_connections, true).await?;
    Migrator::up(&db.conn, None).await.map_err(|e| DbError::Migrate(e.to_string()))?;
    Ok(db)
}

/// Opens the database at `url` without migrating. `lock` takes the single-daemon lock on a SQLite
/// file; short CLI commands (`keys ...`) do without it and rely on SQLite's own locking.
pub async fn connect(url: &str, max_connections: u32, lock: bool) -> Result<Database, DbError> {
    let connect_err = |e: sea_orm::DbErr| DbError::Connect { url: redact_url(url), message: e.to_string() };
    if url.starts_with("sqlite:") {
        let path = sqlite_path(url);
        let lock = match &path {
            Some(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| DbError::Io { path: dir.into(), source })?;
                }
                let lock = if lock { Some(lock_file(p)?) } else { None };
                secure_sqlite_files(p)?;
                lock
            }
            None => None,
        };
        let mut opts = ConnectOptions::new(url.to_string());
        // An in-memory database exists per connection, so it must stay at one.
        opts.max_connections(if path.is_some() { max_connections.max(1) } else { 1 })
            .min_connections(1)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|o| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true)
            });
        let conn = sea_orm::Database::connect(opts).await.map_err(connect_err)?;
        Ok(Database { conn, backend: Backend::Sqlite { path }, _lock: lock })
    } else if is_mysql(url) {
        let driver = driver_url(url);
        // A malformed URL is an error here, not a panic in the driver's URL parsing.
        if let Err(e) = <sea_orm::sqlx::mysql::MySqlConnectOptions as std::str::FromStr>::from_str(&driver) {
            return Err(DbError::Connect { url: redact_url(url), message: format!("not a usable MySQL URL: {e}") });
        }
        let mut opts = ConnectOptions::new(driver);
        opts.max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .sqlx_logging(false)
            // PostgreSQL's isolation on every connection: each statement sees what committed
            // before it, and no gap locks (InnoDB's REPEATABLE READ default) make two instances'
            // unrelated writes wait for, or deadlock with, each other.
            .map_sqlx_mysql_pool_opts(|p| {
                p.after_connect(|conn, _| {
                    Box::pin(async move {
                        use sea_orm::sqlx::Executor as _;
                        conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED").await?;
                        Ok(())
                    })
                })
            });
        let conn = sea_orm::Database::connect(opts).await.map_err(connect_err)?;
        check_mysql(&conn, url).await?;
        Ok(Database { conn, backend: Backend::MySql, _lock: None })
    } else {
        let mut opts = ConnectOptions::new(url.to_string());
        // A database out of reach fails a caller within seconds (sqlx waits 30 s by default):
        // requests never wait on it, and what does (admin writes, usage batches) fails cleanly.
        opts.max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .sqlx_logging(false);
        let conn = sea_orm::Database::connect(opts).await.map_err(connect_err)?;
        Ok(Database { conn, backend: Backend::Postgres, _lock: None })
    }
}

impl Database {
    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        self.conn.ping().await.is_ok()
    }

    /// Folds the SQLite WAL back into the main file (on shutdown); no-op on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<(), sea_orm::DbErr> {
        if matches!(self.backend, Backend::Sqlite { path: Some(_) }) {
            self.conn.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await?;
        }
        Ok(())
    }

    /// Closes the pool.
    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted_and_sqlite_paths_found() {
        assert_eq!(redact_url("postgres://u:pw@h:5/db"), "postgres://u:***@h:5/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(sqlite_path("sqlite:///tmp/a.db?mode=rwc"), Some(PathBuf::from("/tmp/a.db")));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(redact_url("mariadb://u:pw@h/db"), "mariadb://u:***@h/db");
        assert_eq!(driver_url("mariadb://u@h/db"), "mysql://u@h/db");
        assert_eq!(driver_url("mysql://u@h/db"), "mysql://u@h/db");
    }

    #[test]
    fn only_mariadb_new_enough_is_taken() {
        assert_eq!(mysql_version_problem("10.11.19-MariaDB-0+deb12u1"), None);
        assert_eq!(mysql_version_problem("5.5.5-10.6.4-MariaDB"), None);
        assert_eq!(mysql_version_problem("11.4.2-MariaDB"), None);
        assert!(mysql_version_problem("10.4.31-MariaDB").is_some_and(|m| m.contains("too old")));
        assert!(mysql_version_problem("8.0.36").is_some_and(|m| m.contains("not supported")));
    }
}
