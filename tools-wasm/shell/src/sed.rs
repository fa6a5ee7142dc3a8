//! POSIX regex dialects translated to the `regex` crate, and a small `sed`.

use regex::bytes::{Regex, RegexBuilder};

/// Translate a POSIX basic (ere = false) or extended (ere = true) regular expression to `regex` syntax.
pub fn translate(re: &str, ere: bool) -> Result<String, String> {
    let c: Vec<char> = re.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    // position "at start" for '*' literal and '^' anchor handling
    let mut at_start = true;
    while i < c.len() {
        let ch = c[i];
        let was_start = at_start;
        at_start = false;
        match ch {
            '\\' if i + 1 < c.len() => {
                let n = c[i + 1];
                i += 2;
                match n {
                    '(' | ')' | '{' | '}' | '|' | '+' | '?' if !ere => {
                        out.push(n);
                        if n == '(' || n == '|' {
                            at_start = true;
                        }
                    }
                    '<' | '>' => out.push_str("\\b"),
                    'b' | 'B' | 'w' | 'W' | 's' | 'S' | 'd' | 'D' | 'n' | 't' => {
                        out.push('\\');
                        out.push(n);
                    }
                    '`' => out.push_str("\\A"),
                    '\'' => out.push_str("\\z"),
                    '1'..='9' => return Err("back-references are not supported".into()),
                    _ => out.push_str(&regex::escape(&n.to_string())),
                }
                continue;
            }
            '\\' => {
                out.push_str("\\\\");
            }
            '[' => {
                // bracket expression
                let mut j = i + 1;
                let mut cls = String::from("[");
                if j < c.len() && c[j] == '^' {
                    cls.push('^');
                    j += 1;
                }
                if j < c.len() && c[j] == ']' {
                    cls.push_str("\\]");
                    j += 1;
                }
                let mut closed = false;
                while j < c.len() {
                    let x = c[j];
                    if x == ']' {
                        closed = true;
                        cls.push(']');
                        j += 1;
                        break;
                    }
                    if x == '[' && j + 1 < c.len() && matches!(c[j + 1], ':' | '=' | '.') {
                        let delim = c[j + 1];
                        let rest: String = c[j + 2..].iter().collect();
                        let endpat = format!("{delim}]");
                        if let Some(e) = rest.find(&endpat) {
                            let name = &rest[..e];
                            if delim == ':' {
                                cls.push_str(&format!("[:{name}:]"));
                            } else {
                                cls.push_str(&regex::escape(name));
                            }
                            j += 2 + name.chars().count() + 2;
                            continue;
                        }
                    }
                    match x {
                        '\\' | '[' | '&' | '~' => {
                            cls.push('\\');
                            cls.push(x);
                        }
                        '-' if j + 1 < c.len() && c[j + 1] == '-' => cls.push_str("\\-"),
                        _ => cls.push(x),
                    }
                    j += 1;
                }
                if !closed {
                    return Err("Unmatched [, [^, [:, [., or [=".into());
                }
                out.push_str(&cls);
                i = j;
                continue;
            }
            '*' if was_start => out.push_str("\\*"),
            '^' => {
                if was_start || ere {
                    out.push('^');
                    at_start = true;
                } else {
                    out.push_str("\\^");
                }
            }
            '$' => {
                let at_end = i + 1 == c.len()
                    || (!ere && c.get(i + 1) == Some(&'\\') && matches!(c.get(i + 2), Some(')' | '|')))
                    || (ere && matches!(c.get(i + 1), Some(')' | '|')));
                if at_end || ere { out.push('$') } else { out.push_str("\\$") }
            }
            '(' | ')' | '|' | '+' | '?' if !ere => {
                out.push('\\');
                out.push(ch);
            }
            '{' if !ere => out.push_str("\\{"),
            '}' if !ere => out.push_str("\\}"),
            '{' if ere => {
                // valid interval?
                let rest: String = c[i + 1..].iter().collect();
                let valid = rest.find('}').is_some_and(|e| {
                    let inner = &rest[..e];
                    !inner.is_empty()
                        && inner.chars().all(|x| x.is_ascii_digit() || x == ',')
                        && !inner.starts_with(',')
                });
                if valid && !was_start {
                    out.push('{');
                } else {
                    out.push_str("\\{");
                }
            }
            '}' if ere => {
                // closing of a valid interval is emitted as is; a stray one literal
                let open = out.rfind('{').is_some_and(|o| !out[..o].ends_with('\\') && !out[o..].contains('}'));
                if open { out.push('}') } else { out.push_str("\\}") }
            }
            '(' | '|' if ere => {
                out.push(ch);
                at_start = true;
            }
            _ => out.push(ch),
        }
        i += 1;
    }
    Ok(out)
}

