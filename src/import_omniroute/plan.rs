//! What an OmniRoute database becomes here: a list of admin API calls (custom providers,
//! accounts, prices, aliases, combos, keys, optionally subscription sign-ins) and a list of what
//! could not be carried over, each with its reason. Shapes: see `read`; OmniRoute's provider ids
//! and model-prefix aliases are from its provider registry (`open-sse/config/providers/registry`,
//! `src/shared/constants/providers/*`), its combo steps from `src/lib/combos/steps.ts`, prices
//! ($ per 1M tokens) from `src/lib/db/settings.ts` (diegosouzapw/OmniRoute @0adae00c, v3.8.42).

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::read::{Connection, Key, Source};
use super::secret::{Keys, Stored, open};

/// OmniRoute provider ids and model-prefix aliases, and what they are here.
const PROVIDERS: &[(&str, &str)] = &[
    ("openai", "openai"),
    ("anthropic", "anthropic"),
    ("gemini", "gemini"),
    ("openrouter", "openrouter"),
    ("groq", "groq"),
    ("deepseek", "deepseek"),
    ("ds", "deepseek"),
    ("mistral", "mistral"),
    ("xai", "xai"),
    ("together", "together"),
    ("fireworks", "fireworks"),
    ("cerebras", "cerebras"),
    ("nvidia", "nvidia"),
    ("perplexity", "perplexity"),
    ("pplx", "perplexity"),
    ("lm-studio", "lmstudio"),
    ("vllm", "vllm"),
    ("claude", "claude-code"),
    ("cc", "claude-code"),
    ("codex", "codex"),
    ("cx", "codex"),
    ("github", "github-copilot"),
    ("gh", "github-copilot"),
    ("gemini-cli", "gemini-cli"),
    ("qwen", "qwen-code"),
    ("qw", "qwen-code"),
];

/// OmniRoute combo strategies and account strategies with an equal here.
const STRATEGIES: &[(&str, &str)] = &[
    ("priority", "priority"),
    ("weighted", "weighted"),
    ("round-robin", "round-robin"),
    ("fill-first", "fill-first"),
    ("random", "random"),
    ("strict-random", "random"),
    ("least-used", "least-used"),
    ("usage", "least-used"),
    ("cost-optimized", "cost-optimized"),
];

/// One admin API call.
#[derive(Debug, Clone)]
pub struct Call {
    /// What it makes, for the report (`account openai/OpenAI main`).
    pub what: String,
    /// `POST` or `PUT`.
    pub put: bool,
    /// Under `/api`.
    pub path: String,
    /// The body (may hold a secret: never printed).
    pub body: Value,
}

/// The calls, in order, and what is left behind.
#[derive(Debug, Default)]
pub struct Plan {
    pub calls: Vec<Call>,
    pub skipped: Vec<String>,
}

impl Plan {
    fn post(&mut self, what: String, path: &str, body: Value) {
        self.calls.push(Call { what, put: false, path: path.into(), body });
    }

    fn skip(&mut self, why: String) {
        self.skipped.push(why);
    }
}

/// How names map: OmniRoute provider ids, aliases and custom-node prefixes or ids → providers here.
struct Names {
    map: HashMap<String, String>,
}

impl Names {
    fn provider(&self, id: &str) -> Option<&str> {
        self.map.get(id).map(String::as_str)
    }

    /// `prefix/model` as a model here.
    fn model(&self, s: &str) -> Option<String> {
        let (prefix, model) = s.split_once('/')?;
        Some(format!("{}/{model}", self.provider(prefix)?))
    }
}

/// A name usable as a provider id, account or key name here.
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '_' | '.') { c.to_ascii_lowercase() } else { '-' };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out.trim_matches('-').to_string()
}

