//! The trace viewer in a real browser: headless Chromium from the
//! distribution's packages (`scripts/browser.sh`) driven by Selenium
//! (`tests/ui_client.py`, in the pinned venv of `scripts/test-clients.sh`),
//! against a real daemon on TCP with a token, and against `fathom view`.
//! Screenshots are kept in `target/tmp/ui-screenshots/` as test artefacts.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::daemon::{FATHOM, start_tcp, view};
use common::scripted::{Scripted, Step, completion};
use serde_json::json;

const TOKEN: &str = "viewer-test-token-0123456789";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> String {
    let out = Command::new("bash").arg(repo().join("scripts/test-clients.sh")).output().unwrap();
    assert!(out.status.success(), "test clients: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn client(args: &[&str]) {
    let out = Command::new(python()).arg(repo().join("tests/ui_client.py")).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "the browser test failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn call(code: &str) -> String {
    format!(
        "<use_mcp_tool>\n<server_name>tool-python</server_name>\n<tool_name>run_python_code</tool_name>\n<arguments>\n{}\n</arguments>\n</use_mcp_tool>",
        json!({"code_block": code})
    )
}

/// `quick`: one call, then the answer; `slow`: a call every 700 ms, for ever.
async fn model() -> Scripted {
    Scripted::responder(|body| {
        let msgs = body["messages"].as_array().cloned().unwrap_or_default();
        let question = msgs.get(1).and_then(|m| m["content"].as_str()).unwrap_or("").to_owned();
        let last = msgs.last().and_then(|m| m["content"].as_str()).unwrap_or("").to_owned();
        let done = msgs.iter().filter(|m| m["role"] == "assistant").count();
        if last.starts_with("Summarize the above conversation") {
            return completion("\\boxed{42}", "stop");
        }
        if question.contains("slow") {
            let Step::Reply { status, body, .. } = completion(&call(&format!("print({done} * 7)")), "stop") else {
                unreachable!()
            };
            return Step::Reply { status, body, delay: Duration::from_millis(700) };
        }
        if done == 0 { completion(&call("print(6 * 7)"), "stop") } else { completion("\\boxed{42}", "stop") }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_viewer_shows_tasks_live_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let model = model().await;
    let (d, listen) = start_tcp(dir.path(), &model.url, TOKEN).await;
    let finished = d.submit(json!({"question": "quick: what is 6 * 7?"})).await;
    d.wait_for(&finished, &["succeeded"], Duration::from_secs(60)).await;
    let running = d.submit(json!({"question": "slow: count for ever"})).await;
    let started = Instant::now();
    while !d.events_now(&running).await.iter().any(|(_, e)| e["type"] == "tool_result") {
        assert!(started.elapsed() < Duration::from_secs(60), "the slow task ran no tool");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The page loads without the token (it holds no data); the API does not.
    let http = reqwest::Client::new();
    let page = http.get(format!("http://{listen}/ui")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"), "nothing from another origin: {html}");
    let api = http.get(format!("http://{listen}/v1/tasks")).send().await.unwrap();
    assert_eq!(api.status(), 401);

    let url = format!("http://{listen}");
    let shots = shots();
    let args: Vec<String> = ["live", url.as_str(), TOKEN, running.as_str(), finished.as_str(), shots.to_str().unwrap()]
        .map(str::to_owned)
        .into();
    let python = python();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python).arg(repo().join("tests/ui_client.py")).args(args).output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "the browser test failed: {}\n{}\ndaemon: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        d.log()
    );
    let record = d.get(&format!("/v1/tasks/{running}")).await.body;
    assert_eq!(record["status"], "cancelled", "the button cancelled the task: {record}");
    for shot in ["1-list.png", "2-running-task.png", "3-result-expanded.png", "4-cancelled.png"] {
        assert!(std::fs::metadata(shots.join(shot)).unwrap().len() > 1000, "{shot}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fathom_view_shows_a_600_turn_trace_without_breaking_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trace.json");
    std::fs::write(&file, common::trace::long_trace(600).to_string()).unwrap();
    let shots = shots();
    view_in_browser(&file, "file", &shots).await;

    // MiroThinker's own task log (content as parts, no Fathom events).
    let miro = json!({
        "status": "success", "task_id": "miro-1", "start_time": "2026-04-01T10:00:00Z", "end_time": "2026-04-01T10:01:00Z",
        "input": {"task_description": "What is 2**10?", "task_file_name": ""},
        "ground_truth": "1024", "final_boxed_answer": "1024", "final_judge_result": "CORRECT",
        "main_agent_message_history": {"system_prompt": "You are MiroThinker.", "message_history": [
            {"role": "user", "content": [{"type": "text", "text": "What is 2**10?"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "I will compute it.\n<use_mcp_tool>\n<server_name>tool-python</server_name>\n<tool_name>run_python_code</tool_name>\n<arguments>\n{\"code_block\": \"print(2**10)\", \"sandbox_id\": \"s1\"}\n</arguments>\n</use_mcp_tool>"}]},
            {"role": "user", "content": [{"type": "text", "text": "1024"}]},
            {"role": "assistant", "content": "The answer is \\boxed{1024}."},
        ]},
        "step_logs": [{"step_name": "Main Agent Turn 1", "message": "tool call", "timestamp": "2026-04-01T10:00:30Z", "info_level": "info", "metadata": {}}],
    });
    let file = dir.path().join("miro.json");
    std::fs::write(&file, miro.to_string()).unwrap();
    view_in_browser(&file, "miro", &shots).await;

    // A file that is not a trajectory is refused at once, with the reason.
    std::fs::write(dir.path().join("bad.json"), "[1, 2]").unwrap();
    let o = Command::new(FATHOM).args(["view", dir.path().join("bad.json").to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a trajectory"));
}

/// `fathom view FILE` on a free port, and `ui_client.py MODE` against it.
async fn view_in_browser(file: &Path, mode: &'static str, shots: &Path) {
    let (mut view, url) = view(file);
    let shots = shots.to_str().unwrap().to_owned();
    let result =
        tokio::task::spawn_blocking(move || std::panic::catch_unwind(|| client(&[mode, &url, &shots]))).await.unwrap();
    let _ = view.kill();
    let _ = view.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
