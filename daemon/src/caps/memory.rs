//! Memory capability: a cap on the linear memories and tables of one
//! instance, summed (`sandbox.memory_mb`; a table element counts as the
//! host memory it takes), and bounds on its memories, tables and table
//! elements.
//!
//! This is wasmtime's `StoreLimits` with one addition: it remembers that it
//! refused a growth. A guest that cannot grow usually dies moments later of
//! an unrelated-looking trap (Rust aborts through `unreachable`), and that
//! memory is what lets the runtime name the real cause.

use wasmtime::{ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder};

use super::HostState;
use super::{Capability, Grant, LimitHit};
use crate::policy::Policy;

/// Instance-wide bounds besides `sandbox.memory_mb`: a component cannot
/// multiply memories or tables to get around the cap.
pub const MAX_MEMORIES: usize = 32;
pub const MAX_TABLES: usize = 256;
pub const MAX_CORE_INSTANCES: usize = 256;
/// Table elements across every table of the instance (host memory, about
/// 8 bytes each).
pub const MAX_TABLE_ELEMENTS: usize = 4 << 20;
/// What one table element costs the host (a pointer), counted against the cap.
pub const TABLE_ELEMENT_BYTES: usize = 8;

pub struct MemoryLimiter {
    inner: StoreLimits,
    /// Bytes allowed across all linear memories and tables of the instance.
    cap: usize,
    /// Bytes the instance's memories hold now (their sizes summed).
    memories: usize,
    /// Table elements across all tables now.
    elements: usize,
    /// Size of the largest growth refused since the limiter was armed (the
    /// instance's total it would have made).
    pub refused: Option<usize>,
}

impl Default for MemoryLimiter {
    fn default() -> Self {
        MemoryLimiter { inner: StoreLimits::default(), cap: usize::MAX, memories: 0, elements: 0, refused: None }
    }
}

impl MemoryLimiter {
    fn new(cap: usize) -> Self {
        MemoryLimiter {
            // Refuse, do not trap: a guest such as Python can turn a refused
            // growth into a `MemoryError` and go on.
            inner: StoreLimitsBuilder::new()
                .memory_size(cap)
                .memories(MAX_MEMORIES)
                .tables(MAX_TABLES)
                .instances(MAX_CORE_INSTANCES)
                .table_elements(MAX_TABLE_ELEMENTS)
                .trap_on_grow_failure(false)
                .build(),
            cap,
            memories: 0,
            elements: 0,
            refused: None,
        }
    }

    /// Bytes held by the instance's memories and tables.
    pub fn total(&self) -> usize {
        self.memories.saturating_add(self.elements.saturating_mul(TABLE_ELEMENT_BYTES))
    }

    /// Whether an instance made under `other` holds no more than this cap.
    pub fn fits(&self, other: &MemoryLimiter) -> bool {
        other.total() <= self.cap
    }

    /// Take over the book of an instance made under `other` (a warm pool's
    /// instance moving into a sandbox's store): what it holds counts here
    /// from now on. Call only when it [`fits`](Self::fits).
    pub fn adopt(&mut self, other: &MemoryLimiter) {
        debug_assert!(self.fits(other));
        self.memories = other.memories;
        self.elements = other.elements;
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        // A new memory comes with current = 0: every memory counts, so the
        // cap is the instance's, not each memory's.
        let memories = (self.memories - current.min(self.memories)).saturating_add(desired);
        let total = memories.saturating_add(self.elements.saturating_mul(TABLE_ELEMENT_BYTES));
        let ok = total <= self.cap && self.inner.memory_growing(current, desired, maximum)?;
        if ok {
            self.memories = memories;
        } else {
            self.refused = Some(total);
        }
        Ok(ok)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let elements = (self.elements - current.min(self.elements)).saturating_add(desired);
        let total = self.memories.saturating_add(elements.saturating_mul(TABLE_ELEMENT_BYTES));
        let ok = elements <= MAX_TABLE_ELEMENTS
            && total <= self.cap
            && self.inner.table_growing(current, desired, maximum)?;
        if ok {
            self.elements = elements;
        } else {
            self.refused = Some(total);
        }
        Ok(ok)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
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

    fn settle(&self, policy: &Policy, store: &mut Store<HostState>) -> Option<LimitHit> {
        let wanted = store.data().meters.memory.refused?;
        Some(limit_hit(
            policy,
            wanted,
            "an allocation was refused at",
            "so the tool saw it run out of memory; free what it holds (del large variables) or work on smaller pieces of data",
        ))
    }

    fn diagnose(&self, policy: &Policy, store: &Store<HostState>, _: &wasmtime::Error) -> Option<LimitHit> {
        let wanted = store.data().meters.memory.refused?;
        Some(limit_hit(
            policy,
            wanted,
            "the call needed more than",
            "work on smaller pieces of data or raise that limit",
        ))
    }
}

/// The memory limit in words: `what` happened at it, the total `wanted`, and `advice`.
fn limit_hit(policy: &Policy, wanted: usize, what: &str, advice: &str) -> LimitHit {
    LimitHit {
        key: "sandbox.memory_mb",
        message: format!(
            "{what} its memory limit of {} MB (it asked for {} MB in all; sandbox.memory_mb); {advice}",
            policy.sandbox.memory_mb,
            wanted.div_ceil(1 << 20)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Memories and tables share one cap: what tables hold leaves less for
    /// memories and the other way round, and every memory counts in full.
    #[test]
    fn memories_and_tables_are_capped_together() {
        let mut l = MemoryLimiter::new(10 << 20);
        assert!(l.memory_growing(0, 6 << 20, None).unwrap(), "a first memory within the cap");
        // A second memory may not take what the first holds.
        assert!(!l.memory_growing(0, 6 << 20, None).unwrap());
        assert_eq!(l.refused, Some(12 << 20));
        // 512 Ki elements are 4 MB of host memory: exactly what is left.
        assert!(l.table_growing(0, 512 << 10, None).unwrap());
        assert_eq!(l.total(), 10 << 20);
        assert!(!l.table_growing(512 << 10, (512 << 10) + 1, None).unwrap(), "one element past the cap");
        assert!(
            !l.memory_growing(6 << 20, (6 << 20) + 65536, None).unwrap(),
            "the memory cannot grow into the table's share"
        );
    }

    #[test]
    fn a_pooled_instance_brings_its_book_and_must_fit_the_new_cap() {
        let mut pool = MemoryLimiter::new(1 << 30);
        assert!(pool.memory_growing(0, 40 << 20, None).unwrap());
        assert!(pool.table_growing(0, 1000, None).unwrap());
        assert!(!MemoryLimiter::new(32 << 20).fits(&pool), "40 MB does not fit a 32 MB cap");
        let mut sandbox = MemoryLimiter::new(64 << 20);
        assert!(sandbox.fits(&pool));
        sandbox.adopt(&pool);
        assert_eq!(sandbox.total(), (40 << 20) + 8000);
        // What it holds counts: 24 MB more would pass the cap.
        assert!(!sandbox.memory_growing(40 << 20, 64 << 20, None).unwrap());
    }
}
