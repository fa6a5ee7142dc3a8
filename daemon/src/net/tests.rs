//! End-to-end tests against real HTTP/1.1 servers on 127.0.0.1, written on bare tokio sockets so
//! they see exactly the bytes the module sends.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

const SECRET: &str = "s3cr3t-value-123";

/// Called before every send in test builds: whatever a regression in the policy checks lets
/// through, tests never put traffic on anything but loopback (a metadata test failing open
/// would otherwise really connect to 169.254.169.254).
pub(super) fn assert_loopback(url: &Url) {
    match HostName::of(url) {
        Some(HostName::Ip(ip)) if ip.is_loopback() => {}
        Some(HostName::Domain(name)) if name == "localhost" => {}
        _ => panic!("a test was about to send a request to {url}"),
    }
}

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

enum Reply {
    /// Written as is, then the connection is closed.
    Raw(Vec<u8>),
    /// Written, then the connection is held open without another byte.
    Stall(Vec<u8>),
}

struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    /// Serves every connection with `handler(request, own port)`.
    async fn start(handler: impl Fn(&Seen, u16) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(handler);
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (handler, log) = (handler.clone(), log.clone());
                tokio::spawn(async move {
                    let (stream, request) = match read_request(stream).await {
                        Some(x) => x,
                        None => return,
                    };
                    log.lock().unwrap().push(request.clone());
                    respond(stream, handler(&request, port)).await;
                });
            }
        });
        Server { port, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

async fn read_request(mut stream: TcpStream) -> Option<(TcpStream, Seen)> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap().split(' ');
    let (method, target) = (request_line.next().unwrap().to_owned(), request_line.next().unwrap().to_owned());
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    let length: usize =
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length")).map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((stream, Seen { method, target, headers, body }))
}

