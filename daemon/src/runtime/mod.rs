//! The tool runtime: one wasmtime engine, the installed tool components, and
//! the sandboxes their calls run in.
//!
//! Data flows one way: a [`Session`] (one task's tool context) receives a
//! call, resolves the tool and its sandbox, prepares an instance with the
//! capabilities of `crate::caps`, runs the call under its budgets, and turns
//! whatever happened — a result, a tool error, a trap — into a
//! [`CallOutcome`]. Nothing a guest does can unwind into the host: every trap
//! ends as an outcome, and the instance it happened in is dropped.

mod cache;
mod pool;
mod registry;
mod session;
mod snapshot;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::component::Linker;
use wasmtime::{Config, Engine, OptLevel};

pub use cache::{CompileCache, Origin, Source, engine_fingerprint};
pub use registry::{Builtin, ComponentInfo, LoadError, ToolInfo, ToolKind};
pub use session::{CallOutcome, Sandbox, Session, SessionOptions};

use crate::caps::deadline::TICK;
pub use crate::caps::{HostState, InstanceExtras, Meters};

/// A cap on live sandboxes shared by every session of a daemon, so idle
/// sessions and tasks together can never pin unbounded memory.
#[derive(Debug)]
pub struct SandboxBudget {
    cap: u64,
    live: AtomicU64,
}

/// One live sandbox's share of a [`SandboxBudget`], given back on drop.
#[derive(Debug)]
pub struct BudgetTicket(Arc<SandboxBudget>);

impl SandboxBudget {
    pub fn new(cap: u64) -> Arc<Self> {
        Arc::new(SandboxBudget { cap, live: AtomicU64::new(0) })
    }

    pub fn cap(&self) -> u64 {
        self.cap
    }

    pub fn live(&self) -> u64 {
        self.live.load(Ordering::SeqCst)
    }

    /// A ticket, unless `cap` sandboxes are live.
    pub fn acquire(self: &Arc<Self>) -> Option<BudgetTicket> {
        self.live
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < self.cap).then_some(n + 1))
            .ok()
            .map(|_| BudgetTicket(self.clone()))
    }
}

impl Drop for BudgetTicket {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How to build a [`Runtime`].
#[derive(Clone)]
pub struct RuntimeOptions {
    /// Folders searched for `*.wasm` tool components, in order.
    pub tools_dirs: Vec<PathBuf>,
    /// Where compiled components are cached.
    pub cache_dir: PathBuf,
    /// Cranelift optimisation level (part of the cache key).
    pub opt_level: OptLevel,
    /// Use the pooling instance allocator.
    pub pooling: bool,
    /// Told about slow steps (compiling or snapshotting a component), so a
    /// command line can say why its first start takes a while.
    pub progress: Option<Progress>,
    /// Warm instances kept ready per engine for each stateful, snapshotted
    /// component that can be warmed (`runtime::pool`); 0 turns pools off.
    pub warm_pool: usize,
}

/// Warm instances per pooled component for a command that opens sandboxes
/// one at a time (`fathom run`, `fathom mcp`); the daemon's come from its
/// config (`server.warm_pool`).
pub const DEFAULT_WARM_POOL: usize = 1;

/// What [`Runtime::warm_pool`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarmPoolStats {
    pub ready: usize,
    pub taken: u64,
}

/// A sink for progress messages.
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

impl RuntimeOptions {
    /// Tools from `FATHOM_TOOLS_DIR` (a `:`-separated list) or, when unset,
    /// the components built with this binary; plus the user's installed
    /// tools in `<state>/tools`. The cache lives in `FATHOM_CACHE_DIR`, else
    /// `<state>/cache/components`.
    pub fn from_env() -> Self {
        let state = crate::state_dir();
        let mut tools_dirs: Vec<PathBuf> = match std::env::var_os("FATHOM_TOOLS_DIR") {
            Some(v) => std::env::split_paths(&v).collect(),
            None => vec![crate::builtin_tools_dir()],
        };
        tools_dirs.push(state.join("tools"));
        RuntimeOptions {
            tools_dirs,
            cache_dir: std::env::var_os("FATHOM_CACHE_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| state.join("cache").join("components")),
            opt_level: OptLevel::Speed,
            pooling: std::env::var("FATHOM_POOLING").is_ok_and(|v| v == "1"),
            progress: None,
            warm_pool: DEFAULT_WARM_POOL,
        }
    }
}

/// The installed tools, shared by every session, compiled for two engines:
/// one that meters fuel and one that does not.
///
/// Fuel makes a budget deterministic (the same call stops at the same
/// instruction on any machine), and its accounting costs guest code about a
/// fifth of its speed (`cargo bench --bench python` prints both). A policy
/// with a fuel budget (`sandbox.call_fuel`) runs on the metered engine; one
/// with `call_fuel = 0` on the other, bounded by the wall-clock deadline
/// alone (epoch interruption, which both engines have). The second engine
/// and its compiled tools are made the first time a policy asks for them.
pub struct Runtime {
    metered: Flavor,
    unmetered: tokio::sync::OnceCell<Flavor>,
    opts: RuntimeOptions,
    /// Component calls running now, on either engine.
    busy: pool::Busy,
}

/// One engine with its compile cache, the tools compiled for it and their
/// warm pools (by component index; `None` for a component not pooled).
pub struct Flavor {
    engine: Engine,
    cache: CompileCache,
    registry: registry::Registry,
    pools: Vec<Option<pool::Pool>>,
}

impl Flavor {
    async fn load(opts: &RuntimeOptions, fuel: bool, busy: &pool::Busy) -> wasmtime::Result<Flavor> {
        let engine = build_engine(opts, fuel)?;
        spawn_epoch_ticker(&engine);
        let cache = CompileCache::new(opts.cache_dir.clone(), &engine);
        let mut linker = Linker::<HostState>::new(&engine);
        crate::caps::link(&mut linker)?;
        let registry = registry::Registry::load(&engine, &linker, &cache, opts).await;
        let pools = registry.components.iter().map(|c| Self::pool_for(c, opts.warm_pool, &engine, busy)).collect();
        Ok(Flavor { engine, cache, registry, pools })
    }

