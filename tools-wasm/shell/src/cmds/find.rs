//! find, xargs, tree.

use std::path::{Path, PathBuf};

use super::Ctx;
use crate::fsutil::{self, errmsg, q};

#[derive(Debug, Clone)]
enum E {
    And(Box<E>, Box<E>),
    Or(Box<E>, Box<E>),
    Not(Box<E>),
    Name(String, bool),
    Path(String, bool),
    Regex(regex::Regex),
    Type(Vec<char>),
    Size(char, u64, u64),
    Empty,
    Newer(i64, u32),
    Time(char, i64, i64), // cmp, amount, unit seconds
    Print,
    Print0,
    Delete,
    Exec(Vec<String>, bool),
    Prune,
    Quit,
    True,
    False,
}

struct Parser<'a> {
    a: &'a [String],
    i: usize,
    maxdepth: Option<usize>,
    mindepth: usize,
    has_action: bool,
    depth_first: bool,
}

fn parse_num(s: &str) -> Option<(char, &str)> {
    if let Some(r) = s.strip_prefix('+') {
        Some(('+', r))
    } else if let Some(r) = s.strip_prefix('-') {
        Some(('-', r))
    } else {
        Some(('=', s))
    }
}

impl Parser<'_> {
    fn or(&mut self, ctx: &Ctx) -> Result<E, String> {
        let mut l = self.and(ctx)?;
        while self.i < self.a.len() && (self.a[self.i] == "-o" || self.a[self.i] == "-or") {
            self.i += 1;
            let r = self.and(ctx)?;
            l = E::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn and(&mut self, ctx: &Ctx) -> Result<E, String> {
        let mut l = self.unary(ctx)?;
        loop {
            if self.i >= self.a.len() || self.a[self.i] == "-o" || self.a[self.i] == "-or" || self.a[self.i] == ")" {
                break;
            }
            if self.a[self.i] == "-a" || self.a[self.i] == "-and" {
                self.i += 1;
            }
            let r = self.unary(ctx)?;
            l = E::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn arg(&mut self, opt: &str) -> Result<String, String> {
        let v = self.a.get(self.i).cloned().ok_or_else(|| format!("find: missing argument to `{opt}'"))?;
        self.i += 1;
        Ok(v)
    }
    fn unary(&mut self, ctx: &Ctx) -> Result<E, String> {
        let Some(t) = self.a.get(self.i).cloned() else { return Err("find: expected an expression".into()) };
        self.i += 1;
        Ok(match t.as_str() {
            "!" | "-not" => E::Not(Box::new(self.unary(ctx)?)),
            "(" => {
                let e = self.or(ctx)?;
                if self.a.get(self.i).map(String::as_str) != Some(")") {
                    return Err(
                        "find: invalid expression; I was expecting to find a ')' somewhere but did not see one.".into(),
                    );
                }
                self.i += 1;
                e
            }
            "-name" => E::Name(self.arg(&t)?, false),
            "-iname" => E::Name(self.arg(&t)?, true),
            "-path" | "-wholename" => E::Path(self.arg(&t)?, false),
            "-ipath" | "-iwholename" => E::Path(self.arg(&t)?, true),
            "-regex" | "-iregex" => {
                let r = self.arg(&t)?;
                let re = regex::RegexBuilder::new(&format!("^(?:{r})$"))
                    .case_insensitive(t == "-iregex")
                    .build()
                    .map_err(|e| format!("find: invalid regex {}: {e}", q(&r)))?;
                E::Regex(re)
            }
            "-type" | "-xtype" => {
                let v = self.arg(&t)?;
                let cs: Vec<char> = v.chars().filter(|c| *c != ',').collect();
                if cs.is_empty() || cs.iter().any(|c| !"fdlbcpsD".contains(*c)) {
                    return Err(format!("find: Unknown argument to -type: {v}"));
                }
                E::Type(cs)
            }
            "-size" => {
                let v = self.arg(&t)?;
                let (cmp, rest) = parse_num(&v).ok_or("bad size")?;
                let (num, unit) = match rest.chars().last() {
                    Some(c) if c.is_ascii_alphabetic() => (&rest[..rest.len() - 1], c),
                    _ => (rest, 'b'),
                };
                let unit = match unit {
                    'c' => 1,
                    'w' => 2,
                    'b' => 512,
                    'k' => 1024,
                    'M' => 1 << 20,
                    'G' => 1 << 30,
                    _ => return Err(format!("find: invalid -size type `{unit}'")),
                };
                let n: u64 = num.parse().map_err(|_| format!("find: invalid argument `{v}' to `-size'"))?;
                E::Size(cmp, n, unit)
            }
            "-empty" => E::Empty,
            "-newer" => {
                let f = self.arg(&t)?;
                let md = std::fs::metadata(ctx.path(&f)).map_err(|e| format!("find: {}: {}", q(&f), errmsg(&e)))?;
                let (s, n) = fsutil::mtime(&md);
                E::Newer(s, n)
            }
            "-mtime" | "-mmin" | "-atime" | "-amin" | "-ctime" | "-cmin" => {
                let v = self.arg(&t)?;
                let (cmp, rest) = parse_num(&v).ok_or("bad number")?;
                let n: i64 = rest.parse().map_err(|_| format!("find: invalid argument `{v}' to `{t}'"))?;
                E::Time(cmp, n, if t.ends_with("min") { 60 } else { 86400 })
            }
            "-maxdepth" => {
                let v = self.arg(&t)?;
                self.maxdepth = Some(v.parse().map_err(|_| {
                    format!("find: Expected a positive decimal integer argument to -maxdepth, but got {}", q(&v))
                })?);
                E::True
            }
            "-mindepth" => {
                let v = self.arg(&t)?;
                self.mindepth = v.parse().map_err(|_| {
                    format!("find: Expected a positive decimal integer argument to -mindepth, but got {}", q(&v))
                })?;
                E::True
            }
            "-depth" | "-d" => {
                self.depth_first = true;
                E::True
            }
            "-follow" | "-xdev" | "-mount" | "-noleaf" | "-ignore_readdir_race" => E::True,
            "-print" => {
                self.has_action = true;
                E::Print
            }
            "-print0" => {
                self.has_action = true;
                E::Print0
            }
            "-ls" | "-fprint" => {
                self.has_action = true;
                E::Print
            }
            "-delete" => {
                self.has_action = true;
                self.depth_first = true;
                E::Delete
            }
            "-prune" => E::Prune,
            "-quit" => E::Quit,
            "-true" => E::True,
            "-false" => E::False,
            "-exec" | "-execdir" | "-ok" | "-okdir" => {
                self.has_action = true;
                let mut cmd = Vec::new();
                loop {
                    let Some(x) = self.a.get(self.i).cloned() else {
                        return Err(format!("find: missing argument to `{t}'"));
                    };
                    self.i += 1;
                    if x == ";" {
                        break E::Exec(cmd, false);
                    }
                    if x == "+" && cmd.last().map(String::as_str) == Some("{}") {
                        break E::Exec(cmd, true);
                    }
                    cmd.push(x);
                }
            }
            other => {
                if other.starts_with('-') {
                    return Err(format!("find: unknown predicate `{other}'"));
                }
                return Err(format!("find: paths must precede expression: `{other}'"));
            }
        })
    }
}

struct Walk<'a> {
    e: &'a E,
    maxdepth: Option<usize>,
    mindepth: usize,
    default_print: bool,
    depth_first: bool,
    batch: Vec<(Vec<String>, Vec<String>)>,
    st: i32,
    quit: bool,
    now: i64,
    count: u64,
}

struct Node<'a> {
    disp: &'a str,
    path: &'a Path,
    md: &'a std::fs::Metadata,
    name: &'a str,
}

impl Walk<'_> {
    fn eval(&mut self, ctx: &mut Ctx, e: &E, n: &Node, prune: &mut bool) -> bool {
        match e {
            E::And(a, b) => self.eval(ctx, a, n, prune) && self.eval(ctx, b, n, prune),
            E::Or(a, b) => self.eval(ctx, a, n, prune) || self.eval(ctx, b, n, prune),
            E::Not(a) => !self.eval(ctx, a, n, prune),
            E::Name(p, ci) => {
                if *ci {
                    fsutil::fnmatch_ci(p, n.name)
                } else {
                    fsutil::fnmatch(p, n.name)
                }
            }
            E::Path(p, ci) => {
                if *ci {
                    fsutil::fnmatch_ci(p, n.disp)
                } else {
                    fsutil::fnmatch(p, n.disp)
                }
            }
            E::Regex(r) => r.is_match(n.disp),
            E::Type(cs) => {
                let ft = n.md.file_type();
                cs.iter().any(|c| match c {
                    'f' => ft.is_file(),
                    'd' => ft.is_dir(),
                    'l' => ft.is_symlink(),
                    _ => false,
                })
            }
            E::Size(cmp, num, unit) => {
                let units = n.md.len().div_ceil(*unit);
                match cmp {
                    '+' => units > *num,
                    '-' => units < *num,
                    _ => units == *num,
                }
            }
            E::Empty => {
                if n.md.is_dir() {
                    std::fs::read_dir(n.path).map(|mut r| r.next().is_none()).unwrap_or(false)
                } else {
                    n.md.len() == 0
                }
            }
            E::Newer(s, ns) => fsutil::mtime(n.md) > (*s, *ns),
            E::Time(cmp, amount, unit) => {
                let age = (self.now - fsutil::mtime(n.md).0).max(0) / unit;
                match cmp {
                    '+' => age > *amount,
                    '-' => age < *amount,
                    _ => age == *amount,
                }
            }
            E::Print => {
                ctx.outs(format!("{}\n", n.disp));
                true
            }
            E::Print0 => {
                ctx.outs(format!("{}\0", n.disp));
                true
            }
            E::Delete => {
                let r = if n.md.is_dir() { std::fs::remove_dir(n.path) } else { std::fs::remove_file(n.path) };
                match r {
                    Ok(()) => true,
                    Err(e) => {
                        ctx.errln(format!("find: cannot delete {}: {}", q(n.disp), errmsg(&e)));
                        self.st = 1;
                        false
                    }
                }
            }
            E::Exec(cmd, batch) => {
                if *batch {
                    let base: Vec<String> = cmd[..cmd.len() - 1].to_vec();
                    match self.batch.iter_mut().find(|(b, _)| *b == base) {
                        Some((_, items)) => items.push(n.disp.to_string()),
                        None => self.batch.push((base, vec![n.disp.to_string()])),
                    }
                    true
                } else {
                    let argv: Vec<String> = cmd.iter().map(|a| a.replace("{}", n.disp)).collect();
                    ctx.run_argv(&argv, Vec::new()) == 0
                }
            }
            E::Prune => {
                *prune = true;
                true
            }
            E::Quit => {
                self.quit = true;
                true
            }
            E::True => true,
            E::False => false,
        }
    }

    fn visit(&mut self, ctx: &mut Ctx, path: &Path, disp: &str, depth: usize) {
        if self.quit {
            return;
        }
        self.count += 1;
        if self.count > 2_000_000 {
            self.quit = true;
            ctx.errln("find: too many files, stopping");
            return;
        }
        let md = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) => {
                ctx.errln(format!("find: {}: {}", q(disp), errmsg(&e)));
                self.st = 1;
                return;
            }
        };
        let name = if depth == 0 {
            disp.trim_end_matches('/').rsplit('/').next().filter(|s| !s.is_empty()).unwrap_or(disp).to_string()
        } else {
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        };
        let mut prune = false;
        let here = |w: &mut Self, ctx: &mut Ctx, prune: &mut bool| {
            if depth >= w.mindepth {
                let node = Node { disp, path, md: &md, name: &name };
                let e = w.e;
                if w.eval(ctx, e, &node, prune) && w.default_print {
                    ctx.outs(format!("{disp}\n"));
                }
            }
        };
        if !self.depth_first {
            here(self, ctx, &mut prune);
        }
        if md.is_dir() && !prune && self.maxdepth.is_none_or(|m| depth < m) {
            match std::fs::read_dir(path) {
                Ok(rd) => {
                    let mut ents: Vec<(String, PathBuf)> =
                        rd.flatten().map(|e| (e.file_name().to_string_lossy().into_owned(), e.path())).collect();
                    ents.sort();
                    for (n, p) in ents {
                        let d = if disp.ends_with('/') { format!("{disp}{n}") } else { format!("{disp}/{n}") };
                        self.visit(ctx, &p, &d, depth + 1);
                    }
                }
                Err(e) => {
                    ctx.errln(format!("find: {}: {}", q(disp), errmsg(&e)));
                    self.st = 1;
                }
            }
        }
        if self.depth_first {
            here(self, ctx, &mut prune);
        }
    }
}

