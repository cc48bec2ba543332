//! Request transforms (`transforms`): reading in application order, the admin API's writes, and
//! the row ⇄ `TransformEntry` mapping (`spec` holds the entry's JSON without its name).

use entities::transform;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, QueryOrder};
use serde_json::Value;

use super::{SOURCE_API, now_ms};
use crate::config::transform::TransformEntry;

/// The stored `spec` of `t`: its JSON without the name (the row's key).
pub fn spec_of(t: &TransformEntry) -> String {
    let mut v = serde_json::to_value(t).unwrap_or(Value::Null);
    if let Some(m) = v.as_object_mut() {
        m.remove("name");
    }
    v.to_string()
}

/// The transform a row holds (`None` when its spec no longer reads as one).
pub fn entry_of(row: &transform::Model) -> Option<TransformEntry> {
    let mut v: Value = serde_json::from_str(&row.spec).ok()?;
    v.as_object_mut()?.insert("name".into(), Value::String(row.name.clone()));
    serde_json::from_value(v).ok()
}

/// One transform.
pub async fn get(db: &impl ConnectionTrait, name: &str) -> Result<Option<transform::Model>, DbErr> {
    transform::Entity::find_by_id(name.to_string()).one(db).await
}

/// Every transform, in application order: by position, then name.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<transform::Model>, DbErr> {
    transform::Entity::find()
        .order_by_asc(transform::Column::Position)
        .order_by_asc(transform::Column::Name)
        .all(db)
        .await
}

/// Inserts a transform made through the API at `position`.
pub async fn insert(db: &impl ConnectionTrait, t: &TransformEntry, position: i64) -> Result<transform::Model, DbErr> {
    let now = now_ms();
    transform::ActiveModel {
        name: Set(t.name.clone()),
        position: Set(position),
        spec: Set(spec_of(t)),
        source: Set(SOURCE_API.into()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

/// Replaces a transform's spec and position.
pub async fn update(
    db: &impl ConnectionTrait,
    row: transform::Model,
    t: &TransformEntry,
    position: i64,
) -> Result<transform::Model, DbErr> {
    let mut am: transform::ActiveModel = row.into();
    am.position = Set(position);
    am.spec = Set(spec_of(t));
    am.updated_at = Set(now_ms());
    am.update(db).await
}

/// Deletes a transform.
pub async fn delete(db: &impl ConnectionTrait, name: &str) -> Result<(), DbErr> {
    transform::Entity::delete_by_id(name.to_string()).exec(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_round_trips_without_its_name() {
        let mut t =
            TransformEntry { name: "t".into(), max_tokens: Some(9), system: Some("hi".into()), ..Default::default() };
        t.set.insert("temperature".into(), serde_json::json!(0.1));
        let spec = spec_of(&t);
        assert!(!spec.contains("\"name\""), "{spec}");
        let row = transform::Model {
            name: "t".into(),
            position: 0,
            spec,
            source: SOURCE_API.into(),
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(entry_of(&row), Some(t));
    }
}
