//! Sessions and sandboxes: one task's tool context.
//!
//! A [`Session`] holds a task's policy and its sandboxes. A [`Sandbox`] is a
//! workspace folder plus the live instances of the stateful components that
//! keep state in it (a Python session, a shell's working directory). The
//! session creates sandboxes, finds them by id, expires them when their
//! timeout passes and frees them (instances dropped, owned workspaces
//! deleted) when they expire or the session ends.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};
use wasmtime::Store;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::WasiCtxBuilder;

use super::pool::{Pool, Warm};
use super::registry::{Builtin, ToolInfo, ToolKind};
use super::{BudgetTicket, Flavor, HostState, InstanceExtras, Meters, Runtime, SandboxBudget};
use crate::caps::deadline::{GRACE, HostTimeout, budget};
use crate::caps::disk::DiskMeter;
use crate::caps::filesystem::{Mounts, collect_outputs, discard_staged};
use crate::caps::output::{cap_text, truncation_marker};
use crate::caps::{self, Grant, LimitHit, fuel};
use crate::policy::Policy;
use crate::wit::{CallError, Tool};

/// The most a message built by the host may hold.
const HOST_MESSAGE_BYTES: u64 = 4_000;

/// Default and bounds of `create_sandbox(timeout)`, in seconds.
const DEFAULT_SANDBOX_SECS: u64 = 600;
const MAX_SANDBOX_SECS: u64 = 7 * 24 * 3600;

/// What one tool call came to. Serialised as `fathom tool call --json` prints it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CallOutcome {
    /// False when the tool reported an error or a limit stopped it.
    pub ok: bool,
    /// The text the model sees: the result, or `[ERROR]: ...`.
    pub output: String,
    /// The error alone, without the prefix.
    pub error: Option<String>,
    /// Fuel (instructions) the call consumed.
    pub fuel: u64,
    /// Wall-clock time of the whole call, sandbox creation included.
    pub wall_ms: f64,
    /// The limit that stopped the call, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<LimitHit>,
    /// The sandbox made for this call because it named none. Kept out of
    /// `output`: the tool's text stays the tool's, and a note appended to
    /// it was seen to make a small model repeat the call instead of reading
    /// the result (calls without an id keep using this sandbox anyway).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox_created: Option<String>,
    /// Model tokens the call spent through the host (the summary model of
    /// `scrape_and_extract_info`), to count into the task's usage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<crate::llm::Usage>,
}

impl CallOutcome {
    fn ok(output: String) -> Self {
        CallOutcome {
            ok: true,
            output,
            error: None,
            fuel: 0,
            wall_ms: 0.0,
            limit: None,
            sandbox_created: None,
            usage: None,
        }
    }
    /// A message the host built (a refusal, an unknown name): capped, as
    /// it may quote what the caller sent.
    fn error(message: String) -> Self {
        Self::tool_error(cap_text(message, HOST_MESSAGE_BYTES))
    }

    /// The tool's own error (already capped by the output limit).
    fn tool_error(message: String) -> Self {
        CallOutcome {
            ok: false,
            output: format!("[ERROR]: {message}"),
            error: Some(message),
            fuel: 0,
            wall_ms: 0.0,
            limit: None,
            sandbox_created: None,
            usage: None,
        }
    }
}

pub struct SessionOptions {
    pub policy: Policy,
    /// Folder for the sandboxes' workspaces; a temporary folder, removed with
    /// the session, when `None`.
    pub root: Option<PathBuf>,
    /// The task's outputs folder (`download_file_from_sandbox_to_local`);
    /// `<root>/outputs` when `None`.
    pub outputs: Option<PathBuf>,
    /// The task's attachments, readable by local-files tools.
    pub attachments: Option<PathBuf>,
    /// A daemon-wide cap on live sandboxes, shared with other sessions.
    pub budget: Option<Arc<SandboxBudget>>,
    /// Secret values from the operator's config (else the environment).
    pub secrets: Option<Arc<BTreeMap<String, String>>>,
    /// The operator's search settings, for the servers `tools.search` names.
    pub search: Option<Arc<crate::search::Settings>>,
    /// The summary model, for the servers `tools.summary_model` names.
    pub summary: Option<Arc<caps::summary::SummaryModel>>,
}

impl SessionOptions {
    pub fn new(policy: Policy) -> Self {
        SessionOptions {
            policy,
            root: None,
            outputs: None,
            attachments: None,
            budget: None,
            secrets: None,
            search: None,
            summary: None,
        }
    }
}

