//! Config as code: entries declared in the config file are upserted at start-up, marked
//! `source = "config"`; config-sourced rows no longer declared are removed (keys are revoked),
//! but only when a config file was loaded: a start without one leaves them alone.
//! Rows made through the admin API (`source = "api"`) are never touched: a file entry with the
//! same id is skipped with a warning (a revoked API key's name is free, so the file may take it).
//! Running it twice with the same file changes nothing.

use std::collections::HashSet;

use entities::{account, api_key, combo, combo_target, model_alias, provider, transform};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, TransactionTrait,
};

use super::{SOURCE_API, SOURCE_CONFIG as CONFIG, now_ms};
use crate::config::{ComboOptions, Config};
use crate::secrets::Sealer;
use crate::store::keys::display_prefix;

/// Associated-data label of sealed account credentials.
pub const ACCOUNT_SECRET: &str = "account.api_key";

/// Logs a file entry left alone because the admin API owns a row with the same id.
fn owned_by_api(kind: &str, id: &str) {
    tracing::warn!(
        kind,
        id,
        "the config file declares an entry the admin API made: the API's one is kept (delete it through the API to let the file own it)"
    );
}

/// What a sync changed, for the start-up log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Rows inserted.
    pub inserted: usize,
    /// Rows updated.
    pub updated: usize,
    /// Rows removed or revoked.
    pub removed: usize,
    /// Config-declared rows left alone because no config file was loaded.
    pub kept: usize,
}

impl SyncReport {
    /// Whether a config-declared row the config no longer lists goes: only when the config came
    /// from a file (a start without one must not empty the gateway); otherwise it is counted kept.
    fn prunes(&mut self, cfg: &Config) -> bool {
        if !cfg.from_file {
            self.kept += 1;
        }
        cfg.from_file
    }
}

/// Upserts every runtime entry of `cfg` in one transaction.
pub async fn sync(db: &DatabaseConnection, cfg: &Config, sealer: &Sealer) -> Result<SyncReport, DbErr> {
    let tx = db.begin().await?;
    let mut r = SyncReport::default();
    sync_providers(&tx, cfg, &mut r).await?;
    sync_accounts(&tx, cfg, sealer, &mut r).await?;
    sync_keys(&tx, cfg, sealer, &mut r).await?;
    sync_combos(&tx, cfg, &mut r).await?;
    sync_aliases(&tx, cfg, &mut r).await?;
    sync_transforms(&tx, cfg, &mut r).await?;
    tx.commit().await?;
    Ok(r)
}

