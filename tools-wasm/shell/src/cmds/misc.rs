//! test/[, sed and awk front-ends, base64, date, env, printenv, expr, checksums, and small system info commands.

use base64::Engine;

use super::{Ctx, opts};
use crate::exec::Input;
use crate::fsutil::{self, errmsg, q};

pub fn noop(_ctx: &mut Ctx, _args: &[String]) -> i32 {
    0
}

// ---------------------------------------------------------------- test

struct TestP<'a> {
    a: &'a [String],
    i: usize,
    cwd: std::path::PathBuf,
}

const UNARY: [&str; 18] =
    ["-e", "-f", "-d", "-s", "-r", "-w", "-x", "-L", "-h", "-z", "-n", "-b", "-c", "-p", "-S", "-t", "-a", "-O"];
const BINARY: [&str; 14] = ["=", "==", "!=", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-nt", "-ot", "-ef"];

impl TestP<'_> {
    fn path(&self, p: &str) -> std::path::PathBuf {
        fsutil::normalize(&self.cwd, std::path::Path::new(p))
    }
    fn or(&mut self) -> Result<bool, String> {
        let mut v = self.and()?;
        while self.a.get(self.i).map(String::as_str) == Some("-o") {
            self.i += 1;
            let r = self.and()?;
            v = v || r;
        }
        Ok(v)
    }
    fn and(&mut self) -> Result<bool, String> {
        let mut v = self.not()?;
        while self.a.get(self.i).map(String::as_str) == Some("-a") {
            self.i += 1;
            let r = self.not()?;
            v = v && r;
        }
        Ok(v)
    }
    fn not(&mut self) -> Result<bool, String> {
        if self.a.get(self.i).map(String::as_str) == Some("!") && self.i + 1 < self.a.len() {
            self.i += 1;
            return Ok(!self.not()?);
        }
        self.primary()
    }
    fn int(&self, s: &str) -> Result<i64, String> {
        s.trim().parse().map_err(|_| format!("{s}: integer expression expected"))
    }
    fn primary(&mut self) -> Result<bool, String> {
        let Some(t) = self.a.get(self.i).cloned() else { return Err("argument expected".into()) };
        if t == "(" {
            self.i += 1;
            let v = self.or()?;
            if self.a.get(self.i).map(String::as_str) != Some(")") {
                return Err("`)' expected".into());
            }
            self.i += 1;
            return Ok(v);
        }
        if let Some(op) = self.a.get(self.i + 1)
            && BINARY.contains(&op.as_str())
            && self.i + 2 < self.a.len()
        {
            let r = self.a[self.i + 2].clone();
            self.i += 3;
            return Ok(match op.as_str() {
                "=" | "==" => t == r,
                "!=" => t != r,
                "<" => t < r,
                ">" => t > r,
                "-eq" => self.int(&t)? == self.int(&r)?,
                "-ne" => self.int(&t)? != self.int(&r)?,
                "-lt" => self.int(&t)? < self.int(&r)?,
                "-le" => self.int(&t)? <= self.int(&r)?,
                "-gt" => self.int(&t)? > self.int(&r)?,
                "-ge" => self.int(&t)? >= self.int(&r)?,
                "-nt" | "-ot" => {
                    let m = |p: &str| std::fs::metadata(self.path(p)).ok().map(|m| fsutil::mtime(&m));
                    match (m(&t), m(&r)) {
                        (Some(a), Some(b)) => {
                            if op == "-nt" {
                                a > b
                            } else {
                                a < b
                            }
                        }
                        (Some(_), None) => op == "-nt",
                        (None, Some(_)) => op == "-ot",
                        _ => false,
                    }
                }
                _ => self.path(&t) == self.path(&r),
            });
        }
        if UNARY.contains(&t.as_str()) && self.i + 1 < self.a.len() {
            let x = self.a[self.i + 1].clone();
            self.i += 2;
            let p = self.path(&x);
            let md = std::fs::metadata(&p);
            return Ok(match t.as_str() {
                "-z" => x.is_empty(),
                "-n" => !x.is_empty(),
                "-e" | "-a" => md.is_ok(),
                "-f" => md.map(|m| m.is_file()).unwrap_or(false),
                "-d" => md.map(|m| m.is_dir()).unwrap_or(false),
                "-s" => md.map(|m| m.len() > 0).unwrap_or(false),
                "-r" | "-O" => md.is_ok(),
                "-w" => md.map(|m| !m.permissions().readonly()).unwrap_or(false),
                "-x" => md
                    .map(|m| {
                        if m.is_dir() {
                            return true;
                        }
                        #[cfg(unix)]
                        {
                            use std::os::unix::fs::PermissionsExt;
                            m.permissions().mode() & 0o111 != 0
                        }
                        #[cfg(not(unix))]
                        {
                            // no permission bits on WASI: scripts count as executable
                            let name = x.rsplit('/').next().unwrap_or("");
                            name.ends_with(".sh") || name.ends_with(".py") || !name.contains('.')
                        }
                    })
                    .unwrap_or(false),
                "-L" | "-h" => std::fs::symlink_metadata(&p).map(|m| m.file_type().is_symlink()).unwrap_or(false),
                "-t" => false,
                _ => false,
            });
        }
        self.i += 1;
        Ok(!t.is_empty())
    }
}

