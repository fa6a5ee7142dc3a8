//! The daemon's configuration: one TOML file (`interface.md`), every key
//! overridable by a `FATHOM_<SECTION>_<KEY>` environment variable (the
//! environment wins), plus the model variables `interface.md` names.
//!
//! The `[secrets]` section is the operator's: the only secrets tasks may
//! use, each with where its value comes from and the hosts it may go to. A
//! task policy may name these and narrow their hosts ([`Config::grant_secrets`]),
//! never add one, so a task can never ask for an arbitrary environment
//! variable of the daemon (the model server's key, say).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::agent::run::ToolFormat;
use crate::llm::LlmConfig;
use crate::policy::Policy;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: Server,
    pub llm: Llm,
    pub summary_llm: Llm,
    /// The LLM judge of `fathom eval` (no default: without one, answers
    /// are judged by normalised exact match alone).
    pub judge_llm: Llm,
    pub search: Search,
    pub secrets: BTreeMap<String, SecretSource>,
}

/// `[search]`: the backend of `google_search` (`interface.md`). The Serper
/// key is the secret `SERPER_API_KEY`: from `[secrets]` when the config
/// names it there, else from the daemon's environment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Search {
    /// `serper`, `searxng` or `local`; default `serper` when a Serper key
    /// is set, else `local`.
    pub backend: Option<String>,
    pub serper_base_url: Option<String>,
    pub searxng_url: Option<String>,
    /// The offline index's folder (default `<state>/index`).
    pub index: Option<PathBuf>,
}

/// More warm instances than this only hold memory: they refill faster
/// than sandboxes are made.
pub const MAX_WARM_POOL: usize = 64;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// The Unix socket (default `$RUNTIME_DIRECTORY/fathom.sock` under
    /// systemd, else `$XDG_RUNTIME_DIR/fathom.sock`).
    pub socket: Option<PathBuf>,
    /// A TCP address to serve on as well (then `token` is required).
    pub listen: Option<String>,
    /// The bearer token TCP clients must send.
    pub token: Option<String>,
    /// Tasks running at once.
    pub concurrency: usize,
    /// Tasks waiting beyond those; more are answered `429`.
    pub queue: usize,
    /// Live sandboxes across every task and session.
    pub max_sandboxes: u64,
    /// A session unused this long is closed and its sandboxes freed.
    pub session_idle_secs: u64,
    /// Python instances kept warm for new sandboxes, per engine (a first
    /// call then skips the instance's start-up work); 0 turns it off.
    pub warm_pool: usize,
    /// Largest request body (an uploaded file, say).
    pub max_body_mb: u64,
    /// How long a shutdown waits for running tasks to checkpoint.
    pub shutdown_grace_secs: u64,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            socket: None,
            listen: None,
            token: None,
            concurrency: 4,
            queue: 1000,
            max_sandboxes: 256,
            session_idle_secs: 600,
            warm_pool: 4,
            max_body_mb: 64,
            shutdown_grace_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Llm {
    /// The endpoint's base URL; several data-parallel replicas of one model
    /// are listed separated by commas (`http://a:8000/v1, http://b:8000/v1`).
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key: Option<String>,
    /// Requests in flight per replica, across all tasks (default 16): a
    /// vLLM or SGLang server's `--max-num-seqs` is the natural value.
    pub max_in_flight: Option<usize>,
    /// `mcp-xml` (default) or `openai`; only read from `[llm]`.
    pub tool_format: Option<String>,
}

/// Where one secret's value comes from, and where it may be sent.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    /// The daemon's environment variable holding the value.
    pub env: Option<String>,
    /// A file holding the value (trailing newline trimmed).
    pub file: Option<PathBuf>,
    /// Host patterns the value may be sent to, as in `network.allow_hosts`.
    pub hosts: Vec<String>,
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSource")
            .field("env", &self.env)
            .field("file", &self.file)
            .field("hosts", &self.hosts)
            .finish()
    }
}

