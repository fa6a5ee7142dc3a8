//! The interpreter: expansions, redirections, pipelines, control flow and the builtins that need the shell.

use std::path::PathBuf;

use crate::fsutil::{self, errmsg};
use crate::parse::{self, AndOr, Command, Compound, List, Part, Pipeline, Redir, RedirOp, Word};
use crate::{Host, Shell, cmds};

/// Maximum iterations of one `while`/`until`/`for` loop.
pub const LOOP_CAP: u64 = 100_000;
/// Maximum nesting of functions, `eval`, `source`, command substitutions and sub-shells.
const MAX_DEPTH: u32 = 100;
/// Output buffers stop growing past this (the host caps output anyway).
pub const MAX_BUF: usize = 512 << 20;

/// Standard input of a command: a byte buffer consumed from the front.
#[derive(Default)]
pub struct Input {
    pub data: Vec<u8>,
    pub pos: usize,
}

impl Input {
    pub fn new(data: Vec<u8>) -> Input {
        Input { data, pos: 0 }
    }

    /// Take everything not yet read.
    pub fn take_all(&mut self) -> Vec<u8> {
        let pos = self.pos.min(self.data.len());
        self.pos = self.data.len();
        if pos == 0 { std::mem::take(&mut self.data) } else { self.data[pos..].to_vec() }
    }

    pub fn read_line(&mut self) -> Option<Vec<u8>> {
        if self.pos >= self.data.len() {
            return None;
        }
        let rest = &self.data[self.pos..];
        let (line, adv) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (rest[..i].to_vec(), i + 1),
            None => (rest.to_vec(), rest.len()),
        };
        self.pos += adv;
        Some(line)
    }
}

pub enum Flow {
    Exit(i32),
    Break(u32),
    Continue(u32),
    Return(i32),
}

type R = Result<i32, Flow>;

pub const BUILTINS: [&str; 41] = [
    ".", ":", "bash", "break", "cd", "command", "continue", "declare", "eval", "exec", "exit", "export", "false",
    "let", "local", "pwd", "read", "readonly", "return", "set", "sh", "shift", "source", "true", "type", "typeset",
    "unset", "which", "hash", "time", "timeout", "nohup", "nice", "trap", "wait", "umask", "ulimit", "shopt", "alias",
    "unalias", "jobs",
];

fn errline(err: &mut Vec<u8>, s: &str) {
    err.extend_from_slice(s.as_bytes());
    err.push(b'\n');
}

pub fn run_script(sh: &mut Shell, host: &mut dyn Host, src: &str, out: &mut Vec<u8>, err: &mut Vec<u8>) -> i32 {
    let mut input = Input::default();
    run_script_with(sh, host, src, &mut input, out, err)
}

pub fn run_script_with(
    sh: &mut Shell,
    host: &mut dyn Host,
    src: &str,
    input: &mut Input,
    out: &mut Vec<u8>,
    err: &mut Vec<u8>,
) -> i32 {
    let list = match parse::parse(src) {
        Ok(l) => l,
        Err(e) => {
            errline(err, &format!("sh: {}", e.0));
            return 2;
        }
    };
    match exec_list(sh, host, &list, input, out, err) {
        Ok(c) | Err(Flow::Exit(c)) | Err(Flow::Return(c)) => c,
        Err(Flow::Break(_)) | Err(Flow::Continue(_)) => sh.last,
    }
}

fn exec_list(
    sh: &mut Shell,
    host: &mut dyn Host,
    list: &List,
    input: &mut Input,
    out: &mut Vec<u8>,
    err: &mut Vec<u8>,
) -> R {
    let mut st = 0;
    for ao in list {
        st = exec_andor(sh, host, ao, input, out, err)?;
        sh.last = st;
    }
    Ok(st)
}

/// `set -e`: does a failure of this and-or list end the script?
fn errexit_applies(sh: &Shell, ao: &AndOr, last_ran: usize) -> bool {
    if !sh.errexit || sh.cond_depth > 0 {
        return false;
    }
    // only the last pipeline of an && / || list counts, and never a negated one
    let n = ao.rest.len();
    let p = if last_ran == 0 { &ao.first } else { &ao.rest[last_ran - 1].1 };
    last_ran == n && !p.negate
}

fn exec_andor(
    sh: &mut Shell,
    host: &mut dyn Host,
    ao: &AndOr,
    input: &mut Input,
    out: &mut Vec<u8>,
    err: &mut Vec<u8>,
) -> R {
    let mut st = exec_pipeline(sh, host, &ao.first, input, out, err)?;
    let mut last_ran = 0;
    for (k, (is_and, p)) in ao.rest.iter().enumerate() {
        sh.last = st;
        if (*is_and && st == 0) || (!*is_and && st != 0) {
            st = exec_pipeline(sh, host, p, input, out, err)?;
            last_ran = k + 1;
        }
    }
    if st != 0 && errexit_applies(sh, ao, last_ran) {
        return Err(Flow::Exit(st));
    }
    Ok(st)
}

fn exec_pipeline(
    sh: &mut Shell,
    host: &mut dyn Host,
    p: &Pipeline,
    input: &mut Input,
    out: &mut Vec<u8>,
    err: &mut Vec<u8>,
) -> R {
    let mut st = if p.cmds.len() == 1 {
        exec_cmd(sh, host, &p.cmds[0], input, out, err)?
    } else {
        // each stage behaves like a sub-shell: state changes do not persist
        let saved = (sh.cwd.clone(), sh.oldpwd.clone(), sh.vars.clone(), sh.params.clone());
        let mut data: Option<Vec<u8>> = None;
        let mut st = 0;
        let n = p.cmds.len();
        for (i, c) in p.cmds.iter().enumerate() {
            let mut stage_out = Vec::new();
            let res = match data.take() {
                None => exec_cmd(sh, host, c, input, &mut stage_out, err),
                Some(d) => exec_cmd(sh, host, c, &mut Input::new(d), &mut stage_out, err),
            };
            st = match res {
                Ok(s) | Err(Flow::Exit(s)) | Err(Flow::Return(s)) => s,
                Err(_) => 0,
            };
            if i + 1 == n {
                out.extend_from_slice(&stage_out);
            } else {
                data = Some(stage_out);
            }
        }
        sh.cwd = saved.0;
        sh.oldpwd = saved.1;
        sh.vars = saved.2;
        sh.params = saved.3;
        st
    };
    if p.negate {
        st = (st == 0) as i32;
    }
    Ok(st)
}

enum Tgt {
    Out,
    Err,
    File(usize),
    Null,
}

struct Redirected {
    input: Option<Input>,
    fd1: Tgt,
    fd2: Tgt,
    files: Vec<(PathBuf, String, Vec<u8>)>,
}

impl Redirected {
    /// Deliver the command's output; false when a redirection's file
    /// could not take it (a full disk quota), which fails the command as a
    /// failed write fails it in a POSIX shell (`cat x > f || break`).
    #[must_use]
    fn route(self, cout: Vec<u8>, cerr: Vec<u8>, out: &mut Vec<u8>, err: &mut Vec<u8>) -> bool {
        let Redirected { fd1, fd2, mut files, .. } = self;
        for (t, data) in [(fd1, cout), (fd2, cerr)] {
            match t {
                Tgt::Out => out.extend_from_slice(&data),
                Tgt::Err => err.extend_from_slice(&data),
                Tgt::File(i) => files[i].2.extend_from_slice(&data),
                Tgt::Null => {}
            }
        }
        let mut delivered = true;
        for (path, disp, data) in files {
            if data.is_empty() {
                continue;
            }
            let r = std::fs::OpenOptions::new().append(true).create(true).open(&path).and_then(|mut f| {
                use std::io::Write;
                f.write_all(&data)
            });
            if let Err(e) = r {
                errline(err, &format!("sh: {disp}: {}", errmsg(&e)));
                delivered = false;
            }
        }
        delivered
    }
}

