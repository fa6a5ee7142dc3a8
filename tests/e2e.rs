//! End to end with a real model: `scripts/local-model.sh` installs (once,
//! cached) and starts Qwen2.5-Coder-0.5B-Instruct under llama.cpp on
//! loopback, and `fathom run` must answer arithmetic a 0.5B model cannot
//! do in its head by really calling the Python tool. A protocol check: the
//! prompt, parsing, the sandbox, the tool result and the answer extraction
//! all have to work with a model that was never tuned for Fathom.
//!
//! Asserted for each question: the trajectory holds a real
//! `run_python_code` call, its real result (the exact product, computed in
//! the sandbox), and a final `\boxed{}` answer equal to that result. At
//! temperature 0 the model reads a tool's raw text back reliably; a note
//! appended to the result (as an earlier version did for an implied
//! sandbox) was enough to make it repeat the call instead. The note
//! `agent.tool_hint` appends (asking for the `\boxed{}` answer) is the
//! exception: it is what makes the plain questions end in an answer.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

struct Model {
    script: PathBuf,
    port: u16,
    base_url: String,
}

impl Model {
    fn start() -> Model {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/local-model.sh");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let out = Command::new("bash").arg(&script).arg(port.to_string()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "scripts/local-model.sh failed:\n{stderr}");
        Model { script, port, base_url: String::from_utf8_lossy(&out.stdout).trim().to_owned() }
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(&self.script).arg("stop").arg(self.port.to_string()).status();
    }
}

#[test]
fn a_real_small_model_answers_with_the_python_tool() {
    let model = Model::start();
    let dir = tempfile::tempdir().unwrap();
    // The preset `fathom run --local-model` uses: greedy decoding, a short
    // leash, and the context llama.cpp is started with.
    let policy = std::path::PathBuf::from("local-model");
    // Plain questions, as a user asks them, under MiroThinker 1.7's rules
    // with the steering for general-purpose models (`agent.tool_hint`,
    // `check_unverified_answers`): the ones of tests/data/computational.jsonl
    // this model answers right at temperature 0, run after run.
    let general = dir.path().join("small-model-1.7.toml");
    std::fs::write(
        &general,
        "name = \"small-model-1.7\"\nextends = \"mirothinker-1.7\"\n[agent]\nmax_turns = 6\ntemperature = 0.0\n\
         max_output_tokens = 512\ncontext_window_tokens = 8192\ntask_timeout_secs = 600\ntool_hint = true\n\
         check_unverified_answers = true\n[tools]\nenabled = [\"tool-python.*\"]\n",
    )
    .unwrap();
    let questions = [
        (
            "Use the run_python_code tool of the tool-python server to compute 123456789 * 987654321 and print the result.",
            "121932631112635269",
            &policy,
        ),
        (
            "Use the run_python_code tool of the tool-python server to compute 2 ** 100 - 12345 and print the result.",
            "1267650600228229401496703193031",
            &policy,
        ),
        ("What is 123456789 * 987654321?", "121932631112635269", &general),
        ("What is 7**222 mod 1000?", "49", &general),
    ];
    // The second question goes through a real daemon (`fathom run` finds
    // its socket), the first in-process.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let daemon_state = dir.path().join("daemon");
    std::fs::create_dir_all(&daemon_state).unwrap();
    let daemon = rt.block_on(common::daemon::Daemon::start(
        &daemon_state,
        &[("FATHOM_LLM_BASE_URL", model.base_url.as_str()), ("FATHOM_LLM_MODEL", "qwen0.5b")],
        &[],
    ));
    for (i, (question, expected, policy)) in questions.iter().enumerate() {
        let trace_path = dir.path().join(format!("trace-{i}.json"));
        let socket = if i == 1 { daemon.socket.clone() } else { dir.path().join("no-daemon.sock") };
        let out = Command::new(env!("CARGO_BIN_EXE_fathom"))
            .env("FATHOM_SERVER_SOCKET", &socket)
            .args(["run", "--json", "--policy", policy.to_str().unwrap(), "--trace", trace_path.to_str().unwrap()])
            .arg(question)
            .env("FATHOM_STATE_DIR", dir.path().join("state"))
            .env("FATHOM_CACHE_DIR", common::shared_cache())
            .env("FATHOM_LLM_BASE_URL", &model.base_url)
            .env("FATHOM_LLM_MODEL", "qwen0.5b")
            .env_remove("FATHOM_TOOLS_DIR")
            .env_remove("FATHOM_TOOL_FORMAT")
            .output()
            .unwrap();
        let progress = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "fathom run failed:\n{progress}");
        assert_eq!(progress.contains("(daemon on"), i == 1, "{progress}");
        let record: Value = serde_json::from_slice(&out.stdout).unwrap();
        let trace: Value = serde_json::from_str(&std::fs::read_to_string(&trace_path).unwrap()).unwrap();
        let steps = trace["step_logs"].as_array().unwrap();
        let called = steps.iter().any(|s| s["step_name"] == "tool_call" && s["metadata"]["tool"] == "run_python_code");
        let computed = steps.iter().any(|s| {
            s["step_name"] == "tool_result"
                && s["metadata"]["ok"] == true
                && s["metadata"]["output"].as_str().is_some_and(|o| o.contains(expected))
        });
        assert!(called, "no run_python_code call in the trajectory:\n{progress}");
        assert!(computed, "no tool result holding {expected}:\n{progress}");
        assert_eq!(record["status"], "succeeded", "{progress}");
        assert_eq!(record["answer"], *expected, "the final answer is the tool's result:\n{progress}");
        assert_eq!(trace["final_boxed_answer"], *expected);
        // Only a `\boxed{}` in a reply gives an answer (else the protocol's "No \boxed{} content found").
        assert_eq!(record["answer"], trace["final_boxed_answer"]);
        assert!(record["usage"]["prompt_tokens"].as_u64().unwrap() > 1000, "usage as the server reported it");
        println!("{question}\n  answer: {expected} (turns {}, tool calls {})", record["turns"], record["tool_calls"]);
    }
}
