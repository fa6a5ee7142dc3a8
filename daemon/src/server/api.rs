//! The routes of `interface.md` and their request and error shapes. Errors
//! are `{"error": {"code", "message"}}`; JSON bodies are size-capped and an
//! unknown field is refused by name.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::Stream;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::runtime::ToolInfo;
use crate::tasks::sessions::{SessionCall, SessionInfo, StoredFile};
use crate::tasks::store::TaskRecord;
use crate::tasks::{Error, Status, StoredEvent, Submission, Upload};

type Shared = State<Arc<AppState>>;

/// The document's frame; every path and schema in it comes from the
/// handlers below (`#[utoipa::path]`) and the types they take and return.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Fathom",
        description = "The research-agent daemon: tasks run durably and stream their steps; sessions serve sandboxed tools to outside agent loops. Served on a Unix socket without authentication, and on TCP (`fathom serve --listen`) behind a bearer token.",
        license(name = "Apache-2.0")
    ),
    // Their axum routes end in a `{*path}` wildcard, which a path item
    // cannot say: documented here, routed by hand below.
    paths(task_file, session_get_file, session_put_file),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    tags((name = "tasks"), (name = "sessions"), (name = "daemon"))
)]
struct ApiDoc;

/// The TCP listener's bearer token, as a security scheme.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
        let scheme =
            HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("`server.token`; TCP only")).build();
        api.components.get_or_insert_with(Default::default).add_security_scheme("bearer", SecurityScheme::Http(scheme));
        // Optional: the Unix socket takes none.
        api.security =
            Some(vec![SecurityRequirement::default(), SecurityRequirement::new("bearer", Vec::<String>::new())]);
    }
}

/// The API and its OpenAPI document, built together from the same handlers.
pub fn api(state: Arc<AppState>) -> (Router<Arc<AppState>>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(metrics))
        .routes(routes!(tools))
        .routes(routes!(policies))
        .routes(routes!(upload))
        .routes(routes!(submit, list))
        .routes(routes!(show))
        .routes(routes!(cancel))
        .routes(routes!(resume))
        .routes(routes!(trace))
        .routes(routes!(events))
        .routes(routes!(task_files))
        .route("/v1/tasks/{id}/files/{*path}", get(task_file))
        .routes(routes!(session_create))
        .routes(routes!(session_delete))
        .routes(routes!(session_call))
        .route("/v1/sessions/{id}/files/{*path}", get(session_get_file).put(session_put_file))
        .with_state(state)
        .split_for_parts()
}

/// The API; with `token`, every request must carry `Authorization: Bearer`.
pub fn router(state: Arc<AppState>, token: Option<String>) -> Router {
    let max_body = state.max_body;
    let (routes, doc) = api(state.clone());
    let doc = Arc::new(doc.to_json().expect("the OpenAPI document serializes"));
    let mut r = routes
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], (*doc).clone()) }),
        )
        .fallback(|| async { ApiError(Error::new(404, "not_found", "no such endpoint; see interface.md")) })
        .method_not_allowed_fallback(|| async {
            ApiError(Error::new(405, "method_not_allowed", "this endpoint does not take that method"))
        })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(json_errors))
        // MCP answers in its own shapes (JSON-RPC errors, the status codes
        // its transport specifies), so it stays outside `json_errors`.
        .route_service("/mcp", state.mcp.clone())
        .with_state(state);
    if let Some(token) = token {
        r = r.layer(middleware::from_fn_with_state(Arc::new(token), bearer));
    }
    // The viewer's page holds no data (it reads the API, with the token),
    // so it loads without one: a browser cannot send a header when it
    // opens an address.
    r = r.merge(crate::ui::routes());
    // Outermost, so refused requests are logged too.
    r.layer(middleware::from_fn(log_request))
}

/// The body of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ErrorDetail {
    /// Machine-readable: `invalid_json`, `not_found`, `busy`, ...
    code: String,
    /// One sentence: what was wrong and what to do.
    message: String,
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
        let body = ErrorBody { error: ErrorDetail { code: e.code.into(), message: e.message } };
        let mut resp = (status, Json(body)).into_response();
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

