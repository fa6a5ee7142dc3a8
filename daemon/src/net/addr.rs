//! The policy-free half of the network layer: what an IP address is, and whether a host matches
//! an `allow_hosts` / `secrets.NAME.hosts` pattern.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use reqwest::Url;

/// What a destination address is, as far as the network policy cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AddrClass {
    /// Globally routable: reachable whenever the host is allowed.
    Public,
    /// Reachable only with `network.allow_private`. The text completes "ADDR is …", e.g.
    /// "a private address".
    Special(String),
    /// A cloud metadata endpoint: never reachable, see [`METADATA_V4`].
    Metadata,
}

/// Cloud instance-metadata endpoints. They are refused even with `network.allow_private`:
/// that switch exists so tools can reach services the user runs (a local model server, a LAN
/// wiki), whereas these endpoints hand out the *machine's* cloud credentials and identity,
/// which no tool has a reason to see and which are the classic prize of request forgery.
const METADATA_V4: [Ipv4Addr; 3] = [
    Ipv4Addr::new(169, 254, 169, 254), // AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack…
    Ipv4Addr::new(169, 254, 170, 2),   // AWS ECS task-role credentials
    Ipv4Addr::new(100, 100, 100, 200), // Alibaba Cloud
];
const METADATA_V6: [Ipv6Addr; 1] = [
    Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254), // AWS (Nitro, IPv6)
];

pub(crate) fn classify(ip: IpAddr) -> AddrClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    if METADATA_V4.contains(&ip) {
        return AddrClass::Metadata;
    }
    let [a, b, c, _] = ip.octets();
    let what = match (a, b, c) {
        _ if ip.is_broadcast() => "the broadcast address",
        (0, ..) => "an unspecified (0.0.0.0/8, \"this network\") address",
        (10, ..) | (172, 16..=31, _) | (192, 168, _) => "a private address",
        (100, 64..=127, _) => "a shared (carrier-grade NAT, 100.64.0.0/10) address",
        (127, ..) => "a loopback address",
        (169, 254, _) => "a link-local address",
        (192, 0, 0) => "an IETF protocol-assignment (192.0.0.0/24) address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (192, 88, 99) => "a 6to4 relay anycast (192.88.99.0/24) address",
        (198, 18..=19, _) => "a benchmarking (198.18.0.0/15) address",
        (224..=239, ..) => "a multicast address",
        (240..=255, ..) => "a reserved (240.0.0.0/4) address",
        _ => return AddrClass::Public,
    };
    AddrClass::Special(what.to_owned())
}

fn classify_v6(ip: Ipv6Addr) -> AddrClass {
    if METADATA_V6.contains(&ip) {
        return AddrClass::Metadata;
    }
    if ip.is_unspecified() {
        return AddrClass::Special("the unspecified address".to_owned());
    }
    if ip.is_loopback() {
        return AddrClass::Special("a loopback address".to_owned());
    }
    // These forms end up at their embedded IPv4 address (through the local stack, a NAT64
    // translator or a 6to4/Teredo relay), so that address is what gets judged: otherwise
    // `[::ffff:127.0.0.1]` would be a way around the IPv4 rules.
    if let Some((v4, form)) = embedded_v4(ip) {
        return match classify_v4(v4) {
            AddrClass::Special(what) => AddrClass::Special(format!("{form} of {v4}, {what}")),
            other => other,
        };
    }
    let s = ip.segments();
    let what = match s[0] {
        0xfc00..=0xfdff => "a unique-local address",
        0xfe80..=0xfebf => "a link-local address",
        0xfec0..=0xfeff => "a site-local address",
        0xff00..=0xffff => "a multicast address",
        0x2001 if s[1] == 0x0db8 => "a documentation address",
        0x3fff if s[1] < 0x1000 => "a documentation address",
        0x2001 if s[1] == 0x0002 && s[2] == 0 => "a benchmarking (2001:2::/48) address",
        0x2001 if s[1] < 0x0200 => "an IETF protocol-assignment (2001::/23) address",
        0x0064 if s[1] == 0xff9b && s[2] == 0x0001 => "a local-use NAT64 (64:ff9b:1::/48) address",
        // Everything routable on the Internet is in 2000::/3; treating the rest as special is
        // an allowlist, so ranges assigned later are refused rather than missed.
        0x2000..=0x3fff => return AddrClass::Public,
        _ => "a reserved (outside 2000::/3) address",
    };
    AddrClass::Special(what.to_owned())
}

