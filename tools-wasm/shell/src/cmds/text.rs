//! Text utilities: head, tail, wc, sort, uniq, cut, tr, tee, tac, rev, nl, paste, seq, echo, printf.

use std::cmp::Ordering;

use super::{Ctx, opts};
use crate::fsutil::{errmsg, lines, q};
use crate::printf::{self, Val};

/// `-5` → `-n 5` (and `+5` for tail).
fn numeric_shorthand(args: &[String], plus: bool) -> Vec<String> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if a == "--" {
            out.extend(args[i..].iter().cloned());
            break;
        }
        let prev_takes_value = i > 0 && matches!(args[i - 1].as_str(), "-n" | "-c" | "--lines" | "--bytes");
        if prev_takes_value {
            out.push(a.clone());
            continue;
        }
        if a.len() > 1 && a.starts_with('-') && a[1..].chars().all(|c| c.is_ascii_digit()) {
            out.push("-n".into());
            out.push(a[1..].to_string());
        } else if plus && a.len() > 1 && a.starts_with('+') && a[1..].chars().all(|c| c.is_ascii_digit()) && i == 0 {
            out.push("-n".into());
            out.push(a.clone());
        } else {
            out.push(a.clone());
        }
    }
    out
}

fn parse_count(s: &str) -> Option<(bool, bool, u64)> {
    // (leading '+', leading '-', value) with optional K/M/G/b suffix
    let (plus, minus, body) = if let Some(r) = s.strip_prefix('+') {
        (true, false, r)
    } else if let Some(r) = s.strip_prefix('-') {
        (false, true, r)
    } else {
        (false, false, s)
    };
    let (num, mult) = match body.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => {
            let m = match &body[i..] {
                "b" => 512,
                "K" | "KiB" | "k" => 1024,
                "KB" | "kB" => 1000,
                "M" | "MiB" => 1 << 20,
                "MB" => 1_000_000,
                "G" | "GiB" => 1 << 30,
                "GB" => 1_000_000_000,
                _ => return None,
            };
            (&body[..i], m)
        }
        None => (body, 1),
    };
    let n: u64 = num.parse().ok()?;
    Some((plus, minus, n.saturating_mul(mult)))
}

pub fn head(ctx: &mut Ctx, args: &[String]) -> i32 {
    let args = numeric_shorthand(args, false);
    let o = opts!(
        ctx,
        "head",
        &args,
        "n:c:qv",
        &[("lines", 'n'), ("bytes", 'c'), ("quiet", 'q'), ("silent", 'q'), ("verbose", 'v')],
        1
    );
    let files: Vec<String> = if o.args.is_empty() { vec!["-".into()] } else { o.args.clone() };
    let bytes_mode = o.last_of("nc") == Some('c') || (o.val('c').is_some() && o.val('n').is_none());
    let spec = if bytes_mode { o.val('c').unwrap_or("10") } else { o.val('n').unwrap_or("10") };
    let Some((_, neg, n)) = parse_count(spec) else {
        ctx.errln(format!("head: invalid number of {}: {}", if bytes_mode { "bytes" } else { "lines" }, q(spec)));
        return 1;
    };
    let mut st = 0;
    let headers = (files.len() > 1 && !o.has('q')) || o.has('v');
    for (i, f) in files.iter().enumerate() {
        let Some(data) = ctx.read_input("head", f) else {
            st = 1;
            continue;
        };
        if headers {
            if i > 0 {
                ctx.out.push(b'\n');
            }
            let name = if f == "-" { "standard input" } else { f };
            ctx.outs(format!("==> {name} <==\n"));
        }
        let n = n.min(usize::MAX as u64) as usize;
        if bytes_mode {
            let end = if neg { data.len().saturating_sub(n) } else { n.min(data.len()) };
            ctx.out.extend_from_slice(&data[..end]);
        } else {
            let ends: Vec<usize> = data.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1).collect();
            let end = if neg {
                let total = ends.len() + usize::from(!data.is_empty() && !data.ends_with(b"\n"));
                let keep = total.saturating_sub(n);
                if keep == 0 { 0 } else { ends.get(keep - 1).copied().unwrap_or(data.len()) }
            } else if n == 0 {
                0
            } else {
                ends.get(n - 1).copied().unwrap_or(data.len())
            };
            ctx.out.extend_from_slice(&data[..end]);
        }
    }
    st
}

