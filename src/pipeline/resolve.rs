//! Model resolution: a combo name → its targets; an alias (exact or wildcard) → its target;
//! `provider/model` → itself; a bare model served by exactly one provider → that provider; a bare
//! Claude id no catalog lists → the served providers of Claude models.

use std::sync::atomic::Ordering;

use rand::RngExt;

use crate::config::ComboStrategy;
use crate::error::GatewayError;
use crate::keys::wildcard_match;
use crate::providers::Registry;

/// One concrete `provider/model` to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Provider id.
    pub provider: String,
    /// Upstream model id.
    pub model: String,
}

impl Target {
    /// `provider/model`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.provider, self.model)
    }
}

/// Resolves what a client asked for into the ordered targets to try. `pinned` restricts the
/// request to one provider (`/v1/providers/{provider}/...`).
pub fn resolve(reg: &Registry, requested: &str, pinned: Option<&str>) -> Result<Vec<Target>, GatewayError> {
    let requested = requested.trim();
    if requested.is_empty() {
        return Err(GatewayError::BadRequest("`model` is required".into()));
    }
    if requested.chars().any(char::is_control) || requested.contains("..") {
        return Err(GatewayError::BadRequest("`model` contains invalid characters".into()));
    }
    if let Some(pin) = pinned {
        let Some(p) = reg.provider(pin) else {
            return Err(GatewayError::NotFound(format!("unknown provider `{pin}`")));
        };
        if let Some((prefix, rest)) = requested.split_once('/')
            && let Some(other) = reg.provider(prefix)
        {
            if other.id != p.id {
                return Err(GatewayError::BadRequest(format!(
                    "model `{requested}` belongs to provider `{}`, not `{}`",
                    other.id, p.id
                )));
            }
            return Ok(vec![Target { provider: p.id.clone(), model: rest.to_string() }]);
        }
        return Ok(vec![Target { provider: p.id.clone(), model: requested.to_string() }]);
    }
    if let Some(combo) = reg.combos.get(requested) {
        let mut out = Vec::with_capacity(combo.targets.len());
        for t in &combo.targets {
            out.push(resolve_single(reg, t)?);
        }
        match combo.strategy {
            ComboStrategy::Priority => {}
            ComboStrategy::RoundRobin => {
                let n = combo.cursor.fetch_add(1, Ordering::Relaxed);
                let len = out.len().max(1);
                out.rotate_left(n % len);
            }
            ComboStrategy::Random => out = weighted_order(out, &combo.weights, &mut rand::rng()),
        }
        return Ok(out);
    }
    match resolve_single(reg, requested) {
        Ok(t) => Ok(vec![t]),
        Err(GatewayError::NotFound(m)) => claude_family(reg, requested).ok_or(GatewayError::NotFound(m)),
        Err(e) => Err(e),
    }
}

/// Claude Code asks for dated Claude ids (`claude-sonnet-4-5-20250929`, `claude-haiku-4-5-…` for
/// its background calls) that no catalog lists one by one: a bare `claude-…` name goes, as it is,
/// to every served Anthropic-dialect provider that serves Claude models, in id order (the next is
/// the fallback), so Claude Code works without a hand-written alias.
fn claude_family(reg: &Registry, name: &str) -> Option<Vec<Target>> {
    if !name.starts_with("claude-") || name.contains('/') {
        return None;
    }
    let mut out: Vec<Target> = reg
        .providers()
        .filter(|p| {
            reg.is_served(&p.id)
                && p.dialect == crate::protocol::Dialect::Anthropic
                && p.models.iter().any(|m| m.id.starts_with("claude-"))
        })
        .map(|p| Target { provider: p.id.clone(), model: name.to_string() })
        .collect();
    out.sort_by(|a, b| a.provider.cmp(&b.provider));
    (!out.is_empty()).then_some(out)
}

/// A random order in which each target comes first with a chance proportional to its weight (and
/// so on down the list): each gets the key `u^(1/w)` for a uniform `u`, highest key first.
fn weighted_order(targets: Vec<Target>, weights: &[u32], rng: &mut impl rand::Rng) -> Vec<Target> {
    let mut keyed: Vec<(f64, Target)> = targets
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let w = f64::from(weights.get(i).copied().unwrap_or(1).max(1));
            let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
            (u.powf(1.0 / w), t)
        })
        .collect();
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
    keyed.into_iter().map(|(_, t)| t).collect()
}

fn resolve_single(reg: &Registry, name: &str) -> Result<Target, GatewayError> {
    for (alias, target) in &reg.aliases {
        if alias == name || wildcard_match(alias, name) {
            let target = match target.strip_suffix("/*") {
                // `gpt-*` → `openai/*` keeps the asked-for model under the target provider.
                Some(provider) => format!("{provider}/{name}"),
                None => target.clone(),
            };
            return direct(reg, &target).ok_or_else(|| {
                GatewayError::NotFound(format!(
                    "alias `{alias}` points at `{target}`, which is not a known provider/model"
                ))
            });
        }
    }
    if let Some(t) = direct(reg, name) {
        return Ok(t);
    }
    let serving: Vec<&str> = reg
        .providers()
        .filter(|p| reg.is_served(&p.id) && p.models.iter().any(|m| m.id == name))
        .map(|p| p.id.as_str())
        .collect();
    match serving.as_slice() {
        [one] => Ok(Target { provider: (*one).to_string(), model: name.to_string() }),
        [] => Err(GatewayError::NotFound(format!(
            "model `{name}` not found: use `provider/model`, a combo or an alias (GET /v1/models lists them)"
        ))),
        many => {
            let mut opts: Vec<String> = many.iter().map(|p| format!("{p}/{name}")).collect();
            opts.sort();
            Err(GatewayError::BadRequest(format!(
                "model `{name}` is served by several providers; pick one of: {}",
                opts.join(", ")
            )))
        }
    }
}

fn direct(reg: &Registry, name: &str) -> Option<Target> {
    let (prefix, rest) = name.split_once('/')?;
    let p = reg.provider(prefix)?;
    (!rest.is_empty()).then(|| Target { provider: p.id.clone(), model: rest.to_string() })
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn a_random_combo_puts_targets_first_by_weight() {
        let t = |m: &str| Target { provider: "p".into(), model: m.into() };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut heavy_first = 0;
        for _ in 0..2000 {
            let order = weighted_order(vec![t("light"), t("heavy")], &[1, 3], &mut rng);
            assert_eq!(order.len(), 2);
            heavy_first += usize::from(order[0].model == "heavy");
        }
        // 3 : 1 → the heavy target leads three times in four.
        assert!((1400..1600).contains(&heavy_first), "{heavy_first}");
        let same = weighted_order(vec![t("a"), t("b")], &[1, 1], &mut rng);
        assert_eq!(same.len(), 2, "nothing lost");
    }
}
