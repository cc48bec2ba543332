//! The runtime provider registry: built-in catalog + custom providers + accounts (credentials
//! unsealed) + combos + aliases, as one immutable snapshot the resolver reads.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use actors::Strategy;
use actors::credential::Credential;

use super::catalog::Catalog;
use crate::config::{AuthStyle, ComboStrategy};
use crate::protocol::Dialect;
use crate::secrets::{Sealer, SecretError};
use crate::store::config_sync::ACCOUNT_SECRET;
use crate::store::runtime::RuntimeRows;

/// Id of the built-in demo provider.
pub const DEMO_PROVIDER: &str = "demo";
/// Account id of the demo provider's one account (not stored in `accounts`).
pub const DEMO_ACCOUNT_ID: i64 = -1;

/// A model a provider serves.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// Upstream model id.
    pub id: String,
    /// Most output tokens the upstream accepts.
    pub max_output: Option<u32>,
    /// Context window, tokens (unknown: every request fits).
    pub context: Option<u32>,
    /// USD per million tokens `[input, output, cache read, cache write]`: from the price table
    /// after a reload (`Registry::apply_prices`), the catalog's or config's before.
    pub price: Vec<f64>,
}

/// A provider as the gateway uses it.
#[derive(Debug, Clone)]
pub struct ProviderInfo {
    /// Id used in `provider/model`.
    pub id: String,
    /// Short prefix accepted instead of the id.
    pub alias: Option<String>,
    /// Wire dialect.
    pub dialect: Dialect,
    /// Default base URL.
    pub base_url: String,
    /// Credential style.
    pub auth: AuthStyle,
    /// Known models.
    pub models: Vec<ModelInfo>,
    /// Account strategy override.
    pub strategy: Option<Strategy>,
    /// Served in-process (the demo provider).
    pub local: bool,
    /// Pacing defaults of its accounts (custom providers).
    pub defaults: super::ProviderOptions,
    /// The surfaces it serves beyond chat and embeddings.
    pub serves: super::Serves,
}

/// An account as the gateway uses it.
#[derive(Debug, Clone)]
pub struct AccountInfo {
    /// Id (negative for built-in accounts).
    pub id: i64,
    /// Provider id.
    pub provider: String,
    /// Name.
    pub name: String,
    /// Effective base URL.
    pub base_url: String,
    /// Unsealed credential.
    pub credential: Option<Credential>,
    /// Lower is preferred.
    pub priority: i32,
    /// Weight.
    pub weight: u32,
    /// Leasable.
    pub enabled: bool,
    /// Concurrency cap.
    pub max_concurrent: Option<u32>,
    /// Options beyond the credential.
    pub options: super::AccountOptions,
}

/// A combo.
#[derive(Debug)]
pub struct Combo {
    /// Name.
    pub name: String,
    /// Target order.
    pub strategy: ComboStrategy,
    /// Targets (`provider/model`, aliases or other combos), in priority order.
    pub targets: Vec<String>,
    /// Each target's share for `random` and `weighted` (same length as `targets`, each at least 1).
    pub weights: Vec<u32>,
    /// Round-robin position.
    pub cursor: AtomicUsize,
    /// Mid-stream failover opted in.
    pub resume: bool,
    /// Smooth weighted round-robin: each target's current weight.
    current: std::sync::Mutex<Vec<i64>>,
}

impl Combo {
    /// A combo over `targets` (model, weight).
    pub fn new(name: &str, strategy: ComboStrategy, targets: Vec<(String, u32)>, resume: bool) -> Self {
        let n = targets.len();
        let (targets, weights) = targets.into_iter().map(|(m, w)| (m, w.max(1))).unzip();
        Self {
            name: name.to_string(),
            strategy,
            targets,
            weights,
            cursor: AtomicUsize::new(0),
            resume,
            current: std::sync::Mutex::new(vec![0; n]),
        }
    }

    /// The index of the target that goes first this time under smooth weighted round-robin
    /// (nginx's): every target gains its weight, the highest goes first and pays the total back.
    /// Over any `sum(weights)` requests each target goes first exactly `weight` times, spread out.
    pub fn next_weighted(&self) -> usize {
        let mut cur = match self.current.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if cur.len() != self.weights.len() || cur.is_empty() {
            return 0;
        }
        let total: i64 = self.weights.iter().map(|w| i64::from(*w)).sum();
        let mut best = 0;
        for (i, w) in self.weights.iter().enumerate() {
            cur[i] += i64::from(*w);
            if cur[i] > cur[best] {
                best = i;
            }
        }
        cur[best] -= total;
        best
    }
}

