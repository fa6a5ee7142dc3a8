//! `fathom serve`: the HTTP API of `interface.md` on a Unix socket (mode
//! 0600) and, only when asked, on TCP behind a bearer token.
//!
//! Start-up order is what a supervisor relies on: the config is checked,
//! the tool components load (compiled or taken from the cache), the task
//! database is opened and recovered (tasks left `running` become
//! `interrupted`, acknowledged `queued` ones run), and only then does the
//! socket listen. SIGTERM/SIGINT stop accepting, interrupt running tasks at
//! their last checkpoint and exit within `server.shutdown_grace_secs`.

mod api;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::policy::PolicyStore;
use crate::runtime::{Runtime, RuntimeOptions, SandboxBudget};
use crate::tasks::sessions::Sessions;
use crate::tasks::{Policies, Tasks};

pub use api::router;

/// What the API's handlers share.
pub struct AppState {
    pub tasks: Arc<Tasks>,
    pub sessions: Arc<Sessions>,
    pub budget: Arc<SandboxBudget>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub max_body: usize,
    /// `/mcp`, MCP's streamable HTTP transport.
    pub mcp: crate::mcp::HttpService,
}

pub struct ServeOptions {
    pub config: Config,
    pub socket: Option<PathBuf>,
    pub listen: Option<String>,
}

/// Run the daemon until SIGTERM or SIGINT.
pub async fn serve(opts: ServeOptions) -> Result<(), String> {
    serve_until(opts, shutdown_signal()).await
}

/// Run the daemon until `stop` resolves (to the reason, for the log): a
/// signal for `fathom serve`; the end of its work for a daemon embedded in
/// a command (`fathom eval` when none is running).
pub async fn serve_until(opts: ServeOptions, stop_when: impl Future<Output = &'static str>) -> Result<(), String> {
    let ServeOptions { config, socket, listen } = opts;
    let socket = socket.or_else(|| config.server.socket.clone()).unwrap_or_else(crate::config::default_socket);
    let listen = listen.or_else(|| config.server.listen.clone());
    let token = config.server.token.clone().filter(|t| !t.is_empty());
    if listen.is_some() && token.is_none() {
        return Err("--listen serves the API on TCP, which requires a bearer token: set server.token in the config or FATHOM_SERVER_TOKEN".into());
    }
    if let Some(t) = &token {
        if t.len() < 16 {
            return Err("server.token is too short: use at least 16 random characters".into());
        }
    }
    // Sessions need no model; tasks are refused (503) until one is set.
    if let Err(e) = config.llm_configs(&crate::policy::Policy::default()) {
        tracing::warn!("{e}; sessions work, tasks are refused until then");
    }

    let mut ropts = RuntimeOptions::from_env();
    ropts.progress = Some(Arc::new(|msg: &str| tracing::info!("{msg}")));
    ropts.warm_pool = config.server.warm_pool;
    let rt = Runtime::new(ropts).await.map_err(|e| format!("cannot start the tool runtime: {e:#}"))?;
    for e in rt.load_errors() {
        tracing::warn!(component = %e.path.display(), "skipped tool component: {}", e.message);
    }
    let state_dir = crate::state_dir();
    std::fs::create_dir_all(&state_dir).map_err(|e| format!("cannot create {}: {e}", state_dir.display()))?;
    let config = Arc::new(config);
    let policies = Policies { store: PolicyStore::from_env(), config: config.clone() };
    let budget = SandboxBudget::new(config.server.max_sandboxes);
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let tasks = Tasks::open(rt.clone(), policies.clone(), budget.clone(), metrics.clone(), &state_dir)?;
    let sessions = Sessions::new(rt, policies, budget.clone(), metrics.clone(), &state_dir);
    let max_body = (config.server.max_body_mb as usize).saturating_mul(1 << 20);
    let stop = CancellationToken::new();
    let mcp = crate::mcp::http_service(
        sessions.clone(),
        crate::mcp::HttpOptions {
            stop: stop.clone(),
            max_body,
            idle: Duration::from_secs(config.server.session_idle_secs.max(1)),
        },
    );
    let state = Arc::new(AppState { tasks: tasks.clone(), sessions, budget, metrics, max_body, mcp });

    // Socket activation (`fathom.socket`): systemd holds the socket, so
    // connections made while the daemon starts or restarts wait instead of
    // failing, and the file is systemd's to create and remove.
    let (unix, socket, owned) = match inherited_listener()? {
        Some((listener, path)) => (listener, path, false),
        None => (bind_unix(&socket).await?, socket, true),
    };
    let tcp = match &listen {
        Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?),
        None => None,
    };
    let (interrupted, queued) = tasks.recover()?;
    if interrupted + queued > 0 {
        tracing::info!(
            interrupted,
            queued,
            "recovered {interrupted} interrupted task(s); {queued} queued task(s) resume their place"
        );
    }
    tracing::info!(socket = %socket.display(), "listening on {}", socket.display());
    if let Some(l) = &tcp {
        let addr = l.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(%addr, "listening on http://{addr} (bearer token required)");
    }

    // Under systemd (`Type=notify`): ready now that the components are
    // loaded, the tasks recovered and the socket listens.
    let status = format!("listening on {}", socket.display());
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready, sd_notify::NotifyState::Status(&status)]);

    let mut servers = tokio::task::JoinSet::new();
    let app = router(state.clone(), None);
    let s = stop.clone();
    servers.spawn(async move { axum::serve(unix, app).with_graceful_shutdown(s.cancelled_owned()).await });
    if let Some(tcp) = tcp {
        // Without TCP_NODELAY, an answer written in parts (an SSE stream's
        // headers, then its events) waits out the peer's delayed ACK:
        // 40 ms per MCP call over HTTP, measured in `cargo bench --bench mcp`.
        use axum::serve::ListenerExt;
        let tcp = tcp.tap_io(|s| {
            let _ = s.set_nodelay(true);
        });
        let app = router(state.clone(), token);
        let s = stop.clone();
        servers.spawn(async move { axum::serve(tcp, app).with_graceful_shutdown(s.cancelled_owned()).await });
    }

    let signal = tokio::select! {
        s = stop_when => s,
        r = servers.join_next() => {
            if owned {
                let _ = std::fs::remove_file(&socket);
            }
            return Err(format!("the server stopped: {r:?}"));
        }
    };
    tracing::info!(signal, "{signal}: stopping (running tasks are interrupted and can be resumed)");
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    stop.cancel();
    tasks.shutdown(grace).await;
    // Streams of tasks still queued would hold connections open: the
    // grace period bounds the wait for them.
    let _ =
        tokio::time::timeout(Duration::from_millis(500), async { while servers.join_next().await.is_some() {} }).await;
    if owned {
        let _ = std::fs::remove_file(&socket);
    }
    Ok(())
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

