//! `wasi:filesystem/types` with the task's disk book kept at every step.
//!
//! [`MeteredFs`] implements the interface by delegating each function to
//! wasmtime-wasi's own host (which keeps every path beneath its preopen with
//! cap-std), after booking what the function will add: bytes past a file's
//! end, entries created, folders nested. Removals and truncations give their
//! bytes back once they succeeded. A refusal is the guest's `quota` error
//! (`EDQUOT`) or `name-too-long`, and is noted for the call's result.
//!
//! Instances without a [`DiskView`] (a component being described or
//! snapshotted) pass straight through.

use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::sync::Arc;

use cap_std::fs::MetadataExt as _;
use wasmtime::component::{HasData, Resource};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemCtxView, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::filesystem::types::{
    self, ErrorCode, HostDescriptor, HostDirectoryEntryStream, OpenFlags, PathFlags,
};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, FsError, FsResult};

use super::stream::{MeteredStream, QuotaExceeded};
use super::{DiskView, MAX_DEPTH, MAX_PATH, Refusal};
use crate::caps::HostState;

/// Marks the metered filesystem for `add_to_linker`.
pub(crate) struct MeteredFilesystem;

impl HasData for MeteredFilesystem {
    type Data<'a> = MeteredFs<'a>;
}

pub(crate) struct MeteredFs<'a>(pub(crate) &'a mut HostState);

impl MeteredFs<'_> {
    fn fs(&mut self) -> WasiFilesystemCtxView<'_> {
        self.0.filesystem()
    }

    fn disk(&self) -> Option<&DiskView> {
        self.0.disk.as_ref()
    }

    /// The descriptor behind `fd` (a cheap clone: it shares the OS handle).
    fn descriptor(&mut self, fd: &Resource<Descriptor>) -> FsResult<Descriptor> {
        Ok(self.fs().table.get(fd)?.clone())
    }

    /// The host folder behind `fd`, when the instance is metered and `fd` is
    /// a folder.
    fn metered_dir(&mut self, fd: &Resource<Descriptor>) -> FsResult<Option<Arc<std::fs::File>>> {
        if self.disk().is_none() {
            return Ok(None);
        }
        Ok(match self.descriptor(fd)? {
            Descriptor::Dir(d) => Some(d.dir),
            Descriptor::File(_) => None,
        })
    }

    fn metered_file(&mut self, fd: &Resource<Descriptor>) -> FsResult<Option<Arc<std::fs::File>>> {
        if self.disk().is_none() {
            return Ok(None);
        }
        Ok(match self.descriptor(fd)? {
            Descriptor::File(f) => Some(f.file),
            Descriptor::Dir(_) => None,
        })
    }

    fn refuse(&self, r: Refusal) -> FsError {
        if let Some(d) = self.disk() {
            d.note(r);
        }
        match r {
            Refusal::Quota | Refusal::Files => ErrorCode::Quota.into(),
            Refusal::Placement => ErrorCode::NameTooLong.into(),
        }
    }

    fn charge(&self, bytes: u64, files: u64) -> FsResult<()> {
        match self.disk() {
            Some(d) if bytes > 0 || files > 0 => d.meter.charge(bytes, files).map_err(|r| self.refuse(r)),
            _ => Ok(()),
        }
    }

    /// A stream on a full quota is refused when it is opened: guests built
    /// with the component adapter of today's Rust toolchain see every failed
    /// stream write as `EIO`, but a refused open as the `EDQUOT` it is.
    fn refuse_when_full(&self) -> FsResult<()> {
        match self.disk() {
            Some(d) if d.meter.full() => Err(self.refuse(Refusal::Quota)),
            _ => Ok(()),
        }
    }

    fn release(&self, bytes: u64, files: u64) {
        if let Some(d) = self.disk() {
            d.meter.release(bytes, files);
        }
    }

    /// Refuse an entry at `path` under `dir` (with a tree of `height` levels
    /// and `inner` bytes of path below it) that would sit too deep or too
    /// long below its mount. The parent is located by opening it, so
    /// symbolic links on the way are resolved as the creation will.
    fn check_placement(&self, dir: &std::fs::File, path: &str, height: usize, inner: usize) -> FsResult<()> {
        let Some(disk) = self.disk() else { return Ok(()) };
        let trimmed = path.trim_end_matches('/');
        let (parent, name) = match trimmed.rfind('/') {
            Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
            None => ("", trimmed),
        };
        let real = if parent.is_empty() {
            fd_path(dir)
        } else {
            let parent_dir = cap_dir(dir)?.open_dir(parent).map_err(io_error)?;
            fd_path(&parent_dir)
        };
        let real = match real {
            Ok(p) => p,
            // No /proc: the bounds cannot be checked, the quota still holds.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(_) => return Err(self.refuse(Refusal::Placement)),
        };
        // Outside every writable mount, the delegate refuses on its own.
        let Some(rel) = disk.roots.iter().find_map(|r| real.strip_prefix(r).ok()) else { return Ok(()) };
        let depth = rel.components().count() + 1 + height;
        let len = rel.as_os_str().len() + 1 + name.len() + inner;
        if depth > MAX_DEPTH || len > MAX_PATH {
            return Err(self.refuse(Refusal::Placement));
        }
        Ok(())
    }

    /// Remember an opened file, so removing it frees its bytes only once
    /// every holder has closed it.
    fn track_open(&mut self, fd: &Resource<Descriptor>) -> FsResult<()> {
        let Some(file) = self.metered_file(fd)? else { return Ok(()) };
        let Ok(meta) = file.metadata() else { return Ok(()) };
        let disk = self.0.disk.as_mut().expect("metered");
        let inode = (meta.dev(), meta.ino());
        disk.meter.opened(inode);
        disk.open.insert(fd.rep(), (inode, file));
        Ok(())
    }

    /// After `path` was removed (or replaced): free it in the book.
    fn removed(&self, meta: &cap_std::fs::Metadata) {
        let Some(d) = self.disk() else { return };
        d.meter.release(0, 1);
        if !meta.is_dir() && meta.nlink() <= 1 {
            d.meter.unlinked((meta.dev(), meta.ino()), meta.len());
        }
    }

    /// Put a metering wrapper around a new file output stream.
    fn meter_stream(
        &mut self,
        stream: Resource<DynOutputStream>,
        file: Option<Arc<std::fs::File>>,
        position: Option<u64>,
    ) -> FsResult<Resource<DynOutputStream>> {
        let (Some(disk), Some(file)) = (self.disk(), file) else { return Ok(stream) };
        let (meter, refused) = (disk.meter.clone(), disk.refused.clone());
        let fs = self.fs();
        let inner = fs.table.delete(stream)?;
        let metered: DynOutputStream = Box::new(MeteredStream::new(inner, file, position, meter, refused));
        Ok(fs.table.push(metered)?)
    }
}

