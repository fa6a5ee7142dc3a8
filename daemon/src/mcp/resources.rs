//! The sandboxes' workspace files as MCP resources, `sandbox://<id>/<path>`,
//! so a client can fetch what a tool wrote. Listing walks the workspaces
//! without following links; reading goes through `hostfs` (cap-std), so a
//! link a guest planted cannot lead out of its workspace.

use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use rmcp::model::{
    ErrorData as McpError, ListResourcesResult, ReadResourceResult, Resource, ResourceContents, ResourceTemplate,
};

const SCHEME: &str = "sandbox://";

/// Resources per `resources/list` page.
const PAGE: usize = 500;

/// The most files one listing walks, over every sandbox.
const MAX_LISTED: usize = 10_000;

/// Deeper folders are not listed (they can still be read by URI).
const MAX_DEPTH: usize = 16;

/// The largest file `resources/read` returns; larger ones are for
/// `download_file_from_sandbox_to_local`.
pub const MAX_READ_BYTES: u64 = 16 << 20;

/// What a path segment keeps as is in a URI.
const SEGMENT: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'%').add(b'<').add(b'>').add(b'?').add(b'`');

pub fn template() -> ResourceTemplate {
    ResourceTemplate::new(format!("{SCHEME}{{sandbox_id}}/{{+path}}"), "sandbox file")
        .with_description("A file in a sandbox's workspace (/home/user), by its path there")
}

pub fn uri(sandbox: &str, rel: &Path) -> String {
    let path: Vec<String> =
        rel.components().map(|c| utf8_percent_encode(&c.as_os_str().to_string_lossy(), SEGMENT).to_string()).collect();
    format!("{SCHEME}{sandbox}/{}", path.join("/"))
}

/// One page of every sandbox's files, from `cursor` (an offset).
pub fn list(sandboxes: &[(String, PathBuf)], cursor: Option<&str>) -> Result<ListResourcesResult, McpError> {
    let start = match cursor {
        None => 0,
        Some(c) => c.parse::<usize>().map_err(|_| McpError::invalid_params(format!("bad cursor {c:?}"), None))?,
    };
    let mut files = Vec::new();
    for (id, root) in sandboxes {
        walk(root, Path::new(""), 0, &mut |rel, bytes| files.push((id.clone(), rel.to_path_buf(), bytes)));
        if files.len() >= MAX_LISTED {
            break;
        }
    }
    files.truncate(MAX_LISTED);
    let page: Vec<Resource> = files
        .iter()
        .skip(start)
        .take(PAGE)
        .map(|(id, rel, bytes)| {
            let mut r = Resource::new(uri(id, rel), rel.display().to_string())
                .with_description(format!("/home/user/{} in sandbox {id}", rel.display()))
                .with_size(*bytes);
            if let Some(m) = mime_guess::from_path(rel).first() {
                r = r.with_mime_type(m.essence_str());
            }
            r
        })
        .collect();
    let mut result = ListResourcesResult::with_all_items(page);
    if start + PAGE < files.len() {
        result.next_cursor = Some((start + PAGE).to_string());
    }
    Ok(result)
}

/// Regular files beneath `root/rel`, depth first, without following links.
fn walk(root: &Path, rel: &Path, depth: usize, found: &mut dyn FnMut(&Path, u64)) {
    let Ok(entries) = std::fs::read_dir(root.join(rel)) else { return };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Ok(meta) = e.path().symlink_metadata() else { continue };
        let child = rel.join(e.file_name());
        if meta.is_file() {
            found(&child, meta.len());
        } else if meta.is_dir() && depth + 1 < MAX_DEPTH {
            walk(root, &child, depth + 1, found);
        }
    }
}

