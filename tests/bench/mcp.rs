//! MCP benchmark: `cargo bench --bench mcp`.
//!
//! The round trip of a warm `run_python_code("print(1)")`, side by side in
//! one run, rounds interleaved: in process (`Session::call`, what `fathom
//! tool call` does once its runtime is up), over stdio (`fathom mcp`, the
//! rmcp client), and over the daemon's streamable HTTP (`/mcp` on TCP with
//! the bearer token). Then 100 MCP sessions at once against the daemon:
//! each initializes, lists the tools and runs a cell; wall time, the
//! per-session latency, and the daemon's peak RSS. Also one `fathom tool
//! call` process for reference (a whole CLI start).
//!
//! `FATHOM_BENCH_CALLS` (default 200 per transport) and
//! `FATHOM_BENCH_SESSIONS` (default 100) change the load.

#[path = "../common/mod.rs"]
mod common;

use std::process::Command;
use std::time::Instant;

use common::daemon::{Daemon, FATHOM, free_port, rss_peak_mb};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientConfig, Implementation};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};

const TOKEN: &str = "tok-bench-mcp-5a0c7e29d1";

type McpClient = RunningService<RoleClient, ClientConfig>;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn client_info() -> ClientConfig {
    ClientConfig::new(Default::default(), Implementation::new("fathom-bench", "0"))
}

fn print1() -> CallToolRequestParams {
    let args = serde_json::json!({"code_block": "print(1)"});
    CallToolRequestParams::new("run_python_code").with_arguments(args.as_object().unwrap().clone())
}

async fn mcp_call(c: &McpClient) -> f64 {
    let started = Instant::now();
    let r = c.call_tool(print1()).await.expect("tools/call");
    assert_ne!(r.is_error, Some(true), "{r:?}");
    started.elapsed().as_secs_f64() * 1e3
}

async fn http_client(url: &str) -> McpClient {
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_owned()).auth_header(TOKEN);
    let transport = StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
    client_info().serve(transport).await.expect("MCP over HTTP")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let calls = env_or("FATHOM_BENCH_CALLS", 200);
    let sessions = env_or("FATHOM_BENCH_SESSIONS", 100);
    let state = tempfile::tempdir().unwrap();

    // In process: a session and its sandbox, as `fathom tool call` makes.
    let fx = common::Fixture::new(fathom::policy::Policy::default()).await;
    let session = &fx.session;
    let args = serde_json::json!({"code_block": "print(1)", "sandbox_id": fx.sandbox}).to_string();

    // Stdio: `fathom mcp`, spawned once.
    let mut cmd = tokio::process::Command::new(FATHOM);
    cmd.arg("mcp")
        .env("FATHOM_STATE_DIR", state.path())
        .env("FATHOM_CACHE_DIR", common::shared_cache())
        .env("XDG_CONFIG_HOME", state.path());
    let stdio = client_info().serve(TokioChildProcess::new(cmd).unwrap()).await.expect("MCP over stdio");

    // HTTP: a daemon on TCP.
    let listen = format!("127.0.0.1:{}", free_port());
    let dstate = tempfile::tempdir().unwrap();
    let max = (sessions + 10).to_string();
    let env = [("FATHOM_SERVER_TOKEN", TOKEN), ("FATHOM_SERVER_MAX_SANDBOXES", max.as_str())];
    let d = Daemon::start(dstate.path(), &env, &["--listen", &listen]).await;
    let url = format!("http://{listen}/mcp");
    let http = http_client(&url).await;

    // Warm every path (the sandbox's interpreter starts on its first call).
    for _ in 0..3 {
        assert!(session.call("tool-python", "run_python_code", &args).await.ok);
        mcp_call(&stdio).await;
        mcp_call(&http).await;
    }
    let (mut inproc, mut over_stdio, mut over_http) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..calls {
        let started = Instant::now();
        assert!(session.call("tool-python", "run_python_code", &args).await.ok);
        inproc.push(started.elapsed().as_secs_f64() * 1e3);
        over_stdio.push(mcp_call(&stdio).await);
        over_http.push(mcp_call(&http).await);
    }
    let base = median(inproc.clone());
    println!("warm run_python_code(\"print(1)\"), {calls} calls each, interleaved (median, p99):");
    for (name, v) in [
        ("in process (Session::call)", inproc),
        ("MCP stdio (fathom mcp)", over_stdio),
        ("MCP streamable HTTP (/mcp, TCP)", over_http),
    ] {
        let m = median(v.clone());
        println!("  {name:<34} {m:>7.3} ms  p99 {:>7.3} ms  {:>5.2}x", percentile(v, 0.99), m / base);
    }

    // One whole `fathom tool call` process, for reference.
    let started = Instant::now();
    let out = Command::new(FATHOM)
        .args(["tool", "call", "tool-python.run_python_code", "--args", r#"{"code":"print(1)"}"#])
        .env("FATHOM_STATE_DIR", state.path())
        .env("FATHOM_CACHE_DIR", common::shared_cache())
        .env("XDG_CONFIG_HOME", state.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    println!(
        "  one `fathom tool call` process (start, new sandbox, call): {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    stdio.cancel().await.ok();
    http.cancel().await.ok();

    // Many sessions at once.
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..sessions {
        let url = url.clone();
        set.spawn(async move {
            let began = Instant::now();
            let c = http_client(&url).await;
            c.list_all_tools().await.expect("tools/list");
            mcp_call(&c).await;
            let ms = began.elapsed().as_secs_f64() * 1e3;
            (c, ms)
        });
    }
    let mut clients = Vec::new();
    let mut latencies = Vec::new();
    while let Some(r) = set.join_next().await {
        let (c, ms) = r.unwrap();
        clients.push(c);
        latencies.push(ms);
    }
    let wall = started.elapsed().as_secs_f64();
    let live = d.get("/metrics").await.text;
    let live_sessions = live.lines().find(|l| l.starts_with("fathom_sessions_live ")).unwrap_or("?").to_owned();
    println!(
        "{sessions} concurrent MCP sessions over HTTP (initialize, tools/list, a first cell): {wall:.2} s wall, per session median {:.0} ms, p99 {:.0} ms; {live_sessions}; daemon peak RSS {:.0} MB",
        median(latencies.clone()),
        percentile(latencies, 0.99),
        rss_peak_mb(d.child.id())
    );
    // Warm calls with all of them open.
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for c in clients {
        set.spawn(async move {
            let ms = mcp_call(&c).await;
            c.cancel().await.ok();
            ms
        });
    }
    let mut warm = Vec::new();
    while let Some(r) = set.join_next().await {
        warm.push(r.unwrap());
    }
    println!(
        "  then one warm cell in each at once: {:.2} s wall, median {:.0} ms, p99 {:.0} ms",
        started.elapsed().as_secs_f64(),
        median(warm.clone()),
        percentile(warm, 0.99)
    );
}
