//! Outgoing HTTP for tools: the only way a tool's request reaches the network, so every rule of
//! the `[network]` and `[secrets]` policy sections is enforced here, on the first request and
//! again on every redirect hop, against a tool that is assumed to be hostile.
//!
//! # What a tool can rely on
//! - Only `http` and `https`. A URL carrying credentials (`user:pass@`) is refused: credentials
//!   belong in a header, where secrets can be substituted; credentials in a redirect's
//!   `Location` are stripped before it is followed.
//! - Redirects are followed here (never by reqwest), at most [`MAX_REDIRECTS`] of them.
//!   301/302/303 continue as GET without a body (HEAD stays HEAD), 307/308 keep the method and
//!   body. `Authorization` and `Cookie` headers are dropped when the origin changes, as
//!   browsers and reqwest do.
//! - Secrets: a header value may contain `{{secrets.NAME}}` (exactly that spelling; NAME is
//!   letters, digits and `_`). The daemon replaces it with the secret's value on each hop whose
//!   host matches `secrets.NAME.hosts`; if the first host does not match, the request is
//!   refused; on a redirect to a host that does not match (or from https to plain http), the
//!   header is dropped. Placeholders are recognised nowhere else (not in the URL or body).
//!   The value never appears in errors or in the response: any echo of it is replaced by the
//!   placeholder.
//! - `Accept-Encoding: identity` is always sent, so bodies arrive as the server stored them
//!   and `max_body_bytes` bounds what the tool receives, not a compressed prefix of it.
//! - The body is streamed and cut at `max_body_bytes` (`truncated = true`); `timeout` bounds
//!   the whole fetch, redirects and download included.

mod addr;
pub mod scrub;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::error::Error as _;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};

pub(crate) use addr::split_port;
use addr::{AddrClass, HostName, any_matches, classify, default_port};
use scrub::Scrubber;

/// Redirects followed before giving up; the same limit as browsers' order of magnitude and
/// reqwest's default.
pub const MAX_REDIRECTS: usize = 10;
const DEFAULT_USER_AGENT: &str = "fathom/0.1";
/// Backstop for a single TCP+TLS connect; the policy's `timeout` usually cuts in first.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const ALLOW_HOSTS: &str = "network.allow_hosts";
const ALLOW_PRIVATE: &str = "network.allow_private";

/// The `[network]` and `[secrets]` policy sections of one tool, already parsed.
#[derive(Debug, Clone)]
pub struct NetPolicy {
    /// Host patterns: `example.org`; `*.example.org` (subdomains at any depth, not the apex);
    /// `*` (any host); or an IP address, which is the only pattern an IP-literal URL matches.
    pub allow_hosts: Vec<String>,
    /// Lets requests reach loopback, private, link-local and other non-public addresses (never
    /// cloud metadata endpoints).
    pub allow_private: bool,
    pub max_body_bytes: u64,
    /// Limit for the whole fetch: every hop's connect, request and response, and the download.
    pub timeout: Duration,
    pub secrets: Vec<SecretGrant>,
}

/// One `[secrets]` entry: `NAME = { hosts = [...] }`, with the value from the daemon's environment.
#[derive(Clone)]
pub struct SecretGrant {
    pub name: String,
    /// `None` when the daemon's environment lacks the variable.
    pub value: Option<String>,
    /// Host patterns the value may be sent to, matched like `allow_hosts`.
    pub hosts: Vec<String>,
}