/// Maps `src`; `keys` opens encrypted credentials; `sign_ins`: also move subscription sign-ins.
pub fn plan(src: &Source, keys: Option<&Keys>, sign_ins: bool) -> Plan {
    let mut p = Plan::default();
    let mut map: HashMap<String, String> = PROVIDERS.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    let custom_models: HashMap<&str, Vec<String>> = src
        .kv
        .iter()
        .filter(|(ns, _, _)| ns == "customModels")
        .map(|(_, node, v)| {
            let ids = v.as_array().map(|a| a.iter().filter_map(|m| m["id"].as_str().map(String::from)).collect());
            (node.as_str(), ids.unwrap_or_default())
        })
        .collect();
    for n in &src.nodes {
        let id = clean(if n.prefix.is_empty() { &n.name } else { &n.prefix });
        let dialect = match (n.kind.as_str(), n.api_type.as_str()) {
            ("openai-compatible", "chat") => "openai-chat",
            ("openai-compatible", "responses") => "openai-responses",
            ("anthropic-compatible", _) => "anthropic",
            (kind, api) => {
                p.skip(format!(
                    "custom provider `{}` ({kind}, {api}): only chat, Responses and Anthropic nodes map",
                    n.name
                ));
                continue;
            }
        };
        if id.is_empty() || map.values().any(|v| *v == id) {
            p.skip(format!("custom provider `{}`: its prefix `{id}` is taken by a built-in provider here", n.name));
            continue;
        }
        if n.custom_headers {
            p.skip(format!("custom provider `{}`: its extra headers (add them as a transform)", n.name));
        }
        let models = custom_models.get(n.id.as_str()).cloned().unwrap_or_default();
        let body = json!({"id": id, "dialect": dialect, "base_url": n.base_url, "models": models});
        p.post(format!("custom provider {id}"), "/providers", body);
        map.insert(n.id.clone(), id.clone());
        map.insert(n.prefix.clone(), id);
    }
    let names = Names { map };
    let mut used: HashSet<String> = HashSet::new();
    for c in &src.connections {
        connection(&mut p, &names, c, keys, sign_ins, &mut used);
    }
    prices(&mut p, &names, src);
    aliases(&mut p, &names, src);
    combos(&mut p, &names, src);
    for k in &src.keys {
        key(&mut p, &names, k);
    }
    p
}

