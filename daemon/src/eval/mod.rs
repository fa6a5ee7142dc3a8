//! `fathom eval`: a benchmark file (MiroThinker's JSONL fields) run N times
//! through the daemon with bounded concurrency, each answer judged, the
//! results kept so that a second invocation with the same `--out` carries
//! on where the first stopped, and `fathom export` reads them.
//!
//! The folder `--out` holds:
//! - `submitted.jsonl`: `{task_id, run, daemon_task}` written (and synced)
//!   as each run is acknowledged by the daemon, so a run whose daemon task
//!   is still going, or was interrupted, is waited for or resumed, never
//!   submitted twice;
//! - `runs.jsonl`: one [`RunRow`] per finished run;
//! - `traces/<task>_run<N>.json`: its trajectory with the ground truth and
//!   the judgement filled in;
//! - `summary.json`: the [`summary::Summary`].

pub mod export;
pub mod judge;
pub mod summary;

use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::{Client, ClientError};
use crate::llm::Usage;
use judge::{Judgement, LlmJudge};
use summary::Summary;

/// One line of the benchmark file.
#[derive(Debug, Clone)]
pub struct EvalTask {
    pub id: String,
    pub question: String,
    pub ground_truth: String,
    /// The attachment, resolved against the data folder.
    pub file: Option<PathBuf>,
}

/// One finished run of one task, as `runs.jsonl` holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRow {
    pub task_id: String,
    pub run: u32,
    /// The daemon's id of the task that made this run.
    pub daemon_task: String,
    /// The task's final status (`succeeded`, `failed`, ...).
    pub status: String,
    pub answer: Option<String>,
    /// Whether the answer came from a `\boxed{}`.
    pub boxed: bool,
    pub ground_truth: String,
    pub judgement: Judgement,
    /// Why a run judged incorrect failed: `wrong_answer`,
    /// `no_boxed_answer`, `limit:<policy key>`, `model_error`, `cancelled`,
    /// `interrupted`, `judge_error`. `None` when correct.
    pub cause: Option<String>,
    pub turns: u64,
    pub tool_calls: u64,
    pub usage: Usage,
    /// From the task's start to its end (time queued excluded).
    pub wall_secs: f64,
    pub error: Option<String>,
    /// The trajectory file, relative to the output folder.
    pub trace: String,
}

/// What `fathom eval` was asked to do.
pub struct EvalOptions {
    pub tasks: Vec<EvalTask>,
    pub runs: u32,
    pub concurrency: usize,
    /// A preset's name or an inline policy object, as `POST /v1/tasks` takes it.
    pub policy: Value,
    pub out: PathBuf,
    pub judge: Option<LlmJudge>,
}

/// Read a benchmark file: one JSON object per line with `task_id`,
/// `task_question`, `ground_truth` and optionally `file_name` (relative
/// to `data_dir`); other fields are ignored, blank lines skipped.
pub fn load_tasks(path: &Path, data_dir: &Path) -> Result<Vec<EvalTask>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut tasks = Vec::new();
    let mut seen = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{} line {}", path.display(), i + 1);
        let v: Value = serde_json::from_str(line).map_err(|e| format!("{at}: not a JSON object: {e}"))?;
        let field = |name: &str| -> Result<Option<String>, String> {
            match v.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(n @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(n.to_string())),
                Some(Value::Array(items)) => Ok(Some(
                    items
                        .iter()
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join(", "),
                )),
                Some(other) => Err(format!("{at}: {name} must be a string, not {other}")),
            }
        };
        if !v.is_object() {
            return Err(format!("{at}: not a JSON object"));
        }
        let id = field("task_id")?.filter(|s| !s.trim().is_empty()).ok_or(format!("{at}: task_id is missing"))?;
        if !seen.insert(id.clone()) {
            return Err(format!("{at}: task_id {id:?} appears twice"));
        }
        let question = field("task_question")?
            .filter(|s| !s.trim().is_empty())
            .ok_or(format!("{at}: task_question is missing"))?;
        let ground_truth = field("ground_truth")?.ok_or(format!("{at}: ground_truth is missing"))?;
        let file = match field("file_name")?.filter(|s| !s.trim().is_empty()) {
            None => None,
            Some(name) => {
                let p = data_dir.join(&name);
                if !p.is_file() {
                    return Err(format!(
                        "{at}: file_name {name:?}: no such file in {} (set the data folder with --data-dir)",
                        data_dir.display()
                    ));
                }
                Some(p)
            }
        };
        tasks.push(EvalTask { id, question, ground_truth, file });
    }
    if tasks.is_empty() {
        return Err(format!("{}: no tasks in the file", path.display()));
    }
    Ok(tasks)
}