fn run_test(ctx: &mut Ctx, args: &[String], name: &str) -> i32 {
    if args.is_empty() {
        return 1;
    }
    let mut p = TestP { a: args, i: 0, cwd: ctx.sh.cwd.clone() };
    let r = match p.or() {
        Ok(v) if p.i == args.len() => Ok(v),
        Ok(_) => Err(format!("{}: unexpected operator", args.get(p.i).cloned().unwrap_or_default())),
        Err(e) => Err(e),
    };
    match r {
        Ok(v) => (!v) as i32,
        Err(e) => {
            ctx.errln(format!("sh: {name}: {e}"));
            2
        }
    }
}

pub fn test(ctx: &mut Ctx, args: &[String]) -> i32 {
    run_test(ctx, args, "test")
}

pub fn test_bracket(ctx: &mut Ctx, args: &[String]) -> i32 {
    if args.last().map(String::as_str) != Some("]") {
        ctx.errln("sh: [: missing `]'");
        return 2;
    }
    run_test(ctx, &args[..args.len() - 1], "[")
}

// ---------------------------------------------------------------- sed / awk front-ends

pub fn sed(ctx: &mut Ctx, args: &[String]) -> i32 {
    let mut scripts = Vec::new();
    let mut files = Vec::new();
    let mut quiet = false;
    let mut ere = false;
    let mut in_place: Option<String> = None;
    let mut separate = false;
    let mut i = 0;
    let mut only_files = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if only_files || !a.starts_with('-') || a == "-" {
            files.push(a.clone());
            continue;
        }
        match a.as_str() {
            "--" => only_files = true,
            "-n" | "--quiet" | "--silent" => quiet = true,
            "-E" | "-r" | "--regexp-extended" => ere = true,
            "-s" | "--separate" => separate = true,
            "-u" | "--unbuffered" | "--posix" | "-z" => {}
            "-e" | "--expression" => match args.get(i) {
                Some(s) => {
                    scripts.push(s.clone());
                    i += 1;
                }
                None => {
                    ctx.errln("sed: option requires an argument -- 'e'");
                    return 1;
                }
            },
            "-f" | "--file" => match args.get(i) {
                Some(f) => {
                    i += 1;
                    match ctx.read_input("sed", f) {
                        Some(d) => scripts.push(String::from_utf8_lossy(&d).trim_end_matches('\n').to_string()),
                        None => return 1,
                    }
                }
                None => {
                    ctx.errln("sed: option requires an argument -- 'f'");
                    return 1;
                }
            },
            s if s.starts_with("--in-place") => {
                in_place = Some(s.strip_prefix("--in-place=").unwrap_or("").to_string())
            }
            s if s.starts_with("--expression=") => scripts.push(s["--expression=".len()..].to_string()),
            s if s.starts_with("-i") => in_place = Some(s[2..].to_string()),
            s if s.starts_with("-e") => scripts.push(s[2..].to_string()),
            s => {
                // combined flags like -ne, -nE
                let flags = &s[1..];
                if flags.chars().all(|c| "nErsuz".contains(c)) {
                    quiet |= flags.contains('n');
                    ere |= flags.contains('E') || flags.contains('r');
                    separate |= flags.contains('s');
                } else if flags.chars().all(|c| "nErsi".contains(c)) && flags.contains('i') {
                    quiet |= flags.contains('n');
                    ere |= flags.contains('E') || flags.contains('r');
                    in_place = Some(String::new());
                } else if let Some(rest) = flags.strip_suffix('e').filter(|r| r.chars().all(|c| "nErs".contains(c))) {
                    quiet |= rest.contains('n');
                    ere |= rest.contains('E') || rest.contains('r');
                    match args.get(i) {
                        Some(sc) => {
                            scripts.push(sc.clone());
                            i += 1;
                        }
                        None => {
                            ctx.errln("sed: option requires an argument -- 'e'");
                            return 1;
                        }
                    }
                } else {
                    ctx.errln(format!("sed: invalid option -- '{}'", flags.chars().next().unwrap_or('-')));
                    ctx.errln("Usage: sed [OPTION]... {script-only-if-no-other-script} [input-file]...");
                    return 1;
                }
            }
        }
    }
    if scripts.is_empty() {
        if files.is_empty() {
            ctx.errln("Usage: sed [OPTION]... {script-only-if-no-other-script} [input-file]...");
            return 1;
        }
        scripts.push(files.remove(0));
    }
    let script = scripts.join("\n");
    let prog = match crate::sed::Sed::new(&script, ere, quiet) {
        Ok(p) => p,
        Err(e) => {
            let e = if e.starts_with("-e expression") { e } else { format!("-e expression #1, char 0: {e}") };
            ctx.errln(format!("sed: {e}"));
            return 1;
        }
    };
    let cwd = ctx.sh.cwd.clone();
    let read_file = |f: &str| std::fs::read(fsutil::normalize(&cwd, std::path::Path::new(f))).unwrap_or_default();
    let write_files = |ctx: &mut Ctx, files: Vec<(String, Vec<u8>)>| {
        for (f, d) in files {
            let p = ctx.path(&f);
            if let Err(e) = std::fs::write(&p, d) {
                ctx.errln(format!("sed: couldn't open file {f}: {}", errmsg(&e)));
            }
        }
    };
    if let Some(suffix) = in_place {
        if files.is_empty() {
            ctx.errln("sed: no input files");
            return 1;
        }
        let mut st = 0;
        for f in &files {
            let p = ctx.path(f);
            let data = match std::fs::read(&p) {
                Ok(d) => d,
                Err(e) => {
                    ctx.errln(format!("sed: can't read {f}: {}", errmsg(&e)));
                    st = 2;
                    continue;
                }
            };
            let r = prog.run(&data, &read_file);
            if !suffix.is_empty() {
                let bp = ctx.path(&format!("{f}{suffix}"));
                let _ = std::fs::write(bp, &data);
            }
            if let Err(e) = std::fs::write(&p, &r.out) {
                ctx.errln(format!("sed: couldn't edit {f}: {}", errmsg(&e)));
                st = 4;
            }
            write_files(ctx, r.files);
            if r.code != 0 {
                return r.code;
            }
        }
        return st;
    }
    let files = if files.is_empty() { vec!["-".to_string()] } else { files };
    let mut st = 0;
    let mut inputs = Vec::new();
    for f in &files {
        if f != "-" && ctx.path(f).is_dir() {
            ctx.errln(format!("sed: couldn't edit {f}: not a regular file"));
            st = 2;
            continue;
        }
        if f == "-" {
            inputs.push(ctx.stdin());
            continue;
        }
        match std::fs::read(ctx.path(f)) {
            Ok(d) => inputs.push(d),
            Err(e) => {
                ctx.errln(format!("sed: can't read {f}: {}", errmsg(&e)));
                st = 2;
            }
        }
    }
    let groups: Vec<Vec<u8>> = if separate {
        inputs
    } else {
        let mut all = Vec::new();
        let n = inputs.len();
        for (k, d) in inputs.into_iter().enumerate() {
            all.extend_from_slice(&d);
            if k + 1 < n && !all.is_empty() && !all.ends_with(b"\n") {
                all.push(b'\n');
            }
        }
        vec![all]
    };
    for g in groups {
        let r = prog.run(&g, &read_file);
        ctx.out.extend_from_slice(&r.out);
        write_files(ctx, r.files);
        if r.code != 0 {
            return r.code;
        }
    }
    st
}

