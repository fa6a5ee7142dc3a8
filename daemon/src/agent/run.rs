//! The ReAct loop of the MiroThinker protocol: ask the model, run the tool
//! calls of its reply in order, feed the results back, until it answers;
//! then the final-summary step and the `\boxed{}` answer.
//!
//! Two tool-call formats share the loop: the protocol's `<use_mcp_tool>`
//! text (results as one `user` message per turn) and OpenAI-native
//! `tool_calls` (results as `tool` messages). Everything else — limits,
//! keep-K, the context guard, interventions, the summary — is the same.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::protocol::{
    FORMAT_REMINDER, RESULT_HINT, SUMMARY_WITHOUT_TOOLS, ToolCall, arguments_or_failure, copied_example, extract_boxed,
    has_tool_tags, is_refusal, native_name, native_tools, parse_tool_calls, renamed_argument_fix, resolve_tool,
    system_prompt, system_prompt_native, through_last_call, tool_hint, unboxed_summary_nudge, unrun_code_nudge,
    unverified_answer_nudge,
};
use super::tokens;
use crate::llm::{ChatReply, ChatRequest, LlmClient, LlmError, Message, Usage};
use crate::runtime::{CallOutcome, Session, ToolInfo};

/// What the loop needs of the tools: their descriptions and a way to call
/// them. The runtime's [`Session`] is one; the loop knows no other detail
/// of it, so a service can wrap, meter or replace it.
#[async_trait::async_trait]
pub trait ToolExecutor: Send + Sync {
    /// The tools this task may call.
    fn tools(&self) -> Vec<ToolInfo>;
    /// Call `server.tool` with `arguments` (JSON text); never fails, every
    /// problem is in the outcome.
    async fn call(&self, server: &str, tool: &str, arguments: &str) -> CallOutcome;
    /// Free every sandbox: a new attempt at the task starts with none.
    fn reset(&self) {}
    /// A task attachment as text, by the document reader
    /// (`tool-reading.convert_to_markdown`) in a sandbox under the task's
    /// policy, up to [`MAX_FILE_CHARS`]; `None` when this task has no reader
    /// (not installed, or its policy disables it).
    async fn read_attachment(&self, path: &str) -> Option<Result<String, String>> {
        let outcome = self.call(READER.0, READER.1, &serde_json::json!({ "uri": path }).to_string()).await;
        reader_result(self, outcome)
    }
}

/// The document reader: server and tool.
pub const READER: (&str, &str) = ("tool-reading", "convert_to_markdown");

fn reader_result(tools: &(impl ToolExecutor + ?Sized), outcome: CallOutcome) -> Option<Result<String, String>> {
    if !tools.tools().iter().any(|t| t.server == READER.0 && t.name == READER.1) {
        return None;
    }
    Some(if outcome.ok { Ok(outcome.output) } else { Err(outcome.error.unwrap_or(outcome.output)) })
}

#[async_trait::async_trait]
impl ToolExecutor for Session {
    fn tools(&self) -> Vec<ToolInfo> {
        Session::tools(self)
    }
    async fn call(&self, server: &str, tool: &str, arguments: &str) -> CallOutcome {
        Session::call(self, server, tool, arguments).await
    }
    fn reset(&self) {
        self.close();
    }
    async fn read_attachment(&self, path: &str) -> Option<Result<String, String>> {
        // Characters of up to 4 bytes each: the reader's own cut is in characters.
        let cap = (MAX_FILE_CHARS * 4 + 1024) as u64;
        let args = serde_json::json!({ "uri": path }).to_string();
        let outcome = Session::call_with_cap(self, READER.0, READER.1, &args, Some(cap)).await;
        reader_result(self, outcome)
    }
}

/// Told to the model when a task resumes in fresh sandboxes.
pub const SANDBOXES_LOST: &str = "Note: this task was interrupted and has resumed; its sandboxes were lost with \
everything in them (files, variables, installed state). Create a new sandbox and redo any setup you still need.";

/// The exact text that replaces old tool results (keep-K).
pub const OMITTED: &str = "Tool result is omitted to save tokens.";
/// Appended to the task in the first user message.
pub const BOXED_INSTRUCTION: &str =
    "You should follow the format instruction in the request strictly and wrap the final answer in \\boxed{}.";
/// A repeated call is answered with the earlier result itself up to this long.
const RECALL_CHARS: usize = 2_000;
/// Tool results longer than this are cut.
pub const MAX_RESULT_CHARS: usize = 100_000;
/// Attached files are cut at this many characters in the first message.
pub const MAX_FILE_CHARS: usize = 200_000;
pub const NO_BOXED: &str = "No \\boxed{} content found in the final answer.";
/// What the model is told when its reply looped on itself.
pub const REPETITIVE_REPLY: &str = "Your previous reply kept repeating the same text, so it was cut and not carried out; \
this counts as a failed tool call. Continue the task from where you were, in a few sentences, without repeating yourself.";

/// What the model is told when its reply ran into `max_tokens` before it
/// made a call or finished (sampling again gives the same at temperature 0).
pub fn cut_reply(max_tokens: u64) -> String {
    format!(
        "Your previous reply was cut off at {max_tokens} tokens (agent.max_output_tokens) before it ended, so nothing in it \
         was carried out. Be brief: make one tool call, or give your final answer in \\boxed{{}}."
    )
}

/// How tools are offered to the model and how it calls them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToolFormat {
    /// The MiroThinker `<use_mcp_tool>` text protocol (`"tools": []`).
    McpXml,
    /// Native `tools` / `tool_calls`, results as `tool` messages.
    Openai,
}

impl std::str::FromStr for ToolFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mcp-xml" => Ok(ToolFormat::McpXml),
            "openai" => Ok(ToolFormat::Openai),
            other => Err(format!("unknown tool format {other:?}: use \"mcp-xml\" (MiroThinker) or \"openai\"")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub max_turns: u64,
    pub max_tool_calls: u64,
    /// Tool results kept in full (the last K); -1 keeps all.
    pub keep_tool_results: i64,
    /// The model's context; the guard ends the loop before it overflows.
    pub context_window_tokens: u64,
    pub max_output_tokens: u64,
    pub temperature: f64,
    pub top_p: f64,
    pub repetition_penalty: Option<f64>,
    /// Consecutive rollbacks before a malformed reply is accepted as is.
    pub max_rollbacks: u64,
    pub tool_format: ToolFormat,
    /// The whole task's wall-clock budget. Model calls are cut off at it;
    /// a running tool call finishes (its own deadline bounds it) and the
    /// task stops after it.
    pub task_timeout: Option<Duration>,
    /// Answer code written in a fenced block with the call that runs it.
    pub nudge_unrun_code: bool,
    /// Answer a boxed answer given before any tool ran with the call that checks it.
    pub check_unverified_answers: bool,
    /// Name the Python tool and its call in the first message.
    pub tool_hint: bool,
    /// The rollback rules 1.7 added (see `policy::Agent`).
    pub rollback_duplicate_queries: bool,
    pub rollback_unknown_tools: bool,
    pub rollback_empty_searches: bool,
    pub rollback_cut_replies: bool,
    pub max_duplicate_rollbacks: u64,
    pub max_extra_attempts: u64,
    /// Attempts at the task, with post-mortems between them.
    pub max_attempts: u64,
    pub carry_failure_summary: bool,
}

