//! MCP: `fathom mcp` on stdio and the daemon's `/mcp` (streamable HTTP),
//! driven by the official MCP Python SDK (`tests/mcp_client.py`, from the
//! pinned venv of `scripts/test-clients.sh`), and by hand for what a
//! well-behaved client never sends.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::daemon::{Daemon, FATHOM, free_port};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const TOKEN: &str = "tok-mcp-8d1e4a7c2b9f3065";

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The venv's python (`scripts/test-clients.sh`).
fn python() -> PathBuf {
    let out = Command::new("bash").arg(repo().join("scripts/test-clients.sh")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A policy whose tool calls have a 4-second deadline.
fn quick_policy(dir: &Path) -> PathBuf {
    let p = dir.join("quick.toml");
    std::fs::write(&p, "name = \"quick\"\nextends = \"default\"\n\n[sandbox]\ncall_timeout_secs = 4\n").unwrap();
    p
}

fn run_client(args: &[&str], env: &[(&str, &Path)]) {
    let mut cmd = Command::new(python());
    cmd.arg(repo().join("tests/mcp_client.py")).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("all checks passed"),
        "the MCP client failed:\n{stdout}\n{stderr}"
    );
}

/// Initialize, list tools, state across calls, a second client isolated,
/// workspace files as resources (and escapes refused), the deadline as
/// `isError`, progress, cancellation, bad calls: over stdio.
#[test]
fn the_python_sdk_uses_fathom_mcp_over_stdio() {
    let state = tempfile::tempdir().unwrap();
    let policy = quick_policy(state.path());
    let cache = common::shared_cache();
    run_client(
        &["stdio", FATHOM, policy.to_str().unwrap()],
        &[("FATHOM_STATE_DIR", state.path()), ("FATHOM_CACHE_DIR", &cache), ("XDG_CONFIG_HOME", state.path())],
    );
}

/// The same client over the daemon's streamable HTTP, on TCP with the
/// bearer token; each MCP session is a daemon session, closed with it.
#[tokio::test(flavor = "multi_thread")]
async fn the_python_sdk_uses_the_daemons_mcp_endpoint() {
    let state = tempfile::tempdir().unwrap();
    let policies = state.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    quick_policy(&policies);
    let listen = format!("127.0.0.1:{}", free_port());
    let env = [("FATHOM_SERVER_TOKEN", TOKEN), ("FATHOM_POLICY_DIR", policies.to_str().unwrap())];
    let d = Daemon::start(state.path(), &env, &["--listen", &listen]).await;
    let url = format!("http://{listen}/mcp?policy=quick&server=tool-python");
    let client = tokio::task::spawn_blocking(move || run_client(&["http", &url, TOKEN], &[]));
    client.await.unwrap();

    let metrics = d.get("/metrics").await.text;
    let calls: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("fathom_tool_calls_total{") && l.contains("run_python_code"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(calls >= 10.0, "MCP calls count in the daemon's metrics: {calls}\n{metrics}");
    let sessions = metrics.lines().find(|l| l.starts_with("fathom_sessions_live ")).unwrap_or_default().to_owned();
    assert_eq!(sessions, "fathom_sessions_live 0", "closed MCP sessions close their daemon sessions:\n{metrics}");

    // Without the token, /mcp is refused like the rest of the API.
    let r = reqwest::Client::new().post(format!("http://{listen}/mcp")).body("{}").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

/// A client that writes by hand: JSON-RPC over a `fathom mcp` process's pipes.
struct Stdio_ {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Stdio_ {
    fn start(state: &Path, args: &[&str]) -> Self {
        let mut child = tokio::process::Command::new(FATHOM)
            .arg("mcp")
            .args(args)
            .env("FATHOM_STATE_DIR", state)
            .env("FATHOM_CACHE_DIR", common::shared_cache())
            .env("XDG_CONFIG_HOME", state)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Stdio_ { child, stdin, lines }
    }

    async fn send(&mut self, line: &str) {
        self.stdin.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(120), self.lines.next_line())
            .await
            .expect("no answer from fathom mcp")
            .unwrap()
            .expect("fathom mcp closed stdout");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON on stdout ({e}): {line}"))
    }

    async fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()).await;
        self.next().await
    }
}

fn initialize_params() -> Value {
    json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "by-hand", "version": "0"}})
}