pub fn awk(ctx: &mut Ctx, args: &[String]) -> i32 {
    let mut fs: Option<String> = None;
    let mut assigns = Vec::new();
    let mut progsrc: Option<String> = None;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        let val = |i: &mut usize, flag: &str| -> Option<String> {
            if a.len() > flag.len() {
                Some(a[flag.len()..].to_string())
            } else {
                *i += 1;
                args.get(*i).cloned()
            }
        };
        if a.starts_with("-F") {
            fs = val(&mut i, "-F");
        } else if a.starts_with("-v") {
            match val(&mut i, "-v").and_then(|v| v.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))) {
                Some((k, v)) => assigns.push((k, crate::printf::escapes(&v, false).0)),
                None => {
                    ctx.errln("awk: `-v' requires an argument of the form var=value");
                    return 2;
                }
            }
        } else if a.starts_with("-f") {
            let Some(f) = val(&mut i, "-f") else {
                ctx.errln("awk: option requires an argument -- f");
                return 2;
            };
            match ctx.read_input("awk", &f) {
                Some(d) => progsrc = Some(progsrc.unwrap_or_default() + &String::from_utf8_lossy(&d) + "\n"),
                None => return 2,
            }
        } else if a == "--posix" || a == "--traditional" || a == "-b" {
        } else {
            ctx.errln(format!("awk: unknown option {a}"));
            return 2;
        }
        i += 1;
    }
    let src = match progsrc {
        Some(s) => s,
        None => match args.get(i) {
            Some(s) => {
                i += 1;
                s.clone()
            }
            None => {
                ctx.errln("usage: awk [-F fs][-v var=value][prog | -f progfile][file ...]");
                return 2;
            }
        },
    };
    if let Some(f) = fs {
        let f = if f == "t" { "\t".to_string() } else { crate::printf::escapes(&f, false).0 };
        assigns.insert(0, ("FS".into(), f));
    }
    let mut prog = match crate::awk::compile(&src) {
        Ok(p) => p,
        Err(e) => {
            ctx.errln(format!("awk: {e}"));
            ctx.errln(format!("awk: source line: {}", src.lines().next().unwrap_or("")));
            return 2;
        }
    };
    let operands: Vec<String> = args[i..].to_vec();
    let mut inputs = Vec::new();
    let mut st = 0;
    for o in &operands {
        if let Some((k, v)) = o.split_once('=')
            && crate::parse::is_name(k)
        {
            assigns.push((k.to_string(), crate::printf::escapes(v, false).0));
            continue;
        }
        if o == "-" || o == "/dev/stdin" {
            let d = ctx.stdin();
            inputs.push(("-".to_string(), d));
            continue;
        }
        match std::fs::read(ctx.path(o)) {
            Ok(d) => inputs.push((o.clone(), d)),
            Err(e) => {
                let msg = if ctx.path(o).is_dir() { "Is a directory".to_string() } else { errmsg(&e) };
                ctx.errln(format!("awk: cannot open \"{o}\" ({msg})"));
                st = 2;
            }
        }
    }
    if st != 0 && inputs.is_empty() {
        return st;
    }
    if inputs.is_empty() && !operands.iter().any(|o| !o.contains('=')) {
        let d = ctx.stdin();
        inputs.push((String::new(), d));
    }
    let env = ctx.sh.env();
    let mut argv = vec!["awk".to_string()];
    argv.extend(operands.iter().cloned());
    let cwd = ctx.sh.cwd.clone();
    let read_file = move |f: &str| -> Result<Vec<u8>, String> {
        std::fs::read(fsutil::normalize(&cwd, std::path::Path::new(f))).map_err(|e| errmsg(&e))
    };
    let mut cmd_err = Vec::new();
    let (out, err, files, code) = {
        let sh = &mut *ctx.sh;
        let host = &mut *ctx.host;
        let cerr = &mut cmd_err;
        let mut run = |cmd: &str, stdin: Vec<u8>| -> (Vec<u8>, i32) {
            let mut o = Vec::new();
            let mut inp = Input::new(stdin);
            let st = crate::exec::run_script_with(sh, host, cmd, &mut inp, &mut o, cerr);
            (o, st)
        };
        let mut a = crate::awk::Awk::new(&mut prog, &assigns, &env, &argv, inputs, &mut run, &read_file);
        let code = a.run(&prog);
        let files = a.files();
        (std::mem::take(&mut a.out), std::mem::take(&mut a.err), files, code)
    };
    ctx.out.extend_from_slice(&out);
    ctx.err.extend_from_slice(&cmd_err);
    ctx.err.extend_from_slice(&err);
    for (name, data, append) in files {
        let p = ctx.path(&name);
        let r = if append {
            std::fs::OpenOptions::new().append(true).create(true).open(&p).and_then(|mut f| {
                use std::io::Write;
                f.write_all(&data)
            })
        } else {
            std::fs::write(&p, &data)
        };
        if let Err(e) = r {
            ctx.errln(format!("awk: can't redirect to {name} ({})", errmsg(&e)));
        }
    }
    if code != 0 { code } else { st }
}