fn unique(used: &mut HashSet<String>, provider: &str, base: &str) -> String {
    let base = if base.is_empty() { "imported".to_string() } else { base.to_string() };
    let mut name = base.clone();
    let mut n = 2;
    while !used.insert(format!("{provider}/{name}")) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

fn secret(p: &mut Plan, what: &str, field: &str, v: Option<&String>, keys: Option<&Keys>) -> Option<String> {
    match open(v?, keys) {
        Stored::Plain(s) => Some(s),
        Stored::NeedsKey => {
            p.skip(format!("{what}: its {field} is encrypted; give OmniRoute's STORAGE_ENCRYPTION_KEY"));
            None
        }
        Stored::WrongKey => {
            p.skip(format!("{what}: its {field} does not open with the STORAGE_ENCRYPTION_KEY given"));
            None
        }
    }
}

fn connection(
    p: &mut Plan,
    names: &Names,
    c: &Connection,
    keys: Option<&Keys>,
    sign_ins: bool,
    used: &mut HashSet<String>,
) {
    let label = format!("connection `{}` ({})", if c.name.is_empty() { &c.id } else { &c.name }, c.provider);
    let Some(provider) = names.provider(&c.provider).map(String::from) else {
        p.skip(format!("{label}: no provider `{}` here", c.provider));
        return;
    };
    match c.auth_type.as_str() {
        "apikey" => {
            let Some(key) = secret(p, &label, "API key", c.api_key.as_ref(), keys) else {
                if c.api_key.is_none() {
                    p.skip(format!("{label}: no API key stored"));
                }
                return;
            };
            let extra: Vec<String> = c.data["extraApiKeys"]
                .as_array()
                .map(|a| a.iter().filter_map(|k| k.as_str().map(String::from)).collect())
                .unwrap_or_default();
            let base = clean(&c.name);
            for (n, k) in std::iter::once(key).chain(extra).enumerate() {
                let name = unique(used, &provider, &if n == 0 { base.clone() } else { format!("{base}-extra-{n}") });
                let mut body = json!({"provider": provider, "name": name, "api_key": k, "priority": c.priority.max(0),
                    "enabled": c.active});
                if let Some(m) = c.max_concurrent.filter(|m| *m > 0) {
                    body["max_concurrent"] = json!(m);
                }
                p.post(format!("account {provider}/{name}"), "/accounts", body);
            }
        }
        "cookie" => p.skip(format!("{label}: web-session (cookie) connections have no equal here")),
        _ if !sign_ins => p.skip(format!(
            "{label}: a subscription sign-in; pass --move-sign-ins to move it (OmniRoute's copy stops working at the first refresh)"
        )),
        _ => sign_in(p, c, &provider, &label, keys),
    }
}

/// A sign-in as the official CLI's credential file the import endpoint reads.
pub fn credential_file(
    provider: &str,
    access: &str,
    refresh: &str,
    id_token: Option<&str>,
    c: &Connection,
) -> Option<Value> {
    let expires = c.expires_at.as_deref().and_then(crate::oauth::import::parse_time);
    match provider {
        "codex" => Some(json!({"tokens": {"access_token": access, "refresh_token": refresh, "id_token": id_token,
            "account_id": c.data["workspaceId"]}, "last_refresh": null})),
        "claude-code" => Some(json!({"claudeAiOauth": {"accessToken": access, "refreshToken": refresh,
            "expiresAt": expires, "subscriptionType": c.data["plan"]}})),
        _ => None,
    }
}

fn sign_in(p: &mut Plan, c: &Connection, provider: &str, label: &str, keys: Option<&Keys>) {
    let access = secret(p, label, "access token", c.access_token.as_ref(), keys);
    let refresh = secret(p, label, "refresh token", c.refresh_token.as_ref(), keys);
    let id_token = c.id_token.as_ref().and_then(|t| match open(t, keys) {
        Stored::Plain(s) => Some(s),
        Stored::NeedsKey | Stored::WrongKey => None,
    });
    let (Some(access), Some(refresh)) = (access, refresh) else {
        if c.refresh_token.is_none() {
            p.skip(format!("{label}: no refresh token stored; sign in here with `omnigate accounts login {provider}`"));
        }
        return;
    };
    let Some(file) = credential_file(provider, &access, &refresh, id_token.as_deref(), c) else {
        p.skip(format!("{label}: moving a {provider} sign-in is not supported; sign in here with `omnigate accounts login {provider}`"));
        return;
    };
    let name = clean(if c.email.is_empty() { &c.name } else { &c.email });
    p.post(
        format!("sign-in {provider}/{name}"),
        &format!("/oauth/{provider}/import"),
        json!({"credentials": file, "name": name}),
    );
}

fn prices(p: &mut Plan, names: &Names, src: &Source) {
    for (_, provider, v) in src.kv.iter().filter(|(ns, _, _)| ns == "pricing") {
        let Some(here) = names.provider(provider) else {
            p.skip(format!("prices of `{provider}`: no such provider here"));
            continue;
        };
        for (model, price) in v.as_object().into_iter().flatten() {
            let (Some(input), Some(output)) = (price["input"].as_f64(), price["output"].as_f64()) else {
                p.skip(format!("price of {provider}/{model}: no input and output price"));
                continue;
            };
            let mut body = json!({"provider": here, "model": model, "input": input, "output": output});
            for (from, to) in [("cached", "cache_read"), ("cache_creation", "cache_write"), ("reasoning", "reasoning")]
            {
                if let Some(x) = price[from].as_f64() {
                    body[to] = json!(x);
                }
            }
            p.calls.push(Call { what: format!("price {here}/{model}"), put: true, path: "/pricing".into(), body });
        }
    }
}

fn aliases(p: &mut Plan, names: &Names, src: &Source) {
    for (_, key, v) in src.kv.iter().filter(|(ns, _, _)| ns == "modelAliases") {
        let target = match v {
            Value::String(s) => s.clone(),
            Value::Object(o) => format!(
                "{}/{}",
                o.get("provider").and_then(Value::as_str).unwrap_or(""),
                o.get("model").and_then(Value::as_str).unwrap_or("")
            ),
            _ => continue,
        };
        // Older OmniRoute dashboards stored these the other way round: model → alias.
        let (alias, target) =
            if key.contains('/') && !target.contains('/') { (target, key.clone()) } else { (key.clone(), target) };
        if alias.contains(['*', '?']) {
            p.skip(format!("alias `{alias}`: wildcard aliases have no equal here"));
            continue;
        }
        match names.model(&target) {
            Some(t) => p.post(format!("alias {alias}"), "/aliases", json!({"alias": alias, "target": t})),
            None => p.skip(format!("alias `{alias}` → `{target}`: no such provider here")),
        }
    }
}

fn combos(p: &mut Plan, names: &Names, src: &Source) {
    let all: HashSet<&str> = src.combos.iter().map(|(n, _)| n.as_str()).collect();
    let mut made: HashSet<String> = HashSet::new();
    // Referenced combos first (OmniRoute allows nesting; a cycle is left out with its reason).
    let mut left: Vec<&(String, Value)> = src.combos.iter().collect();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|(name, data)| {
            let steps = data["models"].as_array().cloned().unwrap_or_default();
            let refs: Vec<String> = steps.iter().filter_map(|s| combo_ref(s, &all)).collect();
            if refs.iter().any(|r| !made.contains(&clean(r)) && all.contains(r.as_str())) {
                return true;
            }
            combo(p, names, name, data, &steps, &all);
            made.insert(clean(name));
            false
        });
        if left.len() == before {
            for (name, _) in left {
                p.skip(format!("combo `{name}`: it refers to itself through other combos"));
            }
            break;
        }
    }
}

