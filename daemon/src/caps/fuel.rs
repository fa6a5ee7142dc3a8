//! CPU capability: a fuel budget per call (`sandbox.call_fuel`).
//!
//! Fuel is deterministic: the same call on any machine stops at the same
//! instruction, which makes it the budget to use for reproducible runs. The
//! wall-clock deadline (`deadline`) is the backstop for everything fuel does
//! not count, such as time spent blocked in the host. `call_fuel = 0` asks
//! for no fuel budget: such a policy's instances run on the runtime's engine
//! that does not meter fuel (faster), under the deadline alone.

use wasmtime::{Store, Trap};

use super::HostState;
use super::{Capability, LimitHit};
use crate::policy::Policy;

pub struct Fuel;

impl Capability for Fuel {
    fn arm(&self, policy: &Policy, store: &mut Store<HostState>) -> wasmtime::Result<()> {
        // An engine without fuel has no budget to set (`get_fuel` fails there).
        if store.get_fuel().is_ok() {
            store.set_fuel(budget(policy))?;
        }
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

/// The fuel a call is armed with: unlimited for `call_fuel = 0` on a
/// metered engine (where a policy without a budget runs only as a fallback).
fn budget(policy: &Policy) -> u64 {
    match policy.sandbox.call_fuel {
        0 => u64::MAX,
        n => n,
    }
}

/// Fuel a call consumed, given the budget it was armed with (0 when the
/// engine does not meter fuel).
pub fn consumed(policy: &Policy, store: &Store<HostState>) -> u64 {
    store.get_fuel().map_or(0, |left| budget(policy).saturating_sub(left))
}