impl AgentConfig {
    pub fn from_policy(p: &crate::policy::Policy) -> Self {
        AgentConfig {
            max_turns: p.agent.max_turns,
            max_tool_calls: p.agent.max_tool_calls,
            keep_tool_results: p.agent.keep_tool_results,
            context_window_tokens: p.agent.context_window_tokens,
            max_output_tokens: p.agent.max_output_tokens,
            temperature: p.agent.temperature,
            top_p: p.agent.top_p,
            repetition_penalty: Some(1.05),
            max_rollbacks: p.agent.max_consecutive_rollbacks,
            tool_format: ToolFormat::McpXml,
            task_timeout: Some(Duration::from_secs_f64(p.agent.task_timeout_secs)),
            nudge_unrun_code: p.agent.nudge_unrun_code,
            check_unverified_answers: p.agent.check_unverified_answers,
            tool_hint: p.agent.tool_hint,
            rollback_duplicate_queries: p.agent.rollback_duplicate_queries,
            rollback_unknown_tools: p.agent.rollback_unknown_tools,
            rollback_empty_searches: p.agent.rollback_empty_searches,
            rollback_cut_replies: p.agent.rollback_cut_replies,
            max_duplicate_rollbacks: p.agent.max_duplicate_rollbacks,
            max_extra_attempts: p.agent.max_extra_attempts,
            max_attempts: p.agent.max_attempts,
            carry_failure_summary: p.agent.carry_failure_summary,
        }
    }
}

/// One step of the trajectory, as it happens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Turn {
        turn: u64,
    },
    /// The model's reply as kept in the conversation (the final summary's
    /// too, with `summary`), so a trace can be rebuilt from events alone.
    Assistant {
        turn: u64,
        content: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        summary: bool,
    },
    Rollback {
        turn: u64,
        reason: String,
    },
    /// One model request that got a reply (retries included in `ms`), with
    /// the tokens the server reported: timings and usage per step.
    ModelCall {
        turn: u64,
        ms: f64,
        prompt_tokens: u64,
        completion_tokens: u64,
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
        /// Wall-clock time of the call, sandbox creation included.
        wall_ms: f64,
        /// Model tokens the tool spent (the summary model of a scrape),
        /// counted into the task's usage.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<Usage>,
    },
    /// The runtime answered instead of running the call or accepting the
    /// reply: `duplicate_query`, `repeated_call`, `repetitive_reply`,
    /// `cut_reply`; or added to a result: `argument_renamed`; or ended the
    /// turns: `stuck_loop`; or asked for the summary again:
    /// `summary_tool_call`, `summary_unboxed`.
    Intervention {
        turn: u64,
        kind: String,
        message: String,
    },
    /// The runtime did something for the model without telling it in the
    /// conversation: `sandbox_created` (a call named a sandbox that did not
    /// exist, or none), `tool_resolved` (a call named a tool loosely).
    Note {
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
    /// A new attempt at the task starts, after the post-mortem of the
    /// one before.
    Attempt {
        attempt: u64,
        failure_summary: String,
    },
    /// The task failed; the outcome keeps everything up to this point.
    Error {
        message: String,
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
    /// Why the task failed, if it did; the rest of the outcome is what it
    /// got to before.
    pub error: Option<String>,
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
    omit_old(messages, keep, |i, m| m.role == "user" && i > 1)
}

/// OpenAI mode's keep-K: every `tool` message but the last `keep`.
pub fn keep_last_native(messages: &[Message], keep: i64) -> Vec<Message> {
    omit_old(messages, keep, |_, m| m.role == "tool")
}

/// Replace the content of the results that are not among the last `keep`.
fn omit_old(messages: &[Message], keep: i64, is_result: impl Fn(usize, &Message) -> bool) -> Vec<Message> {
    if keep < 0 {
        return messages.to_vec();
    }
    let results: Vec<usize> = messages.iter().enumerate().filter(|(i, m)| is_result(*i, m)).map(|(i, _)| i).collect();
    let old = &results[..results.len().saturating_sub(keep as usize)];
    messages
        .iter()
        .enumerate()
        .map(
            |(i, m)| {
                if old.binary_search(&i).is_ok() { Message { content: OMITTED.into(), ..m.clone() } } else { m.clone() }
            },
        )
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

/// What is kept of a result to tell a repeated call: the text when short
/// enough to quote (see [`repeated_call`]), else nothing (it is not quoted).
fn cut_for_recall(text: &str) -> Option<String> {
    (text.chars().count() <= RECALL_CHARS).then(|| text.to_owned())
}

fn cut(mut text: String) -> String {
    if text.chars().count() > MAX_RESULT_CHARS {
        text = text.chars().take(MAX_RESULT_CHARS).collect();
        text.push_str("\n... [Result truncated]");
    }
    text
}

/// Turns in a row whose every call is answered without running (a repeat,
/// an A-B-A-B loop, a query already made) before the turns end and the
/// summary asks for the answer. A model stuck this way does not get out by
/// itself: the real small model, told the result of its one successful cell
/// and to answer, sent that same cell 60 times more until its context was
/// full, and the task ended with no answer.
const STUCK_TURNS: u64 = 3;

/// What the model is told instead of running a call again: where the
/// earlier result is, and the result itself when it is short (keep-K may
/// have omitted it, and a small model looping on a call rarely scrolls back).
fn repeated_call(tool: &str, server: &str, turn: u64, result: Option<&str>, omitted: bool) -> String {
    let head = format!("This exact call ({tool} on {server}, same arguments) was already made in turn {turn}");
    let advice = "Use that result: if it answers the question, give your final answer in \\boxed{}; otherwise call with different arguments.";
    if let Some(result) = result {
        format!("{head}, and running it again would only repeat its result:\n{result}\n{advice}")
    } else if omitted {
        format!(
            "{head}; its result was long and has since been omitted to save tokens. Take from it what you need with a \
             narrower call (for example print only the part you need). {advice}"
        )
    } else {
        format!("{head}; its result is in that turn's tool result above. {advice}")
    }
}

/// Arguments as a call's identity, so calls that differ only in form are
/// one call: in every string single quotes become double; for lookups
/// (queries, URLs) case and runs of whitespace do not count either; for
/// code, where they do, only trailing whitespace is dropped.
fn normalized(v: &Value, code: bool) -> String {
    fn walk(v: &Value, code: bool) -> Value {
        match v {
            Value::String(s) => {
                let s = s.replace('\'', "\"");
                Value::String(if code {
                    s.lines().map(str::trim_end).collect::<Vec<_>>().join("\n").trim().to_owned()
                } else {
                    s.to_lowercase().split_whitespace().collect::<Vec<_>>().join(" ")
                })
            }
            Value::Array(a) => Value::Array(a.iter().map(|v| walk(v, code)).collect()),
            Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), walk(v, code))).collect()),
            other => other.clone(),
        }
    }
    walk(v, code).to_string()
}

