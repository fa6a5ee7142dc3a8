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
    pub finished_at: SystemTime,
    /// The outcome, or the error that ended the task.
    pub result: Result<&'a Outcome, &'a str>,
    /// Every event with the time it happened.
    pub events: &'a [(SystemTime, Event)],
}

impl Finished<'_> {
    fn status(&self) -> &'static str {
        if self.result.is_ok() { "succeeded" } else { "failed" }
    }

    /// `{id, status, question, policy, answer, turns, tool_calls, usage, error, created_at, started_at, finished_at}`
    pub fn task_record(&self) -> Value {
        let (answer, turns, calls, usage, error) = match self.result {
            Ok(o) => (json!(o.answer), o.turns, o.tool_calls, json!(o.usage), Value::Null),
            Err(e) => (Value::Null, 0, 0, json!({"prompt_tokens": 0, "completion_tokens": 0}), json!(e)),
        };
        json!({
            "id": self.id,
            "status": self.status(),
            "question": self.question,
            "policy": self.policy,
            "answer": answer,
            "turns": turns,
            "tool_calls": calls,
            "usage": usage,
            "error": error,
            "created_at": timestamp(self.created_at),
            "started_at": timestamp(self.created_at),
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
                    Event::Rollback { reason, .. } => ("rollback", format!("reply rolled back: {reason}"), "warning"),
                    Event::ToolCall { server, tool, .. } => ("tool_call", format!("{server}.{tool}"), "info"),
                    Event::ToolResult { server, tool, ok, .. } => {
                        ("tool_result", format!("{server}.{tool} {}", if *ok { "ok" } else { "failed" }), if *ok { "info" } else { "warning" })
                    }
                    Event::Intervention { message, .. } => ("intervention", message.clone(), "warning"),
                    Event::Limit { message, .. } => ("limit", message.clone(), "warning"),
                    Event::Answer { answer } => ("answer", answer.clone(), "info"),
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
        let (history, system_prompt, answer, usage, error) = match self.result {
            Ok(o) => {
                let msgs: Vec<Value> =
                    o.messages.iter().skip(1).map(|m| json!({"role": m.role, "content": m.content})).collect();
                (json!(msgs), json!(o.system_prompt), json!(o.answer), json!(o.usage), Value::Null)
            }
            Err(e) => (json!([]), Value::Null, Value::Null, Value::Null, json!(e)),
        };
        json!({
            "status": if self.result.is_ok() { "success" } else { "failed" },
            "start_time": timestamp(self.created_at),
            "end_time": timestamp(self.finished_at),
            "task_id": self.id,
            "input": {"task_description": self.question, "task_file_name": self.file_names.join(", ")},
            "ground_truth": Value::Null,
            "final_boxed_answer": answer,
            "error": error,
            "main_agent_message_history": {"system_prompt": system_prompt, "message_history": history},
            "step_logs": step_logs,
            "limits": limits,
            "usage": usage,
        })
    }
}
