//! Reading and writing a subject's quota windows (`quota_windows`, either backend).

use entities::quota_window;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::{Window, WindowStatus};

/// The subject name of an account.
pub fn account_subject(id: i64) -> String {
    format!("account:{id}")
}

/// Writes (upserts) the windows of `subject`.
pub async fn save(db: &impl ConnectionTrait, subject: &str, windows: &[Window], now: i64) -> Result<(), DbErr> {
    for w in windows {
        let start = match (w.resets_at, w.window_secs) {
            (Some(at), Some(secs)) => at - secs * 1000,
            _ => w.observed_at,
        };
        let row = quota_window::ActiveModel {
            subject: Set(subject.to_string()),
            window: Set(w.key.clone()),
            window_start: Set(start),
            used_tokens: Set(0),
            used_cost: Set(0.0),
            updated_at: Set(now),
            used_fraction: Set(w.used),
            resets_at: Set(w.resets_at),
            status: Set(Some(w.status.as_str().to_string())),
            window_secs: Set(w.window_secs),
        };
        quota_window::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([quota_window::Column::Subject, quota_window::Column::Window])
                    .update_columns([
                        quota_window::Column::WindowStart,
                        quota_window::Column::UpdatedAt,
                        quota_window::Column::UsedFraction,
                        quota_window::Column::ResetsAt,
                        quota_window::Column::Status,
                        quota_window::Column::WindowSecs,
                    ])
                    .to_owned(),
            )
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Reads the windows of `subject` (rows without a status were never written by a tracker).
pub async fn load(db: &impl ConnectionTrait, subject: &str) -> Result<Vec<Window>, DbErr> {
    Ok(quota_window::Entity::find()
        .filter(quota_window::Column::Subject.eq(subject))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|r| {
            Some(Window {
                status: WindowStatus::parse(r.status.as_deref()?),
                key: r.window,
                used: r.used_fraction,
                resets_at: r.resets_at,
                window_secs: r.window_secs,
                observed_at: r.updated_at,
            })
        })
        .collect())
}

/// Whether this instance polls account `id`'s usage endpoint now (PostgreSQL, several instances):
/// the instance that moves the claim row (`settings` key `cluster.quota_polled.<id>`) forward
/// polls, the others skip while one did within nine tenths of `every_ms` (their timers drift and
/// start at different times). The winner's windows reach the others as it saves them.
pub async fn claim_poll(db: &sea_orm::DatabaseConnection, id: i64, now: i64, every_ms: i64) -> Result<bool, DbErr> {
    use crate::sql;
    let backend = db.get_database_backend();
    let key = format!("cluster.quota_polled.{id}");
    let insert = format!(
        "INSERT INTO settings (\"key\", value, updated_at) VALUES (?, '', 0){}",
        sql::on_conflict(backend, "settings", &["\"key\""], &[])
    );
    db.execute_raw(sql::statement(backend, &insert, vec![key.as_str().into()])).await?;
    // One conditional UPDATE: the instance whose statement changed the row won.
    let won = db
        .execute_raw(sql::statement(
            backend,
            "UPDATE settings SET updated_at = ? WHERE \"key\" = ? AND updated_at < ?",
            vec![now.into(), key.as_str().into(), (now - every_ms * 9 / 10).into()],
        ))
        .await?;
    Ok(won.rows_affected() == 1)
}
