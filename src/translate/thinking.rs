//! The thinking policy: whether a request asks its model to think, and with what budget, decided
//! per provider/model by the operator (`[[thinking]]` in the config) or per request
//! (`x-omnigate-thinking: off | passthrough | <budget>`). Applied to the canonical request before
//! translation, or to a client's own body on its way to a provider of its dialect.

use serde_json::{Value, json};

use crate::config::{ThinkingEntry, ThinkingMode};
use crate::keys::wildcard_match;
use crate::protocol::Dialect;
use crate::protocol::raw::RawObject;
use crate::translate::canonical::{Reasoning, Request};

/// The request header that overrides the configured policy.
pub const HEADER: &str = "x-omnigate-thinking";

/// What happens to a request's thinking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// As the client asked.
    #[default]
    Passthrough,
    /// Never asked for (models that always think still do).
    Off,
    /// Always on, with this token budget.
    Budget(u32),
}

impl Policy {
    /// Reads the header's value: `off`, `passthrough`, `<n>` or `budget=<n>`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "off" | "none" | "disabled" => Some(Self::Off),
            "passthrough" | "auto" => Some(Self::Passthrough),
            _ => s.strip_prefix("budget=").unwrap_or(&s).parse::<u32>().ok().map(|n| Self::Budget(n.max(1024))),
        }
    }

    /// The policy for `provider/model`: the request's header, else the first matching entry.
    pub fn pick(header: Option<&str>, entries: &[ThinkingEntry], label: &str) -> Self {
        if let Some(p) = header.and_then(Self::parse) {
            return p;
        }
        entries
            .iter()
            .find(|e| e.models.iter().any(|g| wildcard_match(g, label)))
            .map(|e| match e.mode {
                ThinkingMode::Passthrough => Self::Passthrough,
                ThinkingMode::Off => Self::Off,
                ThinkingMode::Budget => Self::Budget(e.budget.unwrap_or(8_192).max(1024)),
            })
            .unwrap_or_default()
    }

    /// Applies the policy to a canonical request.
    pub fn apply(self, req: &mut Request) {
        match self {
            Self::Passthrough => {}
            Self::Off => req.reasoning = None,
            Self::Budget(n) => {
                req.reasoning = Some(Reasoning { effort: None, budget_tokens: Some(n), include: true });
            }
        }
    }

    /// Applies the policy to a client's own body for a provider of `dialect`.
    pub fn apply_raw(self, dialect: Dialect, body: &mut RawObject) {
        let budget = match self {
            Self::Passthrough => return,
            Self::Off => None,
            Self::Budget(n) => Some(n),
        };
        match dialect {
            Dialect::Anthropic => match budget {
                None => body.remove("thinking"),
                Some(n) => {
                    body.set("thinking", &json!({"type": "enabled", "budget_tokens": n}));
                    // The budget counts toward max_tokens, which must stay above it.
                    let max = body.parse::<u32>("max_tokens").unwrap_or(0);
                    if max <= n {
                        body.set("max_tokens", &(n + 4_096));
                    }
                }
            },
            Dialect::OpenaiChat => match budget {
                None => body.remove("reasoning_effort"),
                Some(n) => body.set("reasoning_effort", &effort(n)),
            },
            Dialect::OpenaiResponses => match budget {
                None => body.remove("reasoning"),
                Some(n) => body.set("reasoning", &json!({"effort": effort(n), "summary": "auto"})),
            },
            Dialect::Gemini => {
                let key =
                    if body.get("generation_config").is_some() { "generation_config" } else { "generationConfig" };
                let mut g: Value = body.parse(key).unwrap_or_else(|| json!({}));
                if let Some(o) = g.as_object_mut() {
                    o.remove("thinkingConfig");
                    o.remove("thinking_config");
                    if let Some(n) = budget {
                        o.insert("thinkingConfig".into(), json!({"thinkingBudget": n, "includeThoughts": true}));
                    }
                }
                body.set(key, &g);
            }
        }
    }
}

fn effort(budget: u32) -> String {
    Reasoning { effort: None, budget_tokens: Some(budget), include: true }.effort()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_wins_then_the_first_matching_entry() {
        let entries = vec![
            ThinkingEntry { models: vec!["anthropic/*".into()], mode: ThinkingMode::Off, budget: None },
            ThinkingEntry { models: vec!["*".into()], mode: ThinkingMode::Budget, budget: Some(3000) },
        ];
        assert_eq!(Policy::pick(None, &entries, "anthropic/claude-sonnet-4-5"), Policy::Off);
        assert_eq!(Policy::pick(None, &entries, "gemini/gemini-2.5-pro"), Policy::Budget(3000));
        assert_eq!(Policy::pick(Some("budget=2048"), &entries, "anthropic/x"), Policy::Budget(2048));
        assert_eq!(Policy::pick(Some("passthrough"), &entries, "anthropic/x"), Policy::Passthrough);
        assert_eq!(Policy::pick(Some("nonsense"), &[], "x/y"), Policy::Passthrough);
        let mut b: RawObject =
            serde_json::from_str(r#"{"max_tokens":100,"thinking":{"type":"enabled","budget_tokens":5000}}"#)
                .unwrap_or_default();
        Policy::Budget(2000).apply_raw(Dialect::Anthropic, &mut b);
        assert_eq!(b.parse::<u32>("max_tokens"), Some(6096));
        Policy::Off.apply_raw(Dialect::Anthropic, &mut b);
        assert!(b.get("thinking").is_none());
    }
}
