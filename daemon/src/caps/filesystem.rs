//! Filesystem capability: what directories an instance can open.
//!
//! Every instance sees its sandbox's workspace read-write at
//! [`WORKSPACE`]. A component whose manifest asks for `local-files` also sees
//! each allowed local root (the policy's `files.local_roots` and the task's
//! attachments) read-only at its own host path, so paths the model reads in
//! results can be passed back unchanged, and the task's outputs folder at its
//! host path, backed by a fresh, empty staging directory per call: the
//! component can write outputs but never read earlier ones. Each is a
//! separate preopen resolved by cap-std, so `..`, absolute paths and
//! symlinks cannot leave it, whatever the component does.
//!
//! The environment holds only what is set here: no variable of the host.

use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use wasmtime::bail;
use wasmtime::error::Context;
use wasmtime_wasi::FsPerms;

use super::disk::DiskMeter;
use super::{Capability, Grant};
use crate::policy::Policy;

/// Where the workspace appears inside every sandbox.
pub const WORKSPACE: &str = "/home/user";
/// Temporary files go inside the workspace (and so count against it).
pub const TMPDIR: &str = "/tmp";

/// The directories one instance is given.
#[derive(Debug, Clone, Default)]
pub struct Mounts {
    /// Host directory shown read-write at [`WORKSPACE`]. `None` only where a
    /// component is described or pre-initialised: nothing it does then may
    /// depend on a sandbox, and a snapshot must not hold a handle to one.
    pub workspace: Option<PathBuf>,
    /// The workspace is a folder the runtime made for its sandbox, not one
    /// a user gave (see [`Mounts::only_own_folders`]).
    pub workspace_is_own: bool,
    /// Mounted at `/tmp`: scratch space that does not clutter the workspace
    /// (`ls -a`, `find .`), counted in the sandbox's disk quota all the same.
    pub tmp: Option<PathBuf>,
    /// Host directories shown read-only at their own (canonical) paths.
    pub read_roots: Vec<PathBuf>,
    /// Outputs folder: `(host staging dir, path the guest sees)`.
    pub outputs: Option<(PathBuf, PathBuf)>,
}

impl Mounts {
    /// Whether every folder is one the runtime made (the workspace it
    /// created, `/tmp`, the outputs staging): they hold only what guests
    /// and uploads wrote there, regular files, folders and links cap-std
    /// resolves inside, since WASI makes no FIFO or device. There a file
    /// operation takes microseconds, so it runs on the thread that runs
    /// the guest, as the guest's own code does between epoch yields, not
    /// handed to tokio's blocking pool and back (two thread wake-ups per
    /// `stat` or read, several times the operation itself; `cargo bench
    /// --bench shell` runs `grep -r` both ways). A user's folder or a local
    /// root may hold a FIFO or sit on a network mount, where an open can
    /// block for good: their operations stay on the pool, so the call's
    /// host-side timeout still ends the call.
    pub fn only_own_folders(&self) -> bool {
        (self.workspace.is_none() || self.workspace_is_own) && self.read_roots.is_empty()
    }
}