/// The default config file: `/etc/fathom/config.toml` under systemd, else
/// `$XDG_CONFIG_HOME/fathom/config.toml` (or `~/.config/...`).
pub fn default_path() -> PathBuf {
    if std::env::var_os("INVOCATION_ID").is_some() && std::env::var_os("STATE_DIRECTORY").is_some() {
        return PathBuf::from("/etc/fathom/config.toml");
    }
    let base = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".")).join(".config")
    });
    base.join("fathom").join("config.toml")
}

/// The daemon's socket when neither `--socket` nor the config names one.
pub fn default_socket() -> PathBuf {
    for var in ["RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR"] {
        if let Some(d) = std::env::var_os(var).filter(|d| !d.is_empty()) {
            // systemd may list several directories, separated by `:`.
            let first = std::env::split_paths(&d).next().unwrap_or_default();
            return first.join("fathom.sock");
        }
    }
    crate::state_dir().join("fathom.sock")
}

impl Config {
    /// Read `path` (or the default file when it exists), then apply the
    /// environment. Errors name the file, line and key.
    pub fn load(path: Option<&Path>) -> Result<Config, String> {
        let mut cfg = match path {
            Some(p) => Self::parse_file(p)?,
            None => {
                let p = default_path();
                if p.is_file() { Self::parse_file(&p)? } else { Config::default() }
            }
        };
        cfg.apply_env()?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn parse_file(path: &Path) -> Result<Config, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read the config {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let key = line.and_then(|l| crate::policy::key_at_line(&text, l));
            let message = e.message().trim().replace("unknown field", "unknown key");
            let at = match line {
                Some(l) => format!("{}:{l}", path.display()),
                None => path.display().to_string(),
            };
            match key {
                Some(k) => format!("{at}: `{k}`: {message}"),
                None => format!("{at}: {message}"),
            }
        })
    }

    fn apply_env(&mut self) -> Result<(), String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        /// `FATHOM_SERVER_<KEY>` parsed into `slot`, when set.
        fn set<T: std::str::FromStr>(slot: &mut T, key: &str) -> Result<(), String> {
            let name = format!("FATHOM_SERVER_{key}");
            match std::env::var(&name).ok().filter(|v| !v.trim().is_empty()) {
                Some(v) => {
                    v.trim().parse().map(|n| *slot = n).map_err(|_| format!("{name}={v:?} is not a valid value"))
                }
                None => Ok(()),
            }
        }
        let s = &mut self.server;
        s.socket = var("FATHOM_SERVER_SOCKET").map(PathBuf::from).or(s.socket.take());
        s.listen = var("FATHOM_SERVER_LISTEN").or(s.listen.take());
        s.token = var("FATHOM_SERVER_TOKEN").or(s.token.take());
        set(&mut s.concurrency, "CONCURRENCY")?;
        set(&mut s.queue, "QUEUE")?;
        set(&mut s.max_sandboxes, "MAX_SANDBOXES")?;
        set(&mut s.session_idle_secs, "SESSION_IDLE_SECS")?;
        set(&mut s.warm_pool, "WARM_POOL")?;
        set(&mut s.max_body_mb, "MAX_BODY_MB")?;
        set(&mut s.shutdown_grace_secs, "SHUTDOWN_GRACE_SECS")?;
        for (prefix, llm) in [
            ("FATHOM_LLM", &mut self.llm),
            ("FATHOM_SUMMARY_LLM", &mut self.summary_llm),
            ("FATHOM_JUDGE_LLM", &mut self.judge_llm),
        ] {
            llm.base_url = var(&format!("{prefix}_BASE_URL")).or(llm.base_url.take());
            llm.model = var(&format!("{prefix}_MODEL")).or(llm.model.take());
            llm.api_key = var(&format!("{prefix}_API_KEY")).or(llm.api_key.take());
            let name = format!("{prefix}_MAX_IN_FLIGHT");
            if let Some(v) = var(&name) {
                llm.max_in_flight = Some(v.trim().parse().map_err(|_| format!("{name}={v:?} is not a number"))?);
            }
        }
        if let Some(v) = var("FATHOM_TOOL_FORMAT") {
            self.llm.tool_format = Some(v);
        }
        let search = &mut self.search;
        search.backend = var("FATHOM_SEARCH_BACKEND").or(search.backend.take());
        search.serper_base_url = var("SERPER_BASE_URL").or(search.serper_base_url.take());
        search.searxng_url = var("SEARXNG_URL").or(search.searxng_url.take());
        search.index = var("FATHOM_SEARCH_INDEX").map(PathBuf::from).or(search.index.take());
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        let s = &self.server;
        if s.concurrency == 0 {
            return Err("server.concurrency must be at least 1".into());
        }
        if s.max_sandboxes == 0 {
            return Err("server.max_sandboxes must be at least 1".into());
        }
        if s.warm_pool > MAX_WARM_POOL {
            return Err(format!("server.warm_pool must be at most {MAX_WARM_POOL} (it is {})", s.warm_pool));
        }
        for (section, llm) in [("llm", &self.llm), ("summary_llm", &self.summary_llm), ("judge_llm", &self.judge_llm)] {
            if llm.max_in_flight == Some(0) {
                return Err(format!("{section}.max_in_flight must be at least 1"));
            }
        }
        for (key, urls) in [
            ("llm.base_url", &self.llm.base_url),
            ("summary_llm.base_url", &self.summary_llm.base_url),
            ("judge_llm.base_url", &self.judge_llm.base_url),
        ] {
            for u in urls.iter().flat_map(|u| split_urls(u)) {
                if !(u.starts_with("http://") || u.starts_with("https://")) {
                    return Err(format!("{key}: {u:?} is not an http(s) URL"));
                }
            }
        }
        self.tool_format()?;
        self.search_settings()?;
        for (name, src) in &self.secrets {
            match (&src.env, &src.file) {
                (Some(_), None) | (None, Some(_)) => {}
                _ => return Err(format!("secrets.{name}: give exactly one of `env` or `file`")),
            }
            if src.hosts.is_empty() {
                return Err(format!("secrets.{name}.hosts is empty: name the hosts this secret may be sent to"));
            }
        }
        Ok(())
    }

    /// `FATHOM_TOOL_FORMAT` / `llm.tool_format`.
    pub fn tool_format(&self) -> Result<ToolFormat, String> {
        match &self.llm.tool_format {
            Some(v) => v.trim().parse().map_err(|e| format!("llm.tool_format: {e}")),
            None => Ok(ToolFormat::McpXml),
        }
    }

    /// The main and summary model endpoints for a task under `policy` (the
    /// summary model's settings default to the main model's).
    pub fn llm_configs(&self, policy: &Policy) -> Result<(LlmConfig, LlmConfig), String> {
        let Some(base) = self.llm.base_url.clone() else {
            return Err("no model server: set FATHOM_LLM_BASE_URL (or llm.base_url in the config) to its OpenAI-compatible base URL (e.g. http://127.0.0.1:8000/v1)".into());
        };
        let timeout = Duration::from_secs_f64(policy.agent.task_timeout_secs.min(600.0));
        let mut main = endpoint(&base, self.llm.model.clone().unwrap_or_else(|| "default".into()));
        main.api_key = self.llm.api_key.clone();
        main.timeout = timeout;
        main.max_in_flight = self.llm.max_in_flight.unwrap_or(main.max_in_flight);
        let s = &self.summary_llm;
        let mut summary =
            endpoint(s.base_url.as_deref().unwrap_or(&base), s.model.clone().unwrap_or_else(|| main.model.clone()));
        summary.api_key = s.api_key.clone().or_else(|| main.api_key.clone());
        summary.timeout = timeout;
        summary.max_in_flight = s.max_in_flight.or(self.llm.max_in_flight).unwrap_or(summary.max_in_flight);
        Ok((main, summary))
    }

    /// The summary model for a task under `policy`: `[summary_llm]`, else
    /// the main model; `None` when neither is configured.
    pub fn summary_llm(&self, policy: &Policy) -> Option<LlmConfig> {
        let s = &self.summary_llm;
        let base = s.base_url.clone().or_else(|| self.llm.base_url.clone())?;
        let model = s.model.clone().or_else(|| self.llm.model.clone()).unwrap_or_else(|| "default".into());
        let mut cfg = endpoint(&base, model);
        cfg.api_key = s.api_key.clone().or_else(|| self.llm.api_key.clone());
        cfg.max_in_flight = s.max_in_flight.or(self.llm.max_in_flight).unwrap_or(cfg.max_in_flight);
        cfg.timeout = Duration::from_secs_f64(policy.agent.task_timeout_secs.min(600.0));
        // A tool call has a deadline of its own: a few quick retries, not
        // the main model's patient ten.
        cfg.max_attempts = 3;
        cfg.backoff = Duration::from_millis(500);
        Some(cfg)
    }

    /// The judge of `fathom eval`: `[judge_llm]` (its key defaults to the
    /// main model's when both are on one server); `None` when no base URL
    /// is set, and answers are then judged by exact match alone.
    pub fn judge_llm(&self) -> Option<LlmConfig> {
        let j = &self.judge_llm;
        let base = j.base_url.clone()?;
        let mut cfg = endpoint(&base, j.model.clone().unwrap_or_else(|| "default".into()));
        cfg.api_key =
            j.api_key.clone().or_else(|| self.llm.api_key.clone().filter(|_| j.base_url == self.llm.base_url));
        cfg.max_in_flight = j.max_in_flight.unwrap_or(cfg.max_in_flight);
        cfg.timeout = Duration::from_secs(300);
        Some(cfg)
    }

    /// The search backend's settings, resolved: the backend (default
    /// `serper` when a Serper key is set, else `local`), its URLs checked,
    /// and the Serper key read.
    pub fn search_settings(&self) -> Result<crate::search::Settings, String> {
        use crate::search::{Backend, SERPER_DEFAULT_URL, Settings};
        let s = &self.search;
        let serper_key = match self.secrets.get("SERPER_API_KEY") {
            Some(src) => src.value(),
            None => std::env::var("SERPER_API_KEY").ok().filter(|v| !v.is_empty()),
        };
        let backend = match &s.backend {
            Some(b) => b.parse().map_err(|e| format!("search.backend: {e}"))?,
            None if serper_key.is_some() => Backend::Serper,
            None => Backend::Local,
        };
        for (key, url) in [("search.serper_base_url", &s.serper_base_url), ("search.searxng_url", &s.searxng_url)] {
            if let Some(u) = url {
                if reqwest::Url::parse(u)
                    .map_or(true, |u| !matches!(u.scheme(), "http" | "https") || u.host().is_none())
                {
                    return Err(format!("{key} = {u:?} is not an http(s) URL"));
                }
            }
        }
        if backend == Backend::Searxng && s.searxng_url.is_none() {
            return Err("search.backend = \"searxng\" needs search.searxng_url (or SEARXNG_URL): the base URL of a SearXNG instance with its JSON API on".into());
        }
        Ok(Settings {
            backend,
            serper_base_url: s.serper_base_url.clone().unwrap_or_else(|| SERPER_DEFAULT_URL.into()),
            serper_key,
            searxng_url: s.searxng_url.clone(),
            index: s.index.clone().unwrap_or_else(crate::search::default_index_path),
        })
    }

    /// Give a session the host services its tools may be granted: the
    /// search settings and the summary model (for the task `id`, whose
    /// requests carry it). A summary model that cannot be set up is left
    /// out, and the tools that need it say so.
    pub fn provide_services(&self, opts: &mut crate::runtime::SessionOptions, id: &str) {
        opts.search = self.search_settings().ok().map(Arc::new);
        opts.summary = self
            .summary_llm(&opts.policy)
            .and_then(|cfg| crate::caps::summary::SummaryModel::new(cfg, id).ok())
            .map(Arc::new);
    }

    /// Check `policy`'s `[secrets]` against the operator's, and read the
    /// values it may use. A secret the config does not hold, or a host
    /// beyond the config's, is refused with the policy key.
    pub fn grant_secrets(&self, policy: &Policy) -> Result<Arc<BTreeMap<String, String>>, String> {
        let mut values = BTreeMap::new();
        for (name, wanted) in &policy.secrets {
            let Some(src) = self.secrets.get(name) else {
                let held: Vec<&str> = self.secrets.keys().map(String::as_str).collect();
                return Err(format!(
                    "secrets.{name}: the daemon holds no secret of that name (it holds: {}); a policy may only use the secrets of the daemon's config",
                    if held.is_empty() { "none".to_owned() } else { held.join(", ") }
                ));
            };
            if let Some(h) = wanted.hosts.iter().find(|h| !src.hosts.iter().any(|p| pattern_covers(p, h))) {
                return Err(format!(
                    "secrets.{name}.hosts: {h:?} is beyond the hosts the daemon allows for this secret ({}); a policy may only narrow them",
                    src.hosts.join(", ")
                ));
            }
            if let Some(v) = src.value() {
                values.insert(name.clone(), v);
            }
        }
        Ok(Arc::new(values))
    }

    /// The effective config as TOML, with the token and API keys masked
    /// (`[secrets]` holds only where values come from, never a value).
    pub fn masked(&self) -> String {
        let mut c = self.clone();
        let mask = |v: &mut Option<String>| {
            if v.is_some() {
                *v = Some("********".into());
            }
        };
        mask(&mut c.server.token);
        mask(&mut c.llm.api_key);
        mask(&mut c.summary_llm.api_key);
        mask(&mut c.judge_llm.api_key);
        toml::to_string(&c).unwrap_or_default()
    }

    /// Every secret value the daemon holds, for redaction of logs and events.
    pub fn secret_values(&self) -> Vec<String> {
        self.secrets.values().filter_map(SecretSource::value).collect()
    }
}

