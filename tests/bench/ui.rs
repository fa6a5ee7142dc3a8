//! The trace viewer's weight and render time, in headless Chromium (the
//! test's Selenium client): a 600-turn task page served by the daemon (the
//! task run for real with a scripted model, its events replayed over SSE),
//! and the same length of trajectory under `fathom view`. Prints figures.
//!
//!     cargo bench --bench ui

#[path = "../common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::daemon::{start_tcp, view};
use common::scripted::{Scripted, completion};
use serde_json::{Value, json};

const TOKEN: &str = "viewer-bench-token-0123456789";
const TURNS: u64 = 600;
const LOADS: &str = "7";

fn repo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn browser_bench(url: &str, path: &str, token: Option<&str>) -> Value {
    let py = Command::new("bash").arg(repo().join("scripts/test-clients.sh")).output().unwrap();
    let python = String::from_utf8(py.stdout).unwrap().trim().to_owned();
    let mut cmd = Command::new(python);
    cmd.arg(repo().join("tests/ui_client.py")).args(["bench", url, path, LOADS]);
    if let Some(t) = token {
        cmd.arg(t);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

/// A model that makes `TURNS` Python calls, each printing a few lines.
async fn model() -> Scripted {
    Scripted::responder(|body| {
        let msgs = body["messages"].as_array().cloned().unwrap_or_default();
        let last = msgs.last().and_then(|m| m["content"].as_str()).unwrap_or("");
        let done = msgs.iter().filter(|m| m["role"] == "assistant").count() as u64;
        if last.starts_with("Summarize the above conversation") || done >= TURNS {
            return completion("\\boxed{done}", "stop");
        }
        let code = json!({"code_block": format!("for i in range(20): print('turn {done} line', i)")});
        completion(
            &format!(
                "Looking at part {done} next. {}\n<use_mcp_tool>\n<server_name>tool-python</server_name>\n<tool_name>run_python_code</tool_name>\n<arguments>\n{code}\n</arguments>\n</use_mcp_tool>",
                "I reason about it at some length. ".repeat(20)
            ),
            "stop",
        )
    })
    .await
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("page weight (HTML + script + style, uncompressed): {} bytes", fathom::ui::page_weight());

    // The daemon's task page for a real 600-turn task.
    let dir = tempfile::tempdir().unwrap();
    let model = model().await;
    let (d, listen) = start_tcp(dir.path(), &model.url, TOKEN).await;
    let started = Instant::now();
    let id = d
        .submit(
            json!({"question": "a long task", "policy": {"extends": "default", "agent": {"keep_tool_results": -1}}}),
        )
        .await;
    let record = d.wait_for(&id, &["succeeded"], Duration::from_secs(900)).await;
    let events = d.events_now(&id).await;
    let sse_bytes: usize = events.iter().map(|(_, e)| e.to_string().len()).sum();
    println!(
        "600-turn task run through the daemon in {:.1} s: {} turns, {} events, {} bytes of event data",
        started.elapsed().as_secs_f64(),
        record["turns"],
        events.len(),
        sse_bytes
    );
    let url = format!("http://{listen}");
    let live = browser_bench(&url, &format!("/ui#/task/{id}"), Some(TOKEN));
    println!(
        "daemon task page, 600 turns: render (events replayed over SSE into the timeline) median {:.0} ms, navigation to rendered median {:.0} ms, {} DOM nodes (runs: {})",
        live["render_ms_median"].as_f64().unwrap(),
        live["load_to_rendered_ms_median"].as_f64().unwrap(),
        live["dom_nodes"],
        live["render_ms"]
    );

    // The same length under `fathom view`, with a 100,000-character result.
    let file = dir.path().join("trace.json");
    let trace = common::trace::long_trace(TURNS).to_string();
    std::fs::write(&file, &trace).unwrap();
    let (mut view, base) = view(&file);
    let file_mode = browser_bench(&base, "/ui", None);
    println!(
        "fathom view, 600-turn trace file ({} bytes): render median {:.0} ms, navigation to rendered median {:.0} ms, {} DOM nodes",
        trace.len(),
        file_mode["render_ms_median"].as_f64().unwrap(),
        file_mode["load_to_rendered_ms_median"].as_f64().unwrap(),
        file_mode["dom_nodes"]
    );
    let _ = view.kill();
    let _ = view.wait();
}
