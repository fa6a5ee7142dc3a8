//! # fathom-sdk: write a Fathom tool in a few lines
//!
//! A Fathom tool is a WebAssembly component (built for `wasm32-wasip2`) that
//! implements the `fathom:tool` world in `sdk/wit/tool.wit` (as its
//! `warmable-tool` extension, whose `warm-up` a toolbox may fill in with
//! [`Toolbox::with_warm_up`]): it describes its
//! tools in a manifest and answers calls of the form *tool name + JSON
//! arguments → text*. This crate hides the component plumbing: a tool is a
//! plain Rust function over a `serde` argument struct, and its JSON Schema —
//! what the model sees — is derived from that struct with `schemars`, so the
//! schema and the parser can never disagree.
//!
//! ```
//! use fathom_sdk::{JsonSchema, Toolbox, ToolError};
//! use serde::Deserialize;
//!
//! /// Arguments of `word_count`. Doc comments become schema descriptions.
//! #[derive(Deserialize, JsonSchema)]
//! struct WordCountArgs {
//!     /// The text to count words in.
//!     text: String,
//! }
//!
//! fn word_count(args: WordCountArgs) -> Result<String, ToolError> {
//!     if args.text.len() > 1_000_000 {
//!         return Err(ToolError::failed("text is over 1 MB; pass a smaller piece"));
//!     }
//!     Ok(args.text.split_whitespace().count().to_string())
//! }
//!
//! fn toolbox() -> Toolbox {
//!     Toolbox::new("text-tools").tool("word_count", "Count the words in a text.", word_count)
//! }
//!
//! // In the component crate this one line exports the toolbox:
//! // fathom_sdk::export!(toolbox);
//!
//! // The same toolbox can be exercised natively in unit tests:
//! let mut tb = toolbox();
//! assert_eq!(tb.call("word_count", r#"{"text": "a b c"}"#).unwrap(), "3");
//! assert!(tb.call("word_count", r#"{"txt": 1}"#).is_err());
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` and install
//! the resulting `.wasm` with `fathom tool install`; `fathom tool new NAME`
//! scaffolds such a crate with a passing test.
//!
//! ## What a tool can reach
//! Only what its sandbox grants: the task workspace at `/home/user`, captured
//! stdout/stderr (capped), clocks and random numbers. There is no other host
//! directory and no environment beyond the operator's settings for the
//! tool's own server, and every call runs under a fuel budget, a wall-clock
//! deadline and a memory cap. Use the filesystem through `std::fs` as usual.
//! The network ([`http`]), the offline search index ([`search_index`]) and
//! the summary model ([`summary_model`]) are host imports a task's policy
//! grants per server.
//!
//! ## Stateful tools
//! [`Toolbox::stateful`] keeps a value of your choosing between calls in the
//! same sandbox (the host keeps that component instance alive for the
//! sandbox). If a call hits a limit the instance is discarded and the next
//! call starts from a fresh state.

use std::fmt;

pub use schemars::{self, JsonSchema};
use serde::de::DeserializeOwned;

/// Outgoing HTTP through the host's network layer, the only network a tool
/// has. What a request may reach is the task's policy, enforced by the host
/// on every hop: see `[network]` and `[secrets]` in the policy schema.
///
/// ```no_run
/// let page = fathom_sdk::http::get("https://arxiv.org/abs/2401.00001")?;
/// assert!(page.status == 200 || page.truncated || true);
/// # Ok::<(), String>(())
/// ```
pub mod http {
    pub use crate::__bindings::fathom::tool::http::{Request, Response, fetch};

    /// A GET of `url`; the error says why the host refused or failed it.
    pub fn get(url: &str) -> Result<Response, String> {
        fetch(&Request { method: "GET".into(), url: url.into(), headers: Vec::new(), body: None })
    }

    /// The first value of the response header `name` (any case), or "".
    pub fn header<'a>(response: &'a Response, name: &str) -> &'a str {
        response.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).unwrap_or("")
    }
}

/// Paths a tool may read: the sandbox workspace, and the local folders a
/// task's policy grants a local-files tool ([`Toolbox::with_local_files`]).
/// The host enforces the same through the preopens; these say it first,
/// and in words the model can act on.
pub mod local {
    use std::path::{Component, Path, PathBuf};

    /// The sandbox workspace, as the guest sees it.
    pub const WORKSPACE: &str = "/home/user";

