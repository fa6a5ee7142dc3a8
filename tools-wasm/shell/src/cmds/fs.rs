//! File-system utilities: ls, cat, mkdir, rm, rmdir, cp, mv, touch, stat, du, df, file, basename, dirname,
//! realpath, chmod.

use std::fs::{self, Metadata};
use std::path::{Path, PathBuf};

use super::{Ctx, opts};
use crate::fsutil::{self, errmsg, human, q};

fn mode_string(md: &Metadata) -> String {
    let ft = md.file_type();
    if ft.is_symlink() {
        "lrwxrwxrwx".into()
    } else if ft.is_dir() {
        "drwxr-xr-x".into()
    } else {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = md.permissions().mode();
            let mut s = String::from("-");
            for (i, c) in "rwxrwxrwx".chars().enumerate() {
                s.push(if m & (1 << (8 - i)) != 0 { c } else { '-' });
            }
            s
        }
        #[cfg(not(unix))]
        {
            if md.permissions().readonly() { "-r--r--r--".into() } else { "-rw-r--r--".into() }
        }
    }
}

fn blocks_k(md: &Metadata) -> u64 {
    if md.is_dir() { 4 } else { md.len().div_ceil(4096) * 4 }
}

struct Entry {
    name: String,
    path: PathBuf,
    md: Metadata,
}

pub fn ls(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(
        ctx,
        "ls",
        args,
        "laARh1tSrdFpUXvCm",
        &[
            ("all", 'a'),
            ("almost-all", 'A'),
            ("recursive", 'R'),
            ("human-readable", 'h'),
            ("reverse", 'r'),
            ("directory", 'd'),
            ("classify", 'F'),
            ("color", 'U')
        ],
        2
    );
    let long = o.has('l');
    let all = o.has('a');
    let almost = o.has('A') || all;
    let mut st = 0;
    let targets: Vec<String> = if o.args.is_empty() { vec![".".into()] } else { o.args.clone() };
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for t in &targets {
        let p = ctx.path(t);
        match fs::metadata(&p).or_else(|_| fs::symlink_metadata(&p)) {
            Ok(md) => {
                if md.is_dir() && !o.has('d') {
                    dirs.push((t.clone(), p));
                } else {
                    files.push(Entry { name: t.clone(), path: p, md });
                }
            }
            Err(e) => {
                ctx.errln(format!("ls: cannot access {}: {}", q(t), errmsg(&e)));
                st = 2;
            }
        }
    }
    let sort = |v: &mut Vec<Entry>| {
        if o.has('U') {
            return;
        }
        if o.has('t') {
            v.sort_by(|a, b| {
                let (ta, tb) = (fsutil::mtime(&a.md), fsutil::mtime(&b.md));
                tb.cmp(&ta).then_with(|| a.name.cmp(&b.name))
            });
        } else if o.has('S') {
            v.sort_by(|a, b| b.md.len().cmp(&a.md.len()).then_with(|| a.name.cmp(&b.name)));
        } else {
            v.sort_by(|a, b| a.name.cmp(&b.name));
        }
        if o.has('r') {
            v.reverse();
        }
    };
    let fmt = |e: &Entry, out: &mut Vec<u8>| {
        let mut name = e.name.clone();
        if o.has('F') || o.has('p') {
            if e.md.is_dir() {
                name.push('/');
            } else if o.has('F') && e.md.file_type().is_symlink() {
                name.push('@');
            }
        }
        if long {
            let size = if o.has('h') { human(e.md.len()) } else { e.md.len().to_string() };
            let nlink = if e.md.is_dir() { 2 } else { 1 };
            let mut line = format!(
                "{} {} user user {:>5} {} {}",
                mode_string(&e.md),
                nlink,
                size,
                fsutil::ls_time(fsutil::mtime(&e.md).0),
                name
            );
            if e.md.file_type().is_symlink()
                && let Ok(t) = fs::read_link(&e.path)
            {
                line.push_str(&format!(" -> {}", t.to_string_lossy()));
            }
            out.extend_from_slice(line.as_bytes());
        } else {
            out.extend_from_slice(name.as_bytes());
        }
        out.push(b'\n');
    };
    sort(&mut files);
    for f in &files {
        fmt(f, ctx.out);
    }
    let multi = targets.len() > 1 || o.has('R');
    let mut first = files.is_empty();
    dirs.sort_by(|a, b| a.0.cmp(&b.0));
    if o.has('r') {
        dirs.reverse();
    }
    let mut queue: std::collections::VecDeque<(String, PathBuf)> = dirs.into();
    let mut count = 0;
    while let Some((disp, p)) = queue.pop_front() {
        count += 1;
        if count > 100_000 {
            break;
        }
        if !first {
            ctx.out.push(b'\n');
        }
        first = false;
        if multi {
            ctx.outs(format!("{disp}:\n"));
        }
        let rd = match fs::read_dir(&p) {
            Ok(rd) => rd,
            Err(e) => {
                ctx.errln(format!("ls: cannot open directory {}: {}", q(&disp), errmsg(&e)));
                st = 2;
                continue;
            }
        };
        let mut ents = Vec::new();
        for de in rd.flatten() {
            let name = de.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && !almost {
                continue;
            }
            let path = de.path();
            let Ok(md) = fs::symlink_metadata(&path) else { continue };
            ents.push(Entry { name, path, md });
        }
        if all {
            for n in [".", ".."] {
                let path = if n == "." { p.clone() } else { p.parent().map(Path::to_path_buf).unwrap_or(p.clone()) };
                // In a sandbox the workspace's parent is out of reach: `..`
                // is still listed, described by the directory itself.
                if let Ok(md) = fs::metadata(&path).or_else(|_| fs::metadata(&p)) {
                    ents.push(Entry { name: n.into(), path, md });
                }
            }
        }
        sort(&mut ents);
        if long {
            let total: u64 = ents.iter().map(|e| blocks_k(&e.md)).sum();
            let t = if o.has('h') { human(total * 1024) } else { total.to_string() };
            ctx.outs(format!("total {t}\n"));
        }
        for e in &ents {
            fmt(e, ctx.out);
        }
        if o.has('R') {
            let mut subs: Vec<(String, PathBuf)> = ents
                .iter()
                .filter(|e| e.md.is_dir() && e.name != "." && e.name != "..")
                .map(|e| {
                    (
                        if disp.ends_with('/') { format!("{disp}{}", e.name) } else { format!("{disp}/{}", e.name) },
                        e.path.clone(),
                    )
                })
                .collect();
            // depth-first: insert at the front in order
            while let Some(s) = subs.pop() {
                queue.push_front(s);
            }
        }
    }
    st
}

