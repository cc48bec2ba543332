//! Codex's non-function tools — a `custom` tool with free-form input (its `apply_patch`) and the
//! `local_shell` tool — as function tools any provider can call, and their calls back as the items
//! Codex expects (`custom_tool_call` with `input`, `local_shell_call` with an `exec` action).

use serde_json::{Value, json};

use crate::translate::canonical::{Part, Tool, ToolKind, new_id};
use crate::translate::json::str_of;

/// The function that stands for a `custom` tool: one string argument, the grammar (when the tool
/// has one) in the description, so the model writes input the tool accepts.
pub fn custom(t: &Value) -> Result<Tool, String> {
    let name = str_of(t, "name").ok_or("a custom tool needs a `name`")?.to_string();
    let mut description = str_of(t, "description").unwrap_or_default().to_string();
    let format = &t["format"];
    if let Some(def) = str_of(format, "definition") {
        let syntax = str_of(format, "syntax").unwrap_or("grammar");
        description.push_str(&format!(
            "\n\nPut the whole input in `input` as plain text; it must match this {syntax} grammar:\n{def}"
        ));
    }
    Ok(Tool {
        name,
        description: Some(description.trim().to_string()),
        parameters: json!({"type": "object", "properties": {"input": {"type": "string", "description": "The tool's input, as free-form text."}}, "required": ["input"]}),
        kind: ToolKind::Custom,
    })
}

/// The function that stands for the `local_shell` tool.
pub fn local_shell() -> Tool {
    Tool {
        name: "local_shell".into(),
        description: Some("Runs a command on the user's machine and returns its output.".into()),
        parameters: json!({"type": "object", "properties": {
            "command": {"type": "array", "items": {"type": "string"}, "description": "The program and its arguments."},
            "workdir": {"type": "string", "description": "The working directory."},
            "timeout_ms": {"type": "integer", "description": "How long the command may run."}},
            "required": ["command"]}),
        kind: ToolKind::LocalShell,
    }
}

/// A `custom_tool_call` or `local_shell_call` item of the history, as a canonical call.
pub fn call_part(it: &Value) -> Part {
    let call_id = str_of(it, "call_id").map(str::to_string).unwrap_or_else(|| new_id("call_"));
    match str_of(it, "type") {
        Some("custom_tool_call") => Part::ToolCall {
            id: call_id,
            name: str_of(it, "name").unwrap_or_default().to_string(),
            arguments: json!({"input": str_of(it, "input").unwrap_or_default()}).to_string(),
            signature: None,
        },
        _ => {
            let a = &it["action"];
            let mut args = json!({"command": a["command"]});
            for k in ["workdir", "timeout_ms"] {
                if let Some(v) = a.get(k).filter(|v| !v.is_null()) {
                    args[k] = v.clone();
                }
            }
            Part::ToolCall { id: call_id, name: "local_shell".into(), arguments: args.to_string(), signature: None }
        }
    }
}

/// The item Codex expects for a call of a tool it declared as `kind`.
pub fn item(kind: ToolKind, call_id: &str, name: &str, arguments: &str) -> Value {
    let args: Value = serde_json::from_str(arguments).unwrap_or(Value::Null);
    match kind {
        ToolKind::Custom => json!({
            "id": new_id("ctc_"), "type": "custom_tool_call", "status": "completed", "call_id": call_id, "name": name,
            // A model that wrote the input outside `input` still has it delivered.
            "input": args.get("input").and_then(Value::as_str).map_or_else(|| arguments.to_string(), str::to_string),
        }),
        ToolKind::LocalShell => json!({
            "id": new_id("lsh_"), "type": "local_shell_call", "status": "completed", "call_id": call_id,
            "action": {"type": "exec", "command": args.get("command").cloned().unwrap_or_else(|| json!([])),
                       "workdir": args.get("workdir").cloned().unwrap_or(Value::Null),
                       "timeout_ms": args.get("timeout_ms").cloned().unwrap_or(Value::Null),
                       "env": {}, "user": null},
        }),
        ToolKind::Function => json!({
            "id": new_id("fc_"), "type": "function_call", "status": "completed", "call_id": call_id, "name": name, "arguments": arguments
        }),
    }
}

/// The kind of the tool `name` among the client's declared ones.
pub fn kind_of(kinds: &[(String, ToolKind)], name: &str) -> ToolKind {
    kinds.iter().find(|(n, _)| n == name).map_or(ToolKind::Function, |(_, k)| *k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codex_tools_round_trip_through_functions() {
        let t = custom(&json!({"type": "custom", "name": "apply_patch", "description": "Edit files.",
                               "format": {"type": "grammar", "syntax": "lark", "definition": "start: \"*** Begin Patch\""}}))
            .expect("custom");
        assert_eq!(t.kind, ToolKind::Custom);
        assert!(t.description.as_deref().is_some_and(|d| d.contains("lark grammar") && d.contains("Begin Patch")));
        let it = item(ToolKind::Custom, "call_1", "apply_patch", r#"{"input":"*** Begin Patch\n*** End Patch"}"#);
        assert_eq!(
            (it["type"].as_str(), it["input"].as_str()),
            (Some("custom_tool_call"), Some("*** Begin Patch\n*** End Patch"))
        );
        let back = call_part(&it);
        assert!(matches!(back, Part::ToolCall { ref arguments, .. } if arguments.contains("Begin Patch")));
        let it = item(ToolKind::LocalShell, "call_2", "local_shell", r#"{"command":["ls","-la"],"workdir":"/tmp"}"#);
        assert_eq!(it["action"]["command"], json!(["ls", "-la"]));
        assert!(matches!(call_part(&it), Part::ToolCall { ref name, .. } if name == "local_shell"));
    }
}
