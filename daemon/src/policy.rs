//! Per-task resource policies (`policies/*.toml`, see `policy-schema.md`).
//!
//! A policy file is parsed twice over: first into [`PolicyFile`], where every
//! value is optional and remembers where it was written, so that an unknown
//! key or a bad value is reported with its key and line; then the chain of
//! `extends` is folded, parent first, into the effective [`Policy`], which the
//! rest of Fathom reads and which always holds a value for every key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The presets shipped in `policies/`, compiled in so that the binary works
/// wherever it is copied.
const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../policies/default.toml")),
    ("strict", include_str!("../../policies/strict.toml")),
    ("research", include_str!("../../policies/research.toml")),
    ("offline", include_str!("../../policies/offline.toml")),
    ("mirothinker-1.0", include_str!("../../policies/mirothinker-1.0.toml")),
    ("mirothinker-1.7", include_str!("../../policies/mirothinker-1.7.toml")),
    ("local-model", include_str!("../../policies/local-model.toml")),
];

/// How deep `extends` may chain before we call it a cycle or a mistake.
const MAX_EXTENDS_DEPTH: usize = 16;

/// The effective policy of one task: every key has a value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    pub name: String,
    pub description: String,
    pub agent: Agent,
    pub sandbox: Sandbox,
    pub tools: Tools,
    pub network: Network,
    pub files: Files,
    pub search: Search,
    pub secrets: BTreeMap<String, Secret>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agent {
    pub max_turns: u64,
    pub max_tool_calls: u64,
    pub keep_tool_results: i64,
    pub context_window_tokens: u64,
    pub max_output_tokens: u64,
    pub task_timeout_secs: f64,
    pub temperature: f64,
    pub top_p: f64,
    /// Answer a reply that writes code in a fenced block instead of calling
    /// a tool with the call that would run it (once per task).
    pub nudge_unrun_code: bool,
    /// Answer a `\boxed{}` answer given before any tool ran in the attempt
    /// with the call that would check it (once per attempt). For
    /// general-purpose models, which answer computations from memory; off
    /// by default, as a MiroThinker model calls its tools unasked.
    pub check_unverified_answers: bool,
    /// Name the Python tool in the task's first message, with the exact call
    /// that runs code. For general-purpose models, which call a tool when
    /// told it by name and otherwise compute from memory or write code as
    /// text; off by default, as a MiroThinker model needs no such hint.
    pub tool_hint: bool,
    /// The rollback rules MiroThinker 1.7 added to 1.0's (malformed calls
    /// and refusals, always rolled back): a repeated query, a result saying
    /// the tool is unknown, a search with no results, a reply cut at
    /// `max_output_tokens`. Each is sampled again instead of answered.
    pub rollback_duplicate_queries: bool,
    pub rollback_unknown_tools: bool,
    pub rollback_empty_searches: bool,
    pub rollback_cut_replies: bool,
    /// Rollbacks in a row before a reply is taken as it is.
    pub max_consecutive_rollbacks: u64,
    /// Repeated-query rollbacks in a row before the query is answered.
    pub max_duplicate_rollbacks: u64,
    /// Rollbacks in all (turns beyond `max_turns`) before none is allowed.
    pub max_extra_attempts: u64,
    /// Attempts at the task: one that ends without a usable answer (or at
    /// `max_turns` or the context guard) is followed by a post-mortem and a
    /// fresh start, up to this many in all.
    pub max_attempts: u64,
    /// Whether a fresh start carries the earlier attempts' post-mortems.
    pub carry_failure_summary: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sandbox {
    pub call_timeout_secs: f64,
    pub call_fuel: u64,
    pub memory_mb: u64,
    pub output_bytes: u64,
    pub disk_quota_mb: u64,
    pub max_files: u64,
    pub max_sandboxes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tools {
    pub enabled: Vec<String>,
    pub disabled: Vec<String>,
    /// Servers whose components may read `files.local_roots` and the task's
    /// attachments and save outputs, when their manifest asks for it. The
    /// manifest only asks; the policy grants.
    pub local_files: Vec<String>,
    /// Servers whose components may make requests under `[network]`.
    pub network: Vec<String>,
    /// Servers given the search backend: the operator's settings for it,
    /// its key (sent only to its host) and the offline index.
    pub search: Vec<String>,
    /// Servers that may call the summary model (`summary-model`).
    pub summary_model: Vec<String>,
}

/// `[search]`: which backend a task's searches use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Search {
    /// `None`: the daemon's configured backend; else this one (`offline`
    /// pins `local`, so its searches never leave the machine).
    pub backend: Option<crate::search::Backend>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Network {
    pub allow_hosts: Vec<String>,
    pub allow_private: bool,
    pub max_download_mb: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Files {
    pub local_roots: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    pub hosts: Vec<String>,
}

impl Default for Policy {
    /// The values of `policy-schema.md`; `policies/default.toml` spells them out.
    fn default() -> Self {
        Policy {
            name: "default".into(),
            description: "Balanced limits for a research task".into(),
            agent: Agent {
                max_turns: 600,
                max_tool_calls: 600,
                keep_tool_results: 5,
                context_window_tokens: 262_144,
                max_output_tokens: 16_384,
                task_timeout_secs: 7200.0,
                temperature: 1.0,
                top_p: 0.95,
                nudge_unrun_code: true,
                check_unverified_answers: false,
                tool_hint: false,
                rollback_duplicate_queries: true,
                rollback_unknown_tools: true,
                rollback_empty_searches: true,
                rollback_cut_replies: true,
                max_consecutive_rollbacks: 5,
                max_duplicate_rollbacks: 3,
                max_extra_attempts: 200,
                max_attempts: 1,
                carry_failure_summary: true,
            },
            sandbox: Sandbox {
                call_timeout_secs: 60.0,
                call_fuel: 600_000_000_000,
                memory_mb: 512,
                output_bytes: 20_000,
                disk_quota_mb: 1024,
                max_files: 10_000,
                max_sandboxes: 4,
            },
            tools: Tools {
                enabled: vec!["*".into()],
                // No network here, so no web tools: `research` and `offline`
                // turn them on, each with what they can reach.
                disabled: vec!["search_and_scrape_webpage.*".into(), "jina_scrape_llm_summary.*".into()],
                local_files: vec!["tool-python".into(), "tool-reading".into()],
                network: vec![
                    "tool-python".into(),
                    "tool-reading".into(),
                    "search_and_scrape_webpage".into(),
                    "jina_scrape_llm_summary".into(),
                ],
                search: vec!["search_and_scrape_webpage".into(), "jina_scrape_llm_summary".into()],
                summary_model: vec!["jina_scrape_llm_summary".into()],
            },
            network: Network { allow_hosts: vec![], allow_private: false, max_download_mb: 100 },
            files: Files { local_roots: vec![] },
            search: Search { backend: None },
            secrets: BTreeMap::new(),
        }
    }
}

impl Policy {
    /// Whether the policy lets a task call `server.tool`.
    pub fn tool_enabled(&self, server: &str, tool: &str) -> bool {
        let full = format!("{server}.{tool}");
        let hit = |pats: &[String]| pats.iter().any(|p| glob_match(p, &full));
        hit(&self.tools.enabled) && !hit(&self.tools.disabled)
    }

    /// Whether the policy grants `server` local files (`tools.local_files`).
    pub fn grants_local_files(&self, server: &str) -> bool {
        self.tools.local_files.iter().any(|p| glob_match(p, server))
    }

    /// Whether the policy grants `server` the network (`tools.network`).
    pub fn grants_network(&self, server: &str) -> bool {
        self.tools.network.iter().any(|p| glob_match(p, server))
    }

    /// Whether the policy gives `server` the search backend (`tools.search`).
    pub fn grants_search(&self, server: &str) -> bool {
        self.tools.search.iter().any(|p| glob_match(p, server))
    }

    /// Whether the policy lets `server` call the summary model
    /// (`tools.summary_model`).
    pub fn grants_summary_model(&self, server: &str) -> bool {
        self.tools.summary_model.iter().any(|p| glob_match(p, server))
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// A policy that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyError {
    /// The file (or built-in preset) the problem is in.
    pub source: String,
    /// 1-based line, when the problem has a place.
    pub line: Option<usize>,
    /// Dotted key, e.g. `sandbox.memory_mb`, when known.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}

// ---- the file as written -------------------------------------------------

type Opt<T> = Option<Spanned<T>>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    name: Opt<String>,
    description: Opt<String>,
    extends: Opt<String>,
    #[serde(default)]
    agent: AgentFile,
    #[serde(default)]
    sandbox: SandboxFile,
    #[serde(default)]
    tools: ToolsFile,
    #[serde(default)]
    network: NetworkFile,
    #[serde(default)]
    files: FilesFile,
    #[serde(default)]
    search: SearchFile,
    #[serde(default)]
    secrets: BTreeMap<String, Spanned<Secret>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentFile {
    max_turns: Opt<u64>,
    max_tool_calls: Opt<u64>,
    keep_tool_results: Opt<i64>,
    context_window_tokens: Opt<u64>,
    max_output_tokens: Opt<u64>,
    task_timeout_secs: Opt<f64>,
    temperature: Opt<f64>,
    top_p: Opt<f64>,
    nudge_unrun_code: Opt<bool>,
    check_unverified_answers: Opt<bool>,
    tool_hint: Opt<bool>,
    rollback_duplicate_queries: Opt<bool>,
    rollback_unknown_tools: Opt<bool>,
    rollback_empty_searches: Opt<bool>,
    rollback_cut_replies: Opt<bool>,
    max_consecutive_rollbacks: Opt<u64>,
    max_duplicate_rollbacks: Opt<u64>,
    max_extra_attempts: Opt<u64>,
    max_attempts: Opt<u64>,
    carry_failure_summary: Opt<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SandboxFile {
    call_timeout_secs: Opt<f64>,
    call_fuel: Opt<u64>,
    memory_mb: Opt<u64>,
    output_bytes: Opt<u64>,
    disk_quota_mb: Opt<u64>,
    max_files: Opt<u64>,
    max_sandboxes: Opt<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolsFile {
    enabled: Opt<Vec<String>>,
    disabled: Opt<Vec<String>>,
    local_files: Opt<Vec<String>>,
    network: Opt<Vec<String>>,
    search: Opt<Vec<String>>,
    summary_model: Opt<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchFile {
    backend: Opt<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkFile {
    allow_hosts: Opt<Vec<String>>,
    allow_private: Opt<bool>,
    max_download_mb: Opt<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilesFile {
    local_roots: Opt<Vec<String>>,
}

/// Checks one file's values and writes them over `into`, so that folding a
/// chain of files parent-first yields the effective policy.
struct Apply<'a> {
    source: &'a str,
    text: &'a str,
    errors: Vec<PolicyError>,
}

impl Apply<'_> {
    fn line_of(&self, span: std::ops::Range<usize>) -> usize {
        self.text[..span.start.min(self.text.len())].matches('\n').count() + 1
    }

    fn err(&mut self, key: &str, span: std::ops::Range<usize>, message: String) {
        let line = Some(self.line_of(span));
        self.errors.push(PolicyError { source: self.source.to_owned(), line, key: Some(key.to_owned()), message });
    }

    /// Copy a number in `[min, max]` (inclusive) into `slot`.
    fn num<T>(&mut self, key: &str, value: &Opt<T>, slot: &mut T, min: T, max: T)
    where
        T: PartialOrd + Copy + fmt::Display,
    {
        if let Some(v) = value {
            let x = *v.get_ref();
            // `!(a <= b)` so that a NaN float is rejected too.
            if !(min <= x && x <= max) {
                self.err(key, v.span(), format!("{x} is out of range: expected {min} to {max}"));
            } else {
                *slot = x;
            }
        }
    }

    fn list(
        &mut self,
        key: &str,
        value: &Opt<Vec<String>>,
        slot: &mut Vec<String>,
        check: impl Fn(&str) -> Result<(), String>,
    ) {
        if let Some(v) = value {
            let mut ok = true;
            for item in v.get_ref() {
                if let Err(why) = check(item) {
                    self.err(key, v.span(), format!("{item:?}: {why}"));
                    ok = false;
                }
            }
            if ok {
                *slot = v.get_ref().clone();
            }
        }
    }

    fn file(&mut self, f: &PolicyFile, p: &mut Policy) {
        if let Some(n) = &f.name {
            p.name = n.get_ref().clone();
        }
        if let Some(d) = &f.description {
            p.description = d.get_ref().clone();
        }
        let a = &f.agent;
        let pa = &mut p.agent;
        for (from, to) in [
            (&a.nudge_unrun_code, &mut pa.nudge_unrun_code),
            (&a.check_unverified_answers, &mut pa.check_unverified_answers),
            (&a.tool_hint, &mut pa.tool_hint),
            (&a.rollback_duplicate_queries, &mut pa.rollback_duplicate_queries),
            (&a.rollback_unknown_tools, &mut pa.rollback_unknown_tools),
            (&a.rollback_empty_searches, &mut pa.rollback_empty_searches),
            (&a.rollback_cut_replies, &mut pa.rollback_cut_replies),
            (&a.carry_failure_summary, &mut pa.carry_failure_summary),
        ] {
            if let Some(v) = from {
                *to = *v.get_ref();
            }
        }
        self.num(
            "agent.max_consecutive_rollbacks",
            &a.max_consecutive_rollbacks,
            &mut pa.max_consecutive_rollbacks,
            0,
            1000,
        );
        self.num("agent.max_duplicate_rollbacks", &a.max_duplicate_rollbacks, &mut pa.max_duplicate_rollbacks, 0, 1000);
        self.num("agent.max_extra_attempts", &a.max_extra_attempts, &mut pa.max_extra_attempts, 0, 1_000_000);
        self.num("agent.max_attempts", &a.max_attempts, &mut pa.max_attempts, 1, 100);
        self.num("agent.max_turns", &a.max_turns, &mut pa.max_turns, 1, 1_000_000);
        self.num("agent.max_tool_calls", &a.max_tool_calls, &mut pa.max_tool_calls, 0, 1_000_000);
        self.num("agent.keep_tool_results", &a.keep_tool_results, &mut pa.keep_tool_results, -1, 1_000_000);
        self.num(
            "agent.context_window_tokens",
            &a.context_window_tokens,
            &mut pa.context_window_tokens,
            1024,
            100_000_000,
        );
        self.num("agent.max_output_tokens", &a.max_output_tokens, &mut pa.max_output_tokens, 1, 10_000_000);
        self.num("agent.task_timeout_secs", &a.task_timeout_secs, &mut pa.task_timeout_secs, 0.001, 31_536_000.0);
        self.num("agent.temperature", &a.temperature, &mut pa.temperature, 0.0, 2.0);
        self.num("agent.top_p", &a.top_p, &mut pa.top_p, 0.000_001, 1.0);

        let s = &f.sandbox;
        let ps = &mut p.sandbox;
        self.num("sandbox.call_timeout_secs", &s.call_timeout_secs, &mut ps.call_timeout_secs, 0.001, 86_400.0);
        self.num("sandbox.call_fuel", &s.call_fuel, &mut ps.call_fuel, 0, u64::MAX);
        // wasm32 linear memory cannot exceed 4 GiB.
        self.num("sandbox.memory_mb", &s.memory_mb, &mut ps.memory_mb, 1, 4096);
        self.num("sandbox.output_bytes", &s.output_bytes, &mut ps.output_bytes, 1, 1 << 30);
        self.num("sandbox.disk_quota_mb", &s.disk_quota_mb, &mut ps.disk_quota_mb, 1, 1 << 30);
        self.num("sandbox.max_files", &s.max_files, &mut ps.max_files, 1, u64::MAX);
        self.num("sandbox.max_sandboxes", &s.max_sandboxes, &mut ps.max_sandboxes, 1, 100_000);

        self.list("tools.enabled", &f.tools.enabled, &mut p.tools.enabled, check_tool_pattern);
        self.list("tools.disabled", &f.tools.disabled, &mut p.tools.disabled, check_tool_pattern);
        self.list("tools.local_files", &f.tools.local_files, &mut p.tools.local_files, check_server_pattern);
        self.list("tools.network", &f.tools.network, &mut p.tools.network, check_server_pattern);
        self.list("tools.search", &f.tools.search, &mut p.tools.search, check_server_pattern);
        self.list("tools.summary_model", &f.tools.summary_model, &mut p.tools.summary_model, check_server_pattern);
        if let Some(b) = &f.search.backend {
            match b.get_ref().parse() {
                Ok(backend) => p.search.backend = Some(backend),
                Err(e) => self.err("search.backend", b.span(), e),
            }
        }

        self.list("network.allow_hosts", &f.network.allow_hosts, &mut p.network.allow_hosts, check_host_pattern);
        if let Some(v) = &f.network.allow_private {
            p.network.allow_private = *v.get_ref();
        }
        self.num("network.max_download_mb", &f.network.max_download_mb, &mut p.network.max_download_mb, 0, 1 << 20);

        let mut roots = Vec::new();
        self.list("files.local_roots", &f.files.local_roots, &mut roots, check_local_root);
        if f.files.local_roots.is_some() && roots.len() == f.files.local_roots.as_ref().unwrap().get_ref().len() {
            p.files.local_roots = roots.iter().map(PathBuf::from).collect();
        }

        for (name, secret) in &f.secrets {
            let key = format!("secrets.{name}");
            let valid_name = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid_name {
                self.err(
                    &key,
                    secret.span(),
                    "a secret is named after an environment variable: letters, digits and `_`".into(),
                );
                continue;
            }
            if secret.get_ref().hosts.is_empty() {
                self.err(&key, secret.span(), "`hosts` is empty: name the hosts this secret may be sent to".into());
                continue;
            }
            if let Some(bad) = secret.get_ref().hosts.iter().find_map(|h| check_host_pattern(h).err().map(|e| (h, e))) {
                self.err(&key, secret.span(), format!("{:?}: {}", bad.0, bad.1));
                continue;
            }
            p.secrets.insert(name.clone(), secret.get_ref().clone());
        }
    }
}

fn check_tool_pattern(p: &str) -> Result<(), String> {
    if p == "*" || p.split_once('.').is_some_and(|(s, t)| !s.is_empty() && !t.is_empty()) {
        Ok(())
    } else {
        Err("a tool pattern is \"server.tool\" (with `*` as a wildcard), or \"*\"".into())
    }
}

fn check_server_pattern(p: &str) -> Result<(), String> {
    let ok = !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*'));
    if ok {
        Ok(())
    } else {
        Err("a server pattern is a server's name (letters, digits, `-`, `_`), `*` as a wildcard".into())
    }
}

fn check_host_pattern(h: &str) -> Result<(), String> {
    // A port (`host:8080`, `host:*`) may follow; without one, the scheme's
    // default port only.
    let Some((h, _)) = crate::net::split_port(h) else {
        return Err(
            "after `:` comes a port (1 to 65535) or `*`, as in \"example.org:8080\" or \"example.org:*\"".into()
        );
    };
    if h == "*" {
        return Ok(()); // any public host; private ranges still need allow_private
    }
    let bare = h.strip_prefix("*.").unwrap_or(h);
    if h.contains("://") || h.contains('/') {
        return Err(
            "a host pattern is a bare host name such as \"arxiv.org\" or \"*.wikipedia.org\", without scheme or path"
                .into(),
        );
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '[' | ']');
    if bare.is_empty() || !bare.chars().all(ok_char) {
        return Err("not a host name; `*` is only allowed as a leading \"*.\"".into());
    }
    Ok(())
}

fn check_local_root(r: &str) -> Result<(), String> {
    let path = Path::new(r);
    if !path.is_absolute() {
        return Err("local roots must be absolute paths".into());
    }
    if path.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return Err("local roots may not contain `..`".into());
    }
    if !path.is_dir() {
        return Err("no such directory on this machine".into());
    }
    if let Some(why) = overlaps_fathom(path) {
        return Err(why);
    }
    Ok(())
}

/// Why a local root would expose Fathom's own folders (the state with every
/// task's files, the compile cache, other sandboxes' workspaces) to a task,
/// if it would: a root may neither contain one nor sit inside one.
fn overlaps_fathom(root: &Path) -> Option<String> {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let root = canon(root);
    let state = crate::state_dir();
    let cache = std::env::var_os("FATHOM_CACHE_DIR").map(PathBuf::from).unwrap_or_else(|| state.join("cache"));
    let temp = canon(&std::env::temp_dir());
    for (what, dir) in [("Fathom's state folder", &state), ("Fathom's compile cache", &cache)] {
        let dir = canon(dir);
        if dir.starts_with(&root) {
            return Some(format!("it contains {what} ({}), which holds other tasks' files", dir.display()));
        }
        if root.starts_with(&dir) {
            return Some(format!("it is inside {what} ({})", dir.display()));
        }
    }
    // The command line's sandboxes live in the temporary folder.
    if temp.starts_with(&root) {
        return Some(format!(
            "it contains the temporary folder {}, where sandbox workspaces live; name a folder of your own data",
            temp.display()
        ));
    }
    let first = root.strip_prefix(&temp).ok().and_then(|rest| rest.components().next());
    if first.is_some_and(|c| {
        let name = c.as_os_str().to_string_lossy();
        name.starts_with("fathom-session-") || name.starts_with(".staging-")
    }) {
        return Some("it is inside a sandbox's folder".into());
    }
    None
}

// ---- loading ---------------------------------------------------------------

/// Where named policies are looked up: `FATHOM_POLICY_DIR` first, then the
/// presets compiled into the binary.
#[derive(Debug, Clone, Default)]
pub struct PolicyStore {
    pub dir: Option<PathBuf>,
}

impl PolicyStore {
    pub fn from_env() -> Self {
        PolicyStore { dir: std::env::var_os("FATHOM_POLICY_DIR").map(PathBuf::from) }
    }

    /// Names of every policy that can be named.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
        if let Some(dir) = &self.dir {
            if let Ok(rd) = std::fs::read_dir(dir) {
                for e in rd.flatten() {
                    let p = e.path();
                    if p.extension().is_some_and(|x| x == "toml") {
                        if let Some(stem) = p.file_stem() {
                            names.push(stem.to_string_lossy().into_owned());
                        }
                    }
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// Load `spec`, which is a policy name or a path to a `.toml` file.
    pub fn load(&self, spec: &str) -> Result<Policy, Vec<PolicyError>> {
        self.load_chain(spec.to_owned(), None)
    }

    /// Load a policy given as TOML text (an API request's inline policy,
    /// converted); `source` names it in errors. Its `extends` may name a
    /// policy, not a file.
    pub fn load_text(&self, source: &str, text: &str) -> Result<Policy, Vec<PolicyError>> {
        self.load_chain(source.to_owned(), Some(text.to_owned()))
    }

    fn load_chain(&self, spec: String, mut first_text: Option<String>) -> Result<Policy, Vec<PolicyError>> {
        let mut chain = Vec::new();
        let mut next = Some(spec);
        let mut relative_to: Option<PathBuf> = None;
        while let Some(spec) = next.take() {
            if chain.len() >= MAX_EXTENDS_DEPTH {
                return Err(vec![PolicyError {
                    source: spec,
                    line: None,
                    key: Some("extends".into()),
                    message: format!("`extends` chains more than {MAX_EXTENDS_DEPTH} deep; is there a cycle?"),
                }]);
            }
            let (source, text) = match first_text.take() {
                Some(text) => (spec, text),
                None => self.read(&spec, relative_to.as_deref())?,
            };
            if chain.iter().any(|(s, _, _): &(String, String, PolicyFile)| *s == source) {
                return Err(vec![PolicyError {
                    source,
                    line: None,
                    key: Some("extends".into()),
                    message: "`extends` forms a cycle".into(),
                }]);
            }
            let file = parse_file(&source, &text).map_err(|e| vec![e])?;
            next = file.extends.as_ref().map(|e| e.get_ref().clone());
            let path = Path::new(&source);
            relative_to = path.parent().filter(|_| path.is_file()).map(Path::to_path_buf);
            chain.push((source, text, file));
        }
        let mut policy = Policy::default();
        let mut errors = Vec::new();
        for (source, text, file) in chain.iter().rev() {
            let mut apply = Apply { source, text, errors: Vec::new() };
            apply.file(file, &mut policy);
            errors.extend(apply.errors);
        }
        // A child without a `name` of its own is still not its parent.
        if chain[0].2.name.is_none() {
            policy.name = chain[0].0.clone();
        }
        if policy.agent.max_output_tokens >= policy.agent.context_window_tokens {
            errors.push(PolicyError {
                source: chain[0].0.clone(),
                line: None,
                key: Some("agent.max_output_tokens".into()),
                message: format!(
                    "{} must be smaller than agent.context_window_tokens ({})",
                    policy.agent.max_output_tokens, policy.agent.context_window_tokens
                ),
            });
        }
        if errors.is_empty() { Ok(policy) } else { Err(errors) }
    }

    /// Returns (display name of the source, its text).
    fn read(&self, spec: &str, relative_to: Option<&Path>) -> Result<(String, String), Vec<PolicyError>> {
        let not_found = |message: String| vec![PolicyError { source: spec.to_owned(), line: None, key: None, message }];
        let looks_like_path = spec.contains('/') || spec.ends_with(".toml");
        if looks_like_path {
            let mut path = PathBuf::from(spec);
            if path.is_relative() {
                if let Some(base) = relative_to {
                    let candidate = base.join(&path);
                    if candidate.exists() {
                        path = candidate;
                    }
                }
            }
            return match std::fs::read_to_string(&path) {
                Ok(text) => Ok((path.display().to_string(), text)),
                Err(e) => Err(not_found(format!("cannot read policy file: {e}"))),
            };
        }
        if let Some(dir) = &self.dir {
            let path = dir.join(format!("{spec}.toml"));
            if let Ok(text) = std::fs::read_to_string(&path) {
                return Ok((path.display().to_string(), text));
            }
        }
        if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == spec) {
            return Ok((format!("policies/{spec}.toml"), (*text).to_owned()));
        }
        Err(not_found(format!(
            "no policy of that name; known policies: {} (or pass a path to a .toml file)",
            self.names().join(", ")
        )))
    }
}

/// Parse one file, turning toml's errors into ones that name key and line.
fn parse_file(source: &str, text: &str) -> Result<PolicyFile, PolicyError> {
    toml::from_str::<PolicyFile>(text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let key = line.and_then(|l| key_at_line(text, l));
        let message = e.message().trim().replace("unknown field", "unknown key");
        PolicyError { source: source.to_owned(), line, key, message }
    })
}

/// The dotted key written on `line` (1-based), found by reading back to the
/// nearest table header. Only used to make error messages precise.
pub(crate) fn key_at_line(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let here = lines.get(line - 1)?.trim();
    let header = |l: &str| {
        let l = l.trim();
        (l.starts_with('[') && !l.starts_with("[[")).then(|| l.trim_matches(['[', ']']).trim().to_owned())
    };
    if let Some(h) = header(here) {
        return Some(h);
    }
    let key = here.split('=').next()?.trim();
    if key.is_empty() || key.starts_with('#') {
        return None;
    }
    let section = lines[..line - 1].iter().rev().find_map(|l| header(l));
    Some(match section {
        Some(s) => format!("{s}.{key}"),
        None => key.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Policy, Vec<PolicyError>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, text).unwrap();
        PolicyStore::default().load(path.to_str().unwrap())
    }

    #[test]
    fn builtin_presets_are_valid() {
        let store = PolicyStore::default();
        for (name, _) in BUILTIN {
            let p = store.load(name).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(p.name, *name);
        }
        assert_eq!(store.load("default").unwrap(), Policy::default());
    }

    #[test]
    fn local_roots_may_not_overlap_fathoms_own_folders() {
        let temp = std::env::temp_dir();
        let errs = load_text(&format!("[files]\nlocal_roots = [{:?}]\n", temp)).unwrap_err();
        assert!(errs[0].to_string().contains("temporary folder"), "{}", errs[0]);
        let errs = load_text("[files]\nlocal_roots = [\"/\"]\n").unwrap_err();
        assert!(errs[0].to_string().contains("files.local_roots"), "{}", errs[0]);
        let state = crate::state_dir();
        if let Some(parent) = state.parent().filter(|p| p.is_dir()) {
            let errs = load_text(&format!("[files]\nlocal_roots = [{parent:?}]\n")).unwrap_err();
            assert!(errs[0].to_string().contains("state folder"), "{}", errs[0]);
        }
        let sandbox = tempfile::Builder::new().prefix("fathom-session-").tempdir().unwrap();
        let errs = load_text(&format!("[files]\nlocal_roots = [{:?}]\n", sandbox.path())).unwrap_err();
        assert!(errs[0].to_string().contains("sandbox's folder"), "{}", errs[0]);
        let data = tempfile::tempdir().unwrap();
        assert!(load_text(&format!("[files]\nlocal_roots = [{:?}]\n", data.path())).is_ok());
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let errs = load_text("name = \"x\"\n[sandbox]\nmemory_mb = 64\nmemroy_mb = 3\n").unwrap_err();
        let e = &errs[0];
        assert_eq!(e.line, Some(4), "{e}");
        assert_eq!(e.key.as_deref(), Some("sandbox.memroy_mb"), "{e}");
        assert!(e.message.contains("unknown key `memroy_mb`"), "{e}");
        let errs = load_text("[sandbx]\n").unwrap_err();
        assert!(errs[0].message.contains("unknown key `sandbx`"), "{}", errs[0]);
    }

    #[test]
    fn bad_values_name_key_and_line() {
        let errs = load_text("[sandbox]\n\nmemory_mb = 0\n[files]\nlocal_roots = [\"rel/dir\"]\n").unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert_eq!((errs[0].key.as_deref(), errs[0].line), (Some("sandbox.memory_mb"), Some(3)));
        assert!(errs[0].message.contains("out of range"));
        assert_eq!((errs[1].key.as_deref(), errs[1].line), (Some("files.local_roots"), Some(5)));
        assert!(errs[1].message.contains("absolute"));
        let errs = load_text("[sandbox]\nmemory_mb = \"lots\"\n").unwrap_err();
        assert_eq!((errs[0].key.as_deref(), errs[0].line), (Some("sandbox.memory_mb"), Some(2)), "{}", errs[0]);
        let errs = load_text("[sandbox]\ncall_timeout_secs = nan\n").unwrap_err();
        assert_eq!(errs[0].key.as_deref(), Some("sandbox.call_timeout_secs"));
    }

    #[test]
    fn extends_inherits_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("base.toml"), "extends = \"strict\"\n[sandbox]\nmemory_mb = 99\n").unwrap();
        std::fs::write(dir.path().join("child.toml"), "extends = \"base.toml\"\n[sandbox]\noutput_bytes = 7\n")
            .unwrap();
        let p = PolicyStore::default().load(dir.path().join("child.toml").to_str().unwrap()).unwrap();
        let strict = PolicyStore::default().load("strict").unwrap();
        assert_eq!(p.sandbox.memory_mb, 99);
        assert_eq!(p.sandbox.output_bytes, 7);
        assert_eq!(p.sandbox.call_fuel, strict.sandbox.call_fuel);
        std::fs::write(dir.path().join("a.toml"), "extends = \"b.toml\"\n").unwrap();
        std::fs::write(dir.path().join("b.toml"), "extends = \"a.toml\"\n").unwrap();
        let errs = PolicyStore::default().load(dir.path().join("a.toml").to_str().unwrap()).unwrap_err();
        assert!(errs[0].message.contains("cycle"), "{errs:?}");
    }

    #[test]
    fn unknown_name_lists_known_ones() {
        let errs = PolicyStore::default().load("nope").unwrap_err();
        assert!(
            errs[0]
                .message
                .contains("default, local-model, mirothinker-1.0, mirothinker-1.7, offline, research, strict"),
            "{}",
            errs[0]
        );
    }

    #[test]
    fn the_web_keys_are_checked_and_the_presets_set_them() {
        let errs = load_text("[tools]\nsummary_model = [\"\"]\n[search]\nbackend = \"bing\"\n").unwrap_err();
        let keys: Vec<_> = errs.iter().map(|e| (e.key.as_deref().unwrap_or(""), e.line)).collect();
        assert_eq!(keys, [("tools.summary_model", Some(2)), ("search.backend", Some(4))], "{errs:?}");
        let p = load_text("[search]\nbackend = \"searxng\"\n[tools]\nsearch = []\n").unwrap();
        assert_eq!(p.search.backend, Some(crate::search::Backend::Searxng));
        assert!(!p.grants_search("search_and_scrape_webpage"));
        let store = PolicyStore::default();
        let research = store.load("research").unwrap();
        assert!(research.tool_enabled("search_and_scrape_webpage", "google_search"));
        assert!(research.grants_summary_model("jina_scrape_llm_summary"));
        assert!(!research.grants_summary_model("tool-python"), "only the scrape tool may call the summary model");
        assert_eq!(store.load("offline").unwrap().search.backend, Some(crate::search::Backend::Local));
        for name in ["default", "strict"] {
            let p = store.load(name).unwrap();
            assert!(!p.tool_enabled("search_and_scrape_webpage", "google_search"), "{name}");
            assert!(!p.tool_enabled("jina_scrape_llm_summary", "scrape_and_extract_info"), "{name}");
        }
    }

    #[test]
    fn tool_patterns() {
        let mut p = Policy::default();
        assert!(p.tool_enabled("tool-python", "run_command"));
        p.tools.disabled = vec!["tool-python.run_*".into()];
        assert!(!p.tool_enabled("tool-python", "run_command"));
        assert!(p.tool_enabled("tool-python", "create_sandbox"));
        assert!(glob_match("*.wiki*", "en.wikipedia.org"));
        assert!(!glob_match("a*b", "ac"));
    }
}