/// The IPv4 address an IPv6 address carries, with a phrase naming the form.
fn embedded_v4(ip: Ipv6Addr) -> Option<(Ipv4Addr, &'static str)> {
    let s = ip.segments();
    let low = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some((low(hi, lo), "an IPv4-mapped form")),
        [0, 0, 0, 0, 0, 0, hi, lo] => Some((low(hi, lo), "an IPv4-compatible form")),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some((low(hi, lo), "a NAT64 (64:ff9b::/96) form")),
        [0x2002, hi, lo, ..] => Some((low(hi, lo), "a 6to4 form")),
        // Teredo stores the client's IPv4 address inverted in the last 32 bits.
        [0x2001, 0, _, _, _, _, hi, lo] => Some((low(!hi, !lo), "a Teredo form")),
        _ => None,
    }
}

/// A host in the form policies compare: IP literals parsed, names in the lowercase ASCII
/// (punycode) form the `url` crate produces, without a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostName {
    Ip(IpAddr),
    Domain(String),
}

impl HostName {
    pub(crate) fn of(url: &Url) -> Option<HostName> {
        let host = url.host_str().filter(|h| !h.is_empty())?;
        // `url` has already turned every IPv4 spelling (`0x7f.1`, `2130706433`…) into dotted
        // decimal and bracketed IPv6, so a parse failure here means a domain name.
        let unbracketed = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Some(HostName::Ip(ip));
        }
        let name = host.strip_suffix('.').unwrap_or(host);
        (!name.is_empty()).then(|| HostName::Domain(name.to_ascii_lowercase()))
    }

    /// Parses a pattern's host part the way a URL's host would be parsed, so that a policy
    /// may be written with Unicode names, capitals or a trailing dot and still match.
    fn from_pattern(pattern: &str) -> Option<HostName> {
        let unbracketed = pattern.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(pattern);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Some(HostName::Ip(ip));
        }
        // Anything that would make the URL below mean more than a host (a port, a path,
        // credentials) makes the pattern invalid rather than silently broader.
        if pattern.is_empty() || pattern.contains([':', '/', '\\', '@', '?', '#', '[', ']', '*', ' ']) {
            return None;
        }
        HostName::of(&Url::parse(&format!("http://{pattern}/")).ok()?)
    }
}

/// Whether `host` matches one policy pattern.
///
/// - `*` matches every host, IP literals included (addresses are still checked separately);
/// - `example.org` matches that name only (case-insensitive, trailing dot ignored, IDN
///   compared in punycode);
/// - `*.example.org` matches names below `example.org` at any depth but not `example.org`
///   itself, as with TLS wildcards: a policy that wants both lists both, so granting
///   subdomains never silently grants the apex (whose owner may differ in practice, e.g.
///   hosting platforms) nor the other way round;
/// - an IP literal host matches only a pattern that is the same address (`127.0.0.1`,
///   `::1` or `[::1]`), never a wildcard name pattern.
///
/// An invalid pattern matches nothing.
pub(crate) fn host_matches(pattern: &str, host: &HostName) -> bool {
    let pattern = pattern.trim();
    if pattern == "*" {
        return true;
    }
    if let Some(parent) = pattern.strip_prefix("*.") {
        let (Some(HostName::Domain(parent)), HostName::Domain(name)) = (HostName::from_pattern(parent), host) else {
            return false;
        };
        return name.len() > parent.len() + 1
            && name.ends_with(parent.as_str())
            && name.as_bytes()[name.len() - parent.len() - 1] == b'.';
    }
    HostName::from_pattern(pattern).as_ref() == Some(host)
}

/// Which ports a host pattern allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PortRule {
    /// No port written: the scheme's default port only (80, 443).
    Default,
    /// `host:*`: any port.
    Any,
    /// `host:8080`.
    Exact(u16),
}

