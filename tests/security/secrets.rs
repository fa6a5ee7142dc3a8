//! Secret exfiltration: a secret goes only to its host and port, is dropped
//! on any redirect that leaves them, is never in a component's environment,
//! and never comes back to the guest in the forms an echo would carry it.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use fathom::policy::Secret;
use fathom::runtime::{CallOutcome, SessionOptions};
use serde_json::json;

use super::Sbx;
use super::common::web::{Web, redirect};

const VALUE: &str = "sk/live+7hG2pQ9z=X4mB";
const NAME: &str = "API_KEY";

fn forms() -> Vec<(&'static str, String)> {
    let url_encoded = VALUE.replace('/', "%2F").replace('+', "%2B").replace('=', "%3D");
    vec![
        ("raw", VALUE.to_owned()),
        ("base64", base64::engine::general_purpose::STANDARD.encode(VALUE)),
        ("hex", VALUE.bytes().map(|b| format!("{b:02x}")).collect()),
        ("url", url_encoded),
        ("reversed", VALUE.chars().rev().collect()),
        ("upper", VALUE.to_uppercase()),
    ]
}

/// A server that echoes the secret back in the form its path names, and
/// `/cut`: a body whose size cap falls inside the secret.
async fn echo_server(other: Option<u16>) -> Web {
    Web::start(move |path| {
        if path == "/cut" {
            let mut body = vec![b'x'; (1 << 20) - 8];
            body.extend_from_slice(VALUE.as_bytes());
            return Some((200, vec![], body));
        }
        if path == "/bounce" {
            return redirect(&format!("http://127.0.0.1:{}/key", other?));
        }
        let form = path.strip_prefix("/echo/")?;
        let (_, value) = forms().into_iter().find(|(n, _)| *n == form)?;
        Some((200, vec![], format!("you sent: {value}").into_bytes()))
    })
    .await
}

async fn sandbox(port: u16) -> Sbx {
    let mut opts = SessionOptions::new(super::common::policy(|p| {
        p.network.allow_hosts = vec!["127.0.0.1:*".into()];
        p.network.allow_private = true;
        p.network.max_download_mb = 1;
        p.sandbox.output_bytes = 4 << 20;
        p.secrets.insert(NAME.into(), Secret { hosts: vec![format!("127.0.0.1:{port}")] });
        p.tools.network.push("hostile".into());
    }));
    opts.secrets = Some(Arc::new(BTreeMap::from([(NAME.to_owned(), VALUE.to_owned())])));
    Sbx::with(opts).await
}

async fn fetch(s: &Sbx, url: String) -> CallOutcome {
    s.call("hostile.fetch", json!({ "url": url, "headers": [["X-Api-Key", format!("{{{{secrets.{NAME}}}}}")]] })).await
}

fn leaks(out: &CallOutcome) -> Option<&'static str> {
    forms().into_iter().find(|(_, v)| out.output.contains(v.as_str())).map(|(n, _)| n)
}

async fn echoed_in(form: &str) {
    let w = echo_server(None).await;
    let s = sandbox(w.port).await;
    let out = fetch(&s, w.url("127.0.0.1", &format!("/echo/{form}"))).await;
    assert!(out.ok && out.output.contains("you sent: "), "{}", out.output);
    assert_eq!(leaks(&out), None, "{}", out.output);
    assert_eq!(w.headers_of(&format!("/echo/{form}"))[0].iter().find(|(k, _)| k == "x-api-key").unwrap().1, VALUE);
}

/// Attack: the allowed host echoes the secret back as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_secret_is_redacted() {
    echoed_in("raw").await;
}

/// Attack: echoed back in base64.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_secret_in_base64_is_redacted() {
    echoed_in("base64").await;
}

/// Attack: echoed back in hex.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_secret_in_hex_is_redacted() {
    echoed_in("hex").await;
}

/// Attack: echoed back URL-encoded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_secret_url_encoded_is_redacted() {
    echoed_in("url").await;
}

/// Attack: echoed back reversed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_secret_reversed_is_redacted() {
    echoed_in("reversed").await;
}

/// Attack: echoed back upper-cased.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_secret_upper_cased_is_redacted() {
    echoed_in("upper").await;
}

/// Attack: the body is cut by the download cap in the middle of the secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_cut_by_the_size_cap_is_redacted() {
    let w = echo_server(None).await;
    let s = sandbox(w.port).await;
    let out = fetch(&s, w.url("127.0.0.1", "/cut")).await;
    assert!(out.output.contains("true"), "not cut: {}", &out.output[..200]);
    let prefix = &VALUE[..8];
    assert!(!out.output.trim_end().ends_with(prefix), "the secret's prefix came through");
}

/// Attack: send the secret to another port of the same host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_is_not_sent_to_another_port() {
    let (w, other) = (echo_server(None).await, echo_server(None).await);
    let s = sandbox(w.port).await;
    let out = fetch(&s, other.url("127.0.0.1", "/echo/raw")).await;
    assert!(!out.ok && out.output.contains("hosts"), "{}", out.output);
    assert!(other.seen.lock().unwrap().is_empty(), "a request left for the other port");
}

/// Attack: the secret's host redirects to another port, hoping the header follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_is_dropped_on_a_redirect_to_another_port() {
    let other = echo_server(None).await;
    let w = echo_server(Some(other.port)).await;
    let s = sandbox(w.port).await;
    fetch(&s, w.url("127.0.0.1", "/bounce")).await;
    for headers in other.headers_of("/key") {
        assert!(!headers.iter().any(|(k, _)| k == "x-api-key"), "{headers:?}");
    }
}

/// Attack: read the secret from the component's own environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_is_not_in_any_environment() {
    let w = echo_server(None).await;
    let s = sandbox(w.port).await;
    let env = s.call("hostile.env", json!({})).await;
    let py = s.py("import os\nprint(dict(os.environ))").await;
    for out in [env, py] {
        assert_eq!(leaks(&out), None, "{}", out.output);
    }
}