async fn respond(mut stream: TcpStream, reply: Reply) {
    match reply {
        Reply::Raw(bytes) => {
            let _ = stream.write_all(&bytes).await;
            let _ = stream.shutdown().await;
        }
        Reply::Stall(bytes) => {
            let _ = stream.write_all(&bytes).await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    }
}

fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn ok(body: &str) -> Reply {
    Reply::Raw(response("200 OK", &[("X-Test", "yes")], body.as_bytes()))
}

fn redirect(status: &str, location: &str) -> Reply {
    Reply::Raw(response(status, &[("Location", location)], b""))
}

/// A chunked response of `total` bytes ('a'..'z' repeating) in chunks of `chunk` bytes.
fn chunked(total: usize, chunk: usize) -> Vec<u8> {
    let body = pattern(total);
    let mut out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for part in body.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

fn policy(hosts: &[&str], allow_private: bool) -> NetPolicy {
    NetPolicy {
        allow_hosts: hosts.iter().map(|h| h.to_string()).collect(),
        allow_private,
        max_body_bytes: 1 << 20,
        timeout: Duration::from_secs(10),
        secrets: vec![SecretGrant {
            name: "KEY".into(),
            value: Some(SECRET.into()),
            hosts: vec!["127.0.0.1:*".into()],
        }],
    }
}

fn get(url: &str) -> Request {
    Request { method: "GET".into(), url: url.into(), ..Request::default() }
}

fn with_headers(url: &str, headers: &[(&str, &str)]) -> Request {
    Request { headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(), ..get(url) }
}

fn refused(result: Result<Response, NetError>) -> (String, String, String, String) {
    match result {
        Err(err @ NetError::Refused { .. }) => {
            let text = err.to_string();
            let NetError::Refused { host, reason, key } = err else { unreachable!() };
            (host, reason, key, text)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn failed(result: Result<Response, NetError>) -> String {
    match result {
        Err(NetError::Failed(msg)) => msg,
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn bad_request(result: Result<Response, NetError>) -> String {
    match result {
        Err(err @ NetError::BadRequest(_)) => err.to_string(),
        other => panic!("expected a bad request, got {other:?}"),
    }
}

#[tokio::test]
async fn allowed_download() {
    let server = Server::start(|_, _| ok("hello world")).await;
    let url = server.url("/hello?x=1");
    let r = Net::new().fetch(&policy(&["127.0.0.1:*"], true), get(&url)).await.unwrap();
    assert_eq!(
        (r.status, r.url.as_str(), r.body.as_slice(), r.truncated),
        (200, url.as_str(), &b"hello world"[..], false)
    );
    assert!(r.headers.contains(&("x-test".into(), "yes".into())), "{:?}", r.headers);
    assert!(!r.headers.iter().any(|(n, _)| n == "connection"), "hop-by-hop response header kept: {:?}", r.headers);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].method.as_str(), seen[0].target.as_str()), ("GET", "/hello?x=1"));
    assert_eq!(seen[0].header("user-agent"), Some("fathom/0.1"));
    assert_eq!(seen[0].header("accept-encoding"), Some("identity"));
}

#[tokio::test]
async fn localhost_name_is_resolved_and_connected_when_private_allowed() {
    let server = Server::start(|_, _| ok("via name")).await;
    let url = format!("http://localhost:{}/", server.port);
    let r = Net::new().fetch(&policy(&["localhost:*"], true), get(&url)).await.unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"via name"[..]));
    assert_eq!(server.seen()[0].header("host"), Some(format!("localhost:{}", server.port).as_str()));
}

#[tokio::test]
async fn private_ip_literal_refused_without_allow_private() {
    let server = Server::start(|_, _| ok("no")).await;
    let (host, _, key, text) = refused(Net::new().fetch(&policy(&["127.0.0.1:*"], false), get(&server.url("/"))).await);
    assert_eq!((host.as_str(), key.as_str()), ("127.0.0.1", "network.allow_private"));
    assert_eq!(
        text,
        "request to 127.0.0.1 refused: 127.0.0.1 is a loopback address (set network.allow_private = true to allow it)"
    );
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn empty_allow_hosts_refuses_everything() {
    let server = Server::start(|_, _| ok("no")).await;
    let (_, _, key, text) = refused(Net::new().fetch(&policy(&[], true), get(&server.url("/"))).await);
    assert_eq!(key, "network.allow_hosts");
    assert_eq!(
        text,
        "request to 127.0.0.1 refused: this policy allows no network access (network.allow_hosts is empty)"
    );
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn host_not_in_allow_hosts_refused() {
    let server = Server::start(|_, _| ok("no")).await;
    let p = policy(&["arxiv.org", "*.wikipedia.org"], true);
    let (_, _, key, text) = refused(Net::new().fetch(&p, get(&server.url("/"))).await);
    assert_eq!(key, "network.allow_hosts");
    assert_eq!(
        text,
        "request to 127.0.0.1 refused: the host is not in network.allow_hosts (allowed: arxiv.org, *.wikipedia.org)"
    );
    let (host, ..) = refused(Net::new().fetch(&p, get("https://evil.com/x")).await);
    assert_eq!(host, "evil.com");
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn name_resolving_to_private_address_refused() {
    let server = Server::start(|_, _| ok("no")).await;
    let url = format!("http://localhost:{}/", server.port);
    let (host, reason, key, _) = refused(Net::new().fetch(&policy(&["localhost:*"], false), get(&url)).await);
    assert_eq!((host.as_str(), key.as_str()), ("localhost", "network.allow_private"));
    assert!(
        reason.starts_with("localhost resolves to ")
            && reason.ends_with(", which is a loopback address (set network.allow_private = true to allow it)"),
        "{reason}"
    );
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn mapped_and_numeric_ip_literals_are_checked() {
    let server = Server::start(|_, _| ok("no")).await;
    let url = format!("http://[::ffff:127.0.0.1]:{}/", server.port);
    let (_, reason, key, _) = refused(Net::new().fetch(&policy(&["*:*"], false), get(&url)).await);
    assert_eq!(key, "network.allow_private");
    assert_eq!(
        reason,
        "::ffff:127.0.0.1 is an IPv4-mapped form of 127.0.0.1, a loopback address (set network.allow_private = true to allow it)"
    );
    let url = format!("http://2130706433:{}/", server.port);
    let (host, _, key, _) = refused(Net::new().fetch(&policy(&["127.0.0.1:*"], false), get(&url)).await);
    assert_eq!((host.as_str(), key.as_str()), ("127.0.0.1", "network.allow_private"));
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn metadata_endpoint_refused_even_with_allow_private() {
    for p in [policy(&["*:*"], true), policy(&["169.254.169.254"], true)] {
        let (host, reason, key, _) =
            refused(Net::new().fetch(&p, get("http://169.254.169.254/latest/meta-data/")).await);
        assert_eq!((host.as_str(), key.as_str()), ("169.254.169.254", "network.allow_private"));
        assert!(reason.starts_with("169.254.169.254 is a cloud metadata endpoint, refused even with"), "{reason}");
    }
    let (_, reason, ..) = refused(Net::new().fetch(&policy(&["*:*"], true), get("http://[fd00:ec2::254]/")).await);
    assert!(reason.starts_with("fd00:ec2::254 is a cloud metadata endpoint"), "{reason}");
}

#[tokio::test]
async fn redirect_to_metadata_refused() {
    let server = Server::start(|_, _| redirect("302 Found", "http://169.254.169.254/latest/api/token")).await;
    let (host, reason, key, _) = refused(Net::new().fetch(&policy(&["*:*"], true), get(&server.url("/"))).await);
    assert_eq!((host.as_str(), key.as_str()), ("169.254.169.254", "network.allow_private"));
    assert!(reason.contains("cloud metadata endpoint"), "{reason}");
    assert!(reason.ends_with("; it was reached by a redirect from 127.0.0.1"), "{reason}");
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn redirect_to_host_not_allowed_refused() {
    let server = Server::start(|_, port| redirect("302 Found", &format!("http://127.0.0.1:{port}/inside"))).await;
    let url = format!("http://localhost:{}/", server.port);
    let (host, reason, key, text) = refused(Net::new().fetch(&policy(&["localhost:*"], true), get(&url)).await);
    assert_eq!((host.as_str(), key.as_str()), ("127.0.0.1", "network.allow_hosts"));
    assert_eq!(
        reason,
        "the host is not in network.allow_hosts (allowed: localhost:*); it was reached by a redirect from localhost"
    );
    assert!(text.starts_with("request to 127.0.0.1 refused: "));
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn redirect_chain_within_host_absolute_and_relative() {
    let server = Server::start(|req, port| match req.target.as_str() {
        "/a" => redirect("302 Found", "/dir/b"),
        "/dir/b" => redirect("307 Temporary Redirect", "c?q=1"),
        "/dir/c?q=1" => redirect("301 Moved Permanently", &format!("http://127.0.0.1:{port}/end#frag")),
        "/end" => ok("done"),
        other => Reply::Raw(response("404 Not Found", &[], other.as_bytes())),
    })
    .await;
    let r = Net::new().fetch(&policy(&["127.0.0.1:*"], true), get(&server.url("/a"))).await.unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"done"[..]));
    assert_eq!(r.url, server.url("/end#frag"));
    let targets: Vec<String> = server.seen().into_iter().map(|s| s.target).collect();
    assert_eq!(targets, ["/a", "/dir/b", "/dir/c?q=1", "/end"]);
}

#[tokio::test]
async fn see_other_turns_post_into_get_and_307_keeps_it() {
    let server = Server::start(|req, _| match req.target.as_str() {
        "/form" => redirect("303 See Other", "/result"),
        "/keep" => redirect("307 Temporary Redirect", "/kept"),
        _ => ok("fine"),
    })
    .await;
    let net = Net::new();
    let p = policy(&["127.0.0.1:*"], true);
    let post = |path: &str| Request {
        method: "post".into(),
        body: Some(b"x=1".to_vec()),
        ..with_headers(&server.url(path), &[("Content-Type", "application/x-www-form-urlencoded")])
    };
    assert_eq!(net.fetch(&p, post("/form")).await.unwrap().status, 200);
    assert_eq!(net.fetch(&p, post("/keep")).await.unwrap().status, 200);
    let seen = server.seen();
    let summary: Vec<(&str, &str, &[u8], Option<&str>)> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.target.as_str(), s.body.as_slice(), s.header("content-type")))
        .collect();
    let form = Some("application/x-www-form-urlencoded");
    assert_eq!(
        summary,
        [
            ("POST", "/form", &b"x=1"[..], form),
            ("GET", "/result", &b""[..], None),
            ("POST", "/keep", &b"x=1"[..], form),
            ("POST", "/kept", &b"x=1"[..], form),
        ]
    );
    assert_eq!(seen[1].header("content-length"), None);
}

#[tokio::test]
async fn redirect_loop_stops_after_ten_hops() {
    let server = Server::start(|_, _| redirect("302 Found", "/loop")).await;
    let started = Instant::now();
    let msg = failed(Net::new().fetch(&policy(&["127.0.0.1:*"], true), get(&server.url("/loop"))).await);
    assert_eq!(
        msg,
        format!("request to 127.0.0.1 stopped after 10 redirects (the last one pointed to {})", server.url("/loop"))
    );
    assert_eq!(server.seen().len(), 11, "the first request and 10 redirects");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn redirect_to_other_scheme_is_not_followed() {
    let server = Server::start(|_, _| redirect("302 Found", "file:///etc/passwd")).await;
    let msg = failed(Net::new().fetch(&policy(&["*:*"], true), get(&server.url("/"))).await);
    assert_eq!(
        msg,
        "127.0.0.1 redirected to file:///etc/passwd, which was not followed: unsupported URL scheme \"file\" (only http and https are allowed)"
    );
}

#[tokio::test]
async fn body_with_content_length_is_cut_at_the_cap() {
    let big = pattern(10_000);
    let exact = pattern(1_000);
    let server = Server::start(move |req, _| match req.target.as_str() {
        "/big" => Reply::Raw(response("200 OK", &[], &big)),
        "/exact" => Reply::Raw(response("200 OK", &[], &exact)),
        // Declares far more than it sends and then stalls: only a reader that stops at the
        // cap returns before the timeout.
        _ => {
            let mut head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n".to_vec();
            head.extend_from_slice(&pattern(1_000));
            Reply::Stall(head)
        }
    })
    .await;
    let net = Net::new();
    let p = NetPolicy { max_body_bytes: 1_000, timeout: Duration::from_secs(5), ..policy(&["127.0.0.1:*"], true) };
    for path in ["/big", "/stall"] {
        let started = Instant::now();
        let r = net.fetch(&p, get(&server.url(path))).await.unwrap();
        assert_eq!((r.body.len(), r.truncated), (1_000, true), "{path}");
        assert_eq!(r.body, pattern(1_000), "{path}");
        assert!(started.elapsed() < Duration::from_secs(3), "{path} waited for bytes past the cap");
    }
    let r = net.fetch(&p, get(&server.url("/exact"))).await.unwrap();
    assert_eq!((r.body.len(), r.truncated), (1_000, false));
}

#[tokio::test]
async fn chunked_body_is_cut_at_the_cap() {
    let server = Server::start(|req, _| match req.target.as_str() {
        "/big" => Reply::Raw([chunked(10_000, 700), b"0\r\n\r\n".to_vec()].concat()),
        "/small" => Reply::Raw([chunked(999, 100), b"0\r\n\r\n".to_vec()].concat()),
        // Endless: more than the cap, then silence without the final chunk.
        _ => Reply::Stall(chunked(3_000, 300)),
    })
    .await;
    let net = Net::new();
    let p = NetPolicy { max_body_bytes: 1_000, timeout: Duration::from_secs(5), ..policy(&["127.0.0.1:*"], true) };
    for path in ["/big", "/stall"] {
        let started = Instant::now();
        let r = net.fetch(&p, get(&server.url(path))).await.unwrap();
        assert_eq!((r.body.len(), r.truncated), (1_000, true), "{path}");
        assert_eq!(r.body, pattern(1_000), "{path}");
        assert!(started.elapsed() < Duration::from_secs(3), "{path} waited for bytes past the cap");
    }
    let r = net.fetch(&p, get(&server.url("/small"))).await.unwrap();
    assert_eq!((r.body, r.truncated), (pattern(999), false));
}

#[tokio::test]
async fn secret_is_sent_to_its_host_only() {
    let other = Server::start(|_, _| ok("other")).await;
    let other_port = other.port;
    let home = Server::start(move |req, _| match req.target.as_str() {
        "/away" => redirect("302 Found", &format!("http://localhost:{other_port}/landed")),
        "/stay" => redirect("307 Temporary Redirect", "/echo"),
        _ => Reply::Raw(response(
            "200 OK",
            &[("X-Echo", req.header("x-api-key").unwrap_or("-"))],
            format!("auth={}", req.header("authorization").unwrap_or("-")).as_bytes(),
        )),
    })
    .await;
    let net = Net::new();
    let p = policy(&["127.0.0.1:*", "localhost:*"], true);
    let headers = [("X-Api-Key", "{{secrets.KEY}}"), ("Authorization", "Bearer {{secrets.KEY}}"), ("X-Other", "plain")];

    // To its host, also after a redirect that stays there.
    for path in ["/echo", "/stay"] {
        let r = net.fetch(&p, with_headers(&home.url(path), &headers)).await.unwrap();
        // The server echoed the value; the tool must only ever see the placeholder.
        assert_eq!(r.body, b"auth=Bearer {{secrets.KEY}}", "{path}");
        assert!(r.headers.contains(&("x-echo".into(), "{{secrets.KEY}}".into())), "{:?}", r.headers);
    }
    let seen = home.seen();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(s.header("x-api-key"), Some(SECRET));
        assert_eq!(s.header("authorization"), Some(format!("Bearer {SECRET}").as_str()));
    }

    // Directly to another allowed host: refused before anything is sent.
    let url = format!("http://localhost:{other_port}/direct");
    let (host, _, key, text) = refused(net.fetch(&p, with_headers(&url, &headers)).await);
    assert_eq!((host.as_str(), key.as_str()), ("localhost", "secrets.KEY.hosts"));
    assert_eq!(
        text,
        "request to localhost refused: secret KEY may only be sent to 127.0.0.1:* (add the host to secrets.KEY.hosts to allow it)"
    );
    assert!(other.seen().is_empty());

    // Redirected to another allowed host: the request goes on without the secret's headers.
    let r = net.fetch(&p, with_headers(&home.url("/away"), &headers)).await.unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"other"[..]));
    let landed = other.seen();
    assert_eq!(landed.len(), 1);
    assert_eq!(landed[0].target, "/landed");
    assert_eq!((landed[0].header("x-api-key"), landed[0].header("authorization")), (None, None));
    assert_eq!(landed[0].header("x-other"), Some("plain"));
    assert!(!landed.iter().flat_map(|s| &s.headers).any(|(_, v)| v.contains(SECRET) || v.contains("secrets.")));
}

#[tokio::test]
async fn a_secret_is_bound_to_its_port_and_dropped_on_a_redirect_to_another() {
    let other = Server::start(|_, _| ok("other port")).await;
    let other_port = other.port;
    let home = Server::start(move |_, _| redirect("302 Found", &format!("http://127.0.0.1:{other_port}/next"))).await;
    let mut p = policy(&["127.0.0.1:*"], true);
    p.secrets[0].hosts = vec![format!("127.0.0.1:{}", home.port)];
    let r = Net::new().fetch(&p, with_headers(&home.url("/"), &[("X-Api-Key", "{{secrets.KEY}}")])).await.unwrap();
    assert_eq!(r.body, b"other port");
    assert_eq!(home.seen()[0].header("x-api-key"), Some(SECRET), "sent to its own port");
    assert_eq!(other.seen()[0].header("x-api-key"), None, "dropped when the redirect changed the port");
    // Sent straight to the other port: refused before anything goes out.
    let (_, reason, key, _) =
        refused(Net::new().fetch(&p, with_headers(&other.url("/direct"), &[("X-Api-Key", "{{secrets.KEY}}")])).await);
    assert_eq!(key, "secrets.KEY.hosts", "{reason}");
    assert_eq!(other.seen().len(), 1);
}

#[tokio::test]
async fn a_host_without_a_port_allows_the_default_port_only() {
    let server = Server::start(|_, _| ok("x")).await;
    let (host, reason, key, _) = refused(Net::new().fetch(&policy(&["127.0.0.1"], true), get(&server.url("/"))).await);
    assert_eq!((host.as_str(), key.as_str()), ("127.0.0.1", "network.allow_hosts"), "{reason}");
    let exact = format!("127.0.0.1:{}", server.port);
    assert!(Net::new().fetch(&policy(&[exact.as_str()], true), get(&server.url("/"))).await.is_ok());
    let wrong = format!("127.0.0.1:{}", server.port.wrapping_add(1).max(1));
    refused(Net::new().fetch(&policy(&[wrong.as_str()], true), get(&server.url("/"))).await);
    assert!(server.seen().len() == 1, "refusals are made before connecting");
}

#[tokio::test]
async fn secret_echoed_into_a_redirect_does_not_leak_through_errors() {
    let server = Server::start(|req, _| {
        let key = req.header("x-api-key").unwrap_or("none").to_owned();
        redirect("302 Found", &format!("http://{key}.example/"))
    })
    .await;
    let p = policy(&["127.0.0.1:*"], true);
    let result = Net::new().fetch(&p, with_headers(&server.url("/"), &[("X-Api-Key", "{{secrets.KEY}}")])).await;
    let (host, _, _, text) = refused(result);
    assert_eq!(host, "{{secrets.KEY}}.example");
    assert!(!text.contains(SECRET), "{text}");
    assert_eq!(server.seen()[0].header("x-api-key"), Some(SECRET));
}

#[tokio::test]
async fn secret_errors() {
    let server = Server::start(|_, _| ok("no")).await;
    let net = Net::new();
    let url = server.url("/");
    let p = policy(&["127.0.0.1:*"], true);

    let msg = bad_request(net.fetch(&p, with_headers(&url, &[("X-Key", "{{secrets.NOPE}}")])).await);
    assert_eq!(
        msg,
        "bad request: header x-key refers to {{secrets.NOPE}}, but the policy declares no secret NOPE (add it under [secrets])"
    );
    let msg = bad_request(net.fetch(&p, with_headers(&url, &[("X-Key", "{{secrets.KEY")])).await);
    assert!(msg.starts_with("bad request: header x-key: malformed secret reference \"{{secrets.KEY\""), "{msg}");
    let msg = bad_request(net.fetch(&p, with_headers(&url, &[("X-Key", "{{secrets.K-Y}}")])).await);
    assert!(msg.contains("malformed secret reference"), "{msg}");

    let mut missing = p.clone();
    missing.secrets[0].value = None;
    let msg = failed(net.fetch(&missing, with_headers(&url, &[("X-Key", "{{secrets.KEY}}")])).await);
    assert_eq!(msg, "secret KEY is declared in the policy but the daemon's environment lacks KEY");

    let mut bad_value = p.clone();
    bad_value.secrets[0].value = Some(format!("{SECRET}\r\nX-Injected: 1"));
    let msg = failed(net.fetch(&bad_value, with_headers(&url, &[("X-Key", "{{secrets.KEY}}")])).await);
    assert_eq!(
        msg,
        "the value of secret KEY cannot be sent in a header: it contains a control character such as a newline"
    );
    assert!(server.seen().is_empty());
    assert!(!format!("{bad_value:?}").contains(SECRET), "Debug of a policy shows a secret");
}

#[tokio::test]
async fn hop_by_hop_and_computed_headers_are_stripped() {
    let server = Server::start(|_, _| ok("ok")).await;
    let headers = [
        ("Connection", "keep-alive, X-Drop"),
        ("X-Drop", "1"),
        ("Keep-Alive", "timeout=5"),
        ("Upgrade", "websocket"),
        ("TE", "trailers"),
        ("Trailer", "X-T"),
        ("Transfer-Encoding", "chunked"),
        ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
        ("Proxy-Connection", "keep-alive"),
        ("Host", "evil.example"),
        ("Content-Length", "999"),
        ("Accept-Encoding", "gzip"),
        ("User-Agent", "my-tool/2"),
        ("X-Keep", "a"),
        ("X-Keep", "b"),
    ];
    let req =
        Request { method: "PUT".into(), body: Some(b"data".to_vec()), ..with_headers(&server.url("/"), &headers) };
    Net::new().fetch(&policy(&["127.0.0.1:*"], true), req).await.unwrap();
    let seen = &server.seen()[0];
    let mut names: Vec<String> = seen.headers.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    names.sort();
    assert_eq!(names, ["accept", "accept-encoding", "content-length", "host", "user-agent", "x-keep", "x-keep"]);
    assert_eq!(seen.header("host"), Some(format!("127.0.0.1:{}", server.port).as_str()));
    assert_eq!(seen.header("content-length"), Some("4"));
    assert_eq!(seen.header("accept-encoding"), Some("identity"));
    assert_eq!(seen.header("user-agent"), Some("my-tool/2"));
    assert_eq!(seen.body, b"data");
}

#[tokio::test]
async fn response_hop_by_hop_headers_are_dropped() {
    let server = Server::start(|_, _| {
        Reply::Raw(response(
            "200 OK",
            &[("Keep-Alive", "timeout=5"), ("X-Private-Hop", "1"), ("Connection", "X-Private-Hop"), ("X-Fine", "1")],
            b"",
        ))
    })
    .await;
    let r = Net::new().fetch(&policy(&["127.0.0.1:*"], true), get(&server.url("/"))).await.unwrap();
    let names: Vec<&str> = r.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["content-length", "x-fine"]);
}

#[tokio::test]
async fn invalid_requests_are_bad_requests() {
    let net = Net::new();
    let p = policy(&["*:*"], true);
    let cases = [
        (with_headers("http://127.0.0.1:1/", &[("Bad Name", "x")]), "bad request: invalid header name \"Bad Name\""),
        (
            with_headers("http://127.0.0.1:1/", &[("X-A", "a\r\nInjected: 1")]),
            "bad request: header x-a: the value contains a control character (such as CR, LF or NUL)",
        ),
        (get("file:///etc/passwd"), "bad request: unsupported URL scheme \"file\" (only http and https are allowed)"),
        (get("ftp://127.0.0.1/x"), "bad request: unsupported URL scheme \"ftp\" (only http and https are allowed)"),
        (
            get("http://user:pw@127.0.0.1:1/"),
            "bad request: the URL contains credentials (user:password@); send them in a header instead, as {{secrets.NAME}} for a secret",
        ),
        (get("/relative"), "bad request: invalid URL \"/relative\": relative URL without a base"),
        (
            Request { method: "CONNECT".into(), ..get("http://127.0.0.1:1/") },
            "bad request: the CONNECT method is not supported",
        ),
        (Request { method: "GE T".into(), ..get("http://127.0.0.1:1/") }, "bad request: invalid HTTP method \"GE T\""),
    ];
    for (req, expected) in cases {
        assert_eq!(bad_request(net.fetch(&p, req).await), expected);
    }
}

#[tokio::test]
async fn timeout_covers_a_server_that_never_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and holds connections without reading or answering.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let p = NetPolicy { timeout: Duration::from_millis(500), ..policy(&["127.0.0.1:*"], true) };
    let started = Instant::now();
    let msg = failed(Net::new().fetch(&p, get(&format!("http://127.0.0.1:{port}/"))).await);
    let elapsed = started.elapsed();
    assert_eq!(
        msg,
        "request to 127.0.0.1 timed out after 500ms: the whole request, redirects and download included, must end within the tool call's time limit (sandbox.call_timeout_secs)"
    );
    assert!(elapsed >= Duration::from_millis(500) && elapsed < Duration::from_millis(1500), "{elapsed:?}");
}

#[tokio::test]
async fn connection_refused_names_host_and_port() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let msg =
        failed(Net::new().fetch(&policy(&["127.0.0.1:*"], true), get(&format!("http://127.0.0.1:{port}/"))).await);
    assert!(msg.starts_with(&format!("could not connect to 127.0.0.1:{port}: ")), "{msg}");
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
}