fn setup_redirs(
    sh: &mut Shell,
    host: &mut dyn Host,
    redirs: &[Redir],
    err: &mut Vec<u8>,
) -> Result<Redirected, String> {
    let mut r = Redirected { input: None, fd1: Tgt::Out, fd2: Tgt::Err, files: Vec::new() };
    for rd in redirs {
        let target = match &rd.op {
            RedirOp::HereDoc { .. } => String::new(),
            _ => {
                let f = expand_word(sh, host, &rd.target, err)?;
                if f.len() > 1 {
                    return Err(format!("sh: {}: ambiguous redirect", word_text(&rd.target)));
                }
                f.into_iter().next().unwrap_or_default()
            }
        };
        let open_out = |r: &mut Redirected, append: bool| -> Result<Tgt, String> {
            match target.as_str() {
                "/dev/null" => return Ok(Tgt::Null),
                "/dev/stdout" => return Ok(Tgt::Out),
                "/dev/stderr" => return Ok(Tgt::Err),
                "" => return Err("sh: : No such file or directory".to_string()),
                _ => {}
            }
            let path = fsutil::normalize(&sh.cwd, std::path::Path::new(&target));
            if let Some(i) = r.files.iter().position(|f| f.0 == path) {
                return Ok(Tgt::File(i));
            }
            let mut oo = std::fs::OpenOptions::new();
            oo.create(true).write(true);
            if append {
                oo.append(true);
            } else {
                oo.truncate(true);
            }
            if path.is_dir() {
                return Err(format!("sh: {target}: Is a directory"));
            }
            oo.open(&path).map_err(|e| format!("sh: {target}: {}", errmsg(&e)))?;
            r.files.push((path, target.clone(), Vec::new()));
            Ok(Tgt::File(r.files.len() - 1))
        };
        match &rd.op {
            RedirOp::Out | RedirOp::Append => {
                let t = open_out(&mut r, rd.op == RedirOp::Append)?;
                match rd.fd {
                    1 => r.fd1 = t,
                    2 => r.fd2 = t,
                    _ => {}
                }
            }
            RedirOp::OutErr | RedirOp::AppendErr => {
                let t = open_out(&mut r, rd.op == RedirOp::AppendErr)?;
                r.fd2 = match t {
                    Tgt::File(i) => Tgt::File(i),
                    Tgt::Null => Tgt::Null,
                    Tgt::Out => Tgt::Out,
                    Tgt::Err => Tgt::Err,
                };
                r.fd1 = t;
            }
            RedirOp::Dup => {
                if rd.fd == 0 {
                    continue;
                }
                let src = match target.as_str() {
                    "1" => clone_tgt(&r.fd1),
                    "2" => clone_tgt(&r.fd2),
                    "-" => Tgt::Null,
                    "0" => continue,
                    t if t.chars().all(|c| c.is_ascii_digit()) => {
                        return Err(format!("sh: {t}: Bad file descriptor"));
                    }
                    _ => open_out(&mut r, false)?,
                };
                match rd.fd {
                    1 => r.fd1 = src,
                    2 => r.fd2 = src,
                    _ => {}
                }
            }
            RedirOp::In => {
                if rd.fd != 0 {
                    continue;
                }
                let data = match target.as_str() {
                    "/dev/null" => Vec::new(),
                    _ => {
                        let path = fsutil::normalize(&sh.cwd, std::path::Path::new(&target));
                        std::fs::read(&path).map_err(|e| format!("sh: {target}: {}", errmsg(&e)))?
                    }
                };
                r.input = Some(Input::new(data));
            }
            RedirOp::HereDoc { body, expand } => {
                let text = if *expand {
                    let w = parse::word_from_str(body, true);
                    expand_word(sh, host, &w, err)?.join("")
                } else {
                    body.clone()
                };
                if rd.fd == 0 {
                    r.input = Some(Input::new(text.into_bytes()));
                }
            }
            RedirOp::HereStr => {
                if rd.fd == 0 {
                    r.input = Some(Input::new(format!("{target}\n").into_bytes()));
                }
            }
        }
    }
    Ok(r)
}

fn clone_tgt(t: &Tgt) -> Tgt {
    match t {
        Tgt::Out => Tgt::Out,
        Tgt::Err => Tgt::Err,
        Tgt::File(i) => Tgt::File(*i),
        Tgt::Null => Tgt::Null,
    }
}

fn word_text(w: &Word) -> String {
    let mut s = String::new();
    for p in &w.0 {
        match p {
            Part::Lit(l) | Part::Quoted(l) => s.push_str(l),
            Part::Param { name, .. } => {
                s.push('$');
                s.push_str(name)
            }
            _ => s.push('?'),
        }
    }
    s
}

pub fn exec_cmd(
    sh: &mut Shell,
    host: &mut dyn Host,
    cmd: &Command,
    input: &mut Input,
    out: &mut Vec<u8>,
    err: &mut Vec<u8>,
) -> R {
    match cmd {
        Command::FuncDef { name, body } => {
            sh.funcs.insert(name.clone(), body.clone());
            Ok(0)
        }
        Command::Simple { assigns, words, redirs } => {
            let argv = match expand_words(sh, host, words, err) {
                Ok(a) => a,
                Err(m) => {
                    errline(err, &m);
                    return Ok(1);
                }
            };
            if argv.is_empty() {
                // assignments only (the status is that of the last command substitution)
                sh.last = 0;
                for (name, w) in assigns {
                    let v = match expand_word_str(sh, host, w, err) {
                        Ok(v) => v,
                        Err(m) => {
                            errline(err, &m);
                            return Ok(1);
                        }
                    };
                    assign(sh, name, v);
                }
                let st = sh.last;
                if !redirs.is_empty() {
                    match setup_redirs(sh, host, redirs, err) {
                        Ok(r) => {
                            if !r.route(Vec::new(), Vec::new(), out, err) {
                                return Ok(1);
                            }
                        }
                        Err(m) => {
                            errline(err, &m);
                            return Ok(1);
                        }
                    }
                }
                return Ok(st);
            }
            let r = match setup_redirs(sh, host, redirs, err) {
                Ok(r) => r,
                Err(m) => {
                    errline(err, &m);
                    return Ok(1);
                }
            };
            // prefix assignments: exported for the duration of the command
            let mut saved = Vec::new();
            for (name, w) in assigns {
                let v = match expand_word_str(sh, host, w, err) {
                    Ok(v) => v,
                    Err(m) => {
                        errline(err, &m);
                        return Ok(1);
                    }
                };
                let name = name.trim_end_matches('+').to_string();
                saved.push((name.clone(), sh.vars.get(&name).cloned()));
                sh.set_var(&name, v, true);
            }
            let mut cout = Vec::new();
            let mut cerr = Vec::new();
            let mut r = r;
            let res = match r.input.take() {
                Some(mut inp) => run_argv(sh, host, &argv, &mut inp, &mut cout, &mut cerr),
                None => run_argv(sh, host, &argv, input, &mut cout, &mut cerr),
            };
            for (name, old) in saved.into_iter().rev() {
                match old {
                    Some(v) => {
                        sh.vars.insert(name, v);
                    }
                    None => {
                        sh.vars.remove(&name);
                    }
                }
            }
            if !r.route(cout, cerr, out, err) {
                return res.map(|st| st.max(1));
            }
            res
        }
        Command::Compound { body, redirs } => {
            let mut r = match setup_redirs(sh, host, redirs, err) {
                Ok(r) => r,
                Err(m) => {
                    errline(err, &m);
                    return Ok(1);
                }
            };
            if redirs.is_empty() {
                return exec_compound(sh, host, body, input, out, err);
            }
            let mut cout = Vec::new();
            let mut cerr = Vec::new();
            let res = match r.input.take() {
                Some(mut inp) => exec_compound(sh, host, body, &mut inp, &mut cout, &mut cerr),
                None => exec_compound(sh, host, body, input, &mut cout, &mut cerr),
            };
            if !r.route(cout, cerr, out, err) {
                return res.map(|st| st.max(1));
            }
            res
        }
    }
}

fn assign(sh: &mut Shell, name: &str, v: String) {
    if let Some(n) = name.strip_suffix('+') {
        let old = sh.var(n).unwrap_or("").to_string();
        sh.set_var(n, old + &v, false);
    } else {
        sh.set_var(name, v, false);
    }
}

