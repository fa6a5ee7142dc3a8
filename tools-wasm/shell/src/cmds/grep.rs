//! grep, egrep, fgrep.

use std::path::{Path, PathBuf};

use regex::bytes::{Regex, RegexBuilder};

use super::{Ctx, opts};
use crate::fsutil::{self, errmsg};

pub fn egrep(ctx: &mut Ctx, args: &[String]) -> i32 {
    let mut a = vec!["-E".to_string()];
    a.extend_from_slice(args);
    grep(ctx, &a)
}

pub fn fgrep(ctx: &mut Ctx, args: &[String]) -> i32 {
    let mut a = vec!["-F".to_string()];
    a.extend_from_slice(args);
    grep(ctx, &a)
}

struct G {
    re: Regex,
    /// `re` with `^`/`$` at line ends, to scan a whole input at once.
    scan: Option<Regex>,
    invert: bool,
    count: bool,
    list: bool,
    list_not: bool,
    only: bool,
    quiet: bool,
    number: bool,
    with_name: bool,
    after: usize,
    before: usize,
    max: Option<usize>,
    text: bool,
    ignore_binary: bool,
    byte_offset: bool,
    empty_match_all: bool,
}

pub fn grep(ctx: &mut Ctx, args: &[String]) -> i32 {
    // strip --color* and -NUM context shorthand
    let mut a2 = Vec::new();
    for a in args {
        if a.starts_with("--color") || a.starts_with("--colour") || a == "--line-buffered" {
            continue;
        }
        if a.len() > 1 && a.starts_with('-') && a[1..].chars().all(|c| c.is_ascii_digit()) {
            a2.push("-C".to_string());
            a2.push(a[1..].to_string());
            continue;
        }
        a2.push(a.clone());
    }
    let o = opts!(
        ctx,
        "grep",
        &a2,
        "ivnclLoqshHrRwxEFGPe:f:A:B:C:m:aIyUzbZT1:2:3:4:",
        &[
            ("ignore-case", 'i'),
            ("invert-match", 'v'),
            ("line-number", 'n'),
            ("count", 'c'),
            ("files-with-matches", 'l'),
            ("files-without-match", 'L'),
            ("only-matching", 'o'),
            ("quiet", 'q'),
            ("silent", 'q'),
            ("no-messages", 's'),
            ("no-filename", 'h'),
            ("with-filename", 'H'),
            ("recursive", 'r'),
            ("dereference-recursive", 'R'),
            ("word-regexp", 'w'),
            ("line-regexp", 'x'),
            ("extended-regexp", 'E'),
            ("fixed-strings", 'F'),
            ("basic-regexp", 'G'),
            ("perl-regexp", 'P'),
            ("regexp", 'e'),
            ("file", 'f'),
            ("after-context", 'A'),
            ("before-context", 'B'),
            ("context", 'C'),
            ("max-count", 'm'),
            ("text", 'a'),
            ("include", '1'),
            ("exclude", '2'),
            ("exclude-dir", '3'),
            ("binary-files", '4'),
            ("byte-offset", 'b'),
            ("null", 'Z'),
        ],
        2
    );
    let mut args_left = o.args.clone();
    let mut pats: Vec<String> = o.all('e').iter().map(|s| s.to_string()).collect();
    for f in o.all('f') {
        match ctx.read_input("grep", f) {
            Some(d) => pats.extend(fsutil::lines(&d).iter().map(|l| String::from_utf8_lossy(l).into_owned())),
            None => return 2,
        }
    }
    if pats.is_empty() && o.all('f').is_empty() {
        if args_left.is_empty() {
            ctx.errln("Usage: grep [OPTION]... PATTERNS [FILE]...");
            ctx.errln("Try 'grep --help' for more information.");
            return 2;
        }
        let p = args_left.remove(0);
        pats.extend(p.split('\n').map(str::to_string));
    }
    let mode = o.last_of("EFGP").unwrap_or('G');
    let mut parts = Vec::new();
    for p in &pats {
        let t = match mode {
            'F' => regex::escape(p),
            'P' => p.clone(),
            m => match crate::sed::translate(p, m == 'E') {
                Ok(t) => t,
                Err(e) => {
                    ctx.errln(format!("grep: {e}"));
                    return 2;
                }
            },
        };
        parts.push(t);
    }
    let empty_match_all = pats.iter().any(|p| p.is_empty());
    let mut re_src = if parts.len() == 1 {
        parts[0].clone()
    } else {
        parts.iter().map(|p| format!("(?:{p})")).collect::<Vec<_>>().join("|")
    };
    if o.has('x') {
        re_src = format!("^(?:{re_src})$");
    } else if o.has('w') {
        re_src = format!("\\b(?:{re_src})\\b");
    }
    let re = match RegexBuilder::new(&re_src).case_insensitive(o.has('i') || o.has('y')).size_limit(50 << 20).build() {
        Ok(r) => r,
        Err(e) => {
            let s = e.to_string();
            ctx.errln(format!(
                "grep: {}",
                s.lines().last().unwrap_or("invalid regex").trim().trim_start_matches("error: ")
            ));
            return 2;
        }
    };
    let scan = RegexBuilder::new(&re_src)
        .case_insensitive(o.has('i') || o.has('y'))
        .multi_line(true)
        .size_limit(50 << 20)
        .build()
        .ok();
    let num = |c: char| -> Option<usize> { o.val(c).and_then(|v| v.parse().ok()) };
    let ctxn = num('C').unwrap_or(0);
    let recursive = o.has('r') || o.has('R');
    let no_files = args_left.is_empty();
    let files: Vec<String> =
        if no_files { if recursive { vec![".".into()] } else { vec!["-".into()] } } else { args_left };
    let with_name = if o.has('h') {
        false
    } else {
        o.has('H') || files.len() > 1 || recursive && !(files.len() == 1 && ctx.path(&files[0]).is_file())
    };
    let g = G {
        re,
        scan,
        invert: o.has('v'),
        count: o.has('c'),
        list: o.has('l'),
        list_not: o.has('L'),
        only: o.has('o'),
        quiet: o.has('q'),
        number: o.has('n'),
        with_name,
        after: num('A').unwrap_or(ctxn),
        before: num('B').unwrap_or(ctxn),
        max: num('m'),
        text: o.has('a') || o.val('4') == Some("text"),
        ignore_binary: o.has('I') || o.val('4') == Some("without-match"),
        byte_offset: o.has('b'),
        empty_match_all,
    };
    let includes: Vec<String> = o.all('1').iter().map(|s| s.to_string()).collect();
    let excludes: Vec<String> = o.all('2').iter().map(|s| s.to_string()).collect();
    let exclude_dirs: Vec<String> = o.all('3').iter().map(|s| s.to_string()).collect();
    let mut any = false;
    let mut errors = false;
    for f in &files {
        if f == "-" {
            let d = ctx.stdin();
            any |= search(ctx, &g, "(standard input)", &d);
        } else {
            let p = ctx.path(f);
            if p.is_dir() {
                if recursive {
                    let disp = if no_files { String::new() } else { f.clone() };
                    walk(ctx, &g, &p, &disp, &includes, &excludes, &exclude_dirs, &mut any, &mut errors, o.has('s'), 0);
                } else {
                    if !o.has('s') {
                        ctx.errln(format!("grep: {f}: Is a directory"));
                    }
                    errors = true;
                }
                continue;
            }
            match std::fs::read(&p) {
                Ok(d) => any |= search(ctx, &g, f, &d),
                Err(e) => {
                    if !o.has('s') {
                        ctx.errln(format!("grep: {f}: {}", errmsg(&e)));
                    }
                    errors = true;
                }
            }
        }
        if any && g.quiet {
            return 0;
        }
    }
    if errors && !(g.quiet && any) {
        2
    } else if any {
        0
    } else {
        1
    }
}