// ---------------------------------------------------------------- base64, checksums

pub fn base64(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(ctx, "base64", args, "diw:", &[("decode", 'd'), ("ignore-garbage", 'i'), ("wrap", 'w')], 1);
    let f = o.args.first().cloned().unwrap_or("-".into());
    let Some(data) = ctx.read_input("base64", &f) else { return 1 };
    let eng = base64::engine::general_purpose::STANDARD;
    if o.has('d') {
        let clean: Vec<u8> = data
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .filter(|b| !o.has('i') || b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/' || *b == b'=')
            .collect();
        let cfg = base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent);
        let lenient = base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, cfg);
        match lenient.decode(&clean) {
            Ok(d) => {
                ctx.out.extend_from_slice(&d);
                0
            }
            Err(_) => {
                ctx.errln("base64: invalid input");
                1
            }
        }
    } else {
        let enc = eng.encode(&data);
        let w: usize = o.val('w').and_then(|w| w.parse().ok()).unwrap_or(76);
        if w == 0 {
            ctx.outs(enc);
            ctx.out.push(b'\n');
        } else {
            for chunk in enc.as_bytes().chunks(w) {
                ctx.out.extend_from_slice(chunk);
                ctx.out.push(b'\n');
            }
        }
        0
    }
}

fn sha1(data: &[u8]) -> Vec<u8> {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    let bitlen = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bitlen.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 80];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([chunk[4 * i], chunk[4 * i + 1], chunk[4 * i + 2], chunk[4 * i + 3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let (mut a, mut b, mut c, mut d, mut e) = (h[0], h[1], h[2], h[3], h[4]);
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        h[0] = h[0].wrapping_add(a);
        h[1] = h[1].wrapping_add(b);
        h[2] = h[2].wrapping_add(c);
        h[3] = h[3].wrapping_add(d);
        h[4] = h[4].wrapping_add(e);
    }
    h.iter().flat_map(|x| x.to_be_bytes()).collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn checksum(ctx: &mut Ctx, args: &[String], name: &str, f: fn(&[u8]) -> Vec<u8>) -> i32 {
    let o = opts!(
        ctx,
        name,
        args,
        "cbtwz",
        &[
            ("check", 'c'),
            ("binary", 'b'),
            ("text", 't'),
            ("quiet", 'q'),
            ("status", 's'),
            ("strict", 'S'),
            ("warn", 'w')
        ],
        1
    );
    let files: Vec<String> = if o.args.is_empty() { vec!["-".into()] } else { o.args.clone() };
    let mut st = 0;
    if o.has('c') {
        let mut bad = 0;
        let mut missing = 0;
        for lf in &files {
            let Some(list) = ctx.read_input(name, lf) else {
                st = 1;
                continue;
            };
            for line in fsutil::lines(&list) {
                let line = String::from_utf8_lossy(line);
                let Some((sum, file)) = line.split_once("  ").or_else(|| line.split_once(" *")) else { continue };
                match ctx.read_input(name, file) {
                    Some(d) => {
                        if hex(&f(&d)) == sum.trim().to_ascii_lowercase() {
                            if !o.has('q') && !o.has('s') {
                                ctx.outs(format!("{file}: OK\n"));
                            }
                        } else {
                            if !o.has('s') {
                                ctx.outs(format!("{file}: FAILED\n"));
                            }
                            bad += 1;
                        }
                    }
                    None => {
                        if !o.has('s') {
                            ctx.outs(format!("{file}: FAILED open or read\n"));
                        }
                        missing += 1;
                    }
                }
            }
        }
        if missing > 0 && !o.has('s') {
            let s = if missing == 1 { "" } else { "s" };
            ctx.errln(format!("{name}: WARNING: {missing} listed file{s} could not be read"));
        }
        if bad > 0 && !o.has('s') {
            let s = if bad == 1 { "checksum" } else { "checksums" };
            ctx.errln(format!("{name}: WARNING: {bad} computed {s} did NOT match"));
        }
        return if bad > 0 || missing > 0 || st != 0 { 1 } else { 0 };
    }
    for file in &files {
        let Some(d) = ctx.read_input(name, file) else {
            st = 1;
            continue;
        };
        ctx.outs(format!("{}  {file}\n", hex(&f(&d))));
    }
    st
}

pub fn md5sum(ctx: &mut Ctx, args: &[String]) -> i32 {
    checksum(ctx, args, "md5sum", |d| {
        use md5::Digest;
        md5::Md5::digest(d).to_vec()
    })
}

pub fn sha1sum(ctx: &mut Ctx, args: &[String]) -> i32 {
    checksum(ctx, args, "sha1sum", sha1)
}

pub fn sha256sum(ctx: &mut Ctx, args: &[String]) -> i32 {
    checksum(ctx, args, "sha256sum", |d| {
        use sha2::Digest;
        sha2::Sha256::digest(d).to_vec()
    })
}

pub fn sha512sum(ctx: &mut Ctx, args: &[String]) -> i32 {
    checksum(ctx, args, "sha512sum", |d| {
        use sha2::Digest;
        sha2::Sha512::digest(d).to_vec()
    })
}

// ---------------------------------------------------------------- date, env, system info

fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(n) = s.strip_prefix('@') {
        return n.trim().parse().ok();
    }
    match s {
        "now" | "today" | "" => return Some(fsutil::now().0),
        "yesterday" => return Some(fsutil::now().0 - 86400),
        "tomorrow" => return Some(fsutil::now().0 + 86400),
        _ => {}
    }
    // YYYY-MM-DD[ T]HH:MM[:SS][Z]
    let s = s.trim_end_matches('Z').trim_end_matches(" UTC");
    let (d, t) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let dp: Vec<&str> = d.split('-').collect();
    if dp.len() != 3 {
        return None;
    }
    let (y, m, dd): (i64, u32, u32) = (dp[0].parse().ok()?, dp[1].parse().ok()?, dp[2].parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&dd) {
        return None;
    }
    let mut secs = fsutil::days_from_civil(y, m, dd) * 86400;
    if let Some(t) = t {
        let tp: Vec<&str> = t.split(':').collect();
        let h: i64 = tp.first()?.parse().ok()?;
        let mi: i64 = tp.get(1).map(|x| x.parse().unwrap_or(0)).unwrap_or(0);
        let se: f64 = tp.get(2).map(|x| x.parse().unwrap_or(0.0)).unwrap_or(0.0);
        secs += h * 3600 + mi * 60 + se as i64;
    }
    Some(secs)
}

pub fn date(ctx: &mut Ctx, args: &[String]) -> i32 {
    let mut fmt: Option<String> = None;
    let mut when: Option<(i64, u32)> = None;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if let Some(f) = a.strip_prefix('+') {
            fmt = Some(f.to_string());
        } else if a == "-u" || a == "--utc" || a == "--universal" {
        } else if a == "-d" || a == "--date" || a.starts_with("--date=") || (a.starts_with("-d") && a.len() > 2) {
            let v = if a == "-d" || a == "--date" {
                i += 1;
                args.get(i).cloned().unwrap_or_default()
            } else if let Some(v) = a.strip_prefix("--date=") {
                v.to_string()
            } else {
                a[2..].to_string()
            };
            match parse_date(&v) {
                Some(s) => when = Some((s, 0)),
                None => {
                    ctx.errln(format!("date: invalid date {}", q(&v)));
                    return 1;
                }
            }
        } else if a == "-I" || a.starts_with("--iso-8601") || a.starts_with("-I") {
            let kind = a.trim_start_matches("--iso-8601").trim_start_matches("-I").trim_start_matches('=');
            fmt = Some(match kind {
                "seconds" => "%Y-%m-%dT%H:%M:%S+00:00".into(),
                "minutes" => "%Y-%m-%dT%H:%M+00:00".into(),
                "hours" => "%Y-%m-%dT%H+00:00".into(),
                "ns" => "%Y-%m-%dT%H:%M:%S,%N+00:00".into(),
                _ => "%Y-%m-%d".into(),
            });
        } else if a == "-R" || a == "--rfc-2822" || a == "--rfc-email" {
            fmt = Some("%a, %d %b %Y %H:%M:%S +0000".into());
        } else if a.starts_with("--rfc-3339") {
            fmt = Some(if a.ends_with("date") { "%Y-%m-%d".into() } else { "%Y-%m-%d %H:%M:%S+00:00".into() });
        } else if a == "-r" || a == "--reference" {
            i += 1;
            let f = args.get(i).cloned().unwrap_or_default();
            match std::fs::metadata(ctx.path(&f)) {
                Ok(m) => when = Some(fsutil::mtime(&m)),
                Err(e) => {
                    ctx.errln(format!("date: {f}: {}", errmsg(&e)));
                    return 1;
                }
            }
        } else if a == "-s" || a == "--set" {
            ctx.errln("date: cannot set date: Operation not permitted");
            return 1;
        } else {
            ctx.errln(format!("date: invalid date {}", q(a)));
            return 1;
        }
        i += 1;
    }
    let (s, n) = when.unwrap_or_else(fsutil::now);
    let t = fsutil::gmtime(s, n);
    let f = fmt.unwrap_or_else(|| "%a %b %e %H:%M:%S %Z %Y".into());
    ctx.outs(fsutil::strftime(&f, &t) + "\n");
    0
}

