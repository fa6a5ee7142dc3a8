//! `tool-reading.convert_to_markdown(uri)`: a document as text, for the
//! model to read. The parsing is `fathom-reader`'s, here inside a sandbox:
//! a hostile file meets the call's fuel, deadline and memory limits, and
//! the component sees only the workspace, the task's attachments and the
//! local folders its policy allows (read-only), and the network only
//! through the host's policy.

use std::path::{Component, Path, PathBuf};

use fathom_reader::{Format, Limits, ReadError};
use fathom_sdk::{JsonSchema, SandboxId, ToolError, Toolbox};
use serde::Deserialize;

const WORKSPACE: &str = "/home/user";
/// Files above this size are not read whole into the sandbox's memory.
const MAX_INPUT_BYTES: u64 = 100 << 20;

#[derive(Deserialize, JsonSchema)]
struct ConvertArgs {
    /// What to read: an http(s) URL; a `file://` URI or absolute path of a
    /// task attachment or a local file the task may read; or a path in the
    /// sandbox workspace (relative paths are taken from /home/user).
    uri: String,
    /// The sandbox whose workspace a workspace path is in (default: the
    /// task's only sandbox).
    #[allow(dead_code)] // resolved by the host to this instance's workspace
    sandbox_id: Option<SandboxId>,
}

fn local_roots() -> Vec<PathBuf> {
    std::env::var("FATHOM_LOCAL_ROOTS")
        .map(|v| v.split(':').filter(|s| !s.is_empty()).map(PathBuf::from).collect())
        .unwrap_or_default()
}

/// Resolve `.` and `..` without touching the filesystem.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(p) => out.push(p),
            _ => {}
        }
    }
    out
}

/// A path the component may read: the workspace or an allowed local root.
fn readable_path(raw: &str) -> Result<PathBuf, ToolError> {
    let raw = raw.strip_prefix("file://").unwrap_or(raw);
    let joined = if Path::new(raw).is_absolute() { PathBuf::from(raw) } else { Path::new(WORKSPACE).join(raw) };
    let path = normalize(&joined);
    let roots = local_roots();
    if path.starts_with(WORKSPACE) || roots.iter().any(|r| path.starts_with(r)) {
        return Ok(path);
    }
    let mut allowed = vec![format!("{WORKSPACE} (the sandbox workspace)")];
    allowed.extend(roots.iter().map(|r| r.display().to_string()));
    Err(ToolError::failed(format!(
        "'{}' is outside what this tool may read: {} (local folders are set by files.local_roots and the task's \
         attachments)",
        path.display(),
        allowed.join(", ")
    )))
}

fn read_file(path: &Path) -> Result<Vec<u8>, ToolError> {
    let failed = |e: std::io::Error| {
        ToolError::failed(match e.kind() {
            std::io::ErrorKind::NotFound => format!("no such file: {}", path.display()),
            std::io::ErrorKind::PermissionDenied => {
                format!("cannot read {}: it leads outside the folders this tool may use", path.display())
            }
            _ => format!("{}: {e}", path.display()),
        })
    };
    let meta = std::fs::metadata(path).map_err(failed)?;
    if meta.is_dir() {
        return Err(ToolError::failed(format!("{} is a folder; give the path of a file in it", path.display())));
    }
    if !meta.is_file() {
        return Err(ToolError::failed(format!("{} is not a regular file (a FIFO, device or socket)", path.display())));
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(ToolError::failed(format!(
            "{} is {} MB; the reader takes files up to {} MB: upload it to a sandbox and process it in parts there",
            path.display(),
            meta.len() >> 20,
            MAX_INPUT_BYTES >> 20
        )));
    }
    std::fs::read(path).map_err(failed)
}

/// The format an HTTP content type declares, for content that does not
/// say what it is by itself (HTML without a doctype, CSV, JSON).
fn declared(content_type: &str) -> Option<Format> {
    let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    Some(match ct.as_str() {
        "text/html" | "application/xhtml+xml" => Format::Html,
        "text/csv" => Format::Csv,
        "text/tab-separated-values" => Format::Tsv,
        "application/json" => Format::Json,
        "application/x-ndjson" | "application/jsonl" => Format::Jsonl,
        "text/markdown" => Format::Markdown,
        "application/xml" | "text/xml" | "application/rss+xml" | "application/atom+xml" => Format::Xml,
        _ => return None,
    })
}

fn convert(args: ConvertArgs) -> Result<String, ToolError> {
    let uri = args.uri.trim();
    if uri.is_empty() {
        return Err(ToolError::invalid("`uri` is empty"));
    }
    let limits = Limits::default();
    let result = if uri.starts_with("http://") || uri.starts_with("https://") {
        let response = fathom_sdk::http::get(uri).map_err(ToolError::failed)?;
        if response.status >= 400 {
            return Err(ToolError::failed(format!("{} answered HTTP {}", response.url, response.status)));
        }
        let content_type = response
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let sniffed = fathom_reader::detect(&response.url, &response.body);
        let format = match (sniffed, declared(content_type)) {
            (Format::Text | Format::Unknown(_), Some(d)) => d,
            (s, _) => s,
        };
        let mut r = fathom_reader::convert_as(format, &response.url, &response.body, &limits);
        if response.truncated
            && let Ok(c) = &mut r
        {
            c.text.push_str(&format!(
                "\n\n[the download was cut after {} bytes, the most this task may download (network.max_download_mb): \
                 the text above is of the first part only]",
                response.body.len()
            ));
        }
        r
    } else if uri.contains("://") && !uri.starts_with("file://") {
        return Err(ToolError::invalid(format!(
            "`uri` '{uri}' has a scheme the reader does not fetch; use http(s)://, file:// or a path"
        )));
    } else {
        let path = readable_path(uri)?;
        let bytes = read_file(&path)?;
        fathom_reader::convert(&path.display().to_string(), &bytes, &limits)
    };
    result.map(|c| c.text).map_err(|e: ReadError| ToolError::failed(e.to_string()))
}

pub fn toolbox() -> Toolbox {
    Toolbox::new("tool-reading").with_local_files().tool(
        "convert_to_markdown",
        "Read a document as Markdown text: PDF (text per page), Word (docx), Excel (xlsx, xls, ods) and CSV as \
         tables, PowerPoint (pptx, with notes), EPUB, HTML, XML, JSON, zip archives (each file inside), plain text; \
         images are described. `uri` is an http(s) URL, a task attachment or local file (absolute path or file://), \
         or a path in the sandbox workspace.",
        convert,
    )
}

fathom_sdk::export!(toolbox);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_in_what_the_tool_may_read() {
        assert_eq!(readable_path("data/a.csv").unwrap(), Path::new("/home/user/data/a.csv"));
        assert_eq!(readable_path("file:///home/user/x.pdf").unwrap(), Path::new("/home/user/x.pdf"));
        for bad in ["/etc/passwd", "../../etc/passwd", "file:///root/.ssh/id_rsa", "/home/userx/a"] {
            assert!(readable_path(bad).is_err(), "{bad}");
        }
    }
}