/// Written by hand so that logging a policy never logs a secret.
impl std::fmt::Debug for SecretGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretGrant")
            .field("name", &self.name)
            .field("value", &self.value.as_ref().map(|_| "<redacted>"))
            .field("hosts", &self.hosts)
            .finish()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Any token; case is normalised to upper. CONNECT is refused.
    pub method: String,
    pub url: String,
    /// Values may contain `{{secrets.NAME}}`.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// The URL of the last hop, after redirects.
    pub url: String,
    /// Without hop-by-hop headers; non-UTF-8 values are converted lossily.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The server had more than `max_body_bytes` to send.
    pub truncated: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The policy forbids the request. `reason` is the whole explanation, naming `key`, the
    /// policy setting that would allow it (e.g. `network.allow_hosts`, `secrets.NAME.hosts`).
    #[error("request to {host} refused: {reason}")]
    Refused { host: String, reason: String, key: String },
    /// The network let us down (DNS, connect, TLS, timeout, a bad redirect); names the host.
    #[error("{0}")]
    Failed(String),
    /// The tool's request is malformed; nothing was sent.
    #[error("bad request: {0}")]
    BadRequest(String),
}

impl NetError {
    fn refused(url: &Url, reason: impl Into<String>, key: impl Into<String>, via: &Via) -> NetError {
        NetError::Refused { host: host_label(url), reason: format!("{}{via}", reason.into()), key: key.into() }
    }
}

/// The shared HTTP machinery. Cloning is cheap (reqwest clients are reference-counted), so one
/// `Net` serves the whole daemon.
#[derive(Clone)]
pub struct Net {
    /// Used when `allow_private` is false: its resolver refuses every non-public address.
    public_only: reqwest::Client,
    /// Used when `allow_private` is true: its resolver refuses only metadata endpoints.
    any_address: reqwest::Client,
}

impl Default for Net {
    fn default() -> Self {
        Self::new()
    }
}

impl Net {
    /// # Panics
    /// If the TLS backend cannot be set up, which is a build or installation defect.
    pub fn new() -> Net {
        // reqwest is built without a default crypto provider. The daemon installs ring at
        // startup; doing it here as well (an error only means one is already installed) keeps
        // `Net` usable on its own.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Net { public_only: client(false), any_address: client(true) }
    }

    pub async fn fetch(&self, policy: &NetPolicy, req: Request) -> Result<Response, NetError> {
        let prepared = Prepared::new(policy, req)?;
        let redactor = Redactor::new(policy, &prepared.headers);
        let current = Mutex::new(host_label(&prepared.url));
        let result = match tokio::time::timeout(policy.timeout, self.follow(policy, prepared, &current)).await {
            Ok(result) => result,
            Err(_) => Err(NetError::Failed(format!(
                "request to {} timed out after {:?}: the whole request, redirects and download included, must end within the tool call's time limit (sandbox.call_timeout_secs)",
                current.lock().unwrap_or_else(|e| e.into_inner()),
                policy.timeout
            ))),
        };
        match result {
            Ok(response) => Ok(redactor.response(response)),
            Err(err) => Err(redactor.error(err)),
        }
    }

    /// `current` names the host being talked to, for the timeout message.
    async fn follow(
        &self,
        policy: &NetPolicy,
        mut req: Prepared,
        current: &Mutex<String>,
    ) -> Result<Response, NetError> {
        let client = if policy.allow_private { &self.any_address } else { &self.public_only };
        let started_https = req.url.scheme() == "https";
        let mut via = Via(None);
        let mut redirects = 0;
        loop {
            let host = check_target(policy, &req.url, &via)?;
            *current.lock().unwrap_or_else(|e| e.into_inner()) = host_label(&req.url);
            let downgraded = started_https && req.url.scheme() == "http";
            let headers = req.render_headers(policy, &host, &via, downgraded)?;
            #[cfg(test)]
            tests::assert_loopback(&req.url);
            let mut builder = client.request(req.method.clone(), req.url.clone()).headers(headers);
            if let Some(body) = &req.body {
                builder = builder.body(body.clone());
            }
            let response = builder.send().await.map_err(|e| send_error(e, &req.url, &via))?;
            let Some(next) = redirect_target(&response, &req.url)? else {
                return read_response(response, req.url, policy.max_body_bytes).await;
            };
            if redirects == MAX_REDIRECTS {
                return Err(NetError::Failed(format!(
                    "request to {} stopped after {MAX_REDIRECTS} redirects (the last one pointed to {next})",
                    host_label(&req.url)
                )));
            }
            redirects += 1;
            via = Via(Some(host_label(&req.url)));
            req.redirect(response.status().as_u16(), next);
        }
    }
}