/// Whether `a` and `b` are the same directory or one contains the other.
fn nested(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

pub struct Filesystem;

impl Capability for Filesystem {
    fn prepare(&self, _: &Policy, grant: &mut Grant<'_>) -> wasmtime::Result<()> {
        let m = grant.mounts;
        let wasi = &mut *grant.wasi;
        // First: each preopen keeps the setting it was made with.
        wasi.allow_blocking_current_thread(m.only_own_folders());
        if let Some(ws) = &m.workspace {
            wasi.preopened_dir(ws, WORKSPACE, FsPerms::ReadWrite)
                .with_context(|| format!("cannot open the sandbox workspace {}", ws.display()))?;
        }
        // Constant values only: a snapshot taken in one sandbox must see the
        // same environment as every later instance.
        // The same environment in every instance, snapshots included: a
        // snapshot keeps the environment it was made with.
        wasi.env("HOME", WORKSPACE).env("PWD", WORKSPACE).env("TMPDIR", TMPDIR).initial_cwd(WORKSPACE);
        let mut guest_paths: Vec<PathBuf> = vec![PathBuf::from(WORKSPACE)];
        if let Some(tmp) = &m.tmp {
            wasi.preopened_dir(tmp, TMPDIR, FsPerms::ReadWrite)
                .with_context(|| format!("cannot open the sandbox's /tmp {}", tmp.display()))?;
            guest_paths.push(PathBuf::from(TMPDIR));
        }

        let mut claim = |p: &Path, what: &str| -> wasmtime::Result<()> {
            if let Some(other) = guest_paths.iter().find(|g| nested(g, p)) {
                bail!(
                    "{what} {} overlaps {} inside the sandbox; choose a folder outside it (files.local_roots)",
                    p.display(),
                    other.display()
                );
            }
            guest_paths.push(p.to_path_buf());
            Ok(())
        };
        let mut roots = Vec::new();
        for root in &m.read_roots {
            let canon =
                root.canonicalize().with_context(|| format!("local root {} (files.local_roots)", root.display()))?;
            claim(&canon, "local root")?;
            wasi.preopened_dir(&canon, canon.to_string_lossy(), FsPerms::ReadOnly)?;
            roots.push(canon.to_string_lossy().into_owned());
        }
        if !roots.is_empty() {
            wasi.env("FATHOM_LOCAL_ROOTS", roots.join(":"));
        }
        if let Some((staging, guest)) = &m.outputs {
            claim(guest, "outputs folder")?;
            wasi.preopened_dir(staging, guest.to_string_lossy(), FsPerms::ReadWrite)?;
            wasi.env("FATHOM_OUTPUTS_DIR", guest.to_string_lossy());
        }
        Ok(())
    }
}

/// Move what a call wrote into its staging directory to the outputs folder.
/// Only regular files are moved; anything else the guest made (a symlink, a
/// fifo) is dropped, so the host never follows a link the guest planted.
/// Both folders are opened as cap-std directory handles and every entry is
/// resolved beneath them, never by joining path strings.
///
/// What the guest staged was booked in the task's disk book as it wrote it
/// (`caps::disk`), and stays booked once saved: the guest cannot delete its
/// outputs, so they keep their share of the quota. A saved file replaced by
/// a new one of the same name gives its share back, and so does whatever is
/// dropped. Moving never inflates a sparse file; a copy (another
/// filesystem) is size-checked against the book and deleted if it fails.
pub fn collect_outputs(staging: &Path, outputs: &Path, disk: &DiskMeter) -> std::io::Result<()> {
    std::fs::create_dir_all(outputs)?;
    let from = Dir::open_ambient_dir(staging, ambient_authority())?;
    let to = Dir::open_ambient_dir(outputs, ambient_authority())?;
    let r = collect_into(&from, &to, disk);
    // Whatever is still staged is dropped.
    discard_staged(staging, disk)?;
    r
}

/// Drop everything staged (a call whose writes were refused may have left
/// partial files): it leaves the disk book with it.
pub fn discard_staged(staging: &Path, disk: &DiskMeter) -> std::io::Result<()> {
    let (bytes, files) = super::disk::usage(staging);
    disk.release(bytes, files);
    let from = Dir::open_ambient_dir(staging, ambient_authority())?;
    for entry in from.entries()?.flatten() {
        let name = entry.file_name();
        let _ = if entry.file_type()?.is_dir() { from.remove_dir_all(&name) } else { from.remove_file(&name) };
    }
    Ok(())
}

fn collect_into(from: &Dir, to: &Dir, disk: &DiskMeter) -> std::io::Result<()> {
    for entry in from.entries()? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let name = entry.file_name();
        // Names reach terminals and other programs: no control characters
        // (escape sequences), and text only.
        match name.to_str() {
            Some(n) if !n.chars().any(char::is_control) => {}
            _ => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "the file name {:?} has control characters or is not UTF-8; save it under a plain name",
                        name.to_string_lossy().escape_default().to_string()
                    ),
                ));
            }
        }
        if kind.is_dir() {
            if to.symlink_metadata(&name).is_err() {
                to.create_dir(&name)?;
            } else {
                // The staged folder's entry moves into an existing one.
                disk.release(0, 1);
            }
            collect_into(&from.open_dir(&name)?, &to.open_dir(&name)?, disk)?;
            from.remove_dir(&name)?;
        } else if kind.is_file() {
            // The saved file it replaces gives its share back.
            if let Ok(old) = to.symlink_metadata(&name) {
                if old.is_dir() {
                    return Err(std::io::Error::other(format!(
                        "{:?} is already saved as a folder; save the file under another name",
                        name.to_string_lossy()
                    )));
                }
                disk.release(old.len(), 1);
            }
            if from.rename(&name, to, &name).is_err() {
                copy_out(from, to, &name)?;
            }
        }
    }
    Ok(())
}

/// Copy a staged file whose move failed (the outputs folder is on another
/// filesystem); a partial copy is deleted.
fn copy_out(from: &Dir, to: &Dir, name: &std::ffi::OsStr) -> std::io::Result<()> {
    if let Err(e) = from.copy(name, to, name) {
        let _ = to.remove_file(name);
        return Err(e);
    }
    from.remove_file(name)
}
