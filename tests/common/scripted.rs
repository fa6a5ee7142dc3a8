//! A scripted OpenAI-compatible server: a real HTTP server in the test
//! process that replays scripted answers (and faults) and records every
//! request.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fathom::llm::{LlmClient, LlmConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub enum Step {
    Reply {
        status: u16,
        body: String,
        delay: Duration,
    },
    /// Close the connection without answering.
    Drop,
    /// A completion whose content is computed from the request body (to
    /// echo a sandbox id the model has just been told, say).
    Compute(Box<dyn Fn(&Value) -> String + Send>),
    /// Any step, computed from the request body.
    ComputeStep(Box<dyn Fn(&Value) -> Step + Send>),
}

pub fn completion(content: &str, finish: &str) -> Step {
    let body = json!({
        "id": "x", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    });
    Step::Reply { status: 200, body: body.to_string(), delay: Duration::ZERO }
}

/// A completion that reports the given token usage.
pub fn completion_usage(content: &str, prompt_tokens: u64, completion_tokens: u64) -> Step {
    let body = json!({
        "id": "x", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens}
    });
    Step::Reply { status: 200, body: body.to_string(), delay: Duration::ZERO }
}

/// An OpenAI-format reply with native `tool_calls`: `(id, function name,
/// arguments as JSON text)`.
pub fn native(content: Option<&str>, calls: &[(&str, &str, &str)]) -> Step {
    let tool_calls: Vec<Value> = calls
        .iter()
        .map(|(id, name, args)| json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}}))
        .collect();
    let body = json!({
        "id": "x", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "tool_calls": tool_calls},
                     "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    });
    Step::Reply { status: 200, body: body.to_string(), delay: Duration::ZERO }
}

pub fn status(code: u16, body: &str) -> Step {
    Step::Reply { status: code, body: body.into(), delay: Duration::ZERO }
}

pub struct Recorded {
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

#[derive(Clone)]
pub struct Scripted {
    pub url: String,
    script: Arc<Mutex<VecDeque<Step>>>,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    active: Arc<AtomicUsize>,
    pub peak: Arc<AtomicUsize>,
    /// Answers every request once the script is exhausted.
    responder: Option<Arc<dyn Fn(&Value) -> Step + Send + Sync>>,
    /// The accept loop, to kill the server (`Scripted::kill`).
    accepting: Arc<Mutex<Option<tokio::task::AbortHandle>>>,
}

impl Scripted {
    pub async fn start(steps: Vec<Step>) -> Scripted {
        Self::start_with(steps, None).await
    }

    /// A server that answers every request with `f(request body)`: one
    /// model for many concurrent conversations.
    pub async fn responder(f: impl Fn(&Value) -> Step + Send + Sync + 'static) -> Scripted {
        Self::start_with(Vec::new(), Some(Arc::new(f))).await
    }

    async fn start_with(steps: Vec<Step>, responder: Option<Arc<dyn Fn(&Value) -> Step + Send + Sync>>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let s = Scripted {
            url: format!("http://{}/v1", listener.local_addr().unwrap()),
            script: Arc::new(Mutex::new(steps.into())),
            requests: Arc::default(),
            active: Arc::default(),
            peak: Arc::default(),
            responder,
            accepting: Arc::default(),
        };
        let server = s.clone();
        let task = tokio::spawn(async move {
            loop {
                let (sock, _) = listener.accept().await.unwrap();
                let server = server.clone();
                tokio::spawn(async move { server.serve(sock).await });
            }
        });
        *s.accepting.lock().unwrap() = Some(task.abort_handle());
        s
    }

    /// Stop listening, as a server that died: new connections are refused.
    pub async fn kill(&self) {
        if let Some(task) = self.accepting.lock().unwrap().take() {
            task.abort();
        }
        // Let the aborted loop drop its listener.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    async fn serve(&self, mut sock: tokio::net::TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            let n = sock.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let headers: Vec<(String, String)> = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
            .collect();
        let len: usize =
            headers.iter().find(|(k, _)| k == "content-length").map(|(_, v)| v.parse().unwrap()).unwrap_or(0);
        while buf.len() < head_end + len {
            let n = sock.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body: Value = serde_json::from_slice(&buf[head_end..head_end + len]).unwrap_or(Value::Null);
        if self.responder.is_none() {
            self.requests.lock().unwrap().push(Recorded { headers, body: body.clone() });
        } else {
            // Many conversations at once: keep the count and the headers,
            // not every body.
            self.requests.lock().unwrap().push(Recorded { headers, body: Value::Null });
        }
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let next = self.script.lock().unwrap().pop_front();
        let step = match (next, &self.responder) {
            (Some(step), _) => step,
            (None, Some(f)) => f(&body),
            (None, None) => completion("script exhausted", "stop"),
        };
        let step = match step {
            Step::Compute(f) => completion(&f(&self.requests.lock().unwrap().last().unwrap().body), "stop"),
            Step::ComputeStep(f) => f(&self.requests.lock().unwrap().last().unwrap().body),
            other => other,
        };
        match step {
            Step::Drop | Step::Compute(_) | Step::ComputeStep(_) => {
                self.active.fetch_sub(1, Ordering::SeqCst);
            }
            Step::Reply { status, body, delay } => {
                tokio::time::sleep(delay).await;
                // Before the answer goes out, so the client cannot send its
                // next request while this one still counts as active.
                self.active.fetch_sub(1, Ordering::SeqCst);
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(response.as_bytes()).await;
            }
        }
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    pub fn client(&self, edit: impl FnOnce(&mut LlmConfig)) -> LlmClient {
        let mut cfg = LlmConfig::new(&self.url, "test-model");
        cfg.backoff = Duration::from_millis(10);
        cfg.max_attempts = 4;
        cfg.timeout = Duration::from_secs(5);
        edit(&mut cfg);
        LlmClient::new(cfg).unwrap()
    }
}