#[allow(clippy::too_many_arguments)]
fn walk(
    ctx: &mut Ctx,
    g: &G,
    dir: &Path,
    disp: &str,
    inc: &[String],
    exc: &[String],
    exd: &[String],
    any: &mut bool,
    errors: &mut bool,
    silent: bool,
    depth: u32,
) {
    if depth > 64 {
        return;
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) => {
            if !silent {
                ctx.errln(format!("grep: {disp}: {}", errmsg(&e)));
            }
            *errors = true;
            return;
        }
    };
    let mut ents: Vec<(String, PathBuf)> =
        rd.flatten().map(|e| (e.file_name().to_string_lossy().into_owned(), e.path())).collect();
    ents.sort();
    for (name, path) in ents {
        let d = if disp.is_empty() {
            name.clone()
        } else if disp.ends_with('/') {
            format!("{disp}{name}")
        } else {
            format!("{disp}/{name}")
        };
        let Ok(md) = std::fs::metadata(&path) else { continue };
        if md.is_dir() {
            if exd.iter().any(|p| fsutil::fnmatch(p, &name)) {
                continue;
            }
            walk(ctx, g, &path, &d, inc, exc, exd, any, errors, silent, depth + 1);
        } else {
            if !inc.is_empty() && !inc.iter().any(|p| fsutil::fnmatch(p, &name)) {
                continue;
            }
            if exc.iter().any(|p| fsutil::fnmatch(p, &name)) {
                continue;
            }
            match std::fs::read(&path) {
                Ok(data) => *any |= search(ctx, g, &d, &data),
                Err(e) => {
                    if !silent {
                        ctx.errln(format!("grep: {d}: {}", errmsg(&e)));
                    }
                    *errors = true;
                }
            }
            if *any && g.quiet {
                return;
            }
        }
    }
}

