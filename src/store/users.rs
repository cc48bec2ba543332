//! Dashboard users (`dashboard_users`): the admin API's reads and writes. Password hashes are
//! made and checked by the caller (`secrets`); nothing here sees a password.

use entities::dashboard_user;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};

use super::now_ms;

/// One user by name.
pub async fn get(db: &impl ConnectionTrait, name: &str) -> Result<Option<dashboard_user::Model>, DbErr> {
    dashboard_user::Entity::find().filter(dashboard_user::Column::Name.eq(name)).one(db).await
}

/// Every user, by name.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<dashboard_user::Model>, DbErr> {
    dashboard_user::Entity::find().order_by_asc(dashboard_user::Column::Name).all(db).await
}

/// Inserts a user.
pub async fn insert(
    db: &impl ConnectionTrait,
    name: &str,
    role: &str,
    password_hash: &str,
) -> Result<dashboard_user::Model, DbErr> {
    let now = now_ms();
    dashboard_user::ActiveModel {
        name: Set(name.to_string()),
        role: Set(role.to_string()),
        password_hash: Set(password_hash.to_string()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Changes a user's role and/or password hash.
pub async fn update(
    db: &impl ConnectionTrait,
    row: dashboard_user::Model,
    role: Option<&str>,
    password_hash: Option<&str>,
) -> Result<dashboard_user::Model, DbErr> {
    let mut m = row.into_active_model();
    if let Some(r) = role {
        m.role = Set(r.to_string());
    }
    if let Some(h) = password_hash {
        m.password_hash = Set(h.to_string());
    }
    m.updated_at = Set(now_ms());
    m.update(db).await
}

/// Deletes a user.
pub async fn delete(db: &impl ConnectionTrait, name: &str) -> Result<u64, DbErr> {
    let r = dashboard_user::Entity::delete_many().filter(dashboard_user::Column::Name.eq(name)).exec(db).await?;
    Ok(r.rows_affected)
}