impl SecretSource {
    fn value(&self) -> Option<String> {
        let v = match (&self.env, &self.file) {
            (Some(var), _) => std::env::var(var).ok(),
            (None, Some(file)) => {
                std::fs::read_to_string(file).ok().map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
            }
            (None, None) => None,
        };
        v.filter(|v| !v.is_empty())
    }
}

/// The base URLs of a comma-separated list.
fn split_urls(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|u| !u.is_empty())
}

/// An endpoint of one or several replicas (`base_url`'s list).
fn endpoint(list: &str, model: String) -> LlmConfig {
    let mut urls = split_urls(list).map(str::to_owned);
    let mut cfg = LlmConfig::new(urls.next().unwrap_or_default(), model);
    cfg.replicas = urls.collect();
    cfg
}

/// Whether host pattern `outer` allows everything `inner` does, ports
/// included (`host:*` covers `host:8080`; `host` covers only `host`).
pub fn pattern_covers(outer: &str, inner: &str) -> bool {
    let (Some((outer, outer_port)), Some((inner, inner_port))) =
        (crate::net::split_port(outer), crate::net::split_port(inner))
    else {
        return false;
    };
    if !outer_port.covers(inner_port) {
        return false;
    }
    if outer == "*" {
        return true;
    }
    let outer = outer.to_ascii_lowercase();
    let inner = inner.to_ascii_lowercase();
    match (outer.strip_prefix("*."), inner.strip_prefix("*.")) {
        (None, None) => outer == inner,
        (None, Some(_)) => false,
        (Some(o), None) => inner.ends_with(&format!(".{o}")),
        (Some(o), Some(i)) => i == o || i.ends_with(&format!(".{o}")),
    }
}

