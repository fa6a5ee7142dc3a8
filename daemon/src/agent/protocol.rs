//! The MiroThinker v1.0 text protocol (see `mirothinker-protocol.md`): the
//! system prompt built from the installed tools, `<use_mcp_tool>` blocks in
//! model replies, lenient argument repair, and the final `\boxed{}` answer.
//!
//! Everything here is a pure function of its input, so it is tested
//! exhaustively, including with arbitrary text (a model can write anything).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::runtime::ToolInfo;

/// One `<use_mcp_tool>` block of a reply.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub server: String,
    pub tool: String,
    /// The arguments, with null-valued keys dropped. When they could not be
    /// parsed even leniently: `{"error": "Failed to parse arguments", "raw": …}`.
    pub arguments: Map<String, Value>,
    /// Whether `arguments` is the parse-failure object.
    pub unparsed: bool,
}

static CALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?s)<use_mcp_tool>\s*<server_name>(.*?)</server_name>\s*<tool_name>(.*?)</tool_name>\s*<arguments>\s*(.*?)\s*</arguments>\s*</use_mcp_tool>",
    )
    .expect("valid regex")
});

/// Every tool call of a reply, in order. The prompt asks for one per
/// message; like MiroFlow, all are taken (small models often define a
/// function in one block and call it in the next).
pub fn parse_tool_calls(reply: &str) -> Vec<ToolCall> {
    CALL.captures_iter(reply)
        .map(|c| {
            let (arguments, unparsed) = arguments_or_failure(c[3].trim());
            ToolCall { server: c[1].trim().to_owned(), tool: c[2].trim().to_owned(), arguments, unparsed }
        })
        .collect()
}

/// The reply up to the end of its last tool call. The prompt puts calls at
/// the end of a message; whatever a model writes after one was written
/// without the call's result (small models "predict" it, often with a
/// made-up `\boxed{}` answer), so it is not kept as what the model said.
pub fn through_last_call(reply: &str) -> &str {
    match CALL.find_iter(reply).last() {
        Some(m) => &reply[..m.end()],
        None => reply,
    }
}

/// The arguments, or the protocol's failure object
/// `{"error": "Failed to parse arguments", "raw": …}` and `true`.
pub fn arguments_or_failure(raw: &str) -> (Map<String, Value>, bool) {
    match parse_arguments(raw) {
        Some(map) => (map, false),
        None => {
            let mut m = Map::new();
            m.insert("error".into(), "Failed to parse arguments".into());
            m.insert("raw".into(), raw.into());
            (m, true)
        }
    }
}

/// Whether a reply contains tool-call tags at all; one that does but yields
/// no call is malformed (the loop rolls it back and samples again).
pub fn has_tool_tags(reply: &str) -> bool {
    reply.contains("<use_mcp_tool>")
}

/// Refusals that the protocol rolls back rather than accepts as an answer.
pub fn is_refusal(reply: &str) -> bool {
    const PHRASES: [&str; 3] = ["time constraint", "I'm sorry, but I can't", "I'm sorry, I cannot solve"];
    PHRASES.iter().any(|p| reply.contains(p))
}

/// Render a call the way the prompt asks the model to write it.
pub fn render_tool_call(server: &str, tool: &str, arguments: &Map<String, Value>) -> String {
    format!(
        "<use_mcp_tool>\n<server_name>{server}</server_name>\n<tool_name>{tool}</tool_name>\n<arguments>\n{}\n</arguments>\n</use_mcp_tool>",
        Value::Object(arguments.clone())
    )
}

/// Strict JSON first, then a lenient repair of what models commonly get
/// wrong: single quotes, Python's `None`/`True`/`False`, invalid escapes
/// (`\d` in a regex), raw newlines inside strings, trailing commas. Only a
/// JSON object is accepted; keys with null values are dropped.
pub fn parse_arguments(raw: &str) -> Option<Map<String, Value>> {
    let value = serde_json::from_str::<Value>(raw).ok().or_else(|| serde_json::from_str(&repair_json(raw)).ok())?;
    match value {
        Value::Object(mut map) => {
            map.retain(|_, v| !v.is_null());
            Some(map)
        }
        _ => None,
    }
}