    /// The local folders this instance may read (`FATHOM_LOCAL_ROOTS`).
    pub fn roots() -> Vec<PathBuf> {
        std::env::var("FATHOM_LOCAL_ROOTS")
            .map(|v| v.split(':').filter(|s| !s.is_empty()).map(PathBuf::from).collect())
            .unwrap_or_default()
    }

    /// `path` with `.` and `..` resolved, without touching the filesystem.
    pub fn normalize(path: &Path) -> PathBuf {
        let mut out = PathBuf::from("/");
        for c in path.components() {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::Normal(p) => out.push(p),
                _ => {}
            }
        }
        out
    }

    /// `raw` (a path, relative ones from the workspace, or a `file://`
    /// URI) as a path the tool may read, or why it may not.
    pub fn readable_path(raw: &str) -> Result<PathBuf, String> {
        let raw = raw.strip_prefix("file://").unwrap_or(raw);
        let joined = if Path::new(raw).is_absolute() { PathBuf::from(raw) } else { Path::new(WORKSPACE).join(raw) };
        let path = normalize(&joined);
        let roots = roots();
        if path.starts_with(WORKSPACE) || roots.iter().any(|r| path.starts_with(r)) {
            return Ok(path);
        }
        let mut allowed = vec![format!("{WORKSPACE} (the sandbox workspace)")];
        allowed.extend(roots.iter().map(|r| r.display().to_string()));
        Err(format!(
            "'{}' is outside what this tool may read: {} (local folders are set by files.local_roots and the task's \
             attachments)",
            path.display(),
            allowed.join(", ")
        ))
    }

    /// The bytes of the regular file at `path`, up to `max_bytes`; the
    /// error says what to do instead.
    pub fn read_file(path: &Path, max_bytes: u64) -> Result<Vec<u8>, String> {
        let failed = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::NotFound => format!("no such file: {}", path.display()),
            std::io::ErrorKind::PermissionDenied => {
                format!("cannot read {}: it leads outside the folders this tool may use", path.display())
            }
            _ => format!("{}: {e}", path.display()),
        };
        let meta = std::fs::metadata(path).map_err(failed)?;
        if meta.is_dir() {
            return Err(format!("{} is a folder; give the path of a file in it", path.display()));
        }
        if !meta.is_file() {
            return Err(format!("{} is not a regular file (a FIFO, device or socket)", path.display()));
        }
        if meta.len() > max_bytes {
            return Err(format!(
                "{} is {} MB; this tool takes files up to {} MB: upload it to a sandbox and process it in parts there",
                path.display(),
                meta.len() >> 20,
                max_bytes >> 20
            ));
        }
        std::fs::read(path).map_err(failed)
    }
}

/// Rules of the web research protocol shared by the search and scrape tools.
pub mod web {
    /// Hosts whose datasets and spaces hold benchmark answers.
    const LEAK_HOSTS: &[&str] = &["huggingface.co", "hf.co"];

    /// Whether `link` is a Hugging Face dataset or space page, which the
    /// protocol keeps from the agent to avoid benchmark leakage.
    pub fn leaks_benchmarks(link: &str) -> bool {
        let rest = link.split_once("://").map_or(link, |(_, r)| r);
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        let host = host.split(':').next().unwrap_or("").to_ascii_lowercase();
        let host = host.strip_prefix("www.").unwrap_or(&host);
        LEAK_HOSTS.contains(&host) && (path.starts_with("datasets") || path.starts_with("spaces"))
    }

    #[cfg(test)]
    mod tests {
        use super::leaks_benchmarks;

        #[test]
        fn leak_hosts_are_recognised() {
            for leak in [
                "https://huggingface.co/datasets/gaia-benchmark/GAIA",
                "https://www.huggingface.co/spaces/x/y",
                "http://hf.co/datasets/a",
                "https://HuggingFace.co:443/datasets/a",
            ] {
                assert!(leaks_benchmarks(leak), "{leak}");
            }
            for fine in [
                "https://huggingface.co/papers/2401.1",
                "https://huggingface.co/Qwen/Qwen2.5",
                "https://example.org/datasets/x",
                "https://nothuggingface.co/datasets/x",
            ] {
                assert!(!leaks_benchmarks(fine), "{fine}");
            }
        }
    }
}

/// The offline search index the host serves (`fathom index build`), to
/// the servers a task's policy grants it (`tools.search`).
pub mod search_index {
    pub use crate::__bindings::fathom::tool::search_index::{Hit, document, query};
}

