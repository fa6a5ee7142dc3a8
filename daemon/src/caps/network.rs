//! Network capability. WASI sockets and name lookup stay closed to every
//! instance; the one way out is the `fathom:tool/http` import, served by
//! [`crate::net`], which enforces the policy's `[network]` and `[secrets]`
//! on every request and redirect. `prepare` turns the policy into the
//! instance's [`NetPolicy`]; with an empty `network.allow_hosts` every fetch
//! is refused with a message naming that key.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use super::HostState;
use super::{Capability, Grant};
use crate::net::{Net, NetPolicy, Request, Response, SecretGrant};
use crate::policy::Policy;
use crate::wit::fathom::tool::http;

/// One client pool for the whole process: connections are reused across
/// instances, while each request is checked against its own instance's policy.
static NET: LazyLock<Net> = LazyLock::new(Net::new);

pub struct Network;

impl Capability for Network {
    fn prepare(&self, policy: &Policy, grant: &mut Grant<'_>) -> wasmtime::Result<()> {
        grant
            .wasi
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        // Only the servers the policy grants the network get its rules;
        // any other tool has none, whatever its manifest says.
        *grant.network =
            policy.grants_network(grant.server).then(|| Arc::new(net_policy(policy, grant.extras.secrets.as_deref())));
        Ok(())
    }
}

/// The instance's network rules. Secret values come from the operator's
/// config (`values`), else from the process environment; they are read now,
/// so a tool never learns whether one is set.
pub fn net_policy(policy: &Policy, values: Option<&std::collections::BTreeMap<String, String>>) -> NetPolicy {
    NetPolicy {
        allow_hosts: policy.network.allow_hosts.clone(),
        allow_private: policy.network.allow_private,
        max_body_bytes: policy.network.max_download_mb.saturating_mul(1 << 20),
        timeout: Duration::from_secs_f64(policy.sandbox.call_timeout_secs),
        secrets: policy
            .secrets
            .iter()
            .map(|(name, s)| SecretGrant {
                name: name.clone(),
                value: match values {
                    Some(v) => v.get(name).cloned(),
                    None => std::env::var(name).ok(),
                }
                .filter(|v| !v.is_empty()),
                hosts: s.hosts.clone(),
            })
            .collect(),
    }
}

impl http::Host for HostState {
    async fn fetch(&mut self, request: http::Request) -> Result<http::Response, String> {
        let Some(rules) = self.network.clone() else {
            return Err("this tool has no network access: the task's policy does not grant it to this tool's server (tools.network)".into());
        };
        // Never past the call's own deadline: the host would cut the call
        // there anyway, without saying it was the download.
        let mut rules = (*rules).clone();
        if let Some(deadline) = self.meters.deadline {
            rules.timeout = rules.timeout.min(deadline.saturating_duration_since(Instant::now()));
        }
        let req = Request { method: request.method, url: request.url, headers: request.headers, body: request.body };
        match NET.fetch(&rules, req).await {
            Ok(Response { status, url, headers, body, truncated }) => {
                Ok(http::Response { status, url, headers, body, truncated })
            }
            Err(e) => Err(e.to_string()),
        }
    }
}