pub fn cat(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(
        ctx,
        "cat",
        args,
        "nbsAEvTu",
        &[("number", 'n'), ("number-nonblank", 'b'), ("squeeze-blank", 's'), ("show-all", 'A'), ("show-ends", 'E')],
        1
    );
    let files: Vec<String> = if o.args.is_empty() { vec!["-".into()] } else { o.args.clone() };
    let mut st = 0;
    let mut n = 0usize;
    let mut prev_blank = false;
    for f in &files {
        let Some(data) = ctx.read_input("cat", f) else {
            st = 1;
            continue;
        };
        if !(o.has('n') || o.has('b') || o.has('s') || o.has('A') || o.has('E') || o.has('v') || o.has('T')) {
            ctx.out.extend_from_slice(&data);
            continue;
        }
        let mut start = 0;
        while start < data.len() {
            let end = data[start..].iter().position(|&b| b == b'\n').map(|i| start + i + 1).unwrap_or(data.len());
            let line = &data[start..end];
            start = end;
            let content = line.strip_suffix(b"\n").unwrap_or(line);
            let blank = content.is_empty();
            if o.has('s') && blank && prev_blank {
                continue;
            }
            prev_blank = blank;
            if o.has('b') {
                if !blank {
                    n += 1;
                    ctx.outs(format!("{n:>6}\t"));
                }
            } else if o.has('n') {
                n += 1;
                ctx.outs(format!("{n:>6}\t"));
            }
            if o.has('A') || o.has('v') || o.has('T') {
                for &b in content {
                    match b {
                        b'\t' if o.has('A') || o.has('T') => ctx.out.extend_from_slice(b"^I"),
                        b'\t' => ctx.out.push(b),
                        0..=31 => ctx.out.extend_from_slice(&[b'^', b + 64]),
                        127 => ctx.out.extend_from_slice(b"^?"),
                        128..=255 => {
                            ctx.out.extend_from_slice(b"M-");
                            let c = b - 128;
                            if c < 32 {
                                ctx.out.extend_from_slice(&[b'^', c + 64]);
                            } else if c == 127 {
                                ctx.out.extend_from_slice(b"^?");
                            } else {
                                ctx.out.push(c);
                            }
                        }
                        _ => ctx.out.push(b),
                    }
                }
            } else {
                ctx.out.extend_from_slice(content);
            }
            if line.ends_with(b"\n") {
                if o.has('A') || o.has('E') {
                    ctx.out.push(b'$');
                }
                ctx.out.push(b'\n');
            }
        }
    }
    st
}