fn client(allow_private: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_rustls()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .referer(false)
        .connect_timeout(CONNECT_TIMEOUT)
        .dns_resolver(CheckedResolver { allow_private })
        .build()
        .expect("building the HTTP client (is a rustls crypto provider available?)")
}

/// Resolves names for the reqwest clients and fails the lookup when any address is not allowed.
///
/// This is what defeats DNS rebinding: the addresses checked are the very ones hyper connects
/// to, because they come out of this one lookup. Checking in `fetch` and letting the client
/// resolve again would leave a window in which a hostile DNS server answers the check with a
/// public address and the connection with 127.0.0.1. (IP-literal URLs never reach a resolver,
/// so [`check_target`] checks those.)
///
/// There is one client per value of `allow_private`, so a pooled keep-alive connection is only
/// reused for requests judged by the rule that admitted its address; `allow_hosts`, the other
/// per-policy input, is checked on the name before every send, pooled or not. This costs two
/// clients built once, instead of a client (and TLS setup) per request.
struct CheckedResolver {
    allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let lookup = tokio::net::lookup_host((host.as_str(), 0)).await.map(Iterator::collect::<Vec<SocketAddr>>);
            let addrs = match lookup {
                Ok(addrs) => addrs,
                Err(source) => return Err(Box::new(ResolveError::Lookup { host, source }) as _),
            };
            if addrs.is_empty() {
                return Err(Box::new(ResolveError::NoAddresses { host }) as _);
            }
            for addr in &addrs {
                if let Err(reason) = check_addr(addr.ip(), Some(&host), allow_private) {
                    return Err(Box::new(ResolveError::Refused { reason }) as _);
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Travels through reqwest's error chain from [`CheckedResolver`] to [`send_error`].
#[derive(Debug, thiserror::Error)]
enum ResolveError {
    #[error("could not resolve {host}: {source}")]
    Lookup { host: String, source: std::io::Error },
    #[error("{host} resolved to no addresses")]
    NoAddresses { host: String },
    #[error("{reason}")]
    Refused { reason: String },
}

/// Whether a destination address may be connected to; the error is a refusal reason whose
/// policy key is always `network.allow_private`.
fn check_addr(ip: std::net::IpAddr, name: Option<&str>, allow_private: bool) -> Result<(), String> {
    let subject = match name {
        Some(name) => format!("{name} resolves to {ip}, which is"),
        None => format!("{ip} is"),
    };
    match classify(ip) {
        AddrClass::Public => Ok(()),
        AddrClass::Special(_) if allow_private => Ok(()),
        AddrClass::Special(what) => Err(format!("{subject} {what} (set {ALLOW_PRIVATE} = true to allow it)")),
        AddrClass::Metadata => Err(format!(
            "{subject} a cloud metadata endpoint, refused even with {ALLOW_PRIVATE} = true because it hands out the machine's credentials"
        )),
    }
}

/// The redirect that led to the current hop, appended to refusals and failures.
struct Via(Option<String>);

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(from) => write!(f, "; it was reached by a redirect from {from}"),
            None => Ok(()),
        }
    }
}

/// The host as error messages show it: `example.org`, `10.0.0.5`, `[::1]`.
fn host_label(url: &Url) -> String {
    url.host_str().map_or_else(|| url.to_string(), str::to_owned)
}

/// `host:port`, for connection failures where the port matters.
fn target_label(url: &Url) -> String {
    match url.port_or_known_default() {
        Some(port) => format!("{}:{port}", host_label(url)),
        None => host_label(url),
    }
}

