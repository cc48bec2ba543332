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
