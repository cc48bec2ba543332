//! Model resolution: a combo name → its targets, ordered by its strategy (nested combos expanded
//! in place, each by its own strategy); an alias (exact or wildcard) → its target;
//! `provider/model` → itself; a bare model served by exactly one provider → that provider; a bare
//! Claude id no catalog lists → the served providers of Claude models. It reads what served
//! requests taught (`stats::TargetBook`) but never writes it.

use std::sync::atomic::Ordering;

use rand::RngExt;

use super::stats::TargetBook;
use crate::config::ComboStrategy;
use crate::config::nesting::MAX_DEPTH;
use crate::error::GatewayError;
use crate::keys::wildcard_match;
use crate::providers::Registry;
use crate::providers::registry::Combo;

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

/// What a request's model resolves to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// The targets to try, in order, each once.
    pub targets: Vec<Target>,
    /// The combos crossed, the one asked for first (empty when no combo was asked for).
    pub combos: Vec<String>,
    /// The combo asked for opted into mid-stream resume (`resume = true`).
    pub resume: bool,
}

/// Resolves what a client asked for into the ordered targets to try, without what served
/// requests taught (for previews). `pinned` restricts the request to one provider
/// (`/v1/providers/{provider}/...`).
pub fn resolve(reg: &Registry, requested: &str, pinned: Option<&str>) -> Result<Vec<Target>, GatewayError> {
    resolve_in(reg, &TargetBook::default(), requested, pinned).map(|r| r.targets)
}

/// Resolves what a client asked for, ordering combos with what `book` learnt.
pub fn resolve_in(
    reg: &Registry,
    book: &TargetBook,
    requested: &str,
    pinned: Option<&str>,
) -> Result<Resolution, GatewayError> {
    let one = |t: Target| Resolution { targets: vec![t], ..Resolution::default() };
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
            return Ok(one(Target { provider: p.id.clone(), model: rest.to_string() }));
        }
        return Ok(one(Target { provider: p.id.clone(), model: requested.to_string() }));
    }
    if let Some(combo) = reg.combos.get(requested) {
        let mut combos = Vec::new();
        let mut targets = expand(reg, book, combo, &mut combos, &mut rand::rng())?;
        let mut seen = std::collections::HashSet::new();
        targets.retain(|t| seen.insert(t.label()));
        return Ok(Resolution { targets, combos, resume: combo.resume });
    }
    match resolve_single(reg, requested) {
        Ok(t) => Ok(one(t)),
        Err(GatewayError::NotFound(m)) => claude_family(reg, requested)
            .map(|targets| Resolution { targets, ..Resolution::default() })
            .ok_or(GatewayError::NotFound(m)),
        Err(e) => Err(e),
    }
}

/// A combo's targets in the order its strategy gives them; a target naming another combo is
/// that combo's own ordered targets, in its place. `path` holds the combos crossed so far.
fn expand(
    reg: &Registry,
    book: &TargetBook,
    combo: &Combo,
    path: &mut Vec<String>,
    rng: &mut impl rand::Rng,
) -> Result<Vec<Target>, GatewayError> {
    if path.contains(&combo.name) {
        return Err(GatewayError::BadRequest(format!("combo `{}` contains itself", combo.name)));
    }
    path.push(combo.name.clone());
    if path.len() > MAX_DEPTH {
        return Err(GatewayError::BadRequest(format!("combos nest at most {MAX_DEPTH} deep: {}", path.join(" → "))));
    }
    let mut entries: Vec<Vec<Target>> = Vec::with_capacity(combo.targets.len());
    for t in &combo.targets {
        match reg.combos.get(t.as_str()) {
            Some(inner) => {
                let depth = path.len();
                entries.push(expand(reg, book, inner, path, rng)?);
                path.truncate(depth);
            }
            None => entries.push(vec![resolve_single(reg, t)?]),
        }
    }
    let keys: Vec<EntryKey> = entries.iter().map(|e| EntryKey::of(reg, book, e.first())).collect();
    let order = order(combo, &keys, rng);
    Ok(order.into_iter().flat_map(|i| std::mem::take(&mut entries[i])).collect())
}

/// What the ordering strategies look at for one entry of a combo (its first target).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct EntryKey {
    /// When it last served, ms (0: never).
    last_served: i64,
    /// Averaged time to first byte, µs (`None`: never measured).
    ttfb_us: Option<u64>,
    /// USD per million tokens, blended 3 input : 1 output (`None`: no price known).
    price: Option<f64>,
}

impl EntryKey {
    fn of(reg: &Registry, book: &TargetBook, t: Option<&Target>) -> Self {
        let Some(t) = t else { return Self::default() };
        let stat = book.get(&t.label());
        let price = reg
            .model(&t.provider, &t.model)
            .filter(|m| m.price.len() >= 2)
            .map(|m| (3.0 * m.price[0] + m.price[1]) / 4.0);
        Self {
            last_served: stat.as_ref().map_or(0, |s| s.last_served()),
            ttfb_us: stat.and_then(|s| s.ttfb_us()),
            price,
        }
    }
}

