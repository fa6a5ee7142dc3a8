//! `tool-python.upload_file_from_local_to_sandbox`,
//! `tool-python.download_file_from_sandbox_to_local` and
//! `tool-python.download_file_from_internet_to_sandbox`.
//!
//! The component checks every path itself and says precisely what is wrong,
//! but it is not what keeps files safe: it only *has* the workspace
//! (read-write), the allowed local roots (read-only) and a write-only outputs
//! folder as separate preopens, so even a bug here cannot reach anything else.

use std::path::{Component, Path, PathBuf};

use fathom_sdk::{JsonSchema, SandboxId, ToolError, Toolbox};
use serde::Deserialize;

const WORKSPACE: &str = "/home/user";

fn default_sandbox_path() -> String {
    WORKSPACE.to_owned()
}

#[derive(Deserialize, JsonSchema)]
struct UploadArgs {
    #[allow(dead_code)] // resolved by the host to this instance's workspace
    sandbox_id: SandboxId,
    /// Absolute path of the file on the local machine (an attached file, or
    /// a file under a folder the task's policy allows).
    local_file_path: String,
    /// Where to put it in the sandbox: a folder (the file keeps its name) or
    /// a file path. Relative paths are taken from /home/user.
    #[serde(default = "default_sandbox_path")]
    sandbox_file_path: String,
}

#[derive(Deserialize, JsonSchema)]
struct DownloadArgs {
    #[allow(dead_code)] // resolved by the host to this instance's workspace
    sandbox_id: SandboxId,
    /// Path of the file in the sandbox; relative paths are taken from /home/user.
    sandbox_file_path: String,
    /// Name to save it under in the task's outputs folder (default: the
    /// file's own name).
    local_filename: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
struct FetchArgs {
    #[allow(dead_code)] // resolved by the host to this instance's workspace
    sandbox_id: SandboxId,
    /// The http(s) URL of the file.
    url: String,
    /// Where to save it in the sandbox: a folder (the name is taken from the
    /// URL) or a file path. Relative paths are taken from /home/user.
    #[serde(default = "default_sandbox_path")]
    sandbox_file_path: String,
}

/// Resolve `.` and `..` without touching the filesystem; `None` if `..`
/// climbs above the root.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(p) => out.push(p),
        }
    }
    Some(out)
}

/// A sandbox path as an absolute path inside the workspace.
fn sandbox_path(raw: &str, what: &str) -> Result<PathBuf, ToolError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(ToolError::invalid(format!("`{what}` is empty")));
    }
    let joined = if Path::new(raw).is_absolute() { PathBuf::from(raw) } else { Path::new(WORKSPACE).join(raw) };
    match normalize(&joined) {
        Some(p) if p.starts_with(WORKSPACE) => Ok(p),
        _ => Err(ToolError::failed(format!(
            "`{what}` '{raw}' is outside the sandbox workspace; use a path under {WORKSPACE}"
        ))),
    }
}

fn io_message(e: &std::io::Error, path: &Path) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => format!("no such file: {}", path.display()),
        PermissionDenied => format!(
            "cannot access {}: it leads outside the folders this tool may use (a symbolic link pointing out?)",
            path.display()
        ),
        IsADirectory => format!("{} is a folder, not a file", path.display()),
        _ => format!("{}: {e}", path.display()),
    }
}

fn upload(args: UploadArgs) -> Result<String, ToolError> {
    let roots = fathom_sdk::local::roots();
    let requested = Path::new(args.local_file_path.trim());
    if !requested.is_absolute() {
        return Err(ToolError::invalid(format!(
            "`local_file_path` must be an absolute path on the local machine, not '{}'",
            requested.display()
        )));
    }
    let local = normalize(requested).unwrap_or_else(|| PathBuf::from("/"));
    if roots.is_empty() {
        return Err(ToolError::failed(
            "this task may not read local files: its policy allows no local folders (files.local_roots) and it has no attachments",
        ));
    }
    if !roots.iter().any(|r| local.starts_with(r)) {
        let list: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
        return Err(ToolError::failed(format!(
            "'{}' is outside the local folders this task may read: {} (set by files.local_roots and the task's attachments)",
            local.display(),
            list.join(", ")
        )));
    }
    // Looked at before opening: opening a FIFO blocks until a writer comes,
    // and a device or socket is no file to copy.
    let meta = std::fs::metadata(&local).map_err(|e| ToolError::failed(io_message(&e, &local)))?;
    if meta.is_dir() {
        return Err(ToolError::failed(format!("{} is a folder; upload files one at a time", local.display())));
    }
    if !meta.is_file() {
        return Err(ToolError::failed(format!(
            "{} is not a regular file (a FIFO, device or socket); only regular files can be uploaded",
            local.display()
        )));
    }
    let mut src = std::fs::File::open(&local).map_err(|e| ToolError::failed(io_message(&e, &local)))?;

    let mut dest = sandbox_path(&args.sandbox_file_path, "sandbox_file_path")?;
    let wants_dir = args.sandbox_file_path.trim().ends_with('/');
    if wants_dir || dest == Path::new(WORKSPACE) || std::fs::metadata(&dest).map(|m| m.is_dir()).unwrap_or(false) {
        dest.push(local.file_name().unwrap_or_default());
    }
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ToolError::failed(io_message(&e, parent)))?;
    }
    let mut out = std::fs::File::create(&dest).map_err(|e| ToolError::failed(io_message(&e, &dest)))?;
    let bytes = std::io::copy(&mut src, &mut out).map_err(|e| ToolError::failed(io_message(&e, &dest)))?;
    Ok(format!("File uploaded to {} ({bytes} bytes)", dest.display()))
}