/// The URL and name checks of one hop; addresses of names are checked by [`CheckedResolver`].
fn check_target(policy: &NetPolicy, url: &Url, via: &Via) -> Result<HostName, NetError> {
    // A bad URL is the tool's mistake on the first hop and the server's on later ones.
    let invalid = |problem: String| match &via.0 {
        None => NetError::BadRequest(problem),
        Some(from) => NetError::Failed(format!("{from} redirected to {url}, which was not followed: {problem}")),
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!("unsupported URL scheme \"{}\" (only http and https are allowed)", url.scheme())));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "the URL contains credentials (user:password@); send them in a header instead, as {{secrets.NAME}} for a secret"
                .to_owned(),
        ));
    }
    let Some(host) = HostName::of(url) else {
        return Err(invalid(format!("the URL {url} has no host")));
    };
    if policy.allow_hosts.is_empty() {
        return Err(NetError::refused(
            url,
            format!("this policy allows no network access ({ALLOW_HOSTS} is empty)"),
            ALLOW_HOSTS,
            via,
        ));
    }
    let (port, default) = (url.port_or_known_default().unwrap_or(0), default_port(url.scheme()));
    if !any_matches(&policy.allow_hosts, &host, port, default) {
        return Err(NetError::refused(
            url,
            format!("the host is not in {ALLOW_HOSTS} (allowed: {})", policy.allow_hosts.join(", ")),
            ALLOW_HOSTS,
            via,
        ));
    }
    if let HostName::Ip(ip) = host {
        check_addr(ip, None, policy.allow_private)
            .map_err(|reason| NetError::refused(url, reason, ALLOW_PRIVATE, via))?;
    }
    Ok(host)
}

fn send_error(err: reqwest::Error, url: &Url, via: &Via) -> NetError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(cause) = source {
        if let Some(resolve) = cause.downcast_ref::<ResolveError>() {
            return match resolve {
                ResolveError::Refused { reason } => NetError::refused(url, reason.as_str(), ALLOW_PRIVATE, via),
                other => NetError::Failed(format!("{other}{via}")),
            };
        }
        source = cause.source();
    }
    let target = target_label(url);
    if err.is_timeout() {
        NetError::Failed(format!("connecting to {target} timed out after {CONNECT_TIMEOUT:?}{via}"))
    } else if err.is_connect() {
        NetError::Failed(format!("could not connect to {target}: {}{via}", root_cause(&err)))
    } else {
        NetError::Failed(format!("request to {target} failed: {}{via}", error_chain(err.without_url())))
    }
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn error_chain(err: reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.ends_with(&part) {
            text = format!("{text}: {part}");
        }
        source = cause.source();
    }
    text
}

/// A validated request, carried from hop to hop with header values still as templates.
struct Prepared {
    method: Method,
    url: Url,
    headers: Vec<HeaderTemplate>,
    body: Option<Bytes>,
}

struct HeaderTemplate {
    name: HeaderName,
    /// May contain `{{secrets.NAME}}`; the substituted value is built per hop.
    value: String,
    /// Indices into `NetPolicy::secrets` of the secrets `value` refers to.
    secrets: Vec<usize>,
}

/// Headers that describe one connection rather than the request (RFC 9110 §7.6.1), plus
/// `Proxy-Connection`, which some clients still send. Host and Content-Length are computed
/// by the client from the URL and body; a tool setting them could desynchronise the request.
const HOP_BY_HOP: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
];
/// Dropped with the body when a redirect turns the request into a GET (as the Fetch standard does).
const BODY_HEADERS: [&str; 4] = ["content-type", "content-encoding", "content-language", "content-location"];
const PLACEHOLDER_OPEN: &str = "{{secrets.";

/// Splits off the first `{{secrets.NAME}}` as (text before, NAME, text after).
fn next_secret_ref(text: &str) -> Result<Option<(&str, &str, &str)>, String> {
    let Some(start) = text.find(PLACEHOLDER_OPEN) else { return Ok(None) };
    let rest = &text[start + PLACEHOLDER_OPEN.len()..];
    let end = rest.find("}}").unwrap_or(rest.len());
    let name = &rest[..end];
    if end == rest.len() || name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        let shown: String = text[start..].chars().take(40).collect();
        return Err(format!(
            "malformed secret reference \"{shown}\" (write {{{{secrets.NAME}}}}, NAME being letters, digits and _)"
        ));
    }
    Ok(Some((&text[..start], name, &rest[end + 2..])))
}

