//! The component schemas of the admin API document: the JSON shapes the read-side and
//! playground routes answer (kept beside their handlers' `json!` by the integration tests, which
//! check real answers against the required fields here).

use serde_json::{Map, Value, json};

fn int() -> Value {
    json!({"type": "integer"})
}

fn int_or_null() -> Value {
    json!({"type": ["integer", "null"]})
}

fn string() -> Value {
    json!({"type": "string"})
}

fn string_or_null() -> Value {
    json!({"type": ["string", "null"]})
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn array_of(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

/// An object whose listed properties are all required.
fn object(props: &[(&str, Value)]) -> Value {
    let mut p = Map::new();
    for (k, v) in props {
        p.insert((*k).to_string(), v.clone());
    }
    let required: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
    json!({"type": "object", "properties": p, "required": required})
}

fn counts_props() -> Vec<(&'static str, Value)> {
    vec![
        ("requests", int()),
        ("errors", int()),
        ("input_tokens", int()),
        ("output_tokens", int()),
        ("cache_read_tokens", int()),
        ("cache_write_tokens", int()),
        ("reasoning_tokens", int()),
        ("cost", json!({"type": "number", "description": "USD of the priced and estimated rows"})),
        ("list_cost", json!({"type": "number", "description": "USD subscription rows would cost at list price"})),
        ("unpriced_requests", json!({"type": "integer", "description": "rows with tokens but no price"})),
    ]
}

/// The fields of one usage row as the request log shows it.
pub fn request_summary_props() -> Vec<(&'static str, Value)> {
    vec![
        ("id", int()),
        ("ts", int()),
        ("request_id", string()),
        ("key_name", string_or_null()),
        ("client_dialect", string()),
        ("provider", string_or_null()),
        ("account", string_or_null()),
        ("model", string()),
        ("status", int()),
        ("error", string_or_null()),
        ("input_tokens", int()),
        ("output_tokens", int()),
        ("cache_read_tokens", int()),
        ("cache_write_tokens", int()),
        ("reasoning_tokens", int()),
        ("total_tokens", int()),
        ("cost_usd", json!({"type": ["number", "null"], "description": "null: unpriced"})),
        ("list_cost_usd", json!({"type": ["number", "null"], "description": "a subscription row at list price"})),
        (
            "cost_source",
            json!({"type": "string", "enum": ["priced", "estimated", "unpriced", "subscription", "cache"]}),
        ),
        ("latency_ms", int()),
        ("ttfb_ms", int_or_null()),
        ("streamed", json!({"type": "boolean"})),
        ("attempts", int()),
        (
            "path",
            json!({"type": "string", "description": "the surface asked: /v1/chat/completions, /v1/completions, /v1/rerank, ..."}),
        ),
        (
            "units",
            json!({"type": ["number", "null"], "description": "what a surface billed per unit measured (images, audio seconds, characters)"}),
        ),
        ("unit", json!({"type": ["string", "null"], "enum": ["image", "second", "character", null]})),
    ]
}

fn percentiles() -> Value {
    json!({"oneOf": [object(&[("p50", int()), ("p95", int()), ("p99", int())]), {"type": "null"}]})
}

/// Every component schema, by name.
pub fn all() -> Value {
    let mut detail = request_summary_props();
    detail.extend([
        ("method", string_or_null()),
        ("path", string_or_null()),
        ("detail_logged", json!({"type": "boolean"})),
        ("trace", array_of(reference("Attempt"))),
        ("transforms", array_of(string())),
    ]);
    let mut at = vec![("ts", int())];
    at.extend(counts_props());
    let dialect = json!({"type": "string", "enum": ["openai-chat", "openai-responses", "anthropic", "gemini"]});
    json!({
        "Error": object(&[("error", object(&[("message", string()), ("type", string())]))]),
        "Login": object(&[
            ("username", json!({"type": "string", "description": "a dashboard user; absent or `admin`: the bootstrap admin"})),
            ("password", string()),
        ]),
        "User": object(&[
            ("name", string()),
            ("role", json!({"type": "string", "enum": ["admin", "viewer"]})),
            ("builtin", json!({"type": "boolean", "description": "the bootstrap admin (cannot be deleted or demoted)"})),
            ("created_at", int_or_null()),
            ("updated_at", int_or_null()),
        ]),
        "UserList": array_of(reference("User")),
        "NewUser": object(&[
            ("name", string()),
            ("role", json!({"type": "string", "enum": ["admin", "viewer"]})),
            ("password", json!({"type": "string", "minLength": 8})),
        ]),
        "UserPatch": object(&[
            ("role", json!({"type": "string", "enum": ["admin", "viewer"]})),
            ("password", json!({"type": "string", "minLength": 8})),
        ]),
        "RequestSummary": object(&request_summary_props()),
        "RequestPage": object(&[("items", array_of(reference("RequestSummary"))), ("next_cursor", int_or_null())]),
        "Attempt": object(&[
            ("n", int()),
            ("provider", string()),
            ("account", string()),
            ("outcome", string()),
            ("status", int_or_null()),
            ("ms", int()),
            ("error", string_or_null()),
        ]),
        "RequestDetail": object(&detail),
        "Counts": object(&counts_props()),
        "CountsAt": object(&at),
        "UsageGroup": object(&[
            ("key", string_or_null()),
            ("totals", reference("Counts")),
            ("buckets", array_of(reference("CountsAt"))),
        ]),
        "UsageSummary": object(&[
            ("window", string()),
            ("bucket", string()),
            ("by", string_or_null()),
            ("from", int()),
            ("to", int()),
            ("bucket_ms", int()),
            ("totals", reference("Counts")),
            ("buckets", array_of(reference("CountsAt"))),
            ("groups", array_of(reference("UsageGroup"))),
        ]),
        "ProviderHealth": object(&[
            ("id", string()),
            ("dialect", string_or_null()),
            ("breaker", object(&[
                ("state", json!({"type": "string", "enum": ["closed", "open", "half-open"]})),
                ("open_until", int()),
                ("failures", int()),
                ("trips", int()),
            ])),
            ("accounts", int()),
            ("available_accounts", int()),
            ("requests", int()),
            ("errors", int()),
            ("samples", int()),
            ("sampled", json!({"type": "boolean"})),
            ("latency_ms", percentiles()),
            ("ttfb_ms", percentiles()),
        ]),
        "AccountHealth": object(&[
            ("id", int()),
            ("provider", string()),
            ("name", string()),
            ("enabled", json!({"type": "boolean"})),
            ("priority", int()),
            ("in_flight", int()),
            ("leases", int()),
            ("last_used_at", int()),
            ("backoff_level", int()),
            ("cooldown", json!({"oneOf": [object(&[("until", int()), ("reason", string_or_null())]), {"type": "null"}]})),
            ("model_lockouts", array_of(object(&[("model", string()), ("until", int())]))),
            ("available", json!({"type": "boolean"})),
        ]),
        "Health": object(&[
            ("now", int()),
            ("window_ms", int()),
            ("providers", array_of(reference("ProviderHealth"))),
            ("accounts", array_of(reference("AccountHealth"))),
            ("executor", object(&[("restarts", int()), ("faults", int()), ("dropped_frames", int())])),
            // Several instances on one PostgreSQL: those with a recent heartbeat; null on SQLite.
            (
                "instances",
                json!({"oneOf": [array_of(object(&[
                    ("id", string()),
                    ("version", string()),
                    ("address", string()),
                    ("started_at", int()),
                    ("last_seen_at", int()),
                ])), {"type": "null"}]}),
            ),
        ]),
        "PlaygroundRequest": {
            "type": "object",
            "required": ["dialect", "model"],
            "properties": {
                "dialect": dialect,
                "model": string(),
                "stream": {"type": "boolean", "default": true},
                "message": string(),
                "system": string(),
                "max_tokens": int(),
                "body": {"type": "object", "description": "a whole client body in `dialect`; `model` and `stream` above win"},
            },
        },
        "PlaygroundPreview": object(&[
            ("model", string()),
            ("client_dialect", string()),
            ("client_body", json!({"type": "object"})),
            ("stream", json!({"type": "boolean"})),
            ("target", string()),
            ("fallbacks", array_of(string())),
            ("provider", string()),
            ("upstream_model", string()),
            ("account", string_or_null()),
            ("upstream_dialect", string()),
            ("mode", json!({"type": "string", "enum": ["passthrough", "translate"]})),
            ("method", string_or_null()),
            ("url", string_or_null()),
            ("path", string_or_null()),
            ("headers", json!({"type": "object", "additionalProperties": {"type": "string"}})),
            ("body", json!({})),
        ]),
    })
}
