//! The adversarial suite: each test is one attack, written as the model's
//! code (or a hostile tool) would try it against the real runtime, real
//! components and real loopback servers, and the refusal expected. The doc
//! line above each test says in one line what it attacks.
//!
//! `docs/security.md` maps every policy key to where it is enforced and to
//! the tests here that prove it.

#[path = "../common/mod.rs"]
mod common;

mod budgets;
mod exhaustion;
mod filesystem;
mod grants;
mod leaks;
mod network;
mod secrets;

use std::path::PathBuf;
use std::sync::Arc;

use fathom::policy::Policy;
use fathom::runtime::{CallOutcome, Runtime, Session, SessionOptions};
use serde_json::{Value, json};

static RUNTIME: tokio::sync::OnceCell<Arc<Runtime>> = tokio::sync::OnceCell::const_new();

pub async fn runtime() -> Arc<Runtime> {
    RUNTIME.get_or_init(common::runtime).await.clone()
}

/// One session with one sandbox, as a task's tool context.
pub struct Sbx {
    pub session: Session,
    pub id: String,
    pub workspace: PathBuf,
}

impl Sbx {
    pub async fn new(edit: impl FnOnce(&mut Policy)) -> Sbx {
        Sbx::with(SessionOptions::new(common::policy(edit))).await
    }

    pub async fn with(opts: SessionOptions) -> Sbx {
        let session = Session::new(runtime().await, opts).unwrap();
        let out = session.call("tool-python", "create_sandbox", "{}").await;
        let id = out.output.rsplit(' ').next().unwrap().to_owned();
        let workspace = session.sandbox(&id).unwrap().workspace.clone();
        Sbx { session, id, workspace }
    }

    /// Call `server.tool`, in this sandbox when the tool takes one.
    pub async fn call(&self, tool: &str, mut args: Value) -> CallOutcome {
        let (server, name) = tool.rsplit_once('.').unwrap();
        let rt = runtime().await;
        let takes = rt.tools().iter().any(|t| t.server == server && t.name == name && t.takes_sandbox);
        if takes && args.get("sandbox_id").is_none() {
            args["sandbox_id"] = self.id.clone().into();
        }
        self.session.call(server, name, &args.to_string()).await
    }

    pub async fn py(&self, code: &str) -> CallOutcome {
        self.call("tool-python.run_python_code", json!({ "code_block": code })).await
    }

    pub async fn sh(&self, command: &str) -> CallOutcome {
        self.call("tool-python.run_command", json!({ "command": command })).await
    }
}

/// The policy key of the limit that stopped a call, if one did.
pub fn limit(out: &CallOutcome) -> Option<&'static str> {
    out.limit.as_ref().map(|l| l.key)
}