impl PortRule {
    fn allows(self, port: u16, default_port: u16) -> bool {
        match self {
            PortRule::Default => port == default_port,
            PortRule::Any => true,
            PortRule::Exact(p) => port == p,
        }
    }

    /// Whether every port `inner` allows, `self` allows too.
    pub(crate) fn covers(self, inner: PortRule) -> bool {
        self == PortRule::Any || self == inner
    }
}

/// A pattern split into its host part and its port rule: `example.org`,
/// `example.org:8080`, `example.org:*`, `[::1]:8080`, `::1`, `*`, `*:*`.
/// `None` when the port part is not a port.
pub(crate) fn split_port(pattern: &str) -> Option<(&str, PortRule)> {
    let pattern = pattern.trim();
    let rule = |p: &str| -> Option<PortRule> {
        match p {
            "*" => Some(PortRule::Any),
            _ if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => {
                p.parse().ok().filter(|&n| n > 0).map(PortRule::Exact)
            }
            _ => None,
        }
    };
    if let Some(rest) = pattern.strip_prefix('[') {
        let end = rest.find(']')?;
        let host = &pattern[..end + 2];
        return match &rest[end + 1..] {
            "" => Some((host, PortRule::Default)),
            after => Some((host, rule(after.strip_prefix(':')?)?)),
        };
    }
    if pattern.parse::<Ipv6Addr>().is_ok() {
        return Some((pattern, PortRule::Default));
    }
    match pattern.rsplit_once(':') {
        Some((host, port)) => Some((host, rule(port)?)),
        None => Some((pattern, PortRule::Default)),
    }
}

/// The default port of a URL scheme.
pub(crate) fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