#[tokio::test]
async fn https_to_a_plain_http_server_fails_cleanly() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Answers the TLS ClientHello with plain HTTP, as a misconfigured port would.
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            respond(stream, Reply::Raw(response("400 Bad Request", &[], b"not tls"))).await;
        }
    });
    let url = format!("https://127.0.0.1:{port}/");
    let started = Instant::now();
    let msg = failed(Net::new().fetch(&policy(&["127.0.0.1:*"], true), get(&url)).await);
    assert!(msg.starts_with(&format!("could not connect to 127.0.0.1:{port}: ")), "{msg}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn check_target_refuses_before_any_connection() {
    let via = Via(None);
    let p = policy(&["*:*"], true);
    for url in ["http://169.254.169.254/", "http://[::ffff:a9fe:a9fe]/", "http://[fd00:ec2::254]:80/"] {
        let err = check_target(&p, &Url::parse(url).unwrap(), &via).unwrap_err();
        assert!(matches!(&err, NetError::Refused { key, .. } if key == "network.allow_private"), "{url}: {err}");
    }
    let host = check_target(&p, &Url::parse("http://10.0.0.5/").unwrap(), &via).unwrap();
    assert_eq!(host, HostName::Ip("10.0.0.5".parse().unwrap()));
    let err = check_target(&policy(&["*:*"], false), &Url::parse("http://10.0.0.5/").unwrap(), &via).unwrap_err();
    assert_eq!(
        err.to_string(),
        "request to 10.0.0.5 refused: 10.0.0.5 is a private address (set network.allow_private = true to allow it)"
    );
}