pub fn build(re: &str, ere: bool, icase: bool) -> Result<Regex, String> {
    let t = translate(re, ere)?;
    RegexBuilder::new(&t).case_insensitive(icase).size_limit(50 << 20).build().map_err(|e| {
        let s = e.to_string();
        s.lines().last().unwrap_or("invalid regex").trim().trim_start_matches("error: ").to_string()
    })
}

// ---------------------------------------------------------------- sed

#[derive(Debug, Clone)]
enum Addr {
    Line(usize),
    Last,
    Re(Regex),
    /// first~step
    Step(usize, usize),
}

#[derive(Debug, Clone)]
enum Cmd {
    Subst { re: Option<Regex>, rep: Vec<RepPart>, global: bool, nth: usize, print: bool, write: Option<String> },
    Delete,
    DeleteFirst,
    Print,
    PrintFirst,
    Quit(i32),
    QuitSilent(i32),
    Append(String),
    Insert(String),
    Change(String),
    Translit(Vec<char>, Vec<char>),
    LineNo,
    Next,
    NextAppend,
    Hold,
    HoldAppend,
    Get,
    GetAppend,
    Exchange,
    Block(Vec<Inst>),
    Label(String),
    Branch(Option<String>),
    BranchIfSub(Option<String>),
    BranchIfNotSub(Option<String>),
    List,
    Write(String),
    ReadFile(String),
}

#[derive(Debug, Clone)]
enum RepPart {
    Lit(Vec<u8>),
    Group(usize),
    Upper,
    Lower,
    UpperOne,
    LowerOne,
    EndCase,
}

#[derive(Debug, Clone)]
struct Inst {
    a1: Option<Addr>,
    a2: Option<Addr>,
    neg: bool,
    cmd: Cmd,
}

struct P<'a> {
    c: Vec<char>,
    i: usize,
    ere: bool,
    last_re: &'a mut Option<Regex>,
}