/// The order (indexes into `keys`) in which `combo` tries its entries this time.
fn order(combo: &Combo, keys: &[EntryKey], rng: &mut impl rand::Rng) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..keys.len()).collect();
    if idx.len() < 2 {
        return idx;
    }
    match combo.strategy {
        ComboStrategy::Priority => {}
        ComboStrategy::RoundRobin => {
            let n = combo.cursor.fetch_add(1, Ordering::Relaxed);
            idx.rotate_left(n % keys.len());
        }
        ComboStrategy::Random => idx = weighted_order(idx, &combo.weights, rng),
        ComboStrategy::Weighted => {
            let first = combo.next_weighted().min(keys.len() - 1);
            idx.retain(|&i| i != first);
            idx.insert(0, first);
        }
        // The entry served longest ago (or never) first.
        ComboStrategy::LeastUsed => idx.sort_by_key(|&i| keys[i].last_served),
        // The cheapest known price first; unpriced entries last, in listed order.
        ComboStrategy::CostOptimized => {
            idx.sort_by(|&a, &b| match (keys[a].price, keys[b].price) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            });
        }
        // The fastest first byte first; an entry never measured goes first, to be measured.
        ComboStrategy::LatencyOptimized => idx.sort_by_key(|&i| keys[i].ttfb_us.unwrap_or(0)),
        // Stay on the entry that served last until it fails, then the next one (wrapping).
        ComboStrategy::FillFirst => {
            let newest = keys.iter().map(|k| k.last_served).max().unwrap_or(0);
            let at = if newest > 0 { keys.iter().position(|k| k.last_served == newest).unwrap_or(0) } else { 0 };
            idx.rotate_left(at);
        }
    }
    idx
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
fn weighted_order<T>(targets: Vec<T>, weights: &[u32], rng: &mut impl rand::Rng) -> Vec<T> {
    let mut keyed: Vec<(f64, T)> = targets
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

    fn combo(strategy: ComboStrategy, weights: &[u32]) -> Combo {
        let targets = weights.iter().enumerate().map(|(i, w)| (format!("p/m{i}"), *w)).collect();
        Combo::new("c", strategy, targets, false)
    }

    fn key(last_served: i64, ttfb_us: Option<u64>, price: Option<f64>) -> EntryKey {
        EntryKey { last_served, ttfb_us, price }
    }

    #[test]
    fn a_weighted_combo_leads_exactly_by_weight_and_spreads_its_picks() {
        let c = combo(ComboStrategy::Weighted, &[1, 3, 2]);
        let keys = [EntryKey::default(); 3];
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut firsts = [0usize; 3];
        let mut longest_run = (0, 0, usize::MAX);
        for _ in 0..600 {
            let o = order(&c, &keys, &mut rng);
            assert_eq!(o.len(), 3, "every target stays in the order");
            firsts[o[0]] += 1;
            let run = if o[0] == longest_run.2 { longest_run.1 + 1 } else { 1 };
            longest_run = (longest_run.0.max(run), run, o[0]);
        }
        // Over every 6 requests: 1, 3 and 2 leads, exactly (no tolerance needed: it is deterministic).
        assert_eq!(firsts, [100, 300, 200]);
        assert!(longest_run.0 <= 2, "no streaks: the heaviest leads at most twice in a row ({})", longest_run.0);
    }

    #[test]
    fn least_used_cost_and_latency_order_by_what_was_learnt() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let keys = [key(300, Some(900), Some(2.0)), key(0, Some(200), None), key(100, None, Some(0.5))];
        // Never used first, then the one used longest ago.
        assert_eq!(order(&combo(ComboStrategy::LeastUsed, &[1, 1, 1]), &keys, &mut rng), vec![1, 2, 0]);
        // Cheapest first, the unpriced last.
        assert_eq!(order(&combo(ComboStrategy::CostOptimized, &[1, 1, 1]), &keys, &mut rng), vec![2, 0, 1]);
        // The unmeasured first (to be measured), then the fastest.
        assert_eq!(order(&combo(ComboStrategy::LatencyOptimized, &[1, 1, 1]), &keys, &mut rng), vec![2, 1, 0]);
        let measured = [key(0, Some(900), None), key(0, Some(200), None), key(0, Some(500), None)];
        assert_eq!(order(&combo(ComboStrategy::LatencyOptimized, &[1, 1, 1]), &measured, &mut rng), vec![1, 2, 0]);
        // Priority keeps the listed order whatever was learnt.
        assert_eq!(order(&combo(ComboStrategy::Priority, &[1, 1, 1]), &keys, &mut rng), vec![0, 1, 2]);
    }

    #[test]
    fn fill_first_stays_on_the_last_server_and_round_robin_rotates() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let c = combo(ComboStrategy::FillFirst, &[1, 1, 1]);
        assert_eq!(order(&c, &[EntryKey::default(); 3], &mut rng), vec![0, 1, 2], "nothing served yet: listed order");
        let keys = [key(100, None, None), key(500, None, None), key(0, None, None)];
        assert_eq!(order(&c, &keys, &mut rng), vec![1, 2, 0], "the last server first, then on down the list");
        let rr = combo(ComboStrategy::RoundRobin, &[1, 1, 1]);
        let firsts: Vec<usize> = (0..4).map(|_| order(&rr, &[EntryKey::default(); 3], &mut rng)[0]).collect();
        assert_eq!(firsts, vec![0, 1, 2, 0]);
    }
}
