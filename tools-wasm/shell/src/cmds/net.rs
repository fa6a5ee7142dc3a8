//! wget and curl through Host::fetch.

use super::Ctx;
use crate::fsutil::{self, errmsg, human};
use crate::{HttpRequest, HttpResponse};

fn reason(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        418 => "I'm a teapot",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

fn header<'a>(r: &'a HttpResponse, name: &str) -> Option<&'a str> {
    r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Last path segment of a URL (without query/fragment), URL-decoded lightly.
fn url_filename(url: &str) -> String {
    let no_scheme = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path = match no_scheme.find('/') {
        Some(i) => &no_scheme[i..],
        None => "",
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let seg = path.rsplit('/').next().unwrap_or("");
    let mut out = String::new();
    let b = seg.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&seg[i + 1..i + 3], 16)
                && v != b'/'
                && v >= 0x20
            {
                out.push(v as char);
                i += 3;
                continue;
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

fn timestamp() -> String {
    let (s, _) = fsutil::now();
    let t = fsutil::gmtime(s, 0);
    format!("{}-{:02}-{:02} {:02}:{:02}:{:02}", t.year, t.mon, t.day, t.hour, t.min, t.sec)
}

fn normalize_url(u: &str) -> String {
    if u.contains("://") { u.to_string() } else { format!("http://{u}") }
}

fn parse_header(h: &str) -> Option<(String, String)> {
    let (k, v) = h.split_once(':')?;
    Some((k.trim().to_string(), v.trim().to_string()))
}

pub fn wget(ctx: &mut Ctx, args: &[String]) -> i32 {
    // split bundled short options: -qO- -> -q -O -
    let mut expanded = Vec::new();
    for a in args {
        let is_bundle = a.len() > 2
            && a.starts_with('-')
            && !a.starts_with("--")
            && !["-nv", "-nc", "-np", "-nd", "-nH"].contains(&a.as_str())
            && a[1..].chars().next().is_some_and(|c| "qSckvNrLO4P".contains(c))
            && !(a.starts_with("-O") || a.starts_with("-P"));
        if is_bundle {
            let cs: Vec<char> = a[1..].chars().collect();
            for (k, c) in cs.iter().enumerate() {
                if "OPUTtw".contains(*c) {
                    expanded.push(format!("-{c}"));
                    let rest: String = cs[k + 1..].iter().collect();
                    if !rest.is_empty() {
                        expanded.push(rest);
                    }
                    break;
                }
                expanded.push(format!("-{c}"));
            }
        } else {
            expanded.push(a.clone());
        }
    }
    let args = &expanded[..];
    let mut out_file: Option<String> = None;
    let mut quiet = false;
    let mut prefix: Option<String> = None;
    let mut headers = Vec::new();
    let mut body: Option<Vec<u8>> = None;
    let mut method: Option<String> = None;
    let mut no_clobber = false;
    let mut server_resp = false;
    let mut urls = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let val = |i: &mut usize, name: &str| -> Option<String> {
            if let Some(v) = a.strip_prefix(&format!("{name}=")) {
                return Some(v.to_string());
            }
            if a.len() > name.len() && name.len() == 2 && a.starts_with(name) {
                return Some(a[2..].to_string());
            }
            let v = args.get(*i).cloned();
            *i += 1;
            v
        };
        match a.as_str() {
            "-q" | "--quiet" => quiet = true,
            "-nv" | "--no-verbose" => quiet = true,
            "-S" | "--server-response" => server_resp = true,
            "-nc" | "--no-clobber" => no_clobber = true,
            "--no-check-certificate"
            | "-c"
            | "--continue"
            | "-N"
            | "--timestamping"
            | "--content-disposition"
            | "-v"
            | "--verbose"
            | "--show-progress"
            | "--progress=dot"
            | "--progress=bar"
            | "-r"
            | "--recursive"
            | "-np"
            | "-k"
            | "--no-parent"
            | "-L"
            | "--inet4-only"
            | "-4" => {}
            s if s.starts_with("-O") || s.starts_with("--output-document") => {
                out_file = val(&mut i, if s.starts_with("-O") { "-O" } else { "--output-document" })
            }
            s if s.starts_with("-P") || s.starts_with("--directory-prefix") => {
                prefix = val(&mut i, if s.starts_with("-P") { "-P" } else { "--directory-prefix" })
            }
            s if s.starts_with("--header") => {
                if let Some(h) = val(&mut i, "--header").and_then(|h| parse_header(&h)) {
                    headers.push(h);
                }
            }
            s if s.starts_with("-U") || s.starts_with("--user-agent") => {
                if let Some(u) = val(&mut i, if s.starts_with("-U") { "-U" } else { "--user-agent" }) {
                    headers.push(("User-Agent".into(), u));
                }
            }
            s if s.starts_with("--post-data") => {
                body = val(&mut i, "--post-data").map(String::into_bytes);
                method.get_or_insert("POST".into());
            }
            s if s.starts_with("--post-file") => {
                let f = val(&mut i, "--post-file").unwrap_or_default();
                match ctx.read_input("wget", &f) {
                    Some(d) => body = Some(d),
                    None => return 1,
                }
                method.get_or_insert("POST".into());
            }
            s if s.starts_with("--method") => method = val(&mut i, "--method"),
            s if s.starts_with("--body-data") => body = val(&mut i, "--body-data").map(String::into_bytes),
            s if s.starts_with("-T")
                || s.starts_with("-t")
                || s.starts_with("--timeout")
                || s.starts_with("--tries")
                || s.starts_with("--wait")
                || s.starts_with("-w") =>
            {
                if !s.contains('=') && s.len() <= 2 {
                    i += 1;
                }
            }
            s if s.starts_with('-') && s.len() > 1 => {
                ctx.errln(format!("wget: unrecognized option '{s}'"));
                ctx.errln("Usage: wget [OPTION]... [URL]...");
                return 2;
            }
            _ => urls.push(a.clone()),
        }
    }
    if urls.is_empty() {
        ctx.errln("wget: missing URL");
        ctx.errln("Usage: wget [OPTION]... [URL]...");
        return 1;
    }
    let mut st = 0;
    let mut stdout_buf = Vec::new();
    for u in &urls {
        let url = normalize_url(u);
        if !quiet {
            ctx.errln(format!("--{}--  {url}", timestamp()));
        }
        let req = HttpRequest {
            method: method.clone().unwrap_or_else(|| if body.is_some() { "POST".into() } else { "GET".into() }),
            url: url.clone(),
            headers: headers.clone(),
            body: body.clone(),
        };
        let resp = match ctx.host.fetch(req) {
            Ok(r) => r,
            Err(m) => {
                ctx.errln(format!("wget: {m}"));
                st = 4;
                continue;
            }
        };
        if !quiet {
            if resp.url != url && !resp.url.is_empty() {
                ctx.errln(format!("(redirected to {})", resp.url));
            }
            ctx.errln(format!("HTTP request sent, awaiting response... {} {}", resp.status, reason(resp.status)));
            if server_resp {
                for (k, v) in &resp.headers {
                    ctx.errln(format!("  {k}: {v}"));
                }
            }
        }
        if resp.status >= 400 {
            ctx.errln(format!("{} ERROR {}: {}.", timestamp(), resp.status, reason(resp.status)));
            st = 8;
            continue;
        }
        let ctype = header(&resp, "content-type").unwrap_or("application/octet-stream").to_string();
        let len = resp.body.len() as u64;
        let target = match &out_file {
            Some(f) => f.clone(),
            None => {
                let mut n = url_filename(&url);
                if n.is_empty() {
                    n = "index.html".into();
                }
                let n = match &prefix {
                    Some(p) => format!("{}/{n}", p.trim_end_matches('/')),
                    None => n,
                };
                if ctx.path(&n).exists() {
                    if no_clobber {
                        if !quiet {
                            ctx.errln(format!("File '{n}' already there; not retrieving."));
                        }
                        continue;
                    }
                    let mut k = 1;
                    while ctx.path(&format!("{n}.{k}")).exists() && k < 10_000 {
                        k += 1;
                    }
                    format!("{n}.{k}")
                } else {
                    n
                }
            }
        };
        if !quiet {
            ctx.errln(format!("Length: {len} ({}) [{ctype}]", human(len)));
            if target == "-" {
                ctx.errln("Saving to: 'STDOUT'");
            } else {
                ctx.errln(format!("Saving to: '{target}'"));
            }
            ctx.errln("");
        }
        if target == "-" {
            stdout_buf.extend_from_slice(&resp.body);
        } else {
            let p = ctx.path(&target);
            if let Some(par) = p.parent() {
                let _ = std::fs::create_dir_all(par);
            }
            // with -O and several URLs, wget concatenates
            let r = if out_file.is_some() && urls.len() > 1 && urls.first() != Some(u) {
                std::fs::OpenOptions::new().append(true).create(true).open(&p).and_then(|mut f| {
                    use std::io::Write;
                    f.write_all(&resp.body)
                })
            } else {
                std::fs::write(&p, &resp.body)
            };
            if let Err(e) = r {
                ctx.errln(format!("{target}: {}", errmsg(&e)));
                st = 3;
                continue;
            }
        }
        if resp.truncated {
            // A cut file must not pass for a whole one: say so and fail.
            ctx.errln(format!(
                "wget: download cut off after {len} bytes by the task's size limit (network.max_download_mb); '{target}' is incomplete"
            ));
            st = 8;
        }
        if !quiet {
            let name = if target == "-" { "-".to_string() } else { format!("'{target}'") };
            ctx.errln(format!("{} - {name} saved [{len}/{len}]", timestamp()));
            ctx.errln("");
        }
    }
    ctx.out.extend_from_slice(&stdout_buf);
    st
}

pub fn curl(ctx: &mut Ctx, args: &[String]) -> i32 {
    let mut out_file: Option<String> = None;
    let mut remote_name = false;
    let mut silent = false;
    let mut show_error = false;
    let mut head = false;
    let mut include = false;
    let mut fail = false;
    let mut verbose = false;
    let mut method: Option<String> = None;
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut data: Vec<String> = Vec::new();
    let mut write_out: Option<String> = None;
    let mut get_mode = false;
    let mut urls = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].clone();
        i += 1;
        let next = |i: &mut usize| -> Option<String> {
            let v = args.get(*i).cloned();
            *i += 1;
            v
        };
        // long options with =
        let (a, inline): (String, Option<String>) = if a.starts_with("--") {
            match a.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (a, None),
            }
        } else {
            (a, None)
        };
        let take = |i: &mut usize| inline.clone().or_else(|| next(i));
        match a.as_str() {
            "-o" | "--output" => out_file = take(&mut i),
            "-O" | "--remote-name" => remote_name = true,
            "-s" | "--silent" => silent = true,
            "-S" | "--show-error" => show_error = true,
            "-L" | "--location" | "-k" | "--insecure" | "--compressed" | "-#" | "--progress-bar" | "-N"
            | "--no-buffer" | "-g" | "--globoff" | "-4" | "-6" => {}
            "-I" | "--head" => head = true,
            "-i" | "--include" => include = true,
            "-f" | "--fail" | "--fail-with-body" => fail = true,
            "-v" | "--verbose" => verbose = true,
            "-G" | "--get" => get_mode = true,
            "-X" | "--request" => method = take(&mut i),
            "-H" | "--header" => {
                if let Some(h) = take(&mut i).and_then(|h| parse_header(&h)) {
                    headers.push(h);
                }
            }
            "-A" | "--user-agent" => {
                if let Some(u) = take(&mut i) {
                    headers.push(("User-Agent".into(), u));
                }
            }
            "-e" | "--referer" => {
                if let Some(u) = take(&mut i) {
                    headers.push(("Referer".into(), u));
                }
            }
            "-u" | "--user" => {
                if let Some(u) = take(&mut i) {
                    use base64::Engine;
                    headers.push((
                        "Authorization".into(),
                        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(u)),
                    ));
                }
            }
            "-d" | "--data" | "--data-ascii" | "--data-raw" | "--data-binary" | "--data-urlencode" | "--json" => {
                let Some(v) = take(&mut i) else { continue };
                let v = if let Some(f) = v.strip_prefix('@').filter(|_| a != "--data-raw") {
                    match ctx.read_input("curl", f) {
                        Some(d) => {
                            let s = String::from_utf8_lossy(&d).into_owned();
                            if a == "--data-binary" { s } else { s.replace(['\r', '\n'], "") }
                        }
                        None => return 26,
                    }
                } else {
                    v
                };
                if a == "--json" {
                    headers.push(("Content-Type".into(), "application/json".into()));
                    headers.push(("Accept".into(), "application/json".into()));
                }
                data.push(v);
            }
            "-w" | "--write-out" => write_out = take(&mut i),
            "-m" | "--max-time" | "--connect-timeout" | "--retry" | "--retry-delay" | "--max-redirs" | "-r"
            | "--range" | "-b" | "--cookie" | "-c" | "--cookie-jar" | "--limit-rate" => {
                let _ = take(&mut i);
            }
            "-F" | "--form" => {
                ctx.errln("curl: option -F: multipart form uploads are not supported in this sandbox");
                return 2;
            }
            "--url" => {
                if let Some(u) = take(&mut i) {
                    urls.push(u);
                }
            }
            s if s.starts_with('-') && s.len() > 1 && !s.starts_with("--") => {
                // combined short flags like -sSL, -sL, -fsSL, -sSo file
                let cs: Vec<char> = s[1..].chars().collect();
                let mut k = 0;
                while k < cs.len() {
                    match cs[k] {
                        's' => silent = true,
                        'S' => show_error = true,
                        'L' | 'k' | 'g' | 'N' | '4' | '6' | '#' => {}
                        'I' => head = true,
                        'i' => include = true,
                        'f' => fail = true,
                        'v' => verbose = true,
                        'O' => remote_name = true,
                        'G' => get_mode = true,
                        'o' | 'X' | 'H' | 'd' | 'w' | 'A' | 'u' | 'm' | 'e' => {
                            let rest: String = cs[k + 1..].iter().collect();
                            let v = if rest.is_empty() { next(&mut i) } else { Some(rest) };
                            match cs[k] {
                                'o' => out_file = v,
                                'X' => method = v,
                                'H' => {
                                    if let Some(h) = v.and_then(|h| parse_header(&h)) {
                                        headers.push(h)
                                    }
                                }
                                'd' => data.extend(v),
                                'w' => write_out = v,
                                'A' => {
                                    if let Some(u) = v {
                                        headers.push(("User-Agent".into(), u))
                                    }
                                }
                                'e' => {
                                    if let Some(u) = v {
                                        headers.push(("Referer".into(), u))
                                    }
                                }
                                'u' => {
                                    if let Some(u) = v {
                                        use base64::Engine;
                                        headers.push((
                                            "Authorization".into(),
                                            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(u)),
                                        ))
                                    }
                                }
                                _ => {}
                            }
                            break;
                        }
                        other => {
                            ctx.errln(format!("curl: option -{other}: is unknown"));
                            ctx.errln("curl: try 'curl --help' for more information");
                            return 2;
                        }
                    }
                    k += 1;
                }
            }
            s if s.starts_with("--") => {
                ctx.errln(format!("curl: option {s}: is unknown"));
                ctx.errln("curl: try 'curl --help' for more information");
                return 2;
            }
            _ => urls.push(a.clone()),
        }
    }
    if urls.is_empty() {
        ctx.errln("curl: no URL specified!");
        ctx.errln("curl: try 'curl --help' or 'curl --manual' for more information");
        return 2;
    }
    let show_err = !silent || show_error;
    let mut st = 0;
    for u in &urls {
        let mut url = normalize_url(u);
        let mut body = if data.is_empty() { None } else { Some(data.join("&").into_bytes()) };
        if get_mode && let Some(b) = body.take() {
            let q = String::from_utf8_lossy(&b).into_owned();
            url = if url.contains('?') { format!("{url}&{q}") } else { format!("{url}?{q}") };
        }
        let m = method.clone().unwrap_or_else(|| {
            if head {
                "HEAD".into()
            } else if body.is_some() {
                "POST".into()
            } else {
                "GET".into()
            }
        });
        let mut hs = headers.clone();
        if body.is_some() && !hs.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            hs.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
        }
        if verbose {
            ctx.errln(format!("> {m} {url}"));
            for (k, v) in &hs {
                ctx.errln(format!("> {k}: {v}"));
            }
        }
        let resp = match ctx.host.fetch(HttpRequest { method: m, url: url.clone(), headers: hs, body }) {
            Ok(r) => r,
            Err(msg) => {
                if show_err {
                    ctx.errln(format!("curl: (6) {msg}"));
                }
                st = 6;
                continue;
            }
        };
        if verbose {
            ctx.errln(format!("< HTTP/1.1 {} {}", resp.status, reason(resp.status)));
            for (k, v) in &resp.headers {
                ctx.errln(format!("< {k}: {v}"));
            }
        }
        if fail && resp.status >= 400 {
            if show_err {
                ctx.errln(format!("curl: (22) The requested URL returned error: {}", resp.status));
            }
            st = 22;
            continue;
        }
        let mut output = Vec::new();
        if head || include {
            output.extend_from_slice(format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status)).as_bytes());
            for (k, v) in &resp.headers {
                output.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
            }
            output.extend_from_slice(b"\r\n");
        }
        if !head {
            output.extend_from_slice(&resp.body);
        }
        let target = if remote_name {
            let n = url_filename(&url);
            if n.is_empty() {
                ctx.errln("curl: (23) Remote file name has no length!");
                st = 23;
                continue;
            }
            Some(n)
        } else {
            out_file.clone()
        };
        match target.as_deref() {
            None | Some("-") => ctx.out.extend_from_slice(&output),
            Some(f) => {
                let p = ctx.path(f);
                if let Err(e) = std::fs::write(&p, &output) {
                    if show_err {
                        ctx.errln(format!("curl: (23) Failure writing output to destination: {f}: {}", errmsg(&e)));
                    }
                    st = 23;
                    continue;
                }
            }
        }
        if resp.truncated {
            // Said even under -s: a cut body must not pass for a whole one.
            ctx.errln(format!(
                "curl: (63) Maximum file size exceeded: the response was cut off after {} bytes by the task's size limit (network.max_download_mb)",
                resp.body.len()
            ));
            st = 63;
        }
        if let Some(w) = &write_out {
            let (w, _) = crate::printf::escapes(w, false);
            let s = w
                .replace("%{http_code}", &resp.status.to_string())
                .replace("%{response_code}", &resp.status.to_string())
                .replace("%{url_effective}", if resp.url.is_empty() { &url } else { &resp.url })
                .replace("%{size_download}", &resp.body.len().to_string())
                .replace("%{content_type}", header(&resp, "content-type").unwrap_or(""))
                .replace("%{time_total}", "0.000000");
            ctx.outs(s);
        }
    }
    st
}
