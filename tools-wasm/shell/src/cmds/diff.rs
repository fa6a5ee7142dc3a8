//! diff: normal and unified formats, -r for directories, -q, -i, -w, -b, -N.

use std::path::{Path, PathBuf};

use similar::{Algorithm, DiffOp, capture_diff_slices};

use super::{Ctx, opts};
use crate::fsutil::{self, errmsg};

struct Opt {
    unified: Option<usize>,
    brief: bool,
    recursive: bool,
    new_file: bool,
    icase: bool,
    iws: bool,
    ispace: bool,
    flags: String,
    label: Vec<String>,
}

fn norm_line(l: &[u8], o: &Opt) -> Vec<u8> {
    let mut v = l.to_vec();
    if o.icase {
        v.make_ascii_lowercase();
    }
    if o.iws {
        v.retain(|b| !b.is_ascii_whitespace());
    } else if o.ispace {
        let mut out = Vec::new();
        let mut prev_ws = false;
        for &b in &v {
            if b == b' ' || b == b'\t' {
                prev_ws = true;
            } else {
                if prev_ws && !out.is_empty() {
                    out.push(b' ');
                }
                prev_ws = false;
                out.push(b);
            }
        }
        v = out;
    }
    v
}

fn range(start: usize, len: usize) -> String {
    // normal format: 1-based inclusive
    if len <= 1 { format!("{}", start + 1) } else { format!("{},{}", start + 1, start + len) }
}

fn urange(start: usize, len: usize) -> String {
    match len {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        _ => format!("{},{len}", start + 1),
    }
}

/// Diff two byte buffers; returns the output (empty if equal) and whether they differ.
fn diff_bytes(a: &[u8], b: &[u8], an: &str, bn: &str, a_time: &str, b_time: &str, o: &Opt) -> (Vec<u8>, bool) {
    if a == b {
        return (Vec::new(), false);
    }
    if a.contains(&0) || b.contains(&0) {
        return (format!("Binary files {an} and {bn} differ\n").into_bytes(), true);
    }
    let al = fsutil::lines(a);
    let bl = fsutil::lines(b);
    let an_nl = a.is_empty() || a.ends_with(b"\n");
    let bn_nl = b.is_empty() || b.ends_with(b"\n");
    let ak: Vec<Vec<u8>> = al.iter().map(|l| norm_line(l, o)).collect();
    let bk: Vec<Vec<u8>> = bl.iter().map(|l| norm_line(l, o)).collect();
    // a missing final newline makes the last line differ
    let mut ak2 = ak.clone();
    let mut bk2 = bk.clone();
    if !an_nl && let Some(l) = ak2.last_mut() {
        l.extend_from_slice(b"\x00nonl");
    }
    if !bn_nl && let Some(l) = bk2.last_mut() {
        l.extend_from_slice(b"\x00nonl");
    }
    let ops = capture_diff_slices(Algorithm::Myers, &ak2, &bk2);
    if ops.iter().all(|op| matches!(op, DiffOp::Equal { .. })) {
        return (Vec::new(), false);
    }
    if o.brief {
        return (format!("Files {an} and {bn} differ\n").into_bytes(), true);
    }
    let mut out = Vec::new();
    let line = |out: &mut Vec<u8>, prefix: &[u8], l: &[u8], nonl: bool| {
        out.extend_from_slice(prefix);
        out.extend_from_slice(l);
        out.push(b'\n');
        if nonl {
            out.extend_from_slice(b"\\ No newline at end of file\n");
        }
    };
    let a_nonl = |i: usize| !an_nl && i + 1 == al.len();
    let b_nonl = |i: usize| !bn_nl && i + 1 == bl.len();
    match o.unified {
        None => {
            for op in &ops {
                match *op {
                    DiffOp::Equal { .. } => {}
                    DiffOp::Delete { old_index, old_len, new_index } => {
                        out.extend_from_slice(format!("{}d{}\n", range(old_index, old_len), new_index).as_bytes());
                        for i in old_index..old_index + old_len {
                            line(&mut out, b"< ", al[i], a_nonl(i));
                        }
                    }
                    DiffOp::Insert { old_index, new_index, new_len } => {
                        out.extend_from_slice(format!("{}a{}\n", old_index, range(new_index, new_len)).as_bytes());
                        for i in new_index..new_index + new_len {
                            line(&mut out, b"> ", bl[i], b_nonl(i));
                        }
                    }
                    DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                        out.extend_from_slice(
                            format!("{}c{}\n", range(old_index, old_len), range(new_index, new_len)).as_bytes(),
                        );
                        for i in old_index..old_index + old_len {
                            line(&mut out, b"< ", al[i], a_nonl(i));
                        }
                        out.extend_from_slice(b"---\n");
                        for i in new_index..new_index + new_len {
                            line(&mut out, b"> ", bl[i], b_nonl(i));
                        }
                    }
                }
            }
        }
        Some(n) => {
            let la = o.label.first().cloned().unwrap_or_else(|| format!("{an}\t{a_time}"));
            let lb = o.label.get(1).cloned().unwrap_or_else(|| format!("{bn}\t{b_time}"));
            out.extend_from_slice(format!("--- {la}\n+++ {lb}\n").as_bytes());
            for group in group_ops(&ops, n) {
                let (Some(first), Some(last)) = (group.first(), group.last()) else { continue };
                let os = first.old_range().start;
                let oe = last.old_range().end;
                let ns = first.new_range().start;
                let ne = last.new_range().end;
                out.extend_from_slice(format!("@@ -{} +{} @@\n", urange(os, oe - os), urange(ns, ne - ns)).as_bytes());
                for op in &group {
                    match *op {
                        DiffOp::Equal { old_index, len, .. } => {
                            for i in old_index..old_index + len {
                                line(&mut out, b" ", al[i], a_nonl(i));
                            }
                        }
                        DiffOp::Delete { old_index, old_len, .. } => {
                            for i in old_index..old_index + old_len {
                                line(&mut out, b"-", al[i], a_nonl(i));
                            }
                        }
                        DiffOp::Insert { new_index, new_len, .. } => {
                            for i in new_index..new_index + new_len {
                                line(&mut out, b"+", bl[i], b_nonl(i));
                            }
                        }
                        DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                            for i in old_index..old_index + old_len {
                                line(&mut out, b"-", al[i], a_nonl(i));
                            }
                            for i in new_index..new_index + new_len {
                                line(&mut out, b"+", bl[i], b_nonl(i));
                            }
                        }
                    }
                }
            }
        }
    }
    (out, true)
}

