//! A POSIX-ish shell plus coreutils in pure Rust, for tools that run as WASI components.
//!
//! There are no processes: every command is implemented in this crate and runs in-process, pipelines run
//! sequentially with byte buffers between the stages, `python`/`python3` and HTTP go through [`Host`].
//! Paths are resolved against the shell's own current directory (the process cwd is never changed).

mod awk;
mod cmds;
mod exec;
mod fsutil;
mod parse;
mod printf;
mod sed;

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The result of [`Shell::run`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: i32,
}

/// One HTTP request, executed by [`Host::fetch`].
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

/// The answer to an [`HttpRequest`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpResponse {
    pub status: u16,
    /// Final URL after redirects.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body was cut at the host's download cap.
    pub truncated: bool,
}

/// What the shell cannot do by itself.
pub trait Host {
    /// `python`/`python3` ARGS: args after the program name (`["-c","print(1)"]`, `["x.py","a"]`, `[]` = read
    /// program from stdin). Runs in the same sandbox's interpreter; `cwd` is the shell's current directory, `env` the
    /// exported variables.
    fn python(&mut self, args: &[String], stdin: &[u8], cwd: &Path, env: &[(String, String)]) -> Output;
    /// One HTTP request through the host's network policy. The host follows redirects and enforces the allowlist;
    /// Err is a human-readable refusal/failure message.
    fn fetch(&mut self, req: HttpRequest) -> Result<HttpResponse, String>;
}

#[derive(Debug, Clone)]
pub(crate) struct Var {
    pub value: String,
    pub exported: bool,
}

/// Shell state: current directory, variables (exported or not), functions, last exit code.
#[derive(Clone)]
pub struct Shell {
    pub(crate) cwd: PathBuf,
    pub(crate) home: PathBuf,
    pub(crate) oldpwd: Option<PathBuf>,
    pub(crate) vars: BTreeMap<String, Var>,
    pub(crate) funcs: HashMap<String, Arc<parse::Command>>,
    pub(crate) params: Vec<String>,
    pub(crate) last: i32,
    pub(crate) depth: u32,
    /// `set -e`
    pub(crate) errexit: bool,
    /// > 0 while running an `if`/`while` condition (where `set -e` does not apply)
    pub(crate) cond_depth: u32,
}

impl Shell {
    /// `home` is the workspace root: initial cwd, $HOME, and what `cd` with no args goes to.
    pub fn new(home: impl Into<PathBuf>) -> Shell {
        let home = fsutil::normalize(Path::new("/"), &home.into());
        let mut sh = Shell {
            cwd: home.clone(),
            home: home.clone(),
            oldpwd: None,
            vars: BTreeMap::new(),
            funcs: HashMap::new(),
            params: Vec::new(),
            last: 0,
            depth: 0,
            errexit: false,
            cond_depth: 0,
        };
        let h = home.to_string_lossy().into_owned();
        for (k, v) in [
            ("HOME", h.as_str()),
            ("PWD", h.as_str()),
            ("PATH", "/usr/local/bin:/usr/bin:/bin"),
            ("USER", "user"),
            ("LOGNAME", "user"),
            ("SHELL", "/bin/sh"),
            ("LANG", "C.UTF-8"),
            ("TERM", "dumb"),
            ("HOSTNAME", "sandbox"),
        ] {
            sh.set_var(k, v.to_string(), true);
        }
        sh
    }

    /// Run one command line / script. State (cwd, vars) persists across calls.
    pub fn run(&mut self, script: &str, host: &mut dyn Host) -> Output {
        let mut out = Output::default();
        let code = exec::run_script(self, host, script, &mut out.stdout, &mut out.stderr);
        self.last = code;
        out.exit_code = code;
        out
    }

    /// The shell's current directory.
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// Value of a shell variable, if set.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|v| v.value.as_str())
    }

    /// Set a variable (exported or not).
    pub fn set_var(&mut self, name: &str, value: String, export: bool) {
        if name == "PWD" && !value.is_empty() && value.starts_with('/') {
            // keep cwd as the source of truth; assigning PWD does not cd
        }
        let e = self.vars.entry(name.to_string()).or_insert(Var { value: String::new(), exported: false });
        e.value = value;
        e.exported |= export;
    }

    /// Exported variables, sorted by name.
    pub fn env(&self) -> Vec<(String, String)> {
        self.vars.iter().filter(|(_, v)| v.exported).map(|(k, v)| (k.clone(), v.value.clone())).collect()
    }

    /// The names of every command this shell provides (builtins and utilities), sorted.
    pub fn commands() -> Vec<&'static str> {
        let mut v: Vec<&'static str> = cmds::NAMES.iter().copied().chain(exec::BUILTINS.iter().copied()).collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}