/// What a misbehaving client sends gets an answer that says what was
/// wrong, and the server goes on serving: stdio.
#[tokio::test(flavor = "multi_thread")]
async fn malformed_messages_on_stdio_are_answered_and_survived() {
    let state = tempfile::tempdir().unwrap();
    let mut c = Stdio_::start(state.path(), &[]);
    let init = c.request(1, "initialize", initialize_params()).await;
    assert_eq!(init["result"]["serverInfo"]["name"], "fathom", "{init}");
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18", "{init}");
    c.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).await;

    // Not JSON at all: ignored, as the official SDKs do (no id to answer).
    c.send("this is not JSON {").await;
    // JSON that is no JSON-RPC message: Invalid Request.
    c.send(r#"{"hello": "world"}"#).await;
    let r = c.next().await;
    assert_eq!(r["error"]["code"], -32600, "{r}");
    let r = c.request(2, "no/such/method", json!({})).await;
    assert_eq!(r["error"]["code"], -32601, "{r}");
    let r = c.request(3, "tools/call", json!({"name": "nope", "arguments": {}})).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("unknown tool `nope`"), "{r}");
    let r = c.request(4, "tools/call", json!({"name": "run_python_code", "arguments": {"code_block": 7}})).await;
    assert_eq!(r["result"]["isError"], true, "{r}");
    let r = c.request(5, "resources/read", json!({"uri": "sandbox://sbx-x/../../etc/passwd"})).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    let r =
        c.request(6, "tools/call", json!({"name": "run_python_code", "arguments": {"code_block": "print(6*7)"}})).await;
    assert_eq!(r["result"]["isError"], false, "{r}");
    assert!(r["result"]["content"][0]["text"].as_str().unwrap().contains("42"), "{r}");
    drop(c.stdin);
    let status = tokio::time::timeout(Duration::from_secs(30), c.child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "fathom mcp exits cleanly when the client closes stdin: {status}");

    // A --server that does not exist is a usage error naming the servers.
    let out = Command::new(FATHOM)
        .args(["mcp", "--server", "tool-pyhton"])
        .env("FATHOM_STATE_DIR", state.path())
        .env("FATHOM_CACHE_DIR", common::shared_cache())
        .env("XDG_CONFIG_HOME", state.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no tool server `tool-pyhton`") && err.contains("tool-python"), "{err}");
}

/// The daemon's `/mcp`, by hand: the answers to malformed bodies, unknown
/// sessions, a bad query, and a call after the session expired.
#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_and_expired_sessions_on_http_get_clear_errors() {
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(state.path(), &[("FATHOM_SERVER_SESSION_IDLE_SECS", "1")], &[]).await;
    let post = |body: String, session: Option<String>, path: &'static str| {
        let mut req = d
            .http
            .post(format!("http://d{path}"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body);
        if let Some(s) = session {
            req = req.header("mcp-session-id", s).header("mcp-protocol-version", "2025-06-18");
        }
        req.send()
    };

    let r = post("not json {".into(), None, "/mcp").await.unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    assert!((400..500).contains(&status), "{status} {body}");
    assert!(body.contains("deserialize request body"), "{status} {body}");

    let call = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}).to_string();
    let r = post(call.clone(), Some("no-such-session".into()), "/mcp").await.unwrap();
    assert_eq!(r.status().as_u16(), 404, "an unknown MCP session is 404, as the transport specifies");

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize_params()}).to_string();
    let r = post(init.clone(), None, "/mcp?policy=no-such-policy").await.unwrap();
    let body = r.text().await.unwrap();
    assert!(body.contains("cannot open a sandbox session") && body.contains("no-such-policy"), "{body}");
    let r = post(init.clone(), None, "/mcp?polcy=default").await.unwrap();
    let body = r.text().await.unwrap();
    assert!(body.contains("unknown query parameter `polcy`"), "{body}");

    let r = post(init, None, "/mcp").await.unwrap();
    assert!(r.status().is_success());
    let session = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let body = r.text().await.unwrap();
    assert!(body.contains("\"serverInfo\""), "{body}");
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string();
    assert_eq!(post(note, Some(session.clone()), "/mcp").await.unwrap().status().as_u16(), 202);
    let r = post(call.clone(), Some(session.clone()), "/mcp").await.unwrap();
    let body = r.text().await.unwrap();
    assert!(body.contains("run_python_code"), "{body}");

    // The daemon session expires after a second unused; a call then says so.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = post(call, Some(session), "/mcp").await.unwrap();
    let body = r.text().await.unwrap();
    assert!(body.contains("reconnect (initialize again)") && body.contains("session"), "{body}");
    assert_eq!(d.get("/healthz").await.status, 200, "the daemon is unharmed");
}