/// The snapshot.
#[derive(Debug, Default)]
pub struct Registry {
    providers: HashMap<String, ProviderInfo>,
    prefixes: HashMap<String, String>,
    /// Every account.
    pub accounts: Vec<AccountInfo>,
    /// Combos by name.
    pub combos: HashMap<String, Combo>,
    /// Aliases in declaration order: exact ones first, then wildcard ones.
    pub aliases: Vec<(String, String)>,
    /// Request rules of model families (from the catalog).
    pub rules: Vec<crate::translate::rules::ModelRule>,
    /// Request transforms (config file and admin API), in application order.
    pub transforms: Vec<crate::config::transform::TransformEntry>,
    /// `rules` merged per upstream dialect and model, as requests ask (`rules_for`).
    merged: dashmap::DashMap<String, Vec<(crate::protocol::Dialect, Arc<crate::translate::rules::Rules>)>>,
}

/// Most merged rule sets a snapshot keeps (models named by clients can be many); past it they
/// are merged on each request.
const MERGED_RULES: usize = 4096;

/// A custom provider's stored models (ids, or ids with limit and price).
fn models_from_json(json: &str) -> Vec<ModelInfo> {
    serde_json::from_str::<Vec<crate::config::ModelSpec>>(json)
        .unwrap_or_default()
        .into_iter()
        .map(|m| match m {
            crate::config::ModelSpec::Id(id) => ModelInfo { id, max_output: None, context: None, price: Vec::new() },
            crate::config::ModelSpec::Full { id, max_output, context, price, .. } => {
                ModelInfo { id, max_output, context, price }
            }
        })
        .collect()
}

impl Registry {
    /// The request rules of `model` on an upstream of `dialect`, merged once per snapshot (the
    /// rule scan matches globs against the model on every rule).
    pub fn rules_for(&self, dialect: crate::protocol::Dialect, model: &str) -> Arc<crate::translate::rules::Rules> {
        if let Some(known) = self.merged.get(model)
            && let Some((_, r)) = known.iter().find(|(d, _)| *d == dialect)
        {
            return Arc::clone(r);
        }
        let r = Arc::new(crate::translate::rules::Rules::of(&self.rules, dialect, model));
        if self.merged.len() < MERGED_RULES {
            self.merged.entry(model.to_string()).or_default().push((dialect, Arc::clone(&r)));
        }
        r
    }