/// A live component instance, kept between calls by stateful components.
struct Live {
    store: Store<HostState>,
    /// `None` until instantiated: instantiation runs guest code, so it
    /// happens under the budgets of the first call.
    tool: Option<Tool>,
    /// Per-instance staging folder backing the outputs preopen.
    staging: Option<tempfile::TempDir>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Live>>>;

pub struct Sandbox {
    pub id: String,
    pub workspace: PathBuf,
    /// The sandbox's `/tmp`, beside the workspace (always the sandbox's own).
    pub tmp: PathBuf,
    owned: bool,
    expires_at: Instant,
    /// Live instances of stateful components, by component index.
    instances: Mutex<HashMap<usize, Slot>>,
    /// This sandbox's share of the daemon-wide cap, returned when it is freed.
    _ticket: Option<BudgetTicket>,
    /// The task's disk book, which stops counting this sandbox's files when
    /// it is freed.
    disk: Arc<DiskMeter>,
}

impl Sandbox {
    fn slot(&self, component: usize) -> Slot {
        self.instances.lock().unwrap().entry(component).or_default().clone()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Instances first: files they hold open are closed with them.
        self.instances.lock().unwrap().clear();
        self.disk.forget(&self.workspace);
        self.disk.forget(&self.tmp);
        let owned = self.owned.then_some(&self.workspace);
        for dir in owned.into_iter().chain([&self.tmp]) {
            if let Err(e) = caps::disk::remove_tree(dir) {
                tracing::warn!(sandbox = %self.id, "cannot remove the sandbox folder {}: {e}", dir.display());
            }
        }
    }
}

#[derive(Default)]
struct Table {
    live: BTreeMap<String, Arc<Sandbox>>,
    expired: BTreeSet<String>,
    /// Workspace for tools that take no `sandbox_id`; not listed or counted.
    scratch: Option<Arc<Sandbox>>,
    /// The earliest `expires_at` of the live sandboxes: every call sweeps,
    /// and with thousands live it must not scan them all each time.
    next_expiry: Option<Instant>,
}

pub struct Session {
    rt: Arc<Runtime>,
    policy: Arc<Policy>,
    root: PathBuf,
    outputs: PathBuf,
    read_roots: Vec<PathBuf>,
    table: Mutex<Table>,
    budget: Option<Arc<SandboxBudget>>,
    extras: InstanceExtras,
    disk: Arc<DiskMeter>,
    _tmp: Option<tempfile::TempDir>,
}

impl Session {
    pub fn new(rt: Arc<Runtime>, opts: SessionOptions) -> std::io::Result<Session> {
        let (root, tmp) = match opts.root {
            Some(r) => {
                std::fs::create_dir_all(&r)?;
                (r, None)
            }
            None => {
                let t = tempfile::Builder::new().prefix("fathom-session-").tempdir()?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        let outputs = opts.outputs.unwrap_or_else(|| root.join("outputs"));
        std::fs::create_dir_all(&outputs)?;
        let outputs = outputs.canonicalize()?;
        let mut read_roots = opts.policy.files.local_roots.clone();
        read_roots.extend(opts.attachments);
        // Saved outputs count for as long as the task has them.
        let disk = DiskMeter::new(&opts.policy);
        disk.add_existing(&outputs);
        Ok(Session {
            rt,
            policy: Arc::new(opts.policy),
            root,
            outputs,
            read_roots,
            table: Mutex::new(Table::default()),
            budget: opts.budget,
            extras: InstanceExtras {
                secrets: opts.secrets,
                cancel: Arc::default(),
                disk: Some(disk.clone()),
                search: opts.search,
                summary: opts.summary,
            },
            disk,
            _tmp: tmp,
        })
    }

    /// Stop every call of this session at the guest's next epoch tick and
    /// refuse new ones. Calls blocked in the host end when their future is
    /// dropped; either way the instance they ran in is discarded.
    pub fn cancel(&self) {
        self.extras.cancel.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.extras.cancel.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Free every sandbox now (their instances and owned workspaces).
    pub fn close(&self) {
        let mut table = self.table.lock().unwrap();
        table.live.clear();
        table.scratch = None;
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The tools this session's policy lets it call.
    pub fn tools(&self) -> Vec<ToolInfo> {
        self.rt.tools().iter().filter(|t| self.policy.tool_enabled(&t.server, &t.name)).cloned().collect()
    }

    pub fn outputs_dir(&self) -> &Path {
        &self.outputs
    }

    /// Write `bytes` to `rel` in `workspace` (one of this session's
    /// sandboxes) from the host, booked in the task's disk book like a
    /// guest's write and refused, naming the limit, when it does not fit.
    pub fn put_file(&self, workspace: &Path, rel: &Path, bytes: &[u8]) -> Result<(), String> {
        use caps::disk::{MAX_DEPTH, MAX_PATH, Refusal};
        if rel.components().count() > MAX_DEPTH || rel.as_os_str().len() > MAX_PATH {
            return Err(self.disk.limit_hit(Refusal::Placement).message);
        }
        let old = std::fs::symlink_metadata(workspace.join(rel)).ok();
        if old.as_ref().is_some_and(|m| !m.is_file()) {
            return Err("a folder or special file is already there".into());
        }
        let missing =
            rel.ancestors().skip(1).filter(|a| !a.as_os_str().is_empty() && !workspace.join(a).exists()).count();
        let old_len = old.as_ref().map_or(0, |m| m.len());
        let growth = (bytes.len() as u64).saturating_sub(old_len);
        let entries = missing as u64 + u64::from(old.is_none());
        self.disk.charge(growth, entries).map_err(|r| self.disk.limit_hit(r).message)?;
        match crate::hostfs::write(workspace, rel, bytes) {
            Ok(()) => {
                self.disk.release(old_len.saturating_sub(bytes.len() as u64), 0);
                Ok(())
            }
            Err(e) => {
                self.disk.release(growth, entries);
                Err(e.to_string())
            }
        }
    }

    /// Bytes and entries the task's files take now, as its disk book has them.
    pub fn disk_used(&self) -> (u64, u64) {
        self.disk.used()
    }

    /// Ids of the live sandboxes.
    pub fn sandbox_ids(&self) -> Vec<String> {
        self.sweep();
        self.table.lock().unwrap().live.keys().cloned().collect()
    }

    pub fn sandbox(&self, id: &str) -> Option<Arc<Sandbox>> {
        self.sweep();
        self.table.lock().unwrap().live.get(id).cloned()
    }

    /// Create a sandbox living `timeout`; its workspace is `workspace` when
    /// given (and then kept when the sandbox is freed), else a new folder.
    pub fn create_sandbox(&self, timeout: Duration, workspace: Option<PathBuf>) -> Result<Arc<Sandbox>, String> {
        let id = format!("sbx-{:016x}", rand::random::<u64>());
        self.create_sandbox_as(id, timeout, workspace)
    }

    fn create_named(&self, id: &str) -> Result<Arc<Sandbox>, String> {
        self.create_sandbox_as(id.to_owned(), Duration::from_secs(DEFAULT_SANDBOX_SECS), None)
    }

    fn create_sandbox_as(
        &self,
        id: String,
        timeout: Duration,
        workspace: Option<PathBuf>,
    ) -> Result<Arc<Sandbox>, String> {
        self.sweep();
        let mut table = self.table.lock().unwrap();
        // A concurrent call adopted the same id first.
        if let Some(s) = table.live.get(&id) {
            return Ok(s.clone());
        }
        let max = self.policy.sandbox.max_sandboxes;
        if table.live.len() as u64 >= max {
            return Err(format!(
                "this task already has {max} live sandboxes, the most its policy allows (sandbox.max_sandboxes); reuse one of: {}",
                id_list(table.live.keys().map(String::as_str))
            ));
        }
        let ticket = match &self.budget {
            None => None,
            Some(b) => Some(b.acquire().ok_or_else(|| {
                format!(
                    "the daemon already runs {} sandboxes, the most it allows (server.max_sandboxes); reuse a sandbox or try again later",
                    b.cap()
                )
            })?),
        };
        let mut sandbox = self.make_sandbox(id, timeout, workspace)?;
        sandbox._ticket = ticket;
        let sandbox = Arc::new(sandbox);
        table.next_expiry = Some(table.next_expiry.map_or(sandbox.expires_at, |t| t.min(sandbox.expires_at)));
        table.live.insert(sandbox.id.clone(), sandbox.clone());
        Ok(sandbox)
    }

    fn make_sandbox(&self, id: String, timeout: Duration, workspace: Option<PathBuf>) -> Result<Sandbox, String> {
        let (workspace, owned) = match workspace {
            Some(w) => (w, false),
            None => (self.root.join("sandboxes").join(&id), true),
        };
        std::fs::create_dir_all(&workspace)
            .map_err(|e| format!("cannot create the workspace {}: {e}", workspace.display()))?;
        if !owned {
            // A folder the user gave: what it holds counts from the start.
            self.disk.add_existing(&workspace);
        }
        let tmp = self.root.join("sandboxes").join(format!("{id}.tmp"));
        std::fs::create_dir_all(&tmp)
            .map_err(|e| format!("cannot create the sandbox's /tmp {}: {e}", tmp.display()))?;
        Ok(Sandbox {
            id,
            workspace,
            tmp,
            owned,
            expires_at: Instant::now() + timeout,
            instances: Mutex::default(),
            _ticket: None,
            disk: self.disk.clone(),
        })
    }

    /// Free every sandbox whose timeout has passed.
    fn sweep(&self) {
        let now = Instant::now();
        let mut table = self.table.lock().unwrap();
        if table.next_expiry.is_none_or(|t| now < t) {
            return;
        }
        let dead: Vec<String> =
            table.live.iter().filter(|(_, s)| s.expires_at <= now).map(|(k, _)| k.clone()).collect();
        for id in dead {
            table.live.remove(&id);
            table.expired.insert(id);
        }
        table.next_expiry = table.live.values().map(|s| s.expires_at).min();
    }

    fn resolve(&self, id: &str) -> Result<Arc<Sandbox>, String> {
        self.sweep();
        let table = self.table.lock().unwrap();
        if let Some(s) = table.live.get(id) {
            return Ok(s.clone());
        }
        let why = if table.expired.contains(id) {
            format!("sandbox '{id}' has expired (its create_sandbox timeout passed) and its files are gone")
        } else {
            format!("sandbox '{id}' does not exist")
        };
        Err(if table.live.is_empty() {
            format!("{why}; no sandbox is live: create one with tool-python.create_sandbox")
        } else {
            let known = id_list(table.live.keys().map(String::as_str));
            format!("{why}; live sandboxes: {known} (or create one with tool-python.create_sandbox)")
        })
    }

    /// The sandbox `id` names, or a new one under that id when none is live
    /// (models make ids up, `"default"` most often: the calls that reuse
    /// the id then share its state, as the model expects). An expired id
    /// stays an error, since its files are gone; so does one that is no
    /// plain name, or one past `sandbox.max_sandboxes`. The flag says
    /// whether the sandbox was created now.
    fn resolve_or_adopt(&self, id: &str) -> Result<(Arc<Sandbox>, bool), String> {
        let known = self.resolve(id);
        let adoptable = !self.table.lock().unwrap().expired.contains(id) && plain_id(id);
        match known {
            Ok(s) => Ok((s, false)),
            Err(_) if adoptable => self.create_named(id).map(|s| (s, true)),
            Err(e) => Err(e),
        }
    }

    /// The sandbox a call without `sandbox_id` means: the only live one, or
    /// a new one when there is none (small models often leave the id out;
    /// the protocol's E2B tools would fail, which helps nobody). With several
    /// live, the call is ambiguous and fails, listing them. The flag says
    /// whether the sandbox was created now.
    fn implied_sandbox(&self) -> Result<(Arc<Sandbox>, bool), String> {
        self.sweep();
        let live: Vec<Arc<Sandbox>> = self.table.lock().unwrap().live.values().cloned().collect();
        match live.as_slice() {
            [] => self.create_sandbox(Duration::from_secs(DEFAULT_SANDBOX_SECS), None).map(|s| (s, true)),
            [one] => Ok((one.clone(), false)),
            many => Err(format!(
                "`sandbox_id` is missing and this task has several sandboxes: {}; say which one",
                id_list(many.iter().map(|s| s.id.as_str()))
            )),
        }
    }

    /// The sandbox a call without its optional `sandbox_id` means: the only
    /// live one, or with none a scratch workspace (such a tool, the reader,
    /// works without a sandbox and must not use up the task's
    /// `sandbox.max_sandboxes`); with several live it is ambiguous.
    fn live_or_scratch(&self) -> Result<Arc<Sandbox>, String> {
        self.sweep();
        let live: Vec<Arc<Sandbox>> = self.table.lock().unwrap().live.values().cloned().collect();
        match live.as_slice() {
            [] => self.scratch(),
            [one] => Ok(one.clone()),
            many => Err(format!(
                "`sandbox_id` is missing and this task has several sandboxes: {}; say which one holds the file",
                id_list(many.iter().map(|s| s.id.as_str()))
            )),
        }
    }

    fn scratch(&self) -> Result<Arc<Sandbox>, String> {
        let mut table = self.table.lock().unwrap();
        if let Some(s) = &table.scratch {
            return Ok(s.clone());
        }
        let id = format!("sbx-{:016x}", rand::random::<u64>());
        let s = Arc::new(self.make_sandbox(id, Duration::from_secs(u64::MAX / 4), None)?);
        table.scratch = Some(s.clone());
        Ok(s)
    }

    /// Call `server.tool` with `arguments` (JSON text). Never fails: every
    /// problem, from a typo in the tool name to a trap, is in the outcome.
    pub async fn call(&self, server: &str, tool: &str, arguments: &str) -> CallOutcome {
        self.call_with_cap(server, tool, arguments, None).await
    }

    /// [`Session::call`] whose result text may be up to `result_cap` bytes
    /// instead of `sandbox.output_bytes`: for the host's own reading of a
    /// task's attachments, which the protocol shows up to 200,000
    /// characters. Every other limit is the policy's.
    pub async fn call_with_cap(
        &self,
        server: &str,
        tool: &str,
        arguments: &str,
        result_cap: Option<u64>,
    ) -> CallOutcome {
        use tracing::Instrument;
        let span = tracing::info_span!("tool_call", server, tool);
        let start = Instant::now();
        let mut outcome = self.call_inner(server, tool, arguments, result_cap).instrument(span.clone()).await;
        outcome.wall_ms = start.elapsed().as_secs_f64() * 1e3;
        let _in = span.enter();
        // The arguments and the output stay out of the log: they may
        // quote a task's data.
        match &outcome.limit {
            Some(hit) => {
                tracing::info!(ok = outcome.ok, wall_ms = outcome.wall_ms, fuel = outcome.fuel, limit = %hit.key, "tool call stopped by a limit")
            }
            None => tracing::debug!(ok = outcome.ok, wall_ms = outcome.wall_ms, fuel = outcome.fuel, "tool call ended"),
        }
        drop(_in);
        outcome
    }

    /// `text` with the host's own folders (this session's root, its
    /// sandboxes' workspaces and `/tmp`s) shown as the guest knows them.
    fn guest_view(&self, text: &str, sandbox: &Sandbox) -> String {
        text.replace(&sandbox.workspace.display().to_string(), crate::caps::filesystem::WORKSPACE)
            .replace(&sandbox.tmp.display().to_string(), crate::caps::filesystem::TMPDIR)
            .replace(&self.root.display().to_string(), "<sandbox folder>")
    }

    async fn call_inner(&self, server: &str, tool: &str, arguments: &str, result_cap: Option<u64>) -> CallOutcome {
        if self.is_cancelled() {
            return CallOutcome::error("the task was cancelled; no more tool calls run".into());
        }
        let flavor = self.rt.flavor(self.policy.sandbox.call_fuel > 0).await;
        let Some(info) = flavor.registry.lookup(server, tool) else {
            return CallOutcome::error(self.unknown_tool(server, tool));
        };
        if !self.policy.tool_enabled(server, tool) {
            return CallOutcome::error(format!(
                "`{server}.{tool}` is not allowed by this task's policy `{}` (tools.enabled / tools.disabled)",
                self.policy.name
            ));
        }
        let mut args = match serde_json::from_str::<Value>(arguments) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return CallOutcome::error(format!("arguments of `{server}.{tool}` must be a JSON object")),
            Err(e) => return CallOutcome::error(format!("arguments of `{server}.{tool}` are not valid JSON: {e}")),
        };
        // As the protocol does: a null means "not given".
        args.retain(|_, v| !v.is_null());
        match info.kind {
            ToolKind::Builtin(Builtin::CreateSandbox) => self.builtin_create_sandbox(&args),
            ToolKind::Component(index) => self.call_component(flavor, info, index, args, result_cap).await,
        }
    }

    fn unknown_tool(&self, server: &str, tool: &str) -> String {
        let tools = self.rt.tools();
        let same_server: Vec<&str> = tools.iter().filter(|t| t.server == server).map(|t| t.name.as_str()).collect();
        if same_server.is_empty() {
            let mut servers: Vec<&str> = tools.iter().map(|t| t.server.as_str()).collect();
            servers.dedup();
            format!("there is no tool server `{server}`; servers: {}", servers.join(", "))
        } else {
            format!("server `{server}` has no tool `{tool}`; its tools: {}", same_server.join(", "))
        }
    }

    fn builtin_create_sandbox(&self, args: &Map<String, Value>) -> CallOutcome {
        let secs = match args.get("timeout") {
            None => DEFAULT_SANDBOX_SECS,
            Some(v) => {
                match v.as_u64().or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64)) {
                    Some(s) if (1..=MAX_SANDBOX_SECS).contains(&s) => s,
                    _ => {
                        return CallOutcome::error(format!(
                            "`timeout` must be a whole number of seconds from 1 to {MAX_SANDBOX_SECS}, not {v}"
                        ));
                    }
                }
            }
        };
        match self.create_sandbox(Duration::from_secs(secs), None) {
            Ok(s) => CallOutcome::ok(format!("Sandbox created with sandbox_id: {}", s.id)),
            Err(e) => CallOutcome::error(e),
        }
    }

    async fn call_component(
        &self,
        flavor: &Flavor,
        info: &ToolInfo,
        index: usize,
        args: Map<String, Value>,
        result_cap: Option<u64>,
    ) -> CallOutcome {
        let _busy = self.rt.busy();
        let component = &flavor.registry.components[index];
        let mut created = None;
        let sandbox = if info.takes_sandbox {
            match args.get("sandbox_id") {
                Some(Value::String(id)) => {
                    self.resolve_or_adopt(id).inspect(|(s, new)| created = new.then(|| s.id.clone())).map(|(s, _)| s)
                }
                Some(other) => Err(format!("`sandbox_id` must be a string, not {other}")),
                None if sandbox_optional(info) => self.live_or_scratch(),
                None => self.implied_sandbox().inspect(|(s, new)| created = new.then(|| s.id.clone())).map(|(s, _)| s),
            }
        } else {
            self.scratch()
        };
        let sandbox = match sandbox {
            Ok(s) => s,
            Err(e) => return CallOutcome::error(e),
        };
        let mut args = args;
        if info.takes_sandbox {
            args.entry("sandbox_id").or_insert_with(|| sandbox.id.clone().into());
        }
        let arguments = Value::Object(args).to_string();
        let policy = &*self.policy;

        // A stateless call owns its instance; a stateful one takes the
        // sandbox's out of its slot for the call, one call at a time, and
        // puts it back only when the call ends cleanly. A call dropped
        // mid-flight (a cancelled task) so drops its half-used instance with
        // it, and the slot is empty for the next call.
        let slot = component.stateful.then(|| sandbox.slot(index));
        let mut guard = match &slot {
            Some(s) => Some(s.lock().await),
            None => None,
        };
        let mut live = guard.as_deref_mut().and_then(Option::take);
        // Held while this call is the first of an instance from the warm
        // pool: the pool refills once it ends.
        let mut refill = None;
        if live.is_none() {
            match self.new_live(flavor, index, &sandbox) {
                Ok(l) => {
                    refill = flavor.pool(index).filter(|_| l.tool.is_some()).map(Pool::refill_after);
                    live = Some(l)
                }
                Err(e) => {
                    let why = self.guest_view(&format!("{e:#}"), &sandbox);
                    return CallOutcome::error(format!("cannot prepare the sandbox for `{}`: {why}", info.name));
                }
            }
        }
        let l = live.as_mut().unwrap();
        let pre = &component.pre;
        let tool_name = info.name.clone();
        let result = arm_and(policy, &mut l.store, async |store| {
            if l.tool.is_none() {
                l.tool = Some(pre.instantiate_async(&mut *store).await?);
            }
            l.tool.as_ref().unwrap().call_call(&mut *store, &tool_name, &arguments).await
        })
        .await;
        drop(refill);

        let fuel = fuel::consumed(policy, &l.store);
        let usage = Some(l.store.data_mut().take_model_usage()).filter(|u| *u != Default::default());
        let (stdout, out_dropped) = l.store.data().meters.stdout.take(0);
        let (stderr, err_dropped) = l.store.data().meters.stderr.take(0);
        let settled: Vec<LimitHit> = caps::all().iter().filter_map(|c| c.settle(policy, &mut l.store)).collect();
        let write_refused = settled.iter().any(|h| caps::disk::KEYS.contains(&h.key));
        let unsaved = l.staging.as_ref().and_then(|s| {
            if write_refused {
                // What was staged may be cut short: none of it is saved.
                discard_staged(s.path(), &self.disk).err().map(|e| e.to_string()).or(Some(
                    "a write was refused, so what the call staged may be incomplete and was not kept".to_owned(),
                ))
            } else {
                collect_outputs(s.path(), &self.outputs, &self.disk).err().map(|e| e.to_string())
            }
        });
        let cap = result_cap.unwrap_or(policy.sandbox.output_bytes).max(policy.sandbox.output_bytes);
        let stdio = render_stdio(&stdout, out_dropped, &stderr, err_dropped, cap);

        let mut outcome = match result {
            Ok(Ok(text)) => CallOutcome::ok(cap_text(text + &stdio, cap)),
            Ok(Err(e)) => {
                let message = match e {
                    CallError::Failed(m) => m,
                    CallError::InvalidArguments(m) => {
                        format!("invalid arguments for `{}.{}`: {m}", info.server, info.name)
                    }
                    CallError::UnknownTool(m) => m,
                };
                CallOutcome::tool_error(cap_text(message + &stdio, cap))
            }
            Err(trap) => {
                let limit = caps::all().iter().find_map(|c| c.diagnose(policy, &l.store, &trap));
                let mut message = match &limit {
                    Some(hit) => hit.message.clone(),
                    None if self.is_cancelled() => "the call was cancelled with its task".to_owned(),
                    None => format!("the tool `{}.{}` crashed: {}", info.server, info.name, describe_trap(&trap)),
                };
                if component.stateful {
                    message.push_str(&format!(
                        "; this sandbox's `{}` instance was discarded, so its state (variables, working directory) is gone and the next call starts afresh",
                        component.server
                    ));
                }
                // A trapped instance cannot be entered again.
                live = None;
                let mut o = CallOutcome::tool_error(cap_text(message + &stdio, cap));
                o.limit = limit;
                o
            }
        };
        if let Some(e) = unsaved {
            // Beside the tool's own result, not instead of it: what the tool
            // did still happened. No host path in the message.
            let message =
                cap_text(format!("the tool's output files could not be saved to the task's outputs: {e}"), cap);
            outcome.output.push_str(&format!("\n[ERROR]: {message}"));
            outcome.ok = false;
            outcome.error = Some(message);
        }
        outcome.fuel = fuel;
        // The guest saw the refusal and may have carried on: the result
        // stays the tool's, with a line naming the limit.
        if let Some(hit) = settled.into_iter().next().filter(|_| outcome.limit.is_none()) {
            outcome.output.push_str(&format!("\n[ERROR]: {}", hit.message));
            outcome.limit = Some(hit);
        }
        outcome.sandbox_created = created;
        outcome.usage = usage;
        if let Some(g) = guard.as_deref_mut() {
            *g = live;
        }
        outcome
    }

    fn new_live(&self, flavor: &Flavor, index: usize, sandbox: &Sandbox) -> wasmtime::Result<Live> {
        let component = &flavor.registry.components[index];
        // The manifest asks for local files; only the policy grants them.
        let local_files = component.local_files && self.policy.grants_local_files(&component.server);
        let mut mounts = Mounts {
            workspace: Some(sandbox.workspace.clone()),
            workspace_is_own: sandbox.owned,
            // Local roots keep their host paths, which may well be under
            // /tmp: the file tools, which see them, do without a /tmp.
            tmp: (!local_files).then(|| sandbox.tmp.clone()),
            ..Mounts::default()
        };
        let mut staging = None;
        if local_files {
            mounts.read_roots = self.read_roots.clone();
            let dir = tempfile::Builder::new().prefix(".staging-").tempdir_in(&self.root)?;
            mounts.outputs = Some((dir.path().to_path_buf(), self.outputs.clone()));
            staging = Some(dir);
        }
        let state = host_state(&self.policy, &mounts, &self.extras, &component.server)?;
        // A warm instance when the pool has one that fits the sandbox's
        // memory cap; else one is made at the call.
        let fits = |w: &Warm| state.meters.memory.fits(&w.store.data().meters.memory);
        match flavor.pool(index).and_then(|p| p.take_if(fits)) {
            Some(warm) => {
                let (store, tool) = adopt(warm, state);
                Ok(Live { store, tool: Some(tool), staging })
            }
            None => Ok(Live { store: attached_store(&flavor.engine, &self.policy, state), tool: None, staging }),
        }
    }
}

/// Whether a model's own sandbox id can name a sandbox (and its folder):
/// letters, digits, `-` and `_`, at most 64, not starting with `-`.
/// A tool whose `sandbox_id` is optional (not in its schema's `required`)
/// works without a sandbox of its own.
fn sandbox_optional(info: &ToolInfo) -> bool {
    let required = info.input_schema.get("required").and_then(Value::as_array);
    !required.is_some_and(|r| r.iter().any(|v| v == "sandbox_id"))
}

/// Sandbox ids for a message: the first [`LISTED_IDS`], then how many more.
fn id_list<'a>(ids: impl ExactSizeIterator<Item = &'a str>) -> String {
    let more = ids.len().saturating_sub(LISTED_IDS);
    let mut list = ids.take(LISTED_IDS).collect::<Vec<_>>().join(", ");
    if more > 0 {
        list.push_str(&format!(" and {more} more"));
    }
    list
}

/// How many sandbox ids a message lists (a task may have thousands).
const LISTED_IDS: usize = 20;

fn plain_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && !id.starts_with('-')
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Captured stdout/stderr, appended to a result so nothing the tool printed
/// is lost; each stream is already capped by its pipe.
fn render_stdio(stdout: &[u8], out_dropped: u64, stderr: &[u8], err_dropped: u64, cap: u64) -> String {
    let mut s = String::new();
    for (name, bytes, dropped) in [("stdout", stdout, out_dropped), ("stderr", stderr, err_dropped)] {
        if bytes.is_empty() && dropped == 0 {
            continue;
        }
        s.push_str(&format!("\n[{name}]\n"));
        s.push_str(&String::from_utf8_lossy(bytes));
        if dropped > 0 {
            s.push_str(&truncation_marker(dropped, cap));
        }
    }
    s
}

/// A trap in words: the trap code and, for a guest panic, its message.
fn describe_trap(e: &wasmtime::Error) -> String {
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        let hint = match trap {
            wasmtime::Trap::UnreachableCodeReached => " (the tool aborted, usually a panic; see its stderr)",
            wasmtime::Trap::StackOverflow => " (too deep a recursion)",
            _ => "",
        };
        format!("{trap}{hint}")
    } else {
        format!("{e:#}")
    }
}