pub fn mkdir(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(ctx, "mkdir", args, "pvm:", &[("parents", 'p'), ("verbose", 'v'), ("mode", 'm')], 1);
    if o.args.is_empty() {
        ctx.errln("mkdir: missing operand");
        return 1;
    }
    let mut st = 0;
    for a in &o.args {
        let p = ctx.path(a);
        let r = if o.has('p') { if p.is_dir() { Ok(()) } else { fs::create_dir_all(&p) } } else { fs::create_dir(&p) };
        match r {
            Ok(()) => {
                if o.has('v') {
                    ctx.outs(format!("mkdir: created directory {}\n", q(a)));
                }
            }
            Err(e) => {
                ctx.errln(format!("mkdir: cannot create directory {}: {}", q(a), errmsg(&e)));
                st = 1;
            }
        }
    }
    st
}

pub fn rm(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(ctx, "rm", args, "rRfivd", &[("recursive", 'r'), ("force", 'f'), ("verbose", 'v'), ("dir", 'd')], 1);
    let rec = o.has('r') || o.has('R');
    let force = o.has('f');
    if o.args.is_empty() && !force {
        ctx.errln("rm: missing operand");
        return 1;
    }
    let mut st = 0;
    for a in &o.args {
        let p = ctx.path(a);
        let base = Path::new(a).file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if base == "." || base == ".." || a == "/" || a.ends_with("/.") || a.ends_with("/..") {
            ctx.errln(format!("rm: refusing to remove '.' or '..' directory: skipping {}", q(a)));
            st = 1;
            continue;
        }
        let md = match fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) => {
                if !force {
                    ctx.errln(format!("rm: cannot remove {}: {}", q(a), errmsg(&e)));
                    st = 1;
                }
                continue;
            }
        };
        let r = if md.is_dir() {
            if rec {
                fs::remove_dir_all(&p)
            } else if o.has('d') {
                fs::remove_dir(&p)
            } else {
                ctx.errln(format!("rm: cannot remove {}: Is a directory", q(a)));
                st = 1;
                continue;
            }
        } else {
            fs::remove_file(&p)
        };
        match r {
            Ok(()) => {
                if o.has('v') {
                    let what = if md.is_dir() { "removed directory" } else { "removed" };
                    ctx.outs(format!("{what} {}\n", q(a)));
                }
            }
            Err(e) => {
                ctx.errln(format!("rm: cannot remove {}: {}", q(a), errmsg(&e)));
                st = 1;
            }
        }
    }
    st
}

pub fn rmdir(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o =
        opts!(ctx, "rmdir", args, "pv", &[("parents", 'p'), ("verbose", 'v'), ("ignore-fail-on-non-empty", 'i')], 1);
    if o.args.is_empty() {
        ctx.errln("rmdir: missing operand");
        return 1;
    }
    let mut st = 0;
    for a in &o.args {
        let mut cur = a.trim_end_matches('/').to_string();
        loop {
            let p = ctx.path(&cur);
            if let Err(e) = fs::remove_dir(&p) {
                let msg = if p.exists() && !p.is_dir() { "Not a directory".to_string() } else { errmsg(&e) };
                if !(o.has('i') && msg == "Directory not empty") {
                    ctx.errln(format!("rmdir: failed to remove {}: {msg}", q(&cur)));
                    st = 1;
                }
                break;
            }
            if !o.has('p') {
                break;
            }
            match Path::new(&cur).parent() {
                Some(par) if !par.as_os_str().is_empty() => cur = par.to_string_lossy().into_owned(),
                _ => break,
            }
        }
    }
    st
}

fn copy_rec(src: &Path, dst: &Path, depth: u32) -> std::io::Result<()> {
    if depth > 256 {
        return Err(std::io::Error::other("too deeply nested"));
    }
    let md = fs::metadata(src)?;
    if md.is_dir() {
        if dst.starts_with(src) {
            return Err(std::io::Error::other("cannot copy a directory into itself"));
        }
        if !dst.is_dir() {
            fs::create_dir(dst)?;
        }
        let mut ents: Vec<_> = fs::read_dir(src)?.flatten().collect();
        ents.sort_by_key(|e| e.file_name());
        for e in ents {
            copy_rec(&e.path(), &dst.join(e.file_name()), depth + 1)?;
        }
        Ok(())
    } else {
        fs::copy(src, dst).map(|_| ())
    }
}