pub fn tail(ctx: &mut Ctx, args: &[String]) -> i32 {
    let args = numeric_shorthand(args, true);
    let o = opts!(
        ctx,
        "tail",
        &args,
        "n:c:qvfFs:",
        &[("lines", 'n'), ("bytes", 'c'), ("quiet", 'q'), ("verbose", 'v'), ("follow", 'f')],
        1
    );
    let files: Vec<String> = if o.args.is_empty() { vec!["-".into()] } else { o.args.clone() };
    let bytes_mode = o.last_of("nc") == Some('c') || (o.val('c').is_some() && o.val('n').is_none());
    let spec = if bytes_mode { o.val('c').unwrap_or("10") } else { o.val('n').unwrap_or("10") };
    let Some((plus, _, n)) = parse_count(spec) else {
        ctx.errln(format!("tail: invalid number of {}: {}", if bytes_mode { "bytes" } else { "lines" }, q(spec)));
        return 1;
    };
    let n = n.min(usize::MAX as u64) as usize;
    let mut st = 0;
    let headers = (files.len() > 1 && !o.has('q')) || o.has('v');
    for (i, f) in files.iter().enumerate() {
        let Some(data) = ctx.read_input("tail", f) else {
            st = 1;
            continue;
        };
        if headers {
            if i > 0 {
                ctx.out.push(b'\n');
            }
            let name = if f == "-" { "standard input" } else { f };
            ctx.outs(format!("==> {name} <==\n"));
        }
        if bytes_mode {
            let start = if plus { n.saturating_sub(1).min(data.len()) } else { data.len().saturating_sub(n) };
            ctx.out.extend_from_slice(&data[start..]);
        } else {
            let mut starts: Vec<usize> = vec![0];
            for (i, b) in data.iter().enumerate() {
                if *b == b'\n' && i + 1 < data.len() {
                    starts.push(i + 1);
                }
            }
            if data.is_empty() {
                starts.clear();
            }
            let start = if plus {
                starts.get(n.saturating_sub(1)).copied().unwrap_or(data.len())
            } else if n == 0 {
                data.len()
            } else if n >= starts.len() {
                0
            } else {
                starts[starts.len() - n]
            };
            ctx.out.extend_from_slice(&data[start..]);
        }
    }
    st
}

pub fn wc(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(
        ctx,
        "wc",
        args,
        "lwcmL",
        &[("lines", 'l'), ("words", 'w'), ("bytes", 'c'), ("chars", 'm'), ("max-line-length", 'L')],
        1
    );
    let (mut l, mut w, mut c, m, big_l) = (o.has('l'), o.has('w'), o.has('c'), o.has('m'), o.has('L'));
    if !(l || w || c || m || big_l) {
        l = true;
        w = true;
        c = true;
    }
    let files: Vec<String> = if o.args.is_empty() { vec!["-".into()] } else { o.args.clone() };
    let mut rows: Vec<([u64; 5], Option<String>)> = Vec::new();
    let mut st = 0;
    let mut any_stdin = false;
    let mut total = [0u64; 5];
    let mut total_size = 0u64;
    for f in &files {
        if f == "-" {
            any_stdin = true;
        }
        let Some(data) = ctx.read_input("wc", f) else {
            st = 1;
            continue;
        };
        total_size += data.len() as u64;
        let lines = data.iter().filter(|&&b| b == b'\n').count() as u64;
        let words = data.split(|b| b.is_ascii_whitespace()).filter(|s| !s.is_empty()).count() as u64;
        let chars = String::from_utf8_lossy(&data).chars().count() as u64;
        let maxl = String::from_utf8_lossy(&data).split('\n').map(|l| l.chars().count()).max().unwrap_or(0) as u64;
        let counts = [lines, words, chars, data.len() as u64, maxl];
        for i in 0..4 {
            total[i] += counts[i];
        }
        total[4] = total[4].max(maxl);
        rows.push((counts, if f == "-" && o.args.is_empty() { None } else { Some(f.clone()) }));
    }
    if files.len() > 1 {
        rows.push((total, Some("total".into())));
    }
    let sel = [l, w, m, c, big_l];
    let ncols = sel.iter().filter(|x| **x).count();
    let width = if ncols == 1 && files.len() == 1 {
        1
    } else if any_stdin {
        7
    } else {
        total_size.to_string().len().max(total[4].to_string().len())
    };
    if c && !m {
        // order: lines words chars bytes maxline
    }
    let _ = &mut c;
    let _ = &mut w;
    for (counts, name) in rows {
        let mut parts = Vec::new();
        for (i, on) in sel.iter().enumerate() {
            if *on {
                let v = match i {
                    0 => counts[0],
                    1 => counts[1],
                    2 => counts[2],
                    3 => counts[3],
                    _ => counts[4],
                };
                parts.push(format!("{v:>width$}"));
            }
        }
        let mut line = parts.join(" ");
        if let Some(n) = name {
            line.push(' ');
            line.push_str(&n);
        }
        ctx.outs(line + "\n");
    }
    st
}

// ---------------------------------------------------------------- sort

#[derive(Clone, Default)]
struct KeyOpts {
    n: bool,
    g: bool,
    h: bool,
    r: bool,
    f: bool,
    b: bool,
    v: bool,
    d: bool,
}

impl KeyOpts {
    fn any(&self) -> bool {
        self.n || self.g || self.h || self.r || self.f || self.b || self.v || self.d
    }
}

#[derive(Clone)]
struct Key {
    f1: usize,
    c1: usize,
    f2: Option<usize>,
    c2: usize,
    o: KeyOpts,
}