impl P<'_> {
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.i += 1;
        }
    }
    fn num(&mut self) -> Option<usize> {
        let st = self.i;
        while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
            self.i += 1;
        }
        if st == self.i { None } else { self.c[st..self.i].iter().collect::<String>().parse().ok() }
    }
    /// Read delimited text up to `delim`, handling `\delim` and keeping other escapes.
    fn delimited(&mut self, delim: char, is_re: bool) -> Result<String, String> {
        let mut s = String::new();
        let mut in_bracket = false;
        loop {
            let Some(c) = self.peek() else { return Err(format!("unterminated `s' command")) };
            self.i += 1;
            if is_re && c == '[' && !in_bracket {
                in_bracket = true;
                s.push(c);
                if self.peek() == Some('^') {
                    s.push('^');
                    self.i += 1;
                }
                if self.peek() == Some(']') {
                    s.push(']');
                    self.i += 1;
                }
                continue;
            }
            if in_bracket {
                if c == ']' {
                    in_bracket = false;
                }
                s.push(c);
                continue;
            }
            if c == '\\' {
                match self.peek() {
                    Some(n) if n == delim => {
                        s.push(n);
                        self.i += 1;
                    }
                    Some('n') if is_re => {
                        s.push_str("\\n");
                        self.i += 1;
                    }
                    Some(n) => {
                        s.push('\\');
                        s.push(n);
                        self.i += 1;
                    }
                    None => s.push('\\'),
                }
                continue;
            }
            if c == delim {
                return Ok(s);
            }
            s.push(c);
        }
    }
    fn regex(&mut self, src: &str, icase: bool) -> Result<Option<Regex>, String> {
        if src.is_empty() {
            return Ok(None); // reuse last regex
        }
        let r = build(src, self.ere, icase).map_err(|e| format!("-e expression #1, char {}: {e}", self.i))?;
        *self.last_re = Some(r.clone());
        Ok(Some(r))
    }
    fn addr(&mut self) -> Result<Option<Addr>, String> {
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {
                let n = self.num().unwrap_or(0);
                if self.peek() == Some('~') {
                    self.i += 1;
                    let step = self.num().unwrap_or(0);
                    return Ok(Some(Addr::Step(n, step)));
                }
                Ok(Some(Addr::Line(n)))
            }
            Some('$') => {
                self.i += 1;
                Ok(Some(Addr::Last))
            }
            Some('/') | Some('\\') => {
                let delim = if self.peek() == Some('\\') {
                    self.i += 1;
                    self.peek().ok_or("unexpected end")?
                } else {
                    '/'
                };
                self.i += 1;
                let src = self.delimited(delim, true)?;
                let mut icase = false;
                if self.peek() == Some('I') {
                    icase = true;
                    self.i += 1;
                }
                let r = match self.regex(&src, icase)? {
                    Some(r) => r,
                    None => self.last_re.clone().ok_or("no previous regular expression")?,
                };
                Ok(Some(Addr::Re(r)))
            }
            _ => Ok(None),
        }
    }
    fn text_arg(&mut self) -> String {
        // a\text, a text, or a\<newline>text
        self.ws();
        if self.peek() == Some('\\') {
            self.i += 1;
            if self.peek() == Some('\n') {
                self.i += 1;
            }
        }
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if c == '\n' {
                break;
            }
            self.i += 1;
            if c == '\\' {
                match self.peek() {
                    Some('\n') => {
                        s.push('\n');
                        self.i += 1;
                    }
                    Some('t') => {
                        s.push('\t');
                        self.i += 1;
                    }
                    Some(n) => {
                        s.push(n);
                        self.i += 1;
                    }
                    None => {}
                }
                continue;
            }
            s.push(c);
        }
        s
    }
    fn label(&mut self) -> Option<String> {
        self.ws();
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if c == '\n' || c == ';' || c == '}' {
                break;
            }
            s.push(c);
            self.i += 1;
        }
        let s = s.trim().to_string();
        if s.is_empty() { None } else { Some(s) }
    }
    fn filename(&mut self) -> String {
        self.ws();
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if c == '\n' {
                break;
            }
            s.push(c);
            self.i += 1;
        }
        s
    }
    fn script(&mut self, in_block: bool) -> Result<Vec<Inst>, String> {
        let mut v = Vec::new();
        loop {
            while matches!(self.peek(), Some(' ' | '\t' | '\n' | ';')) {
                self.i += 1;
            }
            let Some(c) = self.peek() else {
                if in_block {
                    return Err("unmatched `{'".into());
                }
                break;
            };
            if c == '}' {
                if !in_block {
                    return Err("unexpected `}'".into());
                }
                self.i += 1;
                break;
            }
            if c == '#' {
                while let Some(c) = self.peek() {
                    if c == '\n' {
                        break;
                    }
                    self.i += 1;
                }
                continue;
            }
            let a1 = self.addr()?;
            let mut a2 = None;
            if a1.is_some() && self.peek() == Some(',') {
                self.i += 1;
                self.ws();
                a2 = match self.peek() {
                    Some('+') => {
                        self.i += 1;
                        let n = self.num().unwrap_or(0);
                        Some(Addr::Step(usize::MAX, n)) // relative: +N lines (marker)
                    }
                    _ => self.addr()?,
                };
                if a2.is_none() {
                    return Err("unexpected `,'".into());
                }
            }
            self.ws();
            let mut neg = false;
            while self.peek() == Some('!') {
                neg = true;
                self.i += 1;
                self.ws();
            }
            let Some(cc) = self.peek() else { return Err("missing command".into()) };
            self.i += 1;
            let cmd = match cc {
                's' => {
                    let delim = self.peek().ok_or("unterminated `s' command")?;
                    self.i += 1;
                    let re_src = self.delimited(delim, true)?;
                    let rep_src = self.delimited(delim, false)?;
                    let mut global = false;
                    let mut nth = 1;
                    let mut print = false;
                    let mut icase = false;
                    let mut write = None;
                    while let Some(f) = self.peek() {
                        match f {
                            'g' => global = true,
                            'p' => print = true,
                            'i' | 'I' => icase = true,
                            'm' | 'M' | 'e' => {}
                            'w' => {
                                self.i += 1;
                                write = Some(self.filename());
                                break;
                            }
                            d if d.is_ascii_digit() => {
                                nth = self.num().unwrap_or(1).max(1);
                                continue;
                            }
                            _ => break,
                        }
                        self.i += 1;
                    }
                    let re = self.regex(&re_src, icase)?;
                    Cmd::Subst { re, rep: parse_rep(&rep_src), global, nth, print, write }
                }
                'd' => Cmd::Delete,
                'D' => Cmd::DeleteFirst,
                'p' => Cmd::Print,
                'P' => Cmd::PrintFirst,
                'q' | 'Q' => {
                    self.ws();
                    let code = self.num().unwrap_or(0) as i32;
                    if cc == 'q' { Cmd::Quit(code) } else { Cmd::QuitSilent(code) }
                }
                'a' => Cmd::Append(self.text_arg()),
                'i' => Cmd::Insert(self.text_arg()),
                'c' => Cmd::Change(self.text_arg()),
                'y' => {
                    let delim = self.peek().ok_or("unterminated `y' command")?;
                    self.i += 1;
                    let a: Vec<char> =
                        crate::printf::escapes(&self.delimited(delim, false)?, false).0.chars().collect();
                    let b: Vec<char> =
                        crate::printf::escapes(&self.delimited(delim, false)?, false).0.chars().collect();
                    if a.len() != b.len() {
                        return Err("strings for `y' command are different lengths".into());
                    }
                    Cmd::Translit(a, b)
                }
                '=' => Cmd::LineNo,
                'n' => Cmd::Next,
                'N' => Cmd::NextAppend,
                'h' => Cmd::Hold,
                'H' => Cmd::HoldAppend,
                'g' => Cmd::Get,
                'G' => Cmd::GetAppend,
                'x' => Cmd::Exchange,
                'l' => Cmd::List,
                'w' => Cmd::Write(self.filename()),
                'r' => Cmd::ReadFile(self.filename()),
                '{' => Cmd::Block(self.script(true)?),
                ':' => {
                    if a1.is_some() {
                        return Err(": doesn't want any addresses".into());
                    }
                    Cmd::Label(self.label().ok_or("\":\" lacks a label")?)
                }
                'b' => Cmd::Branch(self.label()),
                't' => Cmd::BranchIfSub(self.label()),
                'T' => Cmd::BranchIfNotSub(self.label()),
                other => return Err(format!("unknown command: `{other}'")),
            };
            v.push(Inst { a1, a2, neg, cmd });
            self.ws();
            match self.peek() {
                Some(';' | '\n') => self.i += 1,
                Some('}') | None => {}
                Some('#') => {}
                Some(c) => return Err(format!("extra characters after command ({c})")),
            }
        }
        Ok(v)
    }
}

