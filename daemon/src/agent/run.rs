//! The ReAct loop of the MiroThinker protocol: ask the model, run the tool
//! calls of its reply in order, feed the results back, until it answers;
//! then the final-summary step and the `\boxed{}` answer.
//!
//! Not yet here (issue 5): the token-budget guard, OpenAI-native tool
//! calling, the trace file and `fathom run`.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::llm::{ChatRequest, LlmClient, LlmError, Message, Usage};
use super::protocol::{extract_boxed, has_tool_tags, is_refusal, parse_tool_calls, system_prompt};
use crate::runtime::Session;

/// The exact text that replaces old tool results (keep-K).
pub const OMITTED: &str = "Tool result is omitted to save tokens.";
/// Appended to the task in the first user message.
pub const BOXED_INSTRUCTION: &str =
    "You should follow the format instruction in the request strictly and wrap the final answer in \\boxed{}.";
/// Tool results longer than this are cut.
pub const MAX_RESULT_CHARS: usize = 100_000;
/// Attached files are cut at this many characters in the first message.
pub const MAX_FILE_CHARS: usize = 200_000;
pub const NO_BOXED: &str = "No \\boxed{} content found in the final answer.";

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub max_turns: u64,
    pub max_tool_calls: u64,
    /// Tool results kept in full (the last K); -1 keeps all.
    pub keep_tool_results: i64,
    pub max_output_tokens: u64,
    pub temperature: f64,
    pub top_p: f64,
    pub repetition_penalty: Option<f64>,
    /// Consecutive rollbacks before a malformed reply is accepted as is.
    pub max_rollbacks: u32,
}

impl AgentConfig {
    pub fn from_policy(p: &crate::policy::Policy) -> Self {
        AgentConfig {
            max_turns: p.agent.max_turns,
            max_tool_calls: p.agent.max_tool_calls,
            keep_tool_results: p.agent.keep_tool_results,
            max_output_tokens: p.agent.max_output_tokens,
            temperature: p.agent.temperature,
            top_p: p.agent.top_p,
            repetition_penalty: Some(1.05),
            max_rollbacks: 5,
        }
    }
}

/// One step of the trajectory, as it happens.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Turn {
        turn: u64,
    },
    Rollback {
        turn: u64,
        reason: String,
    },
    ToolCall {
        turn: u64,
        server: String,
        tool: String,
        arguments: Value,
    },
    ToolResult {
        turn: u64,
        server: String,
        tool: String,
        ok: bool,
        output: String,
    },
    /// The runtime answered instead of running the call (a duplicate).
    Intervention {
        turn: u64,
        kind: String,
        message: String,
    },
    Limit {
        key: String,
        message: String,
    },
    Answer {
        answer: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub answer: String,
    /// Whether `answer` came from a `\boxed{}`.
    pub boxed: bool,
    pub messages: Vec<Message>,
    pub system_prompt: String,
    pub turns: u64,
    pub tool_calls: u64,
    pub usage: Usage,
    pub events: Vec<Event>,
}

/// The summary prompt that ends every task.
pub fn summary_prompt(question: &str) -> String {
    format!(
        "Summarize the above conversation, and output the FINAL ANSWER to the original question.\n\n\
         If a clear answer has already been provided earlier in the conversation, do not rethink or recalculate it — \
         simply extract that answer and reformat it to match the required format below.\n\
         If a definitive answer could not be determined, make a well-informed educated guess based on the conversation.\n\n\
         The original question is repeated here for reference:\n\n\"{question}\"\n\n\
         Wrap your final answer in \\boxed{{}}.\n\
         Your final answer should be:\n\
         - a number, OR\n- as few words as possible, OR\n- a comma-separated list of numbers and/or strings.\n\n\
         ADDITIONALLY, your final answer MUST strictly follow any formatting instructions in the original question.\n\
         If you are asked for a number, write it with digits only: no commas, no units such as $ or %, unless required.\n\
         If you are asked for a string, do not use articles or abbreviations, and write digits in plain text unless told otherwise.\n\
         If you are asked for a comma-separated list, apply the above rules to each element.\n\n\
         Do not call any tools in this reply."
    )
}

/// The messages as sent: every user message but the first (the task) and
/// the last `keep` is replaced by [`OMITTED`].
pub fn keep_last(messages: &[Message], keep: i64) -> Vec<Message> {
    if keep < 0 {
        return messages.to_vec();
    }
    let users: Vec<usize> = messages.iter().enumerate().filter(|(_, m)| m.role == "user").map(|(i, _)| i).collect();
    let first = users.first().copied();
    let kept_from = users.len().saturating_sub(keep as usize);
    let old: Vec<usize> = users[..kept_from].iter().copied().filter(|i| Some(*i) != first).collect();
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| if old.contains(&i) { Message::new("user", OMITTED) } else { m.clone() })
        .collect()
}