/// Whether a request to `host` on `port` (whose scheme's default is
/// `default_port`) matches one of `patterns`, ports included.
pub(crate) fn any_matches(patterns: &[String], host: &HostName, port: u16, default_port: u16) -> bool {
    patterns.iter().any(|p| match split_port(p) {
        Some((h, rule)) => rule.allows(port, default_port) && host_matches(h, host),
        None => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(ip: &str) -> AddrClass {
        classify(ip.parse().unwrap())
    }

    fn special(ip: &str) -> String {
        match class(ip) {
            AddrClass::Special(what) => what,
            other => panic!("{ip} classified as {other:?}, expected special"),
        }
    }

    #[test]
    fn public_addresses() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:db9::1",
            "3fff:1000::1",
        ] {
            assert_eq!(class(ip), AddrClass::Public, "{ip}");
        }
    }

    #[test]
    fn special_ipv4_ranges() {
        for (ip, what) in [
            ("0.0.0.0", "an unspecified (0.0.0.0/8, \"this network\") address"),
            ("0.255.255.255", "an unspecified (0.0.0.0/8, \"this network\") address"),
            ("10.0.0.5", "a private address"),
            ("10.255.255.255", "a private address"),
            ("172.16.0.0", "a private address"),
            ("172.31.255.255", "a private address"),
            ("192.168.1.1", "a private address"),
            ("100.64.0.0", "a shared (carrier-grade NAT, 100.64.0.0/10) address"),
            ("100.127.255.255", "a shared (carrier-grade NAT, 100.64.0.0/10) address"),
            ("127.0.0.1", "a loopback address"),
            ("127.255.0.9", "a loopback address"),
            ("169.254.0.1", "a link-local address"),
            ("169.254.169.253", "a link-local address"),
            ("192.0.0.8", "an IETF protocol-assignment (192.0.0.0/24) address"),
            ("192.0.2.1", "a documentation address"),
            ("198.51.100.7", "a documentation address"),
            ("203.0.113.255", "a documentation address"),
            ("192.88.99.1", "a 6to4 relay anycast (192.88.99.0/24) address"),
            ("198.18.0.1", "a benchmarking (198.18.0.0/15) address"),
            ("198.19.255.255", "a benchmarking (198.18.0.0/15) address"),
            ("224.0.0.1", "a multicast address"),
            ("239.255.255.250", "a multicast address"),
            ("240.0.0.1", "a reserved (240.0.0.0/4) address"),
            ("255.255.255.254", "a reserved (240.0.0.0/4) address"),
            ("255.255.255.255", "the broadcast address"),
        ] {
            assert_eq!(special(ip), what, "{ip}");
        }
    }

    #[test]
    fn special_ipv6_ranges() {
        for (ip, what) in [
            ("::", "the unspecified address"),
            ("::1", "a loopback address"),
            ("fc00::1", "a unique-local address"),
            ("fdff:ffff::1", "a unique-local address"),
            ("fe80::1", "a link-local address"),
            ("febf::1", "a link-local address"),
            ("fec0::1", "a site-local address"),
            ("ff02::1", "a multicast address"),
            ("2001:db8::1", "a documentation address"),
            ("3fff::1", "a documentation address"),
            ("2001:2::1", "a benchmarking (2001:2::/48) address"),
            ("2001:1::1", "an IETF protocol-assignment (2001::/23) address"),
            ("64:ff9b:1::1", "a local-use NAT64 (64:ff9b:1::/48) address"),
            ("100::1", "a reserved (outside 2000::/3) address"),
            ("4000::1", "a reserved (outside 2000::/3) address"),
            ("::ffff:0:7f00:1", "a reserved (outside 2000::/3) address"),
        ] {
            assert_eq!(special(ip), what, "{ip}");
        }
    }

    #[test]
    fn ipv6_forms_are_judged_by_their_ipv4_address() {
        for (ip, what) in [
            ("::ffff:127.0.0.1", "an IPv4-mapped form of 127.0.0.1, a loopback address"),
            ("::ffff:10.0.0.5", "an IPv4-mapped form of 10.0.0.5, a private address"),
            ("::ffff:0.0.0.0", "an IPv4-mapped form of 0.0.0.0, an unspecified (0.0.0.0/8, \"this network\") address"),
            ("::192.168.0.1", "an IPv4-compatible form of 192.168.0.1, a private address"),
            ("64:ff9b::a00:1", "a NAT64 (64:ff9b::/96) form of 10.0.0.1, a private address"),
            ("64:ff9b::7f00:1", "a NAT64 (64:ff9b::/96) form of 127.0.0.1, a loopback address"),
            ("2002:c0a8:101::1", "a 6to4 form of 192.168.1.1, a private address"),
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", "a Teredo form of 127.0.0.1, a loopback address"),
        ] {
            assert_eq!(special(ip), what, "{ip}");
        }
    }

    #[test]
    fn metadata_addresses_in_every_spelling() {
        for ip in [
            "169.254.169.254",
            "169.254.170.2",
            "100.100.100.200",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "::169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::",
        ] {
            assert_eq!(class(ip), AddrClass::Metadata, "{ip}");
        }
    }

    fn host(url: &str) -> HostName {
        HostName::of(&Url::parse(url).unwrap()).unwrap()
    }

    #[test]
    fn host_names_are_normalised() {
        assert_eq!(host("http://ArXiv.ORG./x"), HostName::Domain("arxiv.org".into()));
        assert_eq!(host("http://bücher.de/"), HostName::Domain("xn--bcher-kva.de".into()));
        assert_eq!(host("http://127.0.0.1:8080/"), HostName::Ip("127.0.0.1".parse().unwrap()));
        assert_eq!(host("http://2130706433/"), HostName::Ip("127.0.0.1".parse().unwrap()));
        assert_eq!(host("http://0x7f.1/"), HostName::Ip("127.0.0.1".parse().unwrap()));
        assert_eq!(host("http://[::1]/"), HostName::Ip("::1".parse().unwrap()));
    }

    #[test]
    fn exact_patterns() {
        assert!(host_matches("arxiv.org", &host("https://arxiv.org/abs/1")));
        assert!(host_matches("ARXIV.org.", &host("https://arxiv.org./")));
        assert!(host_matches(" arxiv.org ", &host("https://ARXIV.ORG/")));
        assert!(host_matches("bücher.de", &host("https://xn--bcher-kva.de/")));
        assert!(host_matches("xn--bcher-kva.de", &host("https://bücher.de/")));
        assert!(!host_matches("arxiv.org", &host("https://export.arxiv.org/")));
        assert!(!host_matches("arxiv.org", &host("https://arxiv.org.evil.com/")));
        assert!(!host_matches("arxiv.org", &host("https://evilarxiv.org/")));
    }

    #[test]
    fn wildcard_patterns() {
        let p = "*.wikipedia.org";
        assert!(host_matches(p, &host("https://en.wikipedia.org/")));
        assert!(host_matches(p, &host("https://a.b.wikipedia.org/")));
        assert!(host_matches(p, &host("https://EN.Wikipedia.org./")));
        assert!(!host_matches(p, &host("https://wikipedia.org/")), "the apex is not a subdomain");
        assert!(!host_matches(p, &host("https://enwikipedia.org/")));
        assert!(!host_matches(p, &host("https://wikipedia.org.evil.com/")));
        assert!(!host_matches(p, &host("http://10.0.0.1/")));
        assert!(host_matches("*.bücher.de", &host("https://www.xn--bcher-kva.de/")));
    }

    #[test]
    fn star_matches_everything() {
        for url in ["https://example.com/", "http://127.0.0.1/", "http://[::1]:8/", "http://x.y.z/"] {
            assert!(host_matches("*", &host(url)), "{url}");
        }
    }

    #[test]
    fn ip_patterns_match_only_the_same_address() {
        assert!(host_matches("127.0.0.1", &host("http://127.0.0.1:9/")));
        assert!(host_matches("127.0.0.1", &host("http://2130706433/")));
        assert!(host_matches("::1", &host("http://[::1]/")));
        assert!(host_matches("[::1]", &host("http://[0:0::1]/")));
        assert!(!host_matches("127.0.0.1", &host("http://127.0.0.2/")));
        assert!(!host_matches("127.0.0.1", &host("http://[::ffff:127.0.0.1]/")));
        assert!(!host_matches("127.0.0.1", &host("http://localhost/")));
        assert!(!host_matches("localhost", &host("http://127.0.0.1/")));
        assert!(!host_matches("*.0.0.1", &host("http://127.0.0.1/")));
    }

    #[test]
    fn patterns_name_their_ports() {
        let m = |p: &str, url: &str| {
            let u = Url::parse(url).unwrap();
            any_matches(
                &[p.to_owned()],
                &HostName::of(&u).unwrap(),
                u.port_or_known_default().unwrap(),
                default_port(u.scheme()),
            )
        };
        assert!(m("arxiv.org", "https://arxiv.org/"));
        assert!(m("arxiv.org", "http://arxiv.org/"));
        assert!(m("arxiv.org", "https://arxiv.org:443/"));
        assert!(!m("arxiv.org", "https://arxiv.org:8443/"), "no port written: the default port only");
        assert!(!m("arxiv.org", "http://arxiv.org:443/"), "443 is not http's default");
        assert!(m("arxiv.org:8443", "https://arxiv.org:8443/"));
        assert!(!m("arxiv.org:8443", "https://arxiv.org/"));
        assert!(m("arxiv.org:*", "http://arxiv.org:9999/"));
        assert!(m("127.0.0.1:*", "http://127.0.0.1:41234/"));
        assert!(!m("127.0.0.1", "http://127.0.0.1:41234/"));
        assert!(m("[::1]:8080", "http://[::1]:8080/"));
        assert!(!m("[::1]:8080", "http://[::1]:8081/"));
        assert!(m("::1", "http://[::1]/"));
        assert!(!m("::1", "http://[::1]:8080/"));
        assert!(m("*.wikipedia.org:*", "https://en.wikipedia.org:444/"));
        assert!(m("*", "https://example.org/"));
        assert!(!m("*", "https://example.org:444/"));
        assert!(m("*:*", "https://example.org:444/"));
        for bad in ["arxiv.org:", "arxiv.org:0", "arxiv.org:65536", "arxiv.org:http", "[::1]x", "[::1]:"] {
            assert!(split_port(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn invalid_patterns_match_nothing() {
        let h = host("http://example.com/");
        for p in [
            "",
            "*.",
            "**.example.com",
            "example.com:80",
            "example.com/",
            "u@example.com",
            "exa mple.com",
            "*example.com",
        ] {
            assert!(!host_matches(p, &h), "{p:?}");
        }
    }
}