/// The file `uri` names, as text when it is UTF-8, else base64.
pub fn read(sandboxes: &[(String, PathBuf)], uri: &str) -> Result<ReadResourceResult, McpError> {
    let not_found = |why: String| McpError::resource_not_found(why, None);
    let rest = uri.strip_prefix(SCHEME).ok_or_else(|| {
        McpError::invalid_params(format!("{uri:?}: resources here are {SCHEME}<sandbox_id>/<path>"), None)
    })?;
    let (id, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| McpError::invalid_params(format!("{uri:?}: the path is not UTF-8"), None))?;
    let path = path.strip_prefix("home/user/").unwrap_or(&path);
    let rel =
        crate::hostfs::check_relative(path).map_err(|m| McpError::invalid_params(format!("{uri:?}: {m}"), None))?;
    let (_, root) = sandboxes.iter().find(|(s, _)| s == id).ok_or_else(|| {
        let live: Vec<&str> = sandboxes.iter().map(|(s, _)| s.as_str()).collect();
        not_found(format!("{uri:?}: no live sandbox {id:?} in this session (live: {})", live.join(", ")))
    })?;
    if let Ok(meta) = root.join(&rel).symlink_metadata() {
        if meta.is_file() && meta.len() > MAX_READ_BYTES {
            return Err(McpError::invalid_params(
                format!(
                    "{uri:?} is {} bytes, more than resources/read returns ({MAX_READ_BYTES}); use download_file_from_sandbox_to_local",
                    meta.len()
                ),
                None,
            ));
        }
    }
    let bytes = crate::hostfs::read(root, &rel).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => not_found(format!("{uri:?}: no such file in the sandbox")),
        _ => McpError::invalid_params(format!("{uri:?}: cannot read it: {e}"), None),
    })?;
    let mime = mime_guess::from_path(&rel).first().map(|m| m.essence_str().to_owned());
    let contents = match String::from_utf8(bytes) {
        Ok(text) => ResourceContents::text(text, uri),
        Err(e) => {
            use base64::Engine;
            ResourceContents::blob(base64::engine::general_purpose::STANDARD.encode(e.into_bytes()), uri)
        }
    };
    let contents = match mime {
        Some(m) => contents.with_mime_type(m),
        None => contents,
    };
    Ok(ReadResourceResult::new(vec![contents]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip_through_encoding() {
        let u = uri("sbx-1", Path::new("out dir/r%sult#1.txt"));
        assert_eq!(u, "sandbox://sbx-1/out%20dir/r%25sult%231.txt");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("out dir")).unwrap();
        std::fs::write(dir.path().join("out dir/r%sult#1.txt"), "x").unwrap();
        let boxes = vec![("sbx-1".to_owned(), dir.path().to_path_buf())];
        let r = read(&boxes, &u).unwrap();
        let text = serde_json::to_value(&r.contents[0]).unwrap();
        assert_eq!(text["text"], "x");
    }

    #[test]
    fn escapes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let boxes = vec![("sbx-1".to_owned(), dir.path().to_path_buf())];
        for bad in ["sandbox://sbx-1/../etc/passwd", "sandbox://sbx-1/%2e%2e/x", "sandbox://sbx-1//etc/passwd"] {
            let e = read(&boxes, bad).unwrap_err();
            assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_PARAMS, "{bad}: {e:?}");
        }
        let e = read(&boxes, "sandbox://sbx-2/a").unwrap_err();
        assert!(e.message.contains("no live sandbox"), "{e:?}");
    }

    /// A link a guest planted is neither listed nor followed by a read.
    #[test]
    fn planted_links_lead_nowhere() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "host secret").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("dirlink")).unwrap();
        std::fs::write(dir.path().join("real.txt"), "ok").unwrap();
        let boxes = vec![("sbx-1".to_owned(), dir.path().to_path_buf())];
        let listed = list(&boxes, None).unwrap();
        let uris: Vec<&str> = listed.resources.iter().map(|r| r.uri.as_str()).collect();
        assert_eq!(uris, ["sandbox://sbx-1/real.txt"]);
        for uri in ["sandbox://sbx-1/link", "sandbox://sbx-1/dirlink/secret"] {
            let e = read(&boxes, uri).unwrap_err();
            assert!(!e.message.contains("host secret"), "{e:?}");
        }
    }
}
