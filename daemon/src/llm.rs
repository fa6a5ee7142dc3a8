//! Client for an OpenAI-compatible `/v1/chat/completions` endpoint (vLLM,
//! SGLang, llama.cpp), with the protocol's retry rules. Shared by the agent
//! loop (the main model) and the summary-model capability (`caps::summary`),
//! so it depends on neither.
//!
//! Retried, with exponential backoff: transport errors, timeouts, 408/429
//! and 5xx answers, and bodies that are not a chat completion. Resampled at
//! once, up to three times, then handed to the loop marked: replies the
//! protocol counts as failures (`finish_reason == "length"`, severe
//! repetition), which a greedy model would only repeat. Not retried: a
//! context-length error (the loop must shrink the context instead) and
//! other 4xx answers (the request itself is wrong).
//! Requests in flight per endpoint are capped by a semaphore.
//!
//! An endpoint may be several data-parallel replicas (vLLM or SGLang
//! behind no load balancer): each request goes to the healthy replica with
//! the fewest requests in flight; a replica that fails on its side (no
//! connection, a timeout, a 5xx) is taken out for a cooldown that doubles
//! with each failure in a row (up to 30 s), then tried again, and the
//! failed request goes straight to another replica, without backoff, while
//! one is healthy. Backoff applies only when every replica is out.
//!
//! A replica's state (its in-flight count, cap and health) is the
//! process's, not one client's: every task's client of the same URL shares
//! it, so `max_in_flight` caps the daemon's requests to that server, and a
//! replica one task saw fail is left out by all. [`endpoints`] reads it for
//! the metrics.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Semaphore;

/// Where and how to reach one model endpoint.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// Base URL up to and including `/v1`, e.g. `http://127.0.0.1:8000/v1`.
    pub base_url: String,
    /// More replicas of the same model, besides `base_url`.
    pub replicas: Vec<String>,
    pub model: String,
    pub api_key: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles each time, capped at 30 s.
    pub backoff: Duration,
    /// Requests in flight per replica.
    pub max_in_flight: usize,
}

impl LlmConfig {
    /// Every replica's base URL, `base_url` first.
    pub fn base_urls(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.base_url.as_str()).chain(self.replicas.iter().map(String::as_str))
    }
}

impl LlmConfig {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        LlmConfig {
            base_url: base_url.into(),
            replicas: Vec::new(),
            model: model.into(),
            api_key: None,
            timeout: Duration::from_secs(600),
            max_attempts: 10,
            backoff: Duration::from_secs(2),
            max_in_flight: 16,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
    /// OpenAI mode: the calls of an assistant message, as the server sent them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Value>,
    /// OpenAI mode: the call a `tool` message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        Message { role: role.into(), content: content.into(), tool_calls: None, tool_call_id: None }
    }
}

/// One native (OpenAI-format) tool call of a reply.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeCall {
    pub id: String,
    pub name: String,
    /// The arguments as the model wrote them (JSON text, maybe broken).
    pub arguments: String,
}

/// One chat request: the messages and the sampling parameters of the policy.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub temperature: f64,
    pub top_p: f64,
    pub max_tokens: u64,
    /// Sent as an extra body field, as vLLM and SGLang accept it.
    pub repetition_penalty: Option<f64>,
    /// The task id; each request carries `x-upstream-session-id: {id}-{uuid}`.
    pub session_id: String,
    /// OpenAI mode: the `tools` field (function definitions). `None` sends
    /// `"tools": []`, as the text protocol does.
    pub tools: Option<Vec<Value>>,
    /// OpenAI mode: `tool_choice` (`"none"` for the final summary).
    pub tool_choice: Option<&'static str>,
}

/// The request body as sent.
#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: &'a [Message],
    temperature: f64,
    top_p: f64,
    max_tokens: u64,
    stream: bool,
    tools: &'a [Value],
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repetition_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    continue_final_message: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    add_generation_prompt: Option<bool>,
}

/// Tokens, as the model server counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatReply {
    pub content: String,
    pub finish_reason: String,
    pub usage: Usage,
    /// How many attempts it took.
    pub attempts: u32,
    /// OpenAI mode: the reply's `tool_calls`, parsed, and as sent (to echo
    /// back in the conversation).
    pub tool_calls: Vec<NativeCall>,
    pub raw_tool_calls: Option<Value>,
    /// The reply still repeated itself after [`REPETITION_ATTEMPTS`]
    /// attempts. Resampling a deterministic model gives the same text, so
    /// the loop, not the client, deals with it (as a failed call).
    pub repetitive: bool,
    /// The reply was still cut at `max_tokens` (`finish_reason == "length"`)
    /// after [`REPETITION_ATTEMPTS`] attempts; like a repetitive one, it is
    /// the loop's to handle rather than a reason to fail the task.
    pub cut: bool,
}