/// Group ops into hunks with `n` lines of context (like similar's grouped_ops).
fn group_ops(ops: &[DiffOp], n: usize) -> Vec<Vec<DiffOp>> {
    let mut ops = ops.to_vec();
    if ops.is_empty() {
        return vec![];
    }
    // trim leading/trailing equal
    if let Some(DiffOp::Equal { old_index, new_index, len }) = ops.first().copied() {
        let keep = len.min(n);
        ops[0] = DiffOp::Equal { old_index: old_index + len - keep, new_index: new_index + len - keep, len: keep };
    }
    let last = ops.len() - 1;
    if let Some(DiffOp::Equal { old_index, new_index, len }) = ops.last().copied() {
        ops[last] = DiffOp::Equal { old_index, new_index, len: len.min(n) };
    }
    let mut groups = Vec::new();
    let mut cur: Vec<DiffOp> = Vec::new();
    for op in ops {
        if let DiffOp::Equal { old_index, new_index, len } = op
            && len > n * 2
            && !cur.is_empty()
        {
            cur.push(DiffOp::Equal { old_index, new_index, len: n });
            groups.push(std::mem::take(&mut cur));
            cur.push(DiffOp::Equal { old_index: old_index + len - n, new_index: new_index + len - n, len: n });
            continue;
        }
        cur.push(op);
    }
    if !cur.is_empty() && !(cur.len() == 1 && matches!(cur[0], DiffOp::Equal { .. })) {
        groups.push(cur);
    }
    groups
        .into_iter()
        .map(|g| g.into_iter().filter(|op| !matches!(op, DiffOp::Equal { len: 0, .. })).collect())
        .collect()
}

fn file_time(p: &Path) -> String {
    std::fs::metadata(p)
        .map(|m| {
            let (s, n) = fsutil::mtime(&m);
            fsutil::full_time(s, n)
        })
        .unwrap_or_else(|_| fsutil::full_time(0, 0))
}

fn join_disp(d: &str, n: &str) -> String {
    if d.ends_with('/') { format!("{d}{n}") } else { format!("{d}/{n}") }
}

fn diff_dirs(ctx: &mut Ctx, a: &Path, b: &Path, ad: &str, bd: &str, o: &Opt, depth: u32) -> i32 {
    if depth > 64 {
        return 2;
    }
    let names = |p: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(p)
            .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    let an = names(a);
    let bn = names(b);
    let mut all: Vec<String> = an.iter().chain(bn.iter()).cloned().collect();
    all.sort();
    all.dedup();
    let mut st = 0;
    for n in all {
        let (ap, bp) = (a.join(&n), b.join(&n));
        let (ax, bx) = (an.contains(&n), bn.contains(&n));
        let (adn, bdn) = (join_disp(ad, &n), join_disp(bd, &n));
        if ax && bx {
            let (aisd, bisd) = (ap.is_dir(), bp.is_dir());
            if aisd && bisd {
                if o.recursive {
                    st = st.max(diff_dirs(ctx, &ap, &bp, &adn, &bdn, o, depth + 1));
                } else {
                    ctx.outs(format!("Common subdirectories: {adn} and {bdn}\n"));
                }
            } else if aisd != bisd {
                let (ka, kb) =
                    (if aisd { "directory" } else { "regular file" }, if bisd { "directory" } else { "regular file" });
                ctx.outs(format!("File {adn} is a {ka} while file {bdn} is a {kb}\n"));
                st = st.max(1);
            } else {
                let (da, db) = (std::fs::read(&ap).unwrap_or_default(), std::fs::read(&bp).unwrap_or_default());
                let (out, differ) = diff_bytes(&da, &db, &adn, &bdn, &file_time(&ap), &file_time(&bp), o);
                if differ {
                    if !o.brief && !out.starts_with(b"Binary files") {
                        ctx.outs(format!("diff{} {adn} {bdn}\n", o.flags));
                    }
                    ctx.out.extend_from_slice(&out);
                    st = st.max(1);
                }
            }
        } else if o.new_file && !(if ax { ap.is_dir() } else { bp.is_dir() }) {
            let (da, db) = (std::fs::read(&ap).unwrap_or_default(), std::fs::read(&bp).unwrap_or_default());
            let (out, _) = diff_bytes(&da, &db, &adn, &bdn, &file_time(&ap), &file_time(&bp), o);
            if !o.brief {
                ctx.outs(format!("diff{} {adn} {bdn}\n", o.flags));
            }
            ctx.out.extend_from_slice(&out);
            st = st.max(1);
        } else {
            let (d, _) = if ax { (ad, &adn) } else { (bd, &bdn) };
            ctx.outs(format!("Only in {d}: {n}\n"));
            st = st.max(1);
        }
    }
    st
}

