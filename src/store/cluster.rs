//! The rows several instances on one database share: the change revision, the announcements of
//! written health, dashboard logins and sticky bindings, and the instance heartbeats. PostgreSQL
//! announces with `NOTIFY` (in the statement that writes, where it can); MariaDB has no
//! `NOTIFY`, so an announcement is a `cluster_events` row the other instances poll for
//! (`cluster::poll`). `cluster` never calls this on SQLite.

use actors::sql::{self, Dialect, Merge};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, TransactionTrait, Value};
use serde::Serialize;

/// The channel admin changes are announced on (payload: the new revision).
pub const CHANGES: &str = "omnigate";
/// The channel written account and breaker health is announced on (payload: `cluster::encode`).
pub const HEALTH: &str = "omnigate_health";
/// The channel dashboard logins and logouts are announced on (payload: `cluster::session_note`).
pub const SESSIONS: &str = "omnigate_sessions";
/// The channel sticky session bindings are announced on (payload: `cluster::sticky` JSON).
pub const STICKY: &str = "omnigate_sticky";

/// `text` (with `?` placeholders) for the engine behind `db`.
fn st(db: &impl ConnectionTrait, text: &str, values: Vec<Value>) -> Statement {
    sql::statement(db.get_database_backend(), text, values)
}

/// What a cluster statement answers on SQLite (one instance by construction: never called).
fn no_cluster() -> DbErr {
    DbErr::Custom("SQLite has no other instances to share with".into())
}

/// Announces `payload` on `channel`: a notification on PostgreSQL, a `cluster_events` row on
/// MariaDB.
async fn announce(db: &impl ConnectionTrait, channel: &str, payload: &str) -> Result<(), DbErr> {
    match Dialect::of(db.get_database_backend()) {
        Dialect::Postgres => {
            db.execute_raw(st(db, "SELECT pg_notify(?, ?)", vec![channel.into(), payload.into()])).await?;
        }
        Dialect::MySql => {
            let sql = "INSERT INTO cluster_events (channel, payload, created_at) VALUES (?, ?, ?)";
            db.execute_raw(st(db, sql, vec![channel.into(), payload.into(), super::now_ms().into()])).await?;
        }
        Dialect::Sqlite => return Err(no_cluster()),
    }
    Ok(())
}

/// One announcement read back from `cluster_events` (MariaDB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its row id (ascending in the order rows were inserted).
    pub id: i64,
    /// `HEALTH`, `SESSIONS` or `STICKY`.
    pub channel: String,
    /// What was announced.
    pub payload: String,
}

/// The newest event id (0 without any).
pub async fn last_event(db: &DatabaseConnection) -> Result<i64, DbErr> {
    let row = db.query_one_raw(st(db, "SELECT COALESCE(MAX(id), 0) AS id FROM cluster_events", vec![])).await?;
    Ok(row.map(|r| r.try_get::<i64>("", "id")).transpose()?.unwrap_or(0))
}

/// The events with an id above `after`, oldest first (at most `limit`).
pub async fn events(db: &DatabaseConnection, after: i64, limit: u64) -> Result<Vec<Event>, DbErr> {
    let sql = format!("SELECT id, channel, payload FROM cluster_events WHERE id > ? ORDER BY id LIMIT {limit}");
    let rows = db.query_all_raw(st(db, &sql, vec![after.into()])).await?;
    rows.iter()
        .map(|r| {
            Ok(Event {
                id: r.try_get("", "id")?,
                channel: r.try_get("", "channel")?,
                payload: r.try_get("", "payload")?,
            })
        })
        .collect()
}

/// Deletes events written before `before` (ms).
pub async fn prune_events(db: &DatabaseConnection, before: i64) -> Result<u64, DbErr> {
    Ok(db
        .execute_raw(st(db, "DELETE FROM cluster_events WHERE created_at < ?", vec![before.into()]))
        .await?
        .rows_affected())
}