fn parse_key(s: &str, global: &KeyOpts) -> Option<Key> {
    let (a, b) = match s.split_once(',') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let mut o = KeyOpts::default();
    let mut parse_pos = |p: &str| -> Option<(usize, usize)> {
        let end = p.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(p.len());
        for ch in p[end..].chars() {
            match ch {
                'n' => o.n = true,
                'g' => o.g = true,
                'h' => o.h = true,
                'r' => o.r = true,
                'f' => o.f = true,
                'b' => o.b = true,
                'V' => o.v = true,
                'd' => o.d = true,
                _ => return None,
            }
        }
        let num = &p[..end];
        let (f, c) = match num.split_once('.') {
            Some((f, c)) => (f.parse().ok()?, c.parse().ok()?),
            None => (num.parse().ok()?, 0),
        };
        Some((f, c))
    };
    let (f1, c1) = parse_pos(a)?;
    let (f2, c2) = match b {
        Some(b) => {
            let (f, c) = parse_pos(b)?;
            (Some(f), c)
        }
        None => (None, 0),
    };
    if f1 == 0 {
        return None;
    }
    if !o.any() {
        o = global.clone();
    }
    Some(Key { f1, c1: c1.max(1), f2, c2, o })
}

/// Byte ranges of fields.
fn fields(line: &[u8], sep: Option<u8>) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    match sep {
        Some(s) => {
            let mut start = 0;
            for (i, &b) in line.iter().enumerate() {
                if b == s {
                    v.push((start, i));
                    start = i + 1;
                }
            }
            v.push((start, line.len()));
        }
        None => {
            // a field = leading blanks + non-blanks
            let mut i = 0;
            while i < line.len() {
                let start = i;
                while i < line.len() && (line[i] == b' ' || line[i] == b'\t') {
                    i += 1;
                }
                while i < line.len() && line[i] != b' ' && line[i] != b'\t' {
                    i += 1;
                }
                v.push((start, i));
            }
        }
    }
    v
}

fn key_slice<'a>(line: &'a [u8], k: &Key, sep: Option<u8>) -> &'a [u8] {
    let fs = fields(line, sep);
    let Some(&(s1, e1)) = fs.get(k.f1 - 1) else { return &[] };
    let mut start = s1;
    if k.o.b || k.o.n || k.o.g || k.o.h {
        while start < e1 && (line[start] == b' ' || line[start] == b'\t') {
            start += 1;
        }
    }
    start = (start + k.c1 - 1).min(e1.max(start));
    let end = match k.f2 {
        None => line.len(),
        Some(f2) => match fs.get(f2 - 1) {
            Some(&(s2, e2)) => {
                if k.c2 == 0 {
                    e2
                } else {
                    let mut s = s2;
                    if k.o.b {
                        while s < e2 && (line[s] == b' ' || line[s] == b'\t') {
                            s += 1;
                        }
                    }
                    (s + k.c2).min(e2)
                }
            }
            None => line.len(),
        },
    };
    if start >= end { &[] } else { &line[start..end] }
}

fn parse_num_prefix(s: &[u8]) -> f64 {
    let s = String::from_utf8_lossy(s);
    let t = s.trim_start();
    let mut end = 0;
    let b = t.as_bytes();
    if end < b.len() && (b[end] == b'-' || b[end] == b'+') {
        end += 1;
    }
    let mut seen_dot = false;
    while end < b.len() && (b[end].is_ascii_digit() || (b[end] == b'.' && !seen_dot)) {
        if b[end] == b'.' {
            seen_dot = true;
        }
        end += 1;
    }
    t[..end].parse().unwrap_or(0.0)
}

fn human_val(s: &[u8]) -> f64 {
    let v = parse_num_prefix(s);
    let st = String::from_utf8_lossy(s);
    let t = st.trim_start();
    let numlen = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+')).unwrap_or(t.len());
    let mult = match t[numlen..].chars().next() {
        Some('K' | 'k') => 1e3,
        Some('M') => 1e6,
        Some('G') => 1e9,
        Some('T') => 1e12,
        Some('P') => 1e15,
        _ => 1.0,
    };
    v * mult
}

fn version_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    let (mut ai, mut bi) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (ai.peek().copied(), bi.peek().copied()) {
            (None, None) => return Ordering::Equal,
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let mut na = String::new();
                while let Some(c) = ai.peek().copied().filter(|c| c.is_ascii_digit()) {
                    na.push(c);
                    ai.next();
                }
                let mut nb = String::new();
                while let Some(c) = bi.peek().copied().filter(|c| c.is_ascii_digit()) {
                    nb.push(c);
                    bi.next();
                }
                let (ta, tb) = (na.trim_start_matches('0'), nb.trim_start_matches('0'));
                let o = ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb));
                if o != Ordering::Equal {
                    return o;
                }
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                ai.next();
                bi.next();
            }
        }
    }
}

fn cmp_key(a: &[u8], b: &[u8], o: &KeyOpts) -> Ordering {
    let r = if o.n {
        parse_num_prefix(a).partial_cmp(&parse_num_prefix(b)).unwrap_or(Ordering::Equal)
    } else if o.g {
        let p = |s: &[u8]| {
            let t = String::from_utf8_lossy(s);
            let t = t.trim_start();
            if t.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '.') {
                parse_num_prefix(s)
            } else {
                f64::NEG_INFINITY
            }
        };
        p(a).partial_cmp(&p(b)).unwrap_or(Ordering::Equal)
    } else if o.h {
        human_val(a).partial_cmp(&human_val(b)).unwrap_or(Ordering::Equal)
    } else if o.v {
        version_cmp(a, b)
    } else {
        let prep = |s: &[u8]| -> Vec<u8> {
            let mut v: Vec<u8> =
                if o.b { s.iter().skip_while(|c| **c == b' ' || **c == b'\t').copied().collect() } else { s.to_vec() };
            if o.d {
                v.retain(|c| c.is_ascii_alphanumeric() || *c == b' ' || *c == b'\t' || *c >= 0x80);
            }
            if o.f {
                v.make_ascii_uppercase();
            }
            v
        };
        prep(a).cmp(&prep(b))
    };
    if o.r { r.reverse() } else { r }
}