/// A store for one instance, with every capability prepared and attached.
pub(crate) fn new_store(
    engine: &wasmtime::Engine,
    policy: &Policy,
    mounts: &Mounts,
    extras: &InstanceExtras,
    server: &str,
) -> wasmtime::Result<Store<HostState>> {
    let state = host_state(policy, mounts, extras, server)?;
    Ok(attached_store(engine, policy, state))
}

/// What one instance is granted: every capability prepared into its state.
pub(crate) fn host_state(
    policy: &Policy,
    mounts: &Mounts,
    extras: &InstanceExtras,
    server: &str,
) -> wasmtime::Result<HostState> {
    let mut wasi = WasiCtxBuilder::new();
    let mut meters = Meters { cancel: extras.cancel.clone(), ..Meters::default() };
    let mut network = None;
    let mut disk = None;
    let mut search_index = None;
    let mut summary = caps::summary::Access::default();
    {
        let mut grant = Grant {
            wasi: &mut wasi,
            meters: &mut meters,
            mounts,
            network: &mut network,
            extras,
            server,
            disk: &mut disk,
            search_index: &mut search_index,
            summary: &mut summary,
        };
        for cap in caps::all() {
            cap.prepare(policy, &mut grant)?;
        }
    }
    Ok(HostState {
        wasi: wasi.build(),
        table: ResourceTable::new(),
        meters,
        network,
        disk,
        search_index,
        summary,
        model_usage: Default::default(),
    })
}

