//! The `pricing` rows: seeding from the catalog and the custom providers' declared prices, and
//! the admin API's reads and writes. Seeding owns only `catalog` and `config` rows: it inserts
//! what is declared and missing, refreshes what changed and removes what is no longer declared;
//! rows an operator made (`api`) or deleted (`deleted`) are never touched, so an edit survives
//! every restart and a deleted price does not come back.

use actors::usage::cost::Price;
use entities::{pricing, provider};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use super::{SOURCE_API, SOURCE_CONFIG, now_ms};
use crate::config::ModelSpec;
use crate::pricing::{SOURCE_CATALOG, SOURCE_DELETED, price_of};
use crate::providers::Catalog;

/// A price the catalog or a custom provider declares.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    /// Provider id.
    pub provider: String,
    /// Model id.
    pub model: String,
    /// The price.
    pub price: Price,
    /// `catalog` or `config`.
    pub source: &'static str,
}

/// Every declared price: the catalog's models, the demo provider's echo model (free) when it is
/// on, and the models of custom providers (config file or admin API) that give a price. A
/// catalog model without a price of its own takes the list price of the same model id at the
/// first catalog provider that prices it: the subscription providers' models (`claude-code`'s
/// `claude-sonnet-4-5` at `anthropic`'s price), so their savings show without any setup.
pub fn declared(catalog: &Catalog, providers: &[provider::Model], demo: bool) -> Vec<Declared> {
    let mut out = Vec::new();
    for p in catalog.providers() {
        for m in &p.models {
            if let Some(price) = m.declared_price() {
                out.push(Declared { provider: p.id.clone(), model: m.id.clone(), price, source: SOURCE_CATALOG });
            }
        }
    }
    let mut borrowed = Vec::new();
    for p in catalog.providers() {
        for m in p.models.iter().filter(|m| m.declared_price().is_none()) {
            if let Some(list) = out.iter().find(|d| d.model == m.id) {
                borrowed.push(Declared { provider: p.id.clone(), model: m.id.clone(), ..list.clone() });
            }
        }
    }
    out.extend(borrowed);
    if demo {
        let free = Price::free();
        out.push(Declared {
            provider: crate::providers::registry::DEMO_PROVIDER.into(),
            model: "echo".into(),
            price: free,
            source: SOURCE_CATALOG,
        });
    }
    for p in providers {
        for m in serde_json::from_str::<Vec<ModelSpec>>(&p.models).unwrap_or_default() {
            if let ModelSpec::Full { id, price, per_image, per_second, per_character, .. } = m
                && let Some(price) =
                    crate::providers::catalog::declared_price(&price, [per_image, per_second, per_character])
            {
                out.push(Declared { provider: p.id.clone(), model: id, price, source: SOURCE_CONFIG });
            }
        }
    }
    out
}

/// What a seeding changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    /// Rows inserted.
    pub inserted: usize,
    /// Seeded rows whose price changed.
    pub updated: usize,
    /// Seeded rows no longer declared, removed.
    pub removed: usize,
}

fn seeded(source: &str) -> bool {
    source == SOURCE_CATALOG || source == SOURCE_CONFIG
}