/// Rewrite near-JSON into JSON (see [`parse_arguments`]). Written by hand:
/// the repairs needed are few and specific, and no JSON5 crate handles
/// Python literals or invalid escapes.
pub fn repair_json(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = String::with_capacity(raw.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            i = copy_string(&chars, i, &mut out);
            continue;
        }
        if c.is_ascii_alphabetic() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            out.push_str(match word.as_str() {
                "None" => "null",
                "True" => "true",
                "False" => "false",
                other => other,
            });
            continue;
        }
        if c == ',' {
            // Drop a comma that only whitespace separates from `}` or `]`.
            let mut j = i + 1;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            if j < chars.len() && (chars[j] == '}' || chars[j] == ']') {
                i += 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Copy the string literal starting at `chars[start]` (quoted with `"` or
/// `'`) into `out` as a valid JSON string; returns the index after it.
fn copy_string(chars: &[char], start: usize, out: &mut String) -> usize {
    let quote = chars[start];
    out.push('"');
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let next = chars.get(i + 1).copied();
                match next {
                    Some('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't') => {
                        out.push('\\');
                        out.push(next.unwrap());
                        i += 2;
                    }
                    Some('u') if chars.len() >= i + 6 && chars[i + 2..i + 6].iter().all(|h| h.is_ascii_hexdigit()) => {
                        out.push('\\');
                        i += 1;
                    }
                    Some('\'') => {
                        out.push('\'');
                        i += 2;
                    }
                    _ => {
                        // An escape JSON does not know: keep the backslash.
                        out.push_str("\\\\");
                        i += 1;
                    }
                }
            }
            c if c == quote => {
                out.push('"');
                return i + 1;
            }
            '"' => {
                out.push_str("\\\"");
                i += 1;
            }
            '\n' => {
                out.push_str("\\n");
                i += 1;
            }
            '\r' => {
                out.push_str("\\r");
                i += 1;
            }
            '\t' => {
                out.push_str("\\t");
                i += 1;
            }
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out.push('"');
    i
}

/// The content of the last `\boxed{…}` of a text, braces balanced. Answers
/// that say nothing (`?`, `unknown`, `...`) count as none.
pub fn extract_boxed(text: &str) -> Option<String> {
    const MARK: &str = "\\boxed{";
    let mut last = None;
    let mut from = 0;
    while let Some(pos) = text[from..].find(MARK) {
        let start = from + pos + MARK.len();
        let mut depth = 1usize;
        let mut end = None;
        for (off, ch) in text[start..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(start + off);
                        break;
                    }
                }
                _ => {}
            }
        }
        match end {
            Some(e) => {
                last = Some(text[start..e].trim().to_owned());
                from = e + 1;
            }
            None => break,
        }
    }
    last.filter(|a| !is_empty_answer(a))
}

fn is_empty_answer(answer: &str) -> bool {
    let a = answer.trim().trim_matches(|c: char| c == '.' || c.is_whitespace()).to_lowercase();
    a.is_empty() || matches!(a.as_str(), "?" | "unknown" | "none" | "n/a" | "unanswerable" | "cannot be determined")
}

/// The system prompt: the protocol's structure, the installed tools grouped
/// by server, and today's date (`YYYY-MM-DD`).
pub fn system_prompt(tools: &[ToolInfo], date: &str) -> String {
    let mut p = intro(date);
    p.push_str(FORMAT);
    let mut servers: Vec<&str> = tools.iter().map(|t| t.server.as_str()).collect();
    servers.dedup();
    for server in servers {
        p.push_str(&format!("## Server name: {server}\n"));
        for t in tools.iter().filter(|t| t.server == server) {
            p.push_str(&format!("### Tool name: {}\n", t.name));
            p.push_str(&format!("Description: {}\n", t.description));
            p.push_str(&format!("Input JSON schema: {}\n", t.input_schema));
        }
        p.push('\n');
    }
    p.push('\n');
    p.push_str(OBJECTIVES);
    p
}