fn cp_mv(ctx: &mut Ctx, args: &[String], mv: bool) -> i32 {
    let cmd = if mv { "mv" } else { "cp" };
    let o = opts!(
        ctx,
        cmd,
        args,
        "rRafinvpuTt:",
        &[
            ("recursive", 'r'),
            ("archive", 'a'),
            ("force", 'f'),
            ("no-clobber", 'n'),
            ("verbose", 'v'),
            ("target-directory", 't'),
            ("no-target-directory", 'T'),
            ("interactive", 'i'),
            ("update", 'u'),
            ("preserve", 'p')
        ],
        1
    );
    let rec = o.has('r') || o.has('R') || o.has('a');
    let mut operands = o.args.clone();
    let target = match o.val('t') {
        Some(t) => t.to_string(),
        None => {
            if operands.len() < 2 {
                if operands.is_empty() {
                    ctx.errln(format!("{cmd}: missing file operand"));
                } else {
                    ctx.errln(format!("{cmd}: missing destination file operand after {}", q(&operands[0])));
                }
                return 1;
            }
            operands.pop().unwrap_or_default()
        }
    };
    let tp = ctx.path(&target);
    let into_dir = tp.is_dir() && !o.has('T');
    if operands.len() > 1 && !into_dir {
        ctx.errln(format!("{cmd}: target {} is not a directory", q(&target)));
        return 1;
    }
    let mut st = 0;
    for s in &operands {
        let sp = ctx.path(s);
        let md = match fs::symlink_metadata(&sp) {
            Ok(m) => m,
            Err(e) => {
                ctx.errln(format!("{cmd}: cannot stat {}: {}", q(s), errmsg(&e)));
                st = 1;
                continue;
            }
        };
        let name = sp.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        let (dp, ddisp) = if into_dir {
            (tp.join(&name), format!("{}/{}", target.trim_end_matches('/'), name.to_string_lossy()))
        } else {
            (tp.clone(), target.clone())
        };
        if dp == sp {
            ctx.errln(format!("{cmd}: {} and {} are the same file", q(s), q(&ddisp)));
            st = 1;
            continue;
        }
        if o.has('n') && dp.exists() {
            continue;
        }
        let r = if mv {
            if md.is_dir() && dp.starts_with(&sp) {
                ctx.errln(format!("mv: cannot move {} to a subdirectory of itself, {}", q(s), q(&ddisp)));
                st = 1;
                continue;
            }
            if dp.is_dir() && !md.is_dir() {
                ctx.errln(format!("mv: cannot overwrite directory {} with non-directory", q(&ddisp)));
                st = 1;
                continue;
            }
            fs::rename(&sp, &dp).or_else(|_| {
                copy_rec(&sp, &dp, 0)?;
                if md.is_dir() { fs::remove_dir_all(&sp) } else { fs::remove_file(&sp) }
            })
        } else if md.is_dir() {
            if !rec {
                ctx.errln(format!("cp: -r not specified; omitting directory {}", q(s)));
                st = 1;
                continue;
            }
            if dp.starts_with(&sp) {
                ctx.errln(format!("cp: cannot copy a directory, {}, into itself, {}", q(s), q(&ddisp)));
                st = 1;
                continue;
            }
            copy_rec(&sp, &dp, 0)
        } else {
            if dp.is_dir() {
                ctx.errln(format!("cp: cannot overwrite directory {} with non-directory", q(&ddisp)));
                st = 1;
                continue;
            }
            fs::copy(&sp, &dp).map(|_| ())
        };
        match r {
            Ok(()) => {
                if o.has('v') {
                    if mv {
                        ctx.outs(format!("renamed {} -> {}\n", q(s), q(&ddisp)));
                    } else {
                        ctx.outs(format!("{} -> {}\n", q(s), q(&ddisp)));
                    }
                }
            }
            Err(e) => {
                if mv {
                    ctx.errln(format!("mv: cannot move {} to {}: {}", q(s), q(&ddisp), errmsg(&e)));
                } else {
                    ctx.errln(format!("cp: cannot create regular file {}: {}", q(&ddisp), errmsg(&e)));
                }
                st = 1;
            }
        }
    }
    st
}

pub fn cp(ctx: &mut Ctx, args: &[String]) -> i32 {
    cp_mv(ctx, args, false)
}

pub fn mv(ctx: &mut Ctx, args: &[String]) -> i32 {
    cp_mv(ctx, args, true)
}