fn parse_rep(s: &str) -> Vec<RepPart> {
    let mut v = Vec::new();
    let mut lit = Vec::new();
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    let push_lit = |lit: &mut Vec<u8>, v: &mut Vec<RepPart>| {
        if !lit.is_empty() {
            v.push(RepPart::Lit(std::mem::take(lit)));
        }
    };
    while i < c.len() {
        match c[i] {
            '&' => {
                push_lit(&mut lit, &mut v);
                v.push(RepPart::Group(0));
            }
            '\\' if i + 1 < c.len() => {
                i += 1;
                match c[i] {
                    d @ '0'..='9' => {
                        push_lit(&mut lit, &mut v);
                        v.push(RepPart::Group(d as usize - '0' as usize));
                    }
                    'n' => lit.push(b'\n'),
                    't' => lit.push(b'\t'),
                    'r' => lit.push(b'\r'),
                    'U' | 'L' | 'u' | 'l' | 'E' => {
                        push_lit(&mut lit, &mut v);
                        v.push(match c[i] {
                            'U' => RepPart::Upper,
                            'L' => RepPart::Lower,
                            'u' => RepPart::UpperOne,
                            'l' => RepPart::LowerOne,
                            _ => RepPart::EndCase,
                        });
                    }
                    '\n' => lit.push(b'\n'),
                    other => {
                        let mut b = [0u8; 4];
                        lit.extend_from_slice(other.encode_utf8(&mut b).as_bytes());
                    }
                }
            }
            other => {
                let mut b = [0u8; 4];
                lit.extend_from_slice(other.encode_utf8(&mut b).as_bytes());
            }
        }
        i += 1;
    }
    push_lit(&mut lit, &mut v);
    v
}