/// The answer to the fourth call of an A-B-A-B alternation (`recent` holds
/// the calls that ran last), naming the two calls.
fn alternation(recent: &[String], next: &str) -> Option<String> {
    let [.., a, b, a2] = recent else { return None };
    if a != a2 || b != next || a == b {
        return None;
    }
    let name = |fp: &str| fp.split('\u{0}').nth(1).unwrap_or("").to_owned();
    Some(format!(
        "You have been alternating between the same two calls ({} and {}) without progress; their results are above. \
         Try a different approach, or give your final answer in \\boxed{{}}.",
        name(a),
        name(b)
    ))
}

/// The answer to a call that ran [`tool_hint`]'s example code.
fn example_copied(question: &str) -> String {
    let mut q: String = question.chars().take(300).collect();
    if q.len() < question.len() {
        q.push_str(" ...");
    }
    format!(
        "That is the example from the instructions, not code for this task, so it was not run. Write Python that computes the answer to the question ({q:?}) and run that with run_python_code."
    )
}

/// A looping reply, cut just before its tail starts to repeat: what the
/// model said before it got stuck stays in the conversation.
fn cut_repetition(reply: &str) -> String {
    let chars: Vec<char> = reply.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(50)..].iter().collect();
    match reply.find(tail.as_str()) {
        Some(first) if !tail.is_empty() => {
            let keep = reply[first..].char_indices().nth(tail.chars().count()).map_or(reply.len(), |(i, _)| first + i);
            format!("{} [... repeated text removed]", &reply[..keep])
        }
        _ => reply.to_owned(),
    }
}

/// Why the loop stopped early.
enum Stop {
    /// The conversation no longer fits: summarise what there is.
    Context(String),
    /// The task cannot go on.
    Fatal(String),
}

/// A call of this turn, with its OpenAI call id in that mode.
struct Call {
    id: Option<String>,
    call: ToolCall,
    /// The name the model wrote, when it was resolved to another.
    written_as: Option<String>,
}

/// Everything one task accumulates: what a service checkpoints after each
/// turn and continues from ([`Agent::drive`]). Serialisable; what is not
/// (the deadline, the native tool list) is rebuilt when a run starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskState {
    pub id: String,
    pub question: String,
    pub system_prompt: String,
    pub tool_format: ToolFormat,
    pub messages: Vec<Message>,
    pub usage: Usage,
    pub turns: u64,
    #[serde(rename = "tool_calls")]
    pub calls: u64,
    pub last_boxed: Option<String>,
    /// Consecutive rollbacks so far.
    pub rollbacks: u64,
    /// Search-like queries already made (`tool \0 key`), with their turn.
    pub seen_queries: HashMap<String, u64>,
    /// Every call that ran: its turn, its result if short, and the index
    /// of the message that holds it.
    pub seen_calls: HashMap<String, (u64, Option<String>, usize)>,
    /// The last call that ran, for the repeat test of stateful tools.
    pub last_ran: Option<String>,
    /// Every limit hit: (policy key, message).
    pub limits: Vec<(String, String)>,
    /// Seconds spent running in earlier runs (before a resume), counted
    /// against the task's time limit.
    pub active_secs: f64,
    /// This run's events (a service keeps all of them elsewhere).
    #[serde(skip)]
    events: Vec<Event>,
    #[serde(skip)]
    deadline: Option<Instant>,
    /// When this run started, and `active_secs` then.
    #[serde(skip)]
    clock: Option<(Instant, f64)>,
    /// OpenAI mode: the `tools` field and the names it uses.
    #[serde(skip)]
    native: Option<(Vec<Value>, HashMap<String, (String, String)>)>,
    /// The tools this task may call, read once per run.
    #[serde(skip)]
    tools: Vec<ToolInfo>,
    /// Whether code written instead of called was answered already.
    #[serde(default)]
    pub nudged_code: bool,
    /// Whether the format reminder was given already.
    #[serde(default)]
    pub reminded_format: bool,
    /// Whether an answer given before any tool ran was questioned already.
    #[serde(default)]
    pub checked_answer: bool,
    /// Repeated-query rollbacks in a row.
    #[serde(default)]
    pub duplicate_rollbacks: u64,
    /// Rollbacks in all (extra attempts beyond `max_turns`).
    #[serde(default)]
    pub extra_attempts: u64,
    /// The last three calls that ran, for the A-B-A-B test.
    #[serde(default)]
    pub recent_calls: Vec<String>,
    /// Turns in a row whose every call was answered without running (see
    /// [`STUCK_TURNS`]).
    #[serde(default)]
    pub idle_turns: u64,
    /// Where the first of those turns starts in `messages`.
    #[serde(default)]
    pub idle_from: usize,
    /// Attempts before this one, their post-mortems, and the turns and
    /// calls they used (the counters above are this attempt's).
    #[serde(default)]
    pub failures: Vec<String>,
    #[serde(default)]
    pub prior_turns: u64,
    #[serde(default)]
    pub prior_calls: u64,
    /// The task's first message as the first attempt had it.
    #[serde(default)]
    pub task_message: String,
}

/// An attachment as text for the first message when the task has no
/// document reader: UTF-8 files as they are; anything else described, to be
/// uploaded and processed in a sandbox.
pub fn attachment_text(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => format!(
            "[binary file of {} bytes: not shown here; upload it to a sandbox and read it with Python]",
            e.as_bytes().len()
        ),
    }
}

impl TaskState {
    /// The state of a task that never got to its first turn.
    pub fn empty(id: &str, question: &str) -> TaskState {
        TaskState {
            id: id.to_owned(),
            question: question.to_owned(),
            system_prompt: String::new(),
            tool_format: ToolFormat::McpXml,
            messages: Vec::new(),
            usage: Usage::default(),
            turns: 0,
            calls: 0,
            last_boxed: None,
            rollbacks: 0,
            seen_queries: HashMap::new(),
            seen_calls: HashMap::new(),
            last_ran: None,
            limits: Vec::new(),
            active_secs: 0.0,
            events: Vec::new(),
            deadline: None,
            clock: None,
            native: None,
            tools: Vec::new(),
            nudged_code: false,
            reminded_format: false,
            checked_answer: false,
            duplicate_rollbacks: 0,
            extra_attempts: 0,
            recent_calls: Vec::new(),
            idle_turns: 0,
            idle_from: 0,
            failures: Vec::new(),
            prior_turns: 0,
            prior_calls: 0,
            task_message: String::new(),
        }
    }

    /// Tell the model, before the next turn, that its sandboxes are gone.
    pub fn note_sandboxes_lost(&mut self) {
        let long = self.messages.len() > 2;
        match self.messages.last_mut() {
            Some(m) if m.role == "user" && long => {
                m.content.push_str("\n\n");
                m.content.push_str(SANDBOXES_LOST);
            }
            _ => self.messages.push(Message::new("user", SANDBOXES_LOST)),
        }
    }