pub fn touch(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(ctx, "touch", args, "camd:t:r:", &[("no-create", 'c'), ("date", 'd'), ("reference", 'r')], 1);
    if o.args.is_empty() {
        ctx.errln("touch: missing file operand");
        return 1;
    }
    let mut st = 0;
    for a in &o.args {
        let p = ctx.path(a);
        if !p.exists() {
            if o.has('c') {
                continue;
            }
            if let Err(e) = fs::OpenOptions::new().create(true).append(true).open(&p) {
                ctx.errln(format!("touch: cannot touch {}: {}", q(a), errmsg(&e)));
                st = 1;
            }
            continue;
        }
        if p.is_file()
            && let Ok(f) = fs::OpenOptions::new().append(true).open(&p)
        {
            let _ = f.set_modified(std::time::SystemTime::now());
        }
    }
    st
}

fn type_name(md: &Metadata) -> &'static str {
    if md.file_type().is_symlink() {
        "symbolic link"
    } else if md.is_dir() {
        "directory"
    } else if md.len() == 0 {
        "regular empty file"
    } else {
        "regular file"
    }
}

pub fn stat(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o =
        opts!(ctx, "stat", args, "c:Lt", &[("format", 'c'), ("printf", 'c'), ("dereference", 'L'), ("terse", 't')], 1);
    if o.args.is_empty() {
        ctx.errln("stat: missing operand");
        return 1;
    }
    let mut st = 0;
    for a in &o.args {
        let p = ctx.path(a);
        let md = match fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) => {
                ctx.errln(format!("stat: cannot statx {}: {}", q(a), errmsg(&e)));
                st = 1;
                continue;
            }
        };
        let (ms, mn) = fsutil::mtime(&md);
        let (as_, an) = md.accessed().map(fsutil::unix_secs).unwrap_or((ms, mn));
        let mode = mode_string(&md);
        let octal = {
            let mut v = 0u32;
            for (i, c) in mode[1..].chars().enumerate() {
                if c != '-' {
                    v |= 1 << (8 - i);
                }
            }
            format!("{v:o}")
        };
        if let Some(fmt) = o.val('c') {
            let mut s = String::new();
            let mut it = fmt.chars();
            while let Some(c) = it.next() {
                if c != '%' {
                    s.push(c);
                    continue;
                }
                match it.next() {
                    Some('n') => s.push_str(a),
                    Some('N') => s.push_str(&format!("'{a}'")),
                    Some('s') => s.push_str(&md.len().to_string()),
                    Some('F') => s.push_str(type_name(&md)),
                    Some('Y') => s.push_str(&ms.to_string()),
                    Some('X') => s.push_str(&as_.to_string()),
                    Some('y') => s.push_str(&fsutil::full_time(ms, mn)),
                    Some('x') => s.push_str(&fsutil::full_time(as_, an)),
                    Some('a') => s.push_str(&octal),
                    Some('A') => s.push_str(&mode),
                    Some('U') | Some('G') => s.push_str("user"),
                    Some('u') | Some('g') => s.push_str("1000"),
                    Some('b') => s.push_str(&(blocks_k(&md) * 2).to_string()),
                    Some('B') => s.push_str("512"),
                    Some('h') => s.push_str(if md.is_dir() { "2" } else { "1" }),
                    Some('i') => s.push('0'),
                    Some('%') => s.push('%'),
                    Some(x) => {
                        s.push('%');
                        s.push(x)
                    }
                    None => s.push('%'),
                }
            }
            ctx.outs(s + "\n");
            continue;
        }
        let size = md.len();
        ctx.outs(format!(
            "  File: {a}\n  Size: {size:<15} Blocks: {:<10} IO Block: 4096   {}\nDevice: 0h/0d\tInode: 0           Links: {}\nAccess: (0{octal}/{mode})  Uid: ( 1000/    user)   Gid: ( 1000/    user)\nAccess: {}\nModify: {}\nChange: {}\n Birth: -\n",
            blocks_k(&md) * 2,
            type_name(&md),
            if md.is_dir() { 2 } else { 1 },
            fsutil::full_time(as_, an),
            fsutil::full_time(ms, mn),
            fsutil::full_time(ms, mn),
        ));
    }
    st
}

