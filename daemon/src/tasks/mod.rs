//! The daemon's work: research tasks run durably ([`Tasks`]) and sessions
//! for callers that run their own agent loop ([`sessions::Sessions`]).
//!
//! A task flows one way: submitted (validated, its attachments copied into
//! its own folder, its row committed: only then acknowledged) → queued →
//! running (the agent loop, checkpointed after every turn, every event
//! stored before it is broadcast) → finished (`succeeded`, `failed`,
//! `cancelled`; or `interrupted` when the daemon stopped under it, which
//! `resume` continues from the last checkpoint in fresh sandboxes).

pub mod sessions;
pub mod store;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio::sync::{Semaphore, broadcast};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::agent::record::{Finished, timestamp};
use crate::agent::run::{Agent, AgentConfig, Event, Outcome, TaskState, ToolFormat};
use crate::config::Config;
use crate::llm::LlmClient;
use crate::policy::{Policy, PolicyStore};
use crate::runtime::{Runtime, SandboxBudget, Session, SessionOptions};
use store::{Finish, Store};
pub use store::{Status, StoredEvent, TaskRow};

/// A request the daemon refuses, as the API reports it.
#[derive(Debug, Clone)]
pub struct Error {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for `429`.
    pub retry_after: Option<u64>,
}

impl Error {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Error { status, code, message: message.into(), retry_after: None }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::new(400, "invalid_request", message)
    }
    pub fn not_found(what: &str, id: &str) -> Self {
        Error::new(404, "not_found", format!("no {what} with id {id:?}"))
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Error::new(409, "conflict", message)
    }
    pub fn busy(message: impl Into<String>, retry_after: u64) -> Self {
        Error { status: 429, code: "too_many_requests", message: message.into(), retry_after: Some(retry_after) }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(500, "internal", message)
    }
}

/// Loads the policy a request names or carries, and the secrets it may use.
#[derive(Clone)]
pub struct Policies {
    pub store: PolicyStore,
    pub config: Arc<Config>,
}

impl Policies {
    /// A preset's name (never a path: the daemon does not read files a
    /// client names), or an inline policy object, validated like a file.
    /// Its secrets are checked against the daemon's config.
    pub fn load(&self, spec: &Value) -> Result<(Policy, Arc<std::collections::BTreeMap<String, String>>), Error> {
        let invalid = |errors: Vec<crate::policy::PolicyError>| {
            let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            Error::bad_request(format!("invalid policy: {}", lines.join("; ")))
        };
        let policy = match spec {
            Value::Null => self.store.load("default").map_err(invalid)?,
            Value::String(name) => {
                if name.contains('/') || name.ends_with(".toml") {
                    return Err(Error::bad_request(format!(
                        "policy {name:?}: name a policy (one of {}) or send the policy inline as a JSON object; the daemon does not read files named in requests",
                        self.store.names().join(", ")
                    )));
                }
                self.store.load(name).map_err(invalid)?
            }
            Value::Object(map) => {
                if let Some(ext) = map.get("extends").and_then(Value::as_str) {
                    if ext.contains('/') || ext.ends_with(".toml") {
                        return Err(Error::bad_request(format!(
                            "policy.extends: {ext:?} must name a policy, not a file"
                        )));
                    }
                }
                if map.get("files").and_then(|f| f.get("local_roots")).is_some() {
                    return Err(Error::bad_request(
                        "policy.files.local_roots cannot be set in a request: folders of the daemon's machine are granted by the operator's own policies (FATHOM_POLICY_DIR)",
                    ));
                }
                let text = toml::to_string(spec).map_err(|e| Error::bad_request(format!("policy: {e}")))?;
                self.store.load_text("request policy", &text).map_err(invalid)?
            }
            other => return Err(Error::bad_request(format!("policy must be a name or an object, not {other}"))),
        };
        let secrets = self.config.grant_secrets(&policy).map_err(Error::bad_request)?;
        Ok((policy, secrets))
    }
}

/// A new task as the API receives it.
pub struct Submission {
    pub question: String,
    pub policy: Value,
    /// Ids of uploaded files (`POST /v1/files`).
    pub files: Vec<String>,
    pub tool_format: Option<String>,
}

