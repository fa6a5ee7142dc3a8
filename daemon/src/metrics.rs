//! The daemon's Prometheus metrics (`GET /metrics`), with prometheus-client.
//!
//! Counters and histograms are fed from the same events the task feed
//! stores (tool results, model calls, limits), so what is counted is what a
//! trace shows; gauges (tasks by status, queue, sandboxes, sessions) are
//! read when scraped.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde_json::Value;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Call {
    server: String,
    tool: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Tool {
    server: String,
    tool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Key {
    key: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Direction {
    direction: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Endpoint {
    url: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: String,
}

fn seconds_buckets() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// What the gauges show, read at scrape time.
pub struct Snapshot {
    pub tasks: Vec<(String, u64)>,
    pub queued: u64,
    pub running: u64,
    pub sandboxes: u64,
    pub sandboxes_max: u64,
    pub sessions: u64,
    /// Warm instances ready for new sandboxes (`runtime::pool`).
    pub warm_instances: u64,
    /// The model replicas the daemon has used (`llm::endpoints`).
    pub endpoints: Vec<crate::llm::EndpointHealth>,
}

pub struct Metrics {
    registry: Registry,
    tool_calls: Family<Call, Counter>,
    tool_seconds: Family<Tool, Histogram, fn() -> Histogram>,
    model_seconds: Histogram,
    model_requests: Family<Outcome, Counter>,
    tokens: Family<Direction, Counter>,
    limits: Family<Key, Counter>,
    tasks: Family<StatusLabel, Gauge>,
    queued: Gauge,
    running: Gauge,
    sandboxes: Gauge,
    sandboxes_max: Gauge,
    sessions: Gauge,
    warm_instances: Gauge,
    endpoint_up: Family<Endpoint, Gauge>,
    endpoint_in_flight: Family<Endpoint, Gauge>,
    endpoint_failures: Family<Endpoint, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("fathom");
        let m = Metrics {
            tool_calls: Family::default(),
            tool_seconds: Family::new_with_constructor(seconds_buckets),
            model_seconds: seconds_buckets(),
            model_requests: Family::default(),
            tokens: Family::default(),
            limits: Family::default(),
            tasks: Family::default(),
            queued: Gauge::default(),
            running: Gauge::default(),
            sandboxes: Gauge::default(),
            sandboxes_max: Gauge::default(),
            sessions: Gauge::default(),
            warm_instances: Gauge::default(),
            endpoint_up: Family::default(),
            endpoint_in_flight: Family::default(),
            endpoint_failures: Family::default(),
            registry: Registry::default(),
        };
        registry.register("tool_calls", "Tool calls, by server, tool and outcome (ok, error)", m.tool_calls.clone());
        registry.register("tool_call_duration_seconds", "Wall-clock time of tool calls", m.tool_seconds.clone());
        registry.register(
            "model_request_duration_seconds",
            "Time of successful model requests",
            m.model_seconds.clone(),
        );
        registry.register("model_requests", "Model requests, by outcome (ok, error)", m.model_requests.clone());
        registry.register(
            "tokens",
            "Tokens the model server reported, by direction (prompt, completion)",
            m.tokens.clone(),
        );
        registry.register("limit_hits", "Limits that stopped something, by policy key", m.limits.clone());
        registry.register("tasks", "Tasks in the database, by status", m.tasks.clone());
        registry.register("queue_depth", "Tasks waiting for a slot", m.queued.clone());
        registry.register("tasks_running", "Tasks running now", m.running.clone());
        registry.register("sandboxes_live", "Live sandboxes across tasks and sessions", m.sandboxes.clone());
        registry.register(
            "sandboxes_max",
            "The daemon's cap on live sandboxes (server.max_sandboxes)",
            m.sandboxes_max.clone(),
        );
        registry.register("sessions_live", "Open API sessions", m.sessions.clone());
        registry.register(
            "warm_instances",
            "Warm tool instances ready for new sandboxes (server.warm_pool per pooled component)",
            m.warm_instances.clone(),
        );
        registry.register(
            "llm_endpoint_up",
            "1 when a model replica is in service, 0 while it is left out after failing",
            m.endpoint_up.clone(),
        );
        registry.register(
            "llm_endpoint_in_flight",
            "Requests in flight to a model replica",
            m.endpoint_in_flight.clone(),
        );
        registry.register(
            "llm_endpoint_consecutive_failures",
            "Failures in a row of a model replica (0 once it answers)",
            m.endpoint_failures.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Count one stored event of a task (its JSON form).
    pub fn observe_event(&self, e: &Value) {
        let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        match e.get("type").and_then(Value::as_str) {
            Some("tool_result") => {
                let ok = e.get("ok").and_then(Value::as_bool).unwrap_or(false);
                let ms = e.get("wall_ms").and_then(Value::as_f64).unwrap_or(0.0);
                self.tool_call(&s("server"), &s("tool"), ok, ms);
            }
            Some("model_call") => {
                self.model_requests.get_or_create(&Outcome { outcome: "ok".into() }).inc();
                self.model_seconds.observe(e.get("ms").and_then(Value::as_f64).unwrap_or(0.0) / 1e3);
                for dir in ["prompt", "completion"] {
                    let n = e.get(format!("{dir}_tokens").as_str()).and_then(Value::as_u64).unwrap_or(0);
                    self.tokens.get_or_create(&Direction { direction: dir.into() }).inc_by(n);
                }
            }
            Some("error") => {
                self.model_requests.get_or_create(&Outcome { outcome: "error".into() }).inc();
            }
            Some("limit") => {
                self.limits.get_or_create(&Key { key: s("key") }).inc();
            }
            _ => {}
        }
    }

    /// Count a tool call (tasks' and sessions' alike).
    pub fn tool_call(&self, server: &str, tool: &str, ok: bool, wall_ms: f64) {
        let outcome = if ok { "ok" } else { "error" };
        self.tool_calls
            .get_or_create(&Call { server: server.into(), tool: tool.into(), outcome: outcome.into() })
            .inc();
        self.tool_seconds.get_or_create(&Tool { server: server.into(), tool: tool.into() }).observe(wall_ms / 1e3);
    }

    /// One series per replica URL (a URL used with two caps has two
    /// entries: up only when both are, in flight summed).
    fn set_endpoints(&self, endpoints: &[crate::llm::EndpointHealth]) {
        let mut by_url: std::collections::BTreeMap<&str, (bool, usize, u32)> = Default::default();
        for e in endpoints {
            let entry = by_url.entry(&e.url).or_insert((true, 0, 0));
            *entry = (entry.0 && e.up, entry.1 + e.in_flight, entry.2.max(e.failures));
        }
        for (url, (up, in_flight, failures)) in by_url {
            let label = Endpoint { url: url.to_owned() };
            self.endpoint_up.get_or_create(&label).set(up as i64);
            self.endpoint_in_flight.get_or_create(&label).set(in_flight as i64);
            self.endpoint_failures.get_or_create(&label).set(failures as i64);
        }
    }

    /// The text exposition, gauges set from `now`.
    pub fn render(&self, now: &Snapshot) -> String {
        for status in ["queued", "running", "succeeded", "failed", "cancelled", "interrupted"] {
            let n = now.tasks.iter().find(|(s, _)| s == status).map_or(0, |(_, n)| *n);
            self.tasks.get_or_create(&StatusLabel { status: status.into() }).set(n as i64);
        }
        self.queued.set(now.queued as i64);
        self.running.set(now.running as i64);
        self.sandboxes.set(now.sandboxes as i64);
        self.sandboxes_max.set(now.sandboxes_max as i64);
        self.sessions.set(now.sessions as i64);
        self.warm_instances.set(now.warm_instances as i64);
        self.set_endpoints(&now.endpoints);
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