fn loop_body(
    sh: &mut Shell,
    host: &mut dyn Host,
    body: &List,
    input: &mut Input,
    out: &mut Vec<u8>,
    err: &mut Vec<u8>,
) -> Result<Option<bool>, Flow> {
    // Ok(None) = go on, Ok(Some(true)) = break
    match exec_list(sh, host, body, input, out, err) {
        Ok(_) => Ok(None),
        Err(Flow::Break(n)) => {
            if n > 1 {
                Err(Flow::Break(n - 1))
            } else {
                Ok(Some(true))
            }
        }
        Err(Flow::Continue(n)) => {
            if n > 1 {
                Err(Flow::Continue(n - 1))
            } else {
                Ok(None)
            }
        }
        Err(f) => Err(f),
    }
}

fn exec_compound(
    sh: &mut Shell,
    host: &mut dyn Host,
    body: &Compound,
    input: &mut Input,
    out: &mut Vec<u8>,
    err: &mut Vec<u8>,
) -> R {
    match body {
        Compound::Group(l) => exec_list(sh, host, l, input, out, err),
        Compound::Subshell(l) => {
            if sh.depth >= MAX_DEPTH {
                errline(err, "sh: maximum nesting depth exceeded");
                return Ok(1);
            }
            let mut sub = sh.clone();
            sub.depth += 1;
            let st = match exec_list(&mut sub, host, l, input, out, err) {
                Ok(c) | Err(Flow::Exit(c)) | Err(Flow::Return(c)) => c,
                Err(_) => 0,
            };
            Ok(st)
        }
        Compound::If { branches, otherwise } => {
            for (cond, then) in branches {
                sh.cond_depth += 1;
                let c = exec_list(sh, host, cond, input, out, err);
                sh.cond_depth -= 1;
                let c = c?;
                if c == 0 {
                    return exec_list(sh, host, then, input, out, err);
                }
            }
            match otherwise {
                Some(l) => exec_list(sh, host, l, input, out, err),
                None => Ok(0),
            }
        }
        Compound::For { var, items, body } => {
            let items = match items {
                Some(ws) => match expand_words(sh, host, ws, err) {
                    Ok(v) => v,
                    Err(m) => {
                        errline(err, &m);
                        return Ok(1);
                    }
                },
                None => sh.params.clone(),
            };
            let mut st = 0;
            for (n, it) in items.into_iter().enumerate() {
                if n as u64 >= LOOP_CAP {
                    errline(err, &format!("sh: for: loop stopped after {LOOP_CAP} iterations"));
                    return Ok(1);
                }
                sh.set_var(var, it, false);
                if loop_body(sh, host, body, input, out, err)? == Some(true) {
                    break;
                }
                st = sh.last;
            }
            Ok(st)
        }
        Compound::While { cond, body, until } => {
            let mut n = 0u64;
            let mut st = 0;
            loop {
                sh.cond_depth += 1;
                let c = exec_list(sh, host, cond, input, out, err);
                sh.cond_depth -= 1;
                let c = match c {
                    Ok(c) => c,
                    Err(Flow::Break(_)) => break,
                    Err(Flow::Continue(_)) => continue,
                    Err(f) => return Err(f),
                };
                if (c == 0) == *until {
                    break;
                }
                n += 1;
                if n > LOOP_CAP {
                    errline(err, &format!("sh: while: loop stopped after {LOOP_CAP} iterations (iteration cap)"));
                    return Ok(1);
                }
                if out.len() > MAX_BUF {
                    errline(err, "sh: output too large, loop stopped");
                    return Ok(1);
                }
                if loop_body(sh, host, body, input, out, err)? == Some(true) {
                    break;
                }
                st = sh.last;
            }
            Ok(st)
        }
        Compound::Case { word, arms } => {
            let w = match expand_word_str(sh, host, word, err) {
                Ok(w) => w,
                Err(m) => {
                    errline(err, &m);
                    return Ok(1);
                }
            };
            for (pats, body) in arms {
                for p in pats {
                    let pat = match expand_pattern(sh, host, p, err) {
                        Ok(p) => p,
                        Err(m) => {
                            errline(err, &m);
                            return Ok(1);
                        }
                    };
                    if fsutil::fnmatch(&pat, &w) {
                        return exec_list(sh, host, body, input, out, err);
                    }
                }
            }
            Ok(0)
        }
    }
}

// ---------------------------------------------------------------- expansion

struct Field {
    text: String,
    pat: String,
    glob: bool,
}

struct Fields {
    done: Vec<Field>,
    cur: Option<Field>,
}

impl Fields {
    fn cur(&mut self) -> &mut Field {
        self.cur.get_or_insert_with(|| Field { text: String::new(), pat: String::new(), glob: false })
    }
    fn push_lit(&mut self, s: &str, quoted: bool) {
        let f = self.cur();
        f.text.push_str(s);
        if quoted {
            for c in s.chars() {
                if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                    f.pat.push('\\');
                }
                f.pat.push(c);
            }
        } else {
            f.pat.push_str(s);
            if s.contains(['*', '?', '[']) {
                f.glob = true;
            }
        }
    }
    fn end(&mut self) {
        if let Some(f) = self.cur.take() {
            self.done.push(f);
        }
    }
    /// Unquoted expansion result: field splitting on blanks.
    fn push_split(&mut self, v: &str) {
        if v.is_empty() {
            return;
        }
        let ws = |c: char| c == ' ' || c == '\t' || c == '\n';
        if v.starts_with(ws) {
            self.end();
        }
        let pieces: Vec<&str> = v.split(ws).filter(|p| !p.is_empty()).collect();
        for (i, p) in pieces.iter().enumerate() {
            self.push_lit(p, false);
            if i + 1 < pieces.len() {
                self.end();
            }
        }
        if v.ends_with(ws) {
            self.end();
        }
    }
}

/// Brace expansion of unquoted literal parts: `a{b,c}d`, `{1..5}`, `{a..e}`.
fn brace_expand(w: &Word) -> Vec<Word> {
    for (pi, part) in w.0.iter().enumerate() {
        let Part::Lit(s) = part else { continue };
        let bytes: Vec<char> = s.chars().collect();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == '{' && (i == 0 || bytes[i - 1] != '$') {
                // find matching close
                let mut depth = 0;
                let mut j = i;
                let mut commas = Vec::new();
                let mut close = None;
                while j < bytes.len() {
                    match bytes[j] {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                close = Some(j);
                                break;
                            }
                        }
                        ',' if depth == 1 => commas.push(j),
                        _ => {}
                    }
                    j += 1;
                }
                let Some(close) = close else { break };
                let inner: String = bytes[i + 1..close].iter().collect();
                let alts: Vec<String> = if !commas.is_empty() {
                    let mut v = Vec::new();
                    let mut start = i + 1;
                    for &c in commas.iter().chain(std::iter::once(&close)) {
                        v.push(bytes[start..c].iter().collect());
                        start = c + 1;
                    }
                    v
                } else if let Some(seq) = brace_seq(&inner) {
                    seq
                } else {
                    i += 1;
                    continue;
                };
                let pre: String = bytes[..i].iter().collect();
                let post: String = bytes[close + 1..].iter().collect();
                let mut out = Vec::new();
                for a in alts {
                    let mut parts = w.0[..pi].to_vec();
                    let lit = format!("{pre}{a}{post}");
                    if !lit.is_empty() {
                        parts.push(Part::Lit(lit));
                    }
                    parts.extend_from_slice(&w.0[pi + 1..]);
                    for x in brace_expand(&Word(parts)) {
                        if out.len() >= 100_000 {
                            break;
                        }
                        out.push(x);
                    }
                }
                return out;
            }
            i += 1;
        }
    }
    vec![w.clone()]
}

fn brace_seq(inner: &str) -> Option<Vec<String>> {
    let parts: Vec<&str> = inner.split("..").collect();
    if parts.len() != 2 && parts.len() != 3 {
        return None;
    }
    let step: i64 = if parts.len() == 3 { parts[2].parse().ok()? } else { 1 };
    let step = step.unsigned_abs().max(1) as i64;
    if let (Ok(a), Ok(b)) = (parts[0].parse::<i64>(), parts[1].parse::<i64>()) {
        let width =
            if (parts[0].starts_with('0') && parts[0].len() > 1) || (parts[1].starts_with('0') && parts[1].len() > 1) {
                parts[0].len().max(parts[1].len())
            } else {
                0
            };
        let mut v = Vec::new();
        let mut x = a;
        loop {
            v.push(format!("{x:0width$}"));
            if x == b || v.len() >= 100_000 {
                break;
            }
            if a < b {
                x += step;
                if x > b {
                    break;
                }
            } else {
                x -= step;
                if x < b {
                    break;
                }
            }
        }
        return Some(v);
    }
    let (a, b) = (parts[0], parts[1]);
    if a.chars().count() == 1 && b.chars().count() == 1 {
        let (a, b) = (a.chars().next()? as u32, b.chars().next()? as u32);
        let v: Vec<String> = if a <= b {
            (a..=b).step_by(step as usize).filter_map(char::from_u32).map(|c| c.to_string()).collect()
        } else {
            (b..=a).rev().step_by(step as usize).filter_map(char::from_u32).map(|c| c.to_string()).collect()
        };
        return Some(v);
    }
    None
}