/// Every task of the daemon: the queue, the running ones, their feeds.
pub struct Tasks {
    store: Store,
    rt: Arc<Runtime>,
    policies: Policies,
    budget: Arc<SandboxBudget>,
    /// `<state>/tasks`: one folder per task.
    dir: PathBuf,
    /// `<state>/files`: uploaded attachments, by id.
    uploads: PathBuf,
    slots: Arc<Semaphore>,
    queue_cap: usize,
    queued: AtomicUsize,
    /// Cancel handles of queued and running tasks.
    active: Mutex<HashMap<String, CancellationToken>>,
    /// Live subscribers' channels, by task.
    feeds: Mutex<HashMap<String, broadcast::Sender<StoredEvent>>>,
    /// Next sequence number, by task with a run in progress.
    seqs: Mutex<HashMap<String, Arc<AtomicU64>>>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    /// The operator's secret values, in every common form: never to appear
    /// in an event, record or trace.
    redact: crate::net::scrub::Scrubber,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Tasks {
    pub fn open(
        rt: Arc<Runtime>,
        policies: Policies,
        budget: Arc<SandboxBudget>,
        metrics: Arc<crate::metrics::Metrics>,
        state: &Path,
    ) -> Result<Arc<Self>, String> {
        let dir = state.join("tasks");
        let uploads = state.join("files");
        for d in [&dir, &uploads] {
            std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        }
        let store = Store::open(&state.join("tasks.db"))?;
        let server = &policies.config.server;
        Ok(Arc::new(Tasks {
            store,
            rt,
            slots: Arc::new(Semaphore::new(server.concurrency)),
            queue_cap: server.concurrency + server.queue,
            redact: crate::net::scrub::Scrubber::new(
                policies.config.secret_values().iter().map(|v| (v.as_str(), "[secret]".to_owned())),
            ),
            policies,
            budget,
            dir,
            uploads,
            queued: AtomicUsize::new(0),
            active: Mutex::default(),
            feeds: Mutex::default(),
            seqs: Mutex::default(),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            metrics,
        }))
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.rt
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// After a start: tasks the last process left `running` are
    /// `interrupted`; tasks it had acknowledged but not started run now.
    pub fn recover(self: &Arc<Self>) -> Result<(usize, usize), String> {
        let running = self.store.ids_with(Status::Running)?;
        for id in &running {
            let row = self.store.get(id)?.ok_or("vanished task")?;
            let finished_at = timestamp(SystemTime::now());
            self.store.finish(
                id,
                &Finish {
                    status: Status::Interrupted,
                    answer: None,
                    error: Some(INTERRUPTED),
                    turns: row.turns,
                    tool_calls: row.tool_calls,
                    usage: row.usage,
                    resumable: true,
                    finished_at: &finished_at,
                },
            )?;
            self.feed(id).push(json!({"type": "status", "status": "interrupted", "message": INTERRUPTED}));
            self.forget_feed(id);
        }
        let queued = self.store.ids_with(Status::Queued)?;
        for id in &queued {
            let resume = self.store.last_checkpoint(id)?.is_some();
            self.spawn(id.clone(), resume);
        }
        Ok((running.len(), queued.len()))
    }

    /// Stop taking tasks; running ones stop at once (their last checkpoint
    /// kept) and are marked `interrupted`. Waits up to `grace`.
    pub async fn shutdown(&self, grace: Duration) {
        self.shutdown.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout(grace, self.tracker.wait()).await;
    }

    pub fn counts(&self) -> Value {
        let mut m = serde_json::Map::new();
        for (status, n) in self.status_counts() {
            m.insert(status, n.into());
        }
        Value::Object(m)
    }

    /// Tasks by status, as stored.
    pub fn status_counts(&self) -> Vec<(String, u64)> {
        self.store.counts().unwrap_or_default()
    }

    // ---- uploads ------------------------------------------------------------

    /// Keep an uploaded attachment; its id is what tasks name in `files`.
    pub fn upload(&self, file_name: &str, bytes: &[u8]) -> Result<Upload, Error> {
        let name = safe_file_name(file_name)?;
        let id = format!("file-{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let dir = self.uploads.join(&id);
        std::fs::create_dir_all(&dir).map_err(|e| Error::internal(format!("cannot store the upload: {e}")))?;
        crate::hostfs::write(&dir, Path::new(&name), bytes)
            .map_err(|e| Error::internal(format!("cannot store the upload: {e}")))?;
        Ok(Upload { id, name, bytes: bytes.len() as u64 })
    }

    /// The stored file of upload `id`: (folder, file name).
    fn uploaded(&self, id: &str) -> Result<(PathBuf, String), Error> {
        let valid = id.starts_with("file-") && id[5..].chars().all(|c| c.is_ascii_hexdigit()) && id.len() == 21;
        let dir = self.uploads.join(id);
        let unknown =
            || Error::bad_request(format!("files: no uploaded file with id {id:?} (upload it with POST /v1/files)"));
        if !valid || !dir.is_dir() {
            return Err(unknown());
        }
        let name = crate::hostfs::list(&dir, 2).ok().and_then(|l| l.into_iter().next()).ok_or_else(unknown)?;
        Ok((dir, name))
    }

    // ---- submitting and controlling -----------------------------------------

    pub fn submit(self: &Arc<Self>, s: Submission) -> Result<TaskRow, Error> {
        if self.shutdown.is_cancelled() {
            return Err(Error::new(503, "shutting_down", "the daemon is shutting down"));
        }
        if s.question.trim().is_empty() {
            return Err(Error::bad_request("question: must not be empty"));
        }
        let (policy, _) = self.policies.load(&s.policy)?;
        self.policies.config.llm_configs(&policy).map_err(|e| Error::new(503, "no_model_server", e))?;
        let format = match &s.tool_format {
            Some(f) => f.parse::<ToolFormat>().map_err(|e| Error::bad_request(format!("tool_format: {e}")))?,
            None => self.policies.config.tool_format().map_err(Error::bad_request)?,
        };
        let uploads = s.files.iter().map(|id| self.uploaded(id)).collect::<Result<Vec<_>, _>>()?;
        self.check_queue()?;
        let id = format!("task-{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let dir = self.dir.join(&id);
        let attachments = dir.join("attachments");
        let mut names = Vec::new();
        for (folder, name) in &uploads {
            std::fs::create_dir_all(&attachments).map_err(|e| Error::internal(e.to_string()))?;
            std::fs::copy(folder.join(name), attachments.join(name))
                .map_err(|e| Error::internal(format!("cannot attach {name}: {e}")))?;
            names.push(name.clone());
        }
        let row = TaskRow {
            id: id.clone(),
            status: Status::Queued,
            question: s.question,
            policy: policy.name.clone(),
            policy_spec: s.policy,
            tool_format: serde_json::to_value(format).unwrap().as_str().unwrap().to_owned(),
            files: names,
            answer: None,
            turns: 0,
            tool_calls: 0,
            usage: Default::default(),
            error: None,
            resumable: false,
            created_at: timestamp(SystemTime::now()),
            started_at: None,
            finished_at: None,
        };
        self.store.insert(&row).map_err(Error::internal)?;
        self.feed(&id).push(json!({"type": "status", "status": "queued"}));
        self.spawn(id, false);
        Ok(row)
    }

    fn check_queue(&self) -> Result<(), Error> {
        let waiting = self.queued.load(Ordering::SeqCst);
        if waiting + self.running_count() >= self.queue_cap {
            return Err(Error::busy(
                format!(
                    "the task queue is full ({waiting} waiting, server.queue = {}); try again later",
                    self.queue_cap - self.policies.config.server.concurrency
                ),
                5,
            ));
        }
        Ok(())
    }

    /// Tasks waiting for a slot.
    pub fn queued_count(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    pub fn running_count(&self) -> usize {
        self.policies.config.server.concurrency - self.slots.available_permits()
    }

    pub fn get(&self, id: &str) -> Result<TaskRow, Error> {
        self.store.get(id).map_err(Error::internal)?.ok_or_else(|| Error::not_found("task", id))
    }

    pub fn list(&self, status: Option<&str>, limit: usize) -> Result<Vec<TaskRow>, Error> {
        let status = match status {
            None => None,
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                Error::bad_request(format!(
                    "status: {s:?} is not one of queued, running, succeeded, failed, cancelled, interrupted"
                ))
            })?),
        };
        self.store.list(status, limit).map_err(Error::internal)
    }

    /// Cancel a queued, running or interrupted task; waits (briefly) until
    /// it has stopped, so the answer says `cancelled`.
    pub async fn cancel(&self, id: &str) -> Result<TaskRow, Error> {
        let row = self.get(id)?;
        let token = self.active.lock().unwrap().get(id).cloned();
        match token {
            Some(t) => {
                t.cancel();
                for _ in 0..500 {
                    let row = self.get(id)?;
                    if row.status.is_final() {
                        return Ok(row);
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                self.get(id)
            }
            None if row.status == Status::Interrupted => {
                self.finish_without_run(&row, Status::Cancelled, CANCELLED)?;
                self.get(id)
            }
            None => Err(Error::conflict(format!("task {id} is already {}", row.status.as_str()))),
        }
    }

    pub fn resume(self: &Arc<Self>, id: &str) -> Result<TaskRow, Error> {
        let row = self.get(id)?;
        if !row.resumable {
            return Err(Error::conflict(format!(
                "task {id} is {}; only an interrupted task, or one that failed for a reason other than a limit, can be resumed",
                row.status.as_str()
            )));
        }
        self.check_queue()?;
        if !self.store.requeue(id).map_err(Error::internal)? {
            return Err(Error::conflict(format!("task {id} is being resumed already")));
        }
        self.feed(id).push(json!({"type": "status", "status": "queued", "resumed": true}));
        self.spawn(id.to_owned(), true);
        self.get(id)
    }

    fn finish_without_run(&self, row: &TaskRow, status: Status, why: &str) -> Result<(), Error> {
        let finished_at = timestamp(SystemTime::now());
        let f = Finish {
            status,
            answer: None,
            error: Some(why),
            turns: row.turns,
            tool_calls: row.tool_calls,
            usage: row.usage,
            resumable: false,
            finished_at: &finished_at,
        };
        self.store.finish(&row.id, &f).map_err(Error::internal)?;
        self.feed(&row.id).push(json!({"type": "status", "status": status.as_str(), "message": why}));
        self.forget_feed(&row.id);
        Ok(())
    }

    // ---- events ---------------------------------------------------------------

    /// Stored events after `after` and, when `live` and the task is not
    /// final yet, a receiver for those that follow (subscribed first, so
    /// nothing falls between the two; a final task has all its events
    /// stored, and gets no channel).
    pub fn subscribe(
        &self,
        id: &str,
        after: u64,
        live: bool,
    ) -> Result<(Vec<StoredEvent>, Option<broadcast::Receiver<StoredEvent>>), Error> {
        let final_now = self.get(id)?.status.is_final();
        let rx = (live && !final_now).then(|| self.sender(id).subscribe());
        let past = self.store.events_after(id, after).map_err(Error::internal)?;
        Ok((past, rx))
    }

    pub fn events_after(&self, id: &str, after: u64) -> Result<Vec<StoredEvent>, Error> {
        self.store.events_after(id, after).map_err(Error::internal)
    }

    fn sender(&self, id: &str) -> broadcast::Sender<StoredEvent> {
        self.feeds.lock().unwrap().entry(id.to_owned()).or_insert_with(|| broadcast::channel(1024).0).clone()
    }

    fn forget_feed(&self, id: &str) {
        self.feeds.lock().unwrap().remove(id);
        self.seqs.lock().unwrap().remove(id);
    }

    fn feed<'a>(&'a self, id: &'a str) -> Feed<'a> {
        let seq = self.seqs.lock().unwrap().get(id).cloned();
        let seq = match seq {
            Some(s) => s,
            None => {
                let s = Arc::new(AtomicU64::new(self.store.last_seq(id).unwrap_or(0) + 1));
                self.seqs.lock().unwrap().entry(id.to_owned()).or_insert(s).clone()
            }
        };
        Feed { tasks: self, id, seq }
    }

    // ---- running ----------------------------------------------------------------

    fn spawn(self: &Arc<Self>, id: String, resume: bool) {
        let token = CancellationToken::new();
        self.active.lock().unwrap().insert(id.clone(), token.clone());
        self.queued.fetch_add(1, Ordering::SeqCst);
        let this = self.clone();
        self.tracker.spawn(async move {
            let permit = tokio::select! {
                p = this.slots.clone().acquire_owned() => p.ok(),
                _ = token.cancelled() => None,
                _ = this.shutdown.cancelled() => None,
            };
            this.queued.fetch_sub(1, Ordering::SeqCst);
            match permit {
                Some(_permit) => {
                    use tracing::Instrument;
                    this.run(&id, resume, &token).instrument(tracing::info_span!("task", task_id = %id)).await
                }
                None if token.is_cancelled() => {
                    if let Ok(row) = this.get(&id) {
                        let _ = this.finish_without_run(&row, Status::Cancelled, CANCELLED);
                    }
                }
                None => {} // shutting down: stays queued, runs after the restart
            }
            this.active.lock().unwrap().remove(&id);
        });
    }

    async fn run(&self, id: &str, resume: bool, cancel: &CancellationToken) {
        let row = match self.get(id) {
            Ok(r) => r,
            Err(_) => return,
        };
        tracing::info!(resume, "task started");
        let started = std::time::Instant::now();
        let (status, outcome, resumable) = match self.execute(&row, resume, cancel).await {
            Ok(ended) => ended,
            Err(why) => (Status::Failed, Err(why), false),
        };
        let (turns, calls) = outcome.as_ref().map(|o| (o.turns, o.tool_calls)).unwrap_or_default();
        let secs = started.elapsed().as_secs_f64();
        match &outcome {
            Err(why) => tracing::warn!(status = status.as_str(), secs, "task could not run: {}", self.redacted(why)),
            Ok(_) => tracing::info!(status = status.as_str(), turns, tool_calls = calls, secs, "task ended"),
        }
        self.settle(&row, status, outcome, resumable);
    }

    /// Run the agent loop for `row` until it ends, is cancelled, or the
    /// daemon stops. Returns the final status and what the task got to.
    async fn execute(
        &self,
        row: &TaskRow,
        resume: bool,
        cancel: &CancellationToken,
    ) -> Result<(Status, Result<Outcome, String>, bool), String> {
        let id = row.id.as_str();
        let (policy, secrets) = self.policies.load(&row.policy_spec).map_err(|e| e.message)?;
        let (llm_cfg, _summary) = self.policies.config.llm_configs(&policy)?;
        let llm = LlmClient::new(llm_cfg)?;
        let format: ToolFormat = row.tool_format.parse()?;
        let dir = self.dir.join(id);
        let attachments = dir.join("attachments");
        let mut opts = SessionOptions::new(policy.clone());
        opts.root = Some(dir.join("work"));
        opts.outputs = Some(dir.join("outputs"));
        opts.attachments = attachments.is_dir().then(|| attachments.clone());
        opts.budget = Some(self.budget.clone());
        opts.secrets = Some(secrets);
        self.policies.config.provide_services(&mut opts, id);
        let session =
            Session::new(self.rt.clone(), opts).map_err(|e| format!("cannot create the task's session: {e}"))?;

        let feed = self.feed(id);
        let on_event = |e: &Event| feed.push(serde_json::to_value(e).unwrap_or(Value::Null));
        let mut config = AgentConfig::from_policy(&policy);
        config.tool_format = format;
        let agent = Agent { llm: &llm, session: &session, config, on_event: Some(&on_event) };
        let checkpointed = match self.store.last_checkpoint(id)? {
            Some(text) if resume => {
                Some(serde_json::from_str::<TaskState>(&text).map_err(|e| format!("bad checkpoint: {e}"))?)
            }
            _ => None,
        };
        let state = match checkpointed {
            Some(mut s) => {
                s.note_sandboxes_lost();
                s
            }
            None => {
                let mut paths = Vec::new();
                for name in &row.files {
                    let path = attachments.join(name);
                    if !path.is_file() {
                        return Err(format!("attachment {name} is missing from the task's folder"));
                    }
                    paths.push(path.display().to_string());
                }
                let files = agent.read_attachments(&paths).await;
                let date = timestamp(SystemTime::now())[..10].to_owned();
                agent.start(id, &row.question, &files, &date)
            }
        };
        self.store.set_running(id, &timestamp(SystemTime::now()))?;
        feed.push(json!({"type": "status", "status": "running", "resumed": resume}));
        let store = &self.store;
        let mut checkpoint = |s: &TaskState| {
            if let Ok(text) = serde_json::to_string(s) {
                if let Err(e) = store.checkpoint(id, &text, s.turns, s.calls, s.usage) {
                    tracing::error!(task_id = %id, "cannot save a checkpoint: {e}");
                }
            }
        };
        let drive = agent.drive(state, &mut checkpoint);
        let ended = tokio::select! {
            outcome = drive => {
                let timed_out = outcome.events.iter().any(|e| matches!(e, Event::Limit { key, .. } if key == "agent.task_timeout_secs"));
                let status = if outcome.error.is_none() { Status::Succeeded } else { Status::Failed };
                let resumable = status == Status::Failed && !timed_out;
                (status, Ok(outcome), resumable)
            }
            _ = cancel.cancelled() => {
                session.cancel();
                (Status::Cancelled, self.partial(id, CANCELLED), false)
            }
            _ = self.shutdown.cancelled() => {
                session.cancel();
                (Status::Interrupted, self.partial(id, INTERRUPTED), true)
            }
        };
        session.close();
        drop(session);
        let _ = std::fs::remove_dir_all(dir.join("work"));
        Ok(ended)
    }

    /// The outcome of a task stopped between checkpoints.
    fn partial(&self, id: &str, why: &str) -> Result<Outcome, String> {
        let state = self.store.last_checkpoint(id)?.ok_or("no checkpoint yet")?;
        let state: TaskState = serde_json::from_str(&state).map_err(|e| e.to_string())?;
        Ok(state.into_outcome(Some(why.to_owned())))
    }

    /// Record how a run ended, keep its trace, tell subscribers.
    fn settle(&self, row: &TaskRow, status: Status, outcome: Result<Outcome, String>, resumable: bool) {
        let id = row.id.as_str();
        let finished_at = SystemTime::now();
        let latest = self.store.get(id).ok().flatten().unwrap_or_else(|| row.clone());
        let (answer, error, turns, calls, usage) = match &outcome {
            Ok(o) => (
                (status == Status::Succeeded).then(|| o.answer.clone()),
                o.error.clone(),
                o.turns,
                o.tool_calls,
                o.usage,
            ),
            Err(e) => (None, Some(e.clone()), latest.turns, latest.tool_calls, latest.usage),
        };
        let answer = answer.map(|a| self.redacted(&a));
        let error = error.map(|e| self.redacted(&e));
        let stamp = timestamp(finished_at);
        let f = Finish {
            status,
            answer: answer.as_deref(),
            error: error.as_deref(),
            turns,
            tool_calls: calls,
            usage,
            resumable,
            finished_at: &stamp,
        };
        if let Err(e) = self.store.finish(id, &f) {
            tracing::error!(task_id = %id, "cannot record the end of the task: {e}");
        }
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => TaskState::empty(id, &row.question).into_outcome(Some(e)),
        };
        let latest = self.store.get(id).ok().flatten().unwrap_or_else(|| row.clone());
        let trace = self.trace_of(&latest, &outcome);
        let _ = std::fs::write(self.dir.join(id).join("trace.json"), serde_json::to_vec_pretty(&trace).unwrap());
        self.feed(id).push(json!({"type": "status", "status": status.as_str(), "error": error}));
        self.forget_feed(id);
    }

    /// The trajectory file, from the task's row, its outcome (or last
    /// checkpoint) and its stored events.
    fn trace_of(&self, row: &TaskRow, outcome: &Outcome) -> Value {
        let events: Vec<(SystemTime, Event)> = self
            .store
            .events_after(&row.id, 0)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| {
                let at = e.body.get("at").and_then(Value::as_str).and_then(|t| humantime::parse_rfc3339(t).ok())?;
                Some((at, serde_json::from_value::<Event>(e.body).ok()?))
            })
            .collect();
        let parse = |t: &Option<String>| t.as_deref().and_then(|t| humantime::parse_rfc3339(t).ok());
        let created = humantime::parse_rfc3339(&row.created_at).unwrap_or(SystemTime::now());
        let finished = Finished {
            id: &row.id,
            question: &row.question,
            policy: &row.policy,
            file_names: &row.files,
            created_at: created,
            started_at: parse(&row.started_at).unwrap_or(created),
            finished_at: parse(&row.finished_at).unwrap_or(SystemTime::now()),
            status: Some(row.status.as_str()),
            outcome,
            events: &events,
        };
        let trace = finished.trace();
        match self.redact.is_empty() {
            true => trace,
            false => serde_json::from_str(&self.redacted(&trace.to_string())).unwrap_or(trace),
        }
    }

    /// The task's trajectory: the file kept when it finished, else built
    /// from its last checkpoint.
    pub fn trace(&self, id: &str) -> Result<Value, Error> {
        let row = self.get(id)?;
        if let Ok(bytes) = std::fs::read(self.dir.join(id).join("trace.json")) {
            if row.status.is_final() {
                if let Ok(v) = serde_json::from_slice(&bytes) {
                    return Ok(v);
                }
            }
        }
        let outcome = match self.store.last_checkpoint(id).map_err(Error::internal)? {
            Some(s) => serde_json::from_str::<TaskState>(&s)
                .map_err(|e| Error::internal(e.to_string()))?
                .into_outcome(row.error.clone()),
            None => TaskState::empty(id, &row.question).into_outcome(row.error.clone()),
        };
        Ok(self.trace_of(&row, &outcome))
    }

    /// The folder `GET /v1/tasks/{id}/files/...` serves.
    pub fn outputs_dir(&self, id: &str) -> Result<PathBuf, Error> {
        self.get(id)?;
        Ok(self.dir.join(id).join("outputs"))
    }

    fn redacted(&self, text: &str) -> String {
        self.redact.scrub(text).unwrap_or_else(|| text.to_owned())
    }
}

const CANCELLED: &str = "cancelled by request";
const INTERRUPTED: &str = "the daemon stopped while this task ran; POST /v1/tasks/{id}/resume (or `fathom resume ID`) continues it from its last completed turn";

/// One task's event sink: numbers, stamps, stores, then broadcasts.
struct Feed<'a> {
    tasks: &'a Tasks,
    id: &'a str,
    seq: Arc<AtomicU64>,
}

impl Feed<'_> {
    fn push(&self, body: Value) {
        let mut body = match body {
            Value::Object(m) => m,
            other => {
                let mut m = serde_json::Map::new();
                m.insert("value".into(), other);
                m
            }
        };
        let seq = self.seq.fetch_add(1, Ordering::SeqCst);
        body.insert("seq".into(), seq.into());
        body.insert("at".into(), timestamp(SystemTime::now()).into());
        let mut body = Value::Object(body);
        if !self.tasks.redact.is_empty() {
            let text = self.tasks.redacted(&body.to_string());
            body = serde_json::from_str(&text).unwrap_or(json!({"type": "redacted", "seq": seq}));
        }
        if let Err(e) = self.tasks.store.append_event(self.id, seq, &body) {
            tracing::error!(task_id = %self.id, "cannot store an event: {e}");
        }
        self.tasks.metrics.observe_event(&body);
        let _ = self.tasks.sender(self.id).send(StoredEvent { seq, body });
    }
}

/// An uploaded attachment, as `POST /v1/files` answers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Upload {
    /// `file-` and 16 hex digits: what a task names in `files`.
    pub id: String,
    /// The file name the task will see.
    pub name: String,
    pub bytes: u64,
}

/// A file name a client gave, kept only when it is one plain name.
fn safe_file_name(name: &str) -> Result<String, Error> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    if base.is_empty() || base == "." || base == ".." || base.chars().any(|c| c.is_control()) || base.len() > 255 {
        return Err(Error::bad_request(format!(
            "file name {name:?}: give a plain file name (no control characters, at most 255 bytes)"
        )));
    }
    Ok(base.to_owned())
}
