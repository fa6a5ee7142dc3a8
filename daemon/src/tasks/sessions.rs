//! Sessions for callers that run their own agent loop (RL trainers, other
//! frameworks): a policy, one sandbox made with the session (calls without
//! a `sandbox_id` use it), tool calls, and the sandbox's files. A session
//! unused for `server.session_idle_secs` is closed by a reaper, so idle
//! sessions cannot pin memory; the daemon-wide sandbox cap bounds them all.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Error, Policies};
use crate::runtime::{CallOutcome, Runtime, SandboxBudget, Session, SessionOptions};

/// The most a session's own sandbox may live; idleness closes it sooner.
const SANDBOX_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

struct Entry {
    session: Session,
    sandbox_id: String,
    workspace: PathBuf,
    root: PathBuf,
    last_used: Mutex<Instant>,
    in_flight: AtomicUsize,
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.session.cancel();
        self.session.close();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

pub struct Sessions {
    rt: Arc<Runtime>,
    policies: Policies,
    budget: Arc<SandboxBudget>,
    root: PathBuf,
    idle: Duration,
    map: Mutex<HashMap<String, Arc<Entry>>>,
    metrics: Arc<crate::metrics::Metrics>,
}

/// Marks a session busy for the length of a call, and touched after it.
struct Busy(Arc<Entry>);

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.last_used.lock().unwrap() = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A new session, as `POST /v1/sessions` answers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// `ses-` and 16 hex digits.
    pub id: String,
    /// The sandbox made with the session, used by calls that name none.
    pub sandbox_id: String,
    pub policy: String,
    /// The session closes after this long unused.
    pub idle_timeout_secs: u64,
}

/// One tool call's outcome, as `POST /v1/sessions/{id}/calls` answers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SessionCall {
    #[serde(flatten)]
    pub outcome: CallOutcome,
    /// `run_python_code` only: the cell raised (its traceback is the output).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub raised: bool,
}

impl SessionCall {
    /// `outcome` of calling `tool`: for `run_python_code`, `ok` is false
    /// also when the cell raised (the traceback is the output).
    pub fn new(tool: &str, mut outcome: CallOutcome) -> Self {
        let raised = outcome.ok && tool == "run_python_code" && cell_raised(&outcome.output);
        outcome.ok &= !raised;
        SessionCall { outcome, raised }
    }
}

/// A file written into a sandbox.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StoredFile {
    /// Where the sandbox sees it.
    pub path: String,
    pub bytes: u64,
}

impl Sessions {
    pub fn new(
        rt: Arc<Runtime>,
        policies: Policies,
        budget: Arc<SandboxBudget>,
        metrics: Arc<crate::metrics::Metrics>,
        state: &Path,
    ) -> Arc<Self> {
        let root = state.join("sessions");
        // Sessions do not outlive the daemon: whatever a crash left is garbage.
        let _ = std::fs::remove_dir_all(&root);
        let idle = Duration::from_secs(policies.config.server.session_idle_secs.max(1));
        let s = Arc::new(Sessions { rt, policies, budget, root, idle, map: Mutex::default(), metrics });
        spawn_reaper(Arc::downgrade(&s), idle);
        s
    }