pub fn sort(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(
        ctx,
        "sort",
        args,
        "nrufk:t:o:hgbsVdcCzSmT:",
        &[
            ("numeric-sort", 'n'),
            ("reverse", 'r'),
            ("unique", 'u'),
            ("ignore-case", 'f'),
            ("key", 'k'),
            ("field-separator", 't'),
            ("output", 'o'),
            ("human-numeric-sort", 'h'),
            ("general-numeric-sort", 'g'),
            ("stable", 's'),
            ("version-sort", 'V'),
            ("check", 'c'),
            ("parallel", 'T'),
            ("buffer-size", 'T')
        ],
        2
    );
    let global = KeyOpts {
        n: o.has('n'),
        g: o.has('g'),
        h: o.has('h'),
        r: o.has('r'),
        f: o.has('f'),
        b: o.has('b'),
        v: o.has('V'),
        d: o.has('d'),
    };
    let sep = match o.val('t') {
        Some(t) => {
            let t = if t == "\\t" { "\t" } else { t };
            if t.len() != 1 {
                ctx.errln(format!("sort: multi-character tab {}", q(t)));
                return 2;
            }
            Some(t.as_bytes()[0])
        }
        None => None,
    };
    let mut keys = Vec::new();
    for k in o.all('k') {
        match parse_key(k, &global) {
            Some(k) => keys.push(k),
            None => {
                ctx.errln(format!("sort: invalid field specification {}", q(k)));
                return 2;
            }
        }
    }
    let files: Vec<String> = if o.args.is_empty() { vec!["-".into()] } else { o.args.clone() };
    let mut data = Vec::new();
    for f in &files {
        match ctx.read_input("sort", f) {
            Some(d) => {
                data.extend_from_slice(&d);
                if !data.is_empty() && !data.ends_with(b"\n") {
                    data.push(b'\n');
                }
            }
            None => return 2,
        }
    }
    let mut ls: Vec<&[u8]> = lines(&data);
    let cmp = |a: &&[u8], b: &&[u8]| -> Ordering {
        if keys.is_empty() {
            let r = cmp_key(a, b, &global);
            if r != Ordering::Equal || o.has('s') || o.has('u') {
                return r;
            }
        } else {
            for k in &keys {
                let r = cmp_key(key_slice(a, k, sep), key_slice(b, k, sep), &k.o);
                if r != Ordering::Equal {
                    return r;
                }
            }
            if o.has('s') || o.has('u') {
                return Ordering::Equal;
            }
        }
        let r = a.cmp(b);
        if global.r { r.reverse() } else { r }
    };
    if o.has('c') || o.has('C') {
        for i in 1..ls.len() {
            if cmp(&ls[i - 1], &ls[i]) == Ordering::Greater {
                if !o.has('C') {
                    let name = if files[0] == "-" { "-".to_string() } else { files[0].clone() };
                    ctx.errln(format!("sort: {name}:{}: disorder: {}", i + 1, String::from_utf8_lossy(ls[i])));
                }
                return 1;
            }
        }
        return 0;
    }
    ls.sort_by(cmp);
    if o.has('u') {
        ls.dedup_by(|b, a| cmp(a, b) == Ordering::Equal);
    }
    let mut out = Vec::new();
    for l in ls {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    if let Some(f) = o.val('o') {
        let p = ctx.path(f);
        if let Err(e) = std::fs::write(&p, &out) {
            ctx.errln(format!("sort: open failed: {f}: {}", errmsg(&e)));
            return 2;
        }
    } else {
        ctx.out.extend_from_slice(&out);
    }
    0
}

pub fn uniq(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(
        ctx,
        "uniq",
        args,
        "cduif:s:w:D",
        &[
            ("count", 'c'),
            ("repeated", 'd'),
            ("unique", 'u'),
            ("ignore-case", 'i'),
            ("skip-fields", 'f'),
            ("skip-chars", 's'),
            ("check-chars", 'w'),
            ("all-repeated", 'D')
        ],
        1
    );
    let input = o.args.first().cloned().unwrap_or("-".into());
    let Some(data) = ctx.read_input("uniq", &input) else { return 1 };
    let skip_f: usize = o.val('f').and_then(|v| v.parse().ok()).unwrap_or(0);
    let skip_c: usize = o.val('s').and_then(|v| v.parse().ok()).unwrap_or(0);
    let check: Option<usize> = o.val('w').and_then(|v| v.parse().ok());
    let key = |l: &[u8]| -> Vec<u8> {
        let mut i = 0;
        for _ in 0..skip_f {
            while i < l.len() && (l[i] == b' ' || l[i] == b'\t') {
                i += 1;
            }
            while i < l.len() && l[i] != b' ' && l[i] != b'\t' {
                i += 1;
            }
        }
        i = (i + skip_c).min(l.len());
        let mut k = l[i..].to_vec();
        if let Some(w) = check {
            k.truncate(w);
        }
        if o.has('i') {
            k.make_ascii_lowercase();
        }
        k
    };
    let ls = lines(&data);
    let mut out = Vec::new();
    let mut i = 0;
    while i < ls.len() {
        let k = key(ls[i]);
        let mut j = i + 1;
        while j < ls.len() && key(ls[j]) == k {
            j += 1;
        }
        let n = j - i;
        let show = (!o.has('d') || n > 1) && (!o.has('u') || n == 1) && (!o.has('D') || n > 1);
        if show {
            let reps = if o.has('D') { n } else { 1 };
            for r in 0..reps {
                if o.has('c') {
                    out.extend_from_slice(format!("{n:>7} ").as_bytes());
                }
                out.extend_from_slice(ls[i + if o.has('D') { r } else { 0 }]);
                out.push(b'\n');
            }
        }
        i = j;
    }
    match o.args.get(1) {
        Some(f) => {
            let p = ctx.path(f);
            if let Err(e) = std::fs::write(p, out) {
                ctx.errln(format!("uniq: {f}: {}", errmsg(&e)));
                return 1;
            }
        }
        None => ctx.out.extend_from_slice(&out),
    }
    0
}

/// Parse a cut LIST into 1-based inclusive ranges.
fn parse_list(s: &str) -> Option<Vec<(usize, usize)>> {
    let mut v = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (
                if a.is_empty() { 1 } else { a.parse().ok()? },
                if b.is_empty() { usize::MAX } else { b.parse().ok()? },
            ),
            None => {
                let n = part.parse().ok()?;
                (n, n)
            }
        };
        if a == 0 || a > b {
            return None;
        }
        v.push((a, b));
    }
    Some(v)
}