fn expand_rep(rep: &[RepPart], caps: &regex::bytes::Captures) -> Vec<u8> {
    let mut out = Vec::new();
    #[derive(PartialEq, Clone, Copy)]
    enum Case {
        None,
        Up,
        Low,
    }
    let mut case = Case::None;
    let mut one: Option<bool> = None;
    let push = |out: &mut Vec<u8>, b: &[u8], case: Case, one: &mut Option<bool>| {
        let s = String::from_utf8_lossy(b);
        let mut t = match case {
            Case::Up => s.to_uppercase(),
            Case::Low => s.to_lowercase(),
            Case::None => s.into_owned(),
        };
        if let Some(up) = one.take() {
            let mut ch = t.chars();
            if let Some(f) = ch.next() {
                t = if up { f.to_uppercase().collect::<String>() } else { f.to_lowercase().collect::<String>() }
                    + ch.as_str();
            } else {
                *one = Some(up);
            }
        }
        if case == Case::None && one.is_none() && std::str::from_utf8(b).is_err() {
            out.extend_from_slice(b);
        } else {
            out.extend_from_slice(t.as_bytes());
        }
    };
    for p in rep {
        match p {
            RepPart::Lit(l) => push(&mut out, l, case, &mut one),
            RepPart::Group(g) => {
                if let Some(m) = caps.get(*g) {
                    push(&mut out, m.as_bytes(), case, &mut one)
                }
            }
            RepPart::Upper => case = Case::Up,
            RepPart::Lower => case = Case::Low,
            RepPart::EndCase => case = Case::None,
            RepPart::UpperOne => one = Some(true),
            RepPart::LowerOne => one = Some(false),
        }
    }
    out
}

pub struct SedOut {
    pub out: Vec<u8>,
    pub files: Vec<(String, Vec<u8>)>,
    pub code: i32,
}

pub struct Sed {
    prog: Vec<Inst>,
    quiet: bool,
    last_re: Option<Regex>,
}