#[test]
fn substitution_is_single_pass() {
    let mut p = policy(&["*:*"], true);
    p.secrets[0].value = Some("{{secrets.OTHER}}".into());
    p.secrets.push(SecretGrant { name: "OTHER".into(), value: Some("other-value".into()), hosts: vec![] });
    assert_eq!(substitute("a {{secrets.KEY}} b", &p), "a {{secrets.OTHER}} b");
}

#[tokio::test]
async fn credentials_are_dropped_on_cross_origin_redirects_only() {
    let other = Server::start(|_, _| ok("other")).await;
    let other_port = other.port;
    let home = Server::start(move |req, _| match req.target.as_str() {
        "/away" => redirect("308 Permanent Redirect", &format!("http://localhost:{other_port}/landed")),
        "/stay" => redirect("302 Found", "/here"),
        _ => ok("home"),
    })
    .await;
    let net = Net::new();
    let p = policy(&["127.0.0.1:*", "localhost:*"], true);
    let headers = [("Authorization", "Basic dXNlcjpwdw=="), ("Cookie", "session=1"), ("X-Other", "plain")];
    net.fetch(&p, with_headers(&home.url("/stay"), &headers)).await.unwrap();
    net.fetch(&p, with_headers(&home.url("/away"), &headers)).await.unwrap();
    let here = home.seen().into_iter().find(|s| s.target == "/here").unwrap();
    assert_eq!((here.header("authorization"), here.header("cookie")), (Some("Basic dXNlcjpwdw=="), Some("session=1")));
    let landed = &other.seen()[0];
    assert_eq!((landed.header("authorization"), landed.header("cookie")), (None, None));
    assert_eq!(landed.header("x-other"), Some("plain"));
}