#[cfg(test)]
mod tests {
    use super::{Config, SecretSource, pattern_covers};
    use crate::search::Backend;

    #[test]
    fn a_warm_pool_past_its_bound_is_refused_by_name() {
        let mut c = Config::default();
        assert_eq!(c.server.warm_pool, 4);
        c.server.warm_pool = super::MAX_WARM_POOL + 1;
        assert_eq!(c.validate().unwrap_err(), "server.warm_pool must be at most 64 (it is 65)");
    }

    #[test]
    fn several_base_urls_are_replicas_of_one_endpoint() {
        let mut c = Config::default();
        c.llm.base_url = Some("http://a:8000/v1, http://b:8000/v1,".into());
        let (main, summary) = c.llm_configs(&crate::policy::Policy::default()).unwrap();
        assert_eq!(main.base_urls().collect::<Vec<_>>(), ["http://a:8000/v1", "http://b:8000/v1"]);
        assert_eq!(summary.base_urls().count(), 2, "the summary model defaults to the same replicas");
        c.llm.base_url = Some("http://a:8000/v1, b:8000".into());
        assert!(c.validate().unwrap_err().contains("\"b:8000\" is not an http(s) URL"));
    }

    #[test]
    fn the_search_backend_defaults_to_serper_with_a_key_else_local() {
        let key_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(key_file.path(), "sk-test\n").unwrap();
        let mut c = Config::default();
        c.secrets.insert(
            "SERPER_API_KEY".into(),
            SecretSource { env: None, file: Some(key_file.path().into()), hosts: vec!["google.serper.dev".into()] },
        );
        let s = c.search_settings().unwrap();
        assert_eq!((s.backend, s.serper_key.as_deref()), (Backend::Serper, Some("sk-test")));
        assert_eq!(s.serper_base_url, "https://google.serper.dev");
        assert!(!format!("{s:?}").contains("sk-test"), "the key is masked in debug output");

        let mut c = Config::default();
        c.search.backend = Some("SearXNG".into());
        let e = c.search_settings().unwrap_err();
        assert!(e.contains("search.searxng_url"), "{e}");
        c.search.searxng_url = Some("ftp://x".into());
        assert!(c.search_settings().unwrap_err().contains("not an http(s) URL"));
        c.search.searxng_url = Some("http://127.0.0.1:8888".into());
        assert_eq!(c.search_settings().unwrap().backend, Backend::Searxng);
        c.search.backend = Some("bing".into());
        assert!(c.search_settings().unwrap_err().contains("expected serper, searxng or local"));
        if std::env::var_os("SERPER_API_KEY").is_none() {
            assert_eq!(Config::default().search_settings().unwrap().backend, Backend::Local);
        }
    }

    #[test]
    fn narrowing_host_patterns() {
        assert!(pattern_covers("*", "a.org"));
        assert!(pattern_covers("a.org", "A.org"));
        assert!(!pattern_covers("a.org", "b.org"));
        assert!(pattern_covers("*.a.org", "x.a.org"));
        assert!(pattern_covers("*.a.org", "*.x.a.org"));
        assert!(!pattern_covers("*.a.org", "a.org"));
        assert!(!pattern_covers("a.org", "*.a.org"));
        assert!(!pattern_covers("*.a.org", "*"));
        assert!(!pattern_covers("*.a.org", "xa.org"));
        assert!(pattern_covers("a.org:*", "a.org:8080"));
        assert!(pattern_covers("a.org:*", "a.org"));
        assert!(!pattern_covers("a.org", "a.org:8080"));
        assert!(!pattern_covers("a.org:8080", "a.org:8081"));
        assert!(!pattern_covers("*", "a.org:8080"));
    }
}