/// The summary model: the host sends one prompt to the lightweight model
/// the operator configured and returns its reply, to the servers a task's
/// policy grants it (`tools.summary_model`). Its tokens count toward the
/// task's usage.
pub mod summary_model {
    pub use crate::__bindings::fathom::tool::summary_model::{Completion, SummaryError, complete};
}

#[doc(hidden)]
pub mod __bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "warmable-tool",
        pub_export_macro: true,
        export_macro_name: "__export_tool_world",
        default_bindings_module: "fathom_sdk::__bindings",
    });
}

/// Why a call did not produce a result. The host shows the message to the
/// model (prefixed with `[ERROR]:`), so say what went wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolError {
    /// The arguments do not fit the tool's schema.
    InvalidArguments(String),
    /// The tool name is not served by this component.
    UnknownTool(String),
    /// The tool ran and failed.
    Failed(String),
}

impl ToolError {
    /// A failure of the tool itself.
    pub fn failed(message: impl Into<String>) -> Self {
        ToolError::Failed(message.into())
    }
    /// Arguments that parse but make no sense (a negative count, say).
    pub fn invalid(message: impl Into<String>) -> Self {
        ToolError::InvalidArguments(message.into())
    }
    pub fn message(&self) -> &str {
        match self {
            ToolError::InvalidArguments(m) | ToolError::UnknownTool(m) | ToolError::Failed(m) => m,
        }
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToolError::InvalidArguments(m) => write!(f, "invalid arguments: {m}"),
            ToolError::UnknownTool(m) => write!(f, "unknown tool: {m}"),
            ToolError::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ToolError {}

impl From<std::io::Error> for ToolError {
    fn from(e: std::io::Error) -> Self {
        ToolError::Failed(e.to_string())
    }
}

/// The `sandbox_id` argument of a tool that works in a sandbox.
///
/// Declare a field `sandbox_id: SandboxId` and the host resolves it before
/// the call: the instance runs with that sandbox's workspace at
/// `/home/user`, and an unknown id never reaches the tool (the model gets an
/// error listing the live sandboxes). The tool itself rarely needs the value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct SandboxId(pub String);

impl JsonSchema for SandboxId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SandboxId".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "The sandbox to work in, as returned by create_sandbox."
        })
    }
}

/// One tool's description, as the host and the model see it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub input_schema: serde_json::Value,
}

type Handler<S> = Box<dyn Fn(&mut S, serde_json::Value) -> Result<String, ToolError>>;

/// A registered tool. The schema is derived only when the manifest is asked
/// for: a stateless component is instantiated afresh for every call, and
/// deriving every schema on each of those would be most of its cost.
struct Entry<S> {
    name: String,
    description: String,
    schema: fn() -> serde_json::Value,
    handler: Handler<S>,
}

/// The tools one component serves, with their handlers.
///
/// `S` is the state a stateful toolbox keeps between calls in one sandbox;
/// stateless toolboxes use `()`.
pub struct Toolbox<S = ()> {
    server: String,
    stateful: bool,
    local_files: bool,
    snapshot: bool,
    state: S,
    tools: Vec<Entry<S>>,
    /// What `warm-up` does (`with_warm_up`); nothing when unset.
    warm_up: Option<fn(&mut S)>,
}

impl Toolbox<()> {
    /// A stateless toolbox: every call runs in a fresh instance.
    pub fn new(server: impl Into<String>) -> Self {
        Toolbox {
            server: server.into(),
            stateful: false,
            local_files: false,
            snapshot: false,
            state: (),
            tools: Vec::new(),
            warm_up: None,
        }
    }
}