impl Sed {
    pub fn new(script: &str, ere: bool, quiet: bool) -> Result<Sed, String> {
        let mut last_re = None;
        let mut p = P { c: script.chars().collect(), i: 0, ere, last_re: &mut last_re };
        let prog = p.script(false)?;
        // `#n` on the first line means -n
        let quiet = quiet || script.starts_with("#n\n") || script == "#n";
        Ok(Sed { prog, quiet, last_re })
    }

    /// Run over the given lines (each without newline; `trailing_nl` says whether the input ended with one).
    pub fn run(&self, data: &[u8], read_file: &dyn Fn(&str) -> Vec<u8>) -> SedOut {
        let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
        let trailing_nl = data.ends_with(b"\n");
        if trailing_nl || data.is_empty() {
            lines.pop();
        }
        let mut st = State {
            out: Vec::new(),
            files: Vec::new(),
            hold: Vec::new(),
            ranges: vec![None; count_insts(&self.prog)],
            quit: None,
            lines: &lines,
            idx: 0,
            lineno: 0,
            append_queue: Vec::new(),
            tflag: false,
            steps: 0,
        };
        while st.idx < lines.len() && st.quit.is_none() {
            let mut ps = lines[st.idx].to_vec();
            st.idx += 1;
            st.lineno += 1;
            st.tflag = false;
            let mut deleted = false;
            let mut restart = true;
            while restart {
                restart = false;
                let mut counter = 0;
                match self.exec(&self.prog, &mut ps, &mut st, &mut counter, read_file) {
                    Ctl::Go => {}
                    Ctl::Delete => deleted = true,
                    Ctl::Restart => {
                        restart = true;
                        st.tflag = false;
                        st.steps += 1;
                        if st.steps > 10_000_000 {
                            break;
                        }
                    }
                    Ctl::Quit(silent) => {
                        if silent {
                            deleted = true;
                        }
                    }
                    Ctl::EndOfInput => {}
                }
            }
            if !deleted && !self.quiet {
                st.out.extend_from_slice(&ps);
                if st.idx < lines.len() || trailing_nl {
                    st.out.push(b'\n');
                }
            }
            let q = std::mem::take(&mut st.append_queue);
            for a in q {
                if !st.out.is_empty() && !st.out.ends_with(b"\n") {
                    st.out.push(b'\n');
                }
                st.out.extend_from_slice(&a);
            }
            if st.out.len() > crate::exec::MAX_BUF {
                break;
            }
        }
        SedOut { out: st.out, files: st.files, code: st.quit.unwrap_or(0) }
    }

    fn matches(&self, a: &Addr, ps: &[u8], st: &State) -> bool {
        match a {
            Addr::Line(n) => st.lineno == *n,
            Addr::Last => st.idx >= st.lines.len(),
            Addr::Re(r) => r.is_match(ps),
            Addr::Step(f, s) => {
                if *s == 0 {
                    st.lineno == *f
                } else {
                    st.lineno >= *f && (st.lineno - *f) % *s == 0
                }
            }
        }
    }

    fn selected(&self, inst: &Inst, id: usize, ps: &[u8], st: &mut State) -> bool {
        let r = match (&inst.a1, &inst.a2) {
            (None, _) => true,
            (Some(a), None) => self.matches(a, ps, st),
            (Some(a1), Some(a2)) => {
                if let Some(end) = st.ranges[id] {
                    // in range: check end
                    let done = match a2 {
                        Addr::Line(n) => st.lineno >= *n,
                        Addr::Step(usize::MAX, _) => st.lineno >= end,
                        _ => self.matches(a2, ps, st),
                    };
                    if done {
                        st.ranges[id] = None;
                    }
                    true
                } else if self.matches(a1, ps, st) {
                    let (active, end) = match a2 {
                        Addr::Line(n) => (*n > st.lineno, 0),
                        Addr::Step(usize::MAX, k) => (*k > 0, st.lineno + *k),
                        Addr::Last => (st.idx < st.lines.len(), 0),
                        _ => (true, 0),
                    };
                    if active {
                        st.ranges[id] = Some(end);
                    }
                    true
                } else {
                    false
                }
            }
        };
        r != inst.neg
    }

