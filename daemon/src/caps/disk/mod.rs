//! Disk capability: how much a task may keep on disk
//! (`sandbox.disk_quota_mb`, `sandbox.max_files`), enforced as writes happen.
//!
//! One [`DiskMeter`] per session (a task) books every byte and entry its
//! guests can make: workspaces, `/tmp`s, the per-call staging folders and the
//! saved outputs they turn into. It is kept current by metering the WASI
//! filesystem itself ([`fs`] replaces wasmtime-wasi's `wasi:filesystem/types`
//! host with one that books each write, truncation, creation and removal
//! before delegating to it, [`stream`] wraps file output streams), so a write
//! that would pass the quota fails inside the guest with `EDQUOT`, the error a
//! full disk quota gives, and nothing is ever walked after the fact to find
//! out. Sizes are apparent sizes (`st_size`, per inode): a sparse file counts
//! whole, so it can never be inflated past the quota by a later copy.
//!
//! Entries are placed no deeper than [`MAX_DEPTH`] folders and no longer than
//! [`MAX_PATH`] bytes below their mount, checked on the real (symlink-free)
//! location of the parent folder, so every host path stays well under
//! `PATH_MAX` and every tree a guest makes can be measured and removed.

mod fs;
mod stream;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub(crate) use fs::{MeteredFilesystem, MeteredFs};

use super::{Capability, Grant, LimitHit};
use crate::policy::Policy;

/// Deepest folder nesting below a mount root (`/home/user`, `/tmp`).
pub const MAX_DEPTH: usize = 64;
/// Longest path below a mount root, in bytes.
pub const MAX_PATH: usize = 1024;

/// The policy keys this capability enforces.
pub const KEYS: [&str; 2] = ["sandbox.disk_quota_mb", "sandbox.max_files"];

/// A file's identity: device and inode.
type Inode = (u64, u64);

/// A task's disk book: what its files take, shared by all its instances.
#[derive(Debug)]
pub struct DiskMeter {
    quota_bytes: u64,
    quota_mb: u64,
    max_files: u64,
    book: Mutex<Book>,
}

#[derive(Debug, Default)]
struct Book {
    bytes: u64,
    files: u64,
    /// Files some instance holds open, with how many descriptors.
    open: HashMap<Inode, u32>,
    /// Removed while open: their bytes stay booked until the last close.
    orphans: HashSet<Inode>,
}

/// Why a write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Quota,
    Files,
    /// Nested past [`MAX_DEPTH`] or longer than [`MAX_PATH`].
    Placement,
}

impl DiskMeter {
    pub fn new(policy: &Policy) -> Arc<Self> {
        Arc::new(DiskMeter {
            quota_bytes: policy.sandbox.disk_quota_mb << 20,
            quota_mb: policy.sandbox.disk_quota_mb,
            max_files: policy.sandbox.max_files,
            book: Mutex::default(),
        })
    }

    /// Book `bytes` and `files` more, or refuse if either would pass its limit.
    pub fn charge(&self, bytes: u64, files: u64) -> Result<(), Refusal> {
        let mut b = self.book.lock().unwrap();
        if b.bytes.saturating_add(bytes) > self.quota_bytes {
            return Err(Refusal::Quota);
        }
        if b.files.saturating_add(files) > self.max_files {
            return Err(Refusal::Files);
        }
        b.bytes += bytes;
        b.files += files;
        Ok(())
    }

    pub fn release(&self, bytes: u64, files: u64) {
        let mut b = self.book.lock().unwrap();
        b.bytes = b.bytes.saturating_sub(bytes);
        b.files = b.files.saturating_sub(files);
    }

    /// Whether not one more byte fits.
    fn full(&self) -> bool {
        self.book.lock().unwrap().bytes >= self.quota_bytes
    }

    /// Bytes and entries booked now.
    pub fn used(&self) -> (u64, u64) {
        let b = self.book.lock().unwrap();
        (b.bytes, b.files)
    }

    /// Book what `dir` already holds (a workspace given by the user, outputs
    /// saved before a restart), whatever the limits say: it exists.
    pub fn add_existing(&self, dir: &Path) {
        let (bytes, files) = usage(dir);
        let mut b = self.book.lock().unwrap();
        b.bytes += bytes;
        b.files += files;
    }

    /// Stop booking what `dir` holds: it is about to be removed or to leave
    /// the task (a freed sandbox).
    pub fn forget(&self, dir: &Path) {
        let (bytes, files) = usage(dir);
        self.release(bytes, files);
    }

    fn opened(&self, inode: Inode) {
        *self.book.lock().unwrap().open.entry(inode).or_default() += 1;
    }

    /// A descriptor of `inode` was closed; `size` is the file's size then.
    fn closed(&self, inode: Inode, size: u64) {
        let mut b = self.book.lock().unwrap();
        let Some(n) = b.open.get_mut(&inode) else { return };
        *n -= 1;
        if *n == 0 {
            b.open.remove(&inode);
            if b.orphans.remove(&inode) {
                b.bytes = b.bytes.saturating_sub(size);
            }
        }
    }

    /// The last link of `inode` was removed: its bytes are free now, or at
    /// its last close if it is open.
    fn unlinked(&self, inode: Inode, size: u64) {
        let mut b = self.book.lock().unwrap();
        if b.open.contains_key(&inode) {
            b.orphans.insert(inode);
        } else {
            b.bytes = b.bytes.saturating_sub(size);
        }
    }

