//! The utilities (coreutils and friends). Each takes a [`Ctx`] and its arguments and returns an exit code.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::exec::Input;
use crate::fsutil::{self, errmsg};
use crate::{Host, Shell};

mod archive;
mod diff;
mod find;
mod fs;
mod grep;
mod jq;
mod misc;
mod net;
mod text;

pub struct Ctx<'a> {
    pub sh: &'a mut Shell,
    pub host: &'a mut dyn Host,
    pub input: &'a mut Input,
    pub out: &'a mut Vec<u8>,
    pub err: &'a mut Vec<u8>,
}

impl Ctx<'_> {
    pub fn path(&self, p: &str) -> PathBuf {
        fsutil::normalize(&self.sh.cwd, std::path::Path::new(p))
    }
    pub fn stdin(&mut self) -> Vec<u8> {
        self.input.take_all()
    }
    pub fn errln(&mut self, s: impl AsRef<str>) {
        self.err.extend_from_slice(s.as_ref().as_bytes());
        self.err.push(b'\n');
    }
    pub fn outs(&mut self, s: impl AsRef<str>) {
        self.out.extend_from_slice(s.as_ref().as_bytes());
    }
    /// Read a file argument ("-" = stdin); on error prints `cmd: name: msg`.
    pub fn read_input(&mut self, cmd: &str, name: &str) -> Option<Vec<u8>> {
        if name == "-" {
            return Some(self.stdin());
        }
        let p = self.path(name);
        if p.is_dir() {
            self.errln(format!("{cmd}: {name}: Is a directory"));
            return None;
        }
        match std::fs::read(&p) {
            Ok(d) => Some(d),
            Err(e) => {
                self.errln(format!("{cmd}: {name}: {}", errmsg(&e)));
                None
            }
        }
    }
    /// Run a command line given as argv through the shell (for xargs, find -exec).
    pub fn run_argv(&mut self, argv: &[String], stdin: Vec<u8>) -> i32 {
        let mut inp = Input::new(stdin);
        match crate::exec::run_argv(self.sh, self.host, argv, &mut inp, self.out, self.err) {
            Ok(c) => c,
            Err(crate::exec::Flow::Exit(c)) | Err(crate::exec::Flow::Return(c)) => c,
            Err(_) => 0,
        }
    }
}

/// Parsed options. `spec` is getopt-like: "ab:c" (b takes a value).
pub struct Opts {
    pub flags: Vec<char>,
    pub vals: Vec<(char, String)>,
    pub args: Vec<String>,
}

impl Opts {
    pub fn has(&self, c: char) -> bool {
        self.flags.contains(&c)
    }
    pub fn val(&self, c: char) -> Option<&str> {
        self.vals.iter().rev().find(|(k, _)| *k == c).map(|(_, v)| v.as_str())
    }
    pub fn all(&self, c: char) -> Vec<&str> {
        self.vals.iter().filter(|(k, _)| *k == c).map(|(_, v)| v.as_str()).collect()
    }
    /// Last of several mutually exclusive flags.
    pub fn last_of(&self, cs: &str) -> Option<char> {
        self.flags.iter().rev().find(|c| cs.contains(**c)).copied()
    }
}

/// Parse options GNU style (options may follow operands unless `--`). `long` maps long names to short chars.
pub fn getopt(cmd: &str, args: &[String], spec: &str, long: &[(&str, char)]) -> Result<Opts, String> {
    let mut takes = HashMap::new();
    let sc: Vec<char> = spec.chars().collect();
    for (i, &c) in sc.iter().enumerate() {
        if c != ':' {
            takes.insert(c, sc.get(i + 1) == Some(&':'));
        }
    }
    let mut o = Opts { flags: vec![], vals: vec![], args: vec![] };
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            o.args.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(l) = a.strip_prefix("--") {
            let (name, val) = match l.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (l, None),
            };
            let Some((_, c)) = long.iter().find(|(n, _)| *n == name) else {
                return Err(format!("{cmd}: unrecognized option '{a}'"));
            };
            if takes.get(c) == Some(&true) {
                let v = match val {
                    Some(v) => v,
                    None => {
                        let Some(v) = args.get(i) else {
                            return Err(format!("{cmd}: option '--{name}' requires an argument"));
                        };
                        i += 1;
                        v.clone()
                    }
                };
                o.vals.push((*c, v));
            } else {
                o.flags.push(*c);
            }
            continue;
        }
        if a.len() > 1 && a.starts_with('-') {
            let cs: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < cs.len() {
                let c = cs[j];
                match takes.get(&c) {
                    None => return Err(format!("{cmd}: invalid option -- '{c}'")),
                    Some(true) => {
                        let rest: String = cs[j + 1..].iter().collect();
                        let v = if !rest.is_empty() {
                            rest
                        } else {
                            let Some(v) = args.get(i) else {
                                return Err(format!("{cmd}: option requires an argument -- '{c}'"));
                            };
                            i += 1;
                            v.clone()
                        };
                        o.vals.push((c, v));
                        break;
                    }
                    Some(false) => o.flags.push(c),
                }
                j += 1;
            }
            continue;
        }
        o.args.push(a.clone());
    }
    Ok(o)
}

