//! Tools not granted: a tool reaches files, the network or the caller only
//! when the policy says so, whatever its own manifest asks for.

use serde_json::json;

use super::Sbx;
use super::common::web::Web;

/// Attack: a third-party tool reads local roots it was never granted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_without_a_local_files_grant_sees_no_local_root() {
    let local = tempfile::tempdir().unwrap();
    let root = local.path().canonicalize().unwrap();
    std::fs::write(root.join("data.csv"), "private").unwrap();
    let s = Sbx::new(|p| p.files.local_roots = vec![root.clone()]).await;
    let path = root.join("data.csv").to_string_lossy().into_owned();
    let out = s.call("hostile.read", json!({ "path": path })).await;
    assert!(!out.ok && !out.output.contains("private"), "{}", out.output);
}

/// Attack: the shipped file tools with their grant taken away by the policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_tools_lose_local_files_when_the_policy_says_so() {
    let local = tempfile::tempdir().unwrap();
    let root = local.path().canonicalize().unwrap();
    std::fs::write(root.join("data.csv"), "private").unwrap();
    let s = Sbx::new(|p| {
        p.files.local_roots = vec![root.clone()];
        p.tools.local_files = vec![];
    })
    .await;
    let path = root.join("data.csv").to_string_lossy().into_owned();
    let out = s.call("tool-python.upload_file_from_local_to_sandbox", json!({ "local_file_path": path })).await;
    assert!(!out.ok, "{}", out.output);
    assert!(!s.workspace.join("data.csv").exists());
}

/// Attack: a tool not granted the network fetches from an allowed host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_without_a_network_grant_cannot_fetch() {
    let w = Web::start(|_| Some((200, vec![], b"hello".to_vec()))).await;
    let s = Sbx::new(|p| {
        p.network.allow_hosts = vec!["127.0.0.1:*".into()];
        p.network.allow_private = true;
    })
    .await;
    let out = s.call("hostile.fetch", json!({ "url": w.url("127.0.0.1", "/") })).await;
    assert!(!out.ok && out.output.contains("tools.network"), "{}", out.output);
    assert!(w.seen.lock().unwrap().is_empty());
}

/// Attack: call a tool the policy disables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_tool_is_refused() {
    let s = Sbx::new(|p| p.tools.disabled = vec!["tool-python.run_command".into()]).await;
    let out = s.sh("echo hi").await;
    assert!(!out.ok && out.output.contains("tools.disabled"), "{}", out.output);
}

/// Attack: call a tool outside the policy's enabled list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_outside_the_enabled_list_is_refused() {
    let s = Sbx::new(|p| p.tools.enabled = vec!["tool-python.*".into()]).await;
    let out = s.call("hostile.echo", json!({ "text": "hi" })).await;
    assert!(!out.ok && out.output.contains("not allowed by this task's policy"), "{}", out.output);
}

/// Attack: call a tool that does not exist, hoping for a host fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_tool_is_refused_by_name() {
    let s = Sbx::new(|_| {}).await;
    let out = s.call("tool-python.exec_on_host", json!({})).await;
    assert!(!out.ok && out.output.contains("has no tool"), "{}", out.output);
}
