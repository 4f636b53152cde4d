//! Actions: one tool call, read leniently from the shapes agents and LLM APIs emit.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One tool call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// The tool's name.
    pub tool: String,
    /// Its arguments: an object, or a string holding a JSON object (as the OpenAI API
    /// sends `arguments`). Decoded when the tool runs, so that bad JSON becomes an
    /// observation the agent can learn from rather than a failure of the caller.
    #[serde(default)]
    pub args: Value,
}

/// Why an action could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The text is not JSON.
    #[error(
        "the action is not valid JSON ({reason}); send {{\"tool\": \"<name>\", \"args\": {{...}}}}"
    )]
    NotJson {
        /// The parser's message, with line and column.
        reason: String,
    },
    /// The JSON has no tool name where one is expected.
    #[error("the action has no tool name; send {{\"tool\": \"<name>\", \"args\": {{...}}}} or {{\"name\": \"<name>\", \"arguments\": \"{{...}}\"}}")]
    MissingTool,
}

impl Action {
    /// An action from a tool name and arguments.
    pub fn new(tool: impl Into<String>, args: Value) -> Action {
        Action {
            tool: tool.into(),
            args,
        }
    }

    /// Reads an action from JSON. Accepts `{"tool", "args"}`, `{"name", "arguments"}`
    /// (arguments as an object or a JSON string), `{"function": {…}}` and
    /// `{"type": "function", "function": {…}}` as LLM APIs emit tool calls, and the first
    /// call of `{"tool_calls": [...]}`.
    pub fn from_json(v: &Value) -> Result<Action, ActionError> {
        let Some(obj) = v.as_object() else {
            return Err(ActionError::MissingTool);
        };
        if let Some(first) = obj
            .get("tool_calls")
            .and_then(Value::as_array)
            .and_then(|calls| calls.first())
        {
            return Action::from_json(first);
        }
        if let Some(f) = obj.get("function").filter(|f| f.is_object()) {
            return Action::from_json(f);
        }
        let tool = ["tool", "name", "tool_name"]
            .iter()
            .find_map(|k| obj.get(*k).and_then(Value::as_str))
            .ok_or(ActionError::MissingTool)?;
        let args = ["args", "arguments", "input", "parameters"]
            .iter()
            .find_map(|k| obj.get(*k))
            .cloned()
            .unwrap_or(Value::Null);
        Ok(Action::new(tool.trim(), args))
    }

    /// Reads an action from text: JSON, optionally inside a Markdown code fence.
    pub fn parse(text: &str) -> Result<Action, ActionError> {
        let mut s = text.trim();
        if let Some(rest) = s.strip_prefix("```") {
            let rest = rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
            s = rest.strip_suffix("```").unwrap_or(rest).trim();
        }
        let v: Value = serde_json::from_str(s).map_err(|e| ActionError::NotJson {
            reason: e.to_string(),
        })?;
        Action::from_json(&v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_shapes_llm_apis_emit() {
        let a =
            Action::from_json(&json!({"tool": "get_events", "args": {"service": "cart"}})).unwrap();
        assert_eq!(a.tool, "get_events");
        let b = Action::from_json(
            &json!({"name": "get_events", "arguments": "{\"service\": \"cart\"}"}),
        )
        .unwrap();
        assert_eq!(b.args, json!("{\"service\": \"cart\"}"));
        let c = Action::from_json(
            &json!({"type": "function", "function": {"name": "list_services", "arguments": "{}"}}),
        )
        .unwrap();
        assert_eq!(c.tool, "list_services");
        let d = Action::from_json(&json!({"tool_calls": [{"function": {"name": "get_deploys"}}]}))
            .unwrap();
        assert_eq!(d.tool, "get_deploys");
        let e = Action::parse("```json\n{\"tool\": \"list_services\"}\n```").unwrap();
        assert_eq!(e.tool, "list_services");
    }

    #[test]
    fn explains_what_it_cannot_read() {
        assert!(matches!(
            Action::parse("{not json"),
            Err(ActionError::NotJson { .. })
        ));
        assert_eq!(
            Action::from_json(&json!({"args": {}})),
            Err(ActionError::MissingTool)
        );
    }
}