fn download(args: DownloadArgs) -> Result<String, ToolError> {
    let outputs = std::env::var("FATHOM_OUTPUTS_DIR")
        .map_err(|_| ToolError::failed("this task has no outputs folder to download into"))?;
    let src = sandbox_path(&args.sandbox_file_path, "sandbox_file_path")?;
    let name = match &args.local_filename {
        Some(n) => {
            let n = n.trim();
            if n.is_empty() || n.contains('/') || n == "." || n == ".." {
                return Err(ToolError::invalid(format!(
                    "`local_filename` must be a plain file name without folders, not '{n}'"
                )));
            }
            n.to_owned()
        }
        None => src.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    if name.is_empty() {
        return Err(ToolError::invalid("`sandbox_file_path` names no file"));
    }
    let mut input = std::fs::File::open(&src).map_err(|e| ToolError::failed(io_message(&e, &src)))?;
    if input.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(ToolError::failed(format!(
            "{} is a folder; download files one at a time (or zip the folder first)",
            src.display()
        )));
    }
    let dest = Path::new(&outputs).join(&name);
    let mut out = std::fs::File::create(&dest).map_err(|e| ToolError::failed(io_message(&e, &dest)))?;
    let bytes = std::io::copy(&mut input, &mut out).map_err(|e| ToolError::failed(io_message(&e, &dest)))?;
    Ok(format!("File downloaded successfully to: {} ({bytes} bytes)", dest.display()))
}

/// The file name a URL suggests: its last path segment, else `index.html`.
fn name_from_url(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let after_scheme = path.split_once("://").map_or(path, |(_, rest)| rest);
    let segment = after_scheme.split_once('/').map_or("", |(_, p)| p).rsplit('/').next().unwrap_or("");
    let clean: String = segment.chars().filter(|c| !c.is_control() && *c != '\\').collect();
    if clean.is_empty() || clean == "." || clean == ".." { "index.html".into() } else { clean }
}

fn fetch(args: FetchArgs) -> Result<String, ToolError> {
    let url = args.url.trim();
    if url.is_empty() {
        return Err(ToolError::invalid("`url` is empty"));
    }
    let mut dest = sandbox_path(&args.sandbox_file_path, "sandbox_file_path")?;
    let response = fathom_sdk::http::get(url).map_err(ToolError::failed)?;
    if response.status >= 400 {
        return Err(ToolError::failed(format!(
            "{} answered HTTP {}; nothing was saved",
            response.url, response.status
        )));
    }
    let wants_dir = args.sandbox_file_path.trim().ends_with('/');
    if wants_dir || dest == Path::new(WORKSPACE) || std::fs::metadata(&dest).map(|m| m.is_dir()).unwrap_or(false) {
        dest.push(name_from_url(&response.url));
    }
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ToolError::failed(io_message(&e, parent)))?;
    }
    std::fs::write(&dest, &response.body).map_err(|e| ToolError::failed(io_message(&e, &dest)))?;
    let bytes = response.body.len();
    if response.truncated {
        return Err(ToolError::failed(format!(
            "the download was cut off after {bytes} bytes, the most this task may download (network.max_download_mb); \
             the incomplete file is at {}",
            dest.display()
        )));
    }
    Ok(format!("File downloaded successfully to: {} ({bytes} bytes)", dest.display()))
}

pub fn toolbox() -> Toolbox {
    Toolbox::new("tool-python")
        .with_local_files()
        .tool(
            "upload_file_from_local_to_sandbox",
            "Upload a local file (an attachment, or a file under a folder the task may read) into a sandbox. \
             Returns the file's path in the sandbox.",
            upload,
        )
        .tool(
            "download_file_from_sandbox_to_local",
            "Save a file from a sandbox to the task's local outputs folder, so other tools can read it \
             or the user can keep it. Returns the local path.",
            download,
        )
        .tool(
            "download_file_from_internet_to_sandbox",
            "Download a file from the internet (http or https URL) into a sandbox, within the hosts the task's \
             policy allows. Returns the file's path in the sandbox.",
            fetch,
        )
}

fathom_sdk::export!(toolbox);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_from_urls() {
        assert_eq!(name_from_url("https://arxiv.org/pdf/2401.00001v2.pdf?x=1"), "2401.00001v2.pdf");
        assert_eq!(name_from_url("https://example.org/"), "index.html");
        assert_eq!(name_from_url("https://example.org"), "index.html");
        assert_eq!(name_from_url("http://h/a/..#frag"), "index.html");
    }

    #[test]
    fn sandbox_paths_stay_in_the_workspace() {
        assert_eq!(sandbox_path("a/b.txt", "p").unwrap(), Path::new("/home/user/a/b.txt"));
        assert_eq!(sandbox_path("/home/user/x/../y", "p").unwrap(), Path::new("/home/user/y"));
        for bad in ["../etc/passwd", "/etc/passwd", "/home/user/../../etc", "/home/userx/a", ""] {
            assert!(sandbox_path(bad, "p").is_err(), "{bad}");
        }
    }
}