/// Brings the seeded rows in line with `declared`. Reads first and writes only when something
/// differs (a reload with nothing new writes nothing); inserts skip a row another instance wrote
/// meanwhile.
pub async fn seed(db: &DatabaseConnection, declared: &[Declared]) -> Result<SeedReport, DbErr> {
    let rows = pricing::Entity::find().all(db).await?;
    let mut inserts = Vec::new();
    let mut updates = Vec::new();
    for d in declared {
        match rows.iter().find(|r| r.provider == d.provider && r.model == d.model) {
            None => inserts.push(d),
            Some(r) if seeded(&r.source) && (price_of(r) != d.price || r.source != d.source) => updates.push((r, d)),
            Some(_) => {}
        }
    }
    let gone: Vec<i64> = rows
        .iter()
        .filter(|r| seeded(&r.source) && !declared.iter().any(|d| d.provider == r.provider && d.model == r.model))
        .map(|r| r.id)
        .collect();
    let report = SeedReport { inserted: inserts.len(), updated: updates.len(), removed: gone.len() };
    if report == SeedReport::default() {
        return Ok(report);
    }
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    let tx = db.begin_with_options(options).await?;
    let now = now_ms();
    for d in inserts {
        let row = active(&d.provider, &d.model, &d.price, d.source, now);
        pricing::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([pricing::Column::Provider, pricing::Column::Model])
                    // `_on`: MySQL has no DO NOTHING; it assigns the column to itself instead.
                    .do_nothing_on([pricing::Column::Provider])
                    .to_owned(),
            )
            .exec_without_returning(&tx)
            .await?;
    }
    for (r, d) in updates {
        // Only while it is still seeded: an operator's edit in between wins.
        pricing::Entity::update_many()
            .set(active(&d.provider, &d.model, &d.price, d.source, now))
            .filter(pricing::Column::Id.eq(r.id))
            .filter(pricing::Column::Source.is_in([SOURCE_CATALOG, SOURCE_CONFIG]))
            .exec(&tx)
            .await?;
    }
    if !gone.is_empty() {
        pricing::Entity::delete_many()
            .filter(pricing::Column::Id.is_in(gone))
            .filter(pricing::Column::Source.is_in([SOURCE_CATALOG, SOURCE_CONFIG]))
            .exec(&tx)
            .await?;
    }
    tx.commit().await?;
    Ok(report)
}

fn active(provider: &str, model: &str, p: &Price, source: &str, now: i64) -> pricing::ActiveModel {
    pricing::ActiveModel {
        provider: Set(provider.to_string()),
        model: Set(model.to_string()),
        input: Set(p.input),
        output: Set(p.output),
        cache_read: Set(p.cache_read),
        cache_write: Set(p.cache_write),
        reasoning: Set(p.reasoning),
        per_image: Set(p.per_image),
        per_second: Set(p.per_second),
        per_character: Set(p.per_character),
        source: Set(source.to_string()),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// Every row, deleted ones included (what the price table is built from).
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<pricing::Model>, DbErr> {
    pricing::Entity::find().all(db).await
}

/// The live rows (of `provider`, when given), by provider and model.
pub async fn list(db: &impl ConnectionTrait, provider: Option<&str>) -> Result<Vec<pricing::Model>, DbErr> {
    let mut q = pricing::Entity::find().filter(pricing::Column::Source.ne(SOURCE_DELETED));
    if let Some(p) = provider {
        q = q.filter(pricing::Column::Provider.eq(p));
    }
    q.order_by_asc(pricing::Column::Provider).order_by_asc(pricing::Column::Model).all(db).await
}

/// The row of `provider` and `model` (deleted or not).
pub async fn get(db: &impl ConnectionTrait, provider: &str, model: &str) -> Result<Option<pricing::Model>, DbErr> {
    pricing::Entity::find()
        .filter(pricing::Column::Provider.eq(provider))
        .filter(pricing::Column::Model.eq(model))
        .one(db)
        .await
}

/// Sets the price of `provider` and `model` as the operator's own (`api`).
pub async fn upsert(
    db: &impl ConnectionTrait,
    provider: &str,
    model: &str,
    price: &Price,
) -> Result<pricing::Model, DbErr> {
    let row = active(provider, model, price, SOURCE_API, now_ms());
    match get(db, provider, model).await? {
        Some(existing) => {
            let mut row = row;
            row.id = Set(existing.id);
            row.update(db).await
        }
        None => row.insert(db).await,
    }
}

/// Deletes a price: the row stays as a `deleted` marker, so seeding does not bring back a
/// price the catalog or config declares.
pub async fn delete(db: &impl ConnectionTrait, row: &pricing::Model) -> Result<(), DbErr> {
    let mut a: pricing::ActiveModel = row.clone().into();
    a.source = Set(SOURCE_DELETED.to_string());
    a.updated_at = Set(now_ms());
    a.update(db).await?;
    Ok(())
}
