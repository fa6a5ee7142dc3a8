//! `tool-reading.convert_to_markdown(uri)`: a document as text, for the
//! model to read. The parsing is `fathom-reader`'s, here inside a sandbox:
//! a hostile file meets the call's fuel, deadline and memory limits, and
//! the component sees only the workspace, the task's attachments and the
//! local folders its policy allows (read-only), and the network only
//! through the host's policy.

use fathom_reader::{Limits, ReadError};
use fathom_sdk::{JsonSchema, SandboxId, ToolError, Toolbox, http, local};
use serde::Deserialize;

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

fn convert(args: ConvertArgs) -> Result<String, ToolError> {
    let uri = args.uri.trim();
    if uri.is_empty() {
        return Err(ToolError::invalid("`uri` is empty"));
    }
    let limits = Limits::default();
    let result = if uri.starts_with("http://") || uri.starts_with("https://") {
        let response = http::get(uri).map_err(ToolError::failed)?;
        if response.status >= 400 {
            return Err(ToolError::failed(format!("{} answered HTTP {}", response.url, response.status)));
        }
        let mut r = fathom_reader::convert_download(
            &response.url,
            http::header(&response, "content-type"),
            &response.body,
            &limits,
        );
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
        let path = local::readable_path(uri).map_err(ToolError::failed)?;
        let bytes = local::read_file(&path, MAX_INPUT_BYTES).map_err(ToolError::failed)?;
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
    use std::path::Path;

    use fathom_sdk::local::readable_path;

    #[test]
    fn paths_stay_in_what_the_tool_may_read() {
        assert_eq!(readable_path("data/a.csv").unwrap(), Path::new("/home/user/data/a.csv"));
        assert_eq!(readable_path("file:///home/user/x.pdf").unwrap(), Path::new("/home/user/x.pdf"));
        for bad in ["/etc/passwd", "../../etc/passwd", "file:///root/.ssh/id_rsa", "/home/userx/a"] {
            assert!(readable_path(bad).is_err(), "{bad}");
        }
    }
}
