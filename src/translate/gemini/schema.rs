//! Cleans a JSON Schema into the OpenAPI subset Gemini accepts for function parameters: drops
//! `$schema`, `additionalProperties`, `$comment` and every other unknown key, keeps `enum` only on
//! strings, turns type arrays into `nullable`, `const` into a one-value enum, `oneOf` into `anyOf`,
//! and inlines local `$ref`s.

use serde_json::{Map, Value};

const KEEP: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "items",
    "properties",
    "required",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "default",
    "example",
    "anyOf",
    "propertyOrdering",
];

/// A standard JSON Schema from a Gemini one (google-genai writes the OpenAPI style: upper-case
/// `OBJECT`, `nullable`, `anyOf` with a null member), for dialects that want JSON Schema.
pub fn to_json_schema(schema: &Value) -> Value {
    let Value::Object(obj) = schema else { return schema.clone() };
    let mut out = Map::new();
    let nullable = obj.get("nullable").and_then(Value::as_bool) == Some(true);
    for (k, v) in obj {
        match k.as_str() {
            "type" => {
                let t = v.as_str().map(str::to_ascii_lowercase).map_or_else(|| v.clone(), Value::String);
                let t = match (nullable, t) {
                    (true, Value::String(s)) if s != "null" => Value::Array(vec![Value::String(s), "null".into()]),
                    (_, t) => t,
                };
                out.insert(k.clone(), t);
            }
            "nullable" | "propertyOrdering" => {}
            "properties" => {
                if let Value::Object(props) = v {
                    let p = props.iter().map(|(n, s)| (n.clone(), to_json_schema(s))).collect();
                    out.insert(k.clone(), Value::Object(p));
                }
            }
            "items" => {
                out.insert(k.clone(), to_json_schema(v));
            }
            "anyOf" => {
                let alts: Vec<Value> = v.as_array().into_iter().flatten().map(to_json_schema).collect();
                out.insert(k.clone(), Value::Array(alts));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    if nullable
        && !obj.contains_key("type")
        && let Some(Value::Array(alts)) = out.get_mut("anyOf")
    {
        alts.push(serde_json::json!({"type": "null"}));
    }
    Value::Object(out)
}

/// A schema Gemini will accept.
pub fn clean(schema: &Value) -> Value {
    let defs = schema.get("$defs").or_else(|| schema.get("definitions")).cloned().unwrap_or(Value::Null);
    clean_node(schema, &defs, 0)
}

fn resolve<'a>(reference: &str, defs: &'a Value) -> Option<&'a Value> {
    let name = reference.strip_prefix("#/$defs/").or_else(|| reference.strip_prefix("#/definitions/"))?;
    defs.get(name)
}

fn clean_node(node: &Value, defs: &Value, depth: usize) -> Value {
    let Value::Object(obj) = node else { return node.clone() };
    if depth > 16 {
        return Value::Object(Map::from_iter([("type".to_string(), Value::String("object".into()))]));
    }
    if let Some(target) = obj.get("$ref").and_then(Value::as_str).and_then(|r| resolve(r, defs)) {
        let mut merged = clean_node(target, defs, depth + 1);
        if let (Value::Object(m), Some(d)) = (&mut merged, obj.get("description")) {
            m.insert("description".into(), d.clone());
        }
        return merged;
    }
    let mut out = Map::new();
    // Type: a list like ["string", "null"] becomes "string" + nullable.
    let mut ty = obj.get("type").cloned();
    if let Some(Value::Array(types)) = &ty {
        let non_null: Vec<&Value> = types.iter().filter(|t| t.as_str() != Some("null")).collect();
        if non_null.len() < types.len() {
            out.insert("nullable".into(), Value::Bool(true));
        }
        ty = non_null.first().map(|t| (*t).clone());
    }
    if ty.is_none() && obj.contains_key("const") {
        ty = Some(Value::String("string".into()));
    }
    let is_string = ty.as_ref().and_then(Value::as_str) == Some("string");
    for (k, v) in obj {
        match k.as_str() {
            "type" => {}
            "properties" => {
                if let Value::Object(props) = v {
                    let cleaned: Map<String, Value> =
                        props.iter().map(|(name, p)| (name.clone(), clean_node(p, defs, depth + 1))).collect();
                    out.insert(k.clone(), Value::Object(cleaned));
                }
            }
            "items" => {
                out.insert(k.clone(), clean_node(v, defs, depth + 1));
            }
            "anyOf" | "oneOf" => {
                if let Value::Array(alts) = v {
                    let cleaned: Vec<Value> = alts
                        .iter()
                        .filter(|a| a.get("type").and_then(Value::as_str) != Some("null"))
                        .map(|a| clean_node(a, defs, depth + 1))
                        .collect();
                    if cleaned.len() < alts.len() {
                        out.insert("nullable".into(), Value::Bool(true));
                    }
                    out.insert("anyOf".into(), Value::Array(cleaned));
                }
            }
            "enum" if is_string => {
                let strings: Vec<Value> =
                    v.as_array().into_iter().flatten().filter(|e| e.is_string()).cloned().collect();
                if !strings.is_empty() {
                    out.insert(k.clone(), Value::Array(strings));
                }
            }
            "enum" => {}
            "const" => {
                if let Some(s) = v.as_str() {
                    out.insert("enum".into(), Value::Array(vec![Value::String(s.into())]));
                }
            }
            "format" => {
                // Gemini knows only these string formats; others are dropped rather than refused.
                let keep = match v.as_str() {
                    Some("enum") | Some("date-time") => is_string,
                    Some("int32") | Some("int64") | Some("float") | Some("double") => !is_string,
                    _ => false,
                };
                if keep {
                    out.insert(k.clone(), v.clone());
                }
            }
            "required" => {
                if let Value::Array(req) = v {
                    let present: Vec<Value> = req
                        .iter()
                        .filter(|r| r.as_str().is_some_and(|n| obj.get("properties").and_then(|p| p.get(n)).is_some()))
                        .cloned()
                        .collect();
                    if !present.is_empty() {
                        out.insert(k.clone(), Value::Array(present));
                    }
                }
            }
            key if KEEP.contains(&key) => {
                out.insert(k.clone(), v.clone());
            }
            _ => {}
        }
    }
    // Gemini refuses an array schema without `items`; JSON Schema allows it (any item).
    if ty.as_ref().and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("array"))
        && !out.contains_key("items")
    {
        out.insert("items".into(), serde_json::json!({"type": "string"}));
    }
    if let Some(t) = ty {
        out.insert("type".into(), t);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn strips_what_gemini_rejects() {
        let s = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "additionalProperties": false,
            "$comment": "x",
            "properties": {
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "level": {"type": "integer", "enum": [1, 2, 3], "exclusiveMinimum": 0},
                "maybe": {"type": ["string", "null"], "format": "email"},
                "kind": {"const": "fixed"},
                "nested": {"$ref": "#/$defs/Inner"},
                "list": {"type": "array", "items": {"type": "object", "additionalProperties": true, "properties": {"a": {"type": "number", "format": "double"}}}},
                "either": {"oneOf": [{"type": "string"}, {"type": "null"}]}
            },
            "required": ["unit", "ghost"],
            "$defs": {"Inner": {"type": "object", "properties": {"x": {"type": "string"}}, "additionalProperties": false}}
        });
        let c = clean(&s);
        assert_eq!(
            c,
            json!({
                "type": "object",
                "properties": {
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "level": {"type": "integer"},
                    "maybe": {"type": "string", "nullable": true},
                    "kind": {"type": "string", "enum": ["fixed"]},
                    "nested": {"type": "object", "properties": {"x": {"type": "string"}}},
                    "list": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "number", "format": "double"}}}},
                    "either": {"anyOf": [{"type": "string"}], "nullable": true}
                },
                "required": ["unit"]
            })
        );
    }
}