/// The listening Unix socket systemd passed (`LISTEN_FDS`, for this
/// process), with its path; `None` when started without one.
fn inherited_listener() -> Result<Option<(UnixListener, PathBuf)>, String> {
    use std::os::fd::FromRawFd;
    let fds: Vec<_> = sd_notify::listen_fds().map_err(|e| format!("LISTEN_FDS: {e}"))?.collect();
    let fd = match fds.as_slice() {
        [] => return Ok(None),
        [fd] => *fd,
        more => {
            return Err(format!(
                "systemd passed {} sockets; fathom.socket must listen on one Unix socket (one ListenStream=)",
                more.len()
            ));
        }
    };
    // SAFETY: systemd hands this descriptor to this process alone
    // (LISTEN_PID), open and listening; nothing else in it owns fd 3.
    let listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) };
    let path = listener.local_addr().ok().and_then(|a| a.as_pathname().map(Path::to_path_buf)).ok_or(
        "the socket systemd passed is not a Unix socket with a path: use ListenStream=/run/fathom/fathom.sock",
    )?;
    listener.set_nonblocking(true).map_err(|e| format!("the socket systemd passed: {e}"))?;
    let listener = UnixListener::from_std(listener).map_err(|e| format!("the socket systemd passed: {e}"))?;
    Ok(Some((listener, path)))
}

/// Bind the Unix socket with mode 0600. A socket file nobody answers on is
/// a stale one from a crash and is replaced; a live one is an error.
async fn bind_unix(path: &Path) -> Result<UnixListener, String> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.exists() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            let _ = std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o700));
        }
    }
    if path.exists() {
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Err(format!("another daemon is already listening on {}", path.display()));
        }
        std::fs::remove_file(path).map_err(|e| format!("cannot remove the stale socket {}: {e}", path.display()))?;
    }
    // Created under a restrictive umask, so no moment exists when the socket
    // is open to others.
    let old = unsafe_umask(0o177);
    let bound = UnixListener::bind(path);
    unsafe_umask(old);
    let listener = bound.map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot restrict {}: {e}", path.display()))?;
    Ok(listener)
}

/// `umask(2)`, which std does not expose.
fn unsafe_umask(mask: u32) -> u32 {
    unsafe extern "C" {
        fn umask(mask: u32) -> u32;
    }
    // SAFETY: umask has no preconditions; it swaps the process's mask.
    unsafe { umask(mask) }
}

/// A daemon inside another command's process, on a private socket, for
/// work that goes through the API when no daemon is running (`fathom
/// eval`): the same tasks database under `FATHOM_STATE_DIR`, so what it
/// ran shows in `fathom tasks` later, and a task it was running when the
/// process was killed is `interrupted` and resumable.
pub struct Embedded {
    pub socket: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<Result<(), String>>,
    _dir: tempfile::TempDir,
}

impl Embedded {
    /// Start it and wait until it answers.
    pub async fn start(mut config: Config) -> Result<Embedded, String> {
        let dir = tempfile::Builder::new()
            .prefix("fathom-")
            .tempdir()
            .map_err(|e| format!("cannot make a folder for the embedded daemon's socket: {e}"))?;
        let socket = dir.path().join("fathom.sock");
        config.server.listen = None;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let opts = ServeOptions { config, socket: Some(socket.clone()), listen: None };
        let handle = tokio::spawn(serve_until(opts, async move {
            let _ = rx.await;
            "the command's work is done"
        }));
        let client = crate::client::Client::new(&socket);
        while !client.ping().await {
            if handle.is_finished() {
                return Err(match handle.await {
                    Ok(Err(e)) => e,
                    other => format!("the embedded daemon stopped: {other:?}"),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Embedded { socket, stop: Some(tx), handle, _dir: dir })
    }

    /// Stop it as `fathom serve` stops: running tasks are interrupted.
    pub async fn stop(mut self) -> Result<(), String> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        (&mut self.handle).await.map_err(|e| e.to_string())?
    }
}
