//! Budget exhaustion: a model that never stops calling tools, never stops
//! talking or never finishes is ended by the task's limits, each named by
//! its policy key.

use std::time::{Duration, Instant};

use fathom::agent::run::{Agent, AgentConfig, Event, Outcome};
use fathom::runtime::{Session, SessionOptions};
use serde_json::Value;

use super::common::scripted::{Scripted, Step, completion, completion_usage};

fn call(server: &str, tool: &str, args: &str) -> String {
    format!(
        "<use_mcp_tool>\n<server_name>{server}</server_name>\n<tool_name>{tool}</tool_name>\n<arguments>\n{args}\n</arguments>\n</use_mcp_tool>"
    )
}

fn is_summary(body: &Value) -> bool {
    let last = body["messages"].as_array().unwrap().last().unwrap();
    last["content"].as_str().is_some_and(|c| c.contains("FINAL ANSWER"))
}

/// A model that calls a fresh tool every turn (its own `n`, so nothing is a
/// duplicate) and answers only when asked for the summary.
async fn relentless(tool_args: impl Fn(usize) -> String + Send + Sync + 'static, prompt_tokens: u64) -> Scripted {
    Scripted::responder(move |body| {
        if is_summary(body) {
            return completion("\\boxed{stopped}", "stop");
        }
        let n = body["messages"].as_array().unwrap().len();
        completion_usage(&call("hostile", "echo", &tool_args(n)), prompt_tokens, 10)
    })
    .await
}

async fn run(server: &Scripted, edit: impl FnOnce(&mut AgentConfig)) -> Outcome {
    let policy = super::common::policy(|_| {});
    let mut config = AgentConfig::from_policy(&policy);
    edit(&mut config);
    let session = Session::new(super::runtime().await, SessionOptions::new(policy)).unwrap();
    let llm = server.client(|_| {});
    let agent = Agent { llm: &llm, session: &session, config, on_event: None };
    agent.run("task-budget", "Loop forever.", "2026-12-01").await
}

fn limit_hit(out: &Outcome, key: &str) -> bool {
    out.events.iter().any(|e| matches!(e, Event::Limit { key: k, .. } if k == key))
}

fn echo(n: usize) -> String {
    format!(r#"{{"text": "turn {n}"}}"#)
}

/// Attack: a model that calls tools forever runs out of turns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_turns_stop_at_max_turns() {
    let server = relentless(echo, 100).await;
    let out = run(&server, |c| c.max_turns = 5).await;
    assert!(limit_hit(&out, "agent.max_turns"), "{:?}", out.events.len());
    assert_eq!(out.turns, 5);
    assert_eq!(server.count(), 6, "five turns and the summary, nothing more");
}

/// Attack: a model that calls tools forever runs out of tool calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_tool_calls_stop_at_max_tool_calls() {
    let server = relentless(echo, 100).await;
    let out = run(&server, |c| c.max_tool_calls = 3).await;
    assert!(limit_hit(&out, "agent.max_tool_calls"));
    assert!(out.tool_calls <= 3, "{} calls ran", out.tool_calls);
}

/// Attack: a conversation that grows until it cannot fit the model's context.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_growing_context_stops_at_the_token_budget() {
    let server = relentless(echo, 7_000).await;
    let out = run(&server, |c| {
        c.context_window_tokens = 8_000;
        c.max_output_tokens = 500;
    })
    .await;
    assert!(limit_hit(&out, "agent.context_window_tokens"));
    assert!(server.count() <= 3, "{} requests", server.count());
}

/// Attack: a task that would run forever, one slow tool call after another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_never_ends_stops_at_its_time_limit() {
    let server = Scripted::responder(|body| {
        if is_summary(body) {
            return completion("\\boxed{late}", "stop");
        }
        let n = body["messages"].as_array().unwrap().len();
        Step::Reply {
            status: 200,
            body: reply(&call("hostile", "sleep", &format!(r#"{{"ms": {}}}"#, 400 + n))),
            delay: Duration::ZERO,
        }
    })
    .await;
    let start = Instant::now();
    let out = run(&server, |c| c.task_timeout = Some(Duration::from_secs(2))).await;
    assert!(limit_hit(&out, "agent.task_timeout_secs"), "{:?}", out.error);
    assert!(start.elapsed() < Duration::from_secs(30), "the limit did not hold");
}

fn reply(content: &str) -> String {
    serde_json::json!({
        "id": "x", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    })
    .to_string()
}
