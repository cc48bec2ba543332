//! A client's own body on its way to a provider of its dialect, mended where every provider of
//! that dialect would refuse it and the client's intent is plain: an assistant turn's empty
//! content array (Cursor sends `content: []` beside tool calls; OpenAI wants null), and a Gemini
//! function declaration's array schema without `items`. Bodies without either are untouched
//! (a byte scan first, no parse).

use serde_json::{Value, json};

use crate::protocol::Dialect;
use crate::protocol::raw::RawObject;

/// Mends `body` for a provider of `dialect`.
pub fn mend(dialect: Dialect, body: &mut RawObject) {
    match dialect {
        Dialect::OpenaiChat => empty_assistant_content(body),
        Dialect::Gemini => array_items(body),
        Dialect::Anthropic | Dialect::OpenaiResponses => {}
    }
}

fn empty_assistant_content(body: &mut RawObject) {
    let Some(raw) = body.get("messages") else { return };
    let text = raw.get();
    if !text.contains("\"content\":[]") && !text.contains("\"content\": []") {
        return;
    }
    let Some(mut messages) = body.parse::<Value>("messages") else { return };
    for m in messages.as_array_mut().into_iter().flatten() {
        if m["role"] == "assistant" && m["content"].as_array().is_some_and(Vec::is_empty) {
            m["content"] = Value::Null;
        }
    }
    body.set("messages", &messages);
}

fn array_items(body: &mut RawObject) {
    let Some(raw) = body.get("tools") else { return };
    if !raw.get().to_ascii_lowercase().contains("\"array\"") {
        return;
    }
    let Some(mut tools) = body.parse::<Value>("tools") else { return };
    for t in tools.as_array_mut().into_iter().flatten() {
        for key in ["functionDeclarations", "function_declarations"] {
            for d in t.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten() {
                if let Some(p) = d.get_mut("parameters") {
                    add_items(p);
                }
            }
        }
    }
    body.set("tools", &tools);
}

/// Gives every array schema without `items` an items schema (the same one `schema::clean` uses).
pub fn add_items(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else { return };
    let is_array = obj.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("array"));
    if is_array && !obj.contains_key("items") {
        obj.insert("items".into(), json!({"type": "string"}));
    }
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        props.values_mut().for_each(add_items);
    }
    if let Some(items) = obj.get_mut("items") {
        add_items(items);
    }
    for key in ["anyOf", "any_of"] {
        for alt in obj.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten() {
            add_items(alt);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_every_provider_refuses_is_mended_and_nothing_else() {
        let mut b: RawObject = serde_json::from_str(
            r#"{"messages":[{"role":"user","content":[]},{"role":"assistant","content":[],"tool_calls":[]}]}"#,
        )
        .unwrap_or_default();
        mend(Dialect::OpenaiChat, &mut b);
        let m: Value = b.parse("messages").unwrap_or_default();
        assert_eq!((m[0]["content"].clone(), m[1]["content"].clone()), (json!([]), Value::Null));
        let mut b: RawObject = serde_json::from_str(
            r#"{"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{"tags":{"type":"ARRAY"},"ok":{"type":"ARRAY","items":{"type":"INTEGER"}}}}}]}]}"#,
        )
        .unwrap_or_default();
        mend(Dialect::Gemini, &mut b);
        let t: Value = b.parse("tools").unwrap_or_default();
        let props = &t[0]["functionDeclarations"][0]["parameters"]["properties"];
        assert_eq!(
            (props["tags"]["items"].clone(), props["ok"]["items"].clone()),
            (json!({"type": "string"}), json!({"type": "INTEGER"}))
        );
    }
}
