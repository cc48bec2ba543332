//! Combos (`combos` and their ordered `combo_targets`): reading, and the admin API's writes.

use entities::{combo, combo_target};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

use super::{SOURCE_API, now_ms};
use crate::config::{ComboOptions, ComboStrategy};

/// One target of a combo, in priority order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRow {
    /// `provider/model` or an alias.
    pub model: String,
    /// Share in a random combo's order (at least 1).
    pub weight: u32,
}

/// A combo row with its targets in order.
pub type ComboRows = (combo::Model, Vec<TargetRow>);

async fn targets(db: &impl ConnectionTrait, combo_id: i64) -> Result<Vec<TargetRow>, DbErr> {
    Ok(combo_target::Entity::find()
        .filter(combo_target::Column::ComboId.eq(combo_id))
        .order_by_asc(combo_target::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|t| TargetRow { model: t.model, weight: u32::try_from(t.weight).unwrap_or(1).max(1) })
        .collect())
}

/// One combo by name.
pub async fn get(db: &impl ConnectionTrait, name: &str) -> Result<Option<ComboRows>, DbErr> {
    let Some(c) = combo::Entity::find().filter(combo::Column::Name.eq(name)).one(db).await? else {
        return Ok(None);
    };
    let t = targets(db, c.id).await?;
    Ok(Some((c, t)))
}

/// Every combo, by name.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<ComboRows>, DbErr> {
    let mut out = Vec::new();
    for c in combo::Entity::find().order_by_asc(combo::Column::Name).all(db).await? {
        let t = targets(db, c.id).await?;
        out.push((c, t));
    }
    Ok(out)
}

async fn write_targets(db: &impl ConnectionTrait, combo_id: i64, targets: &[TargetRow]) -> Result<(), DbErr> {
    combo_target::Entity::delete_many().filter(combo_target::Column::ComboId.eq(combo_id)).exec(db).await?;
    for (i, t) in targets.iter().enumerate() {
        combo_target::ActiveModel {
            combo_id: Set(combo_id),
            position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
            model: Set(t.model.clone()),
            weight: Set(i32::try_from(t.weight).unwrap_or(i32::MAX)),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// Inserts a combo made through the API.
pub async fn insert(
    db: &impl ConnectionTrait,
    name: &str,
    strategy: ComboStrategy,
    options: &ComboOptions,
    targets: &[TargetRow],
) -> Result<combo::Model, DbErr> {
    let now = now_ms();
    let row = combo::ActiveModel {
        name: Set(name.to_string()),
        strategy: Set(strategy.as_str().into()),
        options: Set(options.to_json()),
        enabled: Set(true),
        source: Set(SOURCE_API.into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    write_targets(db, row.id, targets).await?;
    Ok(row)
}

/// Replaces a combo's strategy, options and targets.
pub async fn replace(
    db: &impl ConnectionTrait,
    row: combo::Model,
    strategy: ComboStrategy,
    options: &ComboOptions,
    targets: &[TargetRow],
) -> Result<combo::Model, DbErr> {
    let id = row.id;
    let mut am: combo::ActiveModel = row.into();
    am.strategy = Set(strategy.as_str().into());
    am.options = Set(options.to_json());
    am.updated_at = Set(now_ms());
    let row = am.update(db).await?;
    write_targets(db, id, targets).await?;
    Ok(row)
}

/// Deletes a combo and its targets.
pub async fn delete(db: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    combo_target::Entity::delete_many().filter(combo_target::Column::ComboId.eq(id)).exec(db).await?;
    combo::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}