pub fn expand_words(
    sh: &mut Shell,
    host: &mut dyn Host,
    words: &[Word],
    err: &mut Vec<u8>,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for w in words {
        for w in brace_expand(w) {
            out.extend(expand_word(sh, host, &w, err)?);
        }
    }
    Ok(out)
}

fn param_value(sh: &Shell, name: &str) -> Option<String> {
    match name {
        "?" => Some(sh.last.to_string()),
        "#" => Some(sh.params.len().to_string()),
        "@" | "*" => Some(sh.params.join(" ")),
        "0" => Some("sh".into()),
        "$" => Some("1".into()),
        "!" => Some(String::new()),
        "-" => Some("hB".into()),
        "PWD" => Some(sh.cwd.to_string_lossy().into_owned()),
        "RANDOM" => {
            let (s, n) = fsutil::now();
            Some(((s as u64 ^ n as u64).wrapping_mul(2654435761) % 32768).to_string())
        }
        "SECONDS" => Some("0".into()),
        n if n.chars().all(|c| c.is_ascii_digit()) => {
            let i: usize = n.parse().ok()?;
            sh.params.get(i.checked_sub(1)?).cloned()
        }
        n => sh.vars.get(n).map(|v| v.value.clone()),
    }
}

/// Expand a word (with field splitting and globbing).
pub fn expand_word(sh: &mut Shell, host: &mut dyn Host, w: &Word, err: &mut Vec<u8>) -> Result<Vec<String>, String> {
    let mut f = Fields { done: Vec::new(), cur: None };
    for part in &w.0 {
        match part {
            Part::Lit(s) => f.push_lit(s, false),
            Part::Quoted(s) => f.push_lit(s, true),
            Part::Tilde => {
                let h = sh.var("HOME").unwrap_or("/").to_string();
                f.push_lit(&h, true)
            }
            Part::Param { name, op } if (name == "@" || name == "*") && op.is_none() => {
                for (i, p) in sh.params.clone().iter().enumerate() {
                    if i > 0 {
                        f.end();
                    }
                    f.push_split(p);
                }
            }
            Part::Param { .. } | Part::Cmd(_) | Part::Arith(_) => {
                let v = expand_simple_part(sh, host, part, err)?;
                f.push_split(&v);
            }
            Part::Dq(inner) => {
                f.cur();
                for p in inner {
                    match p {
                        Part::Lit(s) | Part::Quoted(s) => f.push_lit(s, true),
                        Part::Param { name, op: None } if name == "@" => {
                            let ps = sh.params.clone();
                            for (i, p) in ps.iter().enumerate() {
                                if i > 0 {
                                    f.end();
                                }
                                f.push_lit(p, true);
                            }
                            if ps.is_empty() && inner.len() == 1 {
                                f.cur = None;
                            }
                        }
                        _ => {
                            let v = expand_simple_part(sh, host, p, err)?;
                            f.push_lit(&v, true);
                        }
                    }
                }
            }
        }
    }
    f.end();
    let mut out = Vec::new();
    for field in f.done {
        if field.glob && fsutil::has_glob(&field.pat) {
            let m = fsutil::glob(&sh.cwd, &field.pat);
            if m.is_empty() {
                out.push(field.text);
            } else {
                out.extend(m);
            }
        } else {
            out.push(field.text);
        }
    }
    Ok(out)
}

/// Expand without splitting or globbing (assignments, here-docs, case words).
pub fn expand_word_str(sh: &mut Shell, host: &mut dyn Host, w: &Word, err: &mut Vec<u8>) -> Result<String, String> {
    let mut s = String::new();
    for part in &w.0 {
        match part {
            Part::Lit(l) | Part::Quoted(l) => s.push_str(l),
            Part::Tilde => s.push_str(sh.var("HOME").unwrap_or("/")),
            Part::Dq(inner) => {
                for p in inner {
                    match p {
                        Part::Lit(l) | Part::Quoted(l) => s.push_str(l),
                        _ => s.push_str(&expand_simple_part(sh, host, p, err)?),
                    }
                }
            }
            _ => s.push_str(&expand_simple_part(sh, host, part, err)?),
        }
    }
    Ok(s)
}

/// Expand a pattern word: quoted parts are escaped so they match literally.
fn expand_pattern(sh: &mut Shell, host: &mut dyn Host, w: &Word, err: &mut Vec<u8>) -> Result<String, String> {
    let mut s = String::new();
    let esc = |s: &mut String, t: &str| {
        for c in t.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                s.push('\\');
            }
            s.push(c);
        }
    };
    for part in &w.0 {
        match part {
            Part::Lit(l) => s.push_str(l),
            Part::Quoted(l) => esc(&mut s, l),
            Part::Tilde => s.push_str(sh.var("HOME").unwrap_or("/")),
            Part::Dq(inner) => {
                for p in inner {
                    match p {
                        Part::Lit(l) | Part::Quoted(l) => esc(&mut s, l),
                        _ => {
                            let v = expand_simple_part(sh, host, p, err)?;
                            esc(&mut s, &v)
                        }
                    }
                }
            }
            _ => s.push_str(&expand_simple_part(sh, host, part, err)?),
        }
    }
    Ok(s)
}