/// Names named by `Connection` values (lowercase), which are hop-by-hop as well.
fn connection_tokens<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    values.flat_map(|v| v.split(',')).map(|t| t.trim().to_ascii_lowercase()).filter(|t| !t.is_empty()).collect()
}

impl Prepared {
    fn new(policy: &NetPolicy, req: Request) -> Result<Prepared, NetError> {
        let method = Method::from_bytes(req.method.trim().to_ascii_uppercase().as_bytes())
            .map_err(|_| NetError::BadRequest(format!("invalid HTTP method {:?}", req.method)))?;
        if method == Method::CONNECT {
            return Err(NetError::BadRequest("the CONNECT method is not supported".to_owned()));
        }
        let url =
            Url::parse(req.url.trim()).map_err(|e| NetError::BadRequest(format!("invalid URL {:?}: {e}", req.url)))?;
        let mut headers = Vec::with_capacity(req.headers.len());
        for (name, value) in req.headers {
            let name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| NetError::BadRequest(format!("invalid header name {name:?}")))?;
            if HeaderValue::from_str(&value).is_err() {
                return Err(NetError::BadRequest(format!(
                    "header {name}: the value contains a control character (such as CR, LF or NUL)"
                )));
            }
            let mut secrets = Vec::new();
            let mut rest = value.as_str();
            while let Some((_, secret, after)) =
                next_secret_ref(rest).map_err(|e| NetError::BadRequest(format!("header {name}: {e}")))?
            {
                let index = policy.secrets.iter().position(|g| g.name == secret).ok_or_else(|| {
                    NetError::BadRequest(format!(
                        "header {name} refers to {{{{secrets.{secret}}}}}, but the policy declares no secret {secret} (add it under [secrets])"
                    ))
                })?;
                secrets.push(index);
                rest = after;
            }
            headers.push(HeaderTemplate { name, value, secrets });
        }
        let named =
            connection_tokens(headers.iter().filter(|h| h.name == header::CONNECTION).map(|h| h.value.as_str()));
        headers.retain(|h| {
            let n = h.name.as_str();
            !HOP_BY_HOP.contains(&n)
                && !named.iter().any(|t| t == n)
                && h.name != header::HOST
                && h.name != header::CONTENT_LENGTH
                && h.name != header::ACCEPT_ENCODING
        });
        Ok(Prepared { method, url, headers, body: req.body.map(Bytes::from) })
    }

    /// The headers for one hop to `host`, with secrets substituted where their grant allows.
    fn render_headers(
        &self,
        policy: &NetPolicy,
        host: &HostName,
        via: &Via,
        downgraded: bool,
    ) -> Result<HeaderMap, NetError> {
        // The hop's own port: a secret bound to `host` (its default port)
        // or `host:8080` is dropped on a redirect to any other port.
        let (port, default) = (self.url.port_or_known_default().unwrap_or(0), default_port(self.url.scheme()));
        let redirected = via.0.is_some();
        let mut map = HeaderMap::with_capacity(self.headers.len() + 2);
        'headers: for h in &self.headers {
            for &i in &h.secrets {
                let grant = &policy.secrets[i];
                if !any_matches(&grant.hosts, host, port, default) {
                    if redirected {
                        continue 'headers;
                    }
                    let allowed = if grant.hosts.is_empty() { "no host".to_owned() } else { grant.hosts.join(", ") };
                    return Err(NetError::refused(
                        &self.url,
                        format!(
                            "secret {name} may only be sent to {allowed} (add the host to secrets.{name}.hosts to allow it)",
                            name = grant.name
                        ),
                        format!("secrets.{}.hosts", grant.name),
                        via,
                    ));
                }
                // A redirect to plain http would put the secret on the wire in clear text.
                if redirected && downgraded {
                    continue 'headers;
                }
                if grant.value.is_none() {
                    return Err(NetError::Failed(format!(
                        "secret {name} is declared in the policy but the daemon's environment lacks {name}",
                        name = grant.name
                    )));
                }
            }
            let value = if h.secrets.is_empty() {
                HeaderValue::from_str(&h.value).expect("checked in Prepared::new")
            } else {
                let mut value = HeaderValue::from_str(&substitute(&h.value, policy)).map_err(|_| {
                    let bad = h.secrets.iter().map(|&i| &policy.secrets[i]).find(|g| {
                        g.value.as_deref().is_some_and(|v| HeaderValue::from_str(v).is_err())
                    });
                    NetError::Failed(format!(
                        "the value of secret {} cannot be sent in a header: it contains a control character such as a newline",
                        bad.map_or("?", |g| g.name.as_str())
                    ))
                })?;
                value.set_sensitive(true);
                value
            };
            map.append(h.name.clone(), value);
        }
        if !map.contains_key(header::USER_AGENT) {
            map.insert(header::USER_AGENT, HeaderValue::from_static(DEFAULT_USER_AGENT));
        }
        map.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        Ok(map)
    }

    fn redirect(&mut self, status: u16, next: Url) {
        if matches!(status, 301..=303) && self.method != Method::HEAD {
            self.method = Method::GET;
            self.body = None;
            self.headers.retain(|h| !BODY_HEADERS.contains(&h.name.as_str()));
        }
        // Headers carrying secrets follow their grant instead (see `render_headers`).
        if self.url.origin() != next.origin() {
            self.headers
                .retain(|h| !h.secrets.is_empty() || (h.name != header::AUTHORIZATION && h.name != header::COOKIE));
        }
        self.url = next;
    }
}

