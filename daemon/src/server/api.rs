//! The routes of `interface.md` and their request and error shapes. Errors
//! are `{"error": {"code", "message"}}`; JSON bodies are size-capped and an
//! unknown field is refused by name.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::AppState;
use crate::tasks::{Error, Status, StoredEvent, Submission};

type Shared = State<Arc<AppState>>;

/// The API; with `token`, every request must carry `Authorization: Bearer`.
pub fn router(state: Arc<AppState>, token: Option<String>) -> Router {
    let max_body = state.max_body;
    let mut r = Router::new()
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/tools", get(tools))
        .route("/v1/policies", get(policies))
        .route("/v1/files", post(upload))
        .route("/v1/tasks", post(submit).get(list))
        .route("/v1/tasks/{id}", get(show))
        .route("/v1/tasks/{id}/cancel", post(cancel))
        .route("/v1/tasks/{id}/resume", post(resume))
        .route("/v1/tasks/{id}/trace", get(trace))
        .route("/v1/tasks/{id}/events", get(events))
        .route("/v1/tasks/{id}/files", get(task_files))
        .route("/v1/tasks/{id}/files/{*path}", get(task_file))
        .route("/v1/sessions", post(session_create))
        .route("/v1/sessions/{id}", axum::routing::delete(session_delete))
        .route("/v1/sessions/{id}/calls", post(session_call))
        .route("/v1/sessions/{id}/files/{*path}", get(session_get_file).put(session_put_file))
        .fallback(|| async { ApiError(Error::new(404, "not_found", "no such endpoint; see interface.md")) })
        .method_not_allowed_fallback(|| async {
            ApiError(Error::new(405, "method_not_allowed", "this endpoint does not take that method"))
        })
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state);
    if let Some(token) = token {
        r = r.layer(middleware::from_fn_with_state(Arc::new(token), bearer));
    }
    // Outermost, so refused requests are logged too.
    r.layer(middleware::from_fn(log_request))
}

/// An API error as a response.
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, Json(json!({"error": {"code": e.code, "message": e.message}}))).into_response();
        if let Some(secs) = e.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// `axum::Json` whose rejections are API errors naming what was wrong
/// (serde's message names an unknown or missing field).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rej) => {
                let (status, code) = match &rej {
                    JsonRejection::MissingJsonContentType(_) => (415, "unsupported_media_type"),
                    _ if rej.status() == StatusCode::PAYLOAD_TOO_LARGE => (413, "payload_too_large"),
                    // Bad syntax and bad fields alike are the client's to fix.
                    _ => (400, "invalid_json"),
                };
                Err(ApiError(Error::new(status, code, rej.body_text())))
            }
        }
    }
}

/// One log line per request: method, path and status, never headers or
/// query strings (a bearer token, a session's file names).
async fn log_request(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    let (status, ms) = (resp.status().as_u16(), started.elapsed().as_secs_f64() * 1e3);
    if status >= 500 {
        tracing::warn!(%method, path, status, ms, "request failed");
    } else {
        tracing::debug!(%method, path, status, ms, "request");
    }
    resp
}

async fn bearer(State(token): State<Arc<String>>, req: Request, next: Next) -> Response {
    let given =
        req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(t) if constant_time_eq(t.as_bytes(), token.as_bytes()) => next.run(req).await,
        _ => {
            let mut resp =
                ApiError(Error::new(401, "unauthorized", "this endpoint needs `Authorization: Bearer <server.token>`"))
                    .into_response();
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            resp
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// ---- general ---------------------------------------------------------------

async fn health(State(s): Shared) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "tasks": s.tasks.counts(),
        "sessions": s.sessions.count(),
        "sandboxes": {"live": s.budget.live(), "max": s.budget.cap()},
    }))
}

/// Prometheus metrics, in the OpenMetrics text format prometheus-client
/// writes (which Prometheus scrapes natively).
async fn metrics(State(s): Shared) -> Response {
    let now = crate::metrics::Snapshot {
        tasks: s.tasks.status_counts(),
        queued: s.tasks.queued_count() as u64,
        running: s.tasks.running_count() as u64,
        sandboxes: s.budget.live(),
        sandboxes_max: s.budget.cap(),
        sessions: s.sessions.count() as u64,
        endpoints: crate::llm::endpoints(),
    };
    let body = s.metrics.render(&now);
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response()
}

async fn tools(State(s): Shared) -> Json<Value> {
    Json(json!({"tools": s.tasks.runtime().tools()}))
}

async fn policies(State(s): Shared) -> Json<Value> {
    Json(json!({"policies": s.tasks.policies().store.names()}))
}

/// `POST /v1/files`, multipart with one part named `file`.
async fn upload(State(s): Shared, mut form: Multipart) -> ApiResult<(StatusCode, Json<Value>)> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError(Error::new(e.status().as_u16(), "invalid_multipart", e.body_text()))
    };
    while let Some(field) = form.next_field().await.map_err(bad)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("attachment").to_owned();
        let bytes = field.bytes().await.map_err(bad)?;
        return Ok((StatusCode::CREATED, Json(s.tasks.upload(&name, &bytes)?)));
    }
    Err(Error::bad_request("the multipart body has no part named `file`").into())
}

// ---- tasks -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTask {
    question: String,
    #[serde(default)]
    policy: Value,
    #[serde(default)]
    files: Vec<String>,
    tool_format: Option<String>,
}

