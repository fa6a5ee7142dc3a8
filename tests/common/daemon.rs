//! A real `fathom serve` process for the tests: its own state folder, the
//! shared compile cache, a Unix socket, and a client over that socket.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const FATHOM: &str = env!("CARGO_BIN_EXE_fathom");

pub struct Daemon {
    pub child: Child,
    pub socket: PathBuf,
    pub state: PathBuf,
    pub http: reqwest::Client,
    env: Vec<(String, String)>,
    args: Vec<String>,
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Daemon {
    /// Start a daemon on `state` with extra environment and arguments, and
    /// wait until it answers.
    pub async fn start(state: &Path, env: &[(&str, &str)], args: &[&str]) -> Daemon {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let socket = state.join("fathom.sock");
        // Everything that could panic comes first: once the child exists,
        // only `Daemon`'s drop may stand between it and an orphaned process.
        let http = fathom::client::unix_http(&socket);
        let child = spawn(state, &socket, &env, &args);
        let mut d = Daemon { child, socket, state: state.to_path_buf(), http, env, args };
        d.wait_ready().await;
        d
    }

    async fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the daemon exited at start-up: {status}; stderr: {}", self.stderr_so_far());
            }
            if self.socket.exists() {
                if let Ok(r) = self.http.get("http://d/healthz").send().await {
                    if r.status().is_success() {
                        return;
                    }
                }
            }
            assert!(started.elapsed() < Duration::from_secs(180), "the daemon did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn stderr_so_far(&self) -> String {
        std::fs::read_to_string(self.state.join("daemon.log")).unwrap_or_default()
    }

    pub fn log(&self) -> String {
        self.stderr_so_far()
    }

    /// `kill -9`, then a new daemon on the same state.
    pub async fn crash_and_restart(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.child = spawn(&self.state, &self.socket, &self.env, &self.args);
        self.wait_ready().await;
    }

    /// SIGTERM; the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id() as i32;
        unsafe extern "C" {
            fn kill(pid: i32, sig: i32) -> i32;
        }
        // SAFETY: signalling our own child process.
        unsafe { kill(pid, 15) };
        self.child.wait().unwrap()
    }

    pub async fn restart(&mut self) {
        self.child = spawn(&self.state, &self.socket, &self.env, &self.args);
        self.wait_ready().await;
    }

    pub async fn request(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        let mut req = self.http.request(method.parse().unwrap(), format!("http://d{path}"));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_owned());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, headers, body, text }
    }

    /// Send raw bytes over the socket and return whatever the daemon replied.
    /// A daemon may answer (413) and stop reading before a large body is
    /// all written; an HTTP client then fails on the broken pipe, while the
    /// reply is already in the socket, so this keeps reading past a failed
    /// write.
    pub fn raw_exchange(&self, request: &[u8]) -> String {
        use std::io::{Read, Write};
        let mut stream = std::os::unix::net::UnixStream::connect(&self.socket).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let _ = stream.write_all(request);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        String::from_utf8_lossy(&reply).into_owned()
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.request("POST", path, Some(&body.to_string())).await
    }

    /// Submit a task; its id.
    pub async fn submit(&self, body: Value) -> String {
        let r = self.post("/v1/tasks", body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// Wait until the task's status is one of `statuses`; its record.
    pub async fn wait_for(&self, id: &str, statuses: &[&str], within: Duration) -> Value {
        let started = Instant::now();
        loop {
            let r = self.get(&format!("/v1/tasks/{id}")).await;
            if statuses.iter().any(|s| r.body["status"] == *s) {
                return r.body;
            }
            assert!(started.elapsed() < within, "task {id} still {} after {within:?}: {}", r.body["status"], r.text);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The events stored so far (`?follow=false`), without waiting.
    pub async fn events_now(&self, id: &str) -> Vec<(u64, Value)> {
        let text = self
            .http
            .get(format!("http://d/v1/tasks/{id}/events?follow=false"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        parse_sse(&text)
    }

    /// The SSE stream of a task as (id, data) pairs, read to its end.
    pub async fn events(&self, id: &str, last_event_id: Option<u64>) -> Vec<(u64, Value)> {
        let mut req = self.http.get(format!("http://d/v1/tasks/{id}/events"));
        if let Some(n) = last_event_id {
            req = req.header("Last-Event-ID", n.to_string());
        }
        let text = req.send().await.unwrap().text().await.unwrap();
        parse_sse(&text)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process's peak resident memory (VmHWM), in MB.
pub fn rss_peak_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn spawn(state: &Path, socket: &Path, env: &[(String, String)], args: &[String]) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(state.join("daemon.log")).unwrap();
    let mut cmd = Command::new(FATHOM);
    cmd.arg("serve")
        .arg("--socket")
        .arg(socket)
        .args(args)
        .env("FATHOM_STATE_DIR", state)
        .env("FATHOM_CACHE_DIR", super::shared_cache())
        .env("XDG_CONFIG_HOME", state.join("no-config"))
        .env_remove("FATHOM_TOOLS_DIR")
        .env_remove("FATHOM_POLICY_DIR")
        .env_remove("FATHOM_TOOL_FORMAT")
        .env_remove("FATHOM_LLM_BASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// Events of an SSE body: `id:` and `data:` of each.
pub fn parse_sse(text: &str) -> Vec<(u64, Value)> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut id = None;
        let mut data = String::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().parse().ok();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if let (Some(id), Ok(v)) = (id, serde_json::from_str(&data)) {
            out.push((id, v));
        }
    }
    out
}

/// A daemon that also listens on TCP at a free loopback port, with
/// `token`; the second value is that address (`127.0.0.1:PORT`).
pub async fn start_tcp(state: &Path, model_url: &str, token: &str) -> (Daemon, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let env = [("FATHOM_LLM_BASE_URL", model_url), ("FATHOM_LLM_MODEL", "scripted"), ("FATHOM_SERVER_TOKEN", token)];
    (Daemon::start(state, &env, &["--listen", &listen]).await, listen)
}

/// `fathom view FILE` on a free port: the process and the viewer's base
/// URL (`http://127.0.0.1:PORT`), read from the line it prints.
pub fn view(file: &Path) -> (Child, String) {
    use std::io::BufRead;
    let mut child = Command::new(FATHOM)
        .args(["view", file.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().trim_end_matches("/ui").to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "fathom view printed {line:?}");
    (child, url)
}