fn du_walk(p: &Path, depth: u32, visit: &mut dyn FnMut(&Path, u64, bool, u32), count: &mut u32, bytes: bool) -> u64 {
    *count += 1;
    let Ok(md) = fs::symlink_metadata(p) else { return 0 };
    let own = if bytes { md.len() } else { blocks_k(&md) * 1024 };
    if !md.is_dir() {
        visit(p, own, false, depth);
        return own;
    }
    let mut total = own;
    if *count < 1_000_000
        && let Ok(rd) = fs::read_dir(p)
    {
        let mut ents: Vec<_> = rd.flatten().collect();
        ents.sort_by_key(|e| e.file_name());
        for e in ents {
            total += du_walk(&e.path(), depth + 1, visit, count, bytes);
        }
    }
    visit(p, total, true, depth);
    total
}

pub fn du(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(
        ctx,
        "du",
        args,
        "shacbkmd:",
        &[
            ("summarize", 's'),
            ("human-readable", 'h'),
            ("all", 'a'),
            ("total", 'c'),
            ("bytes", 'b'),
            ("max-depth", 'd'),
            ("apparent-size", 'A')
        ],
        1
    );
    let targets: Vec<String> = if o.args.is_empty() { vec![".".into()] } else { o.args.clone() };
    let maxd: Option<u32> = if o.has('s') { Some(0) } else { o.val('d').and_then(|d| d.parse().ok()) };
    // Sizes are walked in bytes: apparent (-b, --apparent-size) or the
    // blocks in use, and shown in the unit asked for, rounded up like GNU.
    let apparent = o.has('b') || o.has('A');
    let fmt = |n: u64| -> String {
        if o.has('h') {
            human(n)
        } else if o.has('b') {
            n.to_string()
        } else if o.has('m') {
            n.div_ceil(1 << 20).to_string()
        } else {
            n.div_ceil(1024).to_string()
        }
    };
    let mut st = 0;
    let mut grand = 0;
    for t in &targets {
        let p = ctx.path(t);
        if !p.exists() {
            ctx.errln(format!("du: cannot access {}: No such file or directory", q(t)));
            st = 1;
            continue;
        }
        let mut lines = Vec::new();
        let mut count = 0;
        let root = p.clone();
        let total = du_walk(
            &p,
            0,
            &mut |path, size, is_dir, depth| {
                if maxd.is_some_and(|m| depth > m) {
                    return;
                }
                if !is_dir && !o.has('a') && depth > 0 {
                    return;
                }
                let rel = path.strip_prefix(&root).map(|r| r.to_string_lossy().into_owned()).unwrap_or_default();
                let disp = if rel.is_empty() { t.clone() } else { format!("{}/{rel}", t.trim_end_matches('/')) };
                lines.push(format!("{}\t{disp}\n", fmt(size)));
            },
            &mut count,
            apparent,
        );
        grand += total;
        for l in lines {
            ctx.outs(l);
        }
    }
    if o.has('c') {
        ctx.outs(format!("{}\ttotal\n", fmt(grand)));
    }
    st
}

pub fn df(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(ctx, "df", args, "hkTa", &[("human-readable", 'h')], 1);
    let home = ctx.sh.home.to_string_lossy().into_owned();
    if o.has('h') {
        ctx.outs(format!(
            "Filesystem      Size  Used Avail Use% Mounted on\nworkspace       1.0G     0  1.0G   0% {home}\n"
        ));
    } else {
        ctx.outs(format!(
            "Filesystem     1K-blocks  Used Available Use% Mounted on\nworkspace        1048576     0   1048576   0% {home}\n"
        ));
    }
    0
}