pub fn find(ctx: &mut Ctx, args: &[String]) -> i32 {
    let mut i = 0;
    let mut paths = Vec::new();
    while i < args.len() {
        let a = &args[i];
        if (a.starts_with('-') && a.len() > 1) || a == "!" || a == "(" {
            break;
        }
        paths.push(a.clone());
        i += 1;
    }
    if paths.is_empty() {
        paths.push(".".into());
    }
    let mut p = Parser { a: &args[i..], i: 0, maxdepth: None, mindepth: 0, has_action: false, depth_first: false };
    let e = if p.a.is_empty() {
        E::True
    } else {
        match p.or(ctx) {
            Ok(e) => {
                if p.i < p.a.len() {
                    ctx.errln(format!("find: unexpected `{}'", p.a[p.i]));
                    return 1;
                }
                e
            }
            Err(m) => {
                ctx.errln(m);
                return 1;
            }
        }
    };
    let mut w = Walk {
        e: &e,
        maxdepth: p.maxdepth,
        mindepth: p.mindepth,
        default_print: !p.has_action,
        depth_first: p.depth_first,
        batch: Vec::new(),
        st: 0,
        quit: false,
        now: fsutil::now().0,
        count: 0,
    };
    for path in &paths {
        let real = ctx.path(path);
        w.visit(ctx, &real, path, 0);
    }
    let batch = std::mem::take(&mut w.batch);
    for (base, items) in batch {
        let mut argv = base;
        argv.extend(items);
        if ctx.run_argv(&argv, Vec::new()) != 0 {
            w.st = 1;
        }
    }
    w.st
}

