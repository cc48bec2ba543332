//! What a request cost: a price per million tokens, the arithmetic over canonical token counts,
//! and where the figure comes from (`CostSource`). Pure functions; the price table that picks a
//! `Price` for a model lives in the root crate (`pricing`), read from memory on the hot path.
//!
//! The counts are canonical (`TokenUsage`): the translate layer has already folded every
//! dialect's fields into one shape, so nothing here depends on a dialect. Where each dialect's
//! counts overlap, as checked against the providers' documentation:
//! - OpenAI Chat: `prompt_tokens_details.cached_tokens` is a part of `prompt_tokens`, and
//!   `completion_tokens_details.reasoning_tokens` a part of `completion_tokens` (API reference,
//!   <https://platform.openai.com/docs/api-reference/chat/object>: `CompletionTokensDetails` says
//!   "like reasoning tokens, these tokens are still counted in the total completion tokens for
//!   purposes of billing"). Taken as they are (`protocol::openai::OpenAiUsage::canonical`).
//! - OpenAI Responses: the same, under `input_tokens_details` / `output_tokens_details`.
//! - Anthropic Messages: `cache_read_input_tokens` and `cache_creation_input_tokens` are counted
//!   apart from `input_tokens` and billed at their own rates
//!   (<https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching>); the canonical input
//!   adds them (`translate::anthropic::usage_from`).
//! - Gemini: `promptTokenCount` includes `cachedContentTokenCount` ("when cached content is set,
//!   this is still the total effective prompt size"), and `thoughtsTokenCount` is counted apart
//!   from `candidatesTokenCount` (the total is prompt + candidates + tool-use prompt + thoughts;
//!   <https://ai.google.dev/api/generate-content#UsageMetadata>); the canonical output adds the
//!   thoughts (`translate::gemini::usage_from`; the field read is `thoughtsTokenCount`).
//!
//! So canonical `input` includes cache reads and writes, and canonical `output` includes
//! reasoning: each is subtracted once before the remainder is priced at the plain rate.

use serde::Serialize;

use super::{TokenUsage, Unit};

/// USD per million tokens of one model, and per unit for the surfaces billed by the unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Price {
    /// Input tokens not read from or written to a cache.
    pub input: f64,
    /// Output tokens (reasoning too, unless `reasoning` prices it apart).
    pub output: f64,
    /// Cache reads (`None`: the input price).
    pub cache_read: Option<f64>,
    /// Cache writes (`None`: the input price).
    pub cache_write: Option<f64>,
    /// Reasoning tokens, when billed apart from output (`None`: the output price).
    pub reasoning: Option<f64>,
    /// USD per image made or edited (`None`: not priced per image).
    pub per_image: Option<f64>,
    /// USD per second of audio transcribed or translated.
    pub per_second: Option<f64>,
    /// USD per character of input spoken.
    pub per_character: Option<f64>,
}

impl Price {
    /// The price of `[input, output, cache read?, cache write?]` (the catalog's and the config's
    /// spelling); `None` with fewer than two figures.
    pub fn from_list(p: &[f64]) -> Option<Self> {
        match p {
            [input, output, rest @ ..] => Some(Self {
                input: *input,
                output: *output,
                cache_read: rest.first().copied(),
                cache_write: rest.get(1).copied(),
                reasoning: None,
                per_image: None,
                per_second: None,
                per_character: None,
            }),
            _ => None,
        }
    }

    /// Nothing costs anything (the demo model).
    pub fn free() -> Self {
        Self {
            input: 0.0,
            output: 0.0,
            cache_read: None,
            cache_write: None,
            reasoning: None,
            per_image: None,
            per_second: None,
            per_character: None,
        }
    }

    /// `[input, output, cache read, cache write]`, the missing cache prices as the input price.
    pub fn as_list(&self) -> Vec<f64> {
        vec![self.input, self.output, self.cache_read.unwrap_or(self.input), self.cache_write.unwrap_or(self.input)]
    }

    /// USD per `unit`, when priced so.
    pub fn per(&self, unit: Unit) -> Option<f64> {
        match unit {
            Unit::Image => self.per_image,
            Unit::Second => self.per_second,
            Unit::Character => self.per_character,
        }
    }

