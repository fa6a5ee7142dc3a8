//! The agent loop against a scripted model server, with the real runtime
//! and the real Python tool: every rule asserted on the recorded requests
//! and on the events.

mod common;

use std::time::{Duration, Instant};

use common::scripted::{Scripted, Step, completion, completion_usage, native, status};
use fathom::agent::run::{
    Agent, AgentConfig, Event, NO_BOXED, OMITTED, Outcome, REPETITIVE_REPLY, ToolFormat, cut_reply, summary_prompt,
};
use fathom::agent::tokens;
use fathom::llm::LlmClient;
use fathom::runtime::{Session, SessionOptions};
use serde_json::Value;

fn call(server: &str, tool: &str, args: &str) -> String {
    format!(
        "<use_mcp_tool>\n<server_name>{server}</server_name>\n<tool_name>{tool}</tool_name>\n<arguments>\n{args}\n</arguments>\n</use_mcp_tool>"
    )
}

/// The sandbox id the conversation mentions last (a tool result or one of
/// the model's own calls), as a model reads it.
fn sandbox_of(body: &Value) -> String {
    let msgs = body["messages"].as_array().unwrap();
    let text: String = msgs.iter().map(|m| m["content"].as_str().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let at = text.rfind("sbx-").expect("no sandbox id in the conversation");
    text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect()
}

async fn run(steps: Vec<Step>, edit: impl FnOnce(&mut AgentConfig)) -> (Outcome, Scripted) {
    run_with(steps, |_| {}, edit).await
}

/// As [`run`], with the task's policy edited first (the config derives from it).
async fn run_with(
    steps: Vec<Step>,
    policy: impl FnOnce(&mut fathom::policy::Policy),
    edit: impl FnOnce(&mut AgentConfig),
) -> (Outcome, Scripted) {
    let server = Scripted::start(steps).await;
    let llm: LlmClient = server.client(|_| {});
    let rt = common::runtime().await;
    let policy = common::policy(policy);
    let mut config = AgentConfig::from_policy(&policy);
    edit(&mut config);
    let session = Session::new(rt, SessionOptions::new(policy)).unwrap();
    let agent = Agent { llm: &llm, session: &session, config, on_event: None };
    let outcome = agent.run("task-7", "What is 123456789 * 987654321?", "2026-11-25").await;
    (outcome, server)
}

/// The rollback rules of MiroThinker v1.0 (the `mirothinker-1.0` preset).
fn v1_0(c: &mut AgentConfig) {
    c.rollback_duplicate_queries = false;
    c.rollback_unknown_tools = false;
    c.rollback_empty_searches = false;
    c.rollback_cut_replies = false;
}

fn contents(body: &Value) -> Vec<String> {
    body["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap_or("").to_owned()).collect()
}

fn last_content(body: &Value) -> String {
    body["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_tool_round_trip_to_a_boxed_answer() {
    let steps = vec![
        completion(&format!("I need a sandbox.\n{}", call("tool-python", "create_sandbox", "{}")), "stop"),
        Step::Compute(Box::new(|body| {
            let sb = sandbox_of(body);
            format!(
                "Define, then call.\n{}\n{}",
                call(
                    "tool-python",
                    "run_python_code",
                    &format!(r#"{{"code_block": "def mul(a, b):\n    return a * b", "sandbox_id": "{sb}"}}"#)
                ),
                call(
                    "tool-python",
                    "run_python_code",
                    &format!(r#"{{"code_block": "print(mul(123456789, 987654321))", "sandbox_id": "{sb}"}}"#)
                )
            )
        })),
        completion("The product is \\boxed{121932631112635269}.", "stop"),
        completion("Summary: computed with Python. \\boxed{121932631112635269}", "stop"),
    ];
    let (out, server) = run(steps, |_| {}).await;
    assert_eq!(out.answer, "121932631112635269");
    assert!(out.boxed);
    assert_eq!((out.turns, out.tool_calls), (3, 3));
    let reqs = server.requests.lock().unwrap();
    assert_eq!(reqs.len(), 4);
    let system = reqs[0].body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("Today is: 2026-11-25") && system.contains("## Server name: tool-python"));
    // The text protocol sends no native tools.
    assert_eq!(reqs[0].body["tools"], serde_json::json!([]));
    assert!(system.contains("### Tool name: run_python_code"));
    let first_user = reqs[0].body["messages"][1]["content"].as_str().unwrap();
    assert!(first_user.starts_with("What is 123456789 * 987654321?\nYou should follow the format instruction"));
    // Both blocks ran, in order, in one session; results joined in one message.
    let results = last_content(&reqs[2].body);
    assert!(results.starts_with("[no output]") && results.ends_with("[stdout]\n121932631112635269"), "{results}");
    // The summary step replaced nothing (the last message was the answer) and asked for \boxed{}.
    let summary = last_content(&reqs[3].body);
    assert!(summary.contains("FINAL ANSWER") && summary.contains("What is 123456789 * 987654321?"));
    assert!(
        out.events
            .iter()
            .any(|e| matches!(e, Event::ToolResult { ok: true, output, .. } if output.contains("121932631112635269")))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_tool_results_are_omitted_and_the_limit_ends_the_loop() {
    let again = || {
        Step::Compute(Box::new(|body| {
            let sb = sandbox_of(body);
            let n = body["messages"].as_array().unwrap().len();
            call(
                "tool-python",
                "run_python_code",
                &format!(r#"{{"code_block": "print('result {n}')", "sandbox_id": "{sb}"}}"#),
            )
        }))
    };
    let steps = vec![
        completion(&call("tool-python", "create_sandbox", "{}"), "stop"),
        again(),
        again(),
        again(),
        completion("\\boxed{done}", "stop"),
    ];
    let (out, server) = run(steps, |c| {
        c.keep_tool_results = 1;
        c.max_turns = 4;
    })
    .await;
    let reqs = server.requests.lock().unwrap();
    // Request 4 (index 3): three tool results so far; only the last is kept.
    let msgs: Vec<String> = reqs[3].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect();
    assert!(msgs[1].starts_with("What is"), "the task is never omitted");
    assert_eq!(msgs[3], OMITTED);
    assert_eq!(msgs[5], OMITTED);
    assert!(msgs[7].starts_with("[stdout]\nresult "), "{}", msgs[7]);
    assert!(msgs.iter().filter(|m| m.starts_with("<use_mcp_tool>")).count() == 3, "assistant messages are kept");
    assert_eq!(out.turns, 4);
    assert!(out.events.iter().any(|e| matches!(e, Event::Limit { key, .. } if key == "agent.max_turns")));
    // The summary request dropped the trailing tool result for the prompt.
    let last = reqs.last().unwrap();
    assert!(last_content(&last.body).contains("FINAL ANSWER"));
    let n = last.body["messages"].as_array().unwrap().len();
    assert_eq!(last.body["messages"][n - 2]["role"], "assistant");
    assert_eq!(out.answer, "done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_replies_and_refusals_are_rolled_back() {
    let steps = vec![
        completion("<use_mcp_tool>\n<server_name>tool-python</server_name>\n<arguments>{}</arguments>", "stop"),
        completion("I'm sorry, but I can't do that.", "stop"),
        completion("It is \\boxed{4}.", "stop"),
        completion("\\boxed{4}", "stop"),
    ];
    let (out, server) = run(steps, |_| {}).await;
    assert_eq!(server.count(), 4);
    assert_eq!(out.turns, 1, "rolled-back replies do not count as turns");
    assert_eq!(out.events.iter().filter(|e| matches!(e, Event::Rollback { .. })).count(), 2);
    // Rolled-back replies never reach the conversation.
    let reqs = server.requests.lock().unwrap();
    assert_eq!(reqs[2].body["messages"].as_array().unwrap().len(), 2);
    assert_eq!(out.answer, "4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_and_failures_get_the_protocols_wording() {
    let search = call("search_and_scrape_webpage", "google_search", r#"{"q": "wasm sandboxes"}"#);
    let upload = call(
        "tool-python",
        "upload_file_from_local_to_sandbox",
        r#"{"sandbox_id": "sbx-none", "local_file_path": "/x"}"#,
    );
    let steps = vec![
        completion(&search, "stop"),
        completion(&search, "stop"),
        completion(&upload, "stop"),
        completion(&upload, "stop"),
        completion(&call("tool-python", "run_python_code", "{'code_block': oops"), "stop"),
        completion("\\boxed{no}", "stop"),
        completion("\\boxed{no}", "stop"),
    ];
    let (out, server) = run(steps, v1_0).await;
    let reqs = server.requests.lock().unwrap();
    let r1 = last_content(&reqs[1].body);
    // The default policy has no web tools, and the refusal names the key.
    assert!(
        r1.starts_with("Tool call to google_search on search_and_scrape_webpage failed. Error: ")
            && r1.contains("tools.disabled"),
        "{r1}"
    );
    assert_eq!(
        last_content(&reqs[2].body),
        "The query 'google_search_wasm sandboxes' has already been used in previous google_search. Please try a different query or keyword."
    );
    let r3 = last_content(&reqs[3].body);
    // The made-up sandbox id got a sandbox; the upload itself is refused.
    assert!(r3.starts_with("Tool call to upload_file_from_local_to_sandbox on tool-python failed. Error: this task may not read local files"), "{r3}");
    let r4 = last_content(&reqs[4].body);
    assert!(r4.starts_with("This exact call (upload_file_from_local_to_sandbox on tool-python, same arguments) was already made in turn 3, and running it again would only repeat its result:\nTool call to upload_file_from_local_to_sandbox on tool-python failed."), "{r4}");
    let r5 = last_content(&reqs[5].body);
    assert!(r5.contains("failed. Error: the arguments are not valid JSON"), "{r5}");
    assert_eq!(out.events.iter().filter(|e| matches!(e, Event::Intervention { .. })).count(), 2);
}

/// Attached files reach the first message converted by the document
/// reader in a sandbox, each cut at 200,000 characters with the protocol's
/// marker; one that does not convert is shown as the reader's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_converted_by_the_reader_for_the_first_message() {
    let server = Scripted::start(vec![completion("\\boxed{read}", "stop")]).await;
    let state = tempfile::tempdir().unwrap();
    let docx = state.path().join("brief.docx");
    std::fs::write(
        &docx,
        common::docs::docx(
            &[common::docs::Para::Heading(1, "Brief"), common::docs::Para::Table(&[&["k", "v"], &["depth", "42"]])],
            "",
        ),
    )
    .unwrap();
    let long = state.path().join("long.txt");
    std::fs::write(&long, "x".repeat(300_000)).unwrap();
    let broken = state.path().join("broken.pdf");
    std::fs::write(&broken, b"%PDF-1.4 not really").unwrap();
    let trace = state.path().join("trace.json");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fathom"));
    cmd.args(["run", "--json", "--trace", trace.to_str().unwrap()]);
    for f in [&docx, &long, &broken] {
        cmd.args(["--file", f.to_str().unwrap()]);
    }
    cmd.arg("Summarise the files.")
        .env("FATHOM_STATE_DIR", state.path())
        .env("FATHOM_CACHE_DIR", common::shared_cache())
        .env("FATHOM_LLM_BASE_URL", &server.url)
        .env("FATHOM_LLM_MODEL", "scripted")
        .env_remove("FATHOM_TOOLS_DIR");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let trace: Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let first = trace["main_agent_message_history"]["message_history"][0]["content"].as_str().unwrap();
    assert!(first.contains("brief.docx") && first.contains("# Brief") && first.contains("| depth | 42 |"), "{first}");
    let cut = format!("{}\n... [File truncated]", "x".repeat(200_000));
    assert!(first.contains(&cut) && !first.contains(&"x".repeat(200_001)), "the long file is cut at 200,000");
    assert!(
        first.contains("[this file could not be converted to text: cannot convert this PDF: it is damaged"),
        "{first}"
    );
}

/// `fathom run` as a user runs it, against the scripted server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fathom_run_prints_the_answer_record_and_trace() {
    let steps = vec![
        completion(&call("tool-python", "create_sandbox", "{}"), "stop"),
        Step::Compute(Box::new(|body| {
            let sb = sandbox_of(body);
            call(
                "tool-python",
                "run_python_code",
                &format!(
                    r#"{{"code_block": "print(open('/home/user/n.txt').read().strip() * 2)", "sandbox_id": "{sb}"}}"#
                ),
            )
        })),
        completion("\\boxed{2121}", "stop"),
        completion("\\boxed{2121}", "stop"),
    ];
    let server = Scripted::start(steps).await;
    let state = tempfile::tempdir().unwrap();
    let attachment = state.path().join("note.txt");
    std::fs::write(&attachment, "attached text").unwrap();
    let trace = state.path().join("trace.json");
    let (url, state_dir, trace_path, att) =
        (server.url.clone(), state.path().to_path_buf(), trace.clone(), attachment.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_fathom"))
            .args(["run", "--json", "--trace", trace_path.to_str().unwrap(), "--file", att.to_str().unwrap()])
            .arg("Repeat the number in n.txt twice.")
            .env("FATHOM_STATE_DIR", &state_dir)
            .env("FATHOM_CACHE_DIR", common::shared_cache())
            .env("FATHOM_LLM_BASE_URL", url)
            .env("FATHOM_LLM_MODEL", "scripted")
            .env_remove("FATHOM_TOOLS_DIR")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The Python cell reads a file that does not exist: its error goes back
    // to the model, and the task still succeeds.
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("turn 1") && stderr.contains("-> tool-python.run_python_code"), "{stderr}");
    let record: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["status"], "succeeded");
    assert_eq!(record["answer"], "2121");
    assert_eq!((record["turns"].as_u64(), record["tool_calls"].as_u64()), (Some(3), Some(2)));
    assert!(record["id"].as_str().unwrap().starts_with("task-"));
    assert_eq!(record["usage"]["prompt_tokens"], 44);
    let trace: Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    assert_eq!(trace["final_boxed_answer"], "2121");
    assert_eq!(trace["input"]["task_file_name"], "note.txt");
    assert!(
        trace["main_agent_message_history"]["system_prompt"].as_str().unwrap().contains("## Server name: tool-python")
    );
    let first = trace["main_agent_message_history"]["message_history"][0]["content"].as_str().unwrap();
    assert!(first.contains("Attached file: ") && first.contains("attached text"), "{first}");
    assert!(trace["step_logs"].as_array().unwrap().iter().any(|s| s["step_name"] == "tool_result"));

    // No model server configured: a usage error.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fathom"))
        .args(["run", "hello"])
        .env_remove("FATHOM_LLM_BASE_URL")
        .env("FATHOM_STATE_DIR", state.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("set FATHOM_LLM_BASE_URL"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_context_guard_drops_the_last_turn_and_summarises() {
    // The server reports a prompt of 2,500 tokens: with 1,000 for the reply,
    // 1,000 of margin and the summary prompt, the next turn cannot fit in 3,000.
    let steps = vec![
        completion_usage(&call("tool-python", "create_sandbox", "{}"), 2500, 20),
        completion("\\boxed{guess}", "stop"),
    ];
    let (out, server) = run(steps, |c| {
        c.context_window_tokens = 3000;
        c.max_output_tokens = 1000;
    })
    .await;
    assert_eq!(out.error, None);
    let limit = out.events.iter().find_map(|e| match e {
        Event::Limit { key, message } if key == "agent.context_window_tokens" => Some(message.clone()),
        _ => None,
    });
    let limit = limit.expect("a context limit event");
    assert!(limit.contains("over the model's context of 3000") && limit.contains("last turn is dropped"), "{limit}");
    let reqs = server.requests.lock().unwrap();
    assert_eq!(reqs.len(), 2, "no further turn after the guard");
    // The summary request: system, task, summary prompt. The dropped pair is gone.
    let sent = contents(&reqs[1].body);
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(sent[1].starts_with("What is") && sent[2].contains("FINAL ANSWER"));
    assert_eq!(out.answer, "guess");

    // Without the server's usage, the guard counts the tokens itself.
    let big = "word ".repeat(3000);
    let steps = vec![
        completion_usage(&format!("{big}\n{}", call("tool-python", "create_sandbox", "{}")), 0, 0),
        completion("\\boxed{x}", "stop"),
    ];
    let (out, server) = run(steps, |c| {
        c.context_window_tokens = 4000;
        c.max_output_tokens = 500;
    })
    .await;
    assert!(out.events.iter().any(|e| matches!(e, Event::Limit { key, .. } if key == "agent.context_window_tokens")));
    assert_eq!(server.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_length_error_mid_task_ends_in_the_summary() {
    let steps = vec![
        completion(&call("tool-python", "create_sandbox", "{}"), "stop"),
        status(400, r#"{"error": {"message": "This model's maximum context length is 8192 tokens."}}"#),
        completion("\\boxed{partial}", "stop"),
    ];
    let (out, server) = run(steps, |_| {}).await;
    assert_eq!(out.error, None);
    assert_eq!(out.answer, "partial");
    let reqs = server.requests.lock().unwrap();
    assert_eq!(reqs.len(), 3, "a context error is not retried");
    let sent = contents(&reqs[2].body);
    assert_eq!(sent.len(), 3, "the last turn was dropped before the summary: {sent:?}");
    assert!(out.events.iter().any(
        |e| matches!(e, Event::Limit { key, message } if key == "agent.context_window_tokens" && message.contains("8192"))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_reply_is_cut_and_counted_as_a_failed_call() {
    let looping = format!("Let me think. {}", "I need to check the result again. ".repeat(30));
    let steps = vec![
        completion(&looping, "stop"),
        completion(&looping, "stop"),
        completion(&looping, "stop"),
        completion("Sorted out: \\boxed{1}", "stop"),
        completion("\\boxed{1}", "stop"),
    ];
    let (out, server) = run(steps, |_| {}).await;
    assert_eq!(out.error, None);
    assert_eq!(server.count(), 5, "three attempts at the looping reply, then two more turns");
    assert_eq!((out.turns, out.tool_calls), (2, 1), "the looping reply counts as a (failed) call");
    assert!(out.events.iter().any(|e| matches!(e, Event::Intervention { kind, .. } if kind == "repetitive_reply")));
    let reqs = server.requests.lock().unwrap();
    let sent = contents(&reqs[3].body);
    assert_eq!(sent.last().unwrap(), REPETITIVE_REPLY);
    let cut = &sent[sent.len() - 2];
    assert!(cut.starts_with("Let me think. I need to check") && cut.ends_with("[... repeated text removed]"), "{cut}");
    assert!(cut.len() < 200, "the repetition is not kept: {} bytes", cut.len());
    assert_eq!(out.answer, "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_mode_uses_native_tools_and_tool_messages() {
    let steps = vec![
        native(None, &[("c1", "tool-python__create_sandbox", "{}")]),
        Step::ComputeStep(Box::new(|body| {
            let sb = sandbox_of(body);
            let def = format!(r#"{{"code_block": "def mul(a, b):\n    return a * b", "sandbox_id": "{sb}"}}"#);
            let use_ = format!(r#"{{"code_block": "print(mul(123456789, 987654321))", "sandbox_id": "{sb}"}}"#);
            native(
                Some("Define, then call."),
                &[
                    ("c2", "tool-python__run_python_code", def.as_str()),
                    ("c3", "tool-python__run_python_code", use_.as_str()),
                    ("c4", "python__multiply", "{}"),
                ],
            )
        })),
        completion("It is \\boxed{121932631112635269}.", "stop"),
        completion("\\boxed{121932631112635269}", "stop"),
    ];
    let (out, server) = run(steps, |c| {
        v1_0(c);
        c.tool_format = ToolFormat::Openai;
        c.keep_tool_results = 1;
    })
    .await;
    assert_eq!(out.error, None);
    assert_eq!(out.answer, "121932631112635269");
    assert_eq!((out.turns, out.tool_calls), (3, 4));
    let reqs = server.requests.lock().unwrap();
    assert_eq!(reqs.len(), 4);
    let tools = reqs[0].body["tools"].as_array().unwrap();
    let python = tools.iter().find(|t| t["function"]["name"] == "tool-python__run_python_code").expect("tool listed");
    assert_eq!(python["type"], "function");
    assert!(python["function"]["parameters"]["properties"]["code_block"].is_object());
    let system = reqs[0].body["messages"][0]["content"].as_str().unwrap();
    assert!(!system.contains("<use_mcp_tool>") && system.contains("Today is: 2026-11-25"));
    // The reply's calls are echoed back, each answered by a tool message.
    let m1 = reqs[1].body["messages"].as_array().unwrap();
    assert_eq!(m1[2]["role"], "assistant");
    assert_eq!(m1[2]["tool_calls"][0]["id"], "c1");
    assert_eq!((m1[3]["role"].as_str(), m1[3]["tool_call_id"].as_str()), (Some("tool"), Some("c1")));
    assert!(m1[3]["content"].as_str().unwrap().contains("sbx-"));
    let m2 = reqs[2].body["messages"].as_array().unwrap();
    let tool_msgs: Vec<&Value> = m2.iter().filter(|m| m["role"] == "tool").collect();
    let ids: Vec<&str> = tool_msgs.iter().map(|m| m["tool_call_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["c1", "c2", "c3", "c4"]);
    // keep-K counts tool messages: only the last is kept.
    assert_eq!(tool_msgs[0]["content"], OMITTED);
    assert_eq!(tool_msgs[2]["content"], OMITTED);
    let unknown = tool_msgs[3]["content"].as_str().unwrap();
    assert!(
        unknown.starts_with("Tool call to python__multiply failed. Error: there is no function named"),
        "{unknown}"
    );
    assert!(unknown.contains("tool-python__run_python_code"), "{unknown}");
    // The product was computed in the same sandbox.
    assert!(
        out.events
            .iter()
            .any(|e| matches!(e, Event::ToolResult { ok: true, output, .. } if output.contains("121932631112635269")))
    );
    // The summary keeps the tool messages (each answers a call) and turns tools off.
    let last = &reqs[3].body;
    assert_eq!(last["tool_choice"], "none");
    assert!(last_content(last).contains("FINAL ANSWER"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_task_keeps_its_conversation() {
    let steps =
        vec![completion(&call("tool-python", "create_sandbox", "{}"), "stop"), status(401, r#"{"error": "bad key"}"#)];
    let (out, server) = run(steps, |_| {}).await;
    assert_eq!(server.count(), 2, "a 401 is not retried");
    let error = out.error.expect("the task failed");
    assert!(error.contains("HTTP 401") && error.contains("bad key"), "{error}");
    assert_eq!(out.messages.len(), 4, "system, task, the reply and its result are kept");
    assert!(out.messages[3].content.contains("sbx-"));
    assert!(matches!(out.events.last(), Some(Event::Error { .. })));
    assert!(!out.events.iter().any(|e| matches!(e, Event::Answer { .. })));

    // A model server slower than the task's budget: stopped at the budget.
    let slow = Step::Reply { status: 200, body: "{}".into(), delay: Duration::from_secs(20) };
    let started = Instant::now();
    let (out, _) = run(vec![slow], |c| c.task_timeout = Some(Duration::from_millis(800))).await;
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    let error = out.error.expect("timed out");
    assert!(error.contains("agent.task_timeout_secs"), "{error}");
    assert!(out.events.iter().any(|e| matches!(e, Event::Limit { key, .. } if key == "agent.task_timeout_secs")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_cell_straight_again_is_answered_not_rerun() {
    let cell = call("tool-python", "run_python_code", r#"{"code_block": "123456789 * 987654321"}"#);
    let other = call("tool-python", "run_python_code", r#"{"code_block": "1 + 1"}"#);
    let steps = vec![
        completion(&cell, "stop"),
        completion(&cell, "stop"),
        completion(&other, "stop"),
        completion(&cell, "stop"),
        completion("\\boxed{121932631112635269}", "stop"),
        completion("\\boxed{121932631112635269}", "stop"),
    ];
    let (out, server) = run(steps, |_| {}).await;
    let reqs = server.requests.lock().unwrap();
    let second = last_content(&reqs[2].body);
    assert!(
        second.starts_with("This exact call (run_python_code on tool-python, same arguments) was already made in turn 1, and running it again would only repeat its result:\n[result]\n121932631112635269\n"),
        "{second}"
    );
    assert!(second.contains("\\boxed{}"), "{second}");
    // After another call in between, the same cell runs again (state may have changed).
    assert!(last_content(&reqs[4].body).contains("[result]\n121932631112635269"));
    let ran = out.events.iter().filter(|e| matches!(e, Event::ToolResult { .. })).count();
    assert_eq!((ran, out.tool_calls), (3, 4));
    assert_eq!(out.answer, "121932631112635269");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_sets_the_sampling_and_the_tool_call_limit() {
    let cell = |n: u32| call("tool-python", "run_python_code", &format!(r#"{{"code_block": "print({n} * 2)"}}"#));
    let steps = vec![
        completion(&cell(1), "stop"),
        // Two calls in one reply: the second is over the limit of two.
        completion(&format!("{}\n{}", cell(2), cell(3)), "stop"),
        completion("\\boxed{6}", "stop"),
    ];
    let (out, server) = run_with(
        steps,
        |p| {
            p.agent.temperature = 0.3;
            p.agent.top_p = 0.5;
            p.agent.max_output_tokens = 777;
            p.agent.max_tool_calls = 2;
        },
        |_| {},
    )
    .await;
    let reqs = server.requests.lock().unwrap();
    let b = &reqs[0].body;
    assert_eq!(
        (b["temperature"].as_f64(), b["top_p"].as_f64(), b["max_tokens"].as_u64()),
        (Some(0.3), Some(0.5), Some(777))
    );
    assert_eq!(out.tool_calls, 2);
    let ran: Vec<&str> = out
        .events
        .iter()
        .filter_map(|e| match e {
            Event::ToolResult { output, .. } => Some(output.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(ran.len(), 2, "the third call never ran: {ran:?}");
    assert_eq!(ran, ["[stdout]\n2", "[stdout]\n4"]);
    let limit = out.events.iter().find_map(|e| match e {
        Event::Limit { key, message } if key == "agent.max_tool_calls" => Some(message.as_str()),
        _ => None,
    });
    assert_eq!(
        limit,
        Some("The limit of 2 tool calls for this task (agent.max_tool_calls) is reached; give your final answer now.")
    );
    // The limit ends the loop: the next request is the summary, in place of the last results.
    assert_eq!(reqs.len(), 3);
    let sent = contents(&reqs[2].body);
    assert_eq!(sent.len(), 6, "{sent:?}");
    assert!(sent[5].contains("FINAL ANSWER"));
    assert_eq!(out.answer, "6");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollbacks_are_capped_then_the_reply_is_taken() {
    let malformed = "<use_mcp_tool>\n<server_name>tool-python</server_name>\n</use_mcp_tool>";
    let mut steps: Vec<Step> = (0..6).map(|_| completion(malformed, "stop")).collect();
    steps.push(completion("\\boxed{gave up}", "stop"));
    steps.push(completion("\\boxed{gave up}", "stop"));
    let (out, server) = run(steps, |_| {}).await;
    assert_eq!(out.events.iter().filter(|e| matches!(e, Event::Rollback { .. })).count(), 5);
    assert_eq!(server.count(), 8, "five rollbacks, the sixth reply kept, the format reminder, then the summary");
    assert_eq!(out.turns, 2);
    // Every refusal phrase of the protocol is rolled back.
    for phrase in
        ["Due to time constraints I stop here.", "I'm sorry, but I can't help.", "I'm sorry, I cannot solve this."]
    {
        let (out, server) = run(
            vec![completion(phrase, "stop"), completion("\\boxed{1}", "stop"), completion("\\boxed{1}", "stop")],
            |_| {},
        )
        .await;
        assert_eq!(out.events.iter().filter(|e| matches!(e, Event::Rollback { .. })).count(), 1, "{phrase}");
        assert_eq!(server.count(), 3, "{phrase}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_cut_at_max_tokens_is_answered_not_retried_forever() {
    let cut = "<think>Let me work this out step by step, first";
    let steps = vec![
        completion(cut, "length"),
        completion(cut, "length"),
        completion(cut, "length"),
        completion("\\boxed{7}", "stop"),
        completion("\\boxed{7}", "stop"),
    ];
    let (out, server) = run(steps, |c| {
        v1_0(c);
        c.max_output_tokens = 64;
    })
    .await;
    assert_eq!(out.error, None);
    assert_eq!(server.count(), 5);
    assert!(out.events.iter().any(|e| matches!(e, Event::Intervention { kind, .. } if kind == "cut_reply")));
    let reqs = server.requests.lock().unwrap();
    let sent = contents(&reqs[3].body);
    assert_eq!(sent[sent.len() - 2], cut, "the cut reply stays in the conversation");
    assert_eq!(sent.last().unwrap(), &cut_reply(64));
    assert!(cut_reply(64).contains("agent.max_output_tokens"));
    assert_eq!((out.turns, out.answer.as_str()), (2, "7"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_results_are_cut_with_the_protocols_marker() {
    let steps = vec![
        completion(&call("hostile", "big_result", r#"{"n": 150000}"#), "stop"),
        completion("\\boxed{y}", "stop"),
        completion("\\boxed{y}", "stop"),
    ];
    let (out, server) = run_with(steps, |p| p.sandbox.output_bytes = 400_000, |_| {}).await;
    assert_eq!(out.error, None);
    let reqs = server.requests.lock().unwrap();
    let result = last_content(&reqs[1].body);
    assert!(result.ends_with("\n... [Result truncated]"), "{}", &result[result.len() - 100..]);
    assert_eq!(result.chars().count(), 100_000 + "\n... [Result truncated]".len());
    assert!(result.starts_with("yyyy"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_falls_back_to_the_last_boxed_seen_then_to_the_protocols_text() {
    let steps = vec![
        completion("First guess \\boxed{41}, then \\boxed{42}.", "stop"),
        completion("I summarised, but forgot the box. Also \\boxed{unknown}", "stop"),
    ];
    let (out, _) = run(steps, |_| {}).await;
    assert_eq!((out.answer.as_str(), out.boxed), ("42", true));
    let (out, _) = run(vec![completion("No idea.", "stop"), completion("Still none.", "stop")], |_| {}).await;
    assert_eq!((out.answer.as_str(), out.boxed), (NO_BOXED, false));
}

/// The guard's formula, pinned at the boundary: server-reported prompt and
/// completion + 1.5 x the new results + 1.5 x the summary prompt +
/// max_tokens + 1000 reaching the context ends the loop; one token less
/// does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_context_guard_formula_at_its_boundary() {
    let unknown = call("nowhere", "nothing", "{}");
    let script = || {
        vec![completion_usage(&unknown, 2000, 30), completion("\\boxed{b}", "stop"), completion("\\boxed{b}", "stop")]
    };
    let (out, _) = run(script(), |c| {
        v1_0(c);
        c.max_output_tokens = 500;
    })
    .await;
    let result = out
        .events
        .iter()
        .find_map(|e| match e {
            Event::ToolResult { output, .. } => Some(output.clone()),
            _ => None,
        })
        .unwrap();
    let question = "What is 123456789 * 987654321?";
    let summary = tokens::count(&summary_prompt(question));
    let estimate =
        2000 + 30 + (tokens::count(&result) as f64 * 1.5) as u64 + (summary as f64 * 1.5) as u64 + 500 + 1000;
    let hit = |o: &Outcome| {
        o.events.iter().any(|e| matches!(e, Event::Limit { key, .. } if key == "agent.context_window_tokens"))
    };
    let (out, _) = run(script(), |c| {
        v1_0(c);
        c.max_output_tokens = 500;
        c.context_window_tokens = estimate;
    })
    .await;
    assert!(hit(&out), "an estimate of {estimate} reaches a context of {estimate}");
    let (out, _) = run(script(), |c| {
        v1_0(c);
        c.max_output_tokens = 500;
        c.context_window_tokens = estimate + 1;
    })
    .await;
    assert!(!hit(&out), "an estimate of {estimate} fits a context of {}", estimate + 1);
    assert_eq!(out.turns, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_result_repeated_is_pointed_to_honestly() {
    let big = call("hostile", "big_result", r#"{"n": 3000}"#);
    let steps = || {
        vec![
            completion(&big, "stop"),
            completion(&call("hostile", "echo", r#"{"text": "between"}"#), "stop"),
            completion(&big, "stop"),
            completion("\\boxed{no}", "stop"),
            completion("\\boxed{no}", "stop"),
        ]
    };
    let head = "This exact call (big_result on hostile, same arguments) was already made in turn 1; ";
    // keep-K has hidden the earlier result: the model is told so.
    let (_, server) = run(steps(), |c| c.keep_tool_results = 1).await;
    let msgs = contents(&server.requests.lock().unwrap()[3].body);
    assert_eq!(msgs[3], OMITTED);
    assert!(
        msgs[7].starts_with(&format!("{head}its result was long and has since been omitted to save tokens.")),
        "{}",
        msgs[7]
    );
    // Still in view: pointed to, not copied.
    let (_, server) = run(steps(), |c| c.keep_tool_results = 5).await;
    let msgs = contents(&server.requests.lock().unwrap()[3].body);
    assert_eq!(msgs[3], "y".repeat(3000));
    assert!(msgs[7].starts_with(&format!("{head}its result is in that turn's tool result above.")), "{}", msgs[7]);
}

// ---- real models' habits -------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_made_up_sandbox_id_gets_a_sandbox_that_keeps_its_state() {
    let steps = vec![
        completion(
            &call("tool-python", "run_python_code", r#"{"code_block": "x = 41", "sandbox_id": "default"}"#),
            "stop",
        ),
        completion(
            &call("tool-python", "run_python_code", r#"{"code_block": "print(x + 1)", "sandbox_id": "default"}"#),
            "stop",
        ),
        completion("\\boxed{42}", "stop"),
        completion("\\boxed{42}", "stop"),
    ];
    let (out, server) = run(steps, |_| {}).await;
    assert_eq!(out.answer, "42");
    let reqs = server.requests.lock().unwrap();
    // The model sees the tool's own text, nothing about the sandbox.
    assert!(last_content(&reqs[1].body).starts_with("[no output]"));
    assert_eq!(last_content(&reqs[2].body), "[stdout]\n42");
    let notes: Vec<&Event> =
        out.events.iter().filter(|e| matches!(e, Event::Note { kind, .. } if kind == "sandbox_created")).collect();
    assert_eq!(notes.len(), 1, "created once, then reused: {notes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loose_tool_names_resolve_when_one_tool_fits() {
    // Text mode: a wrong server name, and server.tool as the tool name.
    let steps = vec![
        completion(&call("python", "run_python_code", r#"{"code_block": "print(6 * 7)"}"#), "stop"),
        completion(&call("", "tool-python.run_python_code", r#"{"code_block": "print(6 * 8)"}"#), "stop"),
        completion("\\boxed{42}", "stop"),
        completion("\\boxed{42}", "stop"),
    ];
    let (out, server) = run(steps, |_| {}).await;
    let reqs = server.requests.lock().unwrap();
    assert_eq!(last_content(&reqs[1].body), "[stdout]\n42");
    assert_eq!(last_content(&reqs[2].body), "[stdout]\n48");
    assert_eq!(
        out.events.iter().filter(|e| matches!(e, Event::Note { kind, .. } if kind == "tool_resolved")).count(),
        2
    );
    drop(reqs);

    // OpenAI mode: the bare name and server.tool.
    let steps = vec![
        native(None, &[("c1", "run_python_code", r#"{"code_block": "print(6 * 7)"}"#)]),
        native(None, &[("c2", "tool-python.run_python_code", r#"{"code_block": "print(6 * 9)"}"#)]),
        completion("\\boxed{42}", "stop"),
        completion("\\boxed{42}", "stop"),
    ];
    let (out, _) = run(steps, |c| c.tool_format = ToolFormat::Openai).await;
    let results: Vec<&str> = out
        .events
        .iter()
        .filter_map(|e| match e {
            Event::ToolResult { ok: true, output, .. } => Some(output.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(results, ["[stdout]\n42", "[stdout]\n54"]);
}

/// What the real small model did with the README's first command: it called
/// `run_python_code` with `command` (the shell tool's argument) and then
/// repeated that call unchanged for 60 turns. The failed result names the
/// argument and carries the call with it renamed; the repeat is answered
/// with that result again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misnamed_argument_is_answered_with_the_call_renamed() {
    let wrong =
        call("tool-python", "run_python_code", r#"{"command": "print(123456789 * 987654321)", "sandbox_id": "s1"}"#);
    let steps = vec![
        completion(&wrong, "stop"),
        completion(&wrong, "stop"),
        // The model sends the call it was given.
        Step::Compute(Box::new(|body| {
            let result = last_content(body);
            let at = result.find("<use_mcp_tool>").expect("the result holds the call");
            result[at..].to_owned()
        })),
        Step::Compute(Box::new(|body| {
            let result = last_content(body);
            format!("\\boxed{{{}}}", result.trim_start_matches("[stdout]\n").lines().next().unwrap().trim())
        })),
        completion("\\boxed{121932631112635269}", "stop"),
    ];
    let (out, server) = run(steps, |_| {}).await;
    assert_eq!(out.answer, "121932631112635269");
    let reqs = server.requests.lock().unwrap();
    let first = last_content(&reqs[1].body);
    assert!(first.contains("missing field `code_block`"), "{first}");
    assert!(first.contains("`run_python_code` takes `code_block`, not `command`."), "{first}");
    assert!(
        first.contains(r#"{"code_block":"print(123456789 * 987654321)","sandbox_id":"s1"}"#),
        "the call renamed, the rest kept: {first}"
    );
    let again = last_content(&reqs[2].body);
    assert!(again.contains("already made in turn 1") && again.contains("takes `code_block`"), "{again}");
    let renamed = |e: &&Event| matches!(e, Event::Intervention { kind, .. } if kind == "argument_renamed");
    assert_eq!(out.events.iter().filter(renamed).count(), 1);
}

/// What the real small model did next: given its cell's result and told to
/// answer, it sent the same cell again, turn after turn, until its context
/// was full. Three turns answered without running anything end the turns;
/// the summary step asks for the answer after the last turn that ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_stuck_repeating_a_call_is_asked_for_its_answer() {
    let cell = call("tool-python", "run_python_code", r#"{"code_block": "123456789 * 987654321"}"#);
    let steps = vec![
        completion(&cell, "stop"),
        completion(&cell, "stop"),
        completion(&cell, "stop"),
        completion(&cell, "stop"),
        completion("\\boxed{121932631112635269}", "stop"),
        completion(&cell, "stop"),
    ];
    let (out, server) = run(steps, |_| {}).await;
    assert_eq!(out.answer, "121932631112635269");
    let reqs = server.requests.lock().unwrap();
    assert_eq!(reqs.len(), 5, "four turns, then the summary");
    // The summary follows the turn that ran: the three repeats are dropped.
    let sent = contents(&reqs[4].body);
    let last = sent.last().unwrap();
    assert!(last.starts_with("[result]\n121932631112635269") && last.contains("Summarize the above"), "{last}");
    assert!(!sent.iter().any(|m| m.starts_with("This exact call")), "{sent:?}");
    let ran = out.events.iter().filter(|e| matches!(e, Event::ToolResult { .. })).count();
    assert_eq!(ran, 1);
    let stuck: Vec<&String> = out
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Intervention { kind, message, .. } if kind == "stuck_loop" => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(stuck.len(), 1);
    assert!(stuck[0].contains("3 turns in a row"), "{}", stuck[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_written_instead_of_called_is_answered_with_the_call_that_runs_it() {
    let steps = vec![
        completion("I will compute it.\n```python\nprint(sum(int(d) for d in str(2**100)))\n```", "stop"),
        // The model does what it was told: it sends the call it was given.
        Step::Compute(Box::new(|body| {
            let nudge = last_content(body);
            let at = nudge.find("<use_mcp_tool>").expect("the nudge holds the call");
            nudge[at..].to_owned()
        })),
        Step::Compute(Box::new(|body| {
            let result = last_content(body);
            format!("The digit sum is \\boxed{{{}}}.", result.trim_start_matches("[stdout]\n").trim())
        })),
        completion("\\boxed{115}", "stop"),
    ];
    let (out, server) = run(steps, |_| {}).await;
    assert_eq!(out.answer, "115");
    let reqs = server.requests.lock().unwrap();
    let nudge = last_content(&reqs[1].body);
    assert!(nudge.starts_with("The code in your reply was not run"), "{nudge}");
    assert!(nudge.contains("<tool_name>run_python_code</tool_name>"), "{nudge}");
    assert_eq!(last_content(&reqs[2].body), "[stdout]\n115");
    assert!(out.events.iter().any(|e| matches!(e, Event::Intervention { kind, .. } if kind == "unrun_code")));

    // Once per task, and off when the policy says so.
    let steps = vec![completion("```python\nprint(1)\n```", "stop"), completion("\\boxed{1}", "stop")];
    let (out, server) = run(steps, |c| c.nudge_unrun_code = false).await;
    assert!(!out.events.iter().any(|e| matches!(e, Event::Intervention { kind, .. } if kind == "unrun_code")));
    assert_eq!(server.count(), 3, "the format reminder, then the summary");
}

/// `agent.check_unverified_answers`: a boxed guess before any tool ran is
/// answered once with the call that checks it; the model runs the check
/// and its corrected answer stands. Off, or once a tool has run, the
/// answer is final at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_no_tool_backs_is_questioned_once_when_the_policy_asks() {
    let steps = vec![
        completion("\\boxed{2}", "stop"),
        completion(
            &call("tool-python", "run_python_code", r#"{"code_block": "print(sum(int(d) for d in str(2**100)))"}"#),
            "stop",
        ),
        Step::Compute(Box::new(|body| {
            let result = last_content(body);
            format!("\\boxed{{{}}}", result.trim_start_matches("[stdout]\n").trim())
        })),
        completion("\\boxed{115}", "stop"),
    ];
    let (out, server) = run(steps, |c| c.check_unverified_answers = true).await;
    assert_eq!(out.answer, "115");
    let reqs = server.requests.lock().unwrap();
    let nudge = last_content(&reqs[1].body);
    assert!(nudge.starts_with("No tool has run yet, so that answer is unchecked."), "{nudge}");
    assert!(
        nudge.contains("<server_name>tool-python</server_name>\n<tool_name>run_python_code</tool_name>"),
        "{nudge}"
    );
    assert!(out.events.iter().any(|e| matches!(e, Event::Intervention { kind, .. } if kind == "unverified_answer")));
    drop(reqs);

    // Asked once: the same guess again is final.
    let steps =
        vec![completion("\\boxed{2}", "stop"), completion("\\boxed{2}", "stop"), completion("\\boxed{2}", "stop")];
    let (out, server) = run(steps, |c| c.check_unverified_answers = true).await;
    assert_eq!((out.answer.as_str(), server.count()), ("2", 3), "the check, the repeat, the summary");
    // Off (the default): final at once.
    let steps = vec![completion("\\boxed{2}", "stop"), completion("\\boxed{2}", "stop")];
    let (out, server) = run(steps, |_| {}).await;
    assert_eq!((out.answer.as_str(), server.count()), ("2", 2), "the answer, the summary");
    assert!(!out.events.iter().any(|e| matches!(e, Event::Intervention { .. })));
}

/// `agent.tool_hint`: the first message names the Python tool with the
/// exact call that runs code, and only when the policy asks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tool_hint_names_the_python_call_in_the_first_message_when_the_policy_asks() {
    let first_message = |server: &Scripted| {
        let reqs = server.requests.lock().unwrap();
        reqs[0].body["messages"][1]["content"].as_str().unwrap().to_owned()
    };
    let steps = vec![completion("\\boxed{2}", "stop"), completion("\\boxed{2}", "stop")];
    let (_, server) = run(steps, |c| c.tool_hint = true).await;
    let first = first_message(&server);
    assert!(first.contains("run Python with the tool `run_python_code`"), "{first}");
    assert!(
        first.contains("<server_name>tool-python</server_name>\n<tool_name>run_python_code</tool_name>"),
        "{first}"
    );
    let steps = vec![completion("\\boxed{2}", "stop"), completion("\\boxed{2}", "stop")];
    let (_, server) = run(steps, |_| {}).await;
    assert!(!first_message(&server).contains("run_python_code"), "off by default");
}

/// Under `agent.tool_hint`, a call that runs the hint's own placeholder is
/// not run but answered with the task's question, and a Python result is
/// followed by the line that asks for the answer (not after a traceback).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_the_tool_hint_a_copied_placeholder_is_refused_and_results_ask_for_the_answer() {
    let placeholder =
        call("tool-python", "run_python_code", r#"{"code_block": "<Python code that prints the answer>"}"#);
    let broken = call("tool-python", "run_python_code", r#"{"code_block": "123456789 *"}"#);
    let real = call("tool-python", "run_python_code", r#"{"code_block": "print(123456789 * 987654321)"}"#);
    let steps = vec![
        completion(&placeholder, "stop"),
        completion(&broken, "stop"),
        completion(&real, "stop"),
        completion("\\boxed{121932631112635269}", "stop"),
        completion("\\boxed{121932631112635269}", "stop"),
    ];
    let (out, server) = run(steps, |c| c.tool_hint = true).await;
    assert_eq!(out.answer, "121932631112635269");
    let copied: Vec<&Event> = out
        .events
        .iter()
        .filter(|e| matches!(e, Event::Intervention { kind, .. } if kind == "example_copied"))
        .collect();
    assert_eq!(copied.len(), 1, "{:?}", out.events);
    let reqs = server.requests.lock().unwrap();
    let refusal = last_content(&reqs[1].body);
    assert!(refusal.contains("not run") && refusal.contains("What is 123456789 * 987654321?"), "{refusal}");
    let after_traceback = last_content(&reqs[2].body);
    assert!(after_traceback.contains("SyntaxError") && !after_traceback.contains("boxed"), "{after_traceback}");
    let after_result = last_content(&reqs[3].body);
    assert!(after_result.starts_with("[stdout]\n121932631112635269"), "{after_result}");
    assert!(after_result.contains("reply with the final answer in \\boxed{} now"), "{after_result}");
    drop(reqs);
    // Without the hint the same placeholder is just code, and runs (and fails).
    let steps =
        vec![completion(&placeholder, "stop"), completion("\\boxed{1}", "stop"), completion("\\boxed{1}", "stop")];
    let (out, server) = run(steps, |_| {}).await;
    assert!(!out.events.iter().any(|e| matches!(e, Event::Intervention { kind, .. } if kind == "example_copied")));
    let reqs = server.requests.lock().unwrap();
    assert!(last_content(&reqs[1].body).contains("SyntaxError"), "{}", last_content(&reqs[1].body));
}

/// A summary step that answers with a tool call is told once that no tool
/// can run now, and its next reply gives the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_summary_that_calls_a_tool_is_told_once_to_answer_instead() {
    let real = call("tool-python", "run_python_code", r#"{"code_block": "print(123456789 * 987654321)"}"#);
    let steps = vec![
        completion(&real, "stop"),
        completion("It is done.", "stop"),
        completion(&real, "stop"),
        completion("\\boxed{121932631112635269}", "stop"),
    ];
    let (out, server) = run(steps, |_| {}).await;
    assert_eq!(out.answer, "121932631112635269");
    assert!(out.events.iter().any(|e| matches!(e, Event::Intervention { kind, .. } if kind == "summary_tool_call")));
    let reqs = server.requests.lock().unwrap();
    assert_eq!(reqs.len(), 4);
    assert!(last_content(&reqs[3].body).starts_with("No tool can be called in this step"));
    drop(reqs);
    // Told once: a second call in its place ends the task without an answer.
    let steps = vec![
        completion("It is done.", "stop"),
        completion("Still done.", "stop"),
        completion(&real, "stop"),
        completion(&real, "stop"),
    ];
    let (out, server) = run(steps, |_| {}).await;
    assert_eq!(out.answer, NO_BOXED);
    assert_eq!(server.requests.lock().unwrap().len(), 4);
}

/// The real small model's summary: a line of the prompt's format rules and
/// the number, no `\\boxed{}`. Asked once more, shown its own last line
/// boxed; a second bare reply is no answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_summary_without_a_box_is_asked_once_for_one() {
    let real = call("tool-python", "run_python_code", r#"{"code_block": "123456789 * 987654321"}"#);
    let steps = vec![
        completion(&real, "stop"),
        completion("It is done.", "stop"),
        completion("a number, OR\n121932631112635269", "stop"),
        completion("\\boxed{121932631112635269}", "stop"),
    ];
    let (out, server) = run(steps, |_| {}).await;
    assert_eq!((out.answer.as_str(), out.boxed), ("121932631112635269", true));
    let unboxed = |e: &&Event| matches!(e, Event::Intervention { kind, .. } if kind == "summary_unboxed");
    assert_eq!(out.events.iter().filter(unboxed).count(), 1);
    let reqs = server.requests.lock().unwrap();
    assert_eq!(reqs.len(), 4);
    let nudge = last_content(&reqs[3].body);
    assert!(nudge.starts_with("Your reply has no \\boxed{}"), "{nudge}");
    assert!(nudge.ends_with("reply with exactly this: \\boxed{121932631112635269}"), "its own last line: {nudge}");
    drop(reqs);
    let steps = vec![
        completion(&real, "stop"),
        completion("It is done.", "stop"),
        completion("121932631112635269", "stop"),
        completion("121932631112635269", "stop"),
        completion("\\boxed{121932631112635269}", "stop"),
    ];
    let (out, server) = run(steps, |_| {}).await;
    assert_eq!((out.answer.as_str(), out.boxed), (NO_BOXED, false));
    assert_eq!(server.requests.lock().unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_reply_without_call_or_answer_gets_the_format_reminder_once() {
    let steps = vec![
        completion("It is probably seven.", "stop"),
        completion("Still seven.", "stop"),
        completion("\\boxed{7}", "stop"),
    ];
    let (out, server) = run(steps, |_| {}).await;
    assert_eq!(out.answer, "7");
    let reqs = server.requests.lock().unwrap();
    assert_eq!(reqs.len(), 3, "reminded once, then the summary");
    assert!(last_content(&reqs[1].body).contains("\\boxed{your answer}"));
    assert!(last_content(&reqs[2].body).contains("FINAL ANSWER"));
}

// ---- MiroThinker 1.7's rollback rules ---------------------------------------------

fn rollbacks(out: &Outcome) -> Vec<String> {
    out.events
        .iter()
        .filter_map(|e| match e {
            Event::Rollback { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_1_7_a_repeated_query_is_rolled_back_three_times_then_answered() {
    let search = call("search_and_scrape_webpage", "google_search", r#"{"q": "wasm sandboxes"}"#);
    let mut steps: Vec<Step> = (0..5).map(|_| completion(&search, "stop")).collect();
    steps.extend([completion("\\boxed{no}", "stop"), completion("\\boxed{no}", "stop")]);
    // The search tool is not installed: its first call is answered as unknown, not rolled back.
    let (out, server) = run(steps, |c| c.rollback_unknown_tools = false).await;
    assert_eq!(rollbacks(&out), ["a repeated query"; 3]);
    let reqs = server.requests.lock().unwrap();
    // Three resamples, then the query is answered with the v1.0 sentence.
    assert!(last_content(&reqs[5].body).starts_with("The query 'google_search_wasm sandboxes' has already been used"));
    assert_eq!(out.turns, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_1_7_a_call_of_an_unknown_tool_is_rolled_back() {
    let unknown = call("nowhere", "nothing", "{}");
    let steps = vec![completion(&unknown, "stop"), completion("\\boxed{b}", "stop"), completion("\\boxed{b}", "stop")];
    let (out, server) = run(steps, |_| {}).await;
    assert_eq!(rollbacks(&out), ["a call of a tool that does not exist"]);
    let reqs = server.requests.lock().unwrap();
    // The resample sees the task as if the call had never been made.
    assert_eq!(contents(&reqs[1].body).len(), 2, "{:?}", contents(&reqs[1].body));
    assert_eq!((out.turns, out.answer.as_str()), (1, "b"));
    drop(reqs);
    // Under 1.0 it is answered with the error instead.
    let steps = vec![completion(&unknown, "stop"), completion("\\boxed{b}", "stop"), completion("\\boxed{b}", "stop")];
    let (out, server) = run(steps, v1_0).await;
    assert!(rollbacks(&out).is_empty());
    assert!(last_content(&server.requests.lock().unwrap()[1].body).contains("there is no tool server `nowhere`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_1_7_a_cut_reply_is_rolled_back_up_to_the_cap_then_answered() {
    let cut = "<think>Let me work this out step by step, first";
    // The client resamples a cut reply twice before handing it over (three
    // requests each); the loop then rolls it back, five times in a row.
    let mut steps: Vec<Step> = (0..18).map(|_| completion(cut, "length")).collect();
    steps.extend([completion("\\boxed{7}", "stop"), completion("\\boxed{7}", "stop")]);
    let (out, server) = run(steps, |c| c.max_output_tokens = 64).await;
    assert_eq!(rollbacks(&out), ["a reply cut at max_output_tokens"; 5]);
    assert!(out.events.iter().any(|e| matches!(e, Event::Intervention { kind, .. } if kind == "cut_reply")));
    assert_eq!(server.count(), 20);
    assert_eq!(out.answer, "7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extra_attempts_are_capped_over_the_whole_task() {
    let malformed = "<use_mcp_tool>\n<server_name>tool-python</server_name>\n</use_mcp_tool>";
    let mut steps: Vec<Step> = (0..4).map(|_| completion(malformed, "stop")).collect();
    steps.extend([
        completion("\\boxed{x}", "stop"),
        completion("\\boxed{x}", "stop"),
        completion("\\boxed{x}", "stop"),
    ]);
    let (out, _) = run(steps, |c| c.max_extra_attempts = 2).await;
    assert_eq!(rollbacks(&out).len(), 2, "then replies are taken as they are");
}

#[test]
fn the_presets_carry_each_versions_rules() {
    let store = fathom::policy::PolicyStore::default();
    let v10 = store.load("mirothinker-1.0").unwrap();
    let v17 = store.load("mirothinker-1.7").unwrap();
    let default = store.load("default").unwrap();
    assert!(!v10.agent.rollback_duplicate_queries && !v10.agent.rollback_cut_replies && v10.agent.max_turns == 600);
    assert!(v17.agent.rollback_duplicate_queries && v17.agent.rollback_unknown_tools && v17.agent.max_turns == 200);
    assert_eq!(v17.agent.max_duplicate_rollbacks, 3);
    assert!(default.agent.rollback_duplicate_queries && default.agent.rollback_empty_searches, "default follows 1.7");
}

// ---- steering -------------------------------------------------------------------

fn py(code: &str) -> String {
    call("tool-python", "run_python_code", &serde_json::json!({ "code_block": code }).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_a_b_a_b_loop_is_stopped_at_its_fourth_call() {
    let steps = vec![
        completion(&py("print('a')"), "stop"),
        completion(&py("print('b')"), "stop"),
        completion(&py("print('a')"), "stop"),
        completion(&py("print('b')"), "stop"),
        completion("\\boxed{ab}", "stop"),
        completion("\\boxed{ab}", "stop"),
    ];
    let (out, server) = run(steps, |_| {}).await;
    let reqs = server.requests.lock().unwrap();
    assert_eq!(last_content(&reqs[3].body), "[stdout]\na", "the third call ran");
    let answer = last_content(&reqs[4].body);
    assert!(answer.starts_with("You have been alternating between the same two calls"), "{answer}");
    assert!(out.events.iter().any(|e| matches!(e, Event::Intervention { kind, .. } if kind == "action_loop")));
    assert_eq!(out.tool_calls, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_near_duplicate_call_straight_again_is_the_same_call() {
    let steps = vec![
        completion(&py("print('x')"), "stop"),
        completion(&py("print(\"x\")   \n"), "stop"),
        completion("\\boxed{x}", "stop"),
        completion("\\boxed{x}", "stop"),
    ];
    let (out, server) = run(steps, |_| {}).await;
    let reqs = server.requests.lock().unwrap();
    assert!(
        last_content(&reqs[2].body).starts_with("This exact call (run_python_code on tool-python"),
        "{}",
        last_content(&reqs[2].body)
    );
    assert!(out.events.iter().any(|e| matches!(e, Event::Intervention { kind, .. } if kind == "repeated_call")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_reaching_for_the_network_is_marked_and_pointed_elsewhere() {
    let steps = vec![
        completion(&py("import urllib.request\nurllib.request.urlopen('http://example.com')"), "stop"),
        completion("\\boxed{x}", "stop"),
        completion("\\boxed{x}", "stop"),
    ];
    let (out, server) = run(steps, |_| {}).await;
    assert!(last_content(&server.requests.lock().unwrap()[1].body).contains("scrape_and_extract_info"));
    assert!(out.events.iter().any(|e| matches!(e, Event::Note { kind, .. } if kind == "network_attempt")));
}

// ---- failure-experience retries -------------------------------------------------

type Bodies = std::sync::Arc<std::sync::Mutex<Vec<Value>>>;

/// A model that cannot answer until it has read two post-mortems; with
/// every request body it got (a responder records counts only).
async fn learns_from_failures() -> (Scripted, Bodies) {
    let bodies = Bodies::default();
    let seen = bodies.clone();
    let server = Scripted::responder(move |body| {
        seen.lock().unwrap().push(body.clone());
        let msgs = body["messages"].as_array().unwrap();
        let first = msgs[1]["content"].as_str().unwrap_or("");
        let last = msgs.last().unwrap()["content"].as_str().unwrap_or("");
        if last.contains("post-mortem") {
            let n = first.matches("\nAttempt ").count() + 1;
            return completion(
                &format!(
                    "Failure type: incomplete\nWhat happened: attempt {n} ran out of ideas\nUseful findings: none"
                ),
                "stop",
            );
        }
        if last.contains("FINAL ANSWER") {
            return completion(
                if first.contains("Attempt 2:") { "\\boxed{42}" } else { "I could not finish." },
                "stop",
            );
        }
        completion("Thinking.", "stop")
    })
    .await;
    (server, bodies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attempt_is_followed_by_a_post_mortem_and_a_fresh_start() {
    let (server, bodies) = learns_from_failures().await;
    let llm = server.client(|_| {});
    let policy = common::policy(|p| p.agent.max_attempts = 3);
    let config = AgentConfig::from_policy(&policy);
    let session = Session::new(common::runtime().await, SessionOptions::new(policy)).unwrap();
    let agent = Agent { llm: &llm, session: &session, config, on_event: None };
    let out = agent.run("task-retry", "What is the answer?", "2026-12-01").await;
    assert_eq!(out.answer, "42");
    let attempts: Vec<u64> = out
        .events
        .iter()
        .filter_map(|e| if let Event::Attempt { attempt, .. } = e { Some(*attempt) } else { None })
        .collect();
    assert_eq!(attempts, [2, 3]);
    let reqs = bodies.lock().unwrap();
    // The third attempt starts from the task and both post-mortems, nothing else.
    let third = reqs.iter().find(|b| contents(b)[1].contains("Attempt 2:")).unwrap();
    let sent = contents(third);
    assert_eq!(sent.len(), 2, "a fresh conversation");
    assert!(sent[1].starts_with("What is the answer?"));
    assert!(
        sent[1].contains("=== Previous Attempts Analysis ===")
            && sent[1].contains("attempt 1 ran out")
            && sent[1].contains("attempt 2 ran out"),
        "{}",
        sent[1]
    );
    // Usage is summed over every request of every attempt.
    assert_eq!(out.usage.prompt_tokens, 11 * reqs.len() as u64);
    assert_eq!(out.turns, 6, "two turns in each of three attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_carrying_failures_a_fresh_start_is_clean() {
    let (server, bodies) = learns_from_failures().await;
    let llm = server.client(|_| {});
    let policy = common::policy(|p| {
        p.agent.max_attempts = 3;
        p.agent.carry_failure_summary = false;
    });
    let config = AgentConfig::from_policy(&policy);
    let session = Session::new(common::runtime().await, SessionOptions::new(policy)).unwrap();
    let agent = Agent { llm: &llm, session: &session, config, on_event: None };
    let out = agent.run("task-retry", "What is the answer?", "2026-12-01").await;
    // Never told what failed, it never learns: three attempts, no answer.
    assert!(!out.boxed, "{}", out.answer);
    assert_eq!(out.events.iter().filter(|e| matches!(e, Event::Attempt { .. })).count(), 2);
    let reqs = bodies.lock().unwrap();
    assert!(reqs.len() > 6 && reqs.iter().all(|b| !contents(b)[1].contains("Previous Attempts")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_temperature_zero_a_rollback_is_tried_once() {
    let unknown = call("nowhere", "nothing", "{}");
    let steps = vec![
        completion(&unknown, "stop"),
        completion(&unknown, "stop"),
        completion("\\boxed{b}", "stop"),
        completion("\\boxed{b}", "stop"),
    ];
    let (out, server) = run(steps, |c| c.temperature = 0.0).await;
    assert_eq!(rollbacks(&out).len(), 1, "the same reply is not sampled five times");
    assert!(last_content(&server.requests.lock().unwrap()[2].body).contains("there is no tool server `nowhere`"));
}
