//! MCP: the installed tools for any MCP client, with the official Rust SDK
//! (rmcp). `fathom mcp` serves one client on stdio from a session of its
//! own; the daemon serves MCP's streamable HTTP at `/mcp` (`http.rs`), each
//! MCP session backed by a daemon session (`tasks::sessions`), so the
//! daemon's sandbox cap, idle expiry and metrics apply to it.
//!
//! Tools keep the names MiroFlow's tool servers give them (`run_python_code`,
//! not `tool-python.run_python_code`): a MiroThinker agent that started
//! `python_mcp_server` starts `fathom mcp --server tool-python` instead and
//! calls the same names with the same arguments, `sandbox_id` included.
//! A name two exposed servers share is qualified as `server.tool`.
//!
//! Only the handshake-era protocol versions (up to 2025-11-25) are
//! offered: a connection's sandboxes are session state, and 2026-07-28
//! removed sessions. Clients that probe for the newer version fall back
//! to `initialize`, as the specification has them do.

mod http;
mod resources;

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData as McpError, Implementation,
    InitializeRequestParams, InitializeResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    MetaObject, PaginatedRequestParams, ProgressNotificationParam, ProgressToken, ProtocolVersion,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler};
use serde_json::Value;

pub use http::{HttpOptions, service as http_service};

/// `/mcp`'s tower service.
pub type HttpService = rmcp::transport::streamable_http_server::StreamableHttpService<
    FathomMcp,
    rmcp::transport::streamable_http_server::session::local::LocalSessionManager,
>;

use crate::runtime::{Session, ToolInfo};
use crate::tasks::sessions::{SessionCall, Sessions};

/// How often a long call reports that it is still running.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// One MCP connection: the tools it may call and the sandboxes it owns.
pub struct FathomMcp {
    backend: Backend,
    /// Only these servers' tools (`--server`, `?server=`); all when empty.
    servers: OnceLock<Vec<String>>,
}

enum Backend {
    /// `fathom mcp`: the process's own session, for its one client, and
    /// the sandbox calls that name none use.
    Own(Session, String),
    /// `/mcp`: a daemon session, opened by the client's `initialize`.
    Daemon(DaemonSession),
}

struct DaemonSession {
    sessions: Arc<Sessions>,
    id: OnceLock<String>,
}

/// The MCP session ended (closed by the client, or expired): so does its
/// daemon session, and its sandboxes with it.
impl Drop for DaemonSession {
    fn drop(&mut self) {
        if let Some(id) = self.id.get() {
            let _ = self.sessions.delete(id);
        }
    }
}

impl FathomMcp {
    /// Serve `session` to one client, `sandbox` the one its calls mean
    /// when they name none; `servers` as `fathom mcp --server`.
    pub fn own(session: Session, sandbox: String, servers: Vec<String>) -> Self {
        FathomMcp { backend: Backend::Own(session, sandbox), servers: OnceLock::from(servers) }
    }

    fn daemon(sessions: Arc<Sessions>) -> Self {
        FathomMcp {
            backend: Backend::Daemon(DaemonSession { sessions, id: OnceLock::new() }),
            servers: OnceLock::new(),
        }
    }

    /// The tools this connection exposes, each with its MCP name.
    fn exposed(&self) -> Result<Vec<(String, ToolInfo)>, McpError> {
        let all = match &self.backend {
            Backend::Own(s, _) => s.tools(),
            Backend::Daemon(d) => d.sessions.tools(d.id()?).map_err(session_error)?,
        };
        let servers = self.servers.get().map(Vec::as_slice).unwrap_or_default();
        let tools: Vec<ToolInfo> =
            all.into_iter().filter(|t| servers.is_empty() || servers.contains(&t.server)).collect();
        Ok(tools
            .iter()
            .map(|t| {
                let shared = tools.iter().filter(|o| o.name == t.name).count() > 1;
                let name = if shared { format!("{}.{}", t.server, t.name) } else { t.name.clone() };
                (name, t.clone())
            })
            .collect())
    }