/// The key argument of a search-like tool, for duplicate-query detection.
fn query_key(tool: &str, args: &Map<String, Value>) -> Option<String> {
    let s = |k: &str| args.get(k).map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()));
    match tool {
        "google_search" => s("q"),
        "scrape_and_extract_info" => Some(format!("{}_{}", s("url")?, s("info_to_extract").unwrap_or_default())),
        _ => None,
    }
}

fn cut(mut text: String) -> String {
    if text.chars().count() > MAX_RESULT_CHARS {
        text = text.chars().take(MAX_RESULT_CHARS).collect();
        text.push_str("\n... [Result truncated]");
    }
    text
}

pub struct Agent<'a> {
    pub llm: &'a LlmClient,
    pub session: &'a Session,
    pub config: AgentConfig,
    /// Called with every event as it happens (live progress).
    pub on_event: Option<&'a (dyn Fn(&Event) + Send + Sync)>,
}

impl Agent<'_> {
    fn emit(&self, events: &mut Vec<Event>, e: Event) {
        if let Some(f) = self.on_event {
            f(&e);
        }
        events.push(e);
    }

    /// Run one task to its answer. `date` is `YYYY-MM-DD`.
    pub async fn run(&self, task_id: &str, question: &str, date: &str) -> Result<Outcome, LlmError> {
        self.run_with_files(task_id, question, &[], date).await
    }

    /// Run one task whose first message also carries attached files, as
    /// `(local path, content as text)`.
    pub async fn run_with_files(
        &self,
        task_id: &str,
        question: &str,
        files: &[(String, String)],
        date: &str,
    ) -> Result<Outcome, LlmError> {
        let cfg = &self.config;
        let tools = self.session.tools();
        let prompt = system_prompt(&tools, date);
        let mut first = format!("{question}\n{BOXED_INSTRUCTION}");
        for (path, full) in files {
            let mut text: String = full.chars().take(MAX_FILE_CHARS).collect();
            if text.len() < full.len() {
                text.push_str("\n... [File truncated]");
            }
            first.push_str(&format!(
                "\n\nAttached file: {path}\nIts content, converted to text, follows. To process the file itself with the \
                 sandbox tools, first upload it with upload_file_from_local_to_sandbox (local_file_path: {path}).\n\n{text}"
            ));
        }
        let mut messages = vec![Message::new("system", prompt.clone()), Message::new("user", first)];
        let mut events = Vec::new();
        let mut usage = Usage::default();
        let (mut turns, mut calls, mut rollbacks) = (0u64, 0u64, 0u32);
        let mut last_boxed: Option<String> = None;
        let mut seen_queries: HashMap<(String, String), u64> = HashMap::new();
        let mut seen_calls: HashMap<String, u64> = HashMap::new();

        'turns: loop {
            if turns >= cfg.max_turns {
                let message = format!(
                    "the task used all {} model turns (agent.max_turns); the model is asked for its final answer",
                    cfg.max_turns
                );
                self.emit(&mut events, Event::Limit { key: "agent.max_turns".into(), message });
                break;
            }
            let reply = self.llm.chat(&self.request(task_id, keep_last(&messages, cfg.keep_tool_results))).await?;
            usage.prompt_tokens += reply.usage.prompt_tokens;
            usage.completion_tokens += reply.usage.completion_tokens;
            let parsed = parse_tool_calls(&reply.content);
            let malformed = has_tool_tags(&reply.content) && parsed.is_empty();
            if (malformed || is_refusal(&reply.content)) && rollbacks < cfg.max_rollbacks {
                rollbacks += 1;
                let reason = if malformed { "tool-call tags that do not parse" } else { "a refusal" };
                self.emit(&mut events, Event::Rollback { turn: turns + 1, reason: reason.into() });
                continue;
            }
            rollbacks = 0;
            turns += 1;
            self.emit(&mut events, Event::Turn { turn: turns });
            if let Some(b) = extract_boxed(&reply.content) {
                last_boxed = Some(b);
            }
            messages.push(Message::new("assistant", reply.content.clone()));
            if parsed.is_empty() {
                break;
            }
            let mut results = Vec::new();
            for call in parsed {
                if calls >= cfg.max_tool_calls {
                    let message = format!(
                        "The limit of {} tool calls for this task (agent.max_tool_calls) is reached; give your final answer now.",
                        cfg.max_tool_calls
                    );
                    self.emit(
                        &mut events,
                        Event::Limit { key: "agent.max_tool_calls".into(), message: message.clone() },
                    );
                    results.push(message);
                    messages.push(Message::new("user", results.join("\n")));
                    break 'turns;
                }
                calls += 1;
                let args = Value::Object(call.arguments.clone());
                self.emit(
                    &mut events,
                    Event::ToolCall {
                        turn: turns,
                        server: call.server.clone(),
                        tool: call.tool.clone(),
                        arguments: args.clone(),
                    },
                );
                if let Some(key) = query_key(&call.tool, &call.arguments) {
                    let k = (call.tool.clone(), key.clone());
                    if seen_queries.contains_key(&k) {
                        let message = format!(
                            "The query '{}_{key}' has already been used in previous {}. Please try a different query or keyword.",
                            call.tool, call.tool
                        );
                        self.emit(
                            &mut events,
                            Event::Intervention {
                                turn: turns,
                                kind: "duplicate_query".into(),
                                message: message.clone(),
                            },
                        );
                        results.push(message);
                        continue;
                    }
                    seen_queries.insert(k, turns);
                }
                let fingerprint = format!("{}\u{0}{}\u{0}{}", call.server, call.tool, args);
                // Python cells and shell commands legitimately repeat (state
                // changes between them); lookups do not.
                let repeatable = matches!(call.tool.as_str(), "run_python_code" | "run_command" | "create_sandbox");
                if let (false, Some(earlier)) = (repeatable, seen_calls.get(&fingerprint)) {
                    let message = format!(
                        "This exact call ({} on {}, same arguments) was already made in turn {earlier}; its result is in that turn's reply above. Use it, or call with different arguments.",
                        call.tool, call.server
                    );
                    self.emit(
                        &mut events,
                        Event::Intervention { turn: turns, kind: "repeated_call".into(), message: message.clone() },
                    );
                    results.push(message);
                    continue;
                }
                seen_calls.insert(fingerprint, turns);
                let text = if call.unparsed {
                    format!(
                        "Tool call to {} on {} failed. Error: the arguments are not valid JSON: {}",
                        call.tool, call.server, call.arguments["raw"]
                    )
                } else {
                    let out = self.session.call(&call.server, &call.tool, &args.to_string()).await;
                    let text = if out.ok {
                        out.output
                    } else {
                        format!(
                            "Tool call to {} on {} failed. Error: {}",
                            call.tool,
                            call.server,
                            out.error.as_deref().unwrap_or(&out.output)
                        )
                    };
                    if let Some(hit) = out.limit {
                        self.emit(&mut events, Event::Limit { key: hit.key.into(), message: hit.message });
                    }
                    self.emit(
                        &mut events,
                        Event::ToolResult {
                            turn: turns,
                            server: call.server.clone(),
                            tool: call.tool.clone(),
                            ok: out.ok,
                            output: text.clone(),
                        },
                    );
                    text
                };
                results.push(cut(text));
            }
            messages.push(Message::new("user", results.join("\n")));
        }

        // The final summary: a trailing tool result gives way to the prompt.
        if messages.len() > 2 && messages.last().is_some_and(|m| m.role == "user") {
            messages.pop();
        }
        messages.push(Message::new("user", summary_prompt(question)));
        let reply = self.llm.chat(&self.request(task_id, keep_last(&messages, cfg.keep_tool_results))).await?;
        usage.prompt_tokens += reply.usage.prompt_tokens;
        usage.completion_tokens += reply.usage.completion_tokens;
        messages.push(Message::new("assistant", reply.content.clone()));
        let (answer, boxed) = match extract_boxed(&reply.content).or(last_boxed) {
            Some(a) => (a, true),
            None => (NO_BOXED.to_owned(), false),
        };
        self.emit(&mut events, Event::Answer { answer: answer.clone() });
        Ok(Outcome { answer, boxed, messages, system_prompt: prompt, turns, tool_calls: calls, usage, events })
    }

    fn request(&self, task_id: &str, messages: Vec<Message>) -> ChatRequest {
        ChatRequest {
            messages,
            temperature: self.config.temperature,
            top_p: self.config.top_p,
            max_tokens: self.config.max_output_tokens,
            repetition_penalty: self.config.repetition_penalty,
            session_id: task_id.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_last_replaces_old_tool_results_only() {
        let m = |r: &str, c: &str| Message::new(r, c);
        let msgs = vec![
            m("system", "s"),
            m("user", "task"),
            m("assistant", "a1"),
            m("user", "r1"),
            m("assistant", "a2"),
            m("user", "r2"),
            m("assistant", "a3"),
            m("user", "r3"),
        ];
        let kept = keep_last(&msgs, 2);
        let contents: Vec<&str> = kept.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(contents, ["s", "task", "a1", OMITTED, "a2", "r2", "a3", "r3"]);
        assert_eq!(keep_last(&msgs, -1), msgs);
        let none: Vec<String> = keep_last(&msgs, 0).into_iter().map(|m| m.content).collect();
        assert_eq!(none, ["s", "task", "a1", OMITTED, "a2", OMITTED, "a3", OMITTED]);
    }
}