/// The lines of `data` that `re` matches, as (byte offset, line), found
/// with `scan` (the same pattern in multi-line mode) and the line around
/// each match found by `memchr`: the input is never split into lines.
/// A match found in the whole input may run across a newline (`\s`,
/// `[^x]`), so each candidate line is confirmed on its own, as grep does.
fn matching_lines<'a>(scan: &Regex, re: &Regex, data: &'a [u8]) -> Vec<(usize, &'a [u8])> {
    // Past the last line: after a final newline there is no line.
    let end_of_lines = if data.ends_with(b"\n") { data.len() - 1 } else { data.len() };
    let mut hits = Vec::new();
    let mut pos = 0;
    while pos <= data.len() {
        let Some(m) = scan.find_at(data, pos) else { break };
        let start = memchr::memrchr(b'\n', &data[..m.start()]).map_or(0, |i| i + 1);
        if data.is_empty() || start > end_of_lines {
            break;
        }
        let end = memchr::memchr(b'\n', &data[m.start()..]).map_or(data.len(), |i| m.start() + i);
        let line = &data[start..end];
        if re.is_match(line) {
            hits.push((start, line));
        }
        // On to the next line; an empty match at the very end (`^$`,
        // `x*`) lies past the last line and must not be found again.
        pos = (end + 1).max(m.start() + 1);
    }
    hits
}

/// Search one input; returns whether something matched.
fn search(ctx: &mut Ctx, g: &G, name: &str, data: &[u8]) -> bool {
    let binary = !g.text && memchr::memchr(0, data).is_some();
    if binary && g.ignore_binary {
        return false;
    }
    // Most searches match few lines: one scan of the whole input finds them
    // far faster than a regex call per line (the call overhead dominates
    // on short lines), and without context lines nothing else of the input
    // is looked at. Inverted and match-everything searches go per line.
    if let Some(scan) = g.scan.as_ref().filter(|_| !g.invert && !g.empty_match_all) {
        let hits = matching_lines(scan, &g.re, data);
        if g.before == 0 && g.after == 0 {
            return print_hits(ctx, g, name, data, &hits, binary);
        }
        let lines = fsutil::lines(data);
        let mut index = LineIndex::default();
        let hit_lines: Vec<usize> = hits.iter().map(|&(start, _)| index.of(data, start)).collect();
        return search_lines(ctx, g, name, &lines, Some(&hit_lines), binary);
    }
    search_lines(ctx, g, name, &fsutil::lines(data), None, binary)
}

/// Line numbers (0-based) of increasing byte offsets, counted as it goes.
#[derive(Default)]
struct LineIndex {
    offset: usize,
    line: usize,
}

impl LineIndex {
    fn of(&mut self, data: &[u8], start: usize) -> usize {
        self.line += memchr::memchr_iter(b'\n', &data[self.offset..start]).count();
        self.offset = start;
        self.line
    }
}

/// The output of a search without context lines, from its matching lines.
fn print_hits(ctx: &mut Ctx, g: &G, name: &str, data: &[u8], hits: &[(usize, &[u8])], binary: bool) -> bool {
    let plain_output = !(g.count || g.list || g.list_not || g.quiet || binary);
    let hits = &hits[..g.max.map_or(hits.len(), |m| m.min(hits.len()))];
    let mut out = Vec::new();
    if plain_output {
        let mut index = LineIndex::default();
        for &(start, line) in hits {
            let i = if g.number { index.of(data, start) } else { 0 };
            print_line(&mut out, g, name, i, start, line);
            if out.len() > crate::exec::MAX_BUF {
                break;
            }
        }
    }
    report(ctx, g, name, hits.len(), binary, &out)
}

