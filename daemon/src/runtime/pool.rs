//! Warm pool: instances of a snapshotted, stateful component made ahead of
//! demand, so a new sandbox's first call finds one ready.
//!
//! Instantiating a copy-on-write snapshot is cheap; what a first call pays
//! for is the work it does the first time: the pages of the snapshot it
//! writes (each a page fault and a copy), wasmtime's lazily filled function
//! tables, an interpreter's lazily built caches. A pooled instance has done
//! that already: it was instantiated in a store with no grants (no
//! workspace, no network, output discarded) and its component's `warm-up`
//! export ran there (see `sdk/wit/tool.wit`). Taking one moves the
//! sandbox's own host state into its store; the instance was never entered
//! for any sandbox, so it is as fresh as a new one in everything a call can
//! see (the component's `warm-up` promises to leave nothing observable, and
//! the host checks it left no handle to a host resource behind).
//!
//! Each pool is refilled in the background, one instance at a time, after
//! the first call of each instance taken from it; a take from an empty pool
//! says so and the caller instantiates at the call, as without a pool.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, TypedFunc};

use super::HostState;
use super::session::{arm_and, attached_store, host_state};
use crate::caps::filesystem::Mounts;
use crate::policy::Policy;
use crate::wit::{Tool, ToolPre};

/// How many component calls run now. A refill waits until they leave half
/// the cores free: under a load that keeps the cores busy a warm-up is only
/// extra work (and slows the calls it runs beside), so the pool then stays
/// empty and sandboxes start as without one.
#[derive(Clone, Default)]
pub(crate) struct Busy(Arc<AtomicUsize>);

/// One running call, counted in [`Busy`] until dropped.
pub(crate) struct BusyGuard(Arc<AtomicUsize>);

impl Busy {
    pub fn enter(&self) -> BusyGuard {
        self.0.fetch_add(1, Ordering::Relaxed);
        BusyGuard(self.0.clone())
    }

    /// Wait until calls keep at most half the machine's cores busy (on two
    /// cores: none runs), so a refill takes a core nothing else wants.
    async fn cores_are_free(&self) {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        while self.0.load(Ordering::Relaxed) * 2 >= cores.max(2) {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An instance ready for a sandbox, with the store it lives in.
pub(crate) struct Warm {
    pub store: Store<HostState>,
    pub tool: Tool,
}

/// Refills its pool when dropped ([`Pool::refill_after`]).
pub(crate) struct RefillAfter<'a>(&'a Pool);

impl Drop for RefillAfter<'_> {
    fn drop(&mut self) {
        self.0.refill();
    }
}

/// The warm instances of one component on one engine.
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    /// How many instances to keep ready.
    size: usize,
    ready: Mutex<Vec<Warm>>,
    /// Instances handed to sandboxes so far.
    taken: AtomicU64,
    /// A refill task is running.
    refilling: AtomicBool,
    /// A warm-up failed: this component is not pooled any more (a failure
    /// is the component's, and would repeat on every refill).
    broken: AtomicBool,
    engine: wasmtime::Engine,
    pre: ToolPre<HostState>,
    warm_up: ComponentExportIndex,
    server: String,
    /// The throwaway limits warm-ups run under.
    policy: Policy,
    busy: Busy,
}

impl Pool {
    /// A pool of `size` instances of `pre`, whose component exports
    /// `warm-up` at `warm_up`; filled in the background from now on.
    pub fn start(
        size: usize,
        engine: &wasmtime::Engine,
        pre: &ToolPre<HostState>,
        warm_up: ComponentExportIndex,
        server: &str,
        busy: Busy,
    ) -> Pool {
        let mut policy = Policy::default();
        policy.sandbox.call_timeout_secs = 30.0;
        policy.sandbox.memory_mb = 1024;
        let inner = Arc::new(Inner {
            size,
            ready: Mutex::new(Vec::with_capacity(size)),
            taken: AtomicU64::new(0),
            refilling: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            engine: engine.clone(),
            pre: pre.clone(),
            warm_up,
            server: server.to_owned(),
            policy,
            busy,
        });
        inner.refill();
        Pool { inner }
    }