/// axum's own rejections (a path or query that does not parse, a body
/// over the cap on a raw upload, a broken multipart body) are plain text:
/// given the API's JSON error shape here, so every error looks the same.
async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return resp;
    }
    let code = match status.as_u16() {
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "invalid_json",
        s if s >= 500 => "internal",
        _ => "invalid_request",
    };
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 << 10).await.unwrap_or_default();
    let message = String::from_utf8_lossy(&text).trim().to_owned();
    let mut out = ApiError(Error::new(status.as_u16(), code, message)).into_response();
    if let Some(v) = parts.headers.get(header::RETRY_AFTER) {
        out.headers_mut().insert(header::RETRY_AFTER, v.clone());
    }
    out
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

/// `GET /healthz`.
#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    /// Always `ok`: the daemon answers only once it is ready.
    status: &'static str,
    version: &'static str,
    /// Tasks in the database, by status.
    tasks: BTreeMap<String, u64>,
    /// Open sessions.
    sessions: u64,
    sandboxes: SandboxCount,
}

#[derive(Serialize, utoipa::ToSchema)]
struct SandboxCount {
    live: u64,
    /// `server.max_sandboxes`.
    max: u64,
}

#[utoipa::path(get, path = "/healthz", tag = "daemon", responses((status = 200, description = "The daemon answers", body = Health)))]
async fn health(State(s): Shared) -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        tasks: s.tasks.status_counts().into_iter().collect(),
        sessions: s.sessions.count() as u64,
        sandboxes: SandboxCount { live: s.budget.live(), max: s.budget.cap() },
    })
}

/// Prometheus metrics, in the OpenMetrics text format prometheus-client
/// writes (which Prometheus scrapes natively).
#[utoipa::path(get, path = "/metrics", tag = "daemon", responses((status = 200, description = "Prometheus metrics (OpenMetrics text)", body = String, content_type = "application/openmetrics-text")))]
async fn metrics(State(s): Shared) -> Response {
    let now = crate::metrics::Snapshot {
        tasks: s.tasks.status_counts(),
        queued: s.tasks.queued_count() as u64,
        running: s.tasks.running_count() as u64,
        sandboxes: s.budget.live(),
        sandboxes_max: s.budget.cap(),
        sessions: s.sessions.count() as u64,
        warm_instances: s.tasks.runtime().warm_pool().ready as u64,
        endpoints: crate::llm::endpoints(),
    };
    let body = s.metrics.render(&now);
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response()
}

#[derive(Serialize, utoipa::ToSchema)]
struct ToolList {
    tools: Vec<ToolInfo>,
}

#[utoipa::path(get, path = "/v1/tools", tag = "daemon", responses((status = 200, description = "The installed tools", body = ToolList)))]
async fn tools(State(s): Shared) -> Json<ToolList> {
    Json(ToolList { tools: s.tasks.runtime().tools().to_vec() })
}

#[derive(Serialize, utoipa::ToSchema)]
struct PolicyList {
    policies: Vec<String>,
}

#[utoipa::path(get, path = "/v1/policies", tag = "daemon", responses((status = 200, description = "The policy presets and files a task may name", body = PolicyList)))]
async fn policies(State(s): Shared) -> Json<PolicyList> {
    Json(PolicyList { policies: s.tasks.policies().store.names() })
}

/// The multipart body of `POST /v1/files`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct UploadForm {
    /// The attachment; its file name is kept (one plain name).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// `POST /v1/files`, multipart with one part named `file`.
#[utoipa::path(post, path = "/v1/files", tag = "tasks",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, description = "Stored; name its id in a task's `files`", body = Upload), (status = 400, description = "No part named `file`, or a bad file name", body = ErrorBody), (status = 413, description = "Larger than server.max_body_mb", body = ErrorBody), (status = 415, description = "Not multipart/form-data", body = ErrorBody)))]
async fn upload(State(s): Shared, mut form: Multipart) -> ApiResult<(StatusCode, Json<Upload>)> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError(Error::new(e.status().as_u16(), "invalid_multipart", e.body_text()))
    };
    let mut file = None;
    while let Some(field) = form.next_field().await.map_err(bad)? {
        match field.name() {
            Some("file") if file.is_none() => {
                let name = field.file_name().unwrap_or("attachment").to_owned();
                file = Some((name, field.bytes().await.map_err(bad)?));
            }
            Some("file") => {
                return Err(Error::bad_request(
                    "the multipart body has two parts named `file`; upload one file per request",
                )
                .into());
            }
            other => {
                let other = other.unwrap_or("");
                return Err(Error::bad_request(format!(
                    "the multipart body has a part {other:?}; only `file` is taken"
                ))
                .into());
            }
        }
    }
    let (name, bytes) =
        file.ok_or_else(|| ApiError(Error::bad_request("the multipart body has no part named `file`")))?;
    Ok((StatusCode::CREATED, Json(s.tasks.upload(&name, &bytes)?)))
}