    fn exec(
        &self,
        prog: &[Inst],
        ps: &mut Vec<u8>,
        st: &mut State,
        counter: &mut usize,
        rf: &dyn Fn(&str) -> Vec<u8>,
    ) -> Ctl {
        let mut pc = 0;
        while pc < prog.len() {
            let inst = &prog[pc];
            let id = *counter;
            *counter += count_insts(std::slice::from_ref(inst));
            pc += 1;
            if !self.selected(inst, id, ps, st) {
                continue;
            }
            match &inst.cmd {
                Cmd::Subst { re, rep, global, nth, print, write } => {
                    let Some(re) = re.as_ref().or(self.last_re.as_ref()) else { continue };
                    let mut out = Vec::new();
                    let mut last = 0;
                    let mut n = 0;
                    let mut did = false;
                    for caps in re.captures_iter(ps) {
                        let Some(m) = caps.get(0) else { continue };
                        n += 1;
                        if n < *nth {
                            continue;
                        }
                        out.extend_from_slice(&ps[last..m.start()]);
                        out.extend_from_slice(&expand_rep(rep, &caps));
                        last = m.end();
                        did = true;
                        if !*global {
                            break;
                        }
                    }
                    if did {
                        out.extend_from_slice(&ps[last..]);
                        *ps = out;
                        st.tflag = true;
                        if *print {
                            st.out.extend_from_slice(ps);
                            st.out.push(b'\n');
                        }
                        if let Some(w) = write {
                            let mut l = ps.clone();
                            l.push(b'\n');
                            st.write(w, l);
                        }
                    }
                }
                Cmd::Delete => return Ctl::Delete,
                Cmd::DeleteFirst => {
                    if let Some(i) = ps.iter().position(|&b| b == b'\n') {
                        ps.drain(..=i);
                        return Ctl::Restart;
                    }
                    return Ctl::Delete;
                }
                Cmd::Print => {
                    st.out.extend_from_slice(ps);
                    st.out.push(b'\n');
                }
                Cmd::PrintFirst => {
                    let end = ps.iter().position(|&b| b == b'\n').unwrap_or(ps.len());
                    st.out.extend_from_slice(&ps[..end]);
                    st.out.push(b'\n');
                }
                Cmd::Quit(c) => {
                    st.quit = Some(*c);
                    return Ctl::Quit(false);
                }
                Cmd::QuitSilent(c) => {
                    st.quit = Some(*c);
                    return Ctl::Quit(true);
                }
                Cmd::Append(t) => st.append_queue.push(format!("{t}\n").into_bytes()),
                Cmd::Insert(t) => {
                    st.out.extend_from_slice(t.as_bytes());
                    st.out.push(b'\n');
                }
                Cmd::Change(t) => {
                    // with a range, print at the end of the range only
                    if inst.a2.is_none() || st.ranges[id].is_none() {
                        st.out.extend_from_slice(t.as_bytes());
                        st.out.push(b'\n');
                    }
                    return Ctl::Delete;
                }
                Cmd::Translit(a, b) => {
                    let s = String::from_utf8_lossy(ps).into_owned();
                    let t: String =
                        s.chars().map(|c| a.iter().position(|x| *x == c).map(|i| b[i]).unwrap_or(c)).collect();
                    *ps = t.into_bytes();
                }
                Cmd::LineNo => st.out.extend_from_slice(format!("{}\n", st.lineno).as_bytes()),
                Cmd::Next => {
                    if st.idx >= st.lines.len() {
                        return Ctl::EndOfInput;
                    }
                    if !self.quiet {
                        st.out.extend_from_slice(ps);
                        st.out.push(b'\n');
                    }
                    *ps = st.lines[st.idx].to_vec();
                    st.idx += 1;
                    st.lineno += 1;
                }
                Cmd::NextAppend => {
                    if st.idx >= st.lines.len() {
                        return Ctl::EndOfInput;
                    }
                    ps.push(b'\n');
                    ps.extend_from_slice(st.lines[st.idx]);
                    st.idx += 1;
                    st.lineno += 1;
                }
                Cmd::Hold => st.hold = ps.clone(),
                Cmd::HoldAppend => {
                    st.hold.push(b'\n');
                    st.hold.extend_from_slice(ps);
                }
                Cmd::Get => *ps = st.hold.clone(),
                Cmd::GetAppend => {
                    ps.push(b'\n');
                    ps.extend_from_slice(&st.hold.clone());
                }
                Cmd::Exchange => std::mem::swap(ps, &mut st.hold),
                Cmd::List => {
                    let mut s = String::new();
                    for &b in ps.iter() {
                        match b {
                            b'\\' => s.push_str("\\\\"),
                            b'\t' => s.push_str("\\t"),
                            b'\n' => s.push_str("\\n"),
                            0x20..=0x7e => s.push(b as char),
                            _ => s.push_str(&format!("\\{b:03o}")),
                        }
                    }
                    s.push_str("$\n");
                    st.out.extend_from_slice(s.as_bytes());
                }
                Cmd::Write(f) => {
                    let mut l = ps.clone();
                    l.push(b'\n');
                    st.write(f, l);
                }
                Cmd::ReadFile(f) => {
                    let d = rf(f);
                    if !d.is_empty() {
                        st.append_queue.push(d);
                    }
                }
                Cmd::Block(b) => {
                    let mut c2 = id + 1;
                    match self.exec(b, ps, st, &mut c2, rf) {
                        Ctl::Go => {}
                        other => return other,
                    }
                }
                Cmd::Label(_) => {}
                Cmd::Branch(l) | Cmd::BranchIfSub(l) | Cmd::BranchIfNotSub(l) => {
                    let take = match &inst.cmd {
                        Cmd::Branch(_) => true,
                        Cmd::BranchIfSub(_) => std::mem::take(&mut st.tflag),
                        _ => !std::mem::take(&mut st.tflag),
                    };
                    if !take {
                        continue;
                    }
                    st.steps += 1;
                    if st.steps > 10_000_000 {
                        return Ctl::Quit(false);
                    }
                    match l {
                        None => return Ctl::Go,
                        Some(l) => {
                            // only labels at this nesting level (and top level) are supported
                            match prog.iter().position(|i| matches!(&i.cmd, Cmd::Label(x) if x == l)) {
                                Some(p) => {
                                    // recompute counter for the new pc
                                    *counter = id - count_insts(&prog[..pc - 1]) + count_insts(&prog[..p]);
                                    pc = p;
                                }
                                None => return Ctl::Go,
                            }
                        }
                    }
                }
            }
        }
        Ctl::Go
    }
}

fn count_insts(p: &[Inst]) -> usize {
    p.iter()
        .map(|i| match &i.cmd {
            Cmd::Block(b) => 1 + count_insts(b),
            _ => 1,
        })
        .sum()
}

enum Ctl {
    Go,
    Delete,
    Restart,
    Quit(bool),
    EndOfInput,
}

struct State<'a> {
    out: Vec<u8>,
    files: Vec<(String, Vec<u8>)>,
    hold: Vec<u8>,
    ranges: Vec<Option<usize>>,
    quit: Option<i32>,
    lines: &'a [&'a [u8]],
    idx: usize,
    lineno: usize,
    append_queue: Vec<Vec<u8>>,
    tflag: bool,
    steps: u64,
}

impl State<'_> {
    fn write(&mut self, f: &str, data: Vec<u8>) {
        if f == "/dev/stdout" {
            self.out.extend_from_slice(&data);
            return;
        }
        match self.files.iter_mut().find(|(n, _)| n == f) {
            Some((_, d)) => d.extend_from_slice(&data),
            None => self.files.push((f.to_string(), data)),
        }
    }
}