impl<S: 'static> Toolbox<S> {
    /// A stateful toolbox: `state` lives as long as the sandbox's instance.
    pub fn stateful(server: impl Into<String>, state: S) -> Self {
        Toolbox {
            server: server.into(),
            stateful: true,
            local_files: false,
            snapshot: false,
            state,
            tools: Vec::new(),
            warm_up: None,
        }
    }

    /// Add a tool whose handler takes only its arguments.
    pub fn tool<A, F>(self, name: &str, description: &str, handler: F) -> Self
    where
        A: DeserializeOwned + JsonSchema,
        F: Fn(A) -> Result<String, ToolError> + 'static,
    {
        self.tool_with_state(name, description, move |_: &mut S, args: A| handler(args))
    }

    /// Add a tool whose handler also gets the toolbox state.
    pub fn tool_with_state<A, F>(mut self, name: &str, description: &str, handler: F) -> Self
    where
        A: DeserializeOwned + JsonSchema,
        F: Fn(&mut S, A) -> Result<String, ToolError> + 'static,
    {
        assert!(self.tools.iter().all(|e| e.name != name), "tool `{name}` is registered twice");
        let handler: Handler<S> = Box::new(move |state, value| {
            let args: A = serde_json::from_value(value).map_err(|e| ToolError::InvalidArguments(e.to_string()))?;
            handler(state, args)
        });
        self.tools.push(Entry {
            name: name.to_owned(),
            description: description.to_owned(),
            schema: schema_of::<A>,
            handler,
        });
        self
    }

    /// Ask for the task's local files: the policy's allowed local roots
    /// (read-only, at their host paths, listed in `FATHOM_LOCAL_ROOTS`) and
    /// the task's outputs folder (write-only, in `FATHOM_OUTPUTS_DIR`).
    pub fn with_local_files(mut self) -> Self {
        self.local_files = true;
        self
    }

    /// Let the host snapshot the component right after the toolbox is built
    /// (wizer), so every instance starts with the state already made. For
    /// state that is costly to build and the same in every sandbox (an
    /// interpreter); anything that must differ per sandbox (random seeds,
    /// the working directory) has to be redone on the first call.
    pub fn with_snapshot(mut self) -> Self {
        self.snapshot = true;
        self
    }

    /// What a new instance does ahead of its first call when the host warms
    /// it (the world's `warm-up`): the sandbox-independent work of a first
    /// call, such as running a throwaway snippet in an interpreter. It runs
    /// with no workspace and must leave no state a call could see.
    pub fn with_warm_up(mut self, warm_up: fn(&mut S)) -> Self {
        self.warm_up = Some(warm_up);
        self
    }

    /// Run the warm-up, if the toolbox has one.
    pub fn warm_up(&mut self) {
        if let Some(f) = self.warm_up {
            f(&mut self.state);
        }
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    pub fn is_stateful(&self) -> bool {
        self.stateful
    }

    /// The tools' descriptions, with their schemas derived.
    pub fn specs(&self) -> Vec<ToolSpec> {
        self.tools
            .iter()
            .map(|e| ToolSpec { name: e.name.clone(), description: e.description.clone(), input_schema: (e.schema)() })
            .collect()
    }

    /// Run one call exactly as the host would: `arguments` is JSON text that
    /// must be an object.
    pub fn call(&mut self, tool: &str, arguments: &str) -> Result<String, ToolError> {
        let Some(entry) = self.tools.iter().find(|e| e.name == tool) else {
            let known: Vec<&str> = self.tools.iter().map(|e| e.name.as_str()).collect();
            return Err(ToolError::UnknownTool(format!(
                "`{tool}` is not a tool of server `{}`; it has: {}",
                self.server,
                known.join(", ")
            )));
        };
        let value: serde_json::Value = serde_json::from_str(arguments)
            .map_err(|e| ToolError::InvalidArguments(format!("arguments are not valid JSON: {e}")))?;
        if !value.is_object() {
            return Err(ToolError::InvalidArguments("arguments must be a JSON object".to_owned()));
        }
        (entry.handler)(&mut self.state, value)
    }
}

/// The JSON Schema of an argument type, without the `$schema` header, which
/// would only cost the model tokens.
pub fn schema_of<A: JsonSchema>() -> serde_json::Value {
    let mut value = schemars::schema_for!(A).to_value();
    if let Some(obj) = value.as_object_mut() {
        obj.remove("$schema");
    }
    value
}

/// Object-safe view of a toolbox, so the export glue can hold any `Toolbox<S>`.
#[doc(hidden)]
pub trait DynToolbox {
    fn manifest(&self) -> __bindings::Manifest;
    fn call(&mut self, tool: &str, arguments: &str) -> Result<String, ToolError>;
    fn warm_up(&mut self);
}