/// A store around `state` with every capability's hooks attached.
pub(crate) fn attached_store(engine: &wasmtime::Engine, policy: &Policy, state: HostState) -> Store<HostState> {
    let mut store = Store::new(engine, state);
    for cap in caps::all() {
        cap.attach(policy, &mut store);
    }
    store
}

/// A warm instance's store with the sandbox's `state` moved in (the pool's
/// grant-less state is dropped) and what the instance holds booked in it.
fn adopt(warm: Warm, mut state: HostState) -> (Store<HostState>, Tool) {
    let Warm { mut store, tool } = warm;
    state.meters.memory.adopt(&store.data().meters.memory);
    *store.data_mut() = state;
    (store, tool)
}

/// Arm every budget, then run `f` under the host-side timeout.
pub(crate) async fn arm_and<R>(
    policy: &Policy,
    store: &mut Store<HostState>,
    f: impl AsyncFnOnce(&mut Store<HostState>) -> wasmtime::Result<R>,
) -> wasmtime::Result<R> {
    for cap in caps::all() {
        cap.arm(policy, store)?;
    }
    match tokio::time::timeout(budget(policy) + GRACE, f(store)).await {
        Ok(r) => r,
        Err(_) => Err(wasmtime::Error::new(HostTimeout)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_lists_twenty_sandbox_ids_then_counts_the_rest() {
        let ids: Vec<String> = (0..25).map(|i| format!("s{i}")).collect();
        let list = id_list(ids.iter().map(String::as_str));
        assert!(list.starts_with("s0, s1, ") && list.ends_with("s19 and 5 more"), "{list}");
        assert_eq!(id_list(["a", "b"].into_iter()), "a, b");
    }
}