fn io_error(e: std::io::Error) -> FsError {
    ErrorCode::from(&e).into()
}

fn cap_dir(dir: &std::fs::File) -> FsResult<cap_std::fs::Dir> {
    Ok(cap_std::fs::Dir::from_std_file(dir.try_clone().map_err(io_error)?))
}

/// Where an open file or folder really is on the host.
fn fd_path(f: &impl AsRawFd) -> std::io::Result<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd()))
}

fn size(file: &std::fs::File) -> u64 {
    file.metadata().map(|m| m.len()).unwrap_or(0)
}

/// Levels and longest path (bytes, with leading `/`) of the tree in `dir`,
/// stopping once it is deeper than any placement allows.
fn tree_extent(dir: &cap_std::fs::Dir, budget: usize) -> std::io::Result<(usize, usize)> {
    let (mut height, mut len) = (0, 0);
    for entry in dir.entries()? {
        let entry = entry?;
        let name = entry.file_name().len() + 1;
        let (h, l) = if entry.file_type()?.is_dir() {
            if budget == 0 {
                return Ok((MAX_DEPTH + 1, 0));
            }
            let (h, l) = tree_extent(&dir.open_dir(entry.file_name())?, budget - 1)?;
            (h + 1, l + name)
        } else {
            (1, name)
        };
        height = height.max(h);
        len = len.max(l);
    }
    Ok((height, len))
}

impl types::Host for MeteredFs<'_> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<ErrorCode> {
        types::Host::convert_error_code(&mut self.fs(), err)
    }

    fn filesystem_error_code(&mut self, err: Resource<wasmtime::Error>) -> wasmtime::Result<Option<ErrorCode>> {
        if self.fs().table.get(&err)?.downcast_ref::<QuotaExceeded>().is_some() {
            return Ok(Some(ErrorCode::Quota));
        }
        types::Host::filesystem_error_code(&mut self.fs(), err)
    }
}

