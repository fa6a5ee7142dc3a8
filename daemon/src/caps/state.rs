//! The state every instance's store holds: its WASI context and resource
//! table, and each capability's per-instance part. Owned here, beside the
//! capabilities, so they never reach into the runtime: the dependency runs
//! one way, runtime → caps.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::disk::{DiskMeter, DiskView};
use super::memory::MemoryLimiter;
use super::output::CappedPipe;

/// Per-store host state: the WASI context and the meters the capabilities
/// read and reset.
pub struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub meters: Meters,
    /// The instance's network rules (`caps::network`).
    pub network: Option<Arc<crate::net::NetPolicy>>,
    /// The instance's side of the task's disk book (`caps::disk`).
    pub(crate) disk: Option<DiskView>,
    /// The offline index's folder, when the instance may search it
    /// (`caps::search`).
    pub(crate) search_index: Option<std::path::PathBuf>,
    /// The summary model, or why the instance has none (`caps::summary`).
    pub(crate) summary: super::summary::Access,
    /// Model tokens the host imports spent for the current call.
    pub(crate) model_usage: crate::llm::Usage,
}

/// Host-side counters and buffers of one instance.
#[derive(Default)]
pub struct Meters {
    pub memory: MemoryLimiter,
    pub deadline: Option<Instant>,
    pub stdout: CappedPipe,
    pub stderr: CappedPipe,
    /// Set when the task or session is cancelled: the epoch callback stops
    /// the guest at its next tick (`caps::deadline`).
    pub cancel: Arc<AtomicBool>,
}

/// What a session adds to each of its instances beyond policy and mounts.
#[derive(Clone, Default)]
pub struct InstanceExtras {
    /// Secret values by name, from the operator's config; `None` means the
    /// process environment (the in-process CLI).
    pub secrets: Option<Arc<BTreeMap<String, String>>>,
    pub cancel: Arc<AtomicBool>,
    /// The session's disk book; instances of a session without one (a
    /// component described or snapshotted) write unmetered.
    pub disk: Option<Arc<DiskMeter>>,
    /// The operator's search settings (`caps::search`).
    pub search: Option<Arc<crate::search::Settings>>,
    /// The task's summary model (`caps::summary`).
    pub summary: Option<Arc<super::summary::SummaryModel>>,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
