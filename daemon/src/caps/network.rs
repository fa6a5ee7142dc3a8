//! Network capability. For now: none. Sockets and name lookup are refused to
//! every instance; outgoing HTTP will be granted per policy through a host
//! interface that enforces `network.allow_hosts`, never through raw sockets.

use super::{Capability, Grant};
use crate::policy::Policy;

pub struct Network;

impl Capability for Network {
    fn prepare(&self, _: &Policy, grant: &mut Grant<'_>) -> wasmtime::Result<()> {
        grant
            .wasi
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        Ok(())
    }
}
