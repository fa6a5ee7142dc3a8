//! Host-side file access beneath a root (uploads, outputs, session files),
//! through cap-std: every path is resolved inside the root's directory
//! handle, so `..`, an absolute path or a symlink a guest planted cannot
//! lead the daemon outside it. Paths are never joined as strings.

use std::io;
use std::path::{Component, Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;

/// A relative path a client may name: no `..`, no root, no empty or
/// control-character components. Checked before cap-std sees it, so the
/// error can say what was wrong.
pub fn check_relative(path: &str) -> Result<PathBuf, String> {
    if path.is_empty() {
        return Err("the path is empty".into());
    }
    if path.chars().any(|c| c.is_control()) {
        return Err("the path contains control characters".into());
    }
    let p = Path::new(path);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(format!("{path:?}: `..` is not allowed")),
            Component::RootDir | Component::Prefix(_) => return Err(format!("{path:?}: the path must be relative")),
        }
    }
    if out.as_os_str().is_empty() {
        return Err(format!("{path:?} names no file"));
    }
    Ok(out)
}

fn open_root(root: &Path) -> io::Result<Dir> {
    Dir::open_ambient_dir(root, ambient_authority())
}

/// Read the regular file `rel` beneath `root`.
pub fn read(root: &Path, rel: &Path) -> io::Result<Vec<u8>> {
    let dir = open_root(root)?;
    let meta = dir.metadata(rel)?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
    }
    dir.read(rel)
}

/// Write `bytes` to `rel` beneath `root`, creating its folders.
pub fn write(root: &Path, rel: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = open_root(root)?;
    if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
        dir.create_dir_all(parent)?;
    }
    dir.write(rel, bytes)
}

/// The regular files beneath `root`, as relative paths (symlinks are not
/// followed), up to `limit` of them.
pub fn list(root: &Path, limit: usize) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    let dir = open_root(root)?;
    let mut stack = vec![(dir, PathBuf::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in dir.entries()? {
            let entry = entry?;
            let name = prefix.join(entry.file_name());
            let ft = entry.file_type()?;
            if ft.is_dir() {
                stack.push((entry.open_dir()?, name));
            } else if ft.is_file() {
                out.push(name.to_string_lossy().into_owned());
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_only() {
        assert!(check_relative("a/b.txt").is_ok());
        assert_eq!(check_relative("./a/./b").unwrap(), PathBuf::from("a/b"));
        for bad in ["", "/etc/passwd", "../x", "a/../../x", ".", "a\u{1b}[2J"] {
            assert!(check_relative(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_planted_symlink_does_not_lead_outside() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.path().join("file")).unwrap();
        assert!(read(root.path(), Path::new("link/secret")).is_err());
        assert!(read(root.path(), Path::new("file")).is_err());
        assert!(write(root.path(), Path::new("link/new"), b"x").is_err());
        assert!(!outside.path().join("new").exists());
    }
}
