//! `/mcp` on the daemon: MCP's streamable HTTP transport (rmcp's tower
//! service), behind the same socket and bearer token as the API. An MCP
//! session's daemon session is opened by its `initialize`, with the policy
//! and servers the URL names (`/mcp?policy=research&server=tool-python`),
//! and closed with it.

use std::sync::Arc;
use std::time::Duration;

use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use super::FathomMcp;
use crate::tasks::sessions::Sessions;

pub struct HttpOptions {
    /// Closes every MCP stream when the daemon stops.
    pub stop: CancellationToken,
    pub max_body: usize,
    /// `server.session_idle_secs`: the daemon session expires first, so a
    /// late call gets an error that says so rather than an unknown session.
    pub idle: Duration,
}

pub fn service(sessions: Arc<Sessions>, opts: HttpOptions) -> StreamableHttpService<FathomMcp, LocalSessionManager> {
    let mut manager = LocalSessionManager::default();
    manager.session_config.keep_alive = Some(opts.idle + Duration::from_secs(30));
    let mut config = StreamableHttpServerConfig::default()
        .with_cancellation_token(opts.stop)
        .with_max_request_body_bytes(opts.max_body)
        // DNS rebinding cannot reach the Unix socket, and TCP needs the
        // bearer token: any Host may be used, as for the rest of the API.
        .disable_allowed_hosts();
    config.sse_keep_alive = Some(Duration::from_secs(15));
    StreamableHttpService::new(move || Ok(FathomMcp::daemon(sessions.clone())), Arc::new(manager), config)
}

/// What `/mcp?...` asks for.
#[derive(Debug, Default)]
pub struct Query {
    pub policy: Option<String>,
    pub servers: Vec<String>,
}

impl Query {
    pub fn parse(query: &str) -> Result<Query, String> {
        let mut q = Query::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "policy" if q.policy.is_none() => q.policy = Some(v.into_owned()),
                "policy" => return Err("/mcp: `policy` is given twice".into()),
                "server" => q.servers.push(v.into_owned()),
                other => return Err(format!("/mcp: unknown query parameter `{other}` (known: policy, server)")),
            }
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::Query;

    #[test]
    fn query_names_policy_and_servers() {
        let q = Query::parse("policy=research&server=tool-python&server=jina_scrape_llm_summary").unwrap();
        assert_eq!(q.policy.as_deref(), Some("research"));
        assert_eq!(q.servers, ["tool-python", "jina_scrape_llm_summary"]);
        assert!(Query::parse("").unwrap().policy.is_none());
        assert!(Query::parse("polcy=x").unwrap_err().contains("unknown query parameter `polcy`"));
        assert!(Query::parse("policy=a&policy=b").unwrap_err().contains("twice"));
    }
}
