//! Account selection strategies: pure functions over the candidate accounts of one provider.

use serde::{Deserialize, Serialize};

/// How the router picks among the healthy accounts of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Lowest priority value first; the next one only when it is unavailable.
    #[default]
    FillFirst,
    /// Rotate, staying on one account for `sticky_limit` consecutive calls.
    RoundRobin,
    /// Power of two choices: sample two, take the one with fewer requests in flight.
    P2c,
    /// Weighted random.
    Random,
    /// The account used least recently.
    LeastUsed,
    /// Lowest priority value (the cheapest plan), spreading load among equals.
    CostOptimized,
}

impl Strategy {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FillFirst => "fill-first",
            Self::RoundRobin => "round-robin",
            Self::P2c => "p2c",
            Self::Random => "random",
            Self::LeastUsed => "least-used",
            Self::CostOptimized => "cost-optimized",
        }
    }

    /// Parses the config spelling.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::FillFirst,
            Self::RoundRobin,
            Self::P2c,
            Self::Random,
            Self::LeastUsed,
            Self::CostOptimized,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}
