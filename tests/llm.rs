//! The model client against a scripted OpenAI-compatible server: a real
//! HTTP server in this process that replays scripted answers (and faults)
//! and records every request.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::scripted::{Scripted, Step, completion, status};
use fathom::llm::{ChatRequest, LlmClient, LlmConfig, LlmError, Message};
use serde_json::json;

fn request(messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        messages,
        temperature: 1.0,
        top_p: 0.95,
        max_tokens: 16384,
        repetition_penalty: Some(1.05),
        session_id: "task-42".into(),
        tools: None,
        tool_choice: None,
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
                _ => unreachable!(),
            },
            delay: Duration::from_millis(150),
        })
        .collect();
    let server = Scripted::start(steps).await;
    // One client per request, as every task of the daemon has its own: the
    // cap is the replica's, shared by all of them.
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let client = server.client(|c| c.max_in_flight = 2);
            tokio::spawn(async move { client.chat(&ask()).await.unwrap() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().content, "ok");
    }
    assert_eq!(server.peak.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_reply_cut_at_max_tokens_is_resampled_then_handed_over() {
    // A greedy model cuts the same reply every time: after three samples the
    // client returns it, marked, for the loop to answer, instead of failing.
    let server = Scripted::start((0..5).map(|_| completion("<think>a very long", "length")).collect()).await;
    let reply = server.client(|c| c.max_attempts = 10).chat(&ask()).await.unwrap();
    assert_eq!(server.count(), 3);
    assert!(reply.cut && !reply.repetitive, "{reply:?}");
    assert_eq!(
        (reply.content.as_str(), reply.finish_reason.as_str(), reply.attempts),
        ("<think>a very long", "length", 3)
    );
    // A better sample on the way is taken as it is.
    let server = Scripted::start(vec![completion("cut", "length"), completion("whole", "stop")]).await;
    let reply = server.client(|_| {}).chat(&ask()).await.unwrap();
    assert_eq!((reply.content.as_str(), reply.cut, reply.attempts), ("whole", false, 2));
}

/// Two replicas of one model: concurrent requests spread over both, each
/// within its own in-flight cap; when one dies mid-task, every later
/// request goes to the other at once (no backoff), and nothing fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_load_and_a_dead_one_is_routed_around() {
    let answer = || {
        Scripted::responder(|_| match completion("ok", "stop") {
            Step::Reply { status, body, .. } => Step::Reply { status, body, delay: Duration::from_millis(100) },
            other => other,
        })
    };
    let (a, b) = (answer().await, answer().await);
    let mut cfg = LlmConfig::new(&a.url, "m");
    cfg.replicas = vec![b.url.clone()];
    cfg.max_in_flight = 3;
    cfg.backoff = Duration::from_secs(5);
    let client = std::sync::Arc::new(LlmClient::new(cfg).unwrap());

    let calls: Vec<_> = (0..6)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.chat(&ask()).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().content, "ok");
    }
    assert!(a.count() >= 2 && b.count() >= 2, "the fewest in flight wins: {} and {}", a.count(), b.count());
    assert!(a.peak.load(Ordering::SeqCst) <= 3 && b.peak.load(Ordering::SeqCst) <= 3, "each replica's cap holds");

    // A task's turns, with replica a killed after the second.
    let start = Instant::now();
    for turn in 0..8 {
        if turn == 2 {
            a.kill().await;
        }
        let reply = client.chat(&ask()).await.unwrap();
        assert_eq!(reply.content, "ok", "turn {turn}");
    }
    assert!(start.elapsed() < Duration::from_secs(4), "no backoff while a replica is healthy: {:?}", start.elapsed());
    assert_eq!(a.count() + b.count(), 6 + 8, "every request answered once");
    assert_eq!(client.replica_health(), [(a.url.clone(), false), (b.url.clone(), true)]);
}