    /// The outcome of a task stopped here (cancelled, interrupted): its
    /// conversation so far and the last `\boxed{}` it gave, if any.
    pub fn into_outcome(self, error: Option<String>) -> Outcome {
        let (answer, boxed) = match self.last_boxed {
            Some(a) => (a, true),
            None => (NO_BOXED.to_owned(), false),
        };
        Outcome {
            answer,
            boxed,
            messages: self.messages,
            system_prompt: self.system_prompt,
            turns: self.prior_turns + self.turns,
            tool_calls: self.prior_calls + self.calls,
            usage: self.usage,
            events: self.events,
            error,
        }
    }

    /// Start the next attempt: a fresh conversation (the task, with the
    /// post-mortems so far when they are carried) and fresh counters; usage
    /// and the task's clock go on.
    fn restart(&mut self, carry: bool) {
        if self.task_message.is_empty() {
            self.task_message = self.messages.get(1).map(|m| m.content.clone()).unwrap_or_default();
        }
        let mut first = self.task_message.clone();
        if carry && !self.failures.is_empty() {
            first.push_str("\n\n=== Previous Attempts Analysis ===\n");
            for (i, f) in self.failures.iter().enumerate() {
                first.push_str(&format!("\nAttempt {}:\n{}\n", i + 1, f.trim()));
            }
        }
        self.messages = vec![Message::new("system", self.system_prompt.clone()), Message::new("user", first)];
        self.prior_turns += std::mem::take(&mut self.turns);
        self.prior_calls += std::mem::take(&mut self.calls);
        self.last_boxed = None;
        self.rollbacks = 0;
        self.duplicate_rollbacks = 0;
        self.seen_queries.clear();
        self.seen_calls.clear();
        self.last_ran = None;
        self.recent_calls.clear();
        self.idle_turns = 0;
        self.nudged_code = false;
        self.reminded_format = false;
        self.checked_answer = false;
    }
}

/// Asked of the model when an attempt failed, before a fresh start.
pub const POST_MORTEM_PROMPT: &str = "This attempt did not reach a usable final answer. Do not try to answer now. \
Write a short post-mortem for a fresh attempt at the same task, in exactly this shape:\n\
Failure type: one of incomplete, blocked, misdirected, format_missed\n\
What happened: what was tried and where it went wrong, in two or three sentences\n\
Useful findings: facts, sources or partial results worth keeping, or none";

pub struct Agent<'a> {
    pub llm: &'a LlmClient,
    pub session: &'a dyn ToolExecutor,
    pub config: AgentConfig,
    /// Called with every event as it happens (live progress).
    pub on_event: Option<&'a (dyn Fn(&Event) + Send + Sync)>,
}