fn split_items(data: &[u8]) -> Result<Vec<String>, String> {
    let s = String::from_utf8_lossy(data);
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut has = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if has {
                    items.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            '\'' | '"' => {
                has = true;
                loop {
                    match chars.next() {
                        Some(x) if x == c => break,
                        Some(x) => cur.push(x),
                        None => {
                            return Err(format!(
                                "xargs: unmatched {} quote; by default quotes are special to xargs unless you use the -0 option",
                                if c == '"' { "double" } else { "single" }
                            ));
                        }
                    }
                }
            }
            '\\' => {
                has = true;
                if let Some(x) = chars.next() {
                    cur.push(x);
                }
            }
            _ => {
                has = true;
                cur.push(c);
            }
        }
    }
    if has {
        items.push(cur);
    }
    Ok(items)
}

pub fn xargs(ctx: &mut Ctx, args: &[String]) -> i32 {
    let mut i = 0;
    let mut n: Option<usize> = None;
    let mut repl: Option<String> = None;
    let mut lines_per: Option<usize> = None;
    let mut delim: Option<u8> = None;
    let mut no_empty = false;
    let mut trace = false;
    while i < args.len() {
        let a = &args[i];
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
        match a.as_str() {
            "--" => {
                i += 1;
                break;
            }
            "-0" | "--null" => delim = Some(0),
            "-r" | "--no-run-if-empty" => no_empty = true,
            "-t" | "--verbose" => trace = true,
            "-p" | "-x" => {}
            s if s.starts_with("-n") => n = val(&mut i, "-n").and_then(|v| v.parse().ok()),
            s if s.starts_with("-L") => lines_per = val(&mut i, "-L").and_then(|v| v.parse().ok()),
            s if s.starts_with("-P") => {
                let _ = val(&mut i, "-P");
            }
            s if s.starts_with("-s") => {
                let _ = val(&mut i, "-s");
            }
            s if s.starts_with("-I") => repl = val(&mut i, "-I"),
            s if s.starts_with("-i") => repl = Some(if s.len() > 2 { s[2..].to_string() } else { "{}".into() }),
            s if s.starts_with("-d") => {
                let d = val(&mut i, "-d").unwrap_or_default();
                let d = crate::printf::escapes(&d, false).0;
                delim = d.bytes().next();
            }
            s if s.starts_with("--max-args=") => n = s["--max-args=".len()..].parse().ok(),
            s if s.starts_with("--replace") => {
                repl = Some(s.strip_prefix("--replace=").unwrap_or("{}").to_string());
            }
            s => {
                ctx.errln(format!("xargs: invalid option -- '{}'", s.trim_start_matches('-')));
                return 1;
            }
        }
        i += 1;
    }
    let cmd: Vec<String> = if i < args.len() { args[i..].to_vec() } else { vec!["echo".into()] };
    let data = ctx.stdin();
    let items: Vec<String> = if let Some(d) = delim {
        let mut v: Vec<String> = data.split(|&b| b == d).map(|s| String::from_utf8_lossy(s).into_owned()).collect();
        if v.last().is_some_and(|s| s.is_empty()) {
            v.pop();
        }
        if d != b'\n' && d != 0 {
            // keep as is
        }
        v
    } else if repl.is_some() || lines_per.is_some() {
        fsutil::lines(&data)
            .iter()
            .map(|l| String::from_utf8_lossy(l).trim_start().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    } else {
        match split_items(&data) {
            Ok(v) => v,
            Err(m) => {
                ctx.errln(m);
                return 1;
            }
        }
    };
    let mut st = 0;
    let mut run = |ctx: &mut Ctx, argv: Vec<String>| {
        if trace {
            ctx.errln(argv.join(" "));
        }
        let c = ctx.run_argv(&argv, Vec::new());
        if c == 127 {
            st = 127;
        } else if c != 0 && st == 0 {
            st = 123;
        }
    };
    if items.is_empty() {
        if !no_empty && repl.is_none() {
            run(ctx, cmd.clone());
        }
        return st;
    }
    if let Some(r) = &repl {
        for it in &items {
            let argv: Vec<String> = cmd.iter().map(|a| a.replace(r.as_str(), it)).collect();
            run(ctx, argv);
        }
        return st;
    }
    let chunk = n.or(lines_per).unwrap_or(usize::MAX).max(1);
    for group in items.chunks(chunk.min(items.len().max(1))) {
        let mut argv = cmd.clone();
        argv.extend(group.iter().cloned());
        run(ctx, argv);
    }
    st
}

pub fn tree(ctx: &mut Ctx, args: &[String]) -> i32 {
    let mut all = false;
    let mut dirs_only = false;
    let mut max: Option<usize> = None;
    let mut roots = Vec::new();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-a" => all = true,
            "-d" => dirs_only = true,
            "-L" => {
                i += 1;
                max = args.get(i).and_then(|v| v.parse().ok());
            }
            s if s.starts_with('-') => {}
            s => roots.push(s.to_string()),
        }
        i += 1;
    }
    if roots.is_empty() {
        roots.push(".".into());
    }
    let (mut nd, mut nf) = (0, 0);
    fn rec(
        ctx: &mut Ctx,
        p: &Path,
        prefix: &str,
        depth: usize,
        o: (bool, bool, Option<usize>),
        nd: &mut usize,
        nf: &mut usize,
    ) {
        if o.2.is_some_and(|m| depth >= m) || depth > 64 {
            return;
        }
        let Ok(rd) = std::fs::read_dir(p) else { return };
        let mut ents: Vec<(String, PathBuf)> = rd
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .filter(|(n, _)| o.0 || !n.starts_with('.'))
            .filter(|(_, p)| !o.1 || p.is_dir())
            .collect();
        ents.sort();
        let len = ents.len();
        for (k, (n, path)) in ents.into_iter().enumerate() {
            let last = k + 1 == len;
            ctx.outs(format!("{prefix}{}{n}\n", if last { "└── " } else { "├── " }));
            if path.is_dir() {
                *nd += 1;
                let np = format!("{prefix}{}", if last { "    " } else { "│   " });
                rec(ctx, &path, &np, depth + 1, o, nd, nf);
            } else {
                *nf += 1;
            }
        }
    }
    for r in &roots {
        let p = ctx.path(r);
        if !p.is_dir() {
            ctx.outs(format!("{r}  [error opening dir]\n"));
            continue;
        }
        ctx.outs(format!("{r}\n"));
        rec(ctx, &p, "", 0, (all, dirs_only, max), &mut nd, &mut nf);
    }
    let ds = if nd == 1 { "directory" } else { "directories" };
    if dirs_only {
        ctx.outs(format!("\n{nd} {ds}\n"));
    } else {
        let fs = if nf == 1 { "file" } else { "files" };
        ctx.outs(format!("\n{nd} {ds}, {nf} {fs}\n"));
    }
    0
}