    pub fn create(&self, policy: &Value) -> Result<SessionInfo, Error> {
        let (policy, secrets) = self.policies.load(policy)?;
        let id = format!("ses-{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let root = self.root.join(&id);
        let mut opts = SessionOptions::new(policy.clone());
        opts.root = Some(root.join("work"));
        opts.outputs = Some(root.join("outputs"));
        opts.budget = Some(self.budget.clone());
        opts.secrets = Some(secrets);
        self.policies.config.provide_services(&mut opts, &id);
        let session = Session::new(self.rt.clone(), opts)
            .map_err(|e| Error::internal(format!("cannot create the session: {e}")))?;
        let sandbox = match session.create_sandbox(SANDBOX_LIFETIME, None) {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&root);
                return Err(Error::busy(e, 10));
            }
        };
        let entry = Arc::new(Entry {
            sandbox_id: sandbox.id.clone(),
            workspace: sandbox.workspace.clone(),
            session,
            root,
            last_used: Mutex::new(Instant::now()),
            in_flight: AtomicUsize::new(0),
        });
        self.map.lock().unwrap().insert(id.clone(), entry);
        tracing::info!(session_id = %id, policy = %policy.name, "session opened");
        Ok(SessionInfo {
            id,
            sandbox_id: sandbox.id.clone(),
            policy: policy.name.clone(),
            idle_timeout_secs: self.idle.as_secs(),
        })
    }

    fn entry(&self, id: &str) -> Result<Busy, Error> {
        let map = self.map.lock().unwrap();
        let e = map.get(id).cloned().ok_or_else(|| {
            Error::not_found("session", id).with_hint("sessions close after server.session_idle_secs unused")
        })?;
        e.in_flight.fetch_add(1, Ordering::SeqCst);
        *e.last_used.lock().unwrap() = Instant::now();
        Ok(Busy(e))
    }

    /// One tool call. For `run_python_code`, `ok` is false also when the
    /// cell raised (the traceback is the output), so a trainer can tell an
    /// exception from a result without parsing text.
    pub async fn call(&self, id: &str, server: &str, tool: &str, arguments: &Value) -> Result<SessionCall, Error> {
        let busy = self.entry(id)?;
        let mut args = match arguments {
            Value::Null => serde_json::Map::new(),
            Value::Object(map) => map.clone(),
            other => return Err(Error::bad_request(format!("arguments: must be a JSON object, not {other}"))),
        };
        let session = &busy.0.session;
        if let Some(info) = session.tools().iter().find(|t| t.server == server && t.name == tool) {
            default_sandbox(info, &mut args, &busy.0.sandbox_id);
        }
        let args = Value::Object(args).to_string();
        use tracing::Instrument;
        let outcome: CallOutcome =
            busy.0.session.call(server, tool, &args).instrument(tracing::info_span!("session", session_id = id)).await;
        let call = SessionCall::new(tool, outcome);
        self.metrics.tool_call(server, tool, call.outcome.ok, call.outcome.wall_ms);
        Ok(call)
    }

    /// The tools the session's policy lets it call.
    pub fn tools(&self, id: &str) -> Result<Vec<crate::runtime::ToolInfo>, Error> {
        Ok(self.entry(id)?.0.session.tools())
    }

    /// The session's live sandboxes, as (id, workspace folder).
    pub fn sandboxes(&self, id: &str) -> Result<Vec<(String, PathBuf)>, Error> {
        let busy = self.entry(id)?;
        let session = &busy.0.session;
        Ok(session
            .sandbox_ids()
            .into_iter()
            .filter_map(|s| session.sandbox(&s).map(|b| (s, b.workspace.clone())))
            .collect())
    }

    /// Write a file into the session's sandbox (or `sandbox_id`'s).
    pub fn put_file(&self, id: &str, sandbox: Option<&str>, path: &str, bytes: &[u8]) -> Result<StoredFile, Error> {
        let busy = self.entry(id)?;
        let (root, rel) = self.place(&busy.0, sandbox, path)?;
        busy.0
            .session
            .put_file(&root, &rel, bytes)
            .map_err(|e| Error::bad_request(format!("cannot write {path:?} in the sandbox: {e}")))?;
        Ok(StoredFile { path: format!("/home/user/{}", rel.display()), bytes: bytes.len() as u64 })
    }

    pub fn get_file(&self, id: &str, sandbox: Option<&str>, path: &str) -> Result<Vec<u8>, Error> {
        let busy = self.entry(id)?;
        let (root, rel) = self.place(&busy.0, sandbox, path)?;
        crate::hostfs::read(&root, &rel).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::new(404, "not_found", format!("no file {path:?} in the sandbox")),
            _ => Error::bad_request(format!("cannot read {path:?} in the sandbox: {e}")),
        })
    }

    /// The sandbox workspace and the checked relative path within it.
    fn place(&self, e: &Entry, sandbox: Option<&str>, path: &str) -> Result<(PathBuf, PathBuf), Error> {
        let path = path.strip_prefix("/home/user/").unwrap_or(path);
        let rel = crate::hostfs::check_relative(path).map_err(|m| Error::bad_request(format!("path: {m}")))?;
        let root = match sandbox {
            None => e.workspace.clone(),
            Some(s) if s == e.sandbox_id => e.workspace.clone(),
            Some(s) => {
                e.session.sandbox(s).map(|s| s.workspace.clone()).ok_or_else(|| Error::not_found("sandbox", s))?
            }
        };
        Ok((root, rel))
    }

    pub fn delete(&self, id: &str) -> Result<(), Error> {
        self.map.lock().unwrap().remove(id).ok_or_else(|| Error::not_found("session", id))?;
        tracing::info!(session_id = %id, "session closed");
        Ok(())
    }

    pub fn count(&self) -> usize {
        self.map.lock().unwrap().len()
    }

    /// Close the sessions idle past their timeout.
    fn reap(&self) {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap();
        map.retain(|_, e| {
            e.in_flight.load(Ordering::SeqCst) > 0 || now.duration_since(*e.last_used.lock().unwrap()) < self.idle
        });
    }
}

fn spawn_reaper(sessions: Weak<Sessions>, idle: Duration) {
    let every = (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            match sessions.upgrade() {
                Some(s) => s.reap(),
                None => break,
            }
        }
    });
}

/// A call that names no sandbox means the session's own: without this,
/// it would be ambiguous once the caller has made a second sandbox.
pub fn default_sandbox(tool: &crate::runtime::ToolInfo, args: &mut serde_json::Map<String, Value>, sandbox: &str) {
    if tool.takes_sandbox && args.get("sandbox_id").is_none_or(Value::is_null) {
        args.insert("sandbox_id".into(), sandbox.into());
    }
}

/// Whether a Python cell's observation ends in its `[error]` section (the
/// tool writes that section last, after stdout, stderr and the result).
fn cell_raised(output: &str) -> bool {
    output.starts_with("[error]\n") || output.contains("\n[error]\n")
}

impl Error {
    fn with_hint(mut self, hint: &str) -> Self {
        self.message = format!("{} ({hint})", self.message);
        self
    }
}