    /// The tool `name` means: its MCP name, or `server.tool` / `server__tool`.
    fn resolve(&self, name: &str) -> Result<ToolInfo, McpError> {
        let tools = self.exposed()?;
        let found = tools.iter().find(|(n, _)| n == name).or_else(|| {
            tools.iter().find(|(_, t)| {
                name == format!("{}.{}", t.server, t.name) || name == format!("{}__{}", t.server, t.name)
            })
        });
        match found {
            Some((_, t)) => Ok(t.clone()),
            None => Err(McpError::invalid_params(
                format!(
                    "unknown tool `{name}`; this server has: {}",
                    tools.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
                ),
                None,
            )),
        }
    }

    async fn call(&self, tool: &ToolInfo, arguments: &Value) -> Result<SessionCall, McpError> {
        match &self.backend {
            Backend::Own(s, sandbox) => {
                let mut args = arguments.as_object().cloned().unwrap_or_default();
                crate::tasks::sessions::default_sandbox(tool, &mut args, sandbox);
                let outcome = s.call(&tool.server, &tool.name, &Value::Object(args).to_string()).await;
                Ok(SessionCall::new(&tool.name, outcome))
            }
            Backend::Daemon(d) => {
                d.sessions.call(d.id()?, &tool.server, &tool.name, arguments).await.map_err(session_error)
            }
        }
    }

    /// The connection's live sandboxes, as (id, workspace folder).
    fn sandboxes(&self) -> Result<Vec<(String, PathBuf)>, McpError> {
        match &self.backend {
            Backend::Own(s, _) => Ok(s
                .sandbox_ids()
                .into_iter()
                .filter_map(|id| s.sandbox(&id).map(|b| (id, b.workspace.clone())))
                .collect()),
            Backend::Daemon(d) => d.sessions.sandboxes(d.id()?).map_err(session_error),
        }
    }

    /// `initialize` over HTTP: the daemon session this MCP session uses,
    /// made with the policy and servers the URL's query names.
    fn open_daemon_session(&self, d: &DaemonSession, ctx: &RequestContext<RoleServer>) -> Result<(), McpError> {
        if d.id.get().is_some() {
            return Err(McpError::invalid_request("this MCP session is already initialized", None));
        }
        let query = ctx.extensions.get::<axum::http::request::Parts>().and_then(|p| p.uri.query()).unwrap_or("");
        let wanted = http::Query::parse(query).map_err(|m| McpError::invalid_params(m, None))?;
        let info = d
            .sessions
            .create(&wanted.policy.map(Value::String).unwrap_or(Value::Null))
            .map_err(|e| McpError::invalid_params(format!("cannot open a sandbox session: {}", e.message), None))?;
        let known = d.sessions.tools(&info.id).map_err(session_error)?;
        if let Err(m) = check_servers(&wanted.servers, &known) {
            let _ = d.sessions.delete(&info.id);
            return Err(McpError::invalid_params(m, None));
        }
        let _ = self.servers.set(wanted.servers);
        if let Err(id) = d.id.set(info.id) {
            // A concurrent `initialize` won: this one's session goes.
            let _ = d.sessions.delete(&id);
            return Err(McpError::invalid_request("this MCP session is already initialized", None));
        }
        Ok(())
    }
}

impl DaemonSession {
    fn id(&self) -> Result<&str, McpError> {
        self.id.get().map(String::as_str).ok_or_else(|| McpError::invalid_request("initialize the session first", None))
    }
}

/// `servers` must each name a server among `tools`.
pub fn check_servers(servers: &[String], tools: &[ToolInfo]) -> Result<(), String> {
    let mut known: Vec<&str> = tools.iter().map(|t| t.server.as_str()).collect();
    known.sort_unstable();
    known.dedup();
    match servers.iter().find(|s| !known.contains(&s.as_str())) {
        Some(s) => Err(format!("no tool server `{s}` here; the servers are: {}", known.join(", "))),
        None => Ok(()),
    }
}

/// A daemon session's error as the client should read it.
fn session_error(e: crate::tasks::Error) -> McpError {
    if e.status == 404 {
        McpError::invalid_request(
            format!("{}: this MCP session's sandboxes are gone; reconnect (initialize again) for new ones", e.message),
            None,
        )
    } else {
        McpError::internal_error(e.message, None)
    }
}

