//! Wall-clock capability: a deadline per call (`sandbox.call_timeout_secs`).
//!
//! The engine's epoch advances every [`TICK`] on a ticker thread. Each store
//! gets a deadline of one tick and a callback that, at every tick, either
//! traps (past the deadline) or yields to the async executor and extends by
//! one tick. Yielding keeps a busy guest from starving other calls on the
//! same executor thread; trapping stops guest code within a tick of the
//! deadline. Time the guest spends blocked inside the host (a `sleep`, a
//! poll) is not guest code and cannot trap, so the runtime also wraps every
//! call in a host timeout of the same length plus [`GRACE`].

use std::time::{Duration, Instant};

use wasmtime::{Store, Trap, UpdateDeadline};

use super::HostState;
use super::{Capability, LimitHit};
use crate::policy::Policy;

/// Epoch tick: the resolution of deadlines and the slice between yields.
pub const TICK: Duration = Duration::from_millis(10);
/// Extra time the host-side timeout allows beyond the epoch deadline.
pub const GRACE: Duration = Duration::from_millis(50);

/// The host-side timeout fired while the guest was blocked in the host.
#[derive(Debug)]
pub struct HostTimeout;

impl std::fmt::Display for HostTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("call timed out while blocked in the host")
    }
}

impl std::error::Error for HostTimeout {}

pub fn budget(policy: &Policy) -> Duration {
    Duration::from_secs_f64(policy.sandbox.call_timeout_secs)
}

pub struct Deadline;

impl Capability for Deadline {
    fn attach(&self, _: &Policy, store: &mut Store<HostState>) {
        store.epoch_deadline_callback(|ctx| {
            let meters = &ctx.data().meters;
            let cancelled = meters.cancel.load(std::sync::atomic::Ordering::Relaxed);
            if cancelled || meters.deadline.is_some_and(|d| Instant::now() >= d) {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
    }

    fn arm(&self, policy: &Policy, store: &mut Store<HostState>) -> wasmtime::Result<()> {
        store.data_mut().meters.deadline = Some(Instant::now() + budget(policy));
        store.set_epoch_deadline(1);
        Ok(())
    }

    fn diagnose(&self, policy: &Policy, store: &Store<HostState>, error: &wasmtime::Error) -> Option<LimitHit> {
        if store.data().meters.cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return None; // a cancelled call is not a limit (see `Session::cancel`)
        }
        let hit = error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) || error.is::<HostTimeout>();
        hit.then(|| LimitHit {
            key: "sandbox.call_timeout_secs",
            message: format!(
                "the call ran past its wall-clock limit of {} s (sandbox.call_timeout_secs); make it faster, split the work, or raise that limit",
                policy.sandbox.call_timeout_secs
            ),
        })
    }
}
