//! Helpers shared by the integration tests: real components compiled from
//! `tools-wasm/`, a real runtime, real sandboxes.
#![allow(dead_code)]

pub mod daemon;
pub mod docs;
pub mod scripted;
pub mod trace;
pub mod web;

use std::path::PathBuf;
use std::sync::Arc;

use fathom::policy::Policy;
use fathom::runtime::{CallOutcome, Runtime, RuntimeOptions, Session, SessionOptions};
use wasmtime::OptLevel;

/// A compile cache shared by every test process, so components compile once.
pub fn shared_cache() -> PathBuf {
    std::env::temp_dir().join("fathom-test-cache")
}

pub fn options(cache: PathBuf) -> RuntimeOptions {
    RuntimeOptions {
        tools_dirs: vec![fathom::builtin_tools_dir(), fathom::test_tools_dir()],
        cache_dir: cache,
        opt_level: OptLevel::Speed,
        // Benchmarks compare allocators with FATHOM_POOLING=1.
        pooling: std::env::var("FATHOM_POOLING").is_ok_and(|v| v == "1"),
        progress: None,
        // Most first calls then run in a warm pool's instance, as in the
        // daemon: every limit and escape test covers those too.
        warm_pool: 2,
    }
}

pub async fn runtime() -> Arc<Runtime> {
    let rt = Runtime::new(options(shared_cache())).await.unwrap();
    assert!(rt.load_errors().is_empty(), "{:?}", rt.load_errors());
    // So that a test's first Python call runs in a pooled instance.
    wait_for_warm_pool(&rt, 1).await;
    rt
}

/// Wait until `rt`'s warm pools hold `n` instances (a minute at most).
pub async fn wait_for_warm_pool(rt: &Runtime, n: usize) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while rt.warm_pool().ready < n {
        assert!(std::time::Instant::now() < until, "the warm pool holds {:?} after a minute", rt.warm_pool());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

pub fn policy(edit: impl FnOnce(&mut Policy)) -> Policy {
    let mut p = Policy::default();
    edit(&mut p);
    p
}

pub struct Fixture {
    pub rt: Arc<Runtime>,
    pub session: Session,
    pub sandbox: String,
    pub workspace: PathBuf,
}

impl Fixture {
    pub async fn new(policy: Policy) -> Fixture {
        Self::with_options(SessionOptions::new(policy)).await
    }

    pub async fn with_options(opts: SessionOptions) -> Fixture {
        let rt = runtime().await;
        let session = Session::new(rt.clone(), opts).unwrap();
        let out = session.call("tool-python", "create_sandbox", "{}").await;
        let sandbox = out.output.strip_prefix("Sandbox created with sandbox_id: ").expect(&out.output).to_owned();
        let workspace = session.sandbox(&sandbox).unwrap().workspace.clone();
        Fixture { rt, session, sandbox, workspace }
    }

    /// Call `server.tool` with `args` (a JSON object), adding this
    /// fixture's `sandbox_id` when the tool takes one and none is given.
    pub async fn call(&self, tool: &str, args: serde_json::Value) -> CallOutcome {
        let (server, name) = tool.rsplit_once('.').unwrap();
        let mut args = args;
        let takes = self.rt.tools().iter().any(|t| t.server == server && t.name == name && t.takes_sandbox);
        if takes && args.get("sandbox_id").is_none() {
            args["sandbox_id"] = self.sandbox.clone().into();
        }
        self.session.call(server, name, &args.to_string()).await
    }
}