/// The combo a step refers to: a `combo-ref` step, or a bare name that is a combo.
fn combo_ref(step: &Value, all: &HashSet<&str>) -> Option<String> {
    if step["kind"] == "combo-ref" {
        return step["comboName"].as_str().map(String::from);
    }
    let name = step.as_str().or_else(|| if step.get("provider").is_none() { step["model"].as_str() } else { None })?;
    all.contains(name).then(|| name.to_string())
}

fn combo(p: &mut Plan, names: &Names, name: &str, data: &Value, steps: &[Value], all: &HashSet<&str>) {
    let label = format!("combo `{name}`");
    let strategy = data["strategy"].as_str().unwrap_or("priority");
    let Some(strategy) = STRATEGIES.iter().find(|(a, _)| *a == strategy).map(|(_, b)| *b) else {
        p.skip(format!("{label}: strategy `{strategy}` has no equal here"));
        return;
    };
    let mut models = Vec::new();
    for step in steps {
        let weight = step["weight"].as_u64().filter(|w| *w > 0).unwrap_or(1);
        if let Some(r) = combo_ref(step, all) {
            models.push(json!({"model": clean(&r), "weight": weight}));
            continue;
        }
        let full =
            match (step.as_str(), step["model"].as_str(), step["provider"].as_str().or(step["providerId"].as_str())) {
                (Some(s), _, _) => s.to_string(),
                (None, Some(m), Some(prov)) if !m.contains('/') => format!("{prov}/{m}"),
                (None, Some(m), _) => m.to_string(),
                _ => continue,
            };
        match names.model(&full) {
            Some(m) => models.push(json!({"model": m, "weight": weight})),
            None => p.skip(format!("{label}: target `{full}` left out (no such provider here)")),
        }
        if step.get("connectionId").is_some_and(|v| !v.is_null()) {
            p.skip(format!("{label}: target `{full}` was pinned to one account; here it uses the provider's accounts"));
        }
    }
    if models.is_empty() {
        p.skip(format!("{label}: none of its targets maps"));
        return;
    }
    let body = json!({"name": clean(name), "strategy": strategy, "models": models});
    p.post(format!("combo {}", clean(name)), "/combos", body);
}