/// Bumps the revision and (PostgreSQL) announces it on `CHANGES`; the new revision. MariaDB's
/// instances poll the revision itself.
pub async fn bump(db: &DatabaseConnection) -> Result<i64, DbErr> {
    let missing = || DbErr::RecordNotFound("the cluster_revision row is missing".into());
    match Dialect::of(db.get_database_backend()) {
        Dialect::Sqlite => Err(no_cluster()),
        Dialect::Postgres => {
            let sql = "WITH r AS (UPDATE cluster_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision) \
                       SELECT revision, pg_notify('omnigate', revision::text)::text AS sent FROM r";
            let row = db.query_one_raw(st(db, sql, vec![])).await?;
            row.map(|r| r.try_get::<i64>("", "revision")).transpose()?.ok_or_else(missing)
        }
        // No UPDATE ... RETURNING: the row stays locked by the UPDATE until the transaction
        // ends, so the SELECT reads this bump's revision, never another instance's.
        Dialect::MySql => {
            let txn = db.begin().await?;
            txn.execute_raw(st(&txn, "UPDATE cluster_revision SET revision = revision + 1 WHERE id = 1", vec![]))
                .await?;
            let row = txn.query_one_raw(st(&txn, "SELECT revision FROM cluster_revision WHERE id = 1", vec![])).await?;
            let rev = row.map(|r| r.try_get::<i64>("", "revision")).transpose()?.ok_or_else(missing)?;
            txn.commit().await?;
            Ok(rev)
        }
    }
}

/// The current revision.
pub async fn revision(db: &DatabaseConnection) -> Result<i64, DbErr> {
    let row = db.query_one_raw(st(db, "SELECT revision FROM cluster_revision WHERE id = 1", vec![])).await?;
    Ok(row.map(|r| r.try_get::<i64>("", "revision")).transpose()?.unwrap_or(0))
}

/// Announces `payload` on `HEALTH`.
pub async fn announce_health(db: &DatabaseConnection, payload: &str) -> Result<(), DbErr> {
    announce(db, HEALTH, payload).await
}

/// One instance as its heartbeat row says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instance {
    /// Its id (a UUID made at start).
    pub id: String,
    /// Its Omnigate version.
    pub version: String,
    /// The address it listens on.
    pub address: String,
    /// When it started (ms).
    pub started_at: i64,
    /// Its last heartbeat (ms).
    pub last_seen_at: i64,
}

/// Writes (or refreshes) an instance's heartbeat row.
pub async fn heartbeat(db: &DatabaseConnection, i: &Instance) -> Result<(), DbErr> {
    let sql = format!(
        "INSERT INTO cluster_instances (id, version, address, started_at, last_seen_at) VALUES (?, ?, ?, ?, ?){}",
        sql::on_conflict(
            db.get_database_backend(),
            "cluster_instances",
            &["id"],
            &[("last_seen_at", Merge::Replace), ("address", Merge::Replace), ("version", Merge::Replace)],
        )
    );
    let values = vec![
        i.id.clone().into(),
        i.version.clone().into(),
        i.address.clone().into(),
        i.started_at.into(),
        i.last_seen_at.into(),
    ];
    db.execute_raw(st(db, &sql, values)).await?;
    Ok(())
}

/// The instances seen at or after `since` (ms), oldest start first; rows older than `forget`
/// (ms) are deleted on the way (instances that died long ago).
pub async fn instances(db: &DatabaseConnection, since: i64, forget: i64) -> Result<Vec<Instance>, DbErr> {
    db.execute_raw(st(db, "DELETE FROM cluster_instances WHERE last_seen_at < ?", vec![forget.into()])).await?;
    let sql = "SELECT id, version, address, started_at, last_seen_at FROM cluster_instances \
               WHERE last_seen_at >= ? ORDER BY started_at, id";
    let rows = db.query_all_raw(st(db, sql, vec![since.into()])).await?;
    rows.into_iter()
        .map(|r| {
            Ok(Instance {
                id: r.try_get("", "id")?,
                version: r.try_get("", "version")?,
                address: r.try_get("", "address")?,
                started_at: r.try_get("", "started_at")?,
                last_seen_at: r.try_get("", "last_seen_at")?,
            })
        })
        .collect()
}

/// Removes an instance's row (it stops).
pub async fn leave(db: &DatabaseConnection, id: &str) -> Result<(), DbErr> {
    db.execute_raw(st(db, "DELETE FROM cluster_instances WHERE id = ?", vec![id.into()])).await?;
    Ok(())
}

/// Stores a dashboard session (by digest, with its user and role) and announces `payload` on
/// `SESSIONS`.
pub async fn session_open(
    db: &DatabaseConnection,
    digest: &str,
    s: &crate::auth::Session,
    payload: &str,
) -> Result<(), DbErr> {
    let sql = format!(
        "INSERT INTO dashboard_sessions (digest, expires_at, user_name, role) VALUES (?, ?, ?, ?){}",
        sql::on_conflict(
            db.get_database_backend(),
            "dashboard_sessions",
            &["digest"],
            &[("expires_at", Merge::Replace), ("user_name", Merge::Replace), ("role", Merge::Replace)],
        )
    );
    let values = vec![digest.into(), s.expires_at.into(), s.user.clone().into(), s.role.as_str().into()];
    db.execute_raw(st(db, &sql, values)).await?;
    announce(db, SESSIONS, payload).await
}