#[test]
fn secrets_are_not_sent_after_a_redirect_from_https_to_http() {
    let p = policy(&["*:*"], true);
    let req = Prepared::new(&p, with_headers("https://127.0.0.1/", &[("X-Api-Key", "{{secrets.KEY}}")])).unwrap();
    let host = HostName::Ip("127.0.0.1".parse().unwrap());
    let first = req.render_headers(&p, &host, &Via(None), false).unwrap();
    assert_eq!(first.get("x-api-key").unwrap(), SECRET);
    assert!(first.get("x-api-key").unwrap().is_sensitive());
    let redirected = Via(Some("127.0.0.1".into()));
    assert_eq!(req.render_headers(&p, &host, &redirected, false).unwrap().get("x-api-key").unwrap(), SECRET);
    assert!(req.render_headers(&p, &host, &redirected, true).unwrap().get("x-api-key").is_none());
}

#[test]
fn fetch_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let net = Net::new();
    let p = policy(&[], false);
    let fut = net.fetch(&p, get("http://127.0.0.1/"));
    assert_send(&fut);
}

/// A redirect from an allowed public host to a private address is refused on
/// that hop for being private, not merely for its host name (the loopback
/// servers above cannot be a public first hop, so the hop check is tested
/// directly; `follow` runs it on every hop).
#[test]
fn a_redirect_hop_to_a_private_address_is_refused_as_private() {
    let via = Via(Some("example.org".into()));
    for (url, kind) in [
        ("http://127.0.0.1:8080/admin", "a loopback address"),
        ("http://10.1.2.3/", "a private address"),
        ("http://[::1]/", "a loopback address"),
        ("http://169.254.10.1/", "a link-local address"),
    ] {
        let err = check_target(&policy(&["*:*"], false), &Url::parse(url).unwrap(), &via).unwrap_err();
        let NetError::Refused { reason, key, .. } = &err else { panic!("{url}: {err}") };
        assert_eq!(key, "network.allow_private", "{url}");
        assert!(
            reason.contains(kind) && reason.ends_with("; it was reached by a redirect from example.org"),
            "{reason}"
        );
    }
}

/// Names are checked where they are resolved, for every connection a hop makes.
#[tokio::test]
async fn the_resolver_refuses_names_of_private_addresses() {
    let refused = CheckedResolver { allow_private: false }.resolve("localhost".parse().unwrap()).await;
    let err = refused.err().expect("localhost is loopback").to_string();
    assert!(err.starts_with("localhost resolves to ") && err.contains("loopback"), "{err}");
    let allowed = CheckedResolver { allow_private: true }.resolve("localhost".parse().unwrap()).await;
    assert!(allowed.is_ok());
}