    /// A warm pool for a component whose instances live per sandbox, start
    /// from a snapshot and can be warmed: the ones whose first call costs.
    fn pool_for(c: &registry::LoadedComponent, size: usize, engine: &Engine, busy: &pool::Busy) -> Option<pool::Pool> {
        let warm_up = c.warm_up.filter(|_| size > 0 && c.stateful && c.snapshotted && !c.local_files)?;
        Some(pool::Pool::start(size, engine, &c.pre, warm_up, &c.server, busy.clone()))
    }

    /// The warm pool of component `index`, if it has one.
    pub(crate) fn pool(&self, index: usize) -> Option<&pool::Pool> {
        self.pools.get(index).and_then(Option::as_ref)
    }
}

impl Runtime {
    pub async fn new(opts: RuntimeOptions) -> wasmtime::Result<Arc<Runtime>> {
        let busy = pool::Busy::default();
        let metered = Flavor::load(&opts, true, &busy).await?;
        Ok(Arc::new(Runtime { metered, unmetered: tokio::sync::OnceCell::new(), opts, busy }))
    }

    /// The metered engine (the one every tool is described with).
    pub fn engine(&self) -> &Engine {
        &self.metered.engine
    }

    pub fn cache(&self) -> &CompileCache {
        &self.metered.cache
    }

    /// The flavor a policy runs on: metered when it sets a fuel budget.
    /// The unmetered one is built on first use; should that fail (it
    /// cannot, short of the machine refusing an engine), the metered one
    /// with an unlimited budget serves instead.
    pub(crate) async fn flavor(&self, fuel: bool) -> &Flavor {
        if fuel {
            return &self.metered;
        }
        let built = self.unmetered.get_or_try_init(|| Flavor::load(&self.opts, false, &self.busy)).await;
        built.unwrap_or_else(|e| {
            tracing::warn!("cannot build the engine without fuel metering ({e:#}); using the metered one");
            &self.metered
        })
    }

    /// Count a component call as running until the guard is dropped (warm
    /// pools refill only while calls leave half the cores free).
    pub(crate) fn busy(&self) -> pool::BusyGuard {
        self.busy.enter()
    }

    /// Warm instances ready now, and how many sandboxes started in one so
    /// far, across every pool of both engines.
    pub fn warm_pool(&self) -> WarmPoolStats {
        let flavors = std::iter::once(&self.metered).chain(self.unmetered.get());
        let pools: Vec<&pool::Pool> = flavors.flat_map(|f| f.pools.iter().flatten()).collect();
        WarmPoolStats { ready: pools.iter().map(|p| p.ready()).sum(), taken: pools.iter().map(|p| p.taken()).sum() }
    }

    /// Every tool a task could call, sorted by server and name.
    pub fn tools(&self) -> &[ToolInfo] {
        &self.metered.registry.tools
    }

    /// The loaded components, with where each came from.
    pub fn components(&self) -> Vec<ComponentInfo> {
        self.metered.registry.components.iter().map(|c| c.info()).collect()
    }

    /// Components that could not be loaded, and why. They are skipped; every
    /// other tool keeps working.
    pub fn load_errors(&self) -> &[LoadError] {
        &self.metered.registry.errors
    }
}

fn build_engine(opts: &RuntimeOptions, fuel: bool) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .consume_fuel(fuel)
        .epoch_interruption(true)
        .cranelift_opt_level(opts.opt_level)
        // Interpreters recurse deeply; a guest stack overflow is still a
        // clean trap, never a host crash.
        .max_wasm_stack(4 << 20)
        .async_stack_size(6 << 20);
    if std::env::var_os("FATHOM_PERFMAP").is_some() {
        // For `perf record`: names for the guest's compiled functions.
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    if opts.pooling {
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(1000).total_memories(1000).total_tables(1000).max_memory_size(4 << 30);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&config)
}

/// Advance the engine's epoch every [`TICK`] for as long as the engine lives.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("fathom-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .expect("spawn epoch ticker thread");
}