pub fn diff(ctx: &mut Ctx, args: &[String]) -> i32 {
    let args: Vec<String> = args.iter().filter(|a| !a.starts_with("--color")).cloned().collect();
    let o = opts!(
        ctx,
        "diff",
        &args,
        "uU:qrNiwbBaEtscL:",
        &[
            ("unified", 'U'),
            ("brief", 'q'),
            ("recursive", 'r'),
            ("new-file", 'N'),
            ("ignore-case", 'i'),
            ("ignore-all-space", 'w'),
            ("ignore-space-change", 'b'),
            ("text", 'a'),
            ("label", 'L'),
            ("report-identical-files", 's')
        ],
        2
    );
    let unified = if let Some(n) = o.val('U') {
        match n.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                ctx.errln(format!("diff: invalid context length '{n}'"));
                return 2;
            }
        }
    } else if o.has('u') || o.has('c') {
        Some(3)
    } else {
        None
    };
    let mut flags = String::new();
    if o.has('r') || o.has('u') || o.has('q') || o.has('N') {
        flags.push_str(" -");
        for c in ['N', 'q', 'r', 'u'] {
            if o.has(c) {
                flags.push(c);
            }
        }
    }
    let opt = Opt {
        unified,
        brief: o.has('q'),
        recursive: o.has('r'),
        new_file: o.has('N'),
        icase: o.has('i'),
        iws: o.has('w'),
        ispace: o.has('b'),
        flags,
        label: o.all('L').iter().map(|s| s.to_string()).collect(),
    };
    if o.args.len() != 2 {
        if o.args.len() < 2 {
            ctx.errln(format!(
                "diff: missing operand after '{}'",
                o.args.first().cloned().unwrap_or_else(|| "diff".into())
            ));
        } else {
            ctx.errln(format!("diff: extra operand '{}'", o.args[2]));
        }
        ctx.errln("diff: Try 'diff --help' for more information.");
        return 2;
    }
    let (a, b) = (o.args[0].clone(), o.args[1].clone());
    let (mut ap, mut bp): (PathBuf, PathBuf) = (ctx.path(&a), ctx.path(&b));
    let (mut ad, mut bd) = (a.clone(), b.clone());
    if a != "-" && b != "-" && ap.is_dir() && bp.is_dir() {
        return diff_dirs(ctx, &ap, &bp, &a, &b, &opt, 0);
    }
    if a != "-" && ap.is_dir() && !bp.is_dir() {
        let name = Path::new(&b).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        ap = ap.join(&name);
        ad = join_disp(&a, &name);
    } else if b != "-" && bp.is_dir() && !ap.is_dir() {
        let name = Path::new(&a).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        bp = bp.join(&name);
        bd = join_disp(&b, &name);
    }
    let read = |ctx: &mut Ctx, name: &str, p: &Path| -> Option<Vec<u8>> {
        if name == "-" {
            return Some(ctx.stdin());
        }
        match std::fs::read(p) {
            Ok(d) => Some(d),
            Err(e) => {
                if opt.new_file && e.kind() == std::io::ErrorKind::NotFound {
                    return Some(Vec::new());
                }
                ctx.errln(format!("diff: {name}: {}", errmsg(&e)));
                None
            }
        }
    };
    let Some(da) = read(ctx, &ad, &ap) else { return 2 };
    let Some(db) = read(ctx, &bd, &bp) else { return 2 };
    let (out, differ) = diff_bytes(&da, &db, &ad, &bd, &file_time(&ap), &file_time(&bp), &opt);
    ctx.out.extend_from_slice(&out);
    if !differ && o.has('s') {
        ctx.outs(format!("Files {ad} and {bd} are identical\n"));
    }
    differ as i32
}