/// The finished runs in `out/runs.jsonl`, the last row of a run winning.
pub fn load_rows(out: &Path) -> Result<Vec<RunRow>, String> {
    let path = out.join("runs.jsonl");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut rows: Vec<RunRow> = Vec::new();
    let mut index = HashMap::new();
    let last = text.lines().count();
    for (i, line) in text.lines().enumerate() {
        // A line cut by a kill mid-write is the run not finished yet.
        let Ok(row) = serde_json::from_str::<RunRow>(line) else {
            if i + 1 == last {
                continue;
            }
            return Err(format!("{} line {}: not a run record", path.display(), i + 1));
        };
        match index.get(&(row.task_id.clone(), row.run)) {
            Some(&at) => rows[at] = row,
            None => {
                index.insert((row.task_id.clone(), row.run), rows.len());
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

/// An evaluation in progress: the daemon, the output folder's files.
struct Eval<'a> {
    client: &'a Client,
    opts: &'a EvalOptions,
    /// Daemon task ids of runs submitted by an earlier invocation.
    submitted: HashMap<(String, u32), String>,
    submitted_log: Mutex<std::fs::File>,
    rows_log: Mutex<std::fs::File>,
}

/// Run the evaluation to its summary (see the module's doc for the files).
pub async fn run(client: &Client, opts: &EvalOptions) -> Result<Summary, String> {
    let out = &opts.out;
    std::fs::create_dir_all(out.join("traces")).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    check_same_policy(out, &opts.policy)?;
    let mut rows = load_rows(out)?;
    let eval = Eval {
        client,
        opts,
        submitted: load_submitted(out)?,
        submitted_log: Mutex::new(append(&out.join("submitted.jsonl"))?),
        rows_log: Mutex::new(append(&out.join("runs.jsonl"))?),
    };
    eval.rejudge(&mut rows).await?;
    let wanted: HashMap<&str, &EvalTask> = opts.tasks.iter().map(|t| (t.id.as_str(), t)).collect();
    rows.retain(|r| wanted.contains_key(r.task_id.as_str()) && r.run <= opts.runs);
    let done: HashSet<(String, u32)> = rows.iter().map(|r| (r.task_id.clone(), r.run)).collect();
    // Run-major order: an interrupted evaluation has whole runs first.
    let pending: Vec<(&EvalTask, u32)> = (1..=opts.runs)
        .flat_map(|r| opts.tasks.iter().map(move |t| (t, r)))
        .filter(|(t, r)| !done.contains(&(t.id.clone(), *r)))
        .collect();
    let total = opts.tasks.len() as u64 * u64::from(opts.runs);
    let progress = Progress::new(total, &rows);
    let mut results =
        futures_util::stream::iter(pending).map(|(t, r)| eval.one_run(t, r)).buffer_unordered(opts.concurrency.max(1));
    while let Some(row) = results.next().await {
        let row = row?;
        eval.record(&row)?;
        progress.finished(&row);
        rows.push(row);
    }
    drop(results);
    progress.done();
    let summary = summary::summarise(&rows, opts.tasks.len(), opts.runs);
    write_atomically(&out.join("summary.json"), &serde_json::to_vec_pretty(&summary).unwrap())?;
    Ok(summary)
}

impl Eval<'_> {
    /// Submit (or pick up) one run, wait for it, judge it, keep its trace.
    async fn one_run(&self, task: &EvalTask, run: u32) -> Result<RunRow, String> {
        let id = match self.submitted.get(&(task.id.clone(), run)) {
            Some(id) => match self.client.get(&format!("/v1/tasks/{id}")).await {
                Ok(rec) if rec["status"] != "cancelled" => id.clone(),
                Ok(_) => self.submit(task, run).await?,
                Err(e) if e.status == Some(404) => self.submit(task, run).await?,
                Err(e) => return Err(daemon_failed(e)),
            },
            None => self.submit(task, run).await?,
        };
        let record = self.wait(&id).await?;
        let mut trace = self.client.get(&format!("/v1/tasks/{id}/trace")).await.map_err(daemon_failed)?;
        let status = record["status"].as_str().unwrap_or("failed").to_owned();
        let answer = record["answer"].as_str().map(str::to_owned);
        let boxed = answer.is_some() && trace["final_answer_boxed"].as_bool().unwrap_or(true);
        let judgement = match (&answer, status.as_str()) {
            (Some(a), "succeeded") if boxed => self.judge(task, a).await,
            (Some(_), "succeeded") => Judgement::new(false, "none", "the answer has no \\boxed{}"),
            _ => Judgement::new(
                false,
                "none",
                format!("the task {status}: {}", record["error"].as_str().unwrap_or("no answer")),
            ),
        };
        let limit =
            trace["limits"].as_array().and_then(|l| l.first()).and_then(|l| l["key"].as_str()).map(str::to_owned);
        let cause = cause(&status, boxed, &judgement, limit);
        let file = format!("traces/{}_run{run}.json", safe(&task.id));
        annotate(&mut trace, task, run, &id, &judgement);
        write_atomically(&self.opts.out.join(&file), &serde_json::to_vec_pretty(&trace).unwrap())?;
        Ok(RunRow {
            task_id: task.id.clone(),
            run,
            daemon_task: id,
            status,
            answer,
            boxed,
            ground_truth: task.ground_truth.clone(),
            judgement,
            cause,
            turns: record["turns"].as_u64().unwrap_or(0),
            tool_calls: record["tool_calls"].as_u64().unwrap_or(0),
            usage: serde_json::from_value(record["usage"].clone()).unwrap_or_default(),
            wall_secs: wall_secs(&record),
            error: record["error"].as_str().map(str::to_owned),
            trace: file,
        })
    }

    async fn judge(&self, task: &EvalTask, answer: &str) -> Judgement {
        if judge::exact_match(&task.question, answer, &task.ground_truth) {
            return Judgement::new(true, "exact", "normalised exact match");
        }
        match &self.opts.judge {
            Some(j) => j.judge(&task.question, answer, &task.ground_truth).await,
            None => Judgement::new(false, "none", "no exact match, and no judge configured (--judge-base-url)"),
        }
    }

    /// Runs whose judge failed last time are judged again, now that there
    /// may be a judge that answers; `runs.jsonl` is rewritten with them.
    async fn rejudge(&self, rows: &mut [RunRow]) -> Result<(), String> {
        if self.opts.judge.is_none() || !rows.iter().any(|r| r.judgement.method == "judge_error") {
            return Ok(());
        }
        let tasks: HashMap<&str, &EvalTask> = self.opts.tasks.iter().map(|t| (t.id.as_str(), t)).collect();
        for row in rows.iter_mut().filter(|r| r.judgement.method == "judge_error") {
            let (Some(task), Some(answer)) = (tasks.get(row.task_id.as_str()), row.answer.clone()) else { continue };
            row.judgement = self.judge(task, &answer).await;
            row.cause = cause(
                &row.status,
                row.boxed,
                &row.judgement,
                row.cause.clone().filter(|c| c.starts_with("limit:")).map(|c| c[6..].to_owned()),
            );
            let path = self.opts.out.join(&row.trace);
            if let Some(mut trace) = std::fs::read(&path).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok()) {
                annotate(&mut trace, task, row.run, &row.daemon_task, &row.judgement);
                write_atomically(&path, &serde_json::to_vec_pretty(&trace).unwrap())?;
            }
        }
        let text: String = rows.iter().map(|r| serde_json::to_string(r).unwrap() + "\n").collect();
        write_atomically(&self.opts.out.join("runs.jsonl"), text.as_bytes())
    }

    /// Upload the attachment, create the task, note its id durably.
    async fn submit(&self, task: &EvalTask, run: u32) -> Result<String, String> {
        let mut files = Vec::new();
        if let Some(f) = &task.file {
            files.push(self.client.upload(f).await.map_err(daemon_failed)?);
        }
        let body = json!({"question": task.question, "policy": self.opts.policy, "files": files});
        let mut backoff = Duration::from_millis(250);
        let created = loop {
            match self.client.post("/v1/tasks", &body).await {
                Ok(v) => break v,
                // The daemon's queue is full (other clients' tasks too):
                // wait for room rather than give up the evaluation.
                Err(e) if e.status == Some(429) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(format!("task {}: the daemon refused it: {e}", task.id)),
            }
        };
        let id = created["id"].as_str().ok_or("the daemon's answer has no task id")?.to_owned();
        let line = json!({"task_id": task.id, "run": run, "daemon_task": id}).to_string() + "\n";
        let mut f = self.submitted_log.lock().unwrap();
        f.write_all(line.as_bytes()).and_then(|_| f.sync_data()).map_err(|e| format!("submitted.jsonl: {e}"))?;
        Ok(id)
    }

    /// Wait until the task ends; an interrupted one (the daemon restarted,
    /// or the embedded one was killed with an earlier `fathom eval`) is
    /// resumed from its last checkpoint.
    async fn wait(&self, id: &str) -> Result<Value, String> {
        let mut after = 0;
        let mut resumed = 0;
        loop {
            self.client
                .follow(id, after, true, |e| after = after.max(e["seq"].as_u64().unwrap_or(0)))
                .await
                .map_err(daemon_failed)?;
            let record = self.client.get(&format!("/v1/tasks/{id}")).await.map_err(daemon_failed)?;
            match record["status"].as_str() {
                Some("queued" | "running") => tokio::time::sleep(Duration::from_millis(100)).await,
                Some("interrupted") if resumed < 3 => {
                    resumed += 1;
                    if self.client.post(&format!("/v1/tasks/{id}/resume"), &json!({})).await.is_err() {
                        return Ok(record);
                    }
                }
                _ => return Ok(record),
            }
        }
    }

    fn record(&self, row: &RunRow) -> Result<(), String> {
        let line = serde_json::to_string(row).unwrap() + "\n";
        let mut f = self.rows_log.lock().unwrap();
        f.write_all(line.as_bytes()).and_then(|_| f.sync_data()).map_err(|e| format!("runs.jsonl: {e}"))
    }
}

/// Why a run judged incorrect failed; a limit that was hit comes first,
/// since it is what stopped the work.
fn cause(status: &str, boxed: bool, j: &Judgement, limit: Option<String>) -> Option<String> {
    if j.correct {
        return None;
    }
    Some(match (status, limit) {
        (_, Some(key)) => format!("limit:{key}"),
        ("succeeded", None) if !boxed => "no_boxed_answer".into(),
        ("succeeded", None) if j.method == "judge_error" => "judge_error".into(),
        ("succeeded", None) => "wrong_answer".into(),
        ("failed", None) => "model_error".into(),
        (other, None) => other.into(),
    })
}

/// MiroThinker's task-log fields for a judged run.
fn annotate(trace: &mut Value, task: &EvalTask, run: u32, daemon_task: &str, j: &Judgement) {
    if let Some(t) = trace.as_object_mut() {
        t.insert("task_id".into(), json!(task.id));
        t.insert("ground_truth".into(), json!(task.ground_truth));
        t.insert("final_judge_result".into(), json!(if j.correct { "CORRECT" } else { "INCORRECT" }));
        t.insert("judge_type".into(), json!(j.method));
        t.insert("judge_reason".into(), json!(j.reason));
        t.insert("run".into(), json!(run));
        t.insert("fathom_task_id".into(), json!(daemon_task));
    }
}

fn wall_secs(record: &Value) -> f64 {
    let at = |k: &str| record[k].as_str().and_then(|t| humantime::parse_rfc3339(t).ok());
    match (at("started_at").or(at("created_at")), at("finished_at")) {
        (Some(a), Some(b)) => b.duration_since(a).map_or(0.0, |d| d.as_secs_f64()),
        _ => 0.0,
    }
}

fn daemon_failed(e: ClientError) -> String {
    format!("{e} (rerun the same `fathom eval` command with the same --out to carry on)")
}

/// A task id as a file name: characters other than letters, digits, `-`
/// and `_` become `_`.
fn safe(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

fn append(path: &Path) -> Result<std::fs::File, String> {
    std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn load_submitted(out: &Path) -> Result<HashMap<(String, u32), String>, String> {
    let text = std::fs::read_to_string(out.join("submitted.jsonl")).unwrap_or_default();
    let mut map = HashMap::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
        if let (Some(t), Some(r), Some(id)) = (v["task_id"].as_str(), v["run"].as_u64(), v["daemon_task"].as_str()) {
            map.insert((t.to_owned(), r as u32), id.to_owned());
        }
    }
    Ok(map)
}

/// Results made under one policy are not mixed with another's: the first
/// invocation writes `eval.json`, later ones must match it.
fn check_same_policy(out: &Path, policy: &Value) -> Result<(), String> {
    let path = out.join("eval.json");
    match std::fs::read(&path).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok()) {
        Some(meta) if meta["policy"] != *policy => Err(format!(
            "{} holds an evaluation under policy {}; continue it with that policy, or choose another --out",
            out.display(),
            meta["policy"]
        )),
        Some(_) => Ok(()),
        None => write_atomically(&path, &serde_json::to_vec_pretty(&json!({"policy": policy})).unwrap()),
    }
}

/// Live progress: a bar with done/total, accuracy so far and an ETA on a
/// terminal; one line per finished run either way.
struct Progress {
    bar: indicatif::ProgressBar,
    tty: bool,
    tally: Mutex<(u64, u64)>,
}

impl Progress {
    fn new(total: u64, done: &[RunRow]) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let bar = if tty { indicatif::ProgressBar::new(total) } else { indicatif::ProgressBar::hidden() };
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} runs · {msg} · ETA {eta}")
                .expect("template")
                .progress_chars("=> "),
        );
        let correct = done.iter().filter(|r| r.judgement.correct).count() as u64;
        bar.set_position(done.len() as u64);
        bar.reset_eta();
        let p = Progress { bar, tty, tally: Mutex::new((done.len() as u64, correct)) };
        p.show_accuracy();
        if !done.is_empty() {
            p.line(&format!("{} of {total} runs already done in this --out; carrying on", done.len()));
        }
        p
    }

    fn show_accuracy(&self) {
        let (n, c) = *self.tally.lock().unwrap();
        let pct = if n == 0 { 0.0 } else { 100.0 * c as f64 / n as f64 };
        self.bar.set_message(format!("{c}/{n} correct ({pct:.1}%)"));
    }

    fn finished(&self, r: &RunRow) {
        {
            let mut t = self.tally.lock().unwrap();
            t.0 += 1;
            t.1 += u64::from(r.judgement.correct);
        }
        self.bar.inc(1);
        self.show_accuracy();
        let verdict = if r.judgement.correct { "correct" } else { "incorrect" };
        let why = r.cause.as_deref().map(|c| format!(", {c}")).unwrap_or_default();
        self.line(&format!(
            "task {} run {}: {verdict} ({}{why}) · {} turns, {} tool calls, {:.1} s",
            r.task_id, r.run, r.judgement.method, r.turns, r.tool_calls, r.wall_secs
        ));
    }

    fn line(&self, text: &str) {
        if self.tty {
            self.bar.println(text);
        } else {
            eprintln!("{text}");
        }
    }

    fn done(&self) {
        self.bar.finish_and_clear();
    }
}
