//! Memory capability: a cap on the linear memory of one instance
//! (`sandbox.memory_mb`).
//!
//! This is wasmtime's `StoreLimits` with one addition: it remembers that it
//! refused a growth. A guest that cannot grow usually dies moments later of
//! an unrelated-looking trap (Rust aborts through `unreachable`), and that
//! memory is what lets the runtime name the real cause.

use wasmtime::{ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder};

use super::{Capability, Grant, LimitHit};
use crate::policy::Policy;
use crate::runtime::HostState;

pub struct MemoryLimiter {
    inner: StoreLimits,
    cap: usize,
    /// Size of the largest growth refused since the limiter was armed.
    pub refused: Option<usize>,
}

impl Default for MemoryLimiter {
    fn default() -> Self {
        MemoryLimiter { inner: StoreLimits::default(), cap: usize::MAX, refused: None }
    }
}

impl MemoryLimiter {
    fn new(cap: usize) -> Self {
        MemoryLimiter {
            // Refuse, do not trap: a guest such as Python can turn a refused
            // growth into a `MemoryError` and go on.
            inner: StoreLimitsBuilder::new().memory_size(cap).trap_on_grow_failure(false).build(),
            cap,
            refused: None,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let ok = desired <= self.cap && self.inner.memory_growing(current, desired, maximum)?;
        if !ok {
            self.refused = Some(desired);
        }
        Ok(ok)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }
}

pub struct Memory;

impl Capability for Memory {
    fn prepare(&self, policy: &Policy, grant: &mut Grant<'_>) -> wasmtime::Result<()> {
        grant.meters.memory = MemoryLimiter::new((policy.sandbox.memory_mb as usize) << 20);
        Ok(())
    }

    fn attach(&self, _: &Policy, store: &mut Store<HostState>) {
        store.limiter(|s| &mut s.meters.memory);
    }

    fn arm(&self, _: &Policy, store: &mut Store<HostState>) -> wasmtime::Result<()> {
        store.data_mut().meters.memory.refused = None;
        Ok(())
    }

    fn diagnose(&self, policy: &Policy, store: &Store<HostState>, _: &wasmtime::Error) -> Option<LimitHit> {
        store.data().meters.memory.refused.map(|wanted| LimitHit {
            key: "sandbox.memory_mb",
            message: format!(
                "the call needed more than its memory limit of {} MB (it asked for {} MB; sandbox.memory_mb); work on smaller pieces of data or raise that limit",
                policy.sandbox.memory_mb,
                wanted.div_ceil(1 << 20)
            ),
        })
    }
}