// ---- tasks -------------------------------------------------------------------

/// A policy: a preset's name, or an inline policy (the policy schema of
/// `policy-schema.md` as JSON, `extends` allowed). Absent: `default`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum PolicySpec {
    Name(String),
    Inline(HashMap<String, Value>),
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewTask {
    /// The task, in words.
    #[schema(min_length = 1)]
    question: String,
    #[serde(default)]
    #[schema(value_type = Option<PolicySpec>)]
    policy: Value,
    /// Ids of uploaded attachments (`POST /v1/files`).
    #[serde(default)]
    files: Vec<String>,
    /// `mcp-xml` (the default) or `openai`.
    tool_format: Option<String>,
}

#[utoipa::path(post, path = "/v1/tasks", tag = "tasks", request_body = NewTask,
    responses((status = 201, description = "Acknowledged: stored before this answer", body = TaskRecord), (status = 400, description = "A bad field, policy or attachment, named", body = ErrorBody), (status = 413, description = "Larger than server.max_body_mb", body = ErrorBody), (status = 415, description = "Not application/json", body = ErrorBody), (status = 422, description = "Well-formed JSON that does not fit the request", body = ErrorBody), (status = 429, description = "The queue is full; Retry-After says when to try again", body = ErrorBody), (status = 503, description = "No model server is configured", body = ErrorBody)))]
async fn submit(State(s): Shared, ApiJson(t): ApiJson<NewTask>) -> ApiResult<(StatusCode, Json<TaskRecord>)> {
    let row = s.tasks.submit(Submission {
        question: t.question,
        policy: t.policy,
        files: t.files,
        tool_format: t.tool_format,
    })?;
    Ok((StatusCode::CREATED, Json(row.record())))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only tasks with this status.
    status: Option<Status>,
    /// At most this many (default 100).
    limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct TaskList {
    tasks: Vec<TaskRecord>,
}

#[utoipa::path(get, path = "/v1/tasks", tag = "tasks", params(ListQuery),
    responses((status = 200, description = "The newest tasks first", body = TaskList), (status = 400, description = "A bad status or limit", body = ErrorBody)))]
async fn list(
    State(s): Shared,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<TaskList>> {
    let Query(q) = q.map_err(|e| ApiError(Error::bad_request(e.body_text())))?;
    let rows = s.tasks.list(q.status.map(Status::as_str), q.limit.unwrap_or(100))?;
    Ok(Json(TaskList { tasks: rows.iter().map(|r| r.record()).collect() }))
}

#[utoipa::path(get, path = "/v1/tasks/{id}", tag = "tasks", params(("id" = String, Path, description = "The task's id")),
    responses((status = 200, description = "The task record", body = TaskRecord), (status = 404, description = "No such task", body = ErrorBody)))]
async fn show(State(s): Shared, Path(id): Path<String>) -> ApiResult<Json<TaskRecord>> {
    Ok(Json(s.tasks.get(&id)?.record()))
}

#[utoipa::path(post, path = "/v1/tasks/{id}/cancel", tag = "tasks", params(("id" = String, Path, description = "The task's id")),
    responses((status = 200, description = "Cancelled (or already finished: its record)", body = TaskRecord), (status = 404, description = "No such task", body = ErrorBody), (status = 409, description = "The task has already finished", body = ErrorBody)))]
async fn cancel(State(s): Shared, Path(id): Path<String>) -> ApiResult<Json<TaskRecord>> {
    Ok(Json(s.tasks.cancel(&id).await?.record()))
}

#[utoipa::path(post, path = "/v1/tasks/{id}/resume", tag = "tasks", params(("id" = String, Path, description = "The task's id")),
    responses((status = 202, description = "Queued again, to continue from its last completed turn", body = TaskRecord), (status = 404, description = "No such task", body = ErrorBody), (status = 409, description = "The task cannot be resumed", body = ErrorBody), (status = 429, description = "The queue is full", body = ErrorBody)))]