    /// The limit behind a refusal, for the call's result.
    pub fn limit_hit(&self, refusal: Refusal) -> LimitHit {
        match refusal {
            Refusal::Quota => LimitHit {
                key: "sandbox.disk_quota_mb",
                message: format!(
                    "a write was refused (Disk quota exceeded): the task's files (workspace, /tmp and saved outputs) may take {} MB (sandbox.disk_quota_mb); delete files you no longer need or write less",
                    self.quota_mb
                ),
            },
            Refusal::Files => LimitHit {
                key: "sandbox.max_files",
                message: format!(
                    "a file or folder could not be created (Disk quota exceeded): the task may hold {} files and folders (sandbox.max_files); delete ones you no longer need",
                    self.max_files
                ),
            },
            Refusal::Placement => LimitHit {
                key: "sandbox.disk_quota_mb",
                message: format!(
                    "a file or folder could not be created (File name too long): paths inside the sandbox are limited to {MAX_DEPTH} nested folders and {MAX_PATH} bytes"
                ),
            },
        }
    }
}

/// Bytes (apparent, each inode once) and entries under `dir`, not following
/// symbolic links. Trees made by guests are bounded by [`MAX_DEPTH`] and
/// [`MAX_PATH`], so nothing in them is too deep to stat.
pub fn usage(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let (mut bytes, mut files) = (0u64, 0u64);
    let mut seen = HashSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let Ok(meta) = e.path().symlink_metadata() else { continue };
            files += 1;
            if meta.is_dir() {
                stack.push(e.path());
            } else if meta.nlink() <= 1 || seen.insert((meta.dev(), meta.ino())) {
                bytes += meta.len();
            }
        }
    }
    (bytes, files)
}

/// Remove `dir` and everything in it, however deep: when the ordinary
/// recursive removal fails (a tree nested past the open-file limit or
/// `PATH_MAX`), the tree is flattened, each folder's subfolders moved up to
/// the top before it is emptied, so no step needs more than two descriptors
/// or a long path.
pub fn remove_tree(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => flatten_and_remove(dir),
        _ => Ok(()),
    }
}

fn flatten_and_remove(dir: &Path) -> std::io::Result<()> {
    let top = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority())?;
    let mut pending = Vec::new();
    let mut moved = 0u64;
    empty_into(&top, &top, &mut pending, &mut moved)?;
    while let Some(name) = pending.pop() {
        empty_into(&top.open_dir(&name)?, &top, &mut pending, &mut moved)?;
        top.remove_dir(&name)?;
    }
    drop(top);
    std::fs::remove_dir(dir)
}

/// Remove the files of `here` and move its folders up into `top`.
fn empty_into(
    here: &cap_std::fs::Dir,
    top: &cap_std::fs::Dir,
    pending: &mut Vec<String>,
    moved: &mut u64,
) -> std::io::Result<()> {
    // Listed first: entries renamed while a listing runs may show up again.
    let entries = here.entries()?.collect::<std::io::Result<Vec<_>>>()?;
    for entry in entries {
        let name = entry.file_name();
        if entry.file_type()?.is_dir() {
            *moved += 1;
            let up = format!(".fathom-rm-{moved}");
            here.rename(&name, top, &up)?;
            pending.push(up);
        } else {
            here.remove_file(&name)?;
        }
    }
    Ok(())
}

/// One instance's side of the meter: where its writable mounts are, the
/// files it holds open (so space is freed only when the last holder closes a
/// removed file), and the refusal its current call met, if any.
pub struct DiskView {
    meter: Arc<DiskMeter>,
    /// Canonical host paths of the writable mounts.
    roots: Vec<PathBuf>,
    open: HashMap<u32, (Inode, Arc<std::fs::File>)>,
    refused: Arc<Mutex<Option<Refusal>>>,
}

impl DiskView {
    fn new(meter: Arc<DiskMeter>, roots: Vec<PathBuf>) -> Self {
        DiskView { meter, roots, open: HashMap::new(), refused: Arc::default() }
    }

    /// The refusal since the last take, for the call's result.
    pub fn take_refusal(&mut self) -> Option<LimitHit> {
        let r = self.refused.lock().unwrap().take()?;
        Some(self.meter.limit_hit(r))
    }

    /// Keep the call's first refusal: what follows is usually its echo.
    fn note(&self, r: Refusal) {
        self.refused.lock().unwrap().get_or_insert(r);
    }
}

impl Drop for DiskView {
    fn drop(&mut self) {
        for (_, (inode, file)) in self.open.drain() {
            self.meter.closed(inode, file.metadata().map(|m| m.len()).unwrap_or(0));
        }
    }
}

pub struct Disk;

impl Capability for Disk {
    fn settle(&self, _: &Policy, store: &mut wasmtime::Store<super::HostState>) -> Option<LimitHit> {
        store.data_mut().disk.as_mut()?.take_refusal()
    }

    fn prepare(&self, _: &Policy, grant: &mut Grant<'_>) -> wasmtime::Result<()> {
        let Some(meter) = &grant.extras.disk else { return Ok(()) };
        let m = grant.mounts;
        let roots = [m.workspace.as_ref(), m.tmp.as_ref(), m.outputs.as_ref().map(|(staging, _)| staging)]
            .into_iter()
            .flatten()
            .filter_map(|p| p.canonicalize().ok())
            .collect();
        *grant.disk = Some(DiskView::new(meter.clone(), roots));
        Ok(())
    }
}
