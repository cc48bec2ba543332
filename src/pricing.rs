//! The in-memory price table the hot path reads: built from the `pricing` rows on every
//! `Runtime::reload` and shared as an `Arc` snapshot, so a request never queries the database
//! for its price. It owns the match rule; it never reads or writes rows (that is
//! `store::pricing`).
//!
//! # The match rule
//! A row applies to a request served by `provider` with upstream model `model` when its provider
//! is `provider` or `*`, and its model is `model` or a pattern matching it (`*` matches any run
//! of characters, `/` included, or none). Of the rows that apply, the most specific wins:
//! 1. an exact model beats any pattern;
//! 2. among patterns, the one with more literal (non-`*`) characters (`gpt-4o-mini*` beats
//!    `gpt-4o*`, which beats `*`);
//! 3. then an exact provider beats `*`;
//! 4. a remaining tie goes to the pattern first in byte order (deterministic).

use std::collections::HashMap;

use actors::usage::cost::Price;
use entities::pricing;

/// Rows an operator deleted: no price, and seeding does not bring them back.
pub const SOURCE_DELETED: &str = "deleted";
/// Rows seeded from the built-in catalog (refreshed at every reload).
pub const SOURCE_CATALOG: &str = "catalog";

/// Whether `pattern` (with `*` wildcards) matches `s` as a whole.
pub fn glob(pattern: &str, s: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = s.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for p in middle {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// A wildcard row, with its rank under the match rule.
#[derive(Debug, Clone)]
struct Pattern {
    provider: String,
    model: String,
    price: Price,
}

impl Pattern {
    /// Sort key: most specific first (see the module doc).
    fn rank(&self) -> (std::cmp::Reverse<(bool, usize, bool)>, String) {
        let exact_model = !self.model.contains('*');
        let literal = self.model.chars().filter(|c| *c != '*').count();
        (std::cmp::Reverse((exact_model, literal, self.provider != "*")), self.model.clone())
    }
}

/// Every live price, ready for lookups.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    /// Exact rows by provider, then model: the common case, two hash lookups and no allocation.
    exact: HashMap<String, HashMap<String, Price>>,
    /// Everything else (a `*` provider or a pattern), most specific first.
    patterns: Vec<Pattern>,
}

/// The price of a stored row.
pub fn price_of(r: &pricing::Model) -> Price {
    Price {
        input: r.input,
        output: r.output,
        cache_read: r.cache_read,
        cache_write: r.cache_write,
        reasoning: r.reasoning,
        per_image: r.per_image,
        per_second: r.per_second,
        per_character: r.per_character,
    }
}

impl PriceTable {
    /// The table of `rows` (deleted ones left out).
    pub fn build(rows: &[pricing::Model]) -> Self {
        let mut t = Self::default();
        for r in rows.iter().filter(|r| r.source != SOURCE_DELETED) {
            if r.provider != "*" && !r.model.contains('*') {
                t.exact.entry(r.provider.clone()).or_default().insert(r.model.clone(), price_of(r));
            } else {
                t.patterns.push(Pattern { provider: r.provider.clone(), model: r.model.clone(), price: price_of(r) });
            }
        }
        t.patterns.sort_by_key(Pattern::rank);
        t
    }

    /// The price of `model` served by `provider`, by the match rule (`None`: unpriced).
    pub fn find(&self, provider: &str, model: &str) -> Option<Price> {
        if let Some(p) = self.exact.get(provider).and_then(|m| m.get(model)) {
            return Some(*p);
        }
        self.patterns
            .iter()
            .find(|p| (p.provider == "*" || p.provider == provider) && glob(&p.model, model))
            .map(|p| p.price)
    }

    /// How many live rows it holds.
    pub fn len(&self) -> usize {
        self.exact.values().map(HashMap::len).sum::<usize>() + self.patterns.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use actors::usage::TokenUsage;
    use actors::usage::cost::{Cost, CostSource};
    use serde_json::json;

    use super::*;

    fn row(provider: &str, model: &str, input: f64, source: &str) -> pricing::Model {
        pricing::Model {
            id: 0,
            provider: provider.into(),
            model: model.into(),
            input,
            output: input * 4.0,
            cache_read: None,
            cache_write: None,
            reasoning: None,
            per_image: None,
            per_second: None,
            per_character: None,
            source: source.into(),
            updated_at: 0,
        }
    }

    #[test]
    fn glob_matches_wholes_with_stars_anywhere() {
        assert!(glob("*", ""));
        assert!(glob("*", "a/b"));
        assert!(glob("gpt-4o*", "gpt-4o"));
        assert!(glob("gpt-4o*", "gpt-4o-mini"));
        assert!(!glob("gpt-4o*", "gpt-4"));
        assert!(glob("*-mini", "gpt-4o-mini"));
        assert!(glob("a*b*c", "a-x-b-y-c"));
        assert!(!glob("a*b*c", "a-x-c-y-b"));
        assert!(!glob("ab*ba", "aba"), "the prefix and suffix may not overlap");
        assert!(!glob("exact", "exact2"));
    }

    #[test]
    fn the_most_specific_row_wins() {
        let t = PriceTable::build(&[
            row("*", "*", 1.0, "api"),
            row("openai", "*", 2.0, "api"),
            row("openai", "gpt-4o*", 3.0, "api"),
            row("*", "gpt-4o-mini*", 4.0, "api"),
            row("openai", "gpt-4o-mini", 5.0, "catalog"),
            row("*", "o3", 6.0, "api"),
            row("openai", "gone", 7.0, SOURCE_DELETED),
        ]);
        let input = |p: &str, m: &str| t.find(p, m).map(|p| p.input);
        assert_eq!(input("openai", "gpt-4o-mini"), Some(5.0), "an exact row beats every pattern");
        assert_eq!(input("openai", "gpt-4o-mini-2024"), Some(4.0), "more literal characters beat an exact provider");
        assert_eq!(input("openai", "gpt-4o-2024"), Some(3.0));
        assert_eq!(input("openai", "o3"), Some(6.0), "an exact model under `*` beats a pattern of the provider");
        assert_eq!(input("openai", "davinci"), Some(2.0), "an exact provider beats `*` at equal model rank");
        assert_eq!(input("other", "x/y"), Some(1.0), "`*` matches slashes too");
        assert_eq!(input("openai", "gone"), Some(2.0), "a deleted row is no row");
        assert_eq!(t.len(), 6);
    }

    #[test]
    fn no_row_leaves_a_request_unpriced() {
        let t = PriceTable::build(&[row("openai", "gpt-4o", 2.5, "catalog")]);
        assert_eq!(t.find("anthropic", "gpt-4o"), None);
        let tokens = TokenUsage { input: 10, output: 10, ..TokenUsage::default() };
        let c = Cost::assess(&tokens, t.find("openai", "gpt-5").as_ref(), false);
        assert_eq!((c.usd, c.source), (None, CostSource::Unpriced));
    }

    /// Each dialect's wire usage, read by the translate layer, priced: hand-computed figures.
    #[test]
    fn each_dialects_usage_is_priced_without_double_counting() {
        let p = Price { input: 2.0, output: 10.0, cache_read: Some(0.5), cache_write: Some(4.0), ..Price::free() };
        let usd = |u: TokenUsage| p.usd(&u);
        let near = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} != {b}");
        // OpenAI Chat: cached_tokens inside prompt_tokens, reasoning inside completion_tokens.
        let openai: crate::protocol::openai::OpenAiUsage = serde_json::from_value(json!({
            "prompt_tokens": 1000, "completion_tokens": 300, "total_tokens": 1300,
            "prompt_tokens_details": {"cached_tokens": 400}, "completion_tokens_details": {"reasoning_tokens": 200}
        }))
        .unwrap_or_default();
        near(usd(openai.canonical()), (600.0 * 2.0 + 400.0 * 0.5 + 300.0 * 10.0) / 1e6);
        // Responses: the same under other names.
        let resp = crate::translate::responses::usage_from(&json!({
            "input_tokens": 1000, "input_tokens_details": {"cached_tokens": 400},
            "output_tokens": 300, "output_tokens_details": {"reasoning_tokens": 200}, "total_tokens": 1300
        }));
        near(usd(resp), (600.0 * 2.0 + 400.0 * 0.5 + 300.0 * 10.0) / 1e6);
        // Anthropic: cache reads and writes counted apart from input_tokens.
        let anth = crate::translate::anthropic::usage_from(&json!({
            "input_tokens": 100, "cache_read_input_tokens": 400, "cache_creation_input_tokens": 500, "output_tokens": 300
        }));
        near(usd(anth), (100.0 * 2.0 + 400.0 * 0.5 + 500.0 * 4.0 + 300.0 * 10.0) / 1e6);
        // Gemini: cached inside promptTokenCount, thoughts apart from candidatesTokenCount.
        let gem = crate::translate::gemini::usage_from(&json!({
            "promptTokenCount": 1000, "cachedContentTokenCount": 400, "candidatesTokenCount": 100,
            "thoughtsTokenCount": 200, "totalTokenCount": 1300
        }));
        near(usd(gem), (600.0 * 2.0 + 400.0 * 0.5 + 300.0 * 10.0) / 1e6);
        // Reasoning priced apart: Gemini's 200 thoughts at 20/M, the other 100 at output.
        let r = Price { reasoning: Some(20.0), ..p };
        near(r.usd(&gem), (600.0 * 2.0 + 400.0 * 0.5 + 100.0 * 10.0 + 200.0 * 20.0) / 1e6);
    }
}