async fn submit(State(s): Shared, ApiJson(t): ApiJson<NewTask>) -> ApiResult<(StatusCode, Json<Value>)> {
    let row = s.tasks.submit(Submission {
        question: t.question,
        policy: t.policy,
        files: t.files,
        tool_format: t.tool_format,
    })?;
    Ok((StatusCode::CREATED, Json(row.record())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    limit: Option<usize>,
}

async fn list(
    State(s): Shared,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = q.map_err(|e| ApiError(Error::bad_request(e.body_text())))?;
    let rows = s.tasks.list(q.status.as_deref(), q.limit.unwrap_or(100))?;
    Ok(Json(json!({"tasks": rows.iter().map(|r| r.record()).collect::<Vec<_>>()})))
}

async fn show(State(s): Shared, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(s.tasks.get(&id)?.record()))
}

async fn cancel(State(s): Shared, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(s.tasks.cancel(&id).await?.record()))
}

async fn resume(State(s): Shared, Path(id): Path<String>) -> ApiResult<(StatusCode, Json<Value>)> {
    Ok((StatusCode::ACCEPTED, Json(s.tasks.resume(&id)?.record())))
}

async fn trace(State(s): Shared, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(s.tasks.trace(&id)?))
}

async fn task_files(State(s): Shared, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let dir = s.tasks.outputs_dir(&id)?;
    let files = if dir.is_dir() { crate::hostfs::list(&dir, 10_000).unwrap_or_default() } else { Vec::new() };
    Ok(Json(json!({"files": files})))
}

async fn task_file(State(s): Shared, Path((id, path)): Path<(String, String)>) -> ApiResult<Response> {
    let dir = s.tasks.outputs_dir(&id)?;
    let rel = crate::hostfs::check_relative(&path).map_err(|m| ApiError(Error::bad_request(format!("path: {m}"))))?;
    match crate::hostfs::read(&dir, &rel) {
        Ok(bytes) => Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::new(404, "not_found", format!("task {id} saved no file {path:?}")).into())
        }
        Err(e) => Err(Error::bad_request(format!("cannot serve {path:?}: {e}")).into()),
    }
}

/// The task's events as Server-Sent Events: those after `Last-Event-ID`
/// (or `?after=`) from the database, then live ones; the stream ends after
/// the event that finishes the task.
async fn events(
    State(s): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    // `?follow=false`: the stored events only, then the stream ends.
    let live = !matches!(q.get("follow").map(String::as_str), Some("false" | "0"));
    let header_id = headers.get("last-event-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let after = match header_id.or_else(|| q.get("after").cloned()) {
        None => 0,
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map_err(|_| ApiError(Error::bad_request(format!("Last-Event-ID: {v:?} is not an event number"))))?,
    };
    let (past, rx) = s.tasks.subscribe(&id, after, live)?;
    let (tx, out) = tokio::sync::mpsc::channel::<SseEvent>(64);
    let tasks = s.tasks.clone();
    tokio::spawn(async move {
        let mut last = after;
        let send = async |e: &StoredEvent, last: &mut u64| -> Option<bool> {
            if e.seq <= *last {
                return Some(false);
            }
            *last = e.seq;
            tx.send(sse(e)).await.ok()?;
            Some(ends(e))
        };
        for e in &past {
            match send(e, &mut last).await {
                None | Some(true) => return,
                Some(false) => {}
            }
        }
        let Some(mut rx) = rx else { return };
        loop {
            let e = match rx.recv().await {
                Ok(e) => e,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    // Fell behind the live feed: catch up from the database.
                    for e in tasks.events_after(&id, last).unwrap_or_default() {
                        match send(&e, &mut last).await {
                            None | Some(true) => return,
                            Some(false) => {}
                        }
                    }
                    continue;
                }
                Err(_) => return,
            };
            match send(&e, &mut last).await {
                None | Some(true) => return,
                Some(false) => {}
            }
        }
    });
    let stream = futures_util::stream::unfold(out, |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn sse(e: &StoredEvent) -> SseEvent {
    let kind = e.body.get("type").and_then(Value::as_str).unwrap_or("event");
    SseEvent::default().id(e.seq.to_string()).event(kind).data(e.body.to_string())
}

/// Whether an event is the last a task's stream carries.
fn ends(e: &StoredEvent) -> bool {
    let status = e.body.get("type").and_then(Value::as_str) == Some("status");
    status && e.body.get("status").and_then(Value::as_str).and_then(Status::parse).is_some_and(Status::is_final)
}

// ---- sessions ------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NewSession {
    #[serde(default)]
    policy: Value,
}

async fn session_create(State(s): Shared, body: axum::body::Bytes) -> ApiResult<(StatusCode, Json<Value>)> {
    // An empty body means the default policy.
    let req: NewSession = if body.iter().all(u8::is_ascii_whitespace) {
        NewSession::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError(Error::new(400, "invalid_json", format!("invalid request body: {e}"))))?
    };
    Ok((StatusCode::CREATED, Json(s.sessions.create(&req.policy)?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCall {
    server: String,
    tool: String,
    #[serde(default)]
    arguments: Value,
}

async fn session_call(
    State(s): Shared,
    Path(id): Path<String>,
    ApiJson(c): ApiJson<NewCall>,
) -> ApiResult<Json<Value>> {
    Ok(Json(s.sessions.call(&id, &c.server, &c.tool, &c.arguments).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileQuery {
    sandbox_id: Option<String>,
}

async fn session_put_file(
    State(s): Shared,
    Path((id, path)): Path<(String, String)>,
    Query(q): Query<FileQuery>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    Ok((StatusCode::CREATED, Json(s.sessions.put_file(&id, q.sandbox_id.as_deref(), &path, &body)?)))
}

async fn session_get_file(
    State(s): Shared,
    Path((id, path)): Path<(String, String)>,
    Query(q): Query<FileQuery>,
) -> ApiResult<Response> {
    let bytes = s.sessions.get_file(&id, q.sandbox_id.as_deref(), &path)?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

async fn session_delete(State(s): Shared, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.sessions.delete(&id)?;
    Ok(StatusCode::NO_CONTENT)
}
