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
    let mut store = new_store(engine, policy, mounts, &Default::default(), "")?;
    arm_and(policy, &mut store, async |store| {
        let instance = linker.instantiate_async(&mut *store, &component).await?;
        let init = instance.get_typed_func::<(), ()>(&mut *store, "init")?;
        init.call_async(&mut *store, ()).await?;
        let mut access = Access { store, instance, failed: None };
        let snapshot = wizer.snapshot_component(&cx, &mut access).await;
        match access.failed {
            Some(why) => Err(wasmtime::Error::msg(format!("cannot read the initialised state: {why}"))),
            None => snapshot,
        }
    })
    .await
}

/// Lets wizer read the instrumented instance's state through its accessor
/// exports.
struct Access<'a> {
    store: &'a mut Store<HostState>,
    instance: Instance,
    /// The first accessor that failed. Wizer's callbacks cannot return an
    /// error, so a failure is kept here (the callback answers a default)
    /// and the snapshot is then refused: a component whose accessors trap
    /// (out of fuel or time, say) gets a load error, never a panic.
    failed: Option<String>,
}

impl Access<'_> {
    async fn call<R: Lift + Send + Sync + 'static, O: Default>(
        &mut self,
        instance: &str,
        func: &str,
        use_ret: impl FnOnce(&mut Store<HostState>, R) -> O,
    ) -> O {
        if self.failed.is_some() {
            return O::default();
        }
        match self.try_call(instance, func).await {
            Ok(r) => use_ret(&mut *self.store, r),
            Err(e) => {
                self.failed = Some(format!("{instance}.{func}: {e:#}"));
                O::default()
            }
        }
    }

    async fn try_call<R: Lift + Send + Sync + 'static>(&mut self, instance: &str, func: &str) -> wasmtime::Result<R> {
        let missing = |what: &str| wasmtime::Error::msg(format!("no accessor {what}"));
        let (_, inst) = self.instance.get_export(&mut *self.store, None, instance).ok_or_else(|| missing(instance))?;
        let (_, f) = self.instance.get_export(&mut *self.store, Some(&inst), func).ok_or_else(|| missing(func))?;
        let f = self.instance.get_typed_func::<(), (R,)>(&mut *self.store, f)?;
        let (r,) = f.call_async(&mut *self.store, ()).await?;
        Ok(r)
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