pub fn command_subst(sh: &mut Shell, host: &mut dyn Host, src: &str, err: &mut Vec<u8>) -> Result<String, String> {
    if sh.depth >= MAX_DEPTH {
        return Err("sh: maximum nesting depth exceeded".into());
    }
    let mut sub = sh.clone();
    sub.depth += 1;
    sub.errexit = false;
    let mut out = Vec::new();
    let st = run_script(&mut sub, host, src, &mut out, err);
    sh.last = st;
    while out.last() == Some(&b'\n') {
        out.pop();
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn expand_simple_part(sh: &mut Shell, host: &mut dyn Host, part: &Part, err: &mut Vec<u8>) -> Result<String, String> {
    match part {
        Part::Lit(s) | Part::Quoted(s) => Ok(s.clone()),
        Part::Tilde => Ok(sh.var("HOME").unwrap_or("/").to_string()),
        Part::Cmd(src) => command_subst(sh, host, src, err),
        Part::Arith(src) => {
            let w = parse::word_from_str(src, true);
            let e = expand_word_str(sh, host, &w, err)?;
            arith(sh, &e).map(|v| v.to_string())
        }
        Part::Dq(inner) => {
            let mut s = String::new();
            for p in inner {
                s.push_str(&expand_simple_part(sh, host, p, err)?);
            }
            Ok(s)
        }
        Part::Param { name, op } => {
            let val = param_value(sh, name);
            let Some((op, arg)) = op else { return Ok(val.unwrap_or_default()) };
            let argw = || parse::word_from_str(arg, false);
            let set_nonempty = val.as_ref().is_some_and(|v| !v.is_empty());
            match op.as_str() {
                "len" => Ok(if name == "@" || name == "*" {
                    sh.params.len().to_string()
                } else {
                    val.unwrap_or_default().chars().count().to_string()
                }),
                ":-" | "-" => {
                    let use_default = if op == ":-" { !set_nonempty } else { val.is_none() };
                    if use_default { expand_word_str(sh, host, &argw(), err) } else { Ok(val.unwrap_or_default()) }
                }
                ":=" | "=" => {
                    let use_default = if op == ":=" { !set_nonempty } else { val.is_none() };
                    if use_default {
                        let v = expand_word_str(sh, host, &argw(), err)?;
                        sh.set_var(name, v.clone(), false);
                        Ok(v)
                    } else {
                        Ok(val.unwrap_or_default())
                    }
                }
                ":+" | "+" => {
                    let use_alt = if op == ":+" { set_nonempty } else { val.is_some() };
                    if use_alt { expand_word_str(sh, host, &argw(), err) } else { Ok(String::new()) }
                }
                ":?" | "?" => {
                    let bad = if op == ":?" { !set_nonempty } else { val.is_none() };
                    if bad {
                        let m = expand_word_str(sh, host, &argw(), err)?;
                        let m = if m.is_empty() { "parameter null or not set".to_string() } else { m };
                        Err(format!("sh: {name}: {m}"))
                    } else {
                        Ok(val.unwrap_or_default())
                    }
                }
                "#" | "##" | "%" | "%%" => {
                    let v = val.unwrap_or_default();
                    let pat = expand_pattern(sh, host, &argw(), err)?;
                    let idx: Vec<usize> = v.char_indices().map(|(i, _)| i).chain(std::iter::once(v.len())).collect();
                    let r = match op.as_str() {
                        "#" => idx.iter().find(|&&i| fsutil::fnmatch(&pat, &v[..i])).map(|&i| v[i..].to_string()),
                        "##" => {
                            idx.iter().rev().find(|&&i| fsutil::fnmatch(&pat, &v[..i])).map(|&i| v[i..].to_string())
                        }
                        "%" => idx.iter().rev().find(|&&i| fsutil::fnmatch(&pat, &v[i..])).map(|&i| v[..i].to_string()),
                        _ => idx.iter().find(|&&i| fsutil::fnmatch(&pat, &v[i..])).map(|&i| v[..i].to_string()),
                    };
                    Ok(r.unwrap_or(v))
                }
                "/" | "//" | "/#" | "/%" => {
                    let v = val.unwrap_or_default();
                    let (p, rep) = match arg.find('/') {
                        Some(i) => (&arg[..i], &arg[i + 1..]),
                        None => (&arg[..], ""),
                    };
                    let pat = expand_pattern(sh, host, &parse::word_from_str(p, false), err)?;
                    let rep = expand_word_str(sh, host, &parse::word_from_str(rep, false), err)?;
                    Ok(replace_pattern(&v, &pat, &rep, op))
                }
                "^^" => Ok(val.unwrap_or_default().to_uppercase()),
                ",," => Ok(val.unwrap_or_default().to_lowercase()),
                "^" => {
                    let v = val.unwrap_or_default();
                    let mut c = v.chars();
                    Ok(c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default())
                }
                "," => {
                    let v = val.unwrap_or_default();
                    let mut c = v.chars();
                    Ok(c.next().map(|f| f.to_lowercase().collect::<String>() + c.as_str()).unwrap_or_default())
                }
                ":" => {
                    let v: Vec<char> = val.unwrap_or_default().chars().collect();
                    let a = expand_word_str(sh, host, &argw(), err)?;
                    let (o, l) = match a.split_once(':') {
                        Some((o, l)) => (o.to_string(), Some(l.to_string())),
                        None => (a, None),
                    };
                    let n = v.len() as i64;
                    let mut off = arith(sh, &o)?;
                    if off < 0 {
                        off = (n + off).max(0);
                    }
                    let off = off.min(n);
                    let end = match l {
                        Some(l) => {
                            let l = arith(sh, &l)?;
                            if l < 0 { (n + l).max(off) } else { (off + l).min(n) }
                        }
                        None => n,
                    };
                    Ok(v[off as usize..end as usize].iter().collect())
                }
                _ => Ok(val.unwrap_or_default()),
            }
        }
    }
}

fn replace_pattern(v: &str, pat: &str, rep: &str, op: &str) -> String {
    let idx: Vec<usize> = v.char_indices().map(|(i, _)| i).chain(std::iter::once(v.len())).collect();
    match op {
        "/#" => {
            for &j in idx.iter().rev() {
                if fsutil::fnmatch(pat, &v[..j]) {
                    return format!("{rep}{}", &v[j..]);
                }
            }
            v.to_string()
        }
        "/%" => {
            for &i in &idx {
                if fsutil::fnmatch(pat, &v[i..]) {
                    return format!("{}{rep}", &v[..i]);
                }
            }
            v.to_string()
        }
        _ => {
            let global = op == "//";
            let mut out = String::new();
            let mut k = 0;
            let mut replaced = false;
            while k < idx.len() {
                let i = idx[k];
                if i == v.len() {
                    break;
                }
                if !replaced || global {
                    // longest match starting at i
                    let mut found = None;
                    for &j in idx[k + 1..].iter().rev() {
                        if fsutil::fnmatch(pat, &v[i..j]) {
                            found = Some(j);
                            break;
                        }
                    }
                    if let Some(j) = found {
                        out.push_str(rep);
                        replaced = true;
                        k = idx.iter().position(|&x| x == j).unwrap_or(idx.len());
                        continue;
                    }
                }
                let next = idx[k + 1];
                out.push_str(&v[i..next]);
                k += 1;
            }
            out
        }
    }
}

// ---------------------------------------------------------------- arithmetic

pub fn arith(sh: &mut Shell, src: &str) -> Result<i64, String> {
    let toks = arith_lex(src)?;
    let mut p = Arith { t: toks, i: 0, sh, src };
    if p.t.is_empty() {
        return Ok(0);
    }
    let v = p.comma()?;
    if p.i < p.t.len() {
        return Err(format!("sh: {src}: syntax error in expression"));
    }
    Ok(v)
}

#[derive(Debug, Clone, PartialEq)]
enum AT {
    Num(i64),
    Name(String),
    Op(String),
}

fn arith_lex(s: &str) -> Result<Vec<AT>, String> {
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    const OPS3: [&str; 3] = ["<<=", ">>=", "**="];
    const OPS2: [&str; 19] = [
        "**", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "++", "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=",
        "^=",
    ];
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch.is_ascii_digit() {
            let st = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '#') {
                i += 1;
            }
            let t: String = c[st..i].iter().collect();
            let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                i64::from_str_radix(h, 16)
            } else if let Some((b, d)) = t.split_once('#') {
                let b: u32 = b.parse().map_err(|_| format!("sh: {t}: invalid number"))?;
                if !(2..=36).contains(&b) {
                    return Err(format!("sh: {t}: invalid arithmetic base"));
                }
                i64::from_str_radix(d, b)
            } else if t.len() > 1 && t.starts_with('0') {
                i64::from_str_radix(&t[1..], 8)
            } else {
                t.parse()
            };
            out.push(AT::Num(v.map_err(|_| format!("sh: {t}: value too great for base (error token is \"{t}\")"))?));
        } else if ch == '_' || ch.is_ascii_alphabetic() {
            let st = i;
            while i < c.len() && (c[i] == '_' || c[i].is_ascii_alphanumeric()) {
                i += 1;
            }
            out.push(AT::Name(c[st..i].iter().collect()));
        } else {
            let rest: String = c[i..(i + 3).min(c.len())].iter().collect();
            if let Some(o) = OPS3.iter().find(|o| rest.starts_with(**o)) {
                out.push(AT::Op(o.to_string()));
                i += 3;
            } else if let Some(o) = OPS2.iter().find(|o| rest.starts_with(**o)) {
                out.push(AT::Op(o.to_string()));
                i += 2;
            } else if "+-*/%<>=!~&|^?:(),".contains(ch) {
                out.push(AT::Op(ch.to_string()));
                i += 1;
            } else {
                return Err(format!("sh: {s}: syntax error: invalid arithmetic operator (error token is \"{ch}\")"));
            }
        }
    }
    Ok(out)
}

struct Arith<'a> {
    t: Vec<AT>,
    i: usize,
    sh: &'a mut Shell,
    src: &'a str,
}