pub fn env(ctx: &mut Ctx, args: &[String]) -> i32 {
    let mut i = 0;
    let mut set = Vec::new();
    let mut clear = false;
    let mut unset = Vec::new();
    while i < args.len() {
        let a = &args[i];
        if a == "-i" || a == "-" || a == "--ignore-environment" {
            clear = true;
        } else if a == "-u" {
            i += 1;
            if let Some(n) = args.get(i) {
                unset.push(n.clone());
            }
        } else if let Some((k, v)) = a.split_once('=')
            && !k.is_empty()
            && !k.starts_with('-')
        {
            set.push((k.to_string(), v.to_string()));
        } else {
            break;
        }
        i += 1;
    }
    let saved = ctx.sh.vars.clone();
    if clear {
        for v in ctx.sh.vars.values_mut() {
            v.exported = false;
        }
    }
    for n in &unset {
        ctx.sh.vars.remove(n);
    }
    for (k, v) in &set {
        ctx.sh.set_var(k, v.clone(), true);
    }
    let st = if i < args.len() {
        let argv = args[i..].to_vec();
        let inp = ctx.stdin();
        ctx.run_argv(&argv, inp)
    } else {
        for (k, v) in ctx.sh.env() {
            ctx.outs(format!("{k}={v}\n"));
        }
        0
    };
    ctx.sh.vars = saved;
    st
}