    /// A warm instance that `fits` accepts, or `None` when the pool is
    /// empty (the caller then makes one itself, and the pool starts
    /// refilling) or its next instance does not fit (instances of one
    /// component are alike, so it is left for a sandbox it fits). After a
    /// take the caller holds [`Pool::refill_after`] until the instance's
    /// first call is done: a warm-up running beside that call would slow it
    /// down (on two cores, and by the TLB flushes that copy-on-write faults
    /// in one process send to every core it runs on).
    pub fn take_if(&self, fits: impl FnOnce(&Warm) -> bool) -> Option<Warm> {
        let mut ready = self.inner.ready.lock().unwrap();
        if ready.is_empty() {
            drop(ready);
            self.inner.refill();
            return None;
        }
        let warm = ready.pop_if(|w| fits(w))?;
        self.inner.taken.fetch_add(1, Ordering::Relaxed);
        Some(warm)
    }

    /// Top the pool up in the background.
    pub fn refill(&self) {
        self.inner.refill();
    }

    /// A guard that refills the pool when dropped: at the end of the first
    /// call of a taken instance, however that call ends (a cancelled call
    /// is dropped mid-flight).
    pub fn refill_after(&self) -> RefillAfter<'_> {
        RefillAfter(self)
    }

    /// Instances ready now.
    pub fn ready(&self) -> usize {
        self.inner.ready.lock().unwrap().len()
    }

    /// Instances handed to sandboxes so far.
    pub fn taken(&self) -> u64 {
        self.inner.taken.load(Ordering::Relaxed)
    }
}

impl Inner {
    fn wanted(&self) -> bool {
        !self.broken.load(Ordering::Acquire) && self.ready.lock().unwrap().len() < self.size
    }

    /// Start a background task that tops the pool up, unless one runs.
    fn refill(self: &Arc<Self>) {
        if !self.wanted() || self.refilling.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            self.refilling.store(false, Ordering::Release);
            return;
        };
        // The task holds the pool only while it makes an instance, so a
        // pool dropped with its runtime stops refilling.
        let weak = Arc::downgrade(self);
        let busy = self.busy.clone();
        handle.spawn(async move {
            loop {
                busy.cores_are_free().await;
                let Some(inner) = weak.upgrade() else { return };
                if !inner.wanted() {
                    inner.refilling.store(false, Ordering::Release);
                    // A take between the check and the reset found the
                    // flag still set: look once more.
                    if !inner.wanted() || inner.refilling.swap(true, Ordering::AcqRel) {
                        return;
                    }
                    continue;
                }
                match inner.make().await {
                    Ok(warm) => inner.ready.lock().unwrap().push(warm),
                    Err(e) => {
                        // Not fatal: sandboxes are made at their first call
                        // instead, as without a pool.
                        tracing::warn!(server = %inner.server, "cannot warm an instance, so none is pooled: {e:#}");
                        inner.broken.store(true, Ordering::Release);
                        inner.refilling.store(false, Ordering::Release);
                        return;
                    }
                }
            }
        });
    }

    /// One new instance, warmed in a store that grants nothing.
    async fn make(&self) -> wasmtime::Result<Warm> {
        let state = host_state(&self.policy, &Mounts::default(), &Default::default(), &self.server)?;
        let mut store = attached_store(&self.engine, &self.policy, state);
        let tool = arm_and(&self.policy, &mut store, async |store| {
            let instance = self.pre.instance_pre().instantiate_async(&mut *store).await?;
            let tool = Tool::new(&mut *store, &instance)?;
            let warm_up: TypedFunc<(), ()> = instance.get_typed_func(&mut *store, self.warm_up)?;
            warm_up.call_async(&mut *store, ()).await?;
            Ok(tool)
        })
        .await?;
        // A handle the guest kept would name a resource of this store's
        // table, which the sandbox's state replaces: such an instance is
        // not fresh, so it is not pooled.
        if !store.data().table.is_empty() {
            wasmtime::bail!("its warm-up left a host resource open");
        }
        Ok(Warm { store, tool })
    }
}
