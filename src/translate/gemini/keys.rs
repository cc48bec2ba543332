//! The Gemini REST API accepts its field names in snake_case as well as camelCase (proto3 JSON),
//! and clients use both (`system_instruction`, `inline_data`, `function_call`...). Requests are
//! read after renaming the protocol's own snake_case keys to camelCase — never the keys of user
//! data (function arguments and results, a schema's property names).

use serde_json::{Map, Value};

/// Protocol keys spelled in snake_case, and their camelCase.
const KEYS: &[(&str, &str)] = &[
    ("system_instruction", "systemInstruction"),
    ("generation_config", "generationConfig"),
    ("safety_settings", "safetySettings"),
    ("tool_config", "toolConfig"),
    ("function_calling_config", "functionCallingConfig"),
    ("allowed_function_names", "allowedFunctionNames"),
    ("function_declarations", "functionDeclarations"),
    ("parameters_json_schema", "parametersJsonSchema"),
    ("response_json_schema", "responseJsonSchema"),
    ("inline_data", "inlineData"),
    ("file_data", "fileData"),
    ("mime_type", "mimeType"),
    ("file_uri", "fileUri"),
    ("function_call", "functionCall"),
    ("function_response", "functionResponse"),
    ("thought_signature", "thoughtSignature"),
    ("max_output_tokens", "maxOutputTokens"),
    ("top_p", "topP"),
    ("top_k", "topK"),
    ("stop_sequences", "stopSequences"),
    ("candidate_count", "candidateCount"),
    ("presence_penalty", "presencePenalty"),
    ("frequency_penalty", "frequencyPenalty"),
    ("response_mime_type", "responseMimeType"),
    ("response_schema", "responseSchema"),
    ("thinking_config", "thinkingConfig"),
    ("thinking_budget", "thinkingBudget"),
    ("include_thoughts", "includeThoughts"),
    ("thinking_level", "thinkingLevel"),
    ("any_of", "anyOf"),
    ("max_items", "maxItems"),
    ("min_items", "minItems"),
    ("max_length", "maxLength"),
    ("min_length", "minLength"),
    ("max_properties", "maxProperties"),
    ("min_properties", "minProperties"),
    ("property_ordering", "propertyOrdering"),
    ("google_search", "googleSearch"),
    ("code_execution", "codeExecution"),
    ("cached_content", "cachedContent"),
    ("display_name", "displayName"),
];

/// Keys whose value is user data: nothing inside is renamed.
const OPAQUE: &[&str] = &["args", "response", "example", "default", "enum"];

/// The request with its protocol keys in camelCase.
pub fn camel(v: &Value) -> Value {
    walk(v, false)
}

fn walk(v: &Value, properties: bool) -> Value {
    match v {
        Value::Object(o) => {
            let mut out = Map::with_capacity(o.len());
            for (k, val) in o {
                // A schema's `properties` are named by the user; their values are schemas again.
                let key = if properties {
                    k.clone()
                } else {
                    KEYS.iter().find(|(s, _)| s == k).map_or_else(|| k.clone(), |(_, c)| (*c).to_string())
                };
                let inner = if properties {
                    walk(val, false)
                } else if OPAQUE.contains(&key.as_str()) {
                    val.clone()
                } else {
                    walk(val, key == "properties")
                };
                // A camelCase key wins over its snake_case twin.
                if !out.contains_key(&key) || k == &key {
                    out.insert(key, inner);
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, false)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn protocol_keys_are_renamed_user_data_is_not() {
        let v = json!({
            "system_instruction": {"parts": [{"text": "be brief"}]},
            "contents": [{"role": "model", "parts": [{"function_call": {"name": "f", "args": {"file_path": "/x", "max_items": 3}}, "thought_signature": "c2ln"}]},
                         {"role": "user", "parts": [{"inline_data": {"mime_type": "image/png", "data": "AA=="}}]}],
            "tools": [{"function_declarations": [{"name": "f", "parameters": {"type": "OBJECT",
                "properties": {"file_path": {"type": "STRING"}, "top_k": {"type": "INTEGER", "any_of": []}}}}]}],
            "generation_config": {"max_output_tokens": 100, "thinking_config": {"thinking_budget": 0}}
        });
        let c = camel(&v);
        assert_eq!(c["systemInstruction"]["parts"][0]["text"], "be brief");
        assert_eq!(c["contents"][0]["parts"][0]["functionCall"]["args"], json!({"file_path": "/x", "max_items": 3}));
        assert_eq!(c["contents"][0]["parts"][0]["thoughtSignature"], "c2ln");
        assert_eq!(c["contents"][1]["parts"][0]["inlineData"]["mimeType"], "image/png");
        let props = &c["tools"][0]["functionDeclarations"][0]["parameters"]["properties"];
        assert!(props.get("file_path").is_some() && props.get("top_k").is_some(), "{props}");
        assert!(props["top_k"].get("anyOf").is_some());
        assert_eq!(c["generationConfig"]["thinkingConfig"]["thinkingBudget"], 0);
    }
}
