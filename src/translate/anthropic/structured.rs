//! Anthropic structured outputs: `output_config.format` (GA; `output_format` in the beta) ↔ the
//! canonical response format, the schema subset the API accepts, and the system-prompt fallback
//! for models without constrained decoding (`json_by_prompt` rules).

use serde_json::{Map, Value, json};

use crate::translate::canonical::ResponseFormat;
use crate::translate::json::str_of;

/// Keywords the API refuses in a schema; the official SDKs move them into the description.
const MOVED: [&str; 9] = [
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "maxItems",
    "uniqueItems",
];

/// The instruction that stands for JSON mode, which the API does not have.
const JSON_OBJECT: &str = "Answer with a single JSON object and nothing else: no prose, no code fences.";

/// The response format a client body asks for.
pub fn decode(body: &Value) -> Option<ResponseFormat> {
    let f = body.get("output_config").and_then(|c| c.get("format")).or_else(|| body.get("output_format"))?;
    match str_of(f, "type") {
        Some("json_schema") => Some(ResponseFormat::JsonSchema {
            name: "response".into(),
            schema: f.get("schema").cloned().unwrap_or_else(|| json!({"type": "object"})),
        }),
        _ => None,
    }
}

/// Puts the response format into an outgoing body: a schema as `output_config.format`, JSON mode
/// (no schema to constrain to) as an instruction in the system prompt.
pub fn encode(format: &ResponseFormat, out: &mut Map<String, Value>) {
    match format {
        ResponseFormat::JsonObject => add_system(out, JSON_OBJECT),
        ResponseFormat::JsonSchema { schema, .. } => {
            let config = out.entry("output_config").or_insert_with(|| json!({}));
            config["format"] = json!({"type": "json_schema", "schema": accepted(schema)});
        }
    }
}

/// The schema in the subset the API accepts: every object closed (`additionalProperties: false`
/// is required), and the constraints it refuses moved into the description.
pub fn accepted(schema: &Value) -> Value {
    let mut s = schema.clone();
    close(&mut s);
    s
}

fn close(v: &mut Value) {
    match v {
        Value::Object(o) => {
            let mut moved = Vec::new();
            for k in MOVED {
                if let Some(x) = o.remove(k) {
                    moved.push(format!("{k}: {x}"));
                }
            }
            if o.get("minItems").and_then(Value::as_u64).is_some_and(|n| n > 1) {
                moved.push(format!("minItems: {}", o.remove("minItems").unwrap_or_default()));
            }
            if !moved.is_empty() {
                let d = o.get("description").and_then(Value::as_str).map(str::to_string);
                let note = format!("({})", moved.join(", "));
                o.insert("description".into(), json!(d.map_or(note.clone(), |d| format!("{d} {note}"))));
            }
            let is_object = o.get("type").and_then(Value::as_str) == Some("object") || o.contains_key("properties");
            if is_object {
                o.insert("additionalProperties".into(), json!(false));
            }
            for (k, child) in o.iter_mut() {
                // `enum` and `const` hold values, not schemas.
                if k != "enum" && k != "const" && k != "description" {
                    close(child);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(close),
        _ => {}
    }
}

fn add_system(out: &mut Map<String, Value>, text: &str) {
    let joined = match out.remove("system") {
        Some(Value::String(s)) if !s.is_empty() => json!(format!("{s}\n\n{text}")),
        Some(Value::Array(mut blocks)) => {
            blocks.push(json!({"type": "text", "text": text}));
            Value::Array(blocks)
        }
        _ => json!(text),
    };
    out.insert("system".into(), joined);
}

/// For a model without constrained decoding: the schema moves from `output_config.format` into
/// the system prompt (what the model can still follow).
pub fn to_prompt(out: &mut Map<String, Value>) {
    let schema = match out.get_mut("output_config").and_then(Value::as_object_mut) {
        Some(c) => match c.remove("format") {
            Some(f) => f.get("schema").cloned(),
            None => return,
        },
        None => return,
    };
    if out.get("output_config").and_then(Value::as_object).is_some_and(Map::is_empty) {
        out.remove("output_config");
    }
    let text = match schema {
        Some(s) => format!(
            "Answer with a single JSON value that follows this JSON Schema, and nothing else: no prose, no code fences.\n{s}"
        ),
        None => JSON_OBJECT.to_string(),
    };
    add_system(out, &text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_are_closed_and_refused_constraints_move_to_descriptions() {
        let s = json!({"type": "object", "properties": {
            "age": {"type": "integer", "minimum": 0, "maximum": 150, "description": "years"},
            "tags": {"type": "array", "minItems": 2, "items": {"type": "object", "properties": {"k": {"type": "string", "enum": ["a"]}}}}
        }, "required": ["age"]});
        let a = accepted(&s);
        assert_eq!(a["additionalProperties"], false);
        assert_eq!(a["properties"]["tags"]["items"]["additionalProperties"], false);
        assert_eq!(a["properties"]["age"]["description"], "years (minimum: 0, maximum: 150)");
        assert!(a["properties"]["age"].get("minimum").is_none());
        assert_eq!(a["properties"]["tags"]["description"], "(minItems: 2)");
        assert_eq!(a["properties"]["tags"]["items"]["properties"]["k"]["enum"], json!(["a"]));
        assert_eq!(a["required"], json!(["age"]));
    }

    #[test]
    fn the_prompt_fallback_keeps_the_schema_and_other_output_settings() {
        let mut out = Map::new();
        out.insert("system".into(), json!("Be brief."));
        out.insert("output_config".into(), json!({"effort": "low"}));
        encode(&ResponseFormat::JsonSchema { name: "r".into(), schema: json!({"type": "object"}) }, &mut out);
        assert_eq!(out["output_config"]["format"]["type"], "json_schema");
        to_prompt(&mut out);
        assert_eq!(out["output_config"], json!({"effort": "low"}));
        let sys = out["system"].as_str().unwrap_or_default();
        assert!(sys.starts_with("Be brief.\n\nAnswer with a single JSON value"), "{sys}");
        assert!(sys.contains(r#""additionalProperties":false"#), "{sys}");
    }
}