pub fn cut(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(
        ctx,
        "cut",
        args,
        "b:c:f:d:snCO:",
        &[
            ("bytes", 'b'),
            ("characters", 'c'),
            ("fields", 'f'),
            ("delimiter", 'd'),
            ("only-delimited", 's'),
            ("complement", 'C'),
            ("output-delimiter", 'O')
        ],
        1
    );
    let (mode, list) = if let Some(l) = o.val('f') {
        ('f', l)
    } else if let Some(l) = o.val('c') {
        ('c', l)
    } else if let Some(l) = o.val('b') {
        ('b', l)
    } else {
        ctx.errln("cut: you must specify a list of bytes, characters, or fields");
        ctx.errln("Try 'cut --help' for more information.");
        return 1;
    };
    let Some(ranges) = parse_list(list) else {
        ctx.errln(format!("cut: invalid field value {}", q(list)));
        return 1;
    };
    let complement = o.has('C');
    let sel = |i: usize| -> bool { ranges.iter().any(|&(a, b)| i >= a && i <= b) != complement };
    let delim = o.val('d').unwrap_or("\t");
    if delim.chars().count() != 1 {
        ctx.errln("cut: the delimiter must be a single character");
        return 1;
    }
    let outdelim = o.val('O').unwrap_or(delim).to_string();
    let files: Vec<String> = if o.args.is_empty() { vec!["-".into()] } else { o.args.clone() };
    let mut st = 0;
    for f in &files {
        let Some(data) = ctx.read_input("cut", f) else {
            st = 1;
            continue;
        };
        for l in lines(&data) {
            match mode {
                'f' => {
                    let s = String::from_utf8_lossy(l);
                    if !s.contains(delim) {
                        if !o.has('s') {
                            ctx.out.extend_from_slice(l);
                            ctx.out.push(b'\n');
                        }
                        continue;
                    }
                    let parts: Vec<&str> = s.split(delim).collect();
                    let picked: Vec<&str> =
                        parts.iter().enumerate().filter(|(i, _)| sel(i + 1)).map(|(_, p)| *p).collect();
                    ctx.outs(picked.join(&outdelim));
                    ctx.out.push(b'\n');
                }
                'c' => {
                    let s = String::from_utf8_lossy(l);
                    let picked: String = s.chars().enumerate().filter(|(i, _)| sel(i + 1)).map(|(_, c)| c).collect();
                    ctx.outs(picked);
                    ctx.out.push(b'\n');
                }
                _ => {
                    let picked: Vec<u8> = l.iter().enumerate().filter(|(i, _)| sel(i + 1)).map(|(_, c)| *c).collect();
                    ctx.out.extend_from_slice(&picked);
                    ctx.out.push(b'\n');
                }
            }
        }
    }
    st
}