pub fn describe(data: &[u8], is_dir: bool) -> String {
    if is_dir {
        return "directory".into();
    }
    if data.is_empty() {
        return "empty".into();
    }
    let be32 =
        |i: usize| -> u32 { data.get(i..i + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(0) };
    let le16 = |i: usize| -> u16 { data.get(i..i + 2).map(|b| u16::from_le_bytes([b[0], b[1]])).unwrap_or(0) };
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        let color = match data.get(25) {
            Some(0) => "grayscale",
            Some(2) => "RGB",
            Some(3) => "colormap",
            Some(4) => "gray+alpha",
            Some(6) => "RGBA",
            _ => "unknown",
        };
        let depth = data.get(24).copied().unwrap_or(8);
        let il = if data.get(28) == Some(&1) { "interlaced" } else { "non-interlaced" };
        return format!("PNG image data, {} x {}, {depth}-bit/color {color}, {il}", be32(16), be32(20));
    }
    if data.starts_with(&[0xff, 0xd8, 0xff]) {
        return "JPEG image data".into();
    }
    if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        let v = String::from_utf8_lossy(&data[3..6]).into_owned();
        return format!("GIF image data, version {v}, {} x {}", le16(6), le16(8));
    }
    if data.starts_with(b"%PDF-") {
        let v: String =
            data[5..].iter().take_while(|b| b.is_ascii_digit() || **b == b'.').map(|&b| b as char).collect();
        return format!("PDF document, version {v}");
    }
    if data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06") {
        return "Zip archive data, at least v2.0 to extract".into();
    }
    if data.starts_with(&[0x1f, 0x8b]) {
        return "gzip compressed data".into();
    }
    if data.len() > 262 && &data[257..262] == b"ustar" {
        return "POSIX tar archive".into();
    }
    if data.starts_with(b"\x7fELF") {
        let bits = if data.get(4) == Some(&2) { "64-bit" } else { "32-bit" };
        let end = if data.get(5) == Some(&2) { "MSB" } else { "LSB" };
        let kind = match le16(16) {
            1 => "relocatable",
            2 => "executable",
            3 => "shared object",
            4 => "core file",
            _ => "file",
        };
        return format!("ELF {bits} {end} {kind}");
    }
    if data.starts_with(b"\0asm") {
        let v = data.get(4..8).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(1);
        return if v == 1 {
            "WebAssembly (wasm) binary module version 0x1 (MVP)".into()
        } else {
            format!("WebAssembly (wasm) binary module version {v:#x}")
        };
    }
    if data.starts_with(b"BZh") {
        return "bzip2 compressed data".into();
    }
    if data.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return "XZ compressed data".into();
    }
    if data.starts_with(b"SQLite format 3\0") {
        return "SQLite 3.x database".into();
    }
    if data.starts_with(b"RIFF") && data.get(8..12) == Some(b"WEBP") {
        return "RIFF (little-endian) data, Web/P image".into();
    }
    if data.starts_with(b"BM") && data.len() > 26 {
        return "PC bitmap".into();
    }
    if data.starts_with(b"\x28\xb5\x2f\xfd") {
        return "Zstandard compressed data".into();
    }
    // text?
    let Ok(text) = std::str::from_utf8(data) else {
        return "data".into();
    };
    if data.iter().any(|&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c | 0x1b)) {
        return "data".into();
    }
    let ascii = text.is_ascii();
    let enc = if ascii { "ASCII text" } else { "Unicode text, UTF-8 text" };
    let mut extra = String::new();
    if text.contains("\r\n") {
        extra.push_str(", with CRLF line terminators");
    }
    if text.lines().any(|l| l.len() > 300) {
        extra = format!(", with very long lines ({}){extra}", text.lines().map(str::len).max().unwrap_or(0));
    }
    if !text.ends_with('\n') && !text.ends_with("\r\n") {
        extra.push_str(", with no line terminators");
    }
    let first = text.lines().next().unwrap_or("");
    if let Some(sb) = first.strip_prefix("#!") {
        let interp = sb.trim();
        let prog = interp.split_whitespace().last().unwrap_or("");
        let base = prog.rsplit('/').next().unwrap_or(prog);
        let kind = if base.starts_with("python") {
            "Python script".to_string()
        } else if matches!(base, "sh" | "bash" | "dash" | "zsh") {
            format!("{}{} script", if interp.contains("env ") { "a /usr/bin/env " } else { "" }, base)
        } else {
            format!("a {interp} script")
        };
        let kind = if base.starts_with("python") && interp.contains("env ") {
            format!("Python script, a /usr/bin/env {base} script")
        } else if matches!(base, "sh" | "bash") && !interp.contains("env ") {
            format!("{} shell script", if base == "sh" { "POSIX" } else { "Bourne-Again" })
        } else {
            kind
        };
        return format!("{kind}, {enc} executable{extra}");
    }
    let trimmed = text.trim();
    if (trimmed.starts_with('{') || trimmed.starts_with('[')) && looks_json(trimmed) {
        return "JSON text data".into();
    }
    if trimmed.starts_with("<?xml") {
        return format!("XML 1.0 document, {enc}{extra}");
    }
    if trimmed.to_ascii_lowercase().starts_with("<!doctype html") || trimmed.to_ascii_lowercase().starts_with("<html") {
        return format!("HTML document, {enc}{extra}");
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).take(20).collect();
    if lines.len() >= 2 {
        let n = lines[0].matches(',').count();
        if n >= 1 && lines.iter().all(|l| l.matches(',').count() == n) {
            return format!("CSV {}{extra}", if ascii { "text" } else { "Unicode text, UTF-8 text" });
        }
    }
    if text.contains("def ") && (text.contains("import ") || text.contains("):\n")) {
        return format!("Python script, {enc} executable{extra}");
    }
    format!("{enc}{extra}")
}

