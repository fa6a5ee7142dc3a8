//! On-disk cache of compiled components.
//!
//! Compiling a component with Cranelift takes from milliseconds to many
//! seconds (the Python interpreter: ~13 s), loading a precompiled artifact
//! with mmap about a millisecond. Artifacts are keyed by the SHA-256 of the
//! engine's compatibility hash (wasmtime version, compiler settings, enabled
//! features such as fuel) and the component's bytes, so any change to either
//! is a different key: a stale artifact is never loaded, only left behind.
//!
//! Artifacts are memory-mapped by every runtime that loads them, so they are
//! only ever created whole (write to a temporary name, then rename) and
//! never modified in place: truncating a mapped file would fault the
//! processes using it.

use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Feeds `Hash` output into SHA-256, so the key is stable across processes
/// (std's `DefaultHasher` is not guaranteed to be).
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        unreachable!("only the SHA-256 digest is used")
    }
}

/// Hex SHA-256 of the engine's compatibility hash.
pub fn engine_fingerprint(engine: &Engine) -> String {
    use std::hash::Hash;
    let mut h = ShaHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    hex(&h.0.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

pub struct CompileCache {
    dir: PathBuf,
    engine_fingerprint: String,
    pub stats: CacheStats,
}

/// A component file and the hash of its content; its bytes are read only
/// when something has to be compiled.
pub struct Source {
    pub path: PathBuf,
    pub hash: String,
    bytes: Option<Vec<u8>>,
}

impl Source {
    pub fn bytes(&mut self) -> std::io::Result<&[u8]> {
        if self.bytes.is_none() {
            self.bytes = Some(std::fs::read(&self.path)?);
        }
        Ok(self.bytes.as_deref().unwrap())
    }
}

/// How a component was obtained, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Cached,
    Compiled,
}

impl CompileCache {
    pub fn new(dir: PathBuf, engine: &Engine) -> Self {
        CompileCache { dir, engine_fingerprint: engine_fingerprint(engine), stats: CacheStats::default() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The component file at `path`, with the SHA-256 of its content.
    ///
    /// Hashing the 30 MB Python component costs more than loading its
    /// compiled artifact, so the hash is remembered in `index/` together
    /// with the file's size, modification time and inode; an unchanged file
    /// is not read at all until its bytes are needed.
    pub fn source(&self, path: &Path) -> std::io::Result<Source> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        let stamp = format!("{}:{}.{}:{}", meta.len(), meta.mtime(), meta.mtime_nsec(), meta.ino());
        let canonical = path.canonicalize()?;
        let index = self.dir.join("index").join(hex(&Sha256::digest(canonical.as_os_str().as_encoded_bytes())));
        if let Ok(text) = std::fs::read_to_string(&index) {
            if let Some((s, h)) = text.trim().split_once(' ') {
                if s == stamp && h.len() == 64 {
                    return Ok(Source { path: path.to_path_buf(), hash: h.to_owned(), bytes: None });
                }
            }
        }
        let bytes = std::fs::read(path)?;
        let hash = hex(&Sha256::digest(&bytes));
        if std::fs::create_dir_all(index.parent().unwrap()).is_ok() {
            let tmp = index.with_extension(format!("{}.tmp", rand::random::<u64>()));
            if std::fs::write(&tmp, format!("{stamp} {hash}\n")).is_err() || std::fs::rename(&tmp, &index).is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
        }
        Ok(Source { path: path.to_path_buf(), hash, bytes: Some(bytes) })
    }

    /// The artifact path for a component; `variant` distinguishes artifacts
    /// derived from the same component (a snapshot of it, say).
    pub fn path_for(&self, source: &Source, variant: &str) -> PathBuf {
        let mut h = Sha256::new();
        h.update(self.engine_fingerprint.as_bytes());
        h.update([0]);
        h.update(variant.as_bytes());
        h.update([0]);
        h.update(source.hash.as_bytes());
        self.dir.join(format!("{}{variant}.cwasm", hex(&h.finalize())))
    }

    /// Hold an exclusive lock on `artifact` while it is made, so that
    /// concurrent starts (threads or processes) compile it once, not each.
    pub fn lock(&self, artifact: &Path) -> Option<std::fs::File> {
        std::fs::create_dir_all(&self.dir).ok()?;
        let file = std::fs::File::create(artifact.with_extension("lock")).ok()?;
        file.lock().ok()?;
        Some(file)
    }

    /// The cached artifact at `path`, if it is there and loads.
    pub fn get(&self, engine: &Engine, path: &Path) -> Option<Component> {
        if !path.is_file() {
            return None;
        }
        // SAFETY: the artifact was written by `Engine::precompile_component`
        // into our own cache directory under a key that includes this
        // engine's compatibility hash; wasmtime checks the header again and
        // we fall back to compiling if it refuses.
        match unsafe { Component::deserialize_file(engine, path) } {
            Ok(c) => {
                self.stats.hits.fetch_add(1, Ordering::Relaxed);
                Some(c)
            }
            Err(_) => {
                let _ = std::fs::remove_file(path);
                None
            }
        }
    }

    /// Compile `bytes` and store the artifact at `path`.
    pub fn put(&self, engine: &Engine, path: &Path, bytes: &[u8]) -> wasmtime::Result<Component> {
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        let artifact = engine.precompile_component(bytes)?;
        // Write then rename, so a crash or a concurrent start never leaves a
        // half-written artifact under the final name.
        if std::fs::create_dir_all(&self.dir).is_ok() {
            let tmp = self.dir.join(format!(".{}.{}.tmp", std::process::id(), rand::random::<u64>()));
            if std::fs::write(&tmp, &artifact).is_ok() && std::fs::rename(&tmp, path).is_ok() {
                // SAFETY: as in `get`; we just wrote this artifact.
                if let Ok(c) = unsafe { Component::deserialize_file(engine, path) } {
                    return Ok(c);
                }
            }
            let _ = std::fs::remove_file(&tmp);
        }
        // A read-only or full cache directory costs speed, not correctness.
        // SAFETY: the bytes come from `precompile_component` just above.
        Ok(unsafe { Component::deserialize(engine, &artifact)? })
    }

    /// Load the component from the cache, or compile and store it.
    pub fn load(&self, engine: &Engine, source: &mut Source) -> wasmtime::Result<(Component, Origin)> {
        let path = self.path_for(source, "");
        if let Some(c) = self.get(engine, &path) {
            return Ok((c, Origin::Cached));
        }
        let _lock = self.lock(&path);
        // Someone may have made it while we waited for the lock.
        if let Some(c) = self.get(engine, &path) {
            return Ok((c, Origin::Cached));
        }
        Ok((self.put(engine, &path, source.bytes()?)?, Origin::Compiled))
    }
}
