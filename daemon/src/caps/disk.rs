//! Disk capability: how much a sandbox workspace may hold
//! (`sandbox.disk_quota_mb`, `sandbox.max_files`).
//!
//! WASI gives no hook on each write, so the quota is checked after every
//! call that touched a workspace: a call that pushes the workspace over its
//! quota is reported as stopped by that limit (its output is still shown),
//! and so is every later call until files are deleted. A single call can
//! overshoot by what it writes before it ends; its fuel and deadline bound
//! that.

use std::path::Path;

use super::LimitHit;
use crate::policy::Policy;

/// Bytes and entries under `dir`, not following symbolic links.
pub fn usage(dir: &Path) -> (u64, u64) {
    let (mut bytes, mut files) = (0u64, 0u64);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let Ok(meta) = e.path().symlink_metadata() else { continue };
            files += 1;
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                bytes += meta.len();
            }
        }
    }
    (bytes, files)
}

/// The limit a workspace is over, if any.
pub fn check(policy: &Policy, dirs: &[&Path]) -> Option<LimitHit> {
    let (bytes, files) = dirs.iter().map(|d| usage(d)).fold((0, 0), |(b, f), (b2, f2)| (b + b2, f + f2));
    let quota = policy.sandbox.disk_quota_mb << 20;
    if bytes > quota {
        return Some(LimitHit {
            key: "sandbox.disk_quota_mb",
            message: format!(
                "the sandbox workspace holds {:.1} MB, over its quota of {} MB (sandbox.disk_quota_mb); delete files you no longer need",
                bytes as f64 / (1 << 20) as f64,
                policy.sandbox.disk_quota_mb
            ),
        });
    }
    if files > policy.sandbox.max_files {
        return Some(LimitHit {
            key: "sandbox.max_files",
            message: format!(
                "the sandbox workspace holds {files} files and folders, over its limit of {} (sandbox.max_files); delete files you no longer need",
                policy.sandbox.max_files
            ),
        });
    }
    None
}
