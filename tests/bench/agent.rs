//! Agent-loop benchmark: `cargo bench --bench agent`.
//!
//! A 600-turn task against an instant scripted model (a real HTTP server in
//! this process), each turn one call of a trivial real tool. Prints the
//! daemon-side overhead per turn — the time between two turns minus the
//! tool call's own time, so it covers the HTTP round trip, JSON, keep-K,
//! token counting, parsing and bookkeeping — and the process's peak memory.
//!
//! Then the same task bare and observed, alternating, five times each: observed
//! is what the daemon adds around the loop for operations — every event
//! turned to JSON and counted into the Prometheus metrics, and a tracing
//! subscriber writing JSON lines at the debug level (to a sink, so the
//! figure is the logging's own cost, not a disk's).

#[path = "../common/mod.rs"]
mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fathom::agent::run::{Agent, AgentConfig, Event};
use fathom::llm::{LlmClient, LlmConfig};
use fathom::runtime::{Session, SessionOptions};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TURNS: usize = 600;

fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// An instant model: answers each request without parsing it (the body
/// is read and dropped), on a kept-alive connection, so the time measured
/// is the daemon's. Reply `i` calls the echo tool with a new argument; the
/// last two end the task.
async fn instant_model() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let count = count.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = vec![0u8; 1 << 16];
                loop {
                    let head_end = loop {
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break p + 4;
                        }
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    while buf.len() < head_end + len {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..head_end + len);
                    let i = count.fetch_add(1, Ordering::SeqCst);
                    let content = if i + 1 < TURNS {
                        format!(
                            "Step {i}: checking.\n<use_mcp_tool>\n<server_name>hostile</server_name>\n<tool_name>echo</tool_name>\n<arguments>\n{{\"text\": \"turn {i}\"}}\n</arguments>\n</use_mcp_tool>"
                        )
                    } else {
                        "Done: \\boxed{600}".to_owned()
                    };
                    let body = json!({
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 11, "completion_tokens": 7}
                    })
                    .to_string();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if sock.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

async fn one_task() -> (Vec<Duration>, Duration, usize) {
    one_task_with(None).await
}

async fn one_task_with(metrics: Option<&fathom::metrics::Metrics>) -> (Vec<Duration>, Duration, usize) {
    let url = instant_model().await;
    let llm = LlmClient::new(LlmConfig::new(url, "instant")).unwrap();
    let rt = common::runtime().await;
    let policy = common::policy(|p| {
        p.agent.max_turns = TURNS as u64 + 1;
        p.agent.max_tool_calls = TURNS as u64 * 2;
    });
    let config = AgentConfig::from_policy(&policy);
    let session = Session::new(rt, SessionOptions::new(policy)).unwrap();
    let marks: Mutex<Vec<(Instant, f64)>> = Mutex::default();
    let on_event = |e: &Event| {
        if let Some(m) = metrics {
            m.observe_event(&serde_json::to_value(e).unwrap());
        }
        match e {
            Event::Turn { .. } => marks.lock().unwrap().push((Instant::now(), 0.0)),
            Event::ToolResult { wall_ms, .. } => marks.lock().unwrap().last_mut().unwrap().1 += wall_ms,
            _ => {}
        }
    };
    let agent = Agent { llm: &llm, session: &session, config, on_event: Some(&on_event) };
    let started = Instant::now();
    let outcome = agent.run("bench", "Count to 600.", "2026-11-25").await;
    let total = started.elapsed();
    assert_eq!(outcome.error, None);
    assert_eq!((outcome.answer.as_str(), outcome.turns as usize), ("600", TURNS));
    let marks = marks.into_inner().unwrap();
    let overhead =
        marks.windows(2).map(|w| (w[1].0 - w[0].0).saturating_sub(Duration::from_secs_f64(w[0].1 / 1e3))).collect();
    (overhead, total, outcome.messages.len())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let before = status_kb("VmRSS:");
    // Warm: components loaded, vocabulary of the tokenizer read.
    let _ = one_task().await;
    let after_warm = status_kb("VmHWM:");
    let (mut overhead, total, messages) = one_task().await;
    overhead.sort();
    let pick = |q: f64| overhead[((overhead.len() - 1) as f64 * q) as usize];
    let ms = |d: Duration| format!("{:.3} ms", d.as_secs_f64() * 1e3);
    println!(
        "{TURNS}-turn task, instant scripted model, one trivial tool call per turn ({messages} messages at the end)"
    );
    println!(
        "  overhead per turn, tool time excluded: median {}   p90 {}   p99 {}   (target: median <= 0.5 ms)",
        ms(pick(0.5)),
        ms(pick(0.9)),
        ms(pick(0.99))
    );
    println!("  whole task: {:.2} s", total.as_secs_f64());
    println!(
        "  process memory: RSS before {} MB; peak {} MB after a first task, {} MB after the second",
        before / 1024,
        after_warm / 1024,
        status_kb("VmHWM:") / 1024
    );
    observability_overhead().await;
}

/// Bare against observed (metrics and JSON debug logs), side by side.
async fn observability_overhead() {
    use tracing::instrument::WithSubscriber;
    let metrics = fathom::metrics::Metrics::new();
    let logs = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(std::io::sink)
        .finish();
    let logs = tracing::Dispatch::new(logs);
    let (mut bare, mut observed) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        bare.push(one_task().await);
        observed.push(one_task_with(Some(&metrics)).with_subscriber(logs.clone()).await);
    }
    let median = |runs: &[(Vec<Duration>, Duration, usize)]| {
        let mut per_turn: Vec<Duration> = runs.iter().flat_map(|r| r.0.iter().copied()).collect();
        per_turn.sort();
        let mut totals: Vec<Duration> = runs.iter().map(|r| r.1).collect();
        totals.sort();
        (per_turn[per_turn.len() / 2], totals[totals.len() / 2])
    };
    let ((bare_turn, bare_total), (obs_turn, obs_total)) = (median(&bare), median(&observed));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("metrics and tracing, 5 runs each, alternating (medians):");
    println!("  bare:     overhead per turn {:.3} ms, whole task {:.2} s", ms(bare_turn), bare_total.as_secs_f64());
    println!(
        "  observed: overhead per turn {:.3} ms, whole task {:.2} s   (ratio per turn {:.2}x, whole task {:.2}x)",
        ms(obs_turn),
        obs_total.as_secs_f64(),
        ms(obs_turn) / ms(bare_turn),
        obs_total.as_secs_f64() / bare_total.as_secs_f64()
    );
}