pub fn printenv(ctx: &mut Ctx, args: &[String]) -> i32 {
    if args.is_empty() {
        for (k, v) in ctx.sh.env() {
            ctx.outs(format!("{k}={v}\n"));
        }
        return 0;
    }
    let mut st = 0;
    for n in args {
        match ctx.sh.env().into_iter().find(|(k, _)| k == n) {
            Some((_, v)) => ctx.outs(v + "\n"),
            None => st = 1,
        }
    }
    st
}

pub fn hostname(ctx: &mut Ctx, _args: &[String]) -> i32 {
    ctx.outs("sandbox\n");
    0
}

pub fn whoami(ctx: &mut Ctx, _args: &[String]) -> i32 {
    ctx.outs("user\n");
    0
}

pub fn id(ctx: &mut Ctx, args: &[String]) -> i32 {
    let name = args.iter().any(|a| a.contains('n'));
    let s = if args.iter().any(|a| a.starts_with('-') && (a.contains('u') || a.contains('g') || a.contains('G'))) {
        if name { "user".to_string() } else { "1000".to_string() }
    } else {
        "uid=1000(user) gid=1000(user) groups=1000(user)".to_string()
    };
    ctx.outs(s + "\n");
    0
}

pub fn nproc(ctx: &mut Ctx, _args: &[String]) -> i32 {
    ctx.outs("1\n");
    0
}

