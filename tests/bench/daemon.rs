//! Daemon load benchmark: `cargo bench --bench daemon`.
//!
//! Starts a real `fathom serve` (its own state folder, the shared compile
//! cache) and an instant scripted model in this process, submits TASKS
//! tasks at once over the Unix socket, each TURNS turns of a Python call
//! then the answer, waits for all of them, and checks that nothing was
//! lost: every task succeeded with its answer, every event numbered 1..n.
//! Prints throughput, tool-call latency (the calls' own `wall_ms`), time to
//! first event (from the task's acknowledgement to its first turn: queueing
//! included, so it grows with the backlog), and the daemon's peak RSS.
//!
//! `FATHOM_BENCH_TASKS`, `FATHOM_BENCH_TURNS` and `FATHOM_BENCH_CONCURRENCY`
//! change the load (defaults 1000, 10, 16).

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant, SystemTime};

use common::daemon::{Daemon, rss_peak_mb};
use common::scripted::{Scripted, completion};
use serde_json::{Value, json};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn at(v: &Value) -> SystemTime {
    humantime::parse_rfc3339(v.as_str().unwrap()).unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let tasks = env_or("FATHOM_BENCH_TASKS", 1000);
    let turns = env_or("FATHOM_BENCH_TURNS", 10) as u64;
    let concurrency = env_or("FATHOM_BENCH_CONCURRENCY", 16);
    let model = Scripted::responder(move |body| {
        let msgs = body["messages"].as_array().cloned().unwrap_or_default();
        let last = msgs.last().and_then(|m| m["content"].as_str()).unwrap_or("");
        let done = msgs.iter().filter(|m| m["role"] == "assistant").count() as u64;
        if last.starts_with("Summarize the above conversation") {
            completion("\\boxed{ok}", "stop")
        } else if done < turns {
            let call = format!(
                "<use_mcp_tool>\n<server_name>tool-python</server_name>\n<tool_name>run_python_code</tool_name>\n<arguments>\n{{\"code_block\": \"x = {done} * 7\\nprint(x)\"}}\n</arguments>\n</use_mcp_tool>"
            );
            completion(&call, "stop")
        } else {
            completion("\\boxed{ok}", "stop")
        }
    })
    .await;
    let state = tempfile::tempdir().unwrap();
    let conc = concurrency.to_string();
    let queue = (tasks + 10).to_string();
    let d = Daemon::start(
        state.path(),
        &[
            ("FATHOM_LLM_BASE_URL", model.url.as_str()),
            ("FATHOM_SERVER_CONCURRENCY", &conc),
            ("FATHOM_SERVER_QUEUE", &queue),
            ("FATHOM_SERVER_MAX_SANDBOXES", "1024"),
        ],
        &[],
    )
    .await;
    println!("daemon load: {tasks} tasks x {turns} turns of run_python_code, concurrency {concurrency}, instant model");

    let started = Instant::now();
    let mut ids = Vec::with_capacity(tasks);
    let submits: Vec<_> = (0..tasks)
        .map(|i| {
            let http = d.http.clone();
            tokio::spawn(async move {
                let body = json!({"question": format!("task {i}: compute"), "policy": "default"});
                let r = http.post("http://d/v1/tasks").json(&body).send().await.unwrap();
                assert_eq!(r.status(), 201);
                r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
            })
        })
        .collect();
    for s in submits {
        ids.push(s.await.unwrap());
    }
    let submitted = started.elapsed();

    // Wait for all of them.
    loop {
        let r = d.get("/healthz").await.body;
        let succeeded = r["tasks"]["succeeded"].as_u64().unwrap_or(0) as usize;
        let failed = r["tasks"]["failed"].as_u64().unwrap_or(0);
        if succeeded + failed as usize >= tasks {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let total = started.elapsed();
    let peak = rss_peak_mb(d.child.id());

    let mut lost = 0;
    let mut call_ms = Vec::new();
    let mut first_call_ms = Vec::new();
    let mut first_event_ms = Vec::new();
    for id in &ids {
        let rec = d.get(&format!("/v1/tasks/{id}")).await.body;
        if rec["status"] != "succeeded" || rec["answer"] != "ok" || rec["tool_calls"] != turns {
            lost += 1;
            continue;
        }
        let events = d.events_now(id).await;
        let seqs: Vec<u64> = events.iter().map(|(n, _)| *n).collect();
        if seqs != (1..=seqs.len() as u64).collect::<Vec<_>>() {
            lost += 1;
        }
        for (k, (_, e)) in events.iter().filter(|(_, e)| e["type"] == "tool_result").enumerate() {
            // A task's first call also creates its sandbox and Python instance.
            let ms = e["wall_ms"].as_f64().unwrap();
            if k == 0 { first_call_ms.push(ms) } else { call_ms.push(ms) }
        }
        if let Some((_, first)) = events.iter().find(|(_, e)| e["type"] == "turn") {
            let wait = at(&first["at"]).duration_since(at(&rec["created_at"])).unwrap_or_default();
            first_event_ms.push(wait.as_secs_f64() * 1e3);
        }
    }
    call_ms.sort_by(f64::total_cmp);
    first_call_ms.sort_by(f64::total_cmp);
    first_event_ms.sort_by(f64::total_cmp);

    // Then one task at a time on the idle daemon: acknowledgement to first turn.
    let mut idle_first_ms = Vec::new();
    for i in 0..20 {
        let id = d.submit(json!({"question": format!("alone {i}")})).await;
        d.wait_for(&id, &["succeeded", "failed"], Duration::from_secs(60)).await;
        let rec = d.get(&format!("/v1/tasks/{id}")).await.body;
        let events = d.events_now(&id).await;
        if let Some((_, first)) = events.iter().find(|(_, e)| e["type"] == "turn") {
            let wait = at(&first["at"]).duration_since(at(&rec["created_at"])).unwrap_or_default();
            idle_first_ms.push(wait.as_secs_f64() * 1e3);
        }
    }
    idle_first_ms.sort_by(f64::total_cmp);
    println!("  submitted all in       {:>9.2} s", submitted.as_secs_f64());
    println!("  completed all in       {:>9.2} s", total.as_secs_f64());
    println!(
        "  throughput             {:>9.1} tasks/s, {:.0} tool calls/s",
        tasks as f64 / total.as_secs_f64(),
        (tasks as f64 * turns as f64) / total.as_secs_f64()
    );
    println!(
        "  tool call latency      p50 {:>7.2} ms   p99 {:>7.2} ms   ({} calls in a warm sandbox)",
        percentile(&call_ms, 0.5),
        percentile(&call_ms, 0.99),
        call_ms.len()
    );
    println!(
        "  first call of a task   p50 {:>7.2} ms   p99 {:>7.2} ms   (creates its sandbox and Python instance)",
        percentile(&first_call_ms, 0.5),
        percentile(&first_call_ms, 0.99)
    );
    println!(
        "  time to first turn     p50 {:>7.0} ms   p99 {:>7.0} ms   (queueing included)",
        percentile(&first_event_ms, 0.5),
        percentile(&first_event_ms, 0.99)
    );
    println!(
        "  time to first turn     p50 {:>7.1} ms   p99 {:>7.1} ms   (one task at a time, idle daemon)",
        percentile(&idle_first_ms, 0.5),
        percentile(&idle_first_ms, 0.99)
    );
    println!("  daemon peak RSS        {peak:>9.0} MB");
    println!("  lost or wrong          {lost} of {tasks}");
    assert_eq!(lost, 0, "tasks were lost or wrong");
}
