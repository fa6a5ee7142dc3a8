//! Host capabilities granted to tool instances, one module each.
//!
//! Every capability has the same lifecycle, in the manner of Spin's factors:
//! it is *declared* in the policy (`crate::policy`, which also *validates*
//! the values and reports bad ones with key and line), *prepared* into each
//! new instance (`prepare`, `attach`), re-*armed* before every call (`arm`),
//! and *enforced* by wasmtime; when a call fails, each capability is asked
//! whether the failure was its limit (`diagnose`), so the result can name the
//! limit and the policy key that sets it. Nothing is granted by default: an
//! instance holds exactly what these modules put into its WASI context.

pub mod deadline;
pub mod disk;
pub mod filesystem;
pub mod fuel;
pub mod memory;
pub mod network;
pub mod output;
pub mod search;
mod state;
pub mod summary;

use wasmtime::Store;
use wasmtime_wasi::WasiCtxBuilder;

pub use state::{HostState, InstanceExtras, Meters};

use crate::policy::Policy;

/// What `prepare` may write into: the instance's WASI context under
/// construction and the host-side meters that will live in its store.
pub struct Grant<'a> {
    pub wasi: &'a mut WasiCtxBuilder,
    pub meters: &'a mut Meters,
    pub mounts: &'a filesystem::Mounts,
    pub network: &'a mut Option<std::sync::Arc<crate::net::NetPolicy>>,
    pub extras: &'a InstanceExtras,
    /// The instance's side of the task's disk book (`caps::disk`).
    pub disk: &'a mut Option<disk::DiskView>,
    /// The offline index the instance may search (`caps::search`).
    pub search_index: &'a mut Option<std::path::PathBuf>,
    /// The instance's summary model (`caps::summary`).
    pub summary: &'a mut summary::Access,
    /// The server the instance's component serves (empty while a component
    /// is described or pre-initialised: it is granted nothing then).
    pub server: &'a str,
}

/// A limit that stopped a call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LimitHit {
    /// The policy key that sets the limit, e.g. `sandbox.call_fuel`.
    pub key: &'static str,
    /// One sentence for the model: what happened and what to do instead.
    pub message: String,
}

pub trait Capability: Send + Sync {
    /// Put what this capability grants into a new instance.
    fn prepare(&self, _policy: &Policy, _grant: &mut Grant<'_>) -> wasmtime::Result<()> {
        Ok(())
    }
    /// Hook into the instance's store once it exists.
    fn attach(&self, _policy: &Policy, _store: &mut Store<HostState>) {}
    /// Reset this capability's budget before a call; stateful instances are
    /// armed again before each of their calls.
    fn arm(&self, _policy: &Policy, _store: &mut Store<HostState>) -> wasmtime::Result<()> {
        Ok(())
    }
    /// After a call that did not trap: the limit this capability enforced
    /// during it (a write refused, an allocation refused), if any; the guest
    /// may have carried on, but the result names the limit.
    fn settle(&self, _policy: &Policy, _store: &mut Store<HostState>) -> Option<LimitHit> {
        None
    }
    /// Whether a failed call was stopped by this capability's limit.
    fn diagnose(&self, _policy: &Policy, _store: &Store<HostState>, _error: &wasmtime::Error) -> Option<LimitHit> {
        None
    }
}

/// Put every host import an instance may use into `linker`: WASI (its
/// filesystem metered by `disk`), the `http` import of `network`, the
/// `search-index` import of `search` and the `summary-model` import of
/// `summary`. What an instance may actually reach is decided per instance
/// by `prepare`.
pub fn link(linker: &mut wasmtime::component::Linker<HostState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    // The filesystem again, metered: the disk quota holds as writes happen.
    linker.allow_shadowing(true);
    wasmtime_wasi::p2::bindings::filesystem::types::add_to_linker::<_, disk::MeteredFilesystem>(linker, |s| {
        disk::MeteredFs(s)
    })?;
    linker.allow_shadowing(false);
    crate::wit::fathom::tool::http::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |s| s)?;
    crate::wit::fathom::tool::search_index::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |s| s)?;
    crate::wit::fathom::tool::summary_model::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |s| s)?;
    Ok(())
}

/// All capabilities, in the order they are prepared and asked.
pub fn all() -> &'static [&'static dyn Capability] {
    &[
        &filesystem::Filesystem,
        &disk::Disk,
        &network::Network,
        // After `network`: it adds the Serper key to the instance's rules.
        &search::Search,
        &summary::Summary,
        &output::Output,
        // Asked in this order: a fuel or deadline trap is certain, a refused
        // memory growth only the likely cause of whatever trap followed it.
        &fuel::Fuel,
        &deadline::Deadline,
        &memory::Memory,
    ]
}