impl Arith<'_> {
    fn err(&self) -> String {
        format!("sh: {}: syntax error in expression", self.src)
    }
    fn is_op(&self, o: &str) -> bool {
        matches!(self.t.get(self.i), Some(AT::Op(x)) if x == o)
    }
    fn var(&mut self, n: &str) -> i64 {
        let v = self.sh.var(n).unwrap_or("").trim().to_string();
        if v.is_empty() {
            return 0;
        }
        v.parse().unwrap_or_else(|_| if crate::parse::is_name(&v) && v != n { self.var(&v) } else { 0 })
    }
    fn comma(&mut self) -> Result<i64, String> {
        let mut v = self.assign()?;
        while self.is_op(",") {
            self.i += 1;
            v = self.assign()?;
        }
        Ok(v)
    }
    fn assign(&mut self) -> Result<i64, String> {
        if let (Some(AT::Name(n)), Some(AT::Op(o))) = (self.t.get(self.i).cloned(), self.t.get(self.i + 1).cloned())
            && matches!(o.as_str(), "=" | "+=" | "-=" | "*=" | "/=" | "%=" | "<<=" | ">>=" | "&=" | "|=" | "^=" | "**=")
        {
            self.i += 2;
            let r = self.assign()?;
            let cur = self.var(&n);
            let v = if o == "=" { r } else { self.binop(&o[..o.len() - 1], cur, r)? };
            self.sh.set_var(&n, v.to_string(), false);
            return Ok(v);
        }
        self.ternary()
    }
    fn ternary(&mut self) -> Result<i64, String> {
        let c = self.binary(0)?;
        if self.is_op("?") {
            self.i += 1;
            let a = self.assign()?;
            if !self.is_op(":") {
                return Err(self.err());
            }
            self.i += 1;
            let b = self.assign()?;
            return Ok(if c != 0 { a } else { b });
        }
        Ok(c)
    }
    fn binop(&self, o: &str, a: i64, b: i64) -> Result<i64, String> {
        Ok(match o {
            "+" => a.wrapping_add(b),
            "-" => a.wrapping_sub(b),
            "*" => a.wrapping_mul(b),
            "/" | "%" => {
                if b == 0 {
                    return Err(format!("sh: {}: division by 0 (error token is \"{}\")", self.src, b));
                }
                if o == "/" { a.wrapping_div(b) } else { a.wrapping_rem(b) }
            }
            "**" => {
                if b < 0 {
                    return Err(format!("sh: {}: exponent less than 0", self.src));
                }
                a.wrapping_pow(b.min(u32::MAX as i64) as u32)
            }
            "<<" => a.wrapping_shl(b as u32),
            ">>" => a.wrapping_shr(b as u32),
            "<" => (a < b) as i64,
            "<=" => (a <= b) as i64,
            ">" => (a > b) as i64,
            ">=" => (a >= b) as i64,
            "==" => (a == b) as i64,
            "!=" => (a != b) as i64,
            "&" => a & b,
            "|" => a | b,
            "^" => a ^ b,
            "&&" => (a != 0 && b != 0) as i64,
            "||" => (a != 0 || b != 0) as i64,
            _ => return Err(self.err()),
        })
    }
    fn prec(o: &str) -> Option<u8> {
        Some(match o {
            "||" => 1,
            "&&" => 2,
            "|" => 3,
            "^" => 4,
            "&" => 5,
            "==" | "!=" => 6,
            "<" | "<=" | ">" | ">=" => 7,
            "<<" | ">>" => 8,
            "+" | "-" => 9,
            "*" | "/" | "%" => 10,
            "**" => 11,
            _ => return None,
        })
    }
    fn binary(&mut self, min: u8) -> Result<i64, String> {
        let mut lhs = self.unary()?;
        loop {
            let Some(AT::Op(o)) = self.t.get(self.i).cloned() else { break };
            let Some(p) = Self::prec(&o) else { break };
            if p < min {
                break;
            }
            self.i += 1;
            let next_min = if o == "**" { p } else { p + 1 };
            let rhs = self.binary(next_min)?;
            lhs = self.binop(&o, lhs, rhs)?;
        }
        Ok(lhs)
    }
    fn unary(&mut self) -> Result<i64, String> {
        match self.t.get(self.i).cloned() {
            Some(AT::Op(o)) if matches!(o.as_str(), "-" | "+" | "!" | "~") => {
                self.i += 1;
                let v = self.unary()?;
                Ok(match o.as_str() {
                    "-" => v.wrapping_neg(),
                    "+" => v,
                    "!" => (v == 0) as i64,
                    _ => !v,
                })
            }
            Some(AT::Op(o)) if o == "++" || o == "--" => {
                self.i += 1;
                let Some(AT::Name(n)) = self.t.get(self.i).cloned() else { return Err(self.err()) };
                self.i += 1;
                let v = self.var(&n) + if o == "++" { 1 } else { -1 };
                self.sh.set_var(&n, v.to_string(), false);
                Ok(v)
            }
            _ => self.postfix(),
        }
    }
    fn postfix(&mut self) -> Result<i64, String> {
        match self.t.get(self.i).cloned() {
            Some(AT::Num(n)) => {
                self.i += 1;
                Ok(n)
            }
            Some(AT::Name(n)) => {
                self.i += 1;
                let v = self.var(&n);
                if self.is_op("++") || self.is_op("--") {
                    let d = if self.is_op("++") { 1 } else { -1 };
                    self.i += 1;
                    self.sh.set_var(&n, (v + d).to_string(), false);
                }
                Ok(v)
            }
            Some(AT::Op(o)) if o == "(" => {
                self.i += 1;
                let v = self.comma()?;
                if !self.is_op(")") {
                    return Err(self.err());
                }
                self.i += 1;
                Ok(v)
            }
            _ => Err(self.err()),
        }
    }
}

// ---------------------------------------------------------------- running commands

pub const PKG_MSG: &str = "packages cannot be installed in this sandbox (there is no package manager and no access to \
package indexes). The Python standard library is available; for network access use wget or curl (requests go \
through the sandbox's network policy).";

