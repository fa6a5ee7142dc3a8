//! `fathom eval` and `fathom export` as a user runs them: the real binary,
//! a real daemon (or the embedded one), a scripted model whose answers are
//! known right or wrong, and a scripted judge.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::daemon::{Daemon, FATHOM};
use common::scripted::{Scripted, Step, completion};
use serde_json::{Value, json};

/// The benchmark: five tasks, tagged so the model knows which it is asked.
const TASKS: &str = r#"{"task_id": "t1", "task_question": "[t1] What is 6*7? The numbers are attached.", "ground_truth": "42", "file_name": "numbers.csv"}
{"task_id": "t2", "task_question": "[t2] What is the capital of France?", "ground_truth": "Paris", "metadata": {"level": 1}}

{"task_id": "t3", "task_question": "[t3] What is 2+2?", "ground_truth": 4}
{"task_id": "t4", "task_question": "[t4] Which primes are below 6?", "ground_truth": ["2", "3", "5"]}
{"task_id": "t5", "task_question": "[t5] How many days has a leap year?", "ground_truth": "366", "file_name": null}
"#;

/// Per tag: (first-turn requests so far, i.e. runs started; the current run).
type Counts = Arc<Mutex<HashMap<String, u32>>>;

/// The model: t1 and t2 always right (t2 as "Paris, France", which only the
/// judge accepts), t3 always wrong, t4 right in its first run only, t5
/// right in its first two runs and without a `\boxed{}` in the third.
/// `slow` delays the first turn of the n-th run of a tag.
async fn model(counts: Counts, slow: Option<(&'static str, u32)>) -> Scripted {
    Scripted::responder(move |body| {
        let msgs = body["messages"].as_array().cloned().unwrap_or_default();
        let question = msgs.get(1).and_then(|m| m["content"].as_str()).unwrap_or("").to_owned();
        let tag = question.split(']').next().unwrap_or("").trim_start_matches('[').to_owned();
        let mut c = counts.lock().unwrap();
        let first_turn = msgs.len() == 2;
        if first_turn {
            *c.entry(tag.clone()).or_default() += 1;
        }
        let run = c.get(&tag).copied().unwrap_or(1);
        let answer = match (tag.as_str(), run) {
            ("t1", _) => "\\boxed{42}",
            ("t2", _) => "\\boxed{Paris, France}",
            ("t3", _) => "\\boxed{5}",
            ("t4", 1) => "\\boxed{5, 3, 2}",
            ("t4", _) => "\\boxed{2, 3}",
            ("t5", 1 | 2) => "\\boxed{366}",
            _ => "I am not sure.",
        };
        let step = completion(&format!("The answer: {answer}"), "stop");
        match (slow, step) {
            (Some((t, n)), Step::Reply { status, body, .. }) if first_turn && t == tag && n == run => {
                Step::Reply { status, body, delay: Duration::from_secs(4) }
            }
            (_, step) => step,
        }
    })
    .await
}

/// The judge: "Paris, France" is Paris; everything else it is shown is
/// wrong. Asked about "2, 3", it first forgets the verdict line.
async fn judge() -> Scripted {
    Scripted::responder(|body| {
        let prompt = body["messages"][0]["content"].as_str().unwrap_or("");
        assert!(prompt.contains("[correct_answer]:"), "the judge got its fixed prompt: {prompt}");
        if prompt.contains("[response]: 2, 3\n") && body["messages"].as_array().unwrap().len() == 1 {
            completion("It misses the 5.", "stop")
        } else if prompt.contains("[response]: Paris, France") {
            completion("Reason: the same city, with its country.\nVerdict: Correct", "stop")
        } else {
            completion("Reason: a different answer.\nVerdict: Incorrect", "stop")
        }
    })
    .await
}

fn benchmark(dir: &Path) -> std::path::PathBuf {
    std::fs::write(dir.join("tasks.jsonl"), TASKS).unwrap();
    std::fs::write(dir.join("numbers.csv"), "a,b\n6,7\n").unwrap();
    dir.join("tasks.jsonl")
}

fn fathom(env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut cmd = Command::new(FATHOM);
    cmd.args(args)
        .env("FATHOM_CACHE_DIR", common::shared_cache())
        .env_remove("FATHOM_LLM_BASE_URL")
        .env_remove("FATHOM_JUDGE_LLM_BASE_URL")
        .env_remove("FATHOM_TOOL_FORMAT")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn run(env: &[(&str, &str)], args: &[&str]) -> Output {
    fathom(env, args).output().unwrap()
}

fn rows(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("runs.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_through_the_daemon_judges_summarises_and_resumes_after_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let counts = Counts::default();
    // The second run of t3 is slow: the evaluation is killed while the
    // daemon works on it.
    let model = model(counts.clone(), Some(("t3", 2))).await;
    let judge = judge().await;
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let d = Daemon::start(&state, &[("FATHOM_LLM_BASE_URL", &model.url), ("FATHOM_LLM_MODEL", "scripted")], &[]).await;
    let tasks = benchmark(dir.path());
    let out = dir.path().join("out");
    let socket = d.socket.display().to_string();
    let env = [("FATHOM_SERVER_SOCKET", socket.as_str()), ("XDG_CONFIG_HOME", "/nonexistent")];
    let args = [
        "eval",
        tasks.to_str().unwrap(),
        "--runs",
        "3",
        "--concurrency",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--judge-base-url",
        &judge.url,
        "--judge-model",
        "judge",
        "--json",
    ];

    // First invocation: killed once run 1 and two tasks of run 2 are done.
    let mut child = fathom(&env, &args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    while rows(&out).len() < 7 {
        assert!(started.elapsed() < Duration::from_secs(60), "seven runs did not finish: {:?}", rows(&out));
        assert!(child.try_wait().unwrap().is_none(), "the evaluation ended early");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(rows(&out).len(), 7, "t3's second run was in flight when the evaluation was killed");

    // Second invocation: picks up t3's run 2 where the daemon has it.
    let o = run(&env, &args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("7 of 15 runs already done"), "{stderr}");
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();

    // Nothing ran twice: three first turns per task, 15 daemon tasks.
    let c = counts.lock().unwrap().clone();
    assert_eq!(c, ["t1", "t2", "t3", "t4", "t5"].iter().map(|t| (t.to_string(), 3)).collect());
    let listed = d.get("/v1/tasks").await.body;
    assert_eq!(listed["tasks"].as_array().unwrap().len(), 15, "{listed}");
    let all = rows(&out);
    assert_eq!(all.len(), 15);
    let mut keys: Vec<(String, u64)> =
        all.iter().map(|r| (r["task_id"].as_str().unwrap().to_owned(), r["run"].as_u64().unwrap())).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 15);

    // Exact match, the judge, and no answer to judge.
    let method = |t: &str, r: u64| {
        let row = all.iter().find(|x| x["task_id"] == t && x["run"] == r).unwrap();
        (row["judgement"]["correct"].as_bool().unwrap(), row["judgement"]["method"].as_str().unwrap().to_owned())
    };
    assert_eq!(method("t1", 2), (true, "exact".into()));
    assert_eq!(method("t2", 1), (true, "judge".into()));
    assert_eq!(method("t3", 1), (false, "judge".into()));
    assert_eq!(method("t4", 1), (true, "exact".into()), "a list in another order matches");
    assert_eq!(method("t4", 2), (false, "judge".into()));
    assert_eq!(method("t5", 3), (false, "none".into()));
    // The judge saw t2 ×3, t3 ×3, t4 ×2 (each of those asked twice, for a
    // reply without a verdict): none judged again across the kill.
    assert_eq!(judge.count(), 10);

    // The figures, by hand: correct per task t1..t5 = 3, 3, 0, 1, 2 of 3.
    assert_eq!(s["tasks"], 5);
    assert_eq!(s["runs_done"], 15);
    let per_run: Vec<f64> = s["accuracy_per_run"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(per_run, vec![0.8, 0.6, 0.4]);
    assert!(close(&s["accuracy_mean"], 0.6), "{s}");
    assert!(close(&s["accuracy_std"], (0.08f64 / 3.0).sqrt()), "{s}");
    assert!(close(&s["pass_at_k"]["pass@1"], 0.6), "{s}");
    assert!(close(&s["pass_at_k"]["pass@2"], 11.0 / 15.0), "{s}");
    assert!(close(&s["pass_at_k"]["pass@3"], 0.8), "{s}");
    assert_eq!(s["failures"], json!({"no_boxed_answer": 1, "wrong_answer": 5}));
    assert_eq!(s["judged_by"], json!({"exact": 6, "judge": 8, "none": 1}));
    assert!(s["avg_turns"].as_f64().unwrap() >= 1.0);
    assert_eq!(s["avg_prompt_tokens"].as_f64().unwrap() > 0.0, true);
    let on_disk: Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(on_disk, s);

    // Each run's trace is MiroThinker's task log with the judgement.
    let row = all.iter().find(|x| x["task_id"] == "t2" && x["run"] == 1).unwrap();
    let trace: Value =
        serde_json::from_slice(&std::fs::read(out.join(row["trace"].as_str().unwrap())).unwrap()).unwrap();
    assert_eq!(trace["task_id"], "t2");
    assert_eq!(trace["ground_truth"], "Paris");
    assert_eq!(trace["final_boxed_answer"], "Paris, France");
    assert_eq!(trace["final_judge_result"], "CORRECT");
    assert_eq!(trace["judge_type"], "judge");
    assert!(trace["main_agent_message_history"]["message_history"].as_array().unwrap().len() >= 2);
    let t1 = all.iter().find(|x| x["task_id"] == "t1").unwrap();
    let t1_trace = std::fs::read_to_string(out.join(t1["trace"].as_str().unwrap())).unwrap();
    assert!(t1_trace.contains("numbers.csv"), "the attachment went with the task");

    // A third invocation has nothing left to do, and a different policy
    // may not continue these results.
    let before = model.count();
    let o = run(&env, &args);
    assert!(o.status.success());
    assert_eq!(model.count(), before, "a finished evaluation runs nothing");
    let mut other = args.to_vec();
    other.extend(["--policy", "mirothinker-1.0"]);
    let o = run(&env, &other);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds an evaluation under policy"), "{o:?}");

    // Training data from these results: SFT of the correct runs, DPO pairs.
    let sft = dir.path().join("sft.jsonl");
    let o = run(&[], &["export", "sft", "--from", out.to_str().unwrap(), "--out", sft.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<Value> =
        std::fs::read_to_string(&sft).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 9, "every correct run is clean");
    assert_eq!(lines[0]["messages"][0]["role"], "system");
    assert_eq!(lines[0]["messages"][1]["role"], "user");
    let o = run(&[], &["export", "dpo", "--from", out.to_str().unwrap()]);
    assert!(o.status.success());
    let pairs: Vec<Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // t4: 1 correct × 2 wrong → 1 pair; t5: 2 correct, its wrong run has no
    // box (a trivial failure) → none; t1, t2 have no wrong run; t3 no right one.
    assert_eq!(pairs.len(), 1, "{pairs:?}");
    assert_eq!(pairs[0]["task_id"], "t4");
    assert_eq!(pairs[0]["prompt"].as_array().unwrap().len(), 2);
    let report = String::from_utf8_lossy(&o.stderr);
    assert!(report.contains("no_boxed_answer dropped 1"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_without_a_daemon_runs_in_process_concurrently_and_resumes_its_interrupted_task() {
    let dir = tempfile::tempdir().unwrap();
    let counts = Counts::default();
    let model = model(counts.clone(), Some(("t2", 1))).await;
    let tasks = benchmark(dir.path());
    let out = dir.path().join("out");
    let state = dir.path().join("state").display().to_string();
    let socket = dir.path().join("no-daemon.sock").display().to_string();
    let env = [
        ("FATHOM_SERVER_SOCKET", socket.as_str()),
        ("FATHOM_STATE_DIR", state.as_str()),
        ("FATHOM_LLM_BASE_URL", model.url.as_str()),
        ("XDG_CONFIG_HOME", "/nonexistent"),
    ];
    let args = ["eval", tasks.to_str().unwrap(), "--runs", "1", "--concurrency", "5", "--out", out.to_str().unwrap()];

    // Killed while t2 (slow) runs in the embedded daemon: its task is left
    // `running` in the database, so the next start finds it interrupted.
    let mut child = fathom(&env, &args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    while rows(&out).len() < 4 {
        assert!(started.elapsed() < Duration::from_secs(120), "four runs did not finish");
        assert!(child.try_wait().unwrap().is_none(), "the evaluation ended early");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(counts.lock().unwrap()["t2"], 1);

    let o = run(&env, &args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("no daemon is running; evaluating with one in this process"), "{stderr}");
    assert!(!Path::new(&socket).exists(), "the embedded daemon listens on a private socket");
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("pass@1"), "{table}");
    let all = rows(&out);
    assert_eq!(all.len(), 5);
    // The interrupted task was resumed (its first turn redone, as a resume
    // does), not submitted again: five tasks in the database.
    let t2 = all.iter().find(|r| r["task_id"] == "t2").unwrap();
    assert_eq!(t2["status"], "succeeded");
    let db = rusqlite::Connection::open(Path::new(&state).join("tasks.db")).unwrap();
    let n: i64 = db.query_row("select count(*) from tasks", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 5);
    // A new submission would have started with a first turn of its own; a
    // resume continues the conversation (telling the model its sandboxes
    // are fresh).
    assert_eq!(counts.lock().unwrap()["t2"], 1, "t2 was resumed, not submitted again");
    // Without a judge, "Paris, France" is only not an exact match.
    assert_eq!(t2["judgement"]["method"], "none");
    assert_eq!(t2["judgement"]["correct"], false);
    assert_eq!(t2["cause"], "wrong_answer");
}

#[test]
fn bad_benchmark_files_get_the_line_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        (
            "{\"task_id\": \"a\", \"task_question\": \"q\", \"ground_truth\": \"1\"}\nnot json\n",
            "line 2: not a JSON object",
        ),
        ("{\"task_question\": \"q\", \"ground_truth\": \"1\"}\n", "line 1: task_id is missing"),
        ("{\"task_id\": \"a\", \"ground_truth\": \"1\"}\n", "line 1: task_question is missing"),
        ("{\"task_id\": \"a\", \"task_question\": \"q\"}\n", "line 1: ground_truth is missing"),
        (
            "{\"task_id\": \"a\", \"task_question\": \"q\", \"ground_truth\": \"1\"}\n{\"task_id\": \"a\", \"task_question\": \"q\", \"ground_truth\": \"1\"}\n",
            "line 2: task_id \"a\" appears twice",
        ),
        (
            "{\"task_id\": \"a\", \"task_question\": \"q\", \"ground_truth\": \"1\", \"file_name\": \"gone.pdf\"}\n",
            "line 1: file_name \"gone.pdf\": no such file",
        ),
        ("\n\n", "no tasks in the file"),
    ];
    for (text, want) in cases {
        let f = dir.path().join("bad.jsonl");
        std::fs::write(&f, text).unwrap();
        let o = run(&[], &["eval", f.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(want), "want {want:?} in {stderr}");
    }
    let o = run(&[], &["eval", "/nonexistent.jsonl", "--runs", "0"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&[], &["export", "sft", "--from", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no finished runs"));
}

/// A judged run with a crafted trajectory: `steps` are the loop's events.
fn crafted(
    out: &Path,
    task: &str,
    run: u32,
    correct: bool,
    status: &str,
    boxed: bool,
    cause: Option<&str>,
    steps: Vec<Value>,
) -> String {
    let trace = format!("traces/{task}_run{run}.json");
    let step_logs: Vec<Value> = steps.into_iter().map(|m| json!({"step_name": m["type"], "metadata": m})).collect();
    let t = json!({
        "task_id": task,
        "main_agent_message_history": {"system_prompt": "SYSTEM", "message_history": [
            {"role": "user", "content": format!("question {task}")},
            {"role": "assistant", "content": format!("run {run} says \\boxed{{{}}}", if correct { "right" } else { "wrong" })},
        ]},
        "step_logs": step_logs,
    });
    std::fs::write(out.join(&trace), t.to_string()).unwrap();
    json!({
        "task_id": task, "run": run, "daemon_task": format!("task-{task}{run}"), "status": status,
        "answer": "x", "boxed": boxed, "ground_truth": "right",
        "judgement": {"correct": correct, "method": "exact", "reason": ""}, "cause": cause,
        "turns": 1, "tool_calls": 0, "usage": {"prompt_tokens": 1, "completion_tokens": 1}, "wall_secs": 0.1,
        "error": null, "trace": trace,
    })
    .to_string()
}

#[test]
fn export_applies_each_filter_to_a_crafted_trajectory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    std::fs::create_dir_all(out.join("traces")).unwrap();
    let bad = json!({"type": "tool_result", "ok": false});
    let rollback = json!({"type": "rollback", "reason": "a refusal"});
    let iv = |k: &str| json!({"type": "intervention", "kind": k});
    let ok = Some("wrong_answer");
    let lines = [
        // Correct: one clean, one per success filter.
        crafted(out, "a", 1, true, "succeeded", true, None, vec![]),
        crafted(out, "a", 2, true, "succeeded", true, None, vec![bad.clone(), bad.clone(), bad.clone()]),
        crafted(out, "a", 3, true, "succeeded", true, None, vec![iv("repeated_call"), iv("duplicate_query")]),
        crafted(out, "b", 1, true, "succeeded", true, None, vec![iv("action_loop")]),
        crafted(out, "b", 2, true, "succeeded", true, None, vec![rollback.clone(); 5]),
        // Incorrect: one clean, one stopped by a limit (kept), one per
        // failure filter.
        crafted(out, "a", 4, false, "succeeded", true, ok, vec![]),
        crafted(out, "b", 3, false, "failed", false, Some("limit:agent.task_timeout_secs"), vec![]),
        crafted(
            out,
            "a",
            5,
            false,
            "succeeded",
            true,
            ok,
            vec![json!({"type": "rollback", "reason": "tool-call tags that do not parse"})],
        ),
        crafted(out, "a", 6, false, "succeeded", false, Some("no_boxed_answer"), vec![]),
        crafted(out, "a", 7, false, "succeeded", true, ok, vec![iv("action_loop")]),
        crafted(out, "a", 8, false, "failed", false, Some("model_error"), vec![]),
    ];
    std::fs::write(out.join("runs.jsonl"), lines.join("\n") + "\n").unwrap();

    let sft = out.join("sft.jsonl");
    let o = run(&[], &["export", "sft", "--from", out.to_str().unwrap(), "--out", sft.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let kept = std::fs::read_to_string(&sft).unwrap();
    assert_eq!(kept.lines().count(), 1);
    assert!(kept.contains("run 1 says"));
    let report: Value = serde_json::from_slice(&std::fs::read(out.join("sft.jsonl.report.json")).unwrap()).unwrap();
    assert_eq!(report["correct"]["candidates"], 5);
    assert_eq!(
        report["correct"]["dropped_by"],
        json!({"tool_error_run": 1, "redundant_actions": 1, "action_loop": 1, "excessive_rollbacks": 1})
    );

    // Thresholds are the user's: allow three errors in a row and loops.
    let o =
        run(&[], &["export", "sft", "--from", out.to_str().unwrap(), "--max-tool-error-run", "4", "--max-loops", "2"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 3);

    let dpo = out.join("dpo.jsonl");
    let o = run(&[], &["export", "dpo", "--from", out.to_str().unwrap(), "--out", dpo.to_str().unwrap()]);
    assert!(o.status.success());
    let report: Value = serde_json::from_slice(&std::fs::read(out.join("dpo.jsonl.report.json")).unwrap()).unwrap();
    assert_eq!(report["incorrect"]["candidates"], 6);
    assert_eq!(report["incorrect"]["kept"], 2);
    assert_eq!(
        report["incorrect"]["dropped_by"],
        json!({"format_violation": 1, "no_boxed_answer": 1, "action_loop": 1, "run_error": 1})
    );
    // Task a: clean correct run 1 with clean wrong run 4; task b has no
    // clean correct run, so its limit-stopped failure pairs with nothing.
    let pairs: Vec<Value> =
        std::fs::read_to_string(&dpo).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0]["runs"], json!([1, 4]));
    assert_eq!(
        pairs[0]["prompt"],
        json!([{"role": "system", "content": "SYSTEM"}, {"role": "user", "content": "question a"}])
    );
    assert!(pairs[0]["chosen"][0]["content"].as_str().unwrap().contains("right"));
    assert!(pairs[0]["rejected"][0]["content"].as_str().unwrap().contains("wrong"));
}
