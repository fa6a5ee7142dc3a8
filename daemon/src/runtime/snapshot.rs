//! Pre-initialisation of components with wizer.
//!
//! A component whose manifest sets `snapshot` has its `init` export run once
//! in a sandbox like any other; its memory and globals are then written back
//! into a new component, so every instance starts initialised. For the
//! Python tool this turns ~36 ms of interpreter start-up per session into a
//! copy-on-write memory image.
//!
//! `init` runs with the same environment as every later call (the
//! filesystem capability sets constant values), so nothing read from the
//! environment during `init` goes stale in the snapshot.

use wasmtime::Store;
use wasmtime::component::{Component, Instance, Lift, Linker, WasmList};
use wasmtime_wizer::{ComponentInstanceState, Wizer};

use super::HostState;
use super::session::{arm_and, new_store};
use crate::caps::filesystem::Mounts;
use crate::policy::Policy;

/// Run `init` of the component in `bytes` and return the snapshotted component.
pub async fn snapshot(
    engine: &wasmtime::Engine,
    linker: &Linker<HostState>,
    bytes: &[u8],
    policy: &Policy,
    mounts: &Mounts,
) -> wasmtime::Result<Vec<u8>> {
    let mut wizer = Wizer::new();
    // The world requires `init`; keep it so the snapshot still implements it.
    wizer.init_func("init").keep_init_func(true);
    let (cx, instrumented) = wizer.instrument_component(bytes)?;
    let component = Component::new(engine, &instrumented)?;
    let mut store = new_store(engine, policy, mounts, &Default::default())?;
    arm_and(policy, &mut store, async |store| {
        let instance = linker.instantiate_async(&mut *store, &component).await?;
        let init = instance.get_typed_func::<(), ()>(&mut *store, "init")?;
        init.call_async(&mut *store, ()).await?;
        wizer.snapshot_component(&cx, &mut Access { store, instance }).await
    })
    .await
}

/// Lets wizer read the instrumented instance's state through its accessor
/// exports.
struct Access<'a> {
    store: &'a mut Store<HostState>,
    instance: Instance,
}

impl Access<'_> {
    async fn call<R: Lift + Send + Sync + 'static, O>(
        &mut self,
        instance: &str,
        func: &str,
        use_ret: impl FnOnce(&mut Store<HostState>, R) -> O,
    ) -> O {
        // Wizer only asks for accessors it generated itself; a missing one is
        // a bug in wizer, not something a component can cause.
        let (_, inst) = self.instance.get_export(&mut *self.store, None, instance).expect("wizer accessor instance");
        let (_, f) = self.instance.get_export(&mut *self.store, Some(&inst), func).expect("wizer accessor function");
        let f = self.instance.get_typed_func::<(), (R,)>(&mut *self.store, f).expect("wizer accessor type");
        let (r,) = f.call_async(&mut *self.store, ()).await.expect("wizer accessor call");
        use_ret(&mut *self.store, r)
    }
}

impl ComponentInstanceState for Access<'_> {
    async fn call_func_ret_list_u8(&mut self, instance: &str, func: &str, contents: impl FnOnce(&[u8]) + Send) {
        self.call(instance, func, |store, list: WasmList<u8>| contents(list.as_le_slice(&*store))).await
    }
    async fn call_func_ret_s32(&mut self, instance: &str, func: &str) -> i32 {
        self.call(instance, func, |_, r| r).await
    }
    async fn call_func_ret_s64(&mut self, instance: &str, func: &str) -> i64 {
        self.call(instance, func, |_, r| r).await
    }
    async fn call_func_ret_f32(&mut self, instance: &str, func: &str) -> u32 {
        self.call(instance, func, |_, r: f32| r.to_bits()).await
    }
    async fn call_func_ret_f64(&mut self, instance: &str, func: &str) -> u64 {
        self.call(instance, func, |_, r: f64| r.to_bits()).await
    }
}
