//! The model client against a scripted OpenAI-compatible server: a real
//! HTTP server in this process that replays scripted answers (and faults)
//! and records every request.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fathom::agent::llm::{ChatRequest, LlmClient, LlmConfig, LlmError, Message};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

enum Step {
    Reply {
        status: u16,
        body: String,
        delay: Duration,
    },
    /// Close the connection without answering.
    Drop,
}

fn completion(content: &str, finish: &str) -> Step {
    let body = json!({
        "id": "x", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    });
    Step::Reply { status: 200, body: body.to_string(), delay: Duration::ZERO }
}

fn status(code: u16, body: &str) -> Step {
    Step::Reply { status: code, body: body.into(), delay: Duration::ZERO }
}

struct Recorded {
    headers: Vec<(String, String)>,
    body: Value,
}

#[derive(Clone)]
struct Scripted {
    url: String,
    script: Arc<Mutex<VecDeque<Step>>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    active: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl Scripted {
    async fn start(steps: Vec<Step>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let s = Scripted {
            url: format!("http://{}/v1", listener.local_addr().unwrap()),
            script: Arc::new(Mutex::new(steps.into())),
            requests: Arc::default(),
            active: Arc::default(),
            peak: Arc::default(),
        };
        let server = s.clone();
        tokio::spawn(async move {
            loop {
                let (sock, _) = listener.accept().await.unwrap();
                let server = server.clone();
                tokio::spawn(async move { server.serve(sock).await });
            }
        });
        s
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
        let body = serde_json::from_slice(&buf[head_end..head_end + len]).unwrap_or(Value::Null);
        self.requests.lock().unwrap().push(Recorded { headers, body });
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let step = self.script.lock().unwrap().pop_front().unwrap_or_else(|| completion("script exhausted", "stop"));
        match step {
            Step::Drop => {}
            Step::Reply { status, body, delay } => {
                tokio::time::sleep(delay).await;
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(response.as_bytes()).await;
            }
        }
        self.active.fetch_sub(1, Ordering::SeqCst);
    }

    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    fn client(&self, edit: impl FnOnce(&mut LlmConfig)) -> LlmClient {
        let mut cfg = LlmConfig::new(&self.url, "test-model");
        cfg.backoff = Duration::from_millis(10);
        cfg.max_attempts = 4;
        cfg.timeout = Duration::from_secs(5);
        edit(&mut cfg);
        LlmClient::new(cfg).unwrap()
    }
}

fn request(messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        messages,
        temperature: 1.0,
        top_p: 0.95,
        max_tokens: 16384,
        repetition_penalty: Some(1.05),
        session_id: "task-42".into(),
    }
}

fn ask() -> ChatRequest {
    request(vec![Message::new("system", "sys"), Message::new("user", "What is 2+2?")])
}

#[tokio::test]
async fn sends_the_protocols_parameters_and_headers() {
    let server = Scripted::start(vec![completion("It is \\boxed{4}.", "stop")]).await;
    let client = server.client(|c| c.api_key = Some("sk-test".into()));
    let reply = client.chat(&ask()).await.unwrap();
    assert_eq!(reply.content, "It is \\boxed{4}.");
    assert_eq!((reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.attempts), (11, 7, 1));
    let reqs = server.requests.lock().unwrap();
    let r = &reqs[0];
    assert_eq!(r.body["model"], "test-model");
    assert_eq!((r.body["temperature"].as_f64(), r.body["top_p"].as_f64()), (Some(1.0), Some(0.95)));
    assert_eq!((r.body["max_tokens"].as_u64(), r.body["repetition_penalty"].as_f64()), (Some(16384), Some(1.05)));
    assert_eq!(r.body["messages"][1], json!({"role": "user", "content": "What is 2+2?"}));
    assert!(r.body.get("continue_final_message").is_none());
    let header = |name: &str| r.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let session = header("x-upstream-session-id").unwrap();
    assert!(session.starts_with("task-42-") && session.len() == "task-42-".len() + 36, "{session}");
    assert_eq!(header("authorization").as_deref(), Some("Bearer sk-test"));
}

