//! The installed tools: components found in the tools folders, plus the
//! tools the host implements itself (`create_sandbox`).
//!
//! A component that cannot be read, compiled, instantiated or described is
//! recorded as a [`LoadError`] and skipped; it never stops the others.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};
use wasmtime::Engine;
use wasmtime::component::{ComponentExportIndex, Linker};

use super::cache::{CompileCache, Origin};
use super::session::{arm_and, new_store};
use super::snapshot;
use super::{HostState, Progress, RuntimeOptions};
use crate::caps::filesystem::Mounts;
use crate::policy::Policy;
use crate::wit::{Manifest, Tool, ToolPre};

/// Tools implemented by the host rather than by a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    CreateSandbox,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolKind {
    Builtin(Builtin),
    /// Index into the registry's components.
    Component(usize),
}

/// One callable tool, as `fathom tool list` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ToolInfo {
    pub server: String,
    pub name: String,
    pub description: String,
    pub input_schema: Value,
    #[serde(skip)]
    pub kind: ToolKind,
    /// The tool works in a sandbox named by its `sandbox_id` argument.
    #[serde(skip)]
    pub takes_sandbox: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadError {
    pub path: PathBuf,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComponentInfo {
    pub path: PathBuf,
    pub server: String,
    pub stateful: bool,
    pub local_files: bool,
    pub snapshotted: bool,
    pub cached: bool,
}

pub(crate) struct LoadedComponent {
    pub path: PathBuf,
    pub server: String,
    pub stateful: bool,
    pub local_files: bool,
    /// Instances start from a pre-initialised snapshot.
    pub snapshotted: bool,
    pub origin: Origin,
    pub pre: ToolPre<HostState>,
    /// The component's `warm-up` export (`warmable-tool`), if it has one.
    pub warm_up: Option<ComponentExportIndex>,
}

impl LoadedComponent {
    pub fn info(&self) -> ComponentInfo {
        ComponentInfo {
            path: self.path.clone(),
            server: self.server.clone(),
            stateful: self.stateful,
            local_files: self.local_files,
            snapshotted: self.snapshotted,
            cached: self.origin == Origin::Cached,
        }
    }
}

pub(crate) struct Registry {
    pub components: Vec<LoadedComponent>,
    pub tools: Vec<ToolInfo>,
    pub errors: Vec<LoadError>,
}

fn create_sandbox_tool() -> ToolInfo {
    ToolInfo {
        server: "tool-python".into(),
        name: "create_sandbox".into(),
        description: "Create a linux sandbox (a workspace at /home/user with Python and shell tools). \
                      Returns its sandbox_id, which every other tool of this server takes."
            .into(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "timeout": {
                    "type": "integer",
                    "description": "Seconds the sandbox lives before it is freed.",
                    "default": 600,
                    "minimum": 1
                }
            }
        }),
        kind: ToolKind::Builtin(Builtin::CreateSandbox),
        takes_sandbox: false,
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Registry {
    pub async fn load(
        engine: &Engine,
        linker: &Linker<HostState>,
        cache: &CompileCache,
        opts: &RuntimeOptions,
    ) -> Registry {
        let dirs = &opts.tools_dirs;
        let mut reg = Registry { components: Vec::new(), tools: vec![create_sandbox_tool()], errors: Vec::new() };
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            let mut paths: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
                .collect();
            paths.sort();
            for path in paths {
                if let Err(message) = reg.load_one(engine, linker, cache, &path, opts.progress.as_ref()).await {
                    reg.errors.push(LoadError { path, message });
                }
            }
        }
        reg.tools.sort_by(|a, b| (&a.server, &a.name).cmp(&(&b.server, &b.name)));
        reg
    }

    async fn load_one(
        &mut self,
        engine: &Engine,
        linker: &Linker<HostState>,
        cache: &CompileCache,
        path: &Path,
        progress: Option<&Progress>,
    ) -> Result<(), String> {
        let say = |what: &str| {
            if let Some(p) = progress {
                p(&format!("{what} {} (once; cached afterwards)", path.display()));
            }
        };
        let mut source = cache.source(path).map_err(|e| format!("cannot read: {e}"))?;
        // Describe and snapshot in a throwaway sandbox with modest limits.
        let mut policy = Policy::default();
        policy.sandbox.call_timeout_secs = 60.0;
        policy.sandbox.memory_mb = 1024;
        let mounts = Mounts::default();

        // A snapshot made earlier stands in for the component itself.
        // The variant names the pre-initialisation procedure: change it when
        // the way snapshots are made changes, so old ones are not reused.
        let snapshot_path = cache.path_for(&source, "-snapshot3");
        let (mut component, mut origin, mut snapshotted) = match cache.get(engine, &snapshot_path) {
            Some(c) => (c, Origin::Cached, true),
            None => {
                if !cache.path_for(&source, "").is_file() {
                    say("compiling");
                }
                let (c, o) =
                    cache.load(engine, &mut source).map_err(|e| format!("not a valid WebAssembly component: {e:#}"))?;
                (c, o, false)
            }
        };
        let (mut pre, manifest) = describe(engine, linker, &component, &policy, &mounts).await?;
        if manifest.snapshot && !snapshotted {
            let _lock = cache.lock(&snapshot_path);
            component = match cache.get(engine, &snapshot_path) {
                Some(c) => c,
                None => {
                    say("pre-initialising");
                    let bytes = source.bytes().map_err(|e| format!("cannot read: {e}"))?;
                    let snap = snapshot::snapshot(engine, linker, bytes, &policy, &mounts)
                        .await
                        .map_err(|e| format!("failed while pre-initialising (init): {e:#}"))?;
                    origin = Origin::Compiled;
                    cache
                        .put(engine, &snapshot_path, &snap)
                        .map_err(|e| format!("its snapshot does not compile: {e:#}"))?
                }
            };
            snapshotted = true;
            pre = describe(engine, linker, &component, &policy, &mounts).await?.0;
        }

        if !valid_name(&manifest.server) {
            return Err(format!("server name {:?} must be 1-64 letters, digits, `_` or `-`", manifest.server));
        }
        let index = self.components.len();
        let mut specs = Vec::new();
        for t in manifest.tools {
            if !valid_name(&t.name) {
                return Err(format!("tool name {:?} must be 1-64 letters, digits, `_` or `-`", t.name));
            }
            let schema: Value = serde_json::from_str(&t.input_schema)
                .map_err(|e| format!("tool `{}`: input schema is not JSON: {e}", t.name))?;
            if !schema.is_object() {
                return Err(format!("tool `{}`: input schema is not a JSON object", t.name));
            }
            if let Some(other) = self.tools.iter().find(|x| x.server == manifest.server && x.name == t.name) {
                let by = match other.kind {
                    ToolKind::Builtin(_) => "the host".to_owned(),
                    ToolKind::Component(i) => self.components[i].path.display().to_string(),
                };
                return Err(format!("tool `{}.{}` is already provided by {by}", manifest.server, t.name));
            }
            let takes_sandbox = schema.pointer("/properties/sandbox_id").is_some();
            specs.push(ToolInfo {
                server: manifest.server.clone(),
                name: t.name,
                description: t.description,
                input_schema: schema,
                kind: ToolKind::Component(index),
                takes_sandbox,
            });
        }
        self.tools.extend(specs);
        let warm_up = component.get_export_index(None, "warm-up");
        self.components.push(LoadedComponent {
            path: path.to_path_buf(),
            server: manifest.server,
            stateful: manifest.stateful,
            local_files: manifest.local_files,
            snapshotted,
            origin,
            pre,
            warm_up,
        });
        Ok(())
    }

    pub fn lookup(&self, server: &str, tool: &str) -> Option<&ToolInfo> {
        self.tools.iter().find(|t| t.server == server && t.name == tool)
    }
}

/// Link a component and ask it for its manifest in a throwaway instance.
async fn describe(
    engine: &Engine,
    linker: &Linker<HostState>,
    component: &wasmtime::component::Component,
    policy: &Policy,
    mounts: &Mounts,
) -> Result<(ToolPre<HostState>, Manifest), String> {
    let pre =
        linker.instantiate_pre(component).map_err(|e| format!("imports something Fathom does not provide: {e:#}"))?;
    let pre = ToolPre::new(pre).map_err(|e| format!("does not implement the fathom:tool world: {e:#}"))?;
    let mut store = new_store(engine, policy, mounts, &Default::default(), "").map_err(|e| format!("{e:#}"))?;
    let manifest = arm_and(policy, &mut store, async |store| {
        let tool: Tool = pre.instantiate_async(&mut *store).await?;
        tool.call_manifest(&mut *store).await
    })
    .await
    .map_err(|e| format!("failed while describing itself (manifest): {e:#}"))?;
    Ok((pre, manifest))
}