/// Removes a dashboard session and announces `payload` on `SESSIONS`.
pub async fn session_close(db: &DatabaseConnection, digest: &str, payload: &str) -> Result<(), DbErr> {
    db.execute_raw(st(db, "DELETE FROM dashboard_sessions WHERE digest = ?", vec![digest.into()])).await?;
    announce(db, SESSIONS, payload).await
}

/// The dashboard sessions still open at `now` (expired ones are deleted on the way). A row
/// stored before sessions had users (no user, no role) is the bootstrap admin's; one with a role
/// this version does not know is left out.
pub async fn sessions(db: &DatabaseConnection, now: i64) -> Result<Vec<(String, crate::auth::Session)>, DbErr> {
    use crate::auth::{BOOTSTRAP_ADMIN, Role, Session};
    db.execute_raw(st(db, "DELETE FROM dashboard_sessions WHERE expires_at <= ?", vec![now.into()])).await?;
    let rows =
        db.query_all_raw(st(db, "SELECT digest, expires_at, user_name, role FROM dashboard_sessions", vec![])).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let role: Option<String> = r.try_get("", "role")?;
        let Some(role) = role.as_deref().map_or(Some(Role::Admin), Role::parse) else { continue };
        let user: Option<String> = r.try_get("", "user_name")?;
        let s =
            Session { expires_at: r.try_get("", "expires_at")?, user: user.unwrap_or(BOOTSTRAP_ADMIN.into()), role };
        out.push((r.try_get("", "digest")?, s));
    }
    Ok(out)
}

/// Stores a sticky session binding (the newer use wins) and announces `payload` on `STICKY` (on
/// PostgreSQL in one statement).
pub async fn sticky_put(
    db: &DatabaseConnection,
    b: &actors::router::sessions::Bound,
    payload: &str,
) -> Result<(), DbErr> {
    let values = vec![b.scope.as_str().into(), b.session.as_str().into(), b.value.as_str().into(), b.seen.into()];
    match Dialect::of(db.get_database_backend()) {
        Dialect::Sqlite => Err(no_cluster()),
        Dialect::Postgres => {
            let mut values = values;
            values.push(payload.into());
            db.execute_raw(st(
                db,
                "WITH put AS (INSERT INTO sticky_sessions (scope, session, value, seen_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (scope, session) DO UPDATE SET value = EXCLUDED.value, seen_at = EXCLUDED.seen_at \
                 WHERE sticky_sessions.seen_at <= EXCLUDED.seen_at) SELECT pg_notify('omnigate_sticky', ?)",
                values,
            ))
            .await?;
            Ok(())
        }
        // Assigned left to right: `value` compares with the stored `seen_at` before it moves.
        Dialect::MySql => {
            db.execute_raw(st(
                db,
                "INSERT INTO sticky_sessions (scope, session, value, seen_at) VALUES (?, ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE value = IF(seen_at <= VALUES(seen_at), VALUES(value), value), \
                 seen_at = GREATEST(seen_at, VALUES(seen_at))",
                values,
            ))
            .await?;
            announce(db, STICKY, payload).await
        }
    }
}

/// The bindings used since `since` (ms), oldest first.
pub async fn sticky_live(db: &DatabaseConnection, since: i64) -> Result<Vec<actors::router::sessions::Bound>, DbErr> {
    let rows = db
        .query_all_raw(st(
            db,
            "SELECT scope, session, value, seen_at FROM sticky_sessions WHERE seen_at >= ? ORDER BY seen_at",
            vec![since.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(actors::router::sessions::Bound {
                scope: r.try_get("", "scope")?,
                session: r.try_get("", "session")?,
                value: r.try_get("", "value")?,
                seen: r.try_get("", "seen_at")?,
            })
        })
        .collect()
}

/// Deletes bindings unused since `before` (ms).
pub async fn sticky_prune(db: &DatabaseConnection, before: i64) -> Result<u64, DbErr> {
    Ok(db
        .execute_raw(st(db, "DELETE FROM sticky_sessions WHERE seen_at < ?", vec![before.into()]))
        .await?
        .rows_affected())
}