async fn sync_providers(db: &impl ConnectionTrait, cfg: &Config, r: &mut SyncReport) -> Result<(), DbErr> {
    let now = now_ms();
    let existing = provider::Entity::find().all(db).await?;
    for p in &cfg.providers {
        let models = serde_json::to_string(&p.models).unwrap_or_else(|_| "[]".into());
        let auth = p.auth.unwrap_or_else(|| crate::providers::default_auth(p.dialect)).as_str().to_string();
        let strategy = p.strategy.map(|s| s.as_str().to_string());
        match existing.iter().find(|e| e.id == p.id) {
            Some(e) if e.source == SOURCE_API => owned_by_api("provider", &p.id),
            Some(e)
                if e.dialect == p.dialect.as_str()
                    && e.base_url == p.base_url
                    && e.auth == auth
                    && e.models == models
                    && e.strategy == strategy
                    && e.options == p.options().to_json()
                    && e.source == CONFIG => {}
            Some(e) => {
                let mut am: provider::ActiveModel = e.clone().into();
                am.dialect = Set(p.dialect.as_str().into());
                am.base_url = Set(p.base_url.clone());
                am.auth = Set(auth);
                am.models = Set(models);
                am.strategy = Set(strategy);
                am.options = Set(p.options().to_json());
                am.source = Set(CONFIG.into());
                am.updated_at = Set(now);
                am.update(db).await?;
                r.updated += 1;
            }
            None => {
                provider::ActiveModel {
                    id: Set(p.id.clone()),
                    dialect: Set(p.dialect.as_str().into()),
                    base_url: Set(p.base_url.clone()),
                    auth: Set(auth),
                    models: Set(models),
                    strategy: Set(strategy),
                    source: Set(CONFIG.into()),
                    options: Set(p.options().to_json()),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(db)
                .await?;
                r.inserted += 1;
            }
        }
    }
    let keep: HashSet<&str> = cfg.providers.iter().map(|p| p.id.as_str()).collect();
    for e in existing.iter().filter(|e| e.source == CONFIG && !keep.contains(e.id.as_str())) {
        if !r.prunes(cfg) {
            continue;
        }
        provider::Entity::delete_by_id(e.id.clone()).exec(db).await?;
        r.removed += 1;
    }
    Ok(())
}

async fn sync_accounts(
    db: &impl ConnectionTrait,
    cfg: &Config,
    sealer: &Sealer,
    r: &mut SyncReport,
) -> Result<(), DbErr> {
    let now = now_ms();
    let existing = account::Entity::find().all(db).await?;
    for a in &cfg.accounts {
        let weight = i32::try_from(a.weight).unwrap_or(i32::MAX);
        let max_concurrent = a.max_concurrent.map(|m| i32::try_from(m).unwrap_or(i32::MAX));
        let options = a.options().to_json();
        match existing.iter().find(|e| e.provider == a.provider && e.name == a.name) {
            Some(e) if e.source == SOURCE_API => owned_by_api("account", &format!("{}/{}", a.provider, a.name)),
            Some(e) => {
                let old_secret = e.secret.as_deref().and_then(|s| sealer.open(ACCOUNT_SECRET, s).ok());
                let same = old_secret == a.api_key
                    && e.base_url == a.base_url
                    && e.priority == a.priority
                    && e.weight == weight
                    && e.enabled == a.enabled
                    && e.max_concurrent == max_concurrent
                    && e.options == options
                    && e.source == CONFIG;
                if !same {
                    let mut am: account::ActiveModel = e.clone().into();
                    if old_secret != a.api_key {
                        am.secret = Set(a.api_key.as_deref().map(|k| sealer.seal(ACCOUNT_SECRET, k)));
                    }
                    am.base_url = Set(a.base_url.clone());
                    am.priority = Set(a.priority);
                    am.weight = Set(weight);
                    am.enabled = Set(a.enabled);
                    am.max_concurrent = Set(max_concurrent);
                    am.options = Set(options.clone());
                    am.source = Set(CONFIG.into());
                    am.updated_at = Set(now);
                    am.update(db).await?;
                    r.updated += 1;
                }
            }
            None => {
                account::ActiveModel {
                    provider: Set(a.provider.clone()),
                    name: Set(a.name.clone()),
                    secret: Set(a.api_key.as_deref().map(|k| sealer.seal(ACCOUNT_SECRET, k))),
                    base_url: Set(a.base_url.clone()),
                    priority: Set(a.priority),
                    weight: Set(weight),
                    enabled: Set(a.enabled),
                    max_concurrent: Set(max_concurrent),
                    options: Set(options.clone()),
                    source: Set(CONFIG.into()),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
                .insert(db)
                .await?;
                r.inserted += 1;
            }
        }
    }
    let keep: HashSet<(&str, &str)> = cfg.accounts.iter().map(|a| (a.provider.as_str(), a.name.as_str())).collect();
    for e in existing.iter().filter(|e| e.source == CONFIG && !keep.contains(&(e.provider.as_str(), e.name.as_str()))) {
        if !r.prunes(cfg) {
            continue;
        }
        // With its state, lockouts, sealed OAuth tokens and quota windows.
        super::accounts::delete(db, e.id).await?;
        r.removed += 1;
    }
    Ok(())
}

async fn sync_keys(db: &impl ConnectionTrait, cfg: &Config, sealer: &Sealer, r: &mut SyncReport) -> Result<(), DbErr> {
    let now = now_ms();
    let existing = api_key::Entity::find().all(db).await?;
    for k in &cfg.keys {
        let digest = sealer.digest(&k.key);
        let models = serde_json::to_string(&k.models).unwrap_or_else(|_| "[]".into());
        match existing.iter().find(|e| e.name == k.name) {
            Some(e) if e.source == SOURCE_API && e.revoked_at.is_none() => owned_by_api("key", &k.name),
            Some(e)
                if e.digest == digest
                    && e.models == models
                    && e.enabled == k.enabled
                    && e.limits == k.limits().to_column()
                    && e.team == k.team
                    && e.cache == k.cache
                    && e.revoked_at.is_none()
                    && e.source == CONFIG => {}
            // A revocation survives restarts: the file brings a revoked key back only with a new
            // key value (a new secret is a new key).
            Some(e) if e.revoked_at.is_some() && e.digest == digest => {}
            Some(e) => {
                let mut am: api_key::ActiveModel = e.clone().into();
                am.digest = Set(digest);
                am.prefix = Set(display_prefix(&k.key));
                am.models = Set(models);
                am.enabled = Set(k.enabled);
                am.limits = Set(k.limits().to_column());
                am.team = Set(k.team.clone());
                am.cache = Set(k.cache);
                am.revoked_at = Set(None);
                am.source = Set(CONFIG.into());
                am.update(db).await?;
                r.updated += 1;
            }
            None => {
                api_key::ActiveModel {
                    name: Set(k.name.clone()),
                    digest: Set(digest),
                    prefix: Set(display_prefix(&k.key)),
                    models: Set(models),
                    enabled: Set(k.enabled),
                    limits: Set(k.limits().to_column()),
                    team: Set(k.team.clone()),
                    cache: Set(k.cache),
                    source: Set(CONFIG.into()),
                    created_at: Set(now),
                    revoked_at: Set(None),
                    ..Default::default()
                }
                .insert(db)
                .await?;
                r.inserted += 1;
            }
        }
    }
    let keep: HashSet<&str> = cfg.keys.iter().map(|k| k.name.as_str()).collect();
    for e in existing.iter().filter(|e| e.source == CONFIG && e.revoked_at.is_none() && !keep.contains(e.name.as_str()))
    {
        if !r.prunes(cfg) {
            continue;
        }
        let mut am: api_key::ActiveModel = e.clone().into();
        am.enabled = Set(false);
        am.revoked_at = Set(Some(now));
        am.update(db).await?;
        r.removed += 1;
    }
    Ok(())
}

async fn sync_combos(db: &impl ConnectionTrait, cfg: &Config, r: &mut SyncReport) -> Result<(), DbErr> {
    let now = now_ms();
    let existing = combo::Entity::find().all(db).await?;
    for c in &cfg.combos {
        let options = ComboOptions { resume: c.resume };
        let targets = combo_target::Entity::find();
        let (id, changed) = match existing.iter().find(|e| e.name == c.name) {
            Some(e) if e.source == SOURCE_API => {
                owned_by_api("combo", &c.name);
                continue;
            }
            Some(e) => {
                let old: Vec<(String, i32)> = targets
                    .filter(combo_target::Column::ComboId.eq(e.id))
                    .all(db)
                    .await?
                    .into_iter()
                    .map(|t| (t.position, (t.model, t.weight)))
                    .collect::<std::collections::BTreeMap<_, _>>()
                    .into_values()
                    .collect();
                let want: Vec<(String, i32)> = c
                    .models
                    .iter()
                    .map(|t| (t.model().to_string(), i32::try_from(t.weight()).unwrap_or(i32::MAX)))
                    .collect();
                let same = old == want
                    && e.strategy == c.strategy.as_str()
                    && ComboOptions::from_json(&e.options) == options
                    && e.source == CONFIG
                    && e.enabled;
                if !same {
                    let mut am: combo::ActiveModel = e.clone().into();
                    am.strategy = Set(c.strategy.as_str().into());
                    am.options = Set(options.to_json());
                    am.enabled = Set(true);
                    am.source = Set(CONFIG.into());
                    am.updated_at = Set(now);
                    am.update(db).await?;
                    r.updated += 1;
                }
                (e.id, !same)
            }
            None => {
                let m = combo::ActiveModel {
                    name: Set(c.name.clone()),
                    strategy: Set(c.strategy.as_str().into()),
                    options: Set(options.to_json()),
                    enabled: Set(true),
                    source: Set(CONFIG.into()),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
                .insert(db)
                .await?;
                r.inserted += 1;
                (m.id, true)
            }
        };
        if changed {
            combo_target::Entity::delete_many().filter(combo_target::Column::ComboId.eq(id)).exec(db).await?;
            for (i, t) in c.models.iter().enumerate() {
                combo_target::ActiveModel {
                    combo_id: Set(id),
                    position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
                    model: Set(t.model().to_string()),
                    weight: Set(i32::try_from(t.weight()).unwrap_or(i32::MAX)),
                    ..Default::default()
                }
                .insert(db)
                .await?;
            }
        }
    }
    let keep: HashSet<&str> = cfg.combos.iter().map(|c| c.name.as_str()).collect();
    for e in existing.iter().filter(|e| e.source == CONFIG && !keep.contains(e.name.as_str())) {
        if !r.prunes(cfg) {
            continue;
        }
        combo_target::Entity::delete_many().filter(combo_target::Column::ComboId.eq(e.id)).exec(db).await?;
        combo::Entity::delete_by_id(e.id).exec(db).await?;
        r.removed += 1;
    }
    Ok(())
}

async fn sync_aliases(db: &impl ConnectionTrait, cfg: &Config, r: &mut SyncReport) -> Result<(), DbErr> {
    let existing = model_alias::Entity::find().all(db).await?;
    for a in &cfg.aliases {
        match existing.iter().find(|e| e.alias == a.alias) {
            Some(e) if e.source == SOURCE_API => owned_by_api("alias", &a.alias),
            Some(e) if e.target == a.target && e.source == CONFIG => {}
            Some(e) => {
                let mut am: model_alias::ActiveModel = e.clone().into();
                am.target = Set(a.target.clone());
                am.source = Set(CONFIG.into());
                am.update(db).await?;
                r.updated += 1;
            }
            None => {
                model_alias::ActiveModel {
                    alias: Set(a.alias.clone()),
                    target: Set(a.target.clone()),
                    source: Set(CONFIG.into()),
                    created_at: Set(now_ms()),
                }
                .insert(db)
                .await?;
                r.inserted += 1;
            }
        }
    }
    let keep: HashSet<&str> = cfg.aliases.iter().map(|a| a.alias.as_str()).collect();
    for e in existing.iter().filter(|e| e.source == CONFIG && !keep.contains(e.alias.as_str())) {
        if !r.prunes(cfg) {
            continue;
        }
        model_alias::Entity::delete_by_id(e.alias.clone()).exec(db).await?;
        r.removed += 1;
    }
    Ok(())
}

/// `[[transforms]]`: position = the index in the file (the order they apply in).
async fn sync_transforms(db: &impl ConnectionTrait, cfg: &Config, r: &mut SyncReport) -> Result<(), DbErr> {
    let now = now_ms();
    let existing = transform::Entity::find().all(db).await?;
    for (i, t) in cfg.transforms.iter().enumerate() {
        let position = i64::try_from(i).unwrap_or(i64::MAX);
        let spec = super::transforms::spec_of(t);
        match existing.iter().find(|e| e.name == t.name) {
            Some(e) if e.source == SOURCE_API => owned_by_api("transform", &t.name),
            Some(e) if e.spec == spec && e.position == position && e.source == CONFIG => {}
            Some(e) => {
                let mut am: transform::ActiveModel = e.clone().into();
                am.position = Set(position);
                am.spec = Set(spec);
                am.source = Set(CONFIG.into());
                am.updated_at = Set(now);
                am.update(db).await?;
                r.updated += 1;
            }
            None => {
                transform::ActiveModel {
                    name: Set(t.name.clone()),
                    position: Set(position),
                    spec: Set(spec),
                    source: Set(CONFIG.into()),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(db)
                .await?;
                r.inserted += 1;
            }
        }
    }
    let keep: HashSet<&str> = cfg.transforms.iter().map(|t| t.name.as_str()).collect();
    for e in existing.iter().filter(|e| e.source == CONFIG && !keep.contains(e.name.as_str())) {
        if !r.prunes(cfg) {
            continue;
        }
        transform::Entity::delete_by_id(e.name.clone()).exec(db).await?;
        r.removed += 1;
    }
    Ok(())
}