impl Agent<'_> {
    fn emit(&self, t: &mut TaskState, e: Event) {
        if let Some(f) = self.on_event {
            f(&e);
        }
        if let Event::Limit { key, message } = &e {
            t.limits.push((key.clone(), message.clone()));
        }
        t.events.push(e);
    }

    /// Run one task to its answer. `date` is `YYYY-MM-DD`.
    pub async fn run(&self, task_id: &str, question: &str, date: &str) -> Outcome {
        self.run_with_files(task_id, question, &[], date).await
    }

    /// Run one task whose first message also carries attached files, as
    /// `(local path, content as text)`. A failed task still returns its
    /// outcome, with `error` set and the conversation up to the failure.
    pub async fn run_with_files(
        &self,
        task_id: &str,
        question: &str,
        files: &[(String, String)],
        date: &str,
    ) -> Outcome {
        let state = self.start(task_id, question, files, date);
        self.drive(state, &mut |_| {}).await
    }

    /// The task's attached files, by local path, as text for its first
    /// message: converted by the document reader in a sandbox (a file that
    /// does not convert is shown as the reader's error, which says what it
    /// is and what to do), or read as UTF-8 by the host when the task has
    /// no reader.
    pub async fn read_attachments(&self, paths: &[String]) -> Vec<(String, String)> {
        let mut files = Vec::new();
        for path in paths {
            let text = match self.session.read_attachment(path).await {
                Some(Ok(text)) => text,
                Some(Err(e)) => format!("[this file could not be converted to text: {e}]"),
                None => match std::fs::read(path) {
                    Ok(bytes) => attachment_text(bytes),
                    Err(e) => format!("[this file could not be read: {e}]"),
                },
            };
            files.push((path.clone(), text));
        }
        files
    }

    /// A new task's state: the system prompt and the first message.
    pub fn start(&self, task_id: &str, question: &str, files: &[(String, String)], date: &str) -> TaskState {
        let cfg = &self.config;
        let tools = self.session.tools();
        let prompt = match cfg.tool_format {
            ToolFormat::McpXml => system_prompt(&tools, date),
            ToolFormat::Openai => system_prompt_native(date),
        };
        let mut first = format!("{question}\n{BOXED_INSTRUCTION}");
        if let Some(hint) = cfg.tool_hint.then(|| tool_hint(&tools, cfg.tool_format == ToolFormat::Openai)).flatten() {
            first.push_str("\n\n");
            first.push_str(&hint);
        }
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
        TaskState {
            system_prompt: prompt.clone(),
            tool_format: cfg.tool_format,
            messages: vec![Message::new("system", prompt), Message::new("user", first)],
            ..TaskState::empty(task_id, question)
        }
    }

    /// Run a task from `state` (new, or checkpointed by an earlier run) to
    /// its answer. `checkpoint` is given the state after every completed
    /// turn: what a service saves, so that a crash loses at most the turn
    /// in flight.
    pub async fn drive(&self, mut t: TaskState, checkpoint: &mut (dyn FnMut(&TaskState) + Send)) -> Outcome {
        let cfg = &self.config;
        t.tools = self.session.tools();
        if t.tool_format == ToolFormat::Openai {
            let names = t.tools.iter().map(|t| (native_name(&t.server, &t.name), (t.server.clone(), t.name.clone())));
            t.native = Some((native_tools(&t.tools), names.collect()));
        }
        let now = Instant::now();
        t.clock = Some((now, t.active_secs));
        t.deadline = cfg.task_timeout.map(|d| now + d.saturating_sub(Duration::from_secs_f64(t.active_secs)));
        let prompt = t.system_prompt.clone();
        let (answer, error) = loop {
            let (answer, error, failed) = self.attempt(&mut t, checkpoint).await;
            let attempts = t.failures.len() as u64 + 1;
            if !failed || error.is_some() || attempts >= cfg.max_attempts {
                break (answer, error);
            }
            match self.post_mortem(&mut t).await {
                Ok(note) => t.failures.push(note),
                Err(e) => break (answer, Some(e)),
            }
            let attempt = t.failures.len() as u64 + 1;
            let failure_summary = t.failures.last().cloned().unwrap_or_default();
            self.emit(&mut t, Event::Attempt { attempt, failure_summary });
            self.session.reset();
            t.restart(cfg.carry_failure_summary);
        };
        let (answer, boxed) = match answer.or(t.last_boxed.clone()) {
            Some(a) => (a, true),
            None => (NO_BOXED.to_owned(), false),
        };
        match &error {
            None => self.emit(&mut t, Event::Answer { answer: answer.clone() }),
            Some(e) => self.emit(&mut t, Event::Error { message: e.clone() }),
        }
        Outcome {
            answer,
            boxed,
            messages: t.messages,
            system_prompt: prompt,
            turns: t.prior_turns + t.turns,
            tool_calls: t.prior_calls + t.calls,
            usage: t.usage,
            events: t.events,
            error,
        }
    }

    /// One attempt: the turns, then the summary. Returns the summary's
    /// answer, a fatal error, and whether the attempt failed (no usable
    /// `\boxed{}` answer, or ended by `max_turns` or the context guard).
    async fn attempt(
        &self,
        t: &mut TaskState,
        checkpoint: &mut (dyn FnMut(&TaskState) + Send),
    ) -> (Option<String>, Option<String>, bool) {
        let mut cut_off = false;
        let mut error = match self.turns(t, checkpoint).await {
            Ok(()) => {
                cut_off = t.turns >= self.config.max_turns;
                None
            }
            Err(Stop::Context(why)) => {
                let message = format!(
                    "{why}; the last turn is dropped and the model is asked for its final answer (agent.context_window_tokens)"
                );
                self.emit(t, Event::Limit { key: "agent.context_window_tokens".into(), message });
                drop_last_turn(&mut t.messages);
                cut_off = true;
                None
            }
            Err(Stop::Fatal(e)) => Some(e),
        };
        let mut answer = None;
        if error.is_none() {
            match self.summarize(t).await {
                Ok(a) => answer = a,
                Err(e) => error = Some(e),
            }
        }
        let failed = cut_off || answer.is_none();
        (answer, error, failed)
    }

    /// The model's post-mortem of a failed attempt.
    async fn post_mortem(&self, t: &mut TaskState) -> Result<String, String> {
        t.messages.push(Message::new("user", POST_MORTEM_PROMPT.to_owned()));
        match self.ask(t, Some("none")).await {
            Ok(reply) => Ok(reply.content),
            Err(Stop::Context(why)) | Err(Stop::Fatal(why)) => Err(why),
        }
    }

    /// The turns, until the model stops calling tools or a limit ends them.
    async fn turns(&self, t: &mut TaskState, checkpoint: &mut (dyn FnMut(&TaskState) + Send)) -> Result<(), Stop> {
        let cfg = &self.config;
        let summary_tokens = tokens::count(&summary_prompt(&t.question));
        loop {
            // Every pass ends a model request and whatever it led to: the
            // state here is whole, and worth saving.
            if let Some((started, base)) = t.clock {
                t.active_secs = base + started.elapsed().as_secs_f64();
            }
            checkpoint(t);
            if t.turns >= cfg.max_turns {
                let message = format!(
                    "the task used all {} model turns (agent.max_turns); the model is asked for its final answer",
                    cfg.max_turns
                );
                self.emit(t, Event::Limit { key: "agent.max_turns".into(), message });
                return Ok(());
            }
            let sent = t.messages.len();
            let reply = self.ask(t, None).await?;
            let calls = self.calls_of(t, &reply);
            // A reply cut at max_tokens with no whole call in it is answered
            // below, not rolled back: resampling gives the same cut.
            let cut_short = reply.cut && calls.is_empty() && !reply.repetitive;
            let malformed = t.native.is_none() && calls.is_empty() && has_tool_tags(&reply.content) && !cut_short;
            let duplicate = cfg.rollback_duplicate_queries
                && t.duplicate_rollbacks < cfg.max_duplicate_rollbacks
                && calls.iter().any(|c| {
                    query_key(&c.call.tool, &c.call.arguments)
                        .is_some_and(|k| t.seen_queries.contains_key(&format!("{}\u{0}{k}", c.call.tool)))
                });
            let cause = if malformed {
                Some("tool-call tags that do not parse")
            } else if is_refusal(&reply.content) {
                Some("a refusal")
            } else if cut_short && cfg.rollback_cut_replies {
                Some("a reply cut at max_output_tokens")
            } else if duplicate {
                Some("a repeated query")
            } else {
                None
            };
            if let Some(reason) = cause
                && self.may_roll_back(t)
            {
                t.duplicate_rollbacks += u64::from(duplicate && reason == "a repeated query");
                self.roll_back(t, t.turns + 1, reason);
                continue;
            }
            // Rollbacks in a row, should this turn's calls undo it after all.
            let consecutive = std::mem::take(&mut t.rollbacks);
            t.duplicate_rollbacks = 0;
            t.turns += 1;
            let turn = t.turns;
            self.emit(t, Event::Turn { turn });
            let mut reply = reply;
            if t.native.is_none() && !calls.is_empty() {
                reply.content = through_last_call(&reply.content).to_owned();
            }
            let content = if reply.repetitive { cut_repetition(&reply.content) } else { reply.content.clone() };
            self.emit(t, Event::Assistant { turn, content, summary: false });
            if let Some(b) = extract_boxed(&reply.content) {
                t.last_boxed = Some(b);
            }
            if reply.repetitive {
                // A reply stuck in a loop: cut, answered as a failed call.
                t.calls += 1;
                self.emit(
                    t,
                    Event::Intervention { turn, kind: "repetitive_reply".into(), message: REPETITIVE_REPLY.into() },
                );
                let mut assistant = Message::new("assistant", cut_repetition(&reply.content));
                assistant.tool_calls = reply.raw_tool_calls.clone();
                t.messages.push(assistant);
                let ids: Vec<Option<String>> = calls.iter().map(|c| c.id.clone()).collect();
                let results = if ids.is_empty() { vec![None] } else { ids };
                self.push_results(t, results.into_iter().map(|id| (id, REPETITIVE_REPLY.to_owned())).collect());
                continue;
            }
            if cut_short {
                let message = cut_reply(cfg.max_output_tokens);
                self.emit(t, Event::Intervention { turn, kind: "cut_reply".into(), message: message.clone() });
                t.messages.push(Message::new("assistant", reply.content.clone()));
                t.messages.push(Message::new("user", message));
                continue;
            }
            let turn_start = t.messages.len();
            let mut assistant = Message::new("assistant", reply.content.clone());
            assistant.tool_calls = reply.raw_tool_calls.clone();
            t.messages.push(assistant);
            if calls.is_empty() {
                match self.unanswered_reply(t, &reply.content) {
                    Some((kind, message)) => {
                        self.emit(t, Event::Intervention { turn, kind: kind.into(), message: message.clone() });
                        t.messages.push(Message::new("user", message));
                        continue;
                    }
                    None => return Ok(()),
                }
            }
            let mut results: Vec<(Option<String>, String)> = Vec::new();
            let mut limit_hit = false;
            // What this turn added to the task's memory of calls, undone if
            // the turn is rolled back; and why it would be.
            let mut remembered: Vec<String> = Vec::new();
            let mut after_cause: Option<&'static str> = None;
            let mut ran_any = false;
            for Call { id, call, written_as } in calls {
                if limit_hit || t.calls >= cfg.max_tool_calls {
                    let message = format!(
                        "The limit of {} tool calls for this task (agent.max_tool_calls) is reached; give your final answer now.",
                        cfg.max_tool_calls
                    );
                    if !limit_hit {
                        self.emit(t, Event::Limit { key: "agent.max_tool_calls".into(), message: message.clone() });
                    }
                    limit_hit = true;
                    results.push((id, message));
                    if t.native.is_none() {
                        break;
                    }
                    continue;
                }
                self.check_deadline(t)?;
                t.calls += 1;
                let args = Value::Object(call.arguments.clone());
                let (server, tool) = (call.server.clone(), call.tool.clone());
                self.emit(
                    t,
                    Event::ToolCall { turn, server: server.clone(), tool: tool.clone(), arguments: args.clone() },
                );
                if let Some(written) = written_as {
                    let message = format!(
                        "the call named {written:?}; it was run as {server}.{tool}, the only tool of that name"
                    );
                    self.emit(t, Event::Note { turn, kind: "tool_resolved".into(), message });
                }
                if cfg.tool_hint && copied_example(&tool, &call.arguments) {
                    let message = example_copied(&t.question);
                    self.emit(t, Event::Intervention { turn, kind: "example_copied".into(), message: message.clone() });
                    results.push((id, message));
                    continue;
                }
                if let Some(key) = query_key(&tool, &call.arguments) {
                    let k = format!("{tool}\u{0}{key}");
                    if t.seen_queries.contains_key(&k) {
                        let message = format!(
                            "The query '{tool}_{key}' has already been used in previous {tool}. Please try a different query or keyword."
                        );
                        self.emit(
                            t,
                            Event::Intervention { turn, kind: "duplicate_query".into(), message: message.clone() },
                        );
                        results.push((id, message));
                        continue;
                    }
                    t.seen_queries.insert(k.clone(), turn);
                    remembered.push(k);
                }
                if cfg.rollback_unknown_tools && resolve_tool(&t.tools, &server, &tool).is_none() {
                    after_cause.get_or_insert("a call of a tool that does not exist");
                }
                // Python cells and shell commands legitimately repeat (state
                // changes between them); lookups do not.
                let repeatable = matches!(tool.as_str(), "run_python_code" | "run_command" | "create_sandbox");
                // Near-duplicates count as the same call (see `normalized`).
                let fingerprint = format!("{server}\u{0}{tool}\u{0}{}", normalized(&args, repeatable));
                // A stateful call may be repeated after other calls (state
                // changed in between); the same call straight again is a loop.
                let repeat = match t.seen_calls.get(&fingerprint) {
                    Some(earlier) if !repeatable || t.last_ran.as_ref() == Some(&fingerprint) => Some(earlier.clone()),
                    _ => None,
                };
                if let Some((earlier, result, at)) = repeat {
                    let omitted = self.result_omitted(t, at);
                    let message = repeated_call(&tool, &server, earlier, result.as_deref(), omitted);
                    self.emit(t, Event::Intervention { turn, kind: "repeated_call".into(), message: message.clone() });
                    results.push((id, message));
                    continue;
                }
                if let Some(message) = alternation(&t.recent_calls, &fingerprint) {
                    self.emit(t, Event::Intervention { turn, kind: "action_loop".into(), message: message.clone() });
                    results.push((id, message));
                    continue;
                }
                t.recent_calls.push(fingerprint.clone());
                let keep_from = t.recent_calls.len().saturating_sub(3);
                t.recent_calls.drain(..keep_from);
                t.last_ran = Some(fingerprint.clone());
                ran_any = true;
                let mut usage = None;
                let (text, ok, wall_ms) = if call.unparsed {
                    // Quoted only in part: a huge broken argument would
                    // otherwise come back whole as the error.
                    let raw = call.arguments["raw"].as_str().unwrap_or("");
                    let shown: String = raw.chars().take(RECALL_CHARS).collect();
                    let more = if shown.len() < raw.len() { " ... [cut]" } else { "" };
                    let e = format!("the arguments are not valid JSON: {shown:?}{more}");
                    (format!("Tool call to {tool} on {server} failed. Error: {e}"), false, 0.0)
                } else if server.is_empty() {
                    (
                        format!(
                            "Tool call to {tool} failed. Error: {}",
                            call.arguments["error"].as_str().unwrap_or("")
                        ),
                        false,
                        0.0,
                    )
                } else {
                    let out = self.session.call(&server, &tool, &args.to_string()).await;
                    if let Some(id) = &out.sandbox_created {
                        let message = format!(
                            "the call named no live sandbox, so sandbox {id:?} was created for it; later calls naming it share its state"
                        );
                        self.emit(t, Event::Note { turn, kind: "sandbox_created".into(), message });
                    }
                    if let Some(hit) = out.limit {
                        self.emit(t, Event::Limit { key: hit.key.into(), message: hit.message });
                    }
                    if let Some(u) = out.usage {
                        t.usage.prompt_tokens += u.prompt_tokens;
                        t.usage.completion_tokens += u.completion_tokens;
                        usage = Some(u);
                    }
                    let text = if out.ok {
                        out.output
                    } else {
                        let mut text = format!(
                            "Tool call to {tool} on {server} failed. Error: {}",
                            out.error.as_deref().unwrap_or(&out.output)
                        );
                        let native = t.native.is_some();
                        if let Some(fix) = renamed_argument_fix(&t.tools, &server, &tool, &call.arguments, native) {
                            text = format!("{text}\n{fix}");
                            let event = Event::Intervention { turn, kind: "argument_renamed".into(), message: fix };
                            self.emit(t, event);
                        }
                        text
                    };
                    (text, out.ok, out.wall_ms)
                };
                // Where push_results will put this result: one message per
                // turn in the text protocol, one per call natively.
                let at = t.messages.len() + if t.native.is_some() { results.len() } else { 0 };
                if cfg.rollback_empty_searches && tool == "google_search" && ok && no_organic_results(&text) {
                    after_cause.get_or_insert("a search with no results");
                }
                remembered.push(fingerprint.clone());
                t.seen_calls.insert(fingerprint, (turn, cut_for_recall(&text), at));
                if matches!(tool.as_str(), "run_python_code" | "run_command")
                    && text.contains("scrape_and_extract_info")
                {
                    // The tool said where the network is; marked for filtering.
                    let message = "the code tried to reach the network, which code tools have none of".to_owned();
                    self.emit(t, Event::Note { turn, kind: "network_attempt".into(), message });
                }
                // Not after a traceback: that result answers nothing.
                let hint = cfg.tool_hint && ok && tool == "run_python_code" && !text.contains("[error]");
                let text = if hint { text + RESULT_HINT } else { text };
                self.emit(t, Event::ToolResult { turn, server, tool, ok, output: text.clone(), wall_ms, usage });
                results.push((id, cut(text)));
            }
            t.rollbacks = if after_cause.is_some() { consecutive } else { 0 };
            if let Some(reason) = after_cause
                && !limit_hit
                && self.may_roll_back(t)
            {
                // The calls ran; the reply that made them is sampled again.
                for key in remembered {
                    t.seen_queries.remove(&key);
                    t.seen_calls.remove(&key);
                }
                t.messages.pop();
                t.turns -= 1;
                self.roll_back(t, turn, reason);
                continue;
            }
            t.rollbacks = 0;
            let new_tokens: u64 = results.iter().map(|(_, r)| tokens::count(r)).sum();
            self.push_results(t, results);
            if limit_hit {
                return Ok(());
            }
            if ran_any {
                t.idle_turns = 0;
            } else {
                if t.idle_turns == 0 {
                    t.idle_from = turn_start;
                }
                t.idle_turns += 1;
            }
            if t.idle_turns >= STUCK_TURNS {
                // The summary follows the last turn that ran: the repeats
                // only teach a small model to repeat once more.
                t.messages.truncate(t.idle_from);
                let message = format!(
                    "the model's calls were answered without running {STUCK_TURNS} turns in a row (repeats of calls already made); those turns are dropped and the model is asked for its final answer"
                );
                self.emit(t, Event::Intervention { turn, kind: "stuck_loop".into(), message });
                return Ok(());
            }
            // The protocol's context guard: will the next call, and the
            // summary after it, still fit?
            let prompt = match reply.usage.prompt_tokens {
                0 => self.visible(&t.messages[..sent]).iter().map(|m| tokens::count(&m.content)).sum(),
                n => n,
            };
            let completion = match reply.usage.completion_tokens {
                0 => tokens::count(&reply.content),
                n => n,
            };
            let estimate = prompt
                + completion
                + (new_tokens as f64 * 1.5) as u64
                + (summary_tokens as f64 * 1.5) as u64
                + cfg.max_output_tokens
                + 1000;
            if estimate >= cfg.context_window_tokens {
                return Err(Stop::Context(format!(
                    "the next turn would need about {estimate} tokens, over the model's context of {}",
                    cfg.context_window_tokens
                )));
            }
        }
    }

    /// The final summary step; the answer from its last `\boxed{}`.
    async fn summarize(&self, t: &mut TaskState) -> Result<Option<String>, String> {
        // A trailing tool result gives way to the summary prompt (text
        // protocol). OpenAI `tool` messages must stay: each answers a call.
        // After a stuck loop the trailing result is the last that ran, the
        // one the answer is in: the prompt follows it in the same message.
        let trailing_result =
            t.native.is_none() && t.messages.len() > 2 && t.messages.last().is_some_and(|m| m.role == "user");
        let prompt = summary_prompt(&t.question);
        match t.messages.last_mut() {
            Some(last) if trailing_result && t.idle_turns >= STUCK_TURNS => {
                last.content = format!("{}\n\n{prompt}", last.content);
            }
            _ => {
                if trailing_result {
                    t.messages.pop();
                }
                t.messages.push(Message::new("user", prompt));
            }
        }
        let mut asked_again = false;
        loop {
            match self.ask(t, Some("none")).await {
                Ok(reply) => {
                    t.messages.push(Message::new("assistant", reply.content.clone()));
                    let turn = t.turns;
                    self.emit(t, Event::Assistant { turn, content: reply.content.clone(), summary: true });
                    let answer = extract_boxed(&reply.content);
                    // A call instead of the answer, or an answer not in
                    // `\boxed{}` when no earlier reply had one to fall back
                    // on: asked once more, saying which.
                    let called = answer.is_none() && !self.calls_of(t, &reply).is_empty();
                    if answer.is_none() && !asked_again && (called || t.last_boxed.is_none()) {
                        asked_again = true;
                        let (kind, message) = if called {
                            ("summary_tool_call", SUMMARY_WITHOUT_TOOLS.to_owned())
                        } else {
                            ("summary_unboxed", unboxed_summary_nudge(&reply.content))
                        };
                        self.emit(t, Event::Intervention { turn, kind: kind.into(), message: message.clone() });
                        t.messages.push(Message::new("user", message));
                        continue;
                    }
                    return Ok(answer);
                }
                // Still too long: give up turns from the end, keeping the task.
                Err(Stop::Context(why)) if t.messages.len() > 4 => {
                    let prompt = t.messages.pop().expect("the summary prompt");
                    drop_last_turn(&mut t.messages);
                    let message =
                        format!("{why}; one more turn is dropped for the summary (agent.context_window_tokens)");
                    self.emit(t, Event::Limit { key: "agent.context_window_tokens".into(), message });
                    t.messages.push(prompt);
                }
                Err(Stop::Context(why)) | Err(Stop::Fatal(why)) => return Err(why),
            }
        }
    }

    /// One model call with the task's conversation as the protocol shows it.
    async fn ask(&self, t: &mut TaskState, tool_choice: Option<&'static str>) -> Result<ChatReply, Stop> {
        self.check_deadline(t)?;
        let request = ChatRequest {
            messages: self.visible(&t.messages),
            temperature: self.config.temperature,
            top_p: self.config.top_p,
            max_tokens: self.config.max_output_tokens,
            repetition_penalty: self.config.repetition_penalty,
            session_id: t.id.clone(),
            tools: t.native.as_ref().map(|(defs, _)| defs.clone()),
            tool_choice: t.native.as_ref().and(tool_choice),
        };
        let started = Instant::now();
        let chat = self.llm.chat(&request);
        let result = match t.deadline {
            Some(d) => match tokio::time::timeout_at(d.into(), chat).await {
                Ok(r) => r,
                Err(_) => return Err(self.timed_out(t)),
            },
            None => chat.await,
        };
        match result {
            Ok(reply) => {
                t.usage.prompt_tokens += reply.usage.prompt_tokens;
                t.usage.completion_tokens += reply.usage.completion_tokens;
                let call = Event::ModelCall {
                    turn: t.turns + u64::from(tool_choice.is_none()),
                    ms: started.elapsed().as_secs_f64() * 1e3,
                    prompt_tokens: reply.usage.prompt_tokens,
                    completion_tokens: reply.usage.completion_tokens,
                };
                self.emit(t, call);
                Ok(reply)
            }
            Err(LlmError::ContextLength(body)) => {
                Err(Stop::Context(format!("the model server reports the conversation is too long ({body})")))
            }
            Err(e) => Err(Stop::Fatal(e.to_string())),
        }
    }

    fn check_deadline(&self, t: &mut TaskState) -> Result<(), Stop> {
        match t.deadline {
            Some(d) if Instant::now() >= d => Err(self.timed_out(t)),
            _ => Ok(()),
        }
    }

    fn timed_out(&self, t: &mut TaskState) -> Stop {
        let secs = self.config.task_timeout.unwrap_or_default().as_secs_f64();
        let message = format!("the task ran past its time limit of {secs} s (agent.task_timeout_secs)");
        self.emit(t, Event::Limit { key: "agent.task_timeout_secs".into(), message: message.clone() });
        Stop::Fatal(message)
    }

    /// Whether keep-K now hides the result held by message `at`.
    fn result_omitted(&self, t: &TaskState, at: usize) -> bool {
        self.visible(&t.messages).get(at).is_some_and(|m| m.content == OMITTED)
    }

    fn visible(&self, messages: &[Message]) -> Vec<Message> {
        match self.config.tool_format {
            ToolFormat::McpXml => keep_last(messages, self.config.keep_tool_results),
            ToolFormat::Openai => keep_last_native(messages, self.config.keep_tool_results),
        }
    }

    /// The calls of a reply: `<use_mcp_tool>` blocks, or native calls
    /// resolved to (server, tool) by their function name. A name written
    /// loosely (a bare tool name, `server.tool`, the wrong server) is
    /// resolved when exactly one tool fits it.
    fn calls_of(&self, t: &TaskState, reply: &ChatReply) -> Vec<Call> {
        let tools = &t.tools;
        let Some((_, names)) = &t.native else {
            return parse_tool_calls(&reply.content)
                .into_iter()
                .map(|mut call| {
                    let resolved = resolve_tool(tools, &call.server, &call.tool)
                        .filter(|(s, t)| (s.as_str(), t.as_str()) != (call.server.as_str(), call.tool.as_str()));
                    let written_as = resolved.map(|(server, tool)| {
                        let written = format!("{}.{}", call.server, call.tool);
                        (call.server, call.tool) = (server, tool);
                        written
                    });
                    Call { id: None, call, written_as }
                })
                .collect();
        };
        reply
            .tool_calls
            .iter()
            .map(|nc| {
                let (arguments, unparsed) = arguments_or_failure(&nc.arguments);
                let exact = names.get(&nc.name).cloned();
                let loose = || resolve_tool(tools, "", &nc.name);
                let written_as = exact.is_none().then(|| nc.name.clone());
                let call = match exact.or_else(loose) {
                    Some((server, tool)) => ToolCall { server, tool, arguments, unparsed },
                    None => {
                        let mut known: Vec<&str> = names.keys().map(String::as_str).collect();
                        known.sort_unstable();
                        let mut m = Map::new();
                        m.insert(
                            "error".into(),
                            format!(
                                "there is no function named {:?}; the functions are: {}",
                                nc.name,
                                known.join(", ")
                            )
                            .into(),
                        );
                        return Call {
                            id: Some(nc.id.clone()),
                            call: ToolCall {
                                server: String::new(),
                                tool: nc.name.clone(),
                                arguments: m,
                                unparsed: false,
                            },
                            written_as: None,
                        };
                    }
                };
                Call { id: Some(nc.id.clone()), call, written_as }
            })
            .collect()
    }

    /// Whether another rollback is allowed: fewer than the cap in a row,
    /// and extra attempts left. At temperature 0 a resample is the same
    /// reply again (seen with a real model: five identical rollbacks of a
    /// minute each), so one try is all it gets.
    fn may_roll_back(&self, t: &TaskState) -> bool {
        let cap =
            if self.config.temperature == 0.0 { self.config.max_rollbacks.min(1) } else { self.config.max_rollbacks };
        t.rollbacks < cap && t.extra_attempts < self.config.max_extra_attempts
    }

    fn roll_back(&self, t: &mut TaskState, turn: u64, reason: &str) {
        t.rollbacks += 1;
        t.extra_attempts += 1;
        self.emit(t, Event::Rollback { turn, reason: reason.into() });
    }

    /// What to say to a reply that neither calls a tool nor answers, if
    /// anything (each once per task): code written in a fenced block gets
    /// the call that would run it; a first reply without a `\boxed{}`
    /// answer gets the format reminder. `None` lets the reply stand as the
    /// model's last word.
    fn unanswered_reply(&self, t: &mut TaskState, reply: &str) -> Option<(&'static str, String)> {
        if extract_boxed(reply).is_some() {
            // An answer no tool backs: asked once to check it (opt-in).
            if self.config.check_unverified_answers && !t.checked_answer && t.seen_calls.is_empty() {
                t.checked_answer = true;
                return unverified_answer_nudge(&t.tools, t.native.is_some()).map(|m| ("unverified_answer", m));
            }
            return None;
        }
        if self.config.nudge_unrun_code && !t.nudged_code {
            if let Some(message) = unrun_code_nudge(&t.tools, reply, t.native.is_some()) {
                t.nudged_code = true;
                return Some(("unrun_code", message));
            }
        }
        if t.turns == 1 && !t.reminded_format {
            t.reminded_format = true;
            return Some(("format_reminder", FORMAT_REMINDER.to_owned()));
        }
        None
    }

    /// A turn's results: one `user` message (text protocol) or one `tool`
    /// message per call (OpenAI mode).
    fn push_results(&self, t: &mut TaskState, results: Vec<(Option<String>, String)>) {
        if t.native.is_some() && results.iter().all(|(id, _)| id.is_some()) {
            for (id, text) in results {
                let mut m = Message::new("tool", text);
                m.tool_call_id = id;
                t.messages.push(m);
            }
        } else {
            let joined: Vec<String> = results.into_iter().map(|(_, r)| r).collect();
            t.messages.push(Message::new("user", joined.join("\n")));
        }
    }
}