async fn resume(State(s): Shared, Path(id): Path<String>) -> ApiResult<(StatusCode, Json<TaskRecord>)> {
    Ok((StatusCode::ACCEPTED, Json(s.tasks.resume(&id)?.record())))
}

#[utoipa::path(get, path = "/v1/tasks/{id}/trace", tag = "tasks", params(("id" = String, Path, description = "The task's id")),
    responses((status = 200, description = "The trajectory, in MiroThinker's task-log format", body = Object), (status = 404, description = "No such task", body = ErrorBody)))]
async fn trace(State(s): Shared, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(s.tasks.trace(&id)?))
}

#[utoipa::path(get, path = "/v1/tasks/{id}/files", tag = "tasks", params(("id" = String, Path, description = "The task's id")),
    responses((status = 200, description = "The files the task saved to its outputs", body = FileList), (status = 404, description = "No such task", body = ErrorBody)))]
async fn task_files(State(s): Shared, Path(id): Path<String>) -> ApiResult<Json<FileList>> {
    let dir = s.tasks.outputs_dir(&id)?;
    let files = if dir.is_dir() { crate::hostfs::list(&dir, 10_000).unwrap_or_default() } else { Vec::new() };
    Ok(Json(FileList { files }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct FileList {
    /// Paths relative to the outputs folder.
    files: Vec<String>,
}

#[utoipa::path(get, path = "/v1/tasks/{id}/files/{path}", tag = "tasks",
    params(("id" = String, Path, description = "The task's id"), ("path" = String, Path, description = "A relative path in its outputs")),
    responses((status = 200, description = "The file", body = Vec<u8>, content_type = "application/octet-stream"), (status = 400, description = "A path that leaves the outputs", body = ErrorBody), (status = 404, description = "No such task or file", body = ErrorBody)))]
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

/// One Server-Sent Event of a task's stream.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct SseMessage {
    /// The task's event number, for `Last-Event-ID`.
    id: String,
    /// The event's `type`: `status`, `turn`, `tool_call`, `tool_result`, `limit`, `error`, `answer`, ...
    event: String,
    /// The event as JSON: `{seq, at, type, ...}`.
    data: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct EventsQuery {
    /// Only the events after this number (as `Last-Event-ID`, which wins).
    #[param(minimum = 0)]
    after: Option<i64>,
    /// `false`: the stored events only, then the stream ends.
    follow: Option<bool>,
}

/// The task's events as Server-Sent Events: those after `Last-Event-ID`
/// (or `?after=`) from the database, then live ones; the stream ends after
/// the event that finishes the task.
#[utoipa::path(get, path = "/v1/tasks/{id}/events", tag = "tasks",
    params(("id" = String, Path, description = "The task's id"), EventsQuery, ("Last-Event-ID" = Option<String>, Header, pattern = r"^[ \t]*[0-9]*[ \t]*$", description = "Resume after this event number")),
    responses((status = 200, description = "Server-Sent Events: every step, replayed from the start, each with `id:` its number; the stream ends with the task", body = SseMessage, content_type = "text/event-stream"), (status = 400, description = "A Last-Event-ID or after that is not an event number", body = ErrorBody), (status = 404, description = "No such task", body = ErrorBody)))]
async fn events(
    State(s): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let Query(q) = q.map_err(|e| ApiError(Error::bad_request(e.body_text())))?;
    let live = q.follow.unwrap_or(true);
    let header_id = match headers.get("last-event-id").map(|v| v.to_str()) {
        None => None,
        Some(Ok(v)) => Some(v.to_owned()),
        Some(Err(_)) => return Err(Error::bad_request("Last-Event-ID: not an event number (not even ASCII)").into()),
    };
    // An empty Last-Event-ID is the SSE spec's "from the start".
    let after = match header_id.filter(|v| !v.trim().is_empty()).or_else(|| q.after.map(|n| n.to_string())) {
        None => 0,
        Some(v) => v.trim().parse::<u64>().map_err(|_| {
            ApiError(Error::bad_request(format!("Last-Event-ID or after: {v:?} is not an event number")))
        })?,
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

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewSession {
    #[serde(default)]
    #[schema(value_type = Option<PolicySpec>)]
    policy: Value,
}

#[utoipa::path(post, path = "/v1/sessions", tag = "sessions", request_body(content = Option<NewSession>, description = "Empty for the default policy"),
    responses((status = 201, description = "A session and its first sandbox", body = SessionInfo), (status = 400, description = "A bad policy, named", body = ErrorBody), (status = 429, description = "The daemon's sandbox cap is reached", body = ErrorBody)))]