    /// Builds the snapshot; fails only when a sealed credential cannot be opened.
    pub fn build(catalog: &Catalog, rows: &RuntimeRows, sealer: &Sealer, demo: bool) -> Result<Self, SecretError> {
        let mut r = Self { rules: catalog.rules().to_vec(), ..Self::default() };
        for p in catalog.providers() {
            r.insert_provider(ProviderInfo {
                id: p.id.clone(),
                alias: p.alias.clone(),
                dialect: p.dialect,
                base_url: p.base_url.clone(),
                auth: p.auth,
                models: p
                    .models
                    .iter()
                    .map(|m| ModelInfo {
                        id: m.id.clone(),
                        max_output: m.max_output,
                        context: m.context,
                        price: m.price.clone(),
                    })
                    .collect(),
                strategy: None,
                local: false,
                defaults: super::ProviderOptions::default(),
                serves: p.serves,
            });
        }
        for p in &rows.providers {
            let dialect = Dialect::parse(&p.dialect).unwrap_or(Dialect::OpenaiChat);
            r.insert_provider(ProviderInfo {
                id: p.id.clone(),
                alias: None,
                dialect,
                base_url: p.base_url.clone(),
                auth: AuthStyle::parse(&p.auth).unwrap_or_else(|| super::default_auth(dialect)),
                models: models_from_json(&p.models),
                strategy: p.strategy.as_deref().and_then(Strategy::parse),
                local: false,
                defaults: super::ProviderOptions::from_json(&p.options),
                serves: super::ProviderOptions::from_json(&p.options).serves,
            });
        }
        if demo {
            r.insert_provider(ProviderInfo {
                id: DEMO_PROVIDER.into(),
                alias: None,
                dialect: Dialect::OpenaiChat,
                base_url: "local://demo".into(),
                auth: AuthStyle::None,
                models: vec![ModelInfo {
                    id: "echo".into(),
                    max_output: Some(4096),
                    context: None,
                    price: vec![0.0, 0.0],
                }],
                strategy: None,
                local: true,
                defaults: super::ProviderOptions::default(),
                serves: super::Serves::default(),
            });
            r.accounts.push(AccountInfo {
                id: DEMO_ACCOUNT_ID,
                provider: DEMO_PROVIDER.into(),
                name: "local".into(),
                base_url: "local://demo".into(),
                credential: None,
                priority: 1,
                weight: 1,
                enabled: true,
                max_concurrent: None,
                options: super::AccountOptions::default(),
            });
        }
        for a in &rows.accounts {
            let Some(p) = r.provider(&a.provider) else {
                continue;
            };
            let credential = match &a.secret {
                Some(s) => Some(Credential::new(sealer.open(ACCOUNT_SECRET, s)?)),
                None => None,
            };
            r.accounts.push(AccountInfo {
                id: a.id,
                provider: p.id.clone(),
                name: a.name.clone(),
                base_url: a.base_url.clone().unwrap_or_else(|| p.base_url.clone()),
                credential,
                priority: a.priority,
                weight: u32::try_from(a.weight).unwrap_or(1).max(1),
                enabled: a.enabled,
                max_concurrent: a.max_concurrent.and_then(|m| u32::try_from(m).ok()),
                options: super::AccountOptions::from_json(&a.options),
            });
        }
        for (c, targets) in &rows.combos {
            if !c.enabled {
                continue;
            }
            let strategy = ComboStrategy::parse(&c.strategy).unwrap_or_default();
            let resume = crate::config::ComboOptions::from_json(&c.options).resume;
            let list = targets.iter().map(|t| (t.model.clone(), t.weight)).collect();
            r.combos.insert(c.name.clone(), Combo::new(&c.name, strategy, list, resume));
        }
        let (mut exact, mut wild): (Vec<_>, Vec<_>) = rows
            .aliases
            .iter()
            .map(|a| (a.alias.clone(), a.target.clone()))
            .partition(|(a, _)| !a.contains(['*', '?']));
        exact.append(&mut wild);
        r.aliases = exact;
        r.transforms = rows
            .transforms
            .iter()
            .filter_map(|t| {
                let entry = crate::store::transforms::entry_of(t);
                if entry.is_none() {
                    tracing::warn!(name = %t.name, "a stored transform does not read as one: skipped");
                }
                entry
            })
            .collect();
        Ok(r)
    }

    /// Sets every model's price from the price table (none when no row matches), so what the
    /// cost-optimized combos compare is what requests are costed by, operators' edits included.
    pub fn apply_prices(&mut self, table: &crate::pricing::PriceTable) {
        for p in self.providers.values_mut() {
            for m in &mut p.models {
                m.price = table.find(&p.id, &m.id).map(|x| x.as_list()).unwrap_or_default();
            }
        }
    }

    pub(crate) fn insert_provider(&mut self, p: ProviderInfo) {
        self.prefixes.insert(p.id.clone(), p.id.clone());
        if let Some(a) = &p.alias {
            self.prefixes.insert(a.clone(), p.id.clone());
        }
        self.providers.insert(p.id.clone(), p);
    }

    /// A provider by id or alias.
    pub fn provider(&self, id_or_alias: &str) -> Option<&ProviderInfo> {
        self.prefixes.get(id_or_alias).and_then(|id| self.providers.get(id))
    }

    /// Every provider.
    pub fn providers(&self) -> impl Iterator<Item = &ProviderInfo> {
        self.providers.values()
    }

    /// Whether a provider has at least one enabled account.
    pub fn is_served(&self, provider: &str) -> bool {
        self.accounts.iter().any(|a| a.provider == provider && a.enabled)
    }

    /// An account by id.
    pub fn account(&self, id: i64) -> Option<&AccountInfo> {
        self.accounts.iter().find(|a| a.id == id)
    }

    /// A provider's known model.
    pub fn model(&self, provider: &str, model: &str) -> Option<&ModelInfo> {
        self.providers.get(provider).and_then(|p| p.models.iter().find(|m| m.id == model))
    }
}
