//! The command line's side of the daemon: HTTP over its Unix socket, the
//! SSE event stream, and the progress lines both `fathom run` paths print.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;

/// A client of the daemon listening on one Unix socket.
pub struct Client {
    http: reqwest::Client,
    socket: PathBuf,
}

/// The daemon's `{"error": {...}}` (or a transport failure) in words.
#[derive(Debug)]
pub struct ClientError {
    pub status: Option<u16>,
    pub message: String,
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

const BASE: &str = "http://fathom";

/// An HTTP client whose every connection goes to the Unix socket `path`.
pub fn unix_http(path: &Path) -> reqwest::Client {
    install_crypto();
    reqwest::Client::builder().unix_socket(path).build().expect("HTTP client")
}

/// The process-wide TLS provider reqwest needs (ring), set once.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    pub fn new(socket: &Path) -> Client {
        Client { http: unix_http(socket), socket: socket.to_path_buf() }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Whether a daemon answers on the socket (within a second).
    pub async fn ping(&self) -> bool {
        if !self.socket.exists() {
            return false;
        }
        let req = self.http.get(format!("{BASE}/healthz")).timeout(Duration::from_secs(1));
        matches!(req.send().await, Ok(r) if r.status().is_success())
    }

    async fn answer(&self, resp: Result<reqwest::Response, reqwest::Error>) -> Result<Value, ClientError> {
        let resp = resp.map_err(|e| ClientError {
            status: None,
            message: format!("cannot reach the daemon on {}: {e}", self.socket.display()),
        })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if status.is_success() {
            if text.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text).map_err(|e| ClientError {
                status: Some(status.as_u16()),
                message: format!("bad answer from the daemon: {e}"),
            });
        }
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or(text);
        Err(ClientError { status: Some(status.as_u16()), message })
    }

    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.answer(self.http.get(format!("{BASE}{path}")).send().await).await
    }

    pub async fn get_bytes(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        let resp = self
            .http
            .get(format!("{BASE}{path}"))
            .send()
            .await
            .map_err(|e| ClientError { status: None, message: e.to_string() })?;
        if !resp.status().is_success() {
            return Err(self
                .answer(Ok(resp))
                .await
                .err()
                .unwrap_or(ClientError { status: None, message: "failed".into() }));
        }
        resp.bytes().await.map(|b| b.to_vec()).map_err(|e| ClientError { status: None, message: e.to_string() })
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.answer(self.http.post(format!("{BASE}{path}")).json(body).send().await).await
    }

    /// Upload an attachment; returns its id.
    pub async fn upload(&self, file: &Path) -> Result<String, ClientError> {
        let bytes = std::fs::read(file)
            .map_err(|e| ClientError { status: None, message: format!("--file {}: {e}", file.display()) })?;
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "attachment".into());
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name);
        let form = reqwest::multipart::Form::new().part("file", part);
        let v = self.answer(self.http.post(format!("{BASE}/v1/files")).multipart(form).send().await).await?;
        Ok(v["id"].as_str().unwrap_or_default().to_owned())
    }

    /// A task's events after `after`, each given to `each`: with `live`,
    /// until the task ends; else those stored now. Reconnects with
    /// `Last-Event-ID` when the connection drops mid-stream.
    pub async fn follow(
        &self,
        id: &str,
        mut after: u64,
        live: bool,
        mut each: impl FnMut(&Value),
    ) -> Result<(), ClientError> {
        let mut failures = 0;
        loop {
            let url = format!("{BASE}/v1/tasks/{id}/events?follow={live}");
            let req = self.http.get(url).header("Last-Event-ID", after.to_string());
            let resp = match req.send().await {
                Ok(r) if r.status().is_success() => r,
                other => {
                    failures += 1;
                    if failures > 5 {
                        return Err(self.answer(other).await.err().unwrap_or(ClientError {
                            status: None,
                            message: "the event stream keeps failing".into(),
                        }));
                    }
                    tokio::time::sleep(Duration::from_millis(200 * failures)).await;
                    continue;
                }
            };
            let mut stream = eventsource_stream::EventStream::new(resp.bytes_stream());
            let mut ended_cleanly = true;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(ev) => {
                        if let Ok(n) = ev.id.parse::<u64>() {
                            after = n;
                        }
                        if let Ok(v) = serde_json::from_str::<Value>(&ev.data) {
                            each(&v);
                        }
                    }
                    Err(_) => {
                        ended_cleanly = false;
                        break;
                    }
                }
            }
            if ended_cleanly {
                return Ok(());
            }
            failures += 1;
        }
    }
}

/// Shows progress lines: above a spinner on a terminal (indicatif), plain
/// lines otherwise (logs, pipes).
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    pub fn new() -> Progress {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress { bar }
    }

    pub fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => {
                bar.println(text);
                bar.set_message(short(text, 60));
            }
            None => eprintln!("{text}"),
        }
    }

    pub fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

/// One line for an event (as JSON, in-process or from the daemon), or
/// `None` for events that are not shown (the model's full replies).
pub fn event_line(e: &Value) -> Option<String> {
    let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
    Some(match s("type") {
        "turn" => format!("turn {}", e["turn"]),
        "rollback" => format!("  reply rolled back ({})", s("reason")),
        "tool_call" => format!("  -> {}.{} {}", s("server"), s("tool"), short(&e["arguments"].to_string(), 90)),
        "tool_result" => {
            format!("  <- {} {}", if e["ok"].as_bool() == Some(true) { "ok" } else { "failed" }, short(s("output"), 90))
        }
        "intervention" => format!("  !! {}", short(s("message"), 110)),
        "note" => format!("  .. {}", short(s("message"), 110)),
        "attempt" => format!("attempt {} (after a post-mortem: {})", e["attempt"], short(s("failure_summary"), 80)),
        "limit" => format!("  limit: {}", short(s("message"), 200)),
        "answer" => format!("answer: {}", short(s("answer"), 110)),
        "error" => format!("error: {}", short(s("message"), 200)),
        "status" => format!("status: {}", s("status")),
        _ => return None,
    })
}

/// `text` on one line, at most `n` characters, with control characters
/// (terminal escapes a guest printed) shown as `?`.
pub fn short(text: &str, n: usize) -> String {
    let one: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if one.chars().count() > n { format!("{}…", one.chars().take(n).collect::<String>()) } else { one }
}