/// Run one command given as argv (after expansion).
pub fn run_argv(
    sh: &mut Shell,
    host: &mut dyn Host,
    argv: &[String],
    input: &mut Input,
    out: &mut Vec<u8>,
    err: &mut Vec<u8>,
) -> R {
    let Some(name) = argv.first() else { return Ok(0) };
    let args = &argv[1..];
    if let Some(f) = sh.funcs.get(name).cloned() {
        if sh.depth >= MAX_DEPTH {
            errline(err, &format!("sh: {name}: maximum function nesting level exceeded ({MAX_DEPTH})"));
            return Ok(1);
        }
        let saved = std::mem::replace(&mut sh.params, args.to_vec());
        sh.depth += 1;
        let r = exec_cmd(sh, host, &f, input, out, err);
        sh.depth -= 1;
        sh.params = saved;
        return match r {
            Err(Flow::Return(c)) => Ok(c),
            other => other,
        };
    }
    match name.as_str() {
        ":" | "true" => Ok(0),
        "false" => Ok(1),
        "exit" => {
            let c = match args.first() {
                Some(a) => match a.trim().parse::<i64>() {
                    Ok(n) => (n & 255) as i32,
                    Err(_) => {
                        errline(err, &format!("sh: exit: {a}: numeric argument required"));
                        2
                    }
                },
                None => sh.last,
            };
            Err(Flow::Exit(c))
        }
        "return" => {
            let c = args.first().and_then(|a| a.parse::<i64>().ok()).map(|n| (n & 255) as i32).unwrap_or(sh.last);
            Err(Flow::Return(c))
        }
        "break" | "continue" => {
            let n = args.first().and_then(|a| a.parse::<u32>().ok()).unwrap_or(1).max(1);
            Err(if name == "break" { Flow::Break(n) } else { Flow::Continue(n) })
        }
        "cd" => Ok(builtin_cd(sh, args, out, err)),
        "pwd" => {
            out.extend_from_slice(sh.cwd.to_string_lossy().as_bytes());
            out.push(b'\n');
            Ok(0)
        }
        "export" | "readonly" | "declare" | "typeset" | "local" => {
            let export = name == "export";
            let mut st = 0;
            let mut print = true;
            for a in args {
                if a.starts_with('-') {
                    continue;
                }
                print = false;
                let (n, v) = match a.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (a.as_str(), None),
                };
                if !parse::is_name(n) {
                    errline(err, &format!("sh: {name}: `{a}': not a valid identifier"));
                    st = 1;
                    continue;
                }
                match v {
                    Some(v) => sh.set_var(n, v, export),
                    None => {
                        if export {
                            let v = sh.var(n).unwrap_or("").to_string();
                            if sh.vars.contains_key(n) {
                                sh.set_var(n, v, true);
                            } else {
                                sh.vars.insert(n.to_string(), crate::Var { value: String::new(), exported: true });
                            }
                        } else if !sh.vars.contains_key(n) {
                            sh.set_var(n, String::new(), false);
                        }
                    }
                }
            }
            if print && export {
                for (k, v) in sh.env() {
                    out.extend_from_slice(format!("declare -x {k}=\"{v}\"\n").as_bytes());
                }
            }
            Ok(st)
        }
        "unset" => {
            for a in args {
                if a == "-v" || a == "-f" {
                    continue;
                }
                sh.vars.remove(a);
                sh.funcs.remove(a);
            }
            Ok(0)
        }
        "set" => {
            let mut i = 0;
            while i < args.len() {
                let a = &args[i];
                if a == "--" {
                    sh.params = args[i + 1..].to_vec();
                    return Ok(0);
                }
                if a == "-o" || a == "+o" {
                    if args.get(i + 1).map(String::as_str) == Some("errexit") {
                        sh.errexit = a == "-o";
                    }
                    i += 2;
                    continue;
                }
                if a.len() > 1 && a[1..].contains('e') && (a.starts_with('-') || a.starts_with('+')) {
                    sh.errexit = a.starts_with('-');
                }
                if !(a.starts_with('-') || a.starts_with('+')) {
                    sh.params = args[i..].to_vec();
                    return Ok(0);
                }
                i += 1;
            }
            if args.is_empty() {
                for (k, v) in &sh.vars {
                    out.extend_from_slice(format!("{k}={}\n", v.value).as_bytes());
                }
            }
            Ok(0)
        }
        "shift" => {
            let n = args.first().and_then(|a| a.parse::<usize>().ok()).unwrap_or(1);
            if n > sh.params.len() {
                return Ok(1);
            }
            sh.params.drain(..n);
            Ok(0)
        }
        "read" => Ok(builtin_read(sh, args, input, err)),
        "let" => {
            let mut v = 0;
            for a in args {
                match arith(sh, a) {
                    Ok(x) => v = x,
                    Err(m) => {
                        errline(err, &m);
                        return Ok(1);
                    }
                }
            }
            Ok((v == 0) as i32)
        }
        "eval" | "source" | "." => {
            if sh.depth >= MAX_DEPTH {
                errline(err, &format!("sh: {name}: maximum nesting depth exceeded"));
                return Ok(1);
            }
            let (src, params) = if name == "eval" {
                (args.join(" "), None)
            } else {
                let Some(f) = args.first() else {
                    errline(err, &format!("sh: {name}: filename argument required"));
                    return Ok(2);
                };
                match std::fs::read(fsutil::normalize(&sh.cwd, std::path::Path::new(f))) {
                    Ok(d) => (String::from_utf8_lossy(&d).into_owned(), Some(args[1..].to_vec())),
                    Err(e) => {
                        errline(err, &format!("sh: {f}: {}", errmsg(&e)));
                        return Ok(1);
                    }
                }
            };
            let list = match parse::parse(&src) {
                Ok(l) => l,
                Err(e) => {
                    errline(err, &format!("sh: {}", e.0));
                    return Ok(2);
                }
            };
            let saved = params.map(|p| std::mem::replace(&mut sh.params, p));
            sh.depth += 1;
            let r = exec_list(sh, host, &list, input, out, err);
            sh.depth -= 1;
            if let Some(p) = saved {
                sh.params = p;
            }
            match r {
                Err(Flow::Return(c)) if name != "eval" => Ok(c),
                other => other,
            }
        }
        "exec" => {
            if args.is_empty() {
                Ok(0)
            } else {
                let c = run_argv(sh, host, args, input, out, err)?;
                Err(Flow::Exit(c))
            }
        }
        "command" => {
            let mut a = args;
            let mut v = false;
            while let Some(f) = a.first() {
                if f == "-v" || f == "-V" {
                    v = true;
                    a = &a[1..];
                } else if f == "-p" {
                    a = &a[1..];
                } else {
                    break;
                }
            }
            if v {
                let mut st = 0;
                for n in a {
                    if let Some(p) = which(sh, n, true) {
                        out.extend_from_slice(p.as_bytes());
                        out.push(b'\n');
                    } else {
                        st = 1;
                    }
                }
                return Ok(st);
            }
            if a.is_empty() {
                return Ok(0);
            }
            let saved = std::mem::take(&mut sh.funcs);
            let r = run_argv(sh, host, a, input, out, err);
            sh.funcs = saved;
            r
        }
        "which" => {
            let mut st = 0;
            for n in args.iter().filter(|a| !a.starts_with('-')) {
                match which(sh, n, false) {
                    Some(p) => {
                        out.extend_from_slice(p.as_bytes());
                        out.push(b'\n');
                    }
                    None => st = 1,
                }
            }
            Ok(st)
        }
        "hash" | "trap" | "wait" | "umask" | "ulimit" | "shopt" | "alias" | "unalias" | "jobs" => Ok(0),
        "time" => {
            let a: Vec<String> = args.iter().skip_while(|a| *a == "-p").cloned().collect();
            let start = std::time::Instant::now();
            let r = run_argv(sh, host, &a, input, out, err);
            let t = start.elapsed().as_secs_f64();
            let m = (t / 60.0).floor();
            errline(err, &format!("\nreal\t{}m{:.3}s\nuser\t0m0.000s\nsys\t0m0.000s", m, t - m * 60.0));
            r
        }
        "nohup" | "nice" => {
            let mut a = args;
            if name == "nice" {
                while a.first().is_some_and(|x| x.starts_with('-')) {
                    a = if a[0] == "-n" { a.get(2..).unwrap_or(&[]) } else { &a[1..] };
                }
            }
            run_argv(sh, host, a, input, out, err)
        }
        "timeout" => {
            // commands cannot be interrupted here: run to completion
            let mut a = args;
            while a.first().is_some_and(|x| x.starts_with('-')) {
                a = if a[0] == "-s" || a[0] == "-k" { a.get(2..).unwrap_or(&[]) } else { &a[1..] };
            }
            if a.is_empty() {
                errline(err, "timeout: missing operand");
                return Ok(125);
            }
            run_argv(sh, host, &a[1..], input, out, err)
        }
        "type" => {
            let mut st = 0;
            for n in args.iter().filter(|a| !a.starts_with('-')) {
                let line = if sh.funcs.contains_key(n) {
                    format!("{n} is a function")
                } else if [
                    "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac", "in",
                    "function", "{", "}", "!",
                ]
                .contains(&n.as_str())
                {
                    format!("{n} is a shell keyword")
                } else if BUILTINS.contains(&n.as_str()) && !["sh", "bash", "which"].contains(&n.as_str())
                    || ["echo", "printf", "test", "["].contains(&n.as_str())
                {
                    format!("{n} is a shell builtin")
                } else if let Some(p) = which(sh, n, false) {
                    format!("{n} is {p}")
                } else {
                    errline(err, &format!("sh: type: {n}: not found"));
                    st = 1;
                    continue;
                };
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
            }
            Ok(st)
        }
        "sh" | "bash" => run_sh(sh, host, args, input, out, err),
        "pip" | "pip3" | "apt" | "apt-get" | "sudo" | "conda" | "npm" | "brew" | "yum" | "apk" | "dnf" | "mamba"
        | "pipx" | "uv" | "poetry" | "easy_install" | "snap" | "dpkg" => {
            errline(err, &format!("{name}: {PKG_MSG}"));
            Ok(1)
        }
        "python" | "python3" | "python3.11" | "python3.12" => {
            let mut i = 0;
            while i < args.len() && args[i].starts_with('-') && args[i] != "-m" && args[i] != "-c" && args[i] != "-" {
                i += 1;
            }
            if args.get(i).map(String::as_str) == Some("-m")
                && matches!(args.get(i + 1).map(String::as_str), Some("pip" | "pip3" | "ensurepip" | "venv"))
            {
                errline(err, &format!("{name} -m {}: {PKG_MSG}", args[i + 1]));
                return Ok(1);
            }
            let stdin = input.take_all();
            let env = sh.env();
            let o = host.python(args, &stdin, &sh.cwd.clone(), &env);
            out.extend_from_slice(&o.stdout);
            err.extend_from_slice(&o.stderr);
            Ok(o.exit_code)
        }
        _ => {
            if let Some(f) = cmds::lookup(name) {
                let mut ctx = cmds::Ctx { sh, host, input, out, err };
                return Ok(f(&mut ctx, args));
            }
            if name.contains('/') {
                return run_file(sh, host, name, args, input, out, err);
            }
            errline(err, &format!("sh: {name}: command not found"));
            errline(err, &format!("Available commands: {}", Shell::commands().join(", ")));
            Ok(127)
        }
    }
}

