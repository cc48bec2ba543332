//! Loading the runtime tables the router and resolver work from.

use entities::{account, api_key, combo, combo_target, model_alias, provider};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QueryOrder};

use super::combos::TargetRow;

/// Everything the registry is built from, as stored.
#[derive(Debug, Default, Clone)]
pub struct RuntimeRows {
    /// Custom providers.
    pub providers: Vec<provider::Model>,
    /// Accounts.
    pub accounts: Vec<account::Model>,
    /// Combos with their targets in order.
    pub combos: Vec<super::combos::ComboRows>,
    /// Model aliases.
    pub aliases: Vec<model_alias::Model>,
    /// Gateway keys.
    pub keys: Vec<api_key::Model>,
    /// Request transforms, in application order.
    pub transforms: Vec<entities::transform::Model>,
}

/// Loads all runtime rows.
pub async fn load(db: &impl ConnectionTrait) -> Result<RuntimeRows, DbErr> {
    let providers = provider::Entity::find().all(db).await?;
    let accounts = account::Entity::find().order_by_asc(account::Column::Id).all(db).await?;
    let combos = combo::Entity::find().all(db).await?;
    let targets = combo_target::Entity::find()
        .order_by_asc(combo_target::Column::ComboId)
        .order_by_asc(combo_target::Column::Position)
        .all(db)
        .await?;
    let combos = combos
        .into_iter()
        .map(|c| {
            let t = targets
                .iter()
                .filter(|t| t.combo_id == c.id)
                .map(|t| TargetRow { model: t.model.clone(), weight: u32::try_from(t.weight).unwrap_or(1).max(1) })
                .collect();
            (c, t)
        })
        .collect();
    let aliases = model_alias::Entity::find().all(db).await?;
    let keys = api_key::Entity::find().all(db).await?;
    let transforms = super::transforms::list(db).await?;
    Ok(RuntimeRows { providers, accounts, combos, aliases, keys, transforms })
}