fn mcp_tool(name: String, t: &ToolInfo) -> Tool {
    let schema = match &t.input_schema {
        Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    let mut tool = Tool::new(name, t.description.clone(), schema);
    tool.meta = Some(MetaObject(serde_json::Map::from_iter([("fathom/server".into(), Value::from(t.server.clone()))])));
    tool
}

/// The MCP result of a call: the tool's text; `isError` when it reported
/// an error, raised, or hit a limit; the call's figures under `_meta`.
fn call_result(call: SessionCall) -> CallToolResult {
    let o = call.outcome;
    let mut figures = serde_json::Map::new();
    figures.insert("fuel".into(), o.fuel.into());
    figures.insert("wall_ms".into(), o.wall_ms.into());
    if let Some(hit) = &o.limit {
        figures.insert("limit".into(), serde_json::to_value(hit).unwrap_or(Value::Null));
    }
    if let Some(s) = &o.sandbox_created {
        figures.insert("sandbox_created".into(), s.clone().into());
    }
    if let Some(u) = &o.usage {
        figures.insert("usage".into(), serde_json::to_value(u).unwrap_or(Value::Null));
    }
    let content = vec![ContentBlock::text(o.output)];
    let mut result = if o.ok { CallToolResult::success(content) } else { CallToolResult::error(content) };
    result.meta = Some(MetaObject(serde_json::Map::from_iter([("fathom".into(), Value::Object(figures))])));
    result
}

/// Reports a running call's elapsed seconds to the client until dropped.
struct ProgressTicker(tokio::task::JoinHandle<()>);

impl ProgressTicker {
    fn start(token: ProgressToken, peer: rmcp::Peer<RoleServer>, label: String) -> Self {
        ProgressTicker(tokio::spawn(async move {
            let started = Instant::now();
            let mut every = tokio::time::interval(PROGRESS_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                let secs = started.elapsed().as_secs();
                let note = ProgressNotificationParam::new(token.clone(), secs as f64)
                    .with_message(format!("{label}: running for {secs} s"));
                if peer.notify_progress(note).await.is_err() {
                    break;
                }
            }
        }))
    }
}

impl Drop for ProgressTicker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl ServerHandler for FathomMcp {
    fn get_info(&self) -> ServerConfig {
        let caps = ServerCapabilities::builder().enable_tools().enable_resources().build();
        InitializeResult::new(caps)
            .with_server_info(Implementation::new("fathom", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Tools run in WebAssembly sandboxes under fuel, deadline, memory, output and disk limits. \
                 State persists for this connection: a Python session and files per sandbox (calls without \
                 `sandbox_id` use the connection's sandbox; a new id makes a new sandbox). Files in the \
                 sandboxes' workspaces are resources `sandbox://<sandbox_id>/<path>`.",
            )
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(ProtocolVersion::known_up_to(&ProtocolVersion::V_2025_11_25))
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        if let Backend::Daemon(d) = &self.backend {
            self.open_daemon_session(d, &context)?;
        }
        context.peer.set_peer_info(request.clone());
        self.negotiate_initialize(&request)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let tools = self.exposed()?.into_iter().map(|(name, t)| mcp_tool(name, &t)).collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let tool = self.resolve(&request.name)?;
        let arguments = request.arguments.map(Value::Object).unwrap_or(Value::Object(Default::default()));
        let _ticker = context
            .meta
            .get_progress_token()
            .map(|t| ProgressTicker::start(t, context.peer.clone(), format!("{}.{}", tool.server, tool.name)));
        // Cancelling drops the call: the guest stops at its next epoch tick
        // and its instance is discarded (the sandbox's files stay).
        tokio::select! {
            call = self.call(&tool, &arguments) => Ok(call_result(call?).into()),
            _ = context.ct.cancelled() => Err(McpError::invalid_request("the call was cancelled", None)),
        }
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let cursor = request.and_then(|r| r.cursor);
        resources::list(&self.sandboxes()?, cursor.as_deref())
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![resources::template()]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        resources::read(&self.sandboxes()?, &request.uri).map(Into::into)
    }
}

/// `fathom mcp`: serve `session` on stdin/stdout until the client closes it.
pub async fn serve_stdio(session: Session, sandbox: String, servers: Vec<String>) -> Result<(), String> {
    use rmcp::ServiceExt;
    let running = FathomMcp::own(session, sandbox, servers)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| format!("the MCP client's handshake failed: {e}"))?;
    running.waiting().await.map_err(|e| format!("the MCP connection failed: {e}"))?;
    Ok(())
}
