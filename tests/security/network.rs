//! Sockets, DNS and server-side request forgery: a guest reaches the network
//! only through the host's HTTP client, only to hosts the policy allows, and
//! never to private, loopback, link-local or metadata addresses however the
//! address is spelled or reached.

use serde_json::json;

use super::Sbx;
use super::common::web::{Web, redirect};

async fn web() -> Web {
    Web::start(|path| match path {
        "/ok" => Some((200, vec![], b"reachable".to_vec())),
        "/to-metadata" => redirect("http://169.254.169.254/latest/meta-data/"),
        "/to-private" => redirect("http://10.0.0.1/admin"),
        _ => None,
    })
    .await
}

/// Every host allowed, private ranges not: what an open research policy looks like.
async fn open_policy() -> Sbx {
    Sbx::new(|p| p.network.allow_hosts = vec!["*:*".into()]).await
}

async fn download(s: &Sbx, url: &str) -> fathom::runtime::CallOutcome {
    s.call("tool-python.download_file_from_internet_to_sandbox", json!({ "url": url, "sandbox_file_path": "got" }))
        .await
}

fn refused_as_private(out: &fathom::runtime::CallOutcome, url: &str) {
    assert!(!out.ok && out.output.contains("network.allow_private"), "{url}: {}", out.output);
}

/// Attack: open a raw TCP connection from Python.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_tcp_sockets_cannot_be_opened() {
    let w = web().await;
    let s = open_policy().await;
    let out =
        s.py(&format!("import socket\nsocket.create_connection(('127.0.0.1', {}))\nprint('CONNECTED')", w.port)).await;
    assert!(!out.output.contains("CONNECTED"), "{}", out.output);
    let out = s.call("hostile.connect", json!({ "addr": format!("127.0.0.1:{}", w.port) })).await;
    assert!(!out.ok, "{}", out.output);
    assert!(w.seen.lock().unwrap().is_empty());
}

/// Attack: look names up through DNS (a covert channel, and a map of the network).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_lookups_are_refused() {
    let s = open_policy().await;
    let out = s.py("import socket\nprint(socket.getaddrinfo('localhost', 80))").await;
    assert!(!out.output.contains("127.0.0.1"), "{}", out.output);
    let out = s.call("hostile.resolve", json!({ "addr": "localhost:80" })).await;
    assert!(!out.ok, "{}", out.output);
}

/// Attack: send UDP datagrams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_cannot_be_sent() {
    let s = open_policy().await;
    let out = s
        .py("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.sendto(b'x', ('127.0.0.1', 53))\nprint('SENT')")
        .await;
    assert!(!out.output.contains("SENT"), "{}", out.output);
}

/// Attack: reach loopback by its address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_by_address_is_refused() {
    let w = web().await;
    let s = open_policy().await;
    let url = w.url("127.0.0.1", "/ok");
    refused_as_private(&download(&s, &url).await, &url);
    assert!(w.seen.lock().unwrap().is_empty());
}

/// Attack: reach loopback by a name that resolves to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_resolving_to_loopback_is_refused() {
    let w = web().await;
    let s = open_policy().await;
    let url = w.url("localhost", "/ok");
    refused_as_private(&download(&s, &url).await, &url);
    assert!(w.seen.lock().unwrap().is_empty());
}

/// Attack: private ranges (RFC 1918, CGNAT, link-local).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_ranges_are_refused() {
    let s = open_policy().await;
    for url in
        ["http://10.0.0.1/", "http://192.168.1.1/", "http://172.16.0.1/", "http://100.64.0.1/", "http://169.254.1.1/"]
    {
        refused_as_private(&download(&s, url).await, url);
    }
}

/// Attack: the cloud metadata endpoint, refused even when private ranges are allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metadata_endpoint_is_refused_always() {
    let s = Sbx::new(|p| {
        p.network.allow_hosts = vec!["*:*".into()];
        p.network.allow_private = true;
    })
    .await;
    let out = download(&s, "http://169.254.169.254/latest/meta-data/").await;
    assert!(!out.ok && out.output.contains("metadata"), "{}", out.output);
}

/// Attack: IPv6 spellings of loopback, IPv4-mapped and IPv4-compatible forms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_and_mapped_forms_of_loopback_are_refused() {
    let w = web().await;
    let s = open_policy().await;
    for host in
        ["[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[0:0:0:0:0:ffff:127.0.0.1]", "[fe80::1]", "[fc00::1]"]
    {
        let url = format!("http://{host}:{}/ok", w.port);
        refused_as_private(&download(&s, &url).await, &url);
    }
}

/// Attack: decimal, octal, hex and short spellings of 127.0.0.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numeric_spellings_of_loopback_are_refused() {
    let w = web().await;
    let s = open_policy().await;
    for host in ["2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "127.1", "0"] {
        let url = format!("http://{host}:{}/ok", w.port);
        let out = download(&s, &url).await;
        assert!(!out.ok && !out.output.contains("successfully"), "{url}: {}", out.output);
    }
    assert!(w.seen.lock().unwrap().is_empty());
}

/// Attack: userinfo that makes an allowed host look like the destination.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_does_not_disguise_the_destination() {
    let w = web().await;
    let s = Sbx::new(|p| p.network.allow_hosts = vec!["example.com".into()]).await;
    let url = format!("http://example.com@127.0.0.1:{}/ok", w.port);
    let out = download(&s, &url).await;
    assert!(!out.ok && (out.output.contains("allow_hosts") || out.output.contains("credentials")), "{}", out.output);
    assert!(w.seen.lock().unwrap().is_empty());
}

/// Attack: an allowed host redirects to a private address (or the metadata endpoint).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_a_private_address_is_refused() {
    let w = web().await;
    let s = Sbx::new(|p| {
        p.network.allow_hosts = vec!["127.0.0.1:*".into(), "10.0.0.1".into(), "169.254.169.254".into()];
        p.network.allow_private = true;
    })
    .await;
    let out = download(&s, &w.url("127.0.0.1", "/to-metadata")).await;
    assert!(!out.ok && out.output.contains("metadata"), "{}", out.output);
    let s = Sbx::new(|p| p.network.allow_hosts = vec!["*:*".into()]).await;
    let out = download(&s, "http://10.0.0.1/admin").await;
    refused_as_private(&out, "10.0.0.1");
}

/// Attack: another port of an allowed host (an admin port beside the public one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_port_of_an_allowed_host_is_refused() {
    let (w, other) = (web().await, web().await);
    let s = Sbx::new(|p| {
        p.network.allow_hosts = vec![format!("127.0.0.1:{}", w.port)];
        p.network.allow_private = true;
    })
    .await;
    assert!(download(&s, &w.url("127.0.0.1", "/ok")).await.ok);
    let out = download(&s, &other.url("127.0.0.1", "/ok")).await;
    assert!(!out.ok && out.output.contains("allow_hosts"), "{}", out.output);
    assert!(other.seen.lock().unwrap().is_empty());
}

/// Attack: schemes other than http(s) (`file://`, `gopher://`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_schemes_are_refused() {
    let s = open_policy().await;
    for url in ["file:///etc/passwd", "gopher://127.0.0.1:70/", "ftp://127.0.0.1/"] {
        let out = download(&s, url).await;
        assert!(!out.ok && !out.output.contains("root:x"), "{url}: {}", out.output);
    }
}
