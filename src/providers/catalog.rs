//! The built-in provider catalog (`config/providers.toml`, embedded at build time).

use serde::Deserialize;

use crate::config::AuthStyle;
use crate::protocol::Dialect;
use crate::translate::rules::ModelRule;

const CATALOG_TOML: &str = include_str!("../../config/providers.toml");

/// A known model of a provider.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogModel {
    /// Model id as the upstream names it.
    pub id: String,
    /// Most output tokens the upstream accepts.
    #[serde(default)]
    pub max_output: Option<u32>,
    /// Context window, tokens.
    #[serde(default)]
    pub context: Option<u32>,
    /// USD per million tokens: input, output, cache read, cache write.
    #[serde(default)]
    pub price: Vec<f64>,
    /// USD per image made or edited (image edits).
    #[serde(default)]
    pub per_image: Option<f64>,
    /// USD per second of audio transcribed or translated.
    #[serde(default)]
    pub per_second: Option<f64>,
    /// USD per character of input spoken.
    #[serde(default)]
    pub per_character: Option<f64>,
}

impl CatalogModel {
    /// Its declared price: per token (`price`), per unit, or both (`None`: neither given).
    pub fn declared_price(&self) -> Option<actors::usage::cost::Price> {
        declared_price(&self.price, [self.per_image, self.per_second, self.per_character])
    }
}

/// A declared price: per million tokens (`list`: input, output[, cache read[, cache write]])
/// and per unit (`[per_image, per_second, per_character]`); `None` when neither is given.
pub fn declared_price(list: &[f64], units: [Option<f64>; 3]) -> Option<actors::usage::cost::Price> {
    let [per_image, per_second, per_character] = units;
    let base = actors::usage::cost::Price::from_list(list)
        .or_else(|| units.iter().any(Option::is_some).then(actors::usage::cost::Price::free))?;
    Some(actors::usage::cost::Price { per_image, per_second, per_character, ..base })
}

/// A built-in provider.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogProvider {
    /// Id used in `provider/model`.
    pub id: String,
    /// Short prefix accepted instead of the id.
    #[serde(default)]
    pub alias: Option<String>,
    /// Wire dialect.
    pub dialect: Dialect,
    /// Base URL (empty: every account must give one).
    pub base_url: String,
    /// Credential style.
    pub auth: AuthStyle,
    /// Known models.
    #[serde(default)]
    pub models: Vec<CatalogModel>,
    /// Surfaces the upstream serves beyond chat and embeddings (`completions`, `moderations`,
    /// `rerank`), each checked against the provider's own API reference.
    #[serde(default)]
    pub serves: super::Serves,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    provider: Vec<CatalogProvider>,
    #[serde(default)]
    rule: Vec<ModelRule>,
}

/// All built-in providers, and the request rules of model families.
#[derive(Debug, Clone)]
pub struct Catalog {
    providers: Vec<CatalogProvider>,
    rules: Vec<ModelRule>,
}

impl Catalog {
    /// The embedded catalog. It is checked by a unit test, so parsing cannot fail at run time
    /// unless the file was edited without running the tests; then the catalog is empty and the
    /// error is returned for the caller to report.
    pub fn builtin() -> Result<Self, String> {
        toml::from_str::<CatalogFile>(CATALOG_TOML)
            .map(|f| Self { providers: f.provider, rules: f.rule })
            .map_err(|e| format!("embedded provider catalog is invalid: {e}"))
    }

    /// All providers.
    pub fn providers(&self) -> &[CatalogProvider] {
        &self.providers
    }

    /// The request rules of model families (`translate::rules`).
    pub fn rules(&self) -> &[ModelRule] {
        &self.rules
    }

    /// A provider by id or alias.
    pub fn get(&self, id_or_alias: &str) -> Option<&CatalogProvider> {
        self.providers.iter().find(|p| p.id == id_or_alias || p.alias.as_deref() == Some(id_or_alias))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_parses_and_ids_are_unique() -> Result<(), String> {
        let c = Catalog::builtin()?;
        let mut names: Vec<&str> = c.providers().iter().map(|p| p.id.as_str()).collect();
        names.extend(c.providers().iter().filter_map(|p| p.alias.as_deref()));
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(n, names.len(), "ids and aliases must be unique");
        for id in [
            "openai",
            "openrouter",
            "deepseek",
            "groq",
            "xai",
            "mistral",
            "together",
            "fireworks",
            "cerebras",
            "nvidia",
            "perplexity",
            "moonshot",
            "zhipu",
            "qwen",
            "ollama",
            "lmstudio",
            "vllm",
            "openai-compatible",
            "claude-code",
            "codex",
            "gemini-cli",
            "github-copilot",
            "qwen-code",
        ] {
            assert!(c.get(id).is_some(), "catalog lacks {id}");
        }
        assert_eq!(c.get("kimi").map(|p| p.id.as_str()), Some("moonshot"));
        Ok(())
    }
}
