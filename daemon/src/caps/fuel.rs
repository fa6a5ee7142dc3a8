//! CPU capability: a fuel budget per call (`sandbox.call_fuel`).
//!
//! Fuel is deterministic: the same call on any machine stops at the same
//! instruction, which makes it the budget to use for reproducible runs. The
//! wall-clock deadline (`deadline`) is the backstop for everything fuel does
//! not count, such as time spent blocked in the host.

use wasmtime::{Store, Trap};

use super::HostState;
use super::{Capability, LimitHit};
use crate::policy::Policy;

pub struct Fuel;

impl Capability for Fuel {
    fn arm(&self, policy: &Policy, store: &mut Store<HostState>) -> wasmtime::Result<()> {
        store.set_fuel(policy.sandbox.call_fuel)?;
        Ok(())
    }

    fn diagnose(&self, policy: &Policy, _: &Store<HostState>, error: &wasmtime::Error) -> Option<LimitHit> {
        (error.downcast_ref::<Trap>() == Some(&Trap::OutOfFuel)).then(|| LimitHit {
            key: "sandbox.call_fuel",
            message: format!(
                "the call used up its fuel budget of {} instructions (sandbox.call_fuel); do less work per call or raise that limit",
                policy.sandbox.call_fuel
            ),
        })
    }
}

/// Fuel a call consumed, given the budget it was armed with.
pub fn consumed(policy: &Policy, store: &Store<HostState>) -> u64 {
    policy.sandbox.call_fuel.saturating_sub(store.get_fuel().unwrap_or(0))
}
