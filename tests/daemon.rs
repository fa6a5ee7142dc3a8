//! `fathom serve` over its real Unix socket (and TCP), with a scripted
//! model server and the real tool components: the task lifecycle, SSE,
//! crash recovery and resume, cancellation, back-pressure, errors, auth,
//! sessions and the CLI client.

mod common;

use std::time::{Duration, Instant};

use common::daemon::{Daemon, FATHOM, parse_sse};
use common::scripted::{Scripted, Step, completion};
use serde_json::{Value, json};

fn call(tool: &str, args: &str) -> String {
    format!(
        "<use_mcp_tool>\n<server_name>tool-python</server_name>\n<tool_name>{tool}</tool_name>\n<arguments>\n{args}\n</arguments>\n</use_mcp_tool>"
    )
}

fn delayed(step: Step, delay: Duration) -> Step {
    match step {
        Step::Reply { status, body, .. } => Step::Reply { status, body, delay },
        other => other,
    }
}

/// One scripted model for every task of a test, steered by the question:
/// `turns=N` Python calls (each `print(k * 7)`), then `\boxed{done-N}`;
/// `stuck` makes the one call `while True: pass`; `slow=MS` delays each
/// reply; `save` first writes a file and saves it to the task's outputs.
async fn model() -> Scripted {
    Scripted::responder(|body| {
        let msgs = body["messages"].as_array().cloned().unwrap_or_default();
        let question = msgs.get(1).and_then(|m| m["content"].as_str()).unwrap_or("").to_owned();
        let last = msgs.last().and_then(|m| m["content"].as_str()).unwrap_or("").to_owned();
        let word = |key: &str| -> Option<u64> {
            question.split_whitespace().find_map(|w| w.strip_prefix(key).and_then(|v| v.parse().ok()))
        };
        let turns = word("turns=").unwrap_or(1);
        let delay = Duration::from_millis(word("slow=").unwrap_or(0));
        let done = msgs.iter().filter(|m| m["role"] == "assistant").count() as u64;
        let step = if last.starts_with("Summarize the above conversation") {
            completion(&format!("The answer is \\boxed{{done-{turns}}}."), "stop")
        } else if question.contains("stuck") && done == 0 {
            completion(&call("run_python_code", r#"{"code_block": "while True: pass"}"#), "stop")
        } else if question.contains("save") && done == 0 {
            let code = r#"{"code_block": "open('report.txt', 'w').write('saved by the task')"}"#;
            completion(
                &format!(
                    "{}\n{}",
                    call("run_python_code", code),
                    call("download_file_from_sandbox_to_local", r#"{"sandbox_file_path": "report.txt"}"#)
                ),
                "stop",
            )
        } else if done < turns {
            completion(&call("run_python_code", &format!(r#"{{"code_block": "print({done} * 7)"}}"#)), "stop")
        } else {
            completion(&format!("Finished: \\boxed{{done-{turns}}}"), "stop")
        };
        delayed(step, delay)
    })
    .await
}

async fn daemon(model: &Scripted, state: &std::path::Path, env: &[(&str, &str)]) -> Daemon {
    let mut all = vec![("FATHOM_LLM_BASE_URL", model.url.as_str()), ("FATHOM_LLM_MODEL", "scripted")];
    all.extend_from_slice(env);
    Daemon::start(state, &all, &[]).await
}

fn types(events: &[(u64, Value)]) -> Vec<String> {
    events.iter().map(|(_, e)| e["type"].as_str().unwrap_or("").to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_from_upload_to_answer_with_events_trace_and_outputs() {
    let m = model().await;
    let state = tempfile::tempdir().unwrap();
    let d = daemon(&m, state.path(), &[]).await;

    let health = d.get("/healthz").await;
    assert_eq!(health.body["status"], "ok", "{}", health.text);
    let tools = d.get("/v1/tools").await;
    assert!(tools.text.contains("run_python_code"), "{}", tools.text);
    assert!(d.get("/v1/policies").await.body["policies"].as_array().unwrap().iter().any(|p| p == "strict"));

    // Upload an attachment (multipart), then submit a task naming it.
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(b"a,b\n1,2\n".to_vec()).file_name("data.csv"));
    let up = d.http.post("http://d/v1/files").multipart(form).send().await.unwrap();
    assert_eq!(up.status(), 201);
    let up: Value = up.json().await.unwrap();
    assert_eq!(up["name"], "data.csv");
    let id = d.submit(json!({"question": "save turns=2", "policy": "default", "files": [up["id"]]})).await;

    // Live: the stream runs until the task ends, then closes.
    let events = d.events(&id, None).await;
    let kinds = types(&events);
    assert_eq!(kinds.first().map(String::as_str), Some("status"), "{kinds:?}");
    assert_eq!(events.last().unwrap().1["status"], "succeeded", "{kinds:?}");
    for k in ["turn", "assistant", "tool_call", "tool_result", "answer"] {
        assert!(kinds.iter().any(|x| x == k), "no {k} in {kinds:?}");
    }
    let seqs: Vec<u64> = events.iter().map(|(n, _)| *n).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "ids are the sequence 1, 2, ...");
    assert!(events.iter().all(|(n, e)| e["seq"] == *n && e["at"].is_string()));

    let record = d.get(&format!("/v1/tasks/{id}")).await.body;
    assert_eq!(record["status"], "succeeded");
    assert_eq!(record["answer"], "done-2");
    assert_eq!(record["turns"], 3);
    for key in ["created_at", "started_at", "finished_at", "usage", "question", "policy", "tool_calls"] {
        assert!(!record[key].is_null(), "record lacks {key}: {record}");
    }

    // A late subscriber gets the same events from the start; with
    // Last-Event-ID, only those after it.
    assert_eq!(d.events(&id, None).await, events);
    let after = d.events(&id, Some(3)).await;
    assert_eq!(after.first().unwrap().0, 4);
    assert_eq!(after.len(), events.len() - 3);

    // The attachment reached the first message; the saved file is served.
    let trace = d.get(&format!("/v1/tasks/{id}/trace")).await.body;
    assert_eq!(trace["status"], "success");
    assert_eq!(trace["final_boxed_answer"], "done-2");
    let first = trace["main_agent_message_history"]["message_history"][0]["content"].as_str().unwrap();
    // Converted by the document reader, in a sandbox under the task's policy.
    assert!(first.contains("data.csv") && first.contains("| a | b |\n| --- | --- |\n| 1 | 2 |"), "{first}");
    assert!(trace["step_logs"].as_array().unwrap().iter().any(|s| s["step_name"] == "assistant"));
    let files = d.get(&format!("/v1/tasks/{id}/files")).await;
    assert_eq!(files.body["files"], json!(["report.txt"]), "{}", files.text);
    let saved = d.get(&format!("/v1/tasks/{id}/files/report.txt")).await;
    assert_eq!(saved.text, "saved by the task");
    assert_eq!(d.get(&format!("/v1/tasks/{id}/files/..%2F..%2Ftasks.db")).await.status, 400);
    assert_eq!(d.get(&format!("/v1/tasks/{id}/files/missing.txt")).await.status, 404);

    let list = d.get("/v1/tasks?status=succeeded").await;
    assert_eq!(list.body["tasks"][0]["id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_precise_errors() {
    let m = model().await;
    let state = tempfile::tempdir().unwrap();
    let config = state.path().join("config.toml");
    std::fs::write(
        &config,
        "[secrets]\nSERPER_API_KEY = { env = \"SERPER_API_KEY\", hosts = [\"google.serper.dev\"] }\n",
    )
    .unwrap();
    let mut d = Daemon::start(
        state.path(),
        &[
            ("FATHOM_LLM_BASE_URL", m.url.as_str()),
            ("SERPER_API_KEY", "sk-serper-value-1234"),
            ("FATHOM_SERVER_MAX_BODY_MB", "1"),
        ],
        &["--config", config.to_str().unwrap()],
    )
    .await;
    let err = |r: &common::daemon::Reply| r.body["error"]["message"].as_str().unwrap_or("").to_owned();

    let r = d.request("POST", "/v1/tasks", Some("{\"question\": ")).await;
    assert_eq!((r.status, r.body["error"]["code"].as_str()), (400, Some("invalid_json")), "{}", r.text);
    let r = d.post("/v1/tasks", json!({"question": "q", "colour": "red"})).await;
    assert_eq!(r.status, 400);
    assert!(err(&r).contains("unknown field `colour`"), "{}", r.text);
    let r = d.post("/v1/tasks", json!({"policy": "default"})).await;
    assert!(r.status == 400 && err(&r).contains("missing field `question`"), "{}", r.text);
    let r = d.post("/v1/tasks", json!({"question": "q", "policy": {"sandbox": {"memory_mb": 0}}})).await;
    assert!(r.status == 400 && err(&r).contains("sandbox.memory_mb"), "{}", r.text);
    let r = d.post("/v1/tasks", json!({"question": "q", "policy": {"sandbox": {"memroy_mb": 5}}})).await;
    assert!(r.status == 400 && err(&r).contains("memroy_mb"), "{}", r.text);
    let r = d.post("/v1/tasks", json!({"question": "q", "policy": "/etc/passwd"})).await;
    assert!(r.status == 400 && err(&r).contains("does not read files"), "{}", r.text);
    let r = d.post("/v1/tasks", json!({"question": "q", "policy": {"files": {"local_roots": ["/"]}}})).await;
    assert!(r.status == 400 && err(&r).contains("files.local_roots"), "{}", r.text);
    let r = d.post("/v1/tasks", json!({"question": "q", "files": ["file-0000000000000000"]})).await;
    assert!(r.status == 400 && err(&r).contains("no uploaded file"), "{}", r.text);
    let r = d.post("/v1/tasks", json!({"question": "q", "tool_format": "yaml"})).await;
    assert!(r.status == 400 && err(&r).contains("tool_format"), "{}", r.text);

    // Secrets: only the config's, and only narrowed.
    let r = d
        .post(
            "/v1/tasks",
            json!({"question": "q", "policy": {"secrets": {"FATHOM_LLM_API_KEY": {"hosts": ["evil.example"]}}}}),
        )
        .await;
    assert!(
        r.status == 400 && err(&r).contains("secrets.FATHOM_LLM_API_KEY") && err(&r).contains("SERPER_API_KEY"),
        "{}",
        r.text
    );
    let r = d
        .post(
            "/v1/tasks",
            json!({"question": "q", "policy": {"secrets": {"SERPER_API_KEY": {"hosts": ["evil.example"]}}}}),
        )
        .await;
    assert!(r.status == 400 && err(&r).contains("beyond the hosts"), "{}", r.text);
    let ok = d
        .post(
            "/v1/tasks",
            json!({"question": "echo the key", "policy": {"secrets": {"SERPER_API_KEY": {"hosts": ["google.serper.dev"]}}}}),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text);

    for path in ["/v1/tasks/task-nope", "/v1/tasks/task-nope/events", "/v1/tasks/task-nope/trace", "/v1/nothing"] {
        let r = d.get(path).await;
        assert_eq!((r.status, r.body["error"]["code"].as_str()), (404, Some("not_found")), "{path}: {}", r.text);
    }
    assert_eq!(d.post("/v1/tasks/task-nope/cancel", json!({})).await.status, 404);
    assert_eq!(d.post("/v1/sessions/ses-nope/calls", json!({"server": "a", "tool": "b"})).await.status, 404);
    assert_eq!(d.request("DELETE", "/v1/tasks", None).await.status, 405);
    let body = "x".repeat(3 << 19);
    let raw = format!(
        "POST /v1/tasks HTTP/1.1\r\nhost: d\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let reply = d.raw_exchange(raw.as_bytes());
    assert!(reply.starts_with("HTTP/1.1 413"), "{}", &reply[..reply.len().min(300)]);

    // No secret value in any record, event or trace.
    let id = ok.body["id"].as_str().unwrap();
    d.wait_for(id, &["succeeded", "failed"], Duration::from_secs(30)).await;
    let everything = format!(
        "{}{}{}",
        d.get(&format!("/v1/tasks/{id}")).await.text,
        d.get(&format!("/v1/tasks/{id}/trace")).await.text,
        serde_json::to_string(&d.events(id, None).await.into_iter().map(|(_, e)| e).collect::<Vec<_>>()).unwrap()
    );
    assert!(!everything.contains("sk-serper-value-1234"));
    d.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_needs_a_token() {
    let state = tempfile::tempdir().unwrap();
    // Without a token, --listen refuses to start.
    let out = std::process::Command::new(FATHOM)
        .args(["serve", "--listen", "127.0.0.1:0", "--socket"])
        .arg(state.path().join("s.sock"))
        .env("FATHOM_STATE_DIR", state.path())
        .env("FATHOM_CACHE_DIR", common::shared_cache())
        .env("FATHOM_LLM_BASE_URL", "http://127.0.0.1:9/v1")
        .env("XDG_CONFIG_HOME", state.path())
        .env_remove("FATHOM_SERVER_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bearer token"), "{}", String::from_utf8_lossy(&out.stderr));

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let token = "a-long-random-token-for-tests";
    let _d = Daemon::start(
        state.path(),
        &[("FATHOM_LLM_BASE_URL", "http://127.0.0.1:9/v1"), ("FATHOM_SERVER_TOKEN", token)],
        &["--listen", &addr],
    )
    .await;
    fathom::client::install_crypto();
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/v1/tasks");
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    assert_eq!(http.get(&url).bearer_auth("wrong-token-wrong-token").send().await.unwrap().status(), 401);
    assert_eq!(http.get(&url).bearer_auth(token).send().await.unwrap().status(), 200);
    // The socket's file is the owner's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(state.path().join("fathom.sock")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_an_infinite_loop_within_a_second_and_spares_the_rest() {
    let m = model().await;
    let state = tempfile::tempdir().unwrap();
    let d = daemon(&m, state.path(), &[]).await;
    let stuck = d.submit(json!({"question": "stuck"})).await;
    let other = d.submit(json!({"question": "turns=6 slow=150"})).await;
    // Wait until the loop is running inside the tool call.
    let started = Instant::now();
    loop {
        let events = d.events_now(&stuck).await;
        if types(&events).iter().any(|t| t == "tool_call") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    let r = d.post(&format!("/v1/tasks/{stuck}/cancel"), json!({})).await;
    let took = t.elapsed();
    assert_eq!(r.body["status"], "cancelled", "{}", r.text);
    assert!(took < Duration::from_secs(1), "cancel took {took:?}");
    let trace = d.get(&format!("/v1/tasks/{stuck}/trace")).await.body;
    assert_eq!(trace["status"], "cancelled");
    assert!(trace["main_agent_message_history"]["message_history"].as_array().is_some_and(|m| !m.is_empty()));
    // A second cancel is a conflict; the other task goes on to its answer.
    assert_eq!(d.post(&format!("/v1/tasks/{stuck}/cancel"), json!({})).await.status, 409);
    let rec = d.wait_for(&other, &["succeeded", "failed"], Duration::from_secs(60)).await;
    assert_eq!(rec["answer"], "done-6", "{rec}");
    assert_eq!(d.get("/healthz").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_and_the_sandbox_cap_answer_429() {
    let m = model().await;
    let state = tempfile::tempdir().unwrap();
    let d = daemon(
        &m,
        state.path(),
        &[("FATHOM_SERVER_CONCURRENCY", "1"), ("FATHOM_SERVER_QUEUE", "1"), ("FATHOM_SERVER_MAX_SANDBOXES", "2")],
    )
    .await;
    let running = d.submit(json!({"question": "turns=3 slow=400"})).await;
    let queued = d.submit(json!({"question": "turns=1"})).await;
    let r = d.post("/v1/tasks", json!({"question": "one too many"})).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(r.headers.get("retry-after").is_some());
    assert!(r.body["error"]["message"].as_str().unwrap().contains("server.queue"));
    // The queued task can be cancelled before it starts.
    assert_eq!(d.post(&format!("/v1/tasks/{queued}/cancel"), json!({})).await.body["status"], "cancelled");

    // The running task holds one sandbox; one session takes the other.
    d.wait_for(&running, &["running"], Duration::from_secs(10)).await;
    let started = Instant::now();
    while d.get("/healthz").await.body["sandboxes"]["live"] != 1 {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s1 = d.post("/v1/sessions", json!({})).await;
    assert_eq!(s1.status, 201, "{}", s1.text);
    let s2 = d.post("/v1/sessions", json!({})).await;
    assert_eq!(s2.status, 429, "{}", s2.text);
    assert!(s2.text.contains("server.max_sandboxes"), "{}", s2.text);
    // Freed by DELETE, the slot is there again.
    let sid = s1.body["id"].as_str().unwrap();
    assert_eq!(d.request("DELETE", &format!("/v1/sessions/{sid}"), None).await.status, 204);
    assert_eq!(d.post("/v1/sessions", json!({})).await.status, 201);
    d.wait_for(&running, &["succeeded"], Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_daemon_loses_nothing_and_the_task_resumes_to_its_answer() {
    let m = model().await;
    let state = tempfile::tempdir().unwrap();
    let mut d = daemon(&m, state.path(), &[]).await;
    let id = d.submit(json!({"question": "turns=8 slow=250"})).await;
    let done = d.submit(json!({"question": "turns=1"})).await;
    d.wait_for(&done, &["succeeded"], Duration::from_secs(30)).await;
    // Let it get a few turns in.
    let started = Instant::now();
    let before = loop {
        let events = d.events_now(&id).await;
        if events.iter().filter(|(_, e)| e["type"] == "tool_result").count() >= 3 {
            break events;
        }
        assert!(started.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    d.crash_and_restart().await;
    let rec = d.get(&format!("/v1/tasks/{id}")).await.body;
    assert_eq!(rec["status"], "interrupted", "{rec}");
    assert!(rec["turns"].as_u64().unwrap() >= 3, "{rec}");
    // Every event acknowledged before the crash is still there, in order.
    let after = d.events(&id, None).await;
    assert_eq!(&after[..before.len()], &before[..]);
    assert_eq!(after.last().unwrap().1["status"], "interrupted");
    assert_eq!(d.get(&format!("/v1/tasks/{done}")).await.body["answer"], "done-1");

    // Resumed: fresh sandboxes, one sentence saying so, then the answer.
    let r = d.post(&format!("/v1/tasks/{id}/resume"), json!({})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let rec = d.wait_for(&id, &["succeeded", "failed"], Duration::from_secs(60)).await;
    assert_eq!(rec["answer"], "done-8", "{rec}");
    assert_eq!(rec["turns"], 9);
    let trace = d.get(&format!("/v1/tasks/{id}/trace")).await.body;
    let history = trace["main_agent_message_history"]["message_history"].to_string();
    assert_eq!(history.matches("its sandboxes were lost").count(), 1, "{history}");
    let all = d.events(&id, None).await;
    let seqs: Vec<u64> = all.iter().map(|(n, _)| *n).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "one sequence across the crash");
    // Not resumable twice.
    assert_eq!(d.post(&format!("/v1/tasks/{id}/resume"), json!({})).await.status, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_interrupts_running_tasks_and_exits() {
    let m = model().await;
    let state = tempfile::tempdir().unwrap();
    let mut d = daemon(&m, state.path(), &[("FATHOM_SERVER_SHUTDOWN_GRACE_SECS", "3")]).await;
    let id = d.submit(json!({"question": "turns=20 slow=200"})).await;
    d.wait_for(&id, &["running"], Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let t = Instant::now();
    let status = d.terminate();
    assert!(status.success(), "{status}: {}", d.log());
    assert!(t.elapsed() < Duration::from_secs(5), "shutdown took {:?}", t.elapsed());
    assert!(!d.socket.exists());
    d.restart().await;
    let rec = d.get(&format!("/v1/tasks/{id}")).await.body;
    assert_eq!(rec["status"], "interrupted", "{rec}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_call_tools_keep_state_serve_files_and_expire() {
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(state.path(), &[("FATHOM_SERVER_SESSION_IDLE_SECS", "2")], &[]).await;
    let s = d.post("/v1/sessions", json!({"policy": "strict"})).await;
    assert_eq!(s.status, 201, "{}", s.text);
    // This daemon has no model server: sessions work, tasks are refused.
    let t = d.post("/v1/tasks", json!({"question": "q"})).await;
    assert_eq!(t.status, 503, "{}", t.text);
    assert!(t.body["error"]["message"].as_str().unwrap().contains("FATHOM_LLM_BASE_URL"), "{}", t.text);
    let sid = s.body["id"].as_str().unwrap().to_owned();
    let py =
        |code: &str| json!({"server": "tool-python", "tool": "run_python_code", "arguments": {"code_block": code}});

    let r = d.post(&format!("/v1/sessions/{sid}/calls"), py("x = 6 * 7\nprint(x)")).await;
    assert_eq!(r.body["ok"], true, "{}", r.text);
    assert_eq!(r.body["output"], "[stdout]\n42");
    assert!(r.body["fuel"].as_u64().unwrap() > 0 && r.body["wall_ms"].as_f64().unwrap() > 0.0);
    let r = d.post(&format!("/v1/sessions/{sid}/calls"), py("x + 1")).await;
    assert_eq!(r.body["output"], "[result]\n43", "state persists: {}", r.text);
    let r = d.post(&format!("/v1/sessions/{sid}/calls"), py("1 / 0")).await;
    assert_eq!((r.body["ok"].as_bool(), r.body["raised"].as_bool()), (Some(false), Some(true)), "{}", r.text);
    assert!(r.body["output"].as_str().unwrap().contains("ZeroDivisionError"));
    let r = d.post(&format!("/v1/sessions/{sid}/calls"), py("print('[error]')")).await;
    assert_eq!(r.body["ok"], true, "printing the word is not raising: {}", r.text);

    // Files both ways, shared with the tools.
    let put = d.http.put(format!("http://d/v1/sessions/{sid}/files/data/in.txt")).body("hello").send().await.unwrap();
    assert_eq!(put.status(), 201);
    let r = d.post(&format!("/v1/sessions/{sid}/calls"), py("open('data/in.txt').read().upper()")).await;
    assert_eq!(r.body["output"], "[result]\n'HELLO'");
    d.post(&format!("/v1/sessions/{sid}/calls"), py("open('out.txt', 'w').write('from python')")).await;
    assert_eq!(d.get(&format!("/v1/sessions/{sid}/files/out.txt")).await.text, "from python");
    assert_eq!(d.get(&format!("/v1/sessions/{sid}/files/%2Fhome%2Fuser%2Fout.txt")).await.text, "from python");

    // Escapes: `..`, and a symlink the guest made (the shell's `ln -s`).
    let outside = state.path().join("outside.txt");
    std::fs::write(&outside, "host secret").unwrap();
    let r = d.get(&format!("/v1/sessions/{sid}/files/..%2F..%2Foutside.txt")).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let link = json!({"server": "tool-python", "tool": "run_command",
                      "arguments": {"command": format!("ln -s {} leak; ln -s / root", outside.display())}});
    d.post(&format!("/v1/sessions/{sid}/calls"), link).await;
    // However the link came to be, the host refuses to follow it out.
    let ws = std::fs::read_dir(state.path().join("sessions").join(&sid).join("work/sandboxes"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir() && !p.to_string_lossy().ends_with(".tmp"))
        .unwrap();
    let _ = std::os::unix::fs::symlink(&outside, ws.join("leak2"));
    let _ = std::os::unix::fs::symlink("/", ws.join("root2"));
    for p in ["leak", "root/etc/passwd", "leak2", "root2/etc/passwd"] {
        let r = d.get(&format!("/v1/sessions/{sid}/files/{p}")).await;
        assert!(r.status == 400 || r.status == 404, "{p}: {} {}", r.status, r.text);
        assert!(!r.text.contains("host secret") && !r.text.contains("root:"), "{p}: {}", r.text);
    }
    let put = d.http.put(format!("http://d/v1/sessions/{sid}/files/root2/tmp/planted")).body("x").send().await.unwrap();
    assert_eq!(put.status(), 400);

    // Delete; then an idle session expires on its own.
    assert_eq!(d.request("DELETE", &format!("/v1/sessions/{sid}"), None).await.status, 204);
    assert_eq!(d.post(&format!("/v1/sessions/{sid}/calls"), py("1")).await.status, 404);
    let idle = d.post("/v1/sessions", json!({})).await.body["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let r = d.post(&format!("/v1/sessions/{idle}/calls"), py("1")).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(d.get("/healthz").await.body["sandboxes"]["live"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_goes_through_the_daemon() {
    let m = model().await;
    let state = tempfile::tempdir().unwrap();
    let d = daemon(&m, state.path(), &[]).await;
    let attachment = state.path().join("note.txt");
    std::fs::write(&attachment, "attached").unwrap();
    let trace = state.path().join("trace.json");
    let daemon_socket = d.socket.clone();
    let cli = |args: Vec<String>| {
        let socket = daemon_socket.clone();
        let st = state.path().to_path_buf();
        async move {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(FATHOM)
                    .args(args)
                    .env("FATHOM_SERVER_SOCKET", socket)
                    .env("FATHOM_STATE_DIR", st.join("cli-state"))
                    .env("XDG_CONFIG_HOME", st.join("no-config"))
                    .env_remove("FATHOM_LLM_BASE_URL")
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let out = cli(vec![
        "run".into(),
        "--trace".into(),
        trace.display().to_string(),
        "--file".into(),
        attachment.display().to_string(),
        "turns=2".into(),
    ])
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "done-2");
    assert!(stderr.contains("(daemon on") && stderr.contains("-> tool-python.run_python_code"), "{stderr}");
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    assert_eq!(t["input"]["task_file_name"], "note.txt");

    let out = cli(vec!["run".into(), "--json".into(), "turns=1".into()]).await;
    let record: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["status"], "succeeded");
    let id = record["id"].as_str().unwrap().to_owned();

    let out = cli(vec!["tasks".into()]).await;
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(listing.contains(&id) && listing.contains("succeeded"), "{listing}");
    let out = cli(vec!["show".into(), id.clone()]).await;
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["answer"], "done-1");
    let out = cli(vec!["logs".into(), id.clone()]).await;
    let logs = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(logs.contains("turn 1") && logs.contains("status: succeeded"), "{logs}");
    let out = cli(vec!["cancel".into(), id.clone()]).await;
    assert_eq!(out.status.code(), Some(2), "a finished task cannot be cancelled");
    let out = cli(vec!["resume".into(), "task-missing".into()]).await;
    assert!(String::from_utf8_lossy(&out.stderr).contains("no task with id"));
    drop(d);
    // With no daemon, `fathom tasks` says how to start one.
    let out = cli(vec!["tasks".into()]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fathom serve"));
    let _ = parse_sse;
}

/// The venv with the real clients (`scripts/test-clients.sh`).
fn client_python() -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/test-clients.sh");
    let out = std::process::Command::new("bash").arg(script).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_with_a_real_prometheus_parser() {
    let m = model().await;
    let state = tempfile::tempdir().unwrap();
    let d = daemon(&m, state.path(), &[]).await;
    let id = d.submit(json!({"question": "turns=2"})).await;
    d.wait_for(&id, &["succeeded"], Duration::from_secs(30)).await;
    let limited = d.submit(json!({"question": "turns=5", "policy": {"agent": {"max_turns": 2}}})).await;
    d.wait_for(&limited, &["succeeded"], Duration::from_secs(30)).await;
    let s = d.post("/v1/sessions", json!({})).await.body["id"].as_str().unwrap().to_owned();
    let py = json!({"server": "tool-python", "tool": "run_python_code", "arguments": {"code_block": "1/0"}});
    d.post(&format!("/v1/sessions/{s}/calls"), py).await;

    let r = d.get("/metrics").await;
    assert_eq!(r.status, 200);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let file = state.path().join("metrics.txt");
    std::fs::write(&file, &r.text).unwrap();
    // Parsed by prometheus_client's own OpenMetrics parser, flattened to
    // "name{labels} value" lines.
    let script = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        print(f"{s.name}{{{labels}}} {s.value}")
"#;
    let out = std::process::Command::new(client_python()).arg("-c").arg(script).arg(&file).output().unwrap();
    assert!(
        out.status.success(),
        "the parser refused the exposition: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        r.text
    );
    let samples = String::from_utf8_lossy(&out.stdout).into_owned();
    let value = |name: &str| -> f64 {
        samples
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no sample {name} in:\n{samples}"))
    };
    assert_eq!(value("fathom_tasks{status=succeeded}"), 2.0);
    assert_eq!(value("fathom_tool_calls_total{outcome=ok,server=tool-python,tool=run_python_code}"), 4.0);
    assert_eq!(
        value("fathom_tool_calls_total{outcome=error,server=tool-python,tool=run_python_code}"),
        1.0,
        "the raised cell"
    );
    assert_eq!(value("fathom_limit_hits_total{key=agent.max_turns}"), 1.0);
    assert_eq!(value("fathom_tool_call_duration_seconds_count{server=tool-python,tool=run_python_code}"), 5.0);
    assert!(value("fathom_model_request_duration_seconds_count{}") >= 7.0);
    assert!(value("fathom_tokens_total{direction=prompt}") > 0.0);
    assert_eq!(value("fathom_sessions_live{}"), 1.0);
    assert_eq!(value("fathom_sandboxes_live{}"), 1.0);
    assert_eq!(value("fathom_queue_depth{}"), 0.0);
    let warm = value("fathom_warm_instances{}");
    assert!((0.0..=4.0).contains(&warm), "server.warm_pool is 4 by default: {warm}");
    assert_eq!(value(&format!("fathom_llm_endpoint_up{{url={}}}", m.url)), 1.0);
    assert_eq!(value(&format!("fathom_llm_endpoint_consecutive_failures{{url={}}}", m.url)), 0.0);
}

/// `llm.base_url` lists two replicas; one dies while a task runs, and the
/// task still reaches its answer on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_survives_the_death_of_one_model_replica() {
    let (a, b) = (model().await, model().await);
    let state = tempfile::tempdir().unwrap();
    let both = format!("{}, {}", a.url, b.url);
    let d =
        Daemon::start(state.path(), &[("FATHOM_LLM_BASE_URL", both.as_str()), ("FATHOM_LLM_MODEL", "m")], &[]).await;
    let id = d.submit(json!({"question": "turns=6 slow=150"})).await;
    let started = Instant::now();
    while a.count() + b.count() < 2 {
        assert!(started.elapsed() < Duration::from_secs(60), "the task never asked the model");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.kill().await;
    let record = d.wait_for(&id, &["succeeded", "failed"], Duration::from_secs(120)).await;
    assert_eq!(record["status"], "succeeded", "{record}");
    assert_eq!(record["answer"], "done-6");
    assert!(b.count() >= 2, "the living replica took over");

    // The metrics say which replica failed and which one serves.
    let text = d.get("/metrics").await.text;
    let gauge = |name: &str, url: &str| -> f64 {
        let prefix = format!("fathom_{name}{{url=\"{url}\"}} ");
        let line = text.lines().find_map(|l| l.strip_prefix(prefix.as_str()));
        line.unwrap_or_else(|| panic!("no {prefix} in\n{text}")).trim().parse().unwrap()
    };
    assert!(gauge("llm_endpoint_consecutive_failures", &a.url) >= 1.0, "{text}");
    assert_eq!(gauge("llm_endpoint_consecutive_failures", &b.url), 0.0);
    assert_eq!(gauge("llm_endpoint_up", &b.url), 1.0);
    assert_eq!(gauge("llm_endpoint_in_flight", &b.url), 0.0);
}