    /// Whether any unit is priced.
    pub fn has_unit_price(&self) -> bool {
        self.per_image.is_some() || self.per_second.is_some() || self.per_character.is_some()
    }

    /// USD for what `t` measured: by its units when they are counted and priced, else by its
    /// tokens (a token-billed model of a unit surface: `gpt-4o-transcribe`, `gpt-image-1`);
    /// `None` for a unit surface's answer that said neither (unpriced, never $0).
    pub fn charge(&self, t: &TokenUsage) -> Option<f64> {
        let tokens = TokenUsage { units: None, estimated: false, ..*t };
        match t.units {
            None => Some(self.usd(t)),
            Some(u) => match (self.per(u.unit), u.count()) {
                (Some(rate), Some(n)) => Some(rate * n),
                _ if !tokens.is_empty() => Some(self.usd(t)),
                _ => None,
            },
        }
    }

    /// USD for the tokens of `t` at this price.
    pub fn usd(&self, t: &TokenUsage) -> f64 {
        let cached = t.cache_read.saturating_add(t.cache_write);
        let plain_in = t.input.saturating_sub(cached) as f64;
        let read = self.cache_read.unwrap_or(self.input);
        let write = self.cache_write.unwrap_or(self.input);
        let (plain_out, reasoning) = match self.reasoning {
            // Reasoning is inside output (canonical): bill it apart only when priced apart.
            Some(r) => {
                (t.output.saturating_sub(t.reasoning) as f64 * self.output, t.reasoning.min(t.output) as f64 * r)
            }
            None => (t.output as f64 * self.output, 0.0),
        };
        (plain_in * self.input + t.cache_read as f64 * read + t.cache_write as f64 * write + plain_out + reasoning)
            / 1_000_000.0
    }
}

/// Where a usage row's cost comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CostSource {
    /// A price matched and the upstream reported the token counts.
    Priced,
    /// A price matched, but some counts are the gateway's estimate (the upstream sent none).
    Estimated,
    /// No price matched: the cost is unknown (never shown as $0).
    #[default]
    Unpriced,
    /// Served by a subscription (OAuth) account: $0 at the margin; the list price is kept apart.
    Subscription,
    /// Answered from the gateway's response cache or an idempotent replay: no upstream call,
    /// $0, and no tokens counted (the first answer's row already holds them).
    Cache,
}

impl CostSource {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Priced => "priced",
            Self::Estimated => "estimated",
            Self::Unpriced => "unpriced",
            Self::Subscription => "subscription",
            Self::Cache => "cache",
        }
    }
}

/// The cost of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Cost {
    /// USD charged (`None`: unpriced).
    pub usd: Option<f64>,
    /// What the tokens would cost at list price, for a subscription account (savings).
    pub list_usd: Option<f64>,
    /// Where the figure comes from.
    pub source: CostSource,
}

impl Cost {
    /// The cost of `tokens` under `price` (`None`: no pricing row matched), served by a
    /// subscription account or not.
    pub fn assess(tokens: &TokenUsage, price: Option<&Price>, subscription: bool) -> Self {
        let list = price.and_then(|p| p.charge(tokens));
        match (subscription, list) {
            (true, _) => Self { usd: Some(0.0), list_usd: list, source: CostSource::Subscription },
            (false, None) => Self { usd: None, list_usd: None, source: CostSource::Unpriced },
            (false, Some(usd)) if tokens.estimated => {
                Self { usd: Some(usd), list_usd: None, source: CostSource::Estimated }
            }
            (false, Some(usd)) => Self { usd: Some(usd), list_usd: None, source: CostSource::Priced },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-12)
    }

    const P: Price = Price {
        input: 3.0,
        output: 15.0,
        cache_read: Some(0.3),
        cache_write: Some(3.75),
        reasoning: None,
        per_image: None,
        per_second: None,
        per_character: None,
    };

