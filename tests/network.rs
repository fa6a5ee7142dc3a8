//! The network layer end to end: real components (the file tools'
//! `download_file_from_internet_to_sandbox` and a hostile component making
//! raw requests) against real HTTP servers on loopback, under real policies.

mod common;

use common::Fixture;
use common::web::{Web, redirect};
use fathom::policy::{Policy, Secret};
use serde_json::json;

fn allow(hosts: &[&str], private: bool) -> Policy {
    common::policy(|p| {
        p.network.allow_hosts = hosts.iter().map(|h| h.to_string()).collect();
        p.network.allow_private = private;
    })
}

async fn site() -> Web {
    Web::start(|path| match path {
        "/data.csv" => Some((200, vec![], b"a,b\n1,2\n".to_vec())),
        "/big.bin" => Some((200, vec![], vec![b'x'; 3 << 20])),
        "/to-loopback-ip" => redirect("http://127.0.0.1:1/"),
        "/to-metadata" => redirect("http://169.254.169.254/latest/meta-data/"),
        "/hop" => redirect("/data.csv"),
        "/missing" => None,
        "/key" => Some((200, vec![], b"ok".to_vec())),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_follow_the_policy() {
    let web = site().await;
    let download = |url: String, path: &str| json!({"url": url, "sandbox_file_path": path});

    // Allowed (loopback needs allow_private): saved under the URL's name.
    let f = Fixture::new(allow(&["localhost:*"], true)).await;
    let out = f
        .call(
            "tool-python.download_file_from_internet_to_sandbox",
            download(web.url("localhost", "/data.csv"), "/home/user"),
        )
        .await;
    assert!(out.ok, "{}", out.output);
    assert_eq!(out.output, "File downloaded successfully to: /home/user/data.csv (8 bytes)");
    assert_eq!(std::fs::read_to_string(f.workspace.join("data.csv")).unwrap(), "a,b\n1,2\n");
    // A redirect within the allowed host, to a file path of the model's choosing.
    let out = f
        .call("tool-python.download_file_from_internet_to_sandbox", download(web.url("localhost", "/hop"), "in/x.csv"))
        .await;
    assert!(out.ok, "{}", out.output);
    assert!(f.workspace.join("in/x.csv").exists());
    // An HTTP error saves nothing.
    let out = f
        .call("tool-python.download_file_from_internet_to_sandbox", download(web.url("localhost", "/missing"), "m.txt"))
        .await;
    assert!(!out.ok && out.output.contains("answered HTTP 404"), "{}", out.output);
    assert!(!f.workspace.join("m.txt").exists());

    // Redirects out of the allowlist, or to the metadata service: refused.
    let out = f
        .call(
            "tool-python.download_file_from_internet_to_sandbox",
            download(web.url("localhost", "/to-loopback-ip"), "r"),
        )
        .await;
    assert!(!out.ok, "{}", out.output);
    assert!(
        out.output.contains("request to 127.0.0.1 refused") && out.output.contains("network.allow_hosts"),
        "{}",
        out.output
    );
    assert!(out.output.contains("redirect"), "{}", out.output);
    let anywhere = Fixture::new(allow(&["*:*"], true)).await;
    let out = anywhere
        .call("tool-python.download_file_from_internet_to_sandbox", download(web.url("localhost", "/to-metadata"), "r"))
        .await;
    assert!(!out.ok && out.output.contains("request to 169.254.169.254 refused"), "{}", out.output);

    // The same URL under the default policy: no network at all.
    let closed = Fixture::new(Policy::default()).await;
    let out = closed
        .call("tool-python.download_file_from_internet_to_sandbox", download(web.url("localhost", "/data.csv"), "d"))
        .await;
    assert!(!out.ok, "{}", out.output);
    assert!(
        out.output.contains("request to localhost refused") && out.output.contains("network.allow_hosts is empty"),
        "{}",
        out.output
    );

    // An allowed name that resolves to a private address, without allow_private.
    let public_only = Fixture::new(allow(&["localhost:*"], false)).await;
    let out = public_only
        .call("tool-python.download_file_from_internet_to_sandbox", download(web.url("localhost", "/data.csv"), "d"))
        .await;
    assert!(!out.ok, "{}", out.output);
    assert!(out.output.contains("refused") && out.output.contains("network.allow_private"), "{}", out.output);

    // An oversized body is cut at the cap, and the result says so.
    let capped = Fixture::new(common::policy(|p| {
        p.network.allow_hosts = vec!["localhost:*".into()];
        p.network.allow_private = true;
        p.network.max_download_mb = 1;
    }))
    .await;
    let out = capped
        .call(
            "tool-python.download_file_from_internet_to_sandbox",
            download(web.url("localhost", "/big.bin"), "big.bin"),
        )
        .await;
    assert!(!out.ok && out.output.contains("network.max_download_mb"), "{}", out.output);
    assert_eq!(std::fs::metadata(capped.workspace.join("big.bin")).unwrap().len(), 1 << 20);

    // Not a URL, or not http(s): a precise error, no request.
    let out =
        f.call("tool-python.download_file_from_internet_to_sandbox", download("file:///etc/passwd".into(), "p")).await;
    assert!(!out.ok && out.output.contains("http"), "{}", out.output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_go_only_to_their_hosts_and_components_never_see_them() {
    // Set before the sandboxes exist; nothing else in this test binary reads it.
    unsafe { std::env::set_var("FATHOM_TEST_WEB_KEY", "s3cret-value") };
    let web = site().await;
    let policy = common::policy(|p| {
        p.network.allow_hosts = vec!["127.0.0.1:*".into(), "localhost:*".into()];
        p.network.allow_private = true;
        p.secrets.insert("FATHOM_TEST_WEB_KEY".into(), Secret { hosts: vec!["127.0.0.1:*".into()] });
        p.tools.network.push("hostile".into());
    });
    let f = Fixture::new(policy).await;
    let fetch = |url: String| json!({"url": url, "headers": [["X-Api-Key", "{{secrets.FATHOM_TEST_WEB_KEY}}"], ["Connection", "Upgrade"], ["Upgrade", "h2c"]]});

    let out = f.call("hostile.fetch", fetch(web.url("127.0.0.1", "/key"))).await;
    assert!(out.ok, "{}", out.output);
    let sent = web.headers_of("/key");
    let header = |h: &Vec<(String, String)>, k: &str| h.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(header(&sent[0], "x-api-key").as_deref(), Some("s3cret-value"), "the secret reached its host");
    assert_eq!(header(&sent[0], "upgrade"), None, "hop-by-hop headers are stripped");

    // Another allowed host: refused outright, nothing sent.
    let before = web.seen.lock().unwrap().len();
    let out = f.call("hostile.fetch", fetch(web.url("localhost", "/key"))).await;
    assert!(!out.ok && out.output.contains("secrets.FATHOM_TEST_WEB_KEY.hosts"), "{}", out.output);
    assert!(!out.output.contains("s3cret-value"));
    assert_eq!(web.seen.lock().unwrap().len(), before, "no request left for the other host");

    // The component itself cannot read the value from its environment.
    let env = f.call("hostile.env", json!({})).await;
    assert!(!env.output.contains("s3cret-value"), "{}", env.output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_is_granted_per_server_by_the_policy() {
    let web = site().await;
    // The same rules, but `hostile` is not among the servers granted the network.
    let policy = common::policy(|p| {
        p.network.allow_hosts = vec!["127.0.0.1:*".into()];
        p.network.allow_private = true;
    });
    let f = Fixture::new(policy).await;
    let out = f.call("hostile.fetch", json!({"url": web.url("127.0.0.1", "/key"), "headers": []})).await;
    assert!(!out.ok && out.output.contains("tools.network"), "{}", out.output);
    assert!(web.headers_of("/key").is_empty(), "nothing was sent");
    // The shipped tools keep it (granted in the presets).
    let out = f
        .call(
            "tool-python.download_file_from_internet_to_sandbox",
            json!({"url": web.url("127.0.0.1", "/data.csv"), "sandbox_file_path": "d.csv"}),
        )
        .await;
    assert!(out.ok, "{}", out.output);
}