/// Parse options or print the error and return the exit code.
macro_rules! opts {
    ($ctx:expr, $cmd:expr, $args:expr, $spec:expr, $long:expr, $code:expr) => {
        match $crate::cmds::getopt($cmd, $args, $spec, $long) {
            Ok(o) => o,
            Err(m) => {
                $ctx.errln(m);
                $ctx.errln(format!("Try '{} --help' for more information.", $cmd));
                return $code;
            }
        }
    };
}
pub(crate) use opts;

pub type CmdFn = fn(&mut Ctx, &[String]) -> i32;

const TABLE: &[(&str, CmdFn)] = &[
    ("[", misc::test_bracket),
    ("awk", misc::awk),
    ("base64", misc::base64),
    ("basename", fs::basename),
    ("cat", fs::cat),
    ("chmod", fs::chmod),
    ("clear", misc::noop),
    ("cp", fs::cp),
    ("curl", net::curl),
    ("cut", text::cut),
    ("date", misc::date),
    ("df", fs::df),
    ("diff", diff::diff),
    ("dirname", fs::dirname),
    ("du", fs::du),
    ("echo", text::echo),
    ("egrep", grep::egrep),
    ("env", misc::env),
    ("expr", misc::expr),
    ("fgrep", grep::fgrep),
    ("file", fs::file),
    ("find", find::find),
    ("grep", grep::grep),
    ("gunzip", archive::gunzip),
    ("gzip", archive::gzip),
    ("head", text::head),
    ("history", misc::noop),
    ("hostname", misc::hostname),
    ("id", misc::id),
    ("jq", jq::jq),
    ("less", fs::cat),
    ("ls", fs::ls),
    ("md5sum", misc::md5sum),
    ("mkdir", fs::mkdir),
    ("more", fs::cat),
    ("mv", fs::mv),
    ("nl", text::nl),
    ("nproc", misc::nproc),
    ("paste", text::paste),
    ("printenv", misc::printenv),
    ("printf", text::printf),
    ("readlink", fs::realpath),
    ("realpath", fs::realpath),
    ("rev", text::rev),
    ("rm", fs::rm),
    ("rmdir", fs::rmdir),
    ("sed", misc::sed),
    ("seq", text::seq),
    ("sha1sum", misc::sha1sum),
    ("sha256sum", misc::sha256sum),
    ("sha512sum", misc::sha512sum),
    ("sleep", misc::sleep),
    ("sort", text::sort),
    ("stat", fs::stat),
    ("tac", text::tac),
    ("tail", text::tail),
    ("tar", archive::tar),
    ("tee", text::tee),
    ("test", misc::test),
    ("touch", fs::touch),
    ("tr", text::tr),
    ("tree", find::tree),
    ("uname", misc::uname),
    ("uniq", text::uniq),
    ("unzip", archive::unzip),
    ("wc", text::wc),
    ("wget", net::wget),
    ("whoami", misc::whoami),
    ("xargs", find::xargs),
    ("zcat", archive::zcat),
    ("zip", archive::zip),
];

pub const NAMES: [&str; 73] = {
    let mut names = [""; 73];
    let mut i = 0;
    while i < TABLE.len() {
        names[i] = TABLE[i].0;
        i += 1;
    }
    names[71] = "python";
    names[72] = "python3";
    names
};

const _: () = assert!(TABLE.len() == 71);

pub fn lookup(name: &str) -> Option<CmdFn> {
    TABLE.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}