fn tr_set(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let esc = |b: &[u8], i: &mut usize| -> u8 {
        // at backslash
        *i += 1;
        let Some(&c) = b.get(*i) else { return b'\\' };
        *i += 1;
        match c {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'\\' => b'\\',
            b'a' => 7,
            b'b' => 8,
            b'f' => 12,
            b'v' => 11,
            b'0'..=b'7' => {
                let mut v = (c - b'0') as u32;
                let mut n = 1;
                while n < 3 && *i < b.len() && (b'0'..=b'7').contains(&b[*i]) {
                    v = v * 8 + (b[*i] - b'0') as u32;
                    *i += 1;
                    n += 1;
                }
                v as u8
            }
            other => other,
        }
    };
    while i < b.len() {
        if b[i] == b'[' && b.get(i + 1) == Some(&b':') {
            let rest = &s[i + 2..];
            if let Some(end) = rest.find(":]") {
                let name = &rest[..end];
                let set: Vec<u8> = (0u8..=255)
                    .filter(|&c| match name {
                        "upper" => c.is_ascii_uppercase(),
                        "lower" => c.is_ascii_lowercase(),
                        "alpha" => c.is_ascii_alphabetic(),
                        "digit" => c.is_ascii_digit(),
                        "alnum" => c.is_ascii_alphanumeric(),
                        "space" => c.is_ascii_whitespace() || c == 11,
                        "blank" => c == b' ' || c == b'\t',
                        "punct" => c.is_ascii_punctuation(),
                        "xdigit" => c.is_ascii_hexdigit(),
                        "cntrl" => c.is_ascii_control(),
                        "print" => (32..127).contains(&c),
                        "graph" => (33..127).contains(&c),
                        _ => false,
                    })
                    .collect();
                if set.is_empty() {
                    return Err(format!("tr: invalid character class {}", q(name)));
                }
                out.extend(set);
                i += 2 + end + 2;
                continue;
            }
        }
        if b[i] == b'[' && b.get(i + 2) == Some(&b'*') {
            // [c*n]
            if let Some(end) = s[i..].find(']') {
                let c = b[i + 1];
                let n: usize = s[i + 3..i + end].parse().unwrap_or(0);
                out.extend(std::iter::repeat_n(c, if n == 0 { 1 } else { n.min(256) }));
                i += end + 1;
                continue;
            }
        }
        let c = if b[i] == b'\\' {
            esc(b, &mut i)
        } else {
            i += 1;
            b[i - 1]
        };
        if b.get(i) == Some(&b'-') && i + 1 < b.len() {
            i += 1;
            let hi = if b[i] == b'\\' {
                esc(b, &mut i)
            } else {
                i += 1;
                b[i - 1]
            };
            if hi < c {
                return Err(format!(
                    "tr: range-endpoints of '{}-{}' are in reverse collating sequence order",
                    c as char, hi as char
                ));
            }
            out.extend(c..=hi);
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

pub fn tr(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(
        ctx,
        "tr",
        args,
        "dscCt",
        &[("delete", 'd'), ("squeeze-repeats", 's'), ("complement", 'c'), ("truncate-set1", 't')],
        1
    );
    if o.args.is_empty() {
        ctx.errln("tr: missing operand");
        return 1;
    }
    let mut set1 = match tr_set(&o.args[0]) {
        Ok(s) => s,
        Err(m) => {
            ctx.errln(m);
            return 1;
        }
    };
    if o.has('c') || o.has('C') {
        set1 = (0u8..=255).filter(|c| !set1.contains(c)).collect();
    }
    let set2 = match o.args.get(1).map(|s| tr_set(s)) {
        Some(Ok(s)) => Some(s),
        Some(Err(m)) => {
            ctx.errln(m);
            return 1;
        }
        None => None,
    };
    let del = o.has('d');
    let sq = o.has('s');
    if !del && !sq && set2.is_none() {
        ctx.errln(format!("tr: missing operand after {}", q(&o.args[0])));
        return 1;
    }
    let data = ctx.stdin();
    let mut map: [u16; 256] = std::array::from_fn(|i| i as u16);
    let mut in1 = [false; 256];
    for &c in &set1 {
        in1[c as usize] = true;
    }
    if !del && let Some(s2) = &set2 {
        if s2.is_empty() {
            ctx.errln("tr: when not truncating set1, string2 must be non-empty");
            return 1;
        }
        for (i, &c) in set1.iter().enumerate() {
            let t = s2.get(i).copied().unwrap_or(*s2.last().unwrap_or(&c));
            map[c as usize] = t as u16;
        }
    }
    let squeeze_set: Vec<u8> =
        if del { set2.clone().unwrap_or_default() } else { set2.clone().unwrap_or(set1.clone()) };
    let mut in_sq = [false; 256];
    for &c in &squeeze_set {
        in_sq[c as usize] = true;
    }
    let mut out = Vec::with_capacity(data.len());
    let mut last: Option<u8> = None;
    for &b in &data {
        if del && in1[b as usize] {
            continue;
        }
        let c = map[b as usize] as u8;
        if sq && in_sq[c as usize] && last == Some(c) {
            continue;
        }
        out.push(c);
        last = Some(c);
    }
    ctx.out.extend_from_slice(&out);
    0
}

pub fn tee(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(ctx, "tee", args, "ai", &[("append", 'a'), ("ignore-interrupts", 'i')], 1);
    let data = ctx.stdin();
    let mut st = 0;
    for f in &o.args {
        let p = ctx.path(f);
        let r = if o.has('a') {
            std::fs::OpenOptions::new().append(true).create(true).open(&p).and_then(|mut fh| {
                use std::io::Write;
                fh.write_all(&data)
            })
        } else {
            std::fs::write(&p, &data)
        };
        if let Err(e) = r {
            ctx.errln(format!("tee: {f}: {}", errmsg(&e)));
            st = 1;
        }
    }
    ctx.out.extend_from_slice(&data);
    st
}

fn each_input(ctx: &mut Ctx, cmd: &str, args: &[String]) -> (Vec<Vec<u8>>, i32) {
    let files: Vec<String> = if args.is_empty() { vec!["-".into()] } else { args.to_vec() };
    let mut v = Vec::new();
    let mut st = 0;
    for f in &files {
        match ctx.read_input(cmd, f) {
            Some(d) => v.push(d),
            None => st = 1,
        }
    }
    (v, st)
}

pub fn tac(ctx: &mut Ctx, args: &[String]) -> i32 {
    let (inputs, st) = each_input(ctx, "tac", args);
    for d in inputs {
        for l in lines(&d).iter().rev() {
            ctx.out.extend_from_slice(l);
            ctx.out.push(b'\n');
        }
    }
    st
}

pub fn rev(ctx: &mut Ctx, args: &[String]) -> i32 {
    let (inputs, st) = each_input(ctx, "rev", args);
    for d in inputs {
        for l in lines(&d) {
            let s: String = String::from_utf8_lossy(l).chars().rev().collect();
            ctx.outs(s);
            ctx.out.push(b'\n');
        }
    }
    st
}

pub fn nl(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(
        ctx,
        "nl",
        args,
        "b:w:s:n:v:",
        &[("body-numbering", 'b'), ("number-width", 'w'), ("number-separator", 's')],
        1
    );
    let all = o.val('b') == Some("a");
    let w: usize = o.val('w').and_then(|v| v.parse().ok()).unwrap_or(6).min(64);
    let sep = o.val('s').unwrap_or("\t").to_string();
    let mut n: i64 = o.val('v').and_then(|v| v.parse().ok()).unwrap_or(1);
    let (inputs, st) = each_input(ctx, "nl", &o.args);
    for d in inputs {
        for l in lines(&d) {
            if l.is_empty() && !all {
                ctx.outs(format!("{}\n", " ".repeat(w + sep.len())));
                continue;
            }
            let num = match o.val('n') {
                Some("ln") => format!("{n:<w$}"),
                Some("rz") => format!("{n:0w$}"),
                _ => format!("{n:>w$}"),
            };
            ctx.outs(format!("{num}{sep}"));
            ctx.out.extend_from_slice(l);
            ctx.out.push(b'\n');
            n += 1;
        }
    }
    st
}

pub fn paste(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(ctx, "paste", args, "d:s", &[("delimiters", 'd'), ("serial", 's')], 1);
    let delims: Vec<char> = {
        let (d, _) = printf::escapes(o.val('d').unwrap_or("\t"), false);
        let v: Vec<char> = d.chars().collect();
        if v.is_empty() { vec!['\0'] } else { v }
    };
    let dl = |i: usize| -> String {
        let c = delims[i % delims.len()];
        if c == '\0' { String::new() } else { c.to_string() }
    };
    let (inputs, st) = each_input(ctx, "paste", &o.args);
    let all: Vec<Vec<String>> =
        inputs.iter().map(|d| lines(d).iter().map(|l| String::from_utf8_lossy(l).into_owned()).collect()).collect();
    if o.has('s') {
        for ls in all {
            let mut s = String::new();
            for (i, l) in ls.iter().enumerate() {
                if i > 0 {
                    s.push_str(&dl(i - 1));
                }
                s.push_str(l);
            }
            ctx.outs(s + "\n");
        }
    } else {
        let n = all.iter().map(Vec::len).max().unwrap_or(0);
        for r in 0..n {
            let mut s = String::new();
            for (i, ls) in all.iter().enumerate() {
                if i > 0 {
                    s.push_str(&dl(i - 1));
                }
                if let Some(l) = ls.get(r) {
                    s.push_str(l);
                }
            }
            ctx.outs(s + "\n");
        }
    }
    st
}

pub fn seq(ctx: &mut Ctx, args: &[String]) -> i32 {
    // negative numbers are operands, not options
    let mut sep = "\n".to_string();
    let mut fmt: Option<String> = None;
    let mut wide = false;
    let mut nums = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "-s" || a == "-f" {
            let Some(v) = args.get(i + 1) else {
                ctx.errln(format!("seq: option requires an argument -- '{}'", &a[1..]));
                return 1;
            };
            if a == "-s" {
                sep = printf::escapes(v, false).0;
            } else {
                fmt = Some(v.clone());
            }
            i += 2;
            continue;
        }
        if let Some(v) = a.strip_prefix("-s").filter(|v| !v.is_empty() && !v.starts_with(|c: char| c.is_ascii_digit()))
        {
            sep = printf::escapes(v, false).0;
        } else if a == "-w" || a == "--equal-width" {
            wide = true;
        } else if let Some(v) = a.strip_prefix("--separator=") {
            sep = printf::escapes(v, false).0;
        } else {
            nums.push(a.clone());
        }
        i += 1;
    }
    if nums.is_empty() || nums.len() > 3 {
        ctx.errln(if nums.is_empty() {
            "seq: missing operand".into()
        } else {
            format!("seq: extra operand {}", q(&nums[3]))
        });
        return 1;
    }
    let mut vals = Vec::new();
    for n in &nums {
        match n.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => vals.push(v),
            _ => {
                ctx.errln(format!("seq: invalid floating point argument: {}", q(n)));
                return 1;
            }
        }
    }
    let (first, step, last) = match vals.len() {
        1 => (1.0, 1.0, vals[0]),
        2 => (vals[0], 1.0, vals[1]),
        _ => (vals[0], vals[1], vals[2]),
    };
    if step == 0.0 {
        ctx.errln(format!("seq: invalid Zero increment value: {}", q(&nums[1])));
        return 1;
    }
    let decimals = |s: &str| -> usize {
        if s.contains(['e', 'E']) {
            return 0;
        }
        s.split_once('.').map(|(_, d)| d.len()).unwrap_or(0)
    };
    let prec = match nums.len() {
        1 => decimals(&nums[0]),
        2 => decimals(&nums[0]).max(decimals(&nums[1])),
        _ => decimals(&nums[0]).max(decimals(&nums[1])),
    };
    let count = ((last - first) / step).floor();
    if count < 0.0 {
        return 0;
    }
    if count > 50_000_000.0 {
        ctx.errln("seq: too many numbers (limit 50000000)");
        return 1;
    }
    let count = count as u64 + 1;
    let mut strs = Vec::new();
    let mut out = Vec::new();
    for k in 0..count {
        let v = first + step * k as f64;
        let s = match &fmt {
            Some(f) => printf::sprintf(f, &mut |_| Some(Val::F(v)), true).0,
            None => format!("{v:.prec$}"),
        };
        if wide {
            strs.push(s);
        } else {
            if k > 0 {
                out.extend_from_slice(sep.as_bytes());
            }
            out.extend_from_slice(s.as_bytes());
        }
    }
    if wide {
        let w = strs.iter().map(|s| s.len()).max().unwrap_or(0);
        for (k, s) in strs.iter().enumerate() {
            if k > 0 {
                out.extend_from_slice(sep.as_bytes());
            }
            let s = if let Some(rest) = s.strip_prefix('-') {
                format!("-{rest:0>width$}", width = w - 1)
            } else {
                format!("{s:0>w$}")
            };
            out.extend_from_slice(s.as_bytes());
        }
    }
    out.push(b'\n');
    ctx.out.extend_from_slice(&out);
    0
}

pub fn echo(ctx: &mut Ctx, args: &[String]) -> i32 {
    let mut newline = true;
    let mut esc = false;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a.len() > 1 && a.starts_with('-') && a[1..].chars().all(|c| matches!(c, 'n' | 'e' | 'E')) {
            for c in a[1..].chars() {
                match c {
                    'n' => newline = false,
                    'e' => esc = true,
                    _ => esc = false,
                }
            }
            i += 1;
        } else {
            break;
        }
    }
    let s = args[i..].join(" ");
    if esc {
        let (t, stop) = printf::escapes(&s, true);
        ctx.outs(t);
        if stop {
            return 0;
        }
    } else {
        ctx.outs(s);
    }
    if newline {
        ctx.out.push(b'\n');
    }
    0
}