fn which(sh: &Shell, n: &str, cmdv: bool) -> Option<String> {
    if sh.funcs.contains_key(n) && cmdv {
        return Some(n.to_string());
    }
    if cmdv && BUILTINS.contains(&n) && !["sh", "bash", "which"].contains(&n) {
        return Some(n.to_string());
    }
    if cmds::lookup(n).is_some() || ["sh", "bash", "python", "python3", "which", "true", "false"].contains(&n) {
        return Some(format!("/usr/bin/{n}"));
    }
    if n.contains('/') {
        let p = fsutil::normalize(&sh.cwd, std::path::Path::new(n));
        if p.is_file() {
            return Some(n.to_string());
        }
    }
    None
}

fn run_sh(
    sh: &mut Shell,
    host: &mut dyn Host,
    args: &[String],
    input: &mut Input,
    out: &mut Vec<u8>,
    err: &mut Vec<u8>,
) -> R {
    let mut i = 0;
    let mut cmd: Option<String> = None;
    while i < args.len() {
        let a = &args[i];
        if a == "-c" {
            cmd = args.get(i + 1).cloned();
            i += 2;
            break;
        }
        if a.starts_with('-') || a.starts_with('+') {
            if a.contains('c') && a.starts_with('-') {
                cmd = args.get(i + 1).cloned();
                i += 2;
                break;
            }
            if a == "-o" {
                i += 1;
            }
            i += 1;
            continue;
        }
        break;
    }
    if sh.depth >= MAX_DEPTH {
        errline(err, "sh: maximum nesting depth exceeded");
        return Ok(1);
    }
    let mut sub = sh.clone();
    sub.depth += 1;
    let (src, params) = match cmd {
        Some(c) => (c, args.get(i + 1..).map(|s| s.to_vec()).unwrap_or_default()),
        None => match args.get(i) {
            Some(f) => match std::fs::read(fsutil::normalize(&sh.cwd, std::path::Path::new(f))) {
                Ok(d) => (String::from_utf8_lossy(&d).into_owned(), args[i + 1..].to_vec()),
                Err(e) => {
                    errline(err, &format!("sh: {f}: {}", errmsg(&e)));
                    return Ok(127);
                }
            },
            None => (String::from_utf8_lossy(&input.take_all()).into_owned(), Vec::new()),
        },
    };
    sub.params = params;
    Ok(run_script_with(&mut sub, host, &src, input, out, err))
}

fn run_file(
    sh: &mut Shell,
    host: &mut dyn Host,
    name: &str,
    args: &[String],
    input: &mut Input,
    out: &mut Vec<u8>,
    err: &mut Vec<u8>,
) -> R {
    let p = fsutil::normalize(&sh.cwd, std::path::Path::new(name));
    if p.is_dir() {
        errline(err, &format!("sh: {name}: Is a directory"));
        return Ok(126);
    }
    let data = match std::fs::read(&p) {
        Ok(d) => d,
        Err(e) => {
            errline(err, &format!("sh: {name}: {}", errmsg(&e)));
            return Ok(127);
        }
    };
    let first = data.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let first = String::from_utf8_lossy(first);
    if first.starts_with("#!") && first.contains("python") || (!first.starts_with("#!") && name.ends_with(".py")) {
        let mut a = vec![name.to_string()];
        a.extend_from_slice(args);
        let stdin = input.take_all();
        let env = sh.env();
        let o = host.python(&a, &stdin, &sh.cwd.clone(), &env);
        out.extend_from_slice(&o.stdout);
        err.extend_from_slice(&o.stderr);
        return Ok(o.exit_code);
    }
    if data.contains(&0) {
        errline(err, &format!("sh: {name}: cannot execute binary file: Exec format error"));
        return Ok(126);
    }
    let mut a = vec![name.to_string()];
    a.extend_from_slice(args);
    run_sh(sh, host, &a, input, out, err)
}

fn builtin_cd(sh: &mut Shell, args: &[String], out: &mut Vec<u8>, err: &mut Vec<u8>) -> i32 {
    let args: Vec<&String> = args.iter().filter(|a| *a != "-P" && *a != "-L").collect();
    if args.len() > 1 {
        errline(err, "sh: cd: too many arguments");
        return 1;
    }
    let (target, print) = match args.first().map(|s| s.as_str()) {
        None | Some("~") => (sh.var("HOME").unwrap_or("/").to_string(), false),
        Some("-") => match &sh.oldpwd {
            Some(p) => (p.to_string_lossy().into_owned(), true),
            None => {
                errline(err, "sh: cd: OLDPWD not set");
                return 1;
            }
        },
        Some(t) => (t.to_string(), false),
    };
    let p = fsutil::normalize(&sh.cwd, std::path::Path::new(&target));
    match std::fs::metadata(&p) {
        Ok(m) if m.is_dir() => {
            sh.oldpwd = Some(std::mem::replace(&mut sh.cwd, p.clone()));
            let old = sh.oldpwd.as_ref().map(|o| o.to_string_lossy().into_owned()).unwrap_or_default();
            sh.set_var("OLDPWD", old, true);
            sh.set_var("PWD", p.to_string_lossy().into_owned(), true);
            if print {
                out.extend_from_slice(p.to_string_lossy().as_bytes());
                out.push(b'\n');
            }
            0
        }
        Ok(_) => {
            errline(err, &format!("sh: cd: {target}: Not a directory"));
            1
        }
        Err(e) => {
            errline(err, &format!("sh: cd: {target}: {}", errmsg(&e)));
            1
        }
    }
}

fn builtin_read(sh: &mut Shell, args: &[String], input: &mut Input, err: &mut Vec<u8>) -> i32 {
    let mut raw = false;
    let mut names = Vec::new();
    let mut delim: Option<u8> = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-r" => raw = true,
            "-p" | "-t" | "-n" | "-u" => i += 1,
            "-d" => {
                delim = args.get(i + 1).map(|d| d.bytes().next().unwrap_or(0));
                i += 1;
            }
            "-s" | "-e" => {}
            "-a" => {
                // arrays are not supported: read into the name as a plain variable
            }
            a => names.push(a.to_string()),
        }
        i += 1;
    }
    let line = match delim {
        None => input.read_line(),
        Some(d) => {
            if input.pos >= input.data.len() {
                None
            } else {
                let rest = &input.data[input.pos..];
                let n = rest.iter().position(|&b| b == d).map(|i| i + 1).unwrap_or(rest.len());
                let l = rest[..n].strip_suffix(&[d]).unwrap_or(&rest[..n]).to_vec();
                input.pos += n;
                Some(l)
            }
        }
    };
    let at_eof_without_nl = line.is_some() && input.pos >= input.data.len() && !input.data.ends_with(b"\n");
    let Some(line) = line else {
        for n in &names {
            sh.set_var(n, String::new(), false);
        }
        return 1;
    };
    let mut s = String::from_utf8_lossy(&line).into_owned();
    if !raw {
        let mut o = String::new();
        let mut esc = false;
        for c in s.chars() {
            if esc {
                o.push(c);
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else {
                o.push(c);
            }
        }
        s = o;
    }
    if names.is_empty() {
        sh.set_var("REPLY", s, false);
    } else {
        let mut rest = s.trim_start_matches([' ', '\t']).to_string();
        for (k, n) in names.iter().enumerate() {
            if !parse::is_name(n) {
                errline(err, &format!("sh: read: `{n}': not a valid identifier"));
                return 1;
            }
            if k + 1 == names.len() {
                sh.set_var(n, rest.trim_end_matches([' ', '\t']).to_string(), false);
                rest.clear();
            } else {
                let (a, b) = match rest.find([' ', '\t']) {
                    Some(i) => (rest[..i].to_string(), rest[i..].trim_start_matches([' ', '\t']).to_string()),
                    None => (rest.clone(), String::new()),
                };
                sh.set_var(n, a, false);
                rest = b;
            }
        }
    }
    if at_eof_without_nl { 1 } else { 0 }
}