/// Remove the last turn (its results, then the reply that asked for them),
/// never the task itself.
fn drop_last_turn(messages: &mut Vec<Message>) {
    while messages.len() > 2 && messages.last().is_some_and(|m| m.role == "tool") {
        messages.pop();
    }
    if messages.len() > 2 && messages.last().is_some_and(|m| m.role == "user") {
        messages.pop();
    }
    if messages.len() > 2 && messages.last().is_some_and(|m| m.role == "assistant") {
        messages.pop();
    }
}

/// Whether a `google_search` result is Serper JSON with no organic results.
fn no_organic_results(text: &str) -> bool {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("organic").and_then(Value::as_array).map(Vec::is_empty))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_duplicates_share_a_fingerprint() {
        let q = |s: &str| normalized(&serde_json::json!({ "q": s }), false);
        assert_eq!(q("Wasm   Sandboxes 'fast'"), q("wasm sandboxes \"fast\""));
        assert_ne!(q("wasm sandboxes"), q("wasm sandbox"));
        let code = |s: &str| normalized(&serde_json::json!({ "code_block": s }), true);
        assert_eq!(code("print('x')  \n"), code("print(\"x\")"));
        assert_ne!(code("print('x')"), code("print('X')"), "case matters in code");
        assert_ne!(code("if a:\n    b"), code("if a:\n        b"), "so does indentation");
    }

    #[test]
    fn a_search_with_no_organic_results_is_recognised() {
        assert!(no_organic_results(r#"{"organic": [], "searchParameters": {"q": "x"}}"#));
        assert!(!no_organic_results(r#"{"organic": [{"title": "t", "link": "l"}]}"#));
        assert!(!no_organic_results("Tool call to google_search failed"));
        assert!(!no_organic_results(r#"{"answerBox": {}}"#));
    }

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
