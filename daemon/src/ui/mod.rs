//! The trace viewer: a page and its script and style, built into the
//! binary (no CDN, no fonts fetched), served by the daemon at `/ui` and by
//! `fathom view FILE` for one trajectory file. The page reads everything
//! through the daemon's own API (the task list, records, the SSE stream,
//! cancel and resume), so it holds no data itself and needs no token to
//! load; on TCP, the API calls carry the token given in `/ui#token=...`.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

/// Bytes of the page, script and style: the viewer's weight before data.
pub fn page_weight() -> usize {
    INDEX.len() + SCRIPT.len() + STYLE.len()
}

/// Nothing but these files and the API, from this origin alone.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: String) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    r
}

/// The viewer's routes on the daemon: `/ui` and its two assets.
pub fn routes() -> Router {
    assets(INDEX.to_owned())
}

fn assets(index: String) -> Router {
    let page = move || {
        let index = index.clone();
        async move { asset("text/html; charset=utf-8", index) }
    };
    Router::new()
        .route("/ui", get(page.clone()))
        .route("/ui/", get(page))
        .route("/ui/app.js", get(|| async { asset("text/javascript; charset=utf-8", SCRIPT.to_owned()) }))
        .route("/ui/app.css", get(|| async { asset("text/css; charset=utf-8", STYLE.to_owned()) }))
}

/// `fathom view FILE`: serve one trajectory file (Fathom's `--trace`, a
/// daemon task's trace, or MiroThinker's own task log) with the viewer on
/// a loopback port, until interrupted. The file is read again on every
/// load, so a re-run shows the new one. `ready` gets the URL.
pub async fn view(file: &Path, port: u16, ready: impl FnOnce(&str)) -> Result<(), String> {
    read_trace(file)?;
    let file: PathBuf = file.to_path_buf();
    let index = INDEX.replacen("<body>", "<body data-mode=\"trace\">", 1);
    let app = assets(index)
        .route(
            "/ui/trace.json",
            get(move || {
                let file = file.clone();
                async move {
                    match read_trace(&file) {
                        Ok(text) => asset("application/json", text),
                        Err(e) => (
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            axum::Json(serde_json::json!({"error": {"code": "unreadable", "message": e}})),
                        )
                            .into_response(),
                    }
                }
            }),
        )
        .route("/", get(|| async { Redirect::to("/ui") }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    ready(&format!("http://{addr}/ui"));
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}

/// The file's text, checked to be a JSON object (a trajectory).
fn read_trace(file: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) if v.is_object() => Ok(text),
        Ok(_) => Err(format!("{}: not a trajectory (a JSON object)", file.display())),
        Err(e) => Err(format!("{}: not JSON: {e}", file.display())),
    }
}