pub fn printf(ctx: &mut Ctx, args: &[String]) -> i32 {
    let args: &[String] = if args.first().map(String::as_str) == Some("--") { &args[1..] } else { args };
    let Some(fmt) = args.first() else {
        ctx.errln("printf: usage: printf format [arguments]");
        return 2;
    };
    let rest = &args[1..];
    let mut idx = 0;
    let mut st = 0;
    let mut errs = Vec::new();
    loop {
        let start = idx;
        let (s, stop) = printf::sprintf(
            fmt,
            &mut |c| {
                let a = rest.get(idx)?;
                idx += 1;
                Some(match c {
                    'd' | 'i' | 'o' | 'u' | 'x' | 'X' | 'c' if c != 'c' => {
                        let t = a.trim();
                        if let Some(ch) = t.strip_prefix(['\'', '"']) {
                            Val::I(ch.chars().next().map(|c| c as i64).unwrap_or(0))
                        } else if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                            Val::I(i64::from_str_radix(h, 16).unwrap_or(0))
                        } else {
                            match t.parse::<i64>() {
                                Ok(v) => Val::I(v),
                                Err(_) => match t.parse::<f64>() {
                                    Ok(f) => {
                                        errs.push(format!("printf: {}: invalid number", q(a)));
                                        Val::I(f as i64)
                                    }
                                    Err(_) => {
                                        errs.push(format!("printf: {}: invalid number", q(a)));
                                        Val::I(0)
                                    }
                                },
                            }
                        }
                    }
                    'f' | 'F' | 'e' | 'E' | 'g' | 'G' => match a.trim().parse::<f64>() {
                        Ok(f) => Val::F(f),
                        Err(_) => {
                            errs.push(format!("printf: {}: invalid number", q(a)));
                            Val::F(0.0)
                        }
                    },
                    _ => Val::S(a.clone()),
                })
            },
            true,
        );
        ctx.outs(s);
        if stop || idx >= rest.len() || idx == start {
            break;
        }
    }
    for e in errs {
        ctx.errln(e);
        st = 1;
    }
    st
}