impl<S: 'static> DynToolbox for Toolbox<S> {
    fn manifest(&self) -> __bindings::Manifest {
        __bindings::Manifest {
            server: self.server.clone(),
            stateful: self.stateful,
            local_files: self.local_files,
            snapshot: self.snapshot,
            tools: self
                .specs()
                .into_iter()
                .map(|s| __bindings::ToolSpec {
                    name: s.name,
                    description: s.description,
                    input_schema: s.input_schema.to_string(),
                })
                .collect(),
        }
    }
    fn call(&mut self, tool: &str, arguments: &str) -> Result<String, ToolError> {
        Toolbox::call(self, tool, arguments)
    }
    fn warm_up(&mut self) {
        Toolbox::warm_up(self)
    }
}

#[doc(hidden)]
pub fn __to_call_error(e: ToolError) -> __bindings::CallError {
    match e {
        ToolError::InvalidArguments(m) => __bindings::CallError::InvalidArguments(m),
        ToolError::UnknownTool(m) => __bindings::CallError::UnknownTool(m),
        ToolError::Failed(m) => __bindings::CallError::Failed(m),
    }
}

/// Export a toolbox as this component's implementation of the `fathom:tool`
/// world. Pass a function that builds the [`Toolbox`]; it runs once per
/// instance, on first use.
#[macro_export]
macro_rules! export {
    ($make:path) => {
        const _: () = {
            use ::std::cell::RefCell;
            thread_local! {
                static TOOLBOX: RefCell<Option<Box<dyn $crate::DynToolbox>>> =
                    const { RefCell::new(None) };
            }
            fn with<R>(f: impl FnOnce(&mut dyn $crate::DynToolbox) -> R) -> R {
                TOOLBOX.with(|cell| {
                    let mut slot = cell.borrow_mut();
                    let tb = slot.get_or_insert_with(|| Box::new($make()));
                    f(&mut **tb)
                })
            }
            struct Component;
            impl $crate::__bindings::Guest for Component {
                fn init() {
                    with(|_| ())
                }
                fn manifest() -> $crate::__bindings::Manifest {
                    with(|tb| tb.manifest())
                }
                fn call(tool: String, arguments: String) -> Result<String, $crate::__bindings::CallError> {
                    with(|tb| tb.call(&tool, &arguments)).map_err($crate::__to_call_error)
                }
                fn warm_up() {
                    with(|tb| tb.warm_up())
                }
            }
    $crate::__bindings::__export_tool_world!(Component with_types_in $crate::__bindings);
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, JsonSchema)]
    struct Add {
        /// left operand
        a: i64,
        b: i64,
    }

    fn toolbox() -> Toolbox {
        Toolbox::new("calc").tool("add", "Add.", |x: Add| Ok((x.a + x.b).to_string()))
    }

    #[test]
    fn schema_is_derived_and_has_no_header() {
        let tb = toolbox();
        let spec = tb.specs().remove(0);
        assert_eq!(spec.input_schema["type"], "object");
        assert_eq!(spec.input_schema["properties"]["a"]["description"], "left operand");
        assert_eq!(spec.input_schema["required"], serde_json::json!(["a", "b"]));
        assert!(spec.input_schema.get("$schema").is_none());
    }

    #[test]
    fn calls_dispatch_and_errors_are_precise() {
        let mut tb = toolbox();
        assert_eq!(tb.call("add", r#"{"a": 2, "b": 3}"#).unwrap(), "5");
        let e = tb.call("sub", "{}").unwrap_err();
        assert!(matches!(&e, ToolError::UnknownTool(m) if m.contains("add")), "{e:?}");
        let e = tb.call("add", r#"{"a": 2"#).unwrap_err();
        assert!(matches!(&e, ToolError::InvalidArguments(m) if m.contains("not valid JSON")), "{e:?}");
        let e = tb.call("add", r#"{"a": 2}"#).unwrap_err();
        assert!(matches!(&e, ToolError::InvalidArguments(m) if m.contains("missing field `b`")), "{e:?}");
        let e = tb.call("add", "[1]").unwrap_err();
        assert!(matches!(&e, ToolError::InvalidArguments(m) if m.contains("object")), "{e:?}");
    }

    #[test]
    fn state_persists_in_stateful_toolboxes() {
        #[derive(Deserialize, JsonSchema)]
        struct Empty {}
        let mut tb = Toolbox::stateful("counter", 0u32).tool_with_state("next", "Count.", |n: &mut u32, _: Empty| {
            *n += 1;
            Ok(n.to_string())
        });
        assert!(tb.is_stateful());
        tb.call("next", "{}").unwrap();
        assert_eq!(tb.call("next", "{}").unwrap(), "2");
    }
}
