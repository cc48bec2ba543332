//! Reading usage rows (writing is batched by the `UsageWriter` actor).

use entities::usage;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QueryOrder, QuerySelect};

/// The latest `limit` usage rows, newest first.
pub async fn recent(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<usage::Model>, DbErr> {
    usage::Entity::find().order_by_desc(usage::Column::Id).limit(limit).all(db).await
}