pub fn uname(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = opts!(
        ctx,
        "uname",
        args,
        "asnrvmpio",
        &[
            ("all", 'a'),
            ("kernel-name", 's'),
            ("nodename", 'n'),
            ("kernel-release", 'r'),
            ("kernel-version", 'v'),
            ("machine", 'm'),
            ("processor", 'p'),
            ("hardware-platform", 'i'),
            ("operating-system", 'o')
        ],
        1
    );
    let fields = [
        ('s', "WASI"),
        ('n', "sandbox"),
        ('r', "0.2"),
        ('v', "#1"),
        ('m', "wasm32"),
        ('p', "wasm32"),
        ('i', "wasm32"),
        ('o', "WASI"),
    ];
    let mut parts = Vec::new();
    for (c, v) in fields {
        if o.has('a') {
            if c != 'p' && c != 'i' {
                parts.push(v);
            }
        } else if o.has(c) {
            parts.push(v);
        }
    }
    if parts.is_empty() {
        parts.push("WASI");
    }
    ctx.outs(parts.join(" ") + "\n");
    0
}

pub fn sleep(ctx: &mut Ctx, args: &[String]) -> i32 {
    if args.is_empty() {
        ctx.errln("sleep: missing operand");
        return 1;
    }
    let mut total = 0.0f64;
    for a in args {
        let (num, mult) = match a.chars().last() {
            Some('s') => (&a[..a.len() - 1], 1.0),
            Some('m') => (&a[..a.len() - 1], 60.0),
            Some('h') => (&a[..a.len() - 1], 3600.0),
            Some('d') => (&a[..a.len() - 1], 86400.0),
            _ => (&a[..], 1.0),
        };
        match num.parse::<f64>() {
            Ok(v) if v >= 0.0 && v.is_finite() => total += v * mult,
            _ => {
                ctx.errln(format!("sleep: invalid time interval {}", q(a)));
                return 1;
            }
        }
    }
    std::thread::sleep(std::time::Duration::from_secs_f64(total.min(3600.0)));
    0
}

// ---------------------------------------------------------------- expr