    #[test]
    fn units_are_priced_per_unit_tokens_as_tokens_and_an_unknown_count_is_unpriced() {
        use crate::usage::{Unit, Units};
        let p = Price { per_second: Some(0.0001), per_character: Some(0.000015), ..P };
        let heard =
            TokenUsage { units: Some(Units { unit: Unit::Second, milli: Some(8_470) }), ..TokenUsage::default() };
        let c = Cost::assess(&heard, Some(&p), false);
        assert!(close(c.usd, 0.000847), "{c:?}");
        assert_eq!(c.source, CostSource::Priced);
        let spoken = TokenUsage { units: Some(Units::whole(Unit::Character, 1000)), ..TokenUsage::default() };
        assert!(close(Cost::assess(&spoken, Some(&p), false).usd, 0.015));
        // A text answer says no duration: unpriced, never $0.
        let unknown = TokenUsage { units: Some(Units { unit: Unit::Second, milli: None }), ..TokenUsage::default() };
        assert_eq!(Cost::assess(&unknown, Some(&p), false).source, CostSource::Unpriced);
        // No per-image price, but the answer counted tokens (gpt-image-1): priced by its tokens.
        let image =
            TokenUsage { input: 100, output: 10, units: Some(Units::whole(Unit::Image, 1)), ..TokenUsage::default() };
        assert!(close(Cost::assess(&image, Some(&P), false).usd, (100.0 * 3.0 + 10.0 * 15.0) / 1e6));
        let no_tokens = TokenUsage { units: Some(Units::whole(Unit::Image, 2)), ..TokenUsage::default() };
        assert_eq!(Cost::assess(&no_tokens, Some(&P), false).source, CostSource::Unpriced);
        assert!(close(Cost::assess(&no_tokens, Some(&Price { per_image: Some(0.02), ..P }), false).usd, 0.04));
    }

    #[test]
    fn plain_input_excludes_cache_and_each_part_has_its_price() {
        // 1000 input of which 600 cache reads and 200 cache writes; 500 output.
        let t = TokenUsage { input: 1000, output: 500, cache_read: 600, cache_write: 200, ..TokenUsage::default() };
        let want = (200.0 * 3.0 + 600.0 * 0.3 + 200.0 * 3.75 + 500.0 * 15.0) / 1e6;
        let c = Cost::assess(&t, Some(&P), false);
        assert!(close(c.usd, want), "{c:?} want {want}");
        assert_eq!(c.source, CostSource::Priced);
        assert_eq!(c.list_usd, None);
    }

    #[test]
    fn missing_cache_prices_fall_back_to_input() {
        let p = Price::from_list(&[2.0, 8.0]).expect("two figures");
        let t = TokenUsage { input: 1_000_000, output: 0, cache_read: 500_000, ..TokenUsage::default() };
        assert!(close(Some(p.usd(&t)), 2.0));
        let p = Price::from_list(&[2.0, 8.0, 0.5]).expect("three figures");
        assert!(close(Some(p.usd(&t)), 1.0 + 0.25));
        assert_eq!(Price::from_list(&[1.0]), None);
    }

    #[test]
    fn reasoning_is_billed_apart_only_when_priced_apart_and_never_twice() {
        let t = TokenUsage { input: 0, output: 1000, reasoning: 400, ..TokenUsage::default() };
        // Inside output at the output price.
        assert!(close(Some(P.usd(&t)), 1000.0 * 15.0 / 1e6));
        // Priced apart: 600 at output, 400 at reasoning.
        let p = Price { reasoning: Some(60.0), ..P };
        assert!(close(Some(p.usd(&t)), (600.0 * 15.0 + 400.0 * 60.0) / 1e6));
    }

    #[test]
    fn unpriced_stays_unpriced_and_subscription_is_free_with_its_list_price() {
        let t = TokenUsage { input: 100, output: 10, ..TokenUsage::default() };
        assert_eq!(Cost::assess(&t, None, false), Cost { usd: None, list_usd: None, source: CostSource::Unpriced });
        let s = Cost::assess(&t, Some(&P), true);
        assert_eq!((s.usd, s.source), (Some(0.0), CostSource::Subscription));
        assert!(close(s.list_usd, (100.0 * 3.0 + 10.0 * 15.0) / 1e6));
        assert_eq!(Cost::assess(&t, None, true).list_usd, None);
        let e = Cost::assess(&TokenUsage { estimated: true, ..t }, Some(&P), false);
        assert_eq!(e.source, CostSource::Estimated);
        assert!(close(e.usd, (100.0 * 3.0 + 10.0 * 15.0) / 1e6));
    }
}