/// A matching line as grep prints it: with its prefix, or its matches (`-o`).
fn print_line(out: &mut Vec<u8>, g: &G, name: &str, i: usize, offset: usize, line: &[u8]) {
    if g.only {
        for m in g.re.find_iter(line) {
            if !m.as_bytes().is_empty() {
                prefix(out, g, name, i, b':', offset + m.start());
                out.extend_from_slice(m.as_bytes());
                out.push(b'\n');
            }
        }
    } else {
        prefix(out, g, name, i, b':', offset);
        out.extend_from_slice(line);
        out.push(b'\n');
    }
}

/// The file name, line number and byte offset before a line, as asked.
fn prefix(out: &mut Vec<u8>, g: &G, name: &str, i: usize, sep: u8, offset: usize) {
    if g.with_name {
        out.extend_from_slice(name.as_bytes());
        out.push(sep);
    }
    if g.number {
        out.extend_from_slice((i + 1).to_string().as_bytes());
        out.push(sep);
    }
    if g.byte_offset {
        out.extend_from_slice(offset.to_string().as_bytes());
        out.push(sep);
    }
}

/// Search the lines of one input, with context lines; `hits` are the
/// matching lines when already known.
fn search_lines(ctx: &mut Ctx, g: &G, name: &str, lines: &[&[u8]], hits: Option<&[usize]>, binary: bool) -> bool {
    let mut next_hit = 0usize;
    let mut is_match = |i: usize, l: &[u8]| -> bool {
        match hits {
            Some(h) => {
                while next_hit < h.len() && h[next_hit] < i {
                    next_hit += 1;
                }
                h.get(next_hit) == Some(&i)
            }
            None => (g.empty_match_all || g.re.is_match(l)) != g.invert,
        }
    };
    let mut count = 0usize;
    let mut out = Vec::new();
    let mut last_printed: Option<usize> = None;
    let mut after_left = 0usize;
    let mut offsets = Vec::with_capacity(if g.byte_offset { lines.len() } else { 0 });
    if g.byte_offset {
        let mut off = 0;
        for l in lines {
            offsets.push(off);
            off += l.len() + 1;
        }
    }
    let offset = |i: usize| offsets.get(i).copied().unwrap_or(0);
    let plain_output = !(g.count || g.list || g.list_not || g.quiet || binary);
    for (i, l) in lines.iter().enumerate() {
        if g.max.is_some_and(|m| count >= m) {
            break;
        }
        if is_match(i, l) {
            count += 1;
            if !plain_output {
                if g.quiet || g.list {
                    break;
                }
                continue;
            }
            // context before
            if g.before > 0 || g.after > 0 {
                let start = i.saturating_sub(g.before);
                let from = match last_printed {
                    Some(lp) if lp + 1 >= start => lp + 1,
                    Some(_) => {
                        out.extend_from_slice(b"--\n");
                        start
                    }
                    None => start,
                };
                for (j, cl) in lines.iter().enumerate().take(i).skip(from) {
                    prefix(&mut out, g, name, j, b'-', offset(j));
                    out.extend_from_slice(cl);
                    out.push(b'\n');
                }
            }
            if !(g.only && g.invert) {
                print_line(&mut out, g, name, i, offset(i), l);
            }
            last_printed = Some(i);
            after_left = g.after;
        } else if after_left > 0 && plain_output {
            prefix(&mut out, g, name, i, b'-', offset(i));
            out.extend_from_slice(l);
            out.push(b'\n');
            last_printed = Some(i);
            after_left -= 1;
        }
        if out.len() > crate::exec::MAX_BUF {
            break;
        }
    }
    report(ctx, g, name, count, binary, &out)
}

/// What grep prints for one input once its `count` matching lines and
/// their output `out` are known; returns whether it counts as a match.
fn report(ctx: &mut Ctx, g: &G, name: &str, count: usize, binary: bool, out: &[u8]) -> bool {
    if g.quiet {
        return count > 0;
    }
    if g.count {
        if g.with_name {
            ctx.outs(format!("{name}:{count}\n"));
        } else {
            ctx.outs(format!("{count}\n"));
        }
    } else if g.list {
        if count > 0 {
            ctx.outs(format!("{name}\n"));
        }
    } else if g.list_not {
        if count == 0 {
            ctx.outs(format!("{name}\n"));
        }
    } else if binary {
        if count > 0 {
            ctx.errln(format!("grep: {name}: binary file matches"));
        }
    } else {
        ctx.out.extend_from_slice(out);
    }
    if g.list_not { count == 0 } else { count > 0 }
}