/// The system prompt for OpenAI-native tool calling: the same text without
/// the XML format and the tool listing, which travel in the `tools` field.
pub fn system_prompt_native(date: &str) -> String {
    let mut p = intro(date);
    p.push_str(OBJECTIVES);
    p
}

/// The function name a tool gets in OpenAI mode: `server__tool`, reduced to
/// the characters and length the OpenAI API accepts.
pub fn native_name(server: &str, tool: &str) -> String {
    let name: String = format!("{server}__{tool}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
        .collect();
    name.chars().take(64).collect()
}

/// The `tools` field of OpenAI mode.
pub fn native_tools(tools: &[ToolInfo]) -> Vec<Value> {
    tools
        .iter()
        .map(|t| {
            serde_json::json!({
                "type": "function",
                "function": {
                    "name": native_name(&t.server, &t.name),
                    "description": t.description,
                    "parameters": t.input_schema,
                }
            })
        })
        .collect()
}

fn intro(date: &str) -> String {
    format!(
        "In this environment you have access to a set of tools you can use to answer the user's question. \n\n\
You only have access to the tools provided below. You can only use one tool per message, and will receive the result of that tool in the user's next response. You use tools step-by-step to accomplish a given task, with each tool-use informed by the result of the previous tool-use. Today is: {date}\n\n"
    )
}

const FORMAT: &str = "# Tool-Use Formatting Instructions \n\n\
Tool-use is formatted using XML-style tags. The tool-use is enclosed in <use_mcp_tool></use_mcp_tool> and each parameter is similarly enclosed within its own set of tags.\n\n\
The Model Context Protocol (MCP) connects to servers that provide additional tools and resources to extend your capabilities. You can use the server's tools via the `use_mcp_tool`.\n\n\
Description: \nRequest to use a tool provided by a MCP server. Each MCP server can provide multiple tools with different capabilities. Tools have defined input schemas that specify required and optional parameters.\n\n\
Parameters:\n\
- server_name: (required) The name of the MCP server providing the tool\n\
- tool_name: (required) The name of the tool to execute\n\
- arguments: (required) A JSON object containing the tool's input parameters, following the tool's input schema, quotes within string must be properly escaped, ensure it's valid JSON\n\n\
Usage:\n<use_mcp_tool>\n<server_name>server name here</server_name>\n<tool_name>tool name here</tool_name>\n<arguments>\n\
{\n\"param1\": \"value1\",\n\"param2\": \"value2 \\\"escaped string\\\"\"\n}\n</arguments>\n</use_mcp_tool>\n\n\
Important Notes:\n\
- Tool-use must be placed **at the end** of your response, **top-level**, and not nested within other tags.\n\
- Always adhere to this format for the tool use to ensure proper parsing and execution.\n\n\
String and scalar parameters should be specified as is, while lists and objects should use JSON format. Note that spaces for string values are not stripped. The output is not expected to be valid XML and is parsed with regular expressions.\n\
Here are the functions available in JSONSchema format:\n\n";

const OBJECTIVES: &str = "# General Objective\n\n\
You accomplish a given task iteratively, breaking it down into clear steps and working through them methodically.\n\n\
## Task Strategy\n\n\
1. Analyze the user's request and set clear, achievable sub-goals, in a logical order.\n\
2. Start with a concise, numbered, step-by-step plan before taking any action.\n\
3. Work through the sub-goals in order. After each step, reflect on the tool results and revise the plan if needed.\n\
4. Use the tools strategically to accomplish each sub-goal.\n\n\
## Tool-Use Guidelines\n\n\
1. Each step must involve a single tool call, unless the task is already solved.\n\
2. Before each tool call, briefly summarize what is known and what is missing, and choose the most relevant tool. Do not guess or use placeholder values for missing inputs.\n\
3. All tool queries must include full, self-contained context. Tools do not retain memory between calls.\n\
4. Even if a tool result does not directly answer the question, extract any partial information that helps guide the next steps.\n\n\
## Tool-Use Communication Rules\n\n\
1. Do not include tool results in your response: the user will provide them.\n\
2. Do not present the final answer until the entire task is complete.\n\
3. Do not use tools that do not exist.\n\
4. If the task does not require tool use, answer the user directly.\n\n\
# Agent Specific Objective\n\n\
You are a task-solving agent that uses tools step-by-step to answer the user's question. Your goal is to provide complete, accurate and well-reasoned answers using additional tools, and to wrap the final answer in \\boxed{}.\n";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn parses_every_block_in_order_and_trims_parts() {
        let reply = "I will compute.\n<use_mcp_tool>\n<server_name> tool-python </server_name>\n<tool_name>run_python_code</tool_name>\n<arguments>\n{\"code_block\": \"def f(x):\\n    return x * 2\", \"sandbox_id\": \"s1\"}\n</arguments>\n</use_mcp_tool>\nthen\n<use_mcp_tool><server_name>tool-python</server_name><tool_name>run_python_code</tool_name><arguments>{\"code_block\": \"f(21)\", \"sandbox_id\": \"s1\", \"extra\": null}</arguments></use_mcp_tool>";
        let calls = parse_tool_calls(reply);
        assert_eq!(calls.len(), 2);
        assert_eq!((calls[0].server.as_str(), calls[0].tool.as_str()), ("tool-python", "run_python_code"));
        assert_eq!(calls[0].arguments["code_block"], "def f(x):\n    return x * 2");
        assert_eq!(calls[1].arguments, json!({"code_block": "f(21)", "sandbox_id": "s1"}).as_object().unwrap().clone());
        assert!(!calls[1].unparsed);
    }

    #[test]
    fn repairs_what_models_get_wrong() {
        let cases = [
            (r#"{'q': 'rust wasm', 'num': 5}"#, json!({"q": "rust wasm", "num": 5})),
            (r#"{"a": None, "b": True, "c": False}"#, json!({"b": true, "c": false})),
            (
                r#"{"code_block": "import re\nprint(re.findall('\d+', 'a1'))"}"#,
                json!({"code_block": "import re\nprint(re.findall('\\d+', 'a1'))"}),
            ),
            ("{\"code_block\": \"line1\nline2\"}", json!({"code_block": "line1\nline2"})),
            (r#"{"x": [1, 2,], "y": {"z": 1,},}"#, json!({"x": [1, 2], "y": {"z": 1}})),
            (r#"{'say': 'he said "hi"', 'it\'s': 1}"#, json!({"say": "he said \"hi\"", "it's": 1})),
            (r#"{"u": "caf\u00e9"}"#, json!({"u": "café"})),
        ];
        for (raw, expected) in cases {
            let got = parse_arguments(raw).unwrap_or_else(|| panic!("no parse: {raw} -> {}", repair_json(raw)));
            assert_eq!(Value::Object(got), expected, "{raw}");
        }
        for bad in ["[1, 2]", "not json at all", "{\"a\": ", "42"] {
            assert!(parse_arguments(bad).is_none(), "{bad}");
        }
        let calls = parse_tool_calls(
            "<use_mcp_tool><server_name>s</server_name><tool_name>t</tool_name><arguments>{oops</arguments></use_mcp_tool>",
        );
        assert!(calls[0].unparsed);
        assert_eq!(
            Value::Object(calls[0].arguments.clone()),
            json!({"error": "Failed to parse arguments", "raw": "{oops"})
        );
    }

    #[test]
    fn tags_without_a_parsable_call_and_refusals_are_detected() {
        let broken = "<use_mcp_tool>\n<server_name>x</server_name>\n<arguments>{}</arguments>";
        assert!(has_tool_tags(broken) && parse_tool_calls(broken).is_empty());
        assert!(is_refusal("I'm sorry, but I can't help with that."));
        assert!(!is_refusal("The answer is \\boxed{4}."));
    }

    #[test]
    fn text_after_the_last_call_is_dropped() {
        let call = render_tool_call("tool-python", "run_python_code", &Map::new());
        let reply = format!("Plan.\n{call}\n\n\\boxed{{42}}");
        assert_eq!(through_last_call(&reply), format!("Plan.\n{call}"));
        assert_eq!(through_last_call("no call \\boxed{1}"), "no call \\boxed{1}");
    }

    #[test]
    fn boxed_answers() {
        assert_eq!(extract_boxed(r"So \boxed{3} or rather \boxed{\frac{1}{2}}").as_deref(), Some(r"\frac{1}{2}"));
        assert_eq!(extract_boxed(r"\boxed{ Paris }").as_deref(), Some("Paris"));
        assert_eq!(extract_boxed(r"\boxed{unknown}"), None);
        assert_eq!(extract_boxed(r"\boxed{...}"), None);
        assert_eq!(extract_boxed(r"\boxed{?}"), None);
        assert_eq!(extract_boxed(r"\boxed{unclosed"), None);
        assert_eq!(extract_boxed("no answer"), None);
        assert_eq!(extract_boxed(r"\boxed{a} then \boxed{open"), Some("a".into()));
    }

    #[test]
    fn system_prompt_lists_tools_by_server_with_the_date() {
        let tool = |server: &str, name: &str| ToolInfo {
            server: server.into(),
            name: name.into(),
            description: format!("does {name}"),
            input_schema: json!({"type": "object", "properties": {"q": {"type": "string"}}}),
            kind: crate::runtime::ToolKind::Builtin(crate::runtime::Builtin::CreateSandbox),
            takes_sandbox: false,
        };
        let p = system_prompt(&[tool("a", "one"), tool("a", "two"), tool("b", "three")], "2026-11-25");
        assert!(p.contains("Today is: 2026-11-25\n"));
        assert!(p.contains(
            "## Server name: a\n### Tool name: one\nDescription: does one\nInput JSON schema: {\"properties\":"
        ));
        assert!(p.find("### Tool name: two").unwrap() < p.find("## Server name: b").unwrap());
        assert!(
            p.contains("# General Objective") && p.contains("# Agent Specific Objective") && p.contains("\\boxed{}")
        );
        assert_eq!(p.matches("## Server name:").count(), 2);
    }

    #[test]
    fn an_unboxed_summary_is_shown_its_own_last_line_boxed() {
        let nudge = unboxed_summary_nudge("a number, OR\n121932631112635269\n\n");
        assert_eq!(
            nudge,
            "Your reply has no \\boxed{}, so it gives no final answer. If your answer is 121932631112635269, reply with exactly this: \\boxed{121932631112635269}"
        );
        let generic = "Your reply has no \\boxed{}, so it gives no final answer. Reply with the final answer alone, inside \\boxed{}.";
        assert_eq!(unboxed_summary_nudge("  \n"), generic);
        assert_eq!(unboxed_summary_nudge(&"word ".repeat(30)), generic);
        assert_eq!(unboxed_summary_nudge("\\boxed{unknown}"), generic);
    }

    #[test]
    fn one_misnamed_string_argument_gets_the_call_renamed() {
        let schema = json!({
            "type": "object",
            "properties": {"code_block": {"type": "string"}, "sandbox_id": {"type": "string"}},
            "required": ["code_block", "sandbox_id"],
        });
        let tools = [ToolInfo {
            server: "tool-python".into(),
            name: "run_python_code".into(),
            description: String::new(),
            input_schema: schema,
            kind: crate::runtime::ToolKind::Builtin(crate::runtime::Builtin::CreateSandbox),
            takes_sandbox: true,
        }];
        let args = |v: Value| v.as_object().unwrap().clone();
        let fix =
            |a: Value, native: bool| renamed_argument_fix(&tools, "tool-python", "run_python_code", &args(a), native);
        let text = fix(json!({"command": "print(1)", "sandbox_id": "s"}), false).unwrap();
        assert!(text.starts_with("`run_python_code` takes `code_block`, not `command`. Reply with this tool call:"));
        assert!(
            text.contains(
                r#"<arguments>
{"code_block":"print(1)","sandbox_id":"s"}
</arguments>"#
            ),
            "{text}"
        );
        let text = fix(json!({"code": "print(1)", "sandbox_id": "s"}), true).unwrap();
        assert!(text.contains("Call the function `tool-python__run_python_code` with these arguments:"), "{text}");
        // Anything but one string under one unknown name for one missing one.
        assert_eq!(fix(json!({"code_block": "print(1)", "sandbox_id": "s"}), false), None);
        assert_eq!(fix(json!({"command": "print(1)", "cmd": "x", "sandbox_id": "s"}), false), None);
        assert_eq!(fix(json!({"command": 7, "sandbox_id": "s"}), false), None);
        assert_eq!(fix(json!({"command": "print(1)"}), false), None);
        assert_eq!(renamed_argument_fix(&tools, "tool-python", "run_command", &args(json!({"x": "y"})), false), None);
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            // A string holding `</arguments>` cannot survive the protocol's
            // regex; real JSON from a model does not contain one.
            "[^<]*".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(text in ".{0,400}") {
            let _ = parse_tool_calls(&text);
            let _ = repair_json(&text);
            let _ = parse_arguments(&text);
            let _ = extract_boxed(&text);
        }

        #[test]
        fn never_panics_on_near_misses(args in ".{0,200}", tail in prop::sample::select(vec!["</use_mcp_tool>", "", "</arguments>"])) {
            let text = format!("<use_mcp_tool><server_name>s</server_name><tool_name>t</tool_name><arguments>{args}</arguments>{tail}");
            let _ = parse_tool_calls(&text);
        }

        #[test]
        fn rendered_calls_parse_back(
            server in "[a-z][a-z0-9_-]{0,20}",
            tool in "[a-z][a-z0-9_]{0,20}",
            args in prop::collection::btree_map("[a-z_]{1,10}", json_value(), 0..5),
            before in "[^<]{0,40}",
        ) {
            let mut map: Map<String, Value> = args.into_iter().collect();
            map.retain(|_, v| !v.is_null());
            let text = format!("{before}{}", render_tool_call(&server, &tool, &map));
            let calls = parse_tool_calls(&text);
            prop_assert_eq!(calls.len(), 1);
            prop_assert_eq!(&calls[0].server, &server);
            prop_assert_eq!(&calls[0].tool, &tool);
            prop_assert_eq!(&calls[0].arguments, &map);
        }
    }
}

// ---- loose names and unrun code ------------------------------------------------

/// The tool a call names, written exactly or loosely: `server.tool` or
/// `server__tool` in the tool's place, or a known tool under a wrong or
/// missing server when exactly one server has it. `None` when nothing (or
/// more than one tool) fits.
pub fn resolve_tool(tools: &[ToolInfo], server: &str, tool: &str) -> Option<(String, String)> {
    let exists = |s: &str, t: &str| tools.iter().any(|i| i.server == s && i.name == t);
    if exists(server, tool) {
        return Some((server.to_owned(), tool.to_owned()));
    }
    if let Some((s, t)) = tool.split_once("__").or_else(|| tool.rsplit_once('.'))
        && exists(s, t)
    {
        return Some((s.to_owned(), t.to_owned()));
    }
    let bare = tool.rsplit(['.']).next().unwrap_or(tool);
    let bare = bare.rsplit("__").next().unwrap_or(bare);
    let mut named = tools.iter().filter(|i| i.name == bare);
    match (named.next(), named.next()) {
        (Some(only), None) => Some((only.server.clone(), only.name.clone())),
        _ => None,
    }
}

/// Told once when a first reply has neither a tool call nor an answer.
pub const FORMAT_REMINDER: &str = "Your reply has no tool call and no final answer. If you need a tool, call it in \
the format the system prompt gives; if you have the answer, write it as \\boxed{your answer}.";

/// Told once when the summary step answered with a tool call instead of an
/// answer (a known habit of the original's models too).
pub const SUMMARY_WITHOUT_TOOLS: &str = "No tool can be called in this step. Answer from the results above: \
reply with the final answer in \\boxed{}, and nothing else.";

/// Told once when the summary step answered without `\boxed{}`. The real
/// small model replies with the bare number (or a line of the prompt's
/// format rules and the number under it), and told to write
/// `\boxed{your answer}` it writes "your answer": the example is its own
/// last line, boxed, when that line is short enough to be an answer.
pub fn unboxed_summary_nudge(reply: &str) -> String {
    let lead = "Your reply has no \\boxed{}, so it gives no final answer.";
    let last = reply.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("");
    if last.is_empty() || last.chars().count() > 100 || last.contains(['{', '}']) {
        return format!("{lead} Reply with the final answer alone, inside \\boxed{{}}.");
    }
    format!("{lead} If your answer is {last}, reply with exactly this: \\boxed{{{last}}}")
}

/// Appended to a Python result under `agent.tool_hint`: general-purpose
/// models otherwise go on calling after the result that answers the task.
pub const RESULT_HINT: &str =
    "\n\n(If this result answers the question, reply with the final answer in \\boxed{} now.)";

static FENCED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\r?\n(.*?)```").unwrap());

/// For a `\boxed{}` answer given before any tool ran: one sentence and the
/// exact call that would check it with Python, when that tool is installed.
pub fn unverified_answer_nudge(tools: &[ToolInfo], native: bool) -> Option<String> {
    let (server, tool) = resolve_tool(tools, "tool-python", "run_python_code")?;
    let lead = "No tool has run yet, so that answer is unchecked. If it rests on a computation, a date, a count or a file, check it first by running Python that prints the result, then give the final answer again in \\boxed{}.";
    let args = r#"{"code_block": "print(<Python expression that computes the answer>)"}"#;
    Some(if native {
        format!("{lead} Call the function `{}` with arguments like {args}", native_name(&server, &tool))
    } else {
        format!(
            "{lead} Reply with a tool call like:\n\n<use_mcp_tool>\n<server_name>{server}</server_name>\n<tool_name>{tool}</tool_name>\n<arguments>\n{args}\n</arguments>\n</use_mcp_tool>"
        )
    })
}

/// The example code of [`tool_hint`]'s call. Small models copy it verbatim,
/// so the loop recognises a call that runs it (see [`copied_example`]).
pub const HINT_EXAMPLE_CODE: &str = "<Python code that prints the answer>";

/// Whether a call's code is [`tool_hint`]'s example (whitespace aside).
pub fn copied_example(tool: &str, args: &Map<String, Value>) -> bool {
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    tool == "run_python_code"
        && args.get("code_block").and_then(Value::as_str).is_some_and(|c| squash(c) == squash(HINT_EXAMPLE_CODE))
}

/// For the task's first message (`agent.tool_hint`): the Python tool by
/// name and the exact call that runs code, when that tool is installed.
/// Small general-purpose models follow the tool protocol when told the
/// tool by name, and otherwise answer computations from memory.
pub fn tool_hint(tools: &[ToolInfo], native: bool) -> Option<String> {
    let (server, tool) = resolve_tool(tools, "tool-python", "run_python_code")?;
    let lead = "Do not compute from memory: for arithmetic, dates, counting, strings or a file, run Python with the \
                tool `run_python_code` and wait for its result.";
    let args = serde_json::json!({ "code_block": HINT_EXAMPLE_CODE }).to_string();
    let call = if native {
        format!("Call the function `{}` with arguments like {args}", native_name(&server, &tool))
    } else {
        format!(
            "Reply with a tool call like this one, with your code in place of the placeholder:\n\n<use_mcp_tool>\n<server_name>{server}</server_name>\n<tool_name>{tool}</tool_name>\n<arguments>\n{args}\n</arguments>\n</use_mcp_tool>"
        )
    };
    Some(format!("{lead} {call}\n\nThen give the final answer in \\boxed{{}}."))
}

/// For a failed call that named one argument wrongly (`command` where
/// `run_python_code` takes `code_block`): the tool's schema requires one
/// argument the call lacks, and the call has one string argument the
/// schema does not know. Small models mix up the argument names of
/// neighbouring tools (`run_command` takes `command`) and then repeat the
/// failing call unchanged; the error alone does not stop them, the call
/// with the argument renamed does. `None` for any other mismatch.
pub fn renamed_argument_fix(
    tools: &[ToolInfo],
    server: &str,
    tool: &str,
    args: &Map<String, Value>,
    native: bool,
) -> Option<String> {
    let info = tools.iter().find(|i| i.server == server && i.name == tool)?;
    let properties = info.input_schema.get("properties")?.as_object()?;
    let required = info.input_schema.get("required")?.as_array()?;
    let missing: Vec<&str> = required.iter().filter_map(Value::as_str).filter(|k| !args.contains_key(*k)).collect();
    let unknown: Vec<&String> = args.keys().filter(|k| !properties.contains_key(k.as_str())).collect();
    let ([want], [got]) = (missing.as_slice(), unknown.as_slice()) else { return None };
    let takes_text = properties.get(*want).and_then(|p| p.get("type")).and_then(Value::as_str) == Some("string");
    if !takes_text || !args[got.as_str()].is_string() {
        return None;
    }
    let mut fixed = args.clone();
    let value = fixed.remove(got.as_str())?;
    fixed.insert((*want).to_owned(), value);
    let fixed = Value::Object(fixed).to_string();
    let lead = format!("`{tool}` takes `{want}`, not `{got}`.");
    Some(if native {
        format!("{lead} Call the function `{}` with these arguments: {fixed}", native_name(server, tool))
    } else {
        format!(
            "{lead} Reply with this tool call:\n\n<use_mcp_tool>\n<server_name>{server}</server_name>\n<tool_name>{tool}</tool_name>\n<arguments>\n{fixed}\n</arguments>\n</use_mcp_tool>"
        )
    })
}

/// For a reply that wrote Python or shell code in a fenced block instead of
/// calling a tool: one sentence and the exact call that would run the first
/// such block, when a tool that runs it is installed.
pub fn unrun_code_nudge(tools: &[ToolInfo], reply: &str, native: bool) -> Option<String> {
    let (tool, key, code) = FENCED.captures_iter(reply).find_map(|c| {
        let (tool, key) = match c[1].to_ascii_lowercase().as_str() {
            "python" | "python3" | "py" => ("run_python_code", "code_block"),
            "bash" | "sh" | "shell" | "console" | "zsh" => ("run_command", "command"),
            _ => return None,
        };
        let code = c[2].trim_end().to_owned();
        (!code.trim().is_empty()).then_some((tool, key, code))
    })?;
    let (server, tool) = resolve_tool(tools, "tool-python", tool)?;
    let mut args = Map::new();
    args.insert(key.into(), code.into());
    let args = Value::Object(args).to_string();
    let lead = "The code in your reply was not run: code written in a message is only text, and nothing was computed.";
    Some(if native {
        format!("{lead} To run it, call the function `{}` with these arguments: {args}", native_name(&server, &tool))
    } else {
        format!(
            "{lead} To run it, reply with this tool call:\n\n<use_mcp_tool>\n<server_name>{server}</server_name>\n<tool_name>{tool}</tool_name>\n<arguments>\n{args}\n</arguments>\n</use_mcp_tool>"
        )
    })
}