impl HostDescriptor for MeteredFs<'_> {
    // ---- metered --------------------------------------------------------

    async fn write(&mut self, fd: Resource<Descriptor>, buf: Vec<u8>, offset: u64) -> FsResult<u64> {
        let growth = match self.metered_file(&fd)? {
            Some(f) => offset.saturating_add(buf.len() as u64).saturating_sub(size(&f)),
            None => 0,
        };
        self.charge(growth, 0)?;
        let r = self.fs().write(fd, buf, offset).await;
        if r.is_err() {
            self.release(growth, 0);
        }
        r
    }

    async fn set_size(&mut self, fd: Resource<Descriptor>, new: u64) -> FsResult<()> {
        let old = self.metered_file(&fd)?.map(|f| size(&f));
        let growth = old.map_or(0, |o| new.saturating_sub(o));
        self.charge(growth, 0)?;
        let r = self.fs().set_size(fd, new).await;
        match (&r, old) {
            (Err(_), _) => self.release(growth, 0),
            (Ok(()), Some(o)) => self.release(o.saturating_sub(new), 0),
            _ => {}
        }
        r
    }

    fn write_via_stream(&mut self, fd: Resource<Descriptor>, offset: u64) -> FsResult<Resource<DynOutputStream>> {
        let file = self.metered_file(&fd)?;
        self.refuse_when_full()?;
        let stream = self.fs().write_via_stream(fd, offset)?;
        self.meter_stream(stream, file, Some(offset))
    }

    fn append_via_stream(&mut self, fd: Resource<Descriptor>) -> FsResult<Resource<DynOutputStream>> {
        let file = self.metered_file(&fd)?;
        self.refuse_when_full()?;
        let stream = self.fs().append_via_stream(fd)?;
        self.meter_stream(stream, file, None)
    }

    async fn open_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
        oflags: OpenFlags,
        flags: types::DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        let (mut new_entry, mut freed) = (false, 0);
        if oflags.intersects(OpenFlags::CREATE | OpenFlags::TRUNCATE)
            && let Some(dir) = self.metered_dir(&fd)?
        {
            let d = cap_dir(&dir)?;
            let existing = if path_flags.contains(PathFlags::SYMLINK_FOLLOW) {
                d.metadata(&path)
            } else {
                d.symlink_metadata(&path)
            };
            match existing {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && oflags.contains(OpenFlags::CREATE) => {
                    self.check_placement(&dir, &path, 0, 0)?;
                    self.charge(0, 1)?;
                    new_entry = true;
                }
                Ok(m) if m.is_file() && oflags.contains(OpenFlags::TRUNCATE) => freed = m.len(),
                _ => {}
            }
        }
        let r = self.fs().open_at(fd, path_flags, path, oflags, flags).await;
        match &r {
            Err(_) if new_entry => self.release(0, 1),
            Err(_) => {}
            Ok(opened) => {
                self.release(freed, 0);
                self.track_open(opened)?;
            }
        }
        r
    }

    fn drop(&mut self, fd: Resource<Descriptor>) -> wasmtime::Result<()> {
        if let Some(d) = &mut self.0.disk
            && let Some((inode, file)) = d.open.remove(&fd.rep())
        {
            d.meter.closed(inode, size(&file));
        }
        HostDescriptor::drop(&mut self.fs(), fd)
    }

    async fn create_directory_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        if let Some(dir) = self.metered_dir(&fd)? {
            self.check_placement(&dir, &path, 0, 0)?;
            self.charge(0, 1)?;
        }
        let metered = self.disk().is_some();
        let r = self.fs().create_directory_at(fd, path).await;
        if r.is_err() && metered {
            self.release(0, 1);
        }
        r
    }

    async fn symlink_at(&mut self, fd: Resource<Descriptor>, target: String, path: String) -> FsResult<()> {
        let booked = target.len() as u64;
        if let Some(dir) = self.metered_dir(&fd)? {
            if target.len() > MAX_PATH {
                return Err(self.refuse(Refusal::Placement));
            }
            self.check_placement(&dir, &path, 0, 0)?;
            self.charge(booked, 1)?;
        }
        let metered = self.disk().is_some();
        let r = self.fs().symlink_at(fd, target, path).await;
        if r.is_err() && metered {
            self.release(booked, 1);
        }
        r
    }

    async fn link_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path_flags: PathFlags,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        if let Some(dir) = self.metered_dir(&new_fd)? {
            self.check_placement(&dir, &new_path, 0, 0)?;
            self.charge(0, 1)?;
        }
        let metered = self.disk().is_some();
        let r = self.fs().link_at(fd, old_path_flags, old_path, new_fd, new_path).await;
        if r.is_err() && metered {
            self.release(0, 1);
        }
        r
    }

    async fn unlink_file_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        let meta = match self.metered_dir(&fd)? {
            Some(dir) => cap_dir(&dir)?.symlink_metadata(&path).ok(),
            None => None,
        };
        let r = self.fs().unlink_file_at(fd, path).await;
        if let (Ok(()), Some(m)) = (&r, meta) {
            self.removed(&m);
        }
        r
    }

    async fn remove_directory_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        let metered = self.metered_dir(&fd)?.is_some();
        let r = self.fs().remove_directory_at(fd, path).await;
        if r.is_ok() && metered {
            self.release(0, 1);
        }
        r
    }

    async fn rename_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let mut replaced = None;
        if let (Some(from), Some(to)) = (self.metered_dir(&fd)?, self.metered_dir(&new_fd)?) {
            let (from_dir, to_dir) = (cap_dir(&from)?, cap_dir(&to)?);
            let moved = from_dir.symlink_metadata(&old_path).map_err(io_error)?;
            let (height, inner) = if moved.is_dir() {
                tree_extent(&from_dir.open_dir(&old_path).map_err(io_error)?, MAX_DEPTH).map_err(io_error)?
            } else {
                (0, 0)
            };
            self.check_placement(&to, &new_path, height, inner)?;
            replaced =
                to_dir.symlink_metadata(&new_path).ok().filter(|t| (t.dev(), t.ino()) != (moved.dev(), moved.ino()));
        }
        let r = self.fs().rename_at(fd, old_path, new_fd, new_path).await;
        if let (Ok(()), Some(t)) = (&r, replaced) {
            self.removed(&t);
        }
        r
    }

    // ---- delegated as they are -------------------------------------------

    async fn advise(&mut self, fd: Resource<Descriptor>, offset: u64, len: u64, advice: types::Advice) -> FsResult<()> {
        self.fs().advise(fd, offset, len, advice).await
    }

    async fn sync_data(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        self.fs().sync_data(fd).await
    }

    async fn get_flags(&mut self, fd: Resource<Descriptor>) -> FsResult<types::DescriptorFlags> {
        self.fs().get_flags(fd).await
    }

    async fn get_type(&mut self, fd: Resource<Descriptor>) -> FsResult<types::DescriptorType> {
        self.fs().get_type(fd).await
    }

    async fn set_times(
        &mut self,
        fd: Resource<Descriptor>,
        atim: types::NewTimestamp,
        mtim: types::NewTimestamp,
    ) -> FsResult<()> {
        self.fs().set_times(fd, atim, mtim).await
    }

    async fn read(&mut self, fd: Resource<Descriptor>, len: u64, offset: u64) -> FsResult<(Vec<u8>, bool)> {
        self.fs().read(fd, len, offset).await
    }

    async fn read_directory(&mut self, fd: Resource<Descriptor>) -> FsResult<Resource<types::DirectoryEntryStream>> {
        self.fs().read_directory(fd).await
    }

    async fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        self.fs().sync(fd).await
    }

    async fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<types::DescriptorStat> {
        self.fs().stat(fd).await
    }

    async fn stat_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
    ) -> FsResult<types::DescriptorStat> {
        self.fs().stat_at(fd, path_flags, path).await
    }

    async fn set_times_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
        atim: types::NewTimestamp,
        mtim: types::NewTimestamp,
    ) -> FsResult<()> {
        self.fs().set_times_at(fd, path_flags, path, atim, mtim).await
    }

    async fn readlink_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<String> {
        self.fs().readlink_at(fd, path).await
    }

    fn read_via_stream(&mut self, fd: Resource<Descriptor>, offset: u64) -> FsResult<Resource<DynInputStream>> {
        self.fs().read_via_stream(fd, offset)
    }

    async fn is_same_object(&mut self, a: Resource<Descriptor>, b: Resource<Descriptor>) -> wasmtime::Result<bool> {
        self.fs().is_same_object(a, b).await
    }

    async fn metadata_hash(&mut self, fd: Resource<Descriptor>) -> FsResult<types::MetadataHashValue> {
        self.fs().metadata_hash(fd).await
    }

    async fn metadata_hash_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
    ) -> FsResult<types::MetadataHashValue> {
        self.fs().metadata_hash_at(fd, path_flags, path).await
    }
}

impl HostDirectoryEntryStream for MeteredFs<'_> {
    async fn read_directory_entry(
        &mut self,
        stream: Resource<types::DirectoryEntryStream>,
    ) -> FsResult<Option<types::DirectoryEntry>> {
        self.fs().read_directory_entry(stream).await
    }

    fn drop(&mut self, stream: Resource<types::DirectoryEntryStream>) -> wasmtime::Result<()> {
        HostDirectoryEntryStream::drop(&mut self.fs(), stream)
    }
}
