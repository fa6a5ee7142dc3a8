//! The task record and the trajectory file (`interface.md`), the latter in
//! the shape of MiroThinker's task logs so its viewer and training-data
//! tools read it.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::run::{Event, Outcome};

pub fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// Everything known about one finished (or failed) task.
pub struct Finished<'a> {
    pub id: &'a str,
    pub question: &'a str,
    pub policy: &'a str,
    pub file_names: &'a [String],
    pub created_at: SystemTime,
    pub started_at: SystemTime,
    pub finished_at: SystemTime,
    /// `succeeded|failed|cancelled|interrupted`; `None`: from the outcome.
    pub status: Option<&'a str>,
    /// The outcome; a failed task's keeps its conversation up to the error.
    pub outcome: &'a Outcome,
    /// Every event with the time it happened.
    pub events: &'a [(SystemTime, Event)],
}

impl Finished<'_> {
    fn status(&self) -> &str {
        self.status.unwrap_or(if self.outcome.error.is_none() { "succeeded" } else { "failed" })
    }

    /// `{id, status, question, policy, answer, turns, tool_calls, usage, error, created_at, started_at, finished_at}`
    pub fn task_record(&self) -> Value {
        let o = self.outcome;
        let answer = if self.status() == "succeeded" { json!(o.answer) } else { Value::Null };
        json!({
            "id": self.id,
            "status": self.status(),
            "question": self.question,
            "policy": self.policy,
            "files": self.file_names,
            "answer": answer,
            "turns": o.turns,
            "tool_calls": o.tool_calls,
            "usage": o.usage,
            "error": o.error,
            "created_at": timestamp(self.created_at),
            "started_at": timestamp(self.started_at),
            "finished_at": timestamp(self.finished_at),
        })
    }

    /// The trajectory: MiroThinker's task-log fields plus `limits` and `usage`.
    pub fn trace(&self) -> Value {
        let step_logs: Vec<Value> = self
            .events
            .iter()
            .map(|(t, e)| {
                let meta = serde_json::to_value(e).unwrap_or(Value::Null);
                let (name, message, level) = match e {
                    Event::Turn { turn } => ("turn", format!("turn {turn}"), "info"),
                    Event::Assistant { summary, .. } => {
                        ("assistant", if *summary { "final summary" } else { "model reply" }.to_owned(), "info")
                    }
                    Event::Rollback { reason, .. } => ("rollback", format!("reply rolled back: {reason}"), "warning"),
                    Event::ModelCall { ms, .. } => ("model_call", format!("model request: {ms:.0} ms"), "info"),
                    Event::ToolCall { server, tool, .. } => ("tool_call", format!("{server}.{tool}"), "info"),
                    Event::ToolResult { server, tool, ok, .. } => {
                        ("tool_result", format!("{server}.{tool} {}", if *ok { "ok" } else { "failed" }), if *ok { "info" } else { "warning" })
                    }
                    Event::Intervention { message, .. } => ("intervention", message.clone(), "warning"),
                    Event::Note { message, .. } => ("note", message.clone(), "info"),
                    Event::Attempt { attempt, .. } => ("attempt", format!("attempt {attempt} starts afresh"), "warning"),
                    Event::Limit { message, .. } => ("limit", message.clone(), "warning"),
                    Event::Answer { answer } => ("answer", answer.clone(), "info"),
                    Event::Error { message } => ("error", message.clone(), "error"),
                };
                json!({"step_name": name, "message": message, "timestamp": timestamp(*t), "info_level": level, "metadata": meta})
            })
            .collect();
        let limits: Vec<Value> = self
            .events
            .iter()
            .filter_map(|(t, e)| match e {
                Event::Limit { key, message } => {
                    Some(json!({"key": key, "message": message, "timestamp": timestamp(*t)}))
                }
                _ => None,
            })
            .collect();
        let o = self.outcome;
        // Messages as the model produced them (OpenAI mode: with their
        // `tool_calls` / `tool_call_id`), the system prompt apart.
        let history: Vec<Value> = o.messages.iter().skip(1).map(|m| json!(m)).collect();
        let answer = if self.status() == "succeeded" { json!(o.answer) } else { Value::Null };
        let status = match self.status() {
            "succeeded" => "success",
            other => other,
        };
        json!({
            "status": status,
            "start_time": timestamp(self.created_at),
            "end_time": timestamp(self.finished_at),
            "task_id": self.id,
            "input": {"task_description": self.question, "task_file_name": self.file_names.join(", ")},
            "ground_truth": Value::Null,
            "final_boxed_answer": answer,
            // Fathom's: whether the answer came from a `\boxed{}` (else it is
            // the protocol's "No \boxed{} content found" sentence).
            "final_answer_boxed": o.boxed,
            "error": o.error,
            "main_agent_message_history": {"system_prompt": o.system_prompt, "message_history": history},
            "step_logs": step_logs,
            "limits": limits,
            "usage": o.usage,
            "policy": self.policy,
        })
    }
}