/// Attempts spent on a reply that repeats itself, or is cut at
/// `max_tokens`, before it is handed to the loop marked
/// [`ChatReply::repetitive`] or [`ChatReply::cut`]: sampling again may
/// help at temperature 1, never at temperature 0.
pub const REPETITION_ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    #[error("the conversation is longer than the model's context: {0}")]
    ContextLength(String),
    #[error("the model server refused the request with HTTP {status}: {body}")]
    Rejected { status: u16, body: String },
    #[error("the model server failed after {attempts} attempts; last error: {last}")]
    Exhausted { attempts: u32, last: String },
}

/// What one attempt came to.
enum Attempt {
    Done(ChatReply),
    Fatal(LlmError),
    Retry(String),
    /// Well-formed, but the protocol's severe-repetition test fires.
    Repetitive(ChatReply),
    /// Well-formed, but cut at `max_tokens`.
    Cut(ChatReply),
}

pub struct LlmClient {
    http: reqwest::Client,
    cfg: LlmConfig,
    replicas: Vec<Arc<Replica>>,
}

/// One replica of an endpoint and what the process knows of its health.
struct Replica {
    url: String,
    /// The cap its semaphore was made with.
    cap: usize,
    slots: Semaphore,
    in_flight: AtomicUsize,
    /// Failures in a row, and until when the replica is left out.
    health: std::sync::Mutex<(u32, Option<Instant>)>,
}

/// The longest a failing replica is left out before it is tried again.
const MAX_COOLDOWN: Duration = Duration::from_secs(30);

/// Every replica the process has talked to, by chat-completions URL and cap.
static REPLICAS: LazyLock<Mutex<HashMap<(String, usize), Arc<Replica>>>> = LazyLock::new(Mutex::default);

/// The shared state of the replica at `url` with `cap` requests in flight.
/// Clients that disagree on the cap (a test's, or the summary model's
/// beside the main one's on one server) get separate semaphores.
fn replica(url: String, cap: usize) -> Arc<Replica> {
    let mut all = REPLICAS.lock().unwrap();
    all.entry((url.clone(), cap))
        .or_insert_with(|| {
            Arc::new(Replica {
                url,
                cap,
                slots: Semaphore::new(cap),
                in_flight: AtomicUsize::new(0),
                health: std::sync::Mutex::new((0, None)),
            })
        })
        .clone()
}

/// What the process knows of one model replica, for the metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointHealth {
    /// Its base URL (up to `/v1`).
    pub url: String,
    /// Not in a cooldown after a failure.
    pub up: bool,
    pub in_flight: usize,
    pub max_in_flight: usize,
    /// Failures in a row.
    pub failures: u32,
}

/// Every replica a client of this process has used, by URL.
pub fn endpoints() -> Vec<EndpointHealth> {
    let now = Instant::now();
    let mut out: Vec<EndpointHealth> = REPLICAS
        .lock()
        .unwrap()
        .values()
        .map(|r| EndpointHealth {
            url: r.url.trim_end_matches("/chat/completions").to_owned(),
            up: r.is_up(now),
            in_flight: r.in_flight.load(Ordering::SeqCst),
            max_in_flight: r.cap,
            failures: r.health.lock().unwrap().0,
        })
        .collect();
    out.sort_by(|a, b| a.url.cmp(&b.url).then(a.max_in_flight.cmp(&b.max_in_flight)));
    out
}

impl Replica {
    fn is_up(&self, now: Instant) -> bool {
        self.health.lock().unwrap().1.is_none_or(|until| until <= now)
    }

    fn failed(&self) {
        let mut h = self.health.lock().unwrap();
        h.0 += 1;
        let cooldown = (Duration::from_millis(500) * (1u32 << (h.0 - 1).min(6))).min(MAX_COOLDOWN);
        h.1 = Some(Instant::now() + cooldown);
    }

    fn answered(&self) {
        *self.health.lock().unwrap() = (0, None);
    }
}