fn key(p: &mut Plan, names: &Names, k: &Key) {
    let label = format!("key `{}`", k.name);
    if !k.usable {
        p.skip(format!("{label}: revoked, disabled or banned there"));
        return;
    }
    if k.key.len() < 8 {
        p.skip(format!("{label}: no usable key stored"));
        return;
    }
    let mut limits = json!({});
    // Every per-minute limit there applied: the strictest one.
    let rpm = k.rate_limits.iter().filter(|(_, w)| *w == 60).map(|(l, _)| *l).chain(k.per_minute).min();
    if let Some(rpm) = rpm {
        limits["rpm"] = json!(rpm);
    }
    if k.rate_limits.iter().any(|(_, w)| *w != 60) {
        p.skip(format!("{label}: rate limits over windows other than a minute"));
    }
    // One budget per key here: the shortest period set.
    let periods = ["day", "week", "month"];
    if let Some((i, usd)) = k.budget.iter().enumerate().find(|(_, v)| **v > 0.0) {
        limits["budget"] = json!({"usd": usd, "period": periods[i]});
        for (j, v) in k.budget.iter().enumerate().skip(i + 1) {
            if *v > 0.0 {
                p.skip(format!(
                    "{label}: its ${v:.2} per {} budget (one budget per key here: ${usd:.2} per {})",
                    periods[j], periods[i]
                ));
            }
        }
    }
    for what in &k.unmapped {
        p.skip(format!("{label}: its {what}"));
    }
    if k.expires_at.is_some() {
        p.skip(format!("{label}: its expiry (keys here do not expire; revoke it when due)"));
    }
    let mut models: Vec<String> = Vec::new();
    for m in &k.allowed_models {
        match names.model(m) {
            Some(here) => models.push(here),
            None if m == "*" => models.push(m.clone()),
            None => p.skip(format!("{label}: its allowed model `{m}` (no such provider here)")),
        }
    }
    if k.allowed_models.is_empty() {
        models.push("*".into());
    } else if models.is_empty() {
        p.skip(format!("{label}: none of its allowed models maps"));
        return;
    }
    let body = json!({"name": clean(&k.name), "key": k.key, "models": models, "limits": limits});
    p.post(format!("key {}", clean(&k.name)), "/keys", body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::Kind;

    fn codex_row() -> Connection {
        Connection {
            provider: "codex".into(),
            expires_at: Some("2026-12-31T12:00:00.000Z".into()),
            data: json!({"workspaceId": "ws-fixture-0001"}),
            ..Connection::default()
        }
    }

    #[test]
    fn a_moved_sign_in_is_a_credential_file_the_import_reads() {
        let file = credential_file("codex", "at", "rt", Some("idt"), &codex_row()).expect("codex");
        let g = crate::oauth::import::parse(Kind::Codex, &file.to_string(), 0).expect("Codex's auth.json shape");
        assert_eq!((g.access.as_str(), g.refresh.as_deref()), ("at", Some("rt")));
        assert_eq!(g.extra["account_id"], "ws-fixture-0001");
        let row = Connection { provider: "claude".into(), data: json!({"plan": "max"}), ..codex_row() };
        let file = credential_file("claude-code", "at", "rt", None, &row).expect("claude");
        let g = crate::oauth::import::parse(Kind::ClaudeCode, &file.to_string(), 0).expect("Claude Code's shape");
        assert_eq!((g.refresh.as_deref(), g.expires_at), (Some("rt"), Some(1_798_718_400_000)));
        assert_eq!(g.extra["plan"], "max");
        assert!(credential_file("github-copilot", "at", "rt", None, &row).is_none());
    }

    #[test]
    fn names_become_ids_and_prefixes_map_through_aliases() {
        assert_eq!(clean("OpenAI backup (disabled)"), "openai-backup-disabled");
        assert_eq!(clean("  dev@example.com "), "dev-example.com");
        let names = Names { map: PROVIDERS.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect() };
        assert_eq!(names.model("cc/claude-opus-4-6").as_deref(), Some("claude-code/claude-opus-4-6"));
        assert_eq!(names.model("ds/deepseek-chat").as_deref(), Some("deepseek/deepseek-chat"));
        assert_eq!(names.model("nowhere/x"), None);
        assert_eq!(names.model("no-slash"), None);
    }
}