#[tokio::test]
async fn a_trailing_assistant_message_is_continued() {
    let server = Scripted::start(vec![completion("more", "stop")]).await;
    let mut req = ask();
    req.messages.push(Message::new("assistant", "partial"));
    server.client(|_| {}).chat(&req).await.unwrap();
    let reqs = server.requests.lock().unwrap();
    assert_eq!(
        (reqs[0].body["continue_final_message"].as_bool(), reqs[0].body["add_generation_prompt"].as_bool()),
        (Some(true), Some(false))
    );
}

#[tokio::test]
async fn server_faults_are_retried_until_an_answer() {
    let slow = Step::Reply { status: 200, body: "{}".into(), delay: Duration::from_secs(3) };
    let server = Scripted::start(vec![
        status(500, "boom"),
        status(503, "overloaded"),
        status(200, "this is not json"),
        Step::Drop,
        slow,
        completion("cut off", "length"),
        completion(&"again and again and again and again and again! ".repeat(20), "stop"),
        completion("fine", "stop"),
    ])
    .await;
    let client = server.client(|c| {
        c.max_attempts = 10;
        c.timeout = Duration::from_millis(500);
    });
    let reply = client.chat(&ask()).await.unwrap();
    assert_eq!((reply.content.as_str(), reply.attempts), ("fine", 8));
    assert_eq!(server.count(), 8);
    // Each request had its own session suffix.
    let reqs = server.requests.lock().unwrap();
    let ids: std::collections::HashSet<_> =
        reqs.iter().map(|r| r.headers.iter().find(|(k, _)| k == "x-upstream-session-id").unwrap().1.clone()).collect();
    assert_eq!(ids.len(), 8);
}

#[tokio::test]
async fn context_length_errors_are_not_retried() {
    let server = Scripted::start(vec![status(
        400,
        r#"{"error": {"message": "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens."}}"#,
    )])
    .await;
    let err = server.client(|_| {}).chat(&ask()).await.unwrap_err();
    assert!(matches!(&err, LlmError::ContextLength(m) if m.contains("8192")), "{err}");
    assert_eq!(server.count(), 1);

    let server = Scripted::start(vec![status(404, "no such model")]).await;
    let err = server.client(|_| {}).chat(&ask()).await.unwrap_err();
    assert_eq!(err, LlmError::Rejected { status: 404, body: "no such model".into() });
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn persistent_failure_ends_with_a_clear_error_not_a_hang() {
    let server = Scripted::start((0..10).map(|_| status(502, "bad gateway")).collect()).await;
    let start = Instant::now();
    let err = server.client(|c| c.max_attempts = 3).chat(&ask()).await.unwrap_err();
    assert_eq!(server.count(), 3);
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(err.to_string(), "the model server failed after 3 attempts; last error: HTTP 502: bad gateway");

    // Nobody listening at all.
    let dead = LlmClient::new({
        let mut c = LlmConfig::new("http://127.0.0.1:9/v1", "m");
        c.max_attempts = 2;
        c.backoff = Duration::from_millis(10);
        c
    })
    .unwrap();
    let err = dead.chat(&ask()).await.unwrap_err();
    assert!(err.to_string().contains("cannot reach http://127.0.0.1:9/v1/chat/completions"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_are_capped() {
    let steps = (0..6)
        .map(|_| Step::Reply {
            status: 200,
            body: match completion("ok", "stop") {
                Step::Reply { body, .. } => body,
                Step::Drop => unreachable!(),
            },
            delay: Duration::from_millis(150),
        })
        .collect();
    let server = Scripted::start(steps).await;
    let client = Arc::new(server.client(|c| c.max_in_flight = 2));
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.chat(&ask()).await.unwrap() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().content, "ok");
    }
    assert_eq!(server.peak.load(Ordering::SeqCst), 2);
}