/// Replaces placeholders in one pass, so a secret's value is never itself scanned for
/// placeholders (which would smuggle in a secret whose grant was not checked).
fn substitute(template: &str, policy: &NetPolicy) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Ok(Some((before, name, after))) = next_secret_ref(rest) {
        out.push_str(before);
        let value = policy.secrets.iter().find(|g| g.name == name).and_then(|g| g.value.as_deref());
        out.push_str(value.unwrap_or_default());
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The next URL if `response` is a redirect we follow; 300, 304, 305 and redirects without a
/// `Location` are returned to the tool as they are.
fn redirect_target(response: &reqwest::Response, current: &Url) -> Result<Option<Url>, NetError> {
    if !matches!(response.status().as_u16(), 301..=303 | 307 | 308) {
        return Ok(None);
    }
    let Some(location) = response.headers().get(header::LOCATION) else { return Ok(None) };
    let location = String::from_utf8_lossy(location.as_bytes());
    let mut next = current.join(location.trim()).map_err(|e| {
        NetError::Failed(format!("{} sent an invalid redirect location {location:?}: {e}", host_label(current)))
    })?;
    // reqwest would turn URL credentials into an Authorization header the server chose.
    let _ = next.set_username("");
    let _ = next.set_password(None);
    Ok(Some(next))
}

async fn read_response(mut response: reqwest::Response, url: Url, cap: u64) -> Result<Response, NetError> {
    let status = response.status().as_u16();
    let named =
        connection_tokens(response.headers().get_all(header::CONNECTION).iter().filter_map(|v| v.to_str().ok()));
    let headers = response
        .headers()
        .iter()
        .filter(|(name, _)| !HOP_BY_HOP.contains(&name.as_str()) && !named.iter().any(|t| t == name.as_str()))
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let (body, truncated) = read_capped(&mut response, cap).await.map_err(|e| {
        NetError::Failed(format!(
            "reading the response from {} failed: {}",
            target_label(&url),
            error_chain(e.without_url())
        ))
    })?;
    Ok(Response { status, url: url.into(), headers, body, truncated })
}

/// Reads at most `cap` bytes, chunk by chunk, so a large or endless body costs at most `cap`
/// plus one network chunk. A `Content-Length` above the cap settles truncation without waiting
/// for bytes past the cap; without one, truncation is known when a byte past the cap arrives.
async fn read_capped(response: &mut reqwest::Response, cap: u64) -> Result<(Vec<u8>, bool), reqwest::Error> {
    // Preallocation trusts the declared length only up to a modest size: it is the server's claim.
    const PREALLOCATE_MAX: u64 = 1 << 20;
    let declared = response.content_length();
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let over_cap = declared.is_some_and(|n| n > cap as u64);
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(cap as u64).min(PREALLOCATE_MAX) as usize);
    loop {
        if over_cap && body.len() == cap {
            return Ok((body, true));
        }
        let Some(chunk) = response.chunk().await? else { return Ok((body, false)) };
        let room = cap - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
}

/// Replaces secret values by their placeholders in everything handed back to the tool.
///
/// Substitution keeps a secret from the tool only if the tool cannot read it back: a granted
/// host may echo request headers (httpbin-style endpoints, error pages, a redirect whose
/// `Location` or host name copies them, which then shows up in a refusal), and a tool that
/// reads a secret can send it anywhere `allow_hosts` permits. The echo is found in its
/// common forms too (any case, reversed, hex, URL-encoded, base64, a prefix cut by the size
/// cap: see [`scrub`]); a form nobody thought of is not.
struct Redactor(Scrubber);

impl Redactor {
    fn new(policy: &NetPolicy, headers: &[HeaderTemplate]) -> Redactor {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        for &i in headers.iter().flat_map(|h| &h.secrets) {
            let grant = &policy.secrets[i];
            if let Some(value) = grant.value.as_deref().filter(|v| !v.is_empty())
                && !pairs.iter().any(|(v, _)| *v == value)
            {
                pairs.push((value, format!("{PLACEHOLDER_OPEN}{}}}}}", grant.name)));
            }
        }
        Redactor(Scrubber::new(pairs))
    }

    fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.0.scrub(text) {
            Some(s) => Cow::Owned(s),
            None => Cow::Borrowed(text),
        }
    }

    fn string(&self, text: String) -> String {
        match self.text(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(redacted) => redacted,
        }
    }

    /// A UTF-8 secret can only occur inside a valid UTF-8 run of the body (its first byte is
    /// not a continuation byte, so no invalid sequence can swallow it), so runs are searched
    /// as text. A body cut at the cap may end in a secret's first bytes: those go too.
    fn bytes(&self, data: Vec<u8>, cut: bool) -> Vec<u8> {
        if self.0.is_empty() {
            return data;
        }
        let chunks: Vec<_> = data.utf8_chunks().collect();
        let last = chunks.len().saturating_sub(1);
        let mut changed = false;
        let mut out = Vec::with_capacity(data.len());
        for (i, chunk) in chunks.iter().enumerate() {
            let found = if cut && i == last { self.0.scrub_cut(chunk.valid()) } else { self.0.scrub(chunk.valid()) };
            changed |= found.is_some();
            out.extend_from_slice(found.as_deref().unwrap_or(chunk.valid()).as_bytes());
            out.extend_from_slice(chunk.invalid());
        }
        if changed { out } else { data }
    }

    fn response(&self, r: Response) -> Response {
        if self.0.is_empty() {
            return r;
        }
        Response {
            status: r.status,
            url: self.string(r.url),
            headers: r.headers.into_iter().map(|(n, v)| (self.string(n), self.string(v))).collect(),
            body: self.bytes(r.body, r.truncated),
            truncated: r.truncated,
        }
    }

    fn error(&self, err: NetError) -> NetError {
        match err {
            NetError::Refused { host, reason, key } => {
                NetError::Refused { host: self.string(host), reason: self.string(reason), key }
            }
            NetError::Failed(msg) => NetError::Failed(self.string(msg)),
            NetError::BadRequest(msg) => NetError::BadRequest(self.string(msg)),
        }
    }
}