fn expr_eval(t: &[String], i: &mut usize, level: u8) -> Result<String, String> {
    let is_int = |s: &str| s.trim().parse::<i64>().is_ok();
    if level == 7 {
        let Some(tok) = t.get(*i).cloned() else { return Err("syntax error: missing argument after ‘".into()) };
        *i += 1;
        match tok.as_str() {
            "(" => {
                let v = expr_eval(t, i, 0)?;
                if t.get(*i).map(String::as_str) != Some(")") {
                    return Err("syntax error: expecting ')'".into());
                }
                *i += 1;
                return Ok(v);
            }
            "length" => {
                let v = expr_eval(t, i, 7)?;
                return Ok(v.chars().count().to_string());
            }
            "substr" => {
                let s = expr_eval(t, i, 7)?;
                let p: usize = expr_eval(t, i, 7)?.parse().unwrap_or(0);
                let l: usize = expr_eval(t, i, 7)?.parse().unwrap_or(0);
                if p == 0 {
                    return Ok(String::new());
                }
                return Ok(s.chars().skip(p - 1).take(l).collect());
            }
            "index" => {
                let s = expr_eval(t, i, 7)?;
                let c = expr_eval(t, i, 7)?;
                let r = s.chars().position(|x| c.contains(x)).map(|p| p + 1).unwrap_or(0);
                return Ok(r.to_string());
            }
            "match" => {
                let s = expr_eval(t, i, 7)?;
                let r = expr_eval(t, i, 7)?;
                return expr_match(&s, &r);
            }
            _ => return Ok(tok),
        }
    }
    let mut l = expr_eval(t, i, level + 1)?;
    loop {
        let Some(op) = t.get(*i).cloned() else { break };
        let ops: &[&str] = match level {
            0 => &["|"],
            1 => &["&"],
            2 => &["<", "<=", "=", "==", "!=", ">=", ">"],
            3 => &["+", "-"],
            4 => &["*", "/", "%"],
            5 => &[":"],
            _ => &[],
        };
        if !ops.contains(&op.as_str()) {
            break;
        }
        *i += 1;
        let r = expr_eval(t, i, level + 1)?;
        let null = |s: &str| s.is_empty() || s == "0";
        l = match op.as_str() {
            "|" => {
                if !null(&l) {
                    l
                } else if !null(&r) {
                    r
                } else {
                    "0".into()
                }
            }
            "&" => {
                if null(&l) || null(&r) {
                    "0".into()
                } else {
                    l
                }
            }
            "<" | "<=" | "=" | "==" | "!=" | ">=" | ">" => {
                let o = if is_int(&l) && is_int(&r) {
                    l.trim().parse::<i64>().unwrap_or(0).cmp(&r.trim().parse::<i64>().unwrap_or(0))
                } else {
                    l.cmp(&r)
                };
                use std::cmp::Ordering::*;
                let b = match op.as_str() {
                    "<" => o == Less,
                    "<=" => o != Greater,
                    "=" | "==" => o == Equal,
                    "!=" => o != Equal,
                    ">=" => o != Less,
                    _ => o == Greater,
                };
                (b as i32).to_string()
            }
            ":" => expr_match(&l, &r)?,
            _ => {
                let (a, b) = match (l.trim().parse::<i64>(), r.trim().parse::<i64>()) {
                    (Ok(a), Ok(b)) => (a, b),
                    _ => return Err("non-integer argument".into()),
                };
                match op.as_str() {
                    "+" => a.wrapping_add(b).to_string(),
                    "-" => a.wrapping_sub(b).to_string(),
                    "*" => a.wrapping_mul(b).to_string(),
                    _ => {
                        if b == 0 {
                            return Err("division by zero".into());
                        }
                        if op == "/" { a.wrapping_div(b).to_string() } else { a.wrapping_rem(b).to_string() }
                    }
                }
            }
        };
    }
    Ok(l)
}

fn expr_match(s: &str, r: &str) -> Result<String, String> {
    let re = crate::sed::build(&format!("^(?:{})", crate::sed::translate(r, false)?), true, false)
        .or_else(|_| crate::sed::build(&format!("^{r}"), false, false))?;
    let s_b = s.as_bytes();
    match re.captures(s_b) {
        Some(c) => {
            if c.len() > 1 {
                Ok(c.get(1).map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned()).unwrap_or_default())
            } else {
                Ok(c.get(0).map(|m| m.as_bytes().len()).unwrap_or(0).to_string())
            }
        }
        None => Ok(if re.captures_len() > 1 { String::new() } else { "0".into() }),
    }
}

pub fn expr(ctx: &mut Ctx, args: &[String]) -> i32 {
    if args.is_empty() {
        ctx.errln("expr: missing operand");
        return 2;
    }
    let mut i = 0;
    match expr_eval(args, &mut i, 0) {
        Ok(v) if i == args.len() => {
            let st = if v.is_empty() || v == "0" { 1 } else { 0 };
            ctx.outs(v + "\n");
            st
        }
        Ok(_) => {
            ctx.errln(format!("expr: syntax error: unexpected argument {}", q(&args[i])));
            2
        }
        Err(e) => {
            ctx.errln(format!("expr: {e}"));
            2
        }
    }
}