/// Counts a request in flight on its replica for as long as it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl LlmClient {
    pub fn new(cfg: LlmConfig) -> Result<Self, String> {
        // reqwest is built without a bundled crypto provider; use ring's.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let replicas = cfg
            .base_urls()
            .map(|base| replica(format!("{}/chat/completions", base.trim_end_matches('/')), cfg.max_in_flight.max(1)))
            .collect();
        Ok(LlmClient { http, cfg, replicas })
    }

    /// The healthy replica with the fewest requests in flight; when none is
    /// healthy, the one due back first.
    fn pick(&self) -> &Replica {
        let now = Instant::now();
        let up = self.replicas.iter().filter(|r| r.is_up(now)).min_by_key(|r| r.in_flight.load(Ordering::SeqCst));
        up.unwrap_or_else(|| {
            self.replicas.iter().min_by_key(|r| r.health.lock().unwrap().1).expect("an endpoint has a replica")
        })
        .as_ref()
    }

    /// Whether some replica is not in its cooldown.
    fn any_up(&self) -> bool {
        let now = Instant::now();
        self.replicas.iter().any(|r| r.is_up(now))
    }

    /// Each replica's base URL and whether it is taken out now.
    pub fn replica_health(&self) -> Vec<(String, bool)> {
        let now = Instant::now();
        self.replicas.iter().map(|r| (r.url.trim_end_matches("/chat/completions").to_owned(), r.is_up(now))).collect()
    }

    pub fn config(&self) -> &LlmConfig {
        &self.cfg
    }

    pub async fn chat(&self, req: &ChatRequest) -> Result<ChatReply, LlmError> {
        // Continuing a partial assistant message (the protocol's rule).
        let continues = req.messages.last().is_some_and(|m| m.role == "assistant");
        let body = Body {
            model: &self.cfg.model,
            messages: &req.messages,
            temperature: req.temperature,
            top_p: req.top_p,
            max_tokens: req.max_tokens,
            stream: false,
            tools: req.tools.as_deref().unwrap_or_default(),
            tool_choice: req.tool_choice,
            repetition_penalty: req.repetition_penalty,
            continue_final_message: continues.then_some(true),
            add_generation_prompt: continues.then_some(false),
        };
        // Serialized once, straight from the conversation, and shared by
        // every attempt: late in a long task the body is hundreds of KB.
        let body = bytes::Bytes::from(serde_json::to_vec(&body).expect("a request body always serializes"));
        let attempts = self.cfg.max_attempts.max(1);
        let mut last = String::new();
        // Server faults back off exponentially; a bad reply is resampled at once.
        let mut faults = 0u32;
        let mut back_off = false;
        let mut bad_replies = 0;
        for attempt in 1..=attempts {
            if back_off {
                let factor = 1u32 << (faults - 1).min(10);
                tokio::time::sleep((self.cfg.backoff * factor).min(Duration::from_secs(30))).await;
            }
            let (bad, why) = match self.attempt(&body, &req.session_id).await {
                Attempt::Done(mut reply) => {
                    reply.attempts = attempt;
                    return Ok(reply);
                }
                Attempt::Fatal(e) => return Err(e),
                Attempt::Retry(why) => {
                    faults += 1;
                    // Another replica may answer at once.
                    back_off = !self.any_up();
                    last = why;
                    continue;
                }
                Attempt::Repetitive(mut reply) => {
                    reply.repetitive = true;
                    (reply, "the reply repeats itself (its last 50 characters occur more than 5 times)")
                }
                Attempt::Cut(mut reply) => {
                    reply.cut = true;
                    (reply, "the reply was cut at max_tokens (finish_reason \"length\")")
                }
            };
            bad_replies += 1;
            back_off = false;
            if bad_replies >= REPETITION_ATTEMPTS.min(attempts) || attempt == attempts {
                let mut reply = bad;
                reply.attempts = attempt;
                return Ok(reply);
            }
            last = why.to_owned();
        }
        Err(LlmError::Exhausted { attempts, last })
    }

    async fn attempt(&self, body: &bytes::Bytes, session: &str) -> Attempt {
        let replica = self.pick();
        replica.in_flight.fetch_add(1, Ordering::SeqCst);
        let _counted = InFlight(&replica.in_flight);
        let _permit = replica.slots.acquire().await.expect("semaphore never closed");
        let started = Instant::now();
        let attempt = self.attempt_on(&replica.url, body, session).await;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        // The replica's URL and the outcome only: never the API key.
        match &attempt {
            Attempt::Retry(why) => {
                replica.failed();
                tracing::warn!(replica = %replica.url, ms, "model request failed, retrying: {why}");
            }
            Attempt::Fatal(e) => {
                replica.answered();
                tracing::warn!(replica = %replica.url, ms, "model request refused: {e}");
            }
            _ => {
                replica.answered();
                tracing::debug!(replica = %replica.url, ms, "model request answered");
            }
        }
        attempt
    }

    async fn attempt_on(&self, url: &str, body: &bytes::Bytes, session: &str) -> Attempt {
        let mut request = self
            .http
            .post(url)
            .header("x-upstream-session-id", format!("{session}-{}", uuid::Uuid::new_v4()))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone());
        if let Some(key) = &self.cfg.api_key {
            request = request.bearer_auth(key);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Attempt::Retry(format!("no answer within {} s", self.cfg.timeout.as_secs_f64()));
            }
            Err(e) => return Attempt::Retry(format!("cannot reach {url}: {}", error_chain(&e))),
        };
        let status = response.status().as_u16();
        let text = match response.text().await {
            Ok(t) => t,
            Err(e) if e.is_timeout() => {
                return Attempt::Retry(format!("no answer within {} s", self.cfg.timeout.as_secs_f64()));
            }
            Err(e) => return Attempt::Retry(format!("the connection broke mid-answer: {}", error_chain(&e))),
        };
        if status != 200 {
            let short: String = text.chars().take(500).collect();
            if is_context_error(&text) {
                return Attempt::Fatal(LlmError::ContextLength(short));
            }
            if status == 408 || status == 429 || status >= 500 {
                return Attempt::Retry(format!("HTTP {status}: {short}"));
            }
            return Attempt::Fatal(LlmError::Rejected { status, body: short });
        }
        let Ok(parsed) = serde_json::from_str::<Value>(&text) else {
            let short: String = text.chars().take(200).collect();
            return Attempt::Retry(format!("the answer is not JSON: {short:?}"));
        };
        let choice = &parsed["choices"][0];
        let message = &choice["message"];
        let raw_tool_calls = message["tool_calls"].as_array().filter(|c| !c.is_empty()).map(|c| Value::from(c.clone()));
        let content = match (message["content"].as_str(), &raw_tool_calls) {
            (Some(c), _) => c,
            (None, Some(_)) => "",
            (None, None) => return Attempt::Retry("the answer has no choices[0].message.content".into()),
        };
        let finish_reason = choice["finish_reason"].as_str().unwrap_or("").to_owned();
        let tool_calls = raw_tool_calls
            .iter()
            .flat_map(|c| c.as_array().into_iter().flatten())
            .enumerate()
            .map(|(i, c)| NativeCall {
                id: c["id"].as_str().map(str::to_owned).unwrap_or_else(|| format!("call_{i}")),
                name: c["function"]["name"].as_str().unwrap_or("").to_owned(),
                arguments: match &c["function"]["arguments"] {
                    Value::String(s) => s.clone(),
                    Value::Null => "{}".into(),
                    other => other.to_string(),
                },
            })
            .collect();
        let usage = serde_json::from_value(parsed["usage"].clone()).unwrap_or_default();
        let reply = ChatReply {
            content: content.to_owned(),
            finish_reason,
            usage,
            attempts: 0,
            tool_calls,
            raw_tool_calls,
            repetitive: false,
            cut: false,
        };
        if severe_repetition(content) {
            return Attempt::Repetitive(reply);
        }
        if reply.finish_reason == "length" {
            return Attempt::Cut(reply);
        }
        Attempt::Done(reply)
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// The phrases vLLM, SGLang and llama.cpp use when a prompt is too long.
fn is_context_error(body: &str) -> bool {
    let b = body.to_lowercase();
    ["longer than the model", "context length", "maximum context", "context window", "exceeds the available context"]
        .iter()
        .any(|p| b.contains(p))
}

/// The protocol's test: the reply's last 50 characters occur more than 5
/// times in it.
pub fn severe_repetition(reply: &str) -> bool {
    let chars: Vec<char> = reply.chars().collect();
    if chars.len() < 50 {
        return false;
    }
    let tail: String = chars[chars.len() - 50..].iter().collect();
    reply.matches(tail.as_str()).count() > 5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repetition_and_context_errors_are_recognised() {
        let looping = "I need to check again. ".repeat(40);
        assert!(severe_repetition(&looping));
        assert!(!severe_repetition("a short reply"));
        let varied: String = (0..40).map(|i| format!("step {i} done; ")).collect();
        assert!(!severe_repetition(&varied));
        assert!(is_context_error(r#"{"error":{"message":"This model's maximum context length is 8192 tokens"}}"#));
        assert!(is_context_error("prompt is longer than the model's context length"));
        assert!(!is_context_error("internal error"));
    }
}
