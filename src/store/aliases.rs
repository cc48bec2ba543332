//! Model aliases (`model_aliases`): reading, and the admin API's writes.

use entities::model_alias;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, QueryOrder};

use super::{SOURCE_API, now_ms};

/// One alias.
pub async fn get(db: &impl ConnectionTrait, alias: &str) -> Result<Option<model_alias::Model>, DbErr> {
    model_alias::Entity::find_by_id(alias.to_string()).one(db).await
}

/// Every alias, by name.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<model_alias::Model>, DbErr> {
    model_alias::Entity::find().order_by_asc(model_alias::Column::Alias).all(db).await
}

/// Inserts an alias made through the API.
pub async fn insert(db: &impl ConnectionTrait, alias: &str, target: &str) -> Result<model_alias::Model, DbErr> {
    model_alias::ActiveModel {
        alias: Set(alias.to_string()),
        target: Set(target.to_string()),
        source: Set(SOURCE_API.into()),
        created_at: Set(now_ms()),
    }
    .insert(db)
    .await
}

/// Deletes an alias.
pub async fn delete(db: &impl ConnectionTrait, alias: &str) -> Result<(), DbErr> {
    model_alias::Entity::delete_by_id(alias.to_string()).exec(db).await?;
    Ok(())
}