fn looks_json(s: &str) -> bool {
    // cheap structural check: balanced brackets outside strings and ends properly
    let mut depth = 0i64;
    let mut in_str = false;
    let mut esc = false;
    for c in s.chars() {
        if in_str {
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0 && !in_str && (s.ends_with('}') || s.ends_with(']'))
}

pub fn file(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(ctx, "file", args, "bLiz", &[("brief", 'b'), ("mime", 'i')], 1);
    if o.args.is_empty() {
        ctx.errln("Usage: file [-bL] FILE...");
        return 1;
    }
    let width = o.args.iter().map(|a| a.chars().count()).max().unwrap_or(0) + 1;
    for a in &o.args {
        let p = ctx.path(a);
        let d = match fs::metadata(&p) {
            Err(e) => format!("cannot open `{a}' ({})", errmsg(&e)),
            Ok(md) if md.is_dir() => "directory".into(),
            Ok(_) => {
                let mut buf = Vec::new();
                match fs::File::open(&p) {
                    Ok(f) => {
                        use std::io::Read;
                        let _ = f.take(1 << 20).read_to_end(&mut buf);
                        describe(&buf, false)
                    }
                    Err(e) => format!("cannot open `{a}' ({})", errmsg(&e)),
                }
            }
        };
        if o.has('b') {
            ctx.outs(format!("{d}\n"));
        } else {
            let label = format!("{a}:");
            ctx.outs(format!("{label:<width$} {d}\n"));
        }
    }
    0
}

pub fn basename(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(ctx, "basename", args, "as:z", &[("multiple", 'a'), ("suffix", 's')], 1);
    if o.args.is_empty() {
        ctx.errln("basename: missing operand");
        return 1;
    }
    let (names, suffix): (Vec<String>, Option<String>) = if o.has('a') || o.val('s').is_some() {
        (o.args.clone(), o.val('s').map(str::to_string))
    } else if o.args.len() == 2 {
        (vec![o.args[0].clone()], Some(o.args[1].clone()))
    } else if o.args.len() > 2 {
        ctx.errln(format!("basename: extra operand {}", q(&o.args[2])));
        return 1;
    } else {
        (o.args.clone(), None)
    };
    for n in names {
        let t = n.trim_end_matches('/');
        let mut b = if t.is_empty() && n.starts_with('/') {
            "/".to_string()
        } else {
            t.rsplit('/').next().unwrap_or("").to_string()
        };
        if let Some(s) = &suffix
            && b.len() > s.len()
            && b.ends_with(s.as_str())
        {
            b.truncate(b.len() - s.len());
        }
        ctx.outs(b + "\n");
    }
    0
}

pub fn dirname(ctx: &mut Ctx, args: &[String]) -> i32 {
    if args.is_empty() {
        ctx.errln("dirname: missing operand");
        return 1;
    }
    for n in args {
        let t = n.trim_end_matches('/');
        let d = if t.is_empty() {
            if n.starts_with('/') { "/".to_string() } else { ".".to_string() }
        } else {
            match t.rfind('/') {
                Some(i) => {
                    let d = t[..i].trim_end_matches('/');
                    if d.is_empty() { "/".to_string() } else { d.to_string() }
                }
                None => ".".to_string(),
            }
        };
        ctx.outs(d + "\n");
    }
    0
}

pub fn realpath(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(
        ctx,
        "realpath",
        args,
        "femsqnz",
        &[
            ("canonicalize", 'f'),
            ("canonicalize-existing", 'e'),
            ("canonicalize-missing", 'm'),
            ("no-symlinks", 's'),
            ("relative-to", 'R')
        ],
        1
    );
    let mut st = 0;
    for a in &o.args {
        let p = ctx.path(a);
        let p = fs::canonicalize(&p).unwrap_or(p);
        if o.has('e') && !p.exists() {
            ctx.errln(format!("realpath: {a}: No such file or directory"));
            st = 1;
            continue;
        }
        ctx.outs(format!("{}\n", p.to_string_lossy()));
    }
    st
}

pub fn chmod(ctx: &mut Ctx, args: &[String]) -> i32 {
    let files: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).skip(1).collect();
    if files.is_empty() {
        ctx.errln("chmod: missing operand");
        return 1;
    }
    let mut st = 0;
    for f in files {
        if !ctx.path(f).exists() {
            ctx.errln(format!("chmod: cannot access {}: No such file or directory", q(f)));
            st = 1;
        }
    }
    st
}