async fn session_create(State(s): Shared, body: axum::body::Bytes) -> ApiResult<(StatusCode, Json<SessionInfo>)> {
    // An empty body means the default policy.
    let req: NewSession = if body.iter().all(u8::is_ascii_whitespace) {
        NewSession::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError(Error::new(400, "invalid_json", format!("invalid request body: {e}"))))?
    };
    Ok((StatusCode::CREATED, Json(s.sessions.create(&req.policy)?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewCall {
    /// e.g. `tool-python`.
    server: String,
    /// e.g. `run_python_code`.
    tool: String,
    /// The tool's arguments (its input schema, `GET /v1/tools`).
    #[serde(default)]
    #[schema(value_type = Option<HashMap<String, Value>>)]
    arguments: Value,
}

#[utoipa::path(post, path = "/v1/sessions/{id}/calls", tag = "sessions", request_body = NewCall, params(("id" = String, Path, description = "The session's id")),
    responses((status = 200, description = "The call's outcome; `ok` is false when the tool failed or a limit stopped it", body = SessionCall), (status = 400, description = "Arguments that are not an object", body = ErrorBody), (status = 404, description = "No such session", body = ErrorBody), (status = 413, description = "Larger than server.max_body_mb", body = ErrorBody), (status = 415, description = "Not application/json", body = ErrorBody), (status = 422, description = "Well-formed JSON that does not fit the request", body = ErrorBody)))]
async fn session_call(
    State(s): Shared,
    Path(id): Path<String>,
    ApiJson(c): ApiJson<NewCall>,
) -> ApiResult<Json<SessionCall>> {
    Ok(Json(s.sessions.call(&id, &c.server, &c.tool, &c.arguments).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct FileQuery {
    /// Another sandbox of the session (default: its first).
    sandbox_id: Option<String>,
}

#[utoipa::path(put, path = "/v1/sessions/{id}/files/{path}", tag = "sessions",
    params(("id" = String, Path, description = "The session's id"), ("path" = String, Path, description = "Relative to /home/user"), FileQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, description = "Written", body = StoredFile), (status = 400, description = "A path that leaves the workspace, or a full disk quota", body = ErrorBody), (status = 404, description = "No such session or sandbox", body = ErrorBody), (status = 413, description = "Larger than server.max_body_mb", body = ErrorBody)))]
async fn session_put_file(
    State(s): Shared,
    Path((id, path)): Path<(String, String)>,
    Query(q): Query<FileQuery>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<StoredFile>)> {
    Ok((StatusCode::CREATED, Json(s.sessions.put_file(&id, q.sandbox_id.as_deref(), &path, &body)?)))
}

#[utoipa::path(get, path = "/v1/sessions/{id}/files/{path}", tag = "sessions",
    params(("id" = String, Path, description = "The session's id"), ("path" = String, Path, description = "Relative to /home/user"), FileQuery),
    responses((status = 200, description = "The file", body = Vec<u8>, content_type = "application/octet-stream"), (status = 400, description = "A path that leaves the workspace", body = ErrorBody), (status = 404, description = "No such session, sandbox or file", body = ErrorBody)))]
async fn session_get_file(
    State(s): Shared,
    Path((id, path)): Path<(String, String)>,
    Query(q): Query<FileQuery>,
) -> ApiResult<Response> {
    let bytes = s.sessions.get_file(&id, q.sandbox_id.as_deref(), &path)?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

#[utoipa::path(delete, path = "/v1/sessions/{id}", tag = "sessions", params(("id" = String, Path, description = "The session's id")),
    responses((status = 204, description = "Closed; its sandboxes are gone"), (status = 404, description = "No such session", body = ErrorBody)))]
async fn session_delete(State(s): Shared, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.sessions.delete(&id)?;
    Ok(StatusCode::NO_CONTENT)
}
