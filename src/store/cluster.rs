//! The rows several instances on one PostgreSQL share: the change revision (bumped and announced
//! with `NOTIFY` in one statement), the announcements of written health, and the instance
//! heartbeats. PostgreSQL only (`pg_notify`); `cluster` never calls it on SQLite.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};
use serde::Serialize;

/// The channel admin changes are announced on (payload: the new revision).
pub const CHANGES: &str = "omnigate";
/// The channel written account and breaker health is announced on (payload: `cluster::encode`).
pub const HEALTH: &str = "omnigate_health";
/// The channel dashboard logins and logouts are announced on (payload: `cluster::session_note`).
pub const SESSIONS: &str = "omnigate_sessions";
/// The channel sticky session bindings are announced on (payload: `cluster::sticky` JSON).
pub const STICKY: &str = "omnigate_sticky";

fn pg(sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// Bumps the revision and announces it on `CHANGES`, in one statement; the new revision.
pub async fn bump(db: &DatabaseConnection) -> Result<i64, DbErr> {
    let sql = "WITH r AS (UPDATE cluster_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision) \
               SELECT revision, pg_notify('omnigate', revision::text)::text AS sent FROM r";
    let row = db.query_one_raw(pg(sql, vec![])).await?;
    row.map(|r| r.try_get::<i64>("", "revision"))
        .transpose()?
        .ok_or_else(|| DbErr::RecordNotFound("the cluster_revision row is missing".into()))
}

/// The current revision.
pub async fn revision(db: &DatabaseConnection) -> Result<i64, DbErr> {
    let row = db.query_one_raw(pg("SELECT revision FROM cluster_revision WHERE id = 1", vec![])).await?;
    Ok(row.map(|r| r.try_get::<i64>("", "revision")).transpose()?.unwrap_or(0))
}

/// Announces `payload` on `HEALTH`.
pub async fn announce_health(db: &DatabaseConnection, payload: &str) -> Result<(), DbErr> {
    db.execute_raw(pg("SELECT pg_notify('omnigate_health', $1)", vec![payload.into()])).await?;
    Ok(())
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
    let sql = "INSERT INTO cluster_instances (id, version, address, started_at, last_seen_at) \
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at, \
               address = EXCLUDED.address, version = EXCLUDED.version";
    let values = vec![
        i.id.clone().into(),
        i.version.clone().into(),
        i.address.clone().into(),
        i.started_at.into(),
        i.last_seen_at.into(),
    ];
    db.execute_raw(pg(sql, values)).await?;
    Ok(())
}

/// The instances seen at or after `since` (ms), oldest start first; rows older than `forget`
/// (ms) are deleted on the way (instances that died long ago).
pub async fn instances(db: &DatabaseConnection, since: i64, forget: i64) -> Result<Vec<Instance>, DbErr> {
    db.execute_raw(pg("DELETE FROM cluster_instances WHERE last_seen_at < $1", vec![forget.into()])).await?;
    let sql = "SELECT id, version, address, started_at, last_seen_at FROM cluster_instances \
               WHERE last_seen_at >= $1 ORDER BY started_at, id";
    let rows = db.query_all_raw(pg(sql, vec![since.into()])).await?;
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
    db.execute_raw(pg("DELETE FROM cluster_instances WHERE id = $1", vec![id.into()])).await?;
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
    let sql = "INSERT INTO dashboard_sessions (digest, expires_at, user_name, role) VALUES ($1, $2, $3, $4) \
               ON CONFLICT (digest) DO UPDATE SET expires_at = EXCLUDED.expires_at, \
               user_name = EXCLUDED.user_name, role = EXCLUDED.role";
    let values = vec![digest.into(), s.expires_at.into(), s.user.clone().into(), s.role.as_str().into()];
    db.execute_raw(pg(sql, values)).await?;
    db.execute_raw(pg("SELECT pg_notify('omnigate_sessions', $1)", vec![payload.into()])).await?;
    Ok(())
}

/// Removes a dashboard session and announces `payload` on `SESSIONS`.
pub async fn session_close(db: &DatabaseConnection, digest: &str, payload: &str) -> Result<(), DbErr> {
    db.execute_raw(pg("DELETE FROM dashboard_sessions WHERE digest = $1", vec![digest.into()])).await?;
    db.execute_raw(pg("SELECT pg_notify('omnigate_sessions', $1)", vec![payload.into()])).await?;
    Ok(())
}

/// The dashboard sessions still open at `now` (expired ones are deleted on the way). A row
/// stored before sessions had users (no user, no role) is the bootstrap admin's; one with a role
/// this version does not know is left out.
pub async fn sessions(db: &DatabaseConnection, now: i64) -> Result<Vec<(String, crate::auth::Session)>, DbErr> {
    use crate::auth::{BOOTSTRAP_ADMIN, Role, Session};
    db.execute_raw(pg("DELETE FROM dashboard_sessions WHERE expires_at <= $1", vec![now.into()])).await?;
    let rows =
        db.query_all_raw(pg("SELECT digest, expires_at, user_name, role FROM dashboard_sessions", vec![])).await?;
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

/// Stores a sticky session binding (the newer use wins) and announces `payload` on `STICKY`, in
/// one statement.
pub async fn sticky_put(
    db: &DatabaseConnection,
    b: &actors::router::sessions::Bound,
    payload: &str,
) -> Result<(), DbErr> {
    db.execute_raw(pg(
        "WITH put AS (INSERT INTO sticky_sessions (scope, session, value, seen_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (scope, session) DO UPDATE SET value = EXCLUDED.value, seen_at = EXCLUDED.seen_at \
         WHERE sticky_sessions.seen_at <= EXCLUDED.seen_at) SELECT pg_notify('omnigate_sticky', $5)",
        vec![
            b.scope.as_str().into(),
            b.session.as_str().into(),
            b.value.as_str().into(),
            b.seen.into(),
            payload.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// The bindings used since `since` (ms), oldest first.
pub async fn sticky_live(db: &DatabaseConnection, since: i64) -> Result<Vec<actors::router::sessions::Bound>, DbErr> {
    let rows = db
        .query_all_raw(pg(
            "SELECT scope, session, value, seen_at FROM sticky_sessions WHERE seen_at >= $1 ORDER BY seen_at",
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
    Ok(db.execute_raw(pg("DELETE FROM sticky_sessions WHERE seen_at < $1", vec![before.into()])).await?.rows_affected())
}
