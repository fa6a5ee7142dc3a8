//! Lexer and parser for the shell language: words with quoting and expansions, pipelines, lists,
//! redirections (incl. here-documents), `if`/`for`/`while`/`until`/`case`, groups, subshells and functions.

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Unquoted literal text (subject to globbing).
    Lit(String),
    /// Quoted literal text.
    Quoted(String),
    /// `~` at the start of a word.
    Tilde,
    /// `$name`, `${name}`, `${name:-x}`, ...
    Param { name: String, op: Option<(String, String)> },
    /// `$(...)` or backticks: source text.
    Cmd(String),
    /// `$((...))`: expression text.
    Arith(String),
    /// `"..."`
    Dq(Vec<Part>),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Word(pub Vec<Part>);

impl Word {
    pub fn lit(s: &str) -> Word {
        Word(vec![Part::Lit(s.to_string())])
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum RedirOp {
    Out,
    Append,
    In,
    /// `N>&M` / `N<&M`
    Dup,
    /// `&>`
    OutErr,
    /// `&>>`
    AppendErr,
    HereDoc {
        body: String,
        expand: bool,
    },
    HereStr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Redir {
    pub fd: u32,
    pub op: RedirOp,
    pub target: Word,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Simple { assigns: Vec<(String, Word)>, words: Vec<Word>, redirs: Vec<Redir> },
    Compound { body: Compound, redirs: Vec<Redir> },
    FuncDef { name: String, body: std::sync::Arc<Command> },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Compound {
    Group(List),
    Subshell(List),
    If { branches: Vec<(List, List)>, otherwise: Option<List> },
    For { var: String, items: Option<Vec<Word>>, body: List },
    While { cond: List, body: List, until: bool },
    Case { word: Word, arms: Vec<(Vec<Word>, List)> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub negate: bool,
    pub cmds: Vec<Command>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AndOr {
    pub first: Pipeline,
    /// (is_and, pipeline)
    pub rest: Vec<(bool, Pipeline)>,
}

pub type List = Vec<AndOr>;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word { word: Word, raw: String, plain: bool },
    Op(&'static str),
    Redir { fd: Option<u32>, op: &'static str, heredoc: Option<usize> },
    Newline,
    Eof,
}

pub struct ParseError(pub String);

const OPS: [&str; 14] = ["&&", "||", ";;", "<<<", "<<-", "<<", ">>", "&>>", "&>", ">&", "<&", ">|", "<>", "|&"];

struct Lexer<'a> {
    s: &'a [char],
    i: usize,
    toks: Vec<Tok>,
    /// (delimiter, strip_tabs, quoted, token index)
    pending: Vec<(String, bool, bool, usize)>,
    heredocs: Vec<(String, bool)>,
}

fn is_meta(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')')
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_name_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

pub fn is_name(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if is_name_start(c)) && cs.all(is_name_char)
}

impl<'a> Lexer<'a> {
    fn peek(&self, k: usize) -> Option<char> {
        self.s.get(self.i + k).copied()
    }

    fn err_eof(&self, what: &str) -> ParseError {
        ParseError(format!("unexpected EOF while looking for matching `{what}'"))
    }

    fn run(mut self) -> Result<(Vec<Tok>, Vec<(String, bool)>), ParseError> {
        loop {
            let Some(c) = self.peek(0) else { break };
            match c {
                ' ' | '\t' | '\r' => self.i += 1,
                '\\' if self.peek(1) == Some('\n') => self.i += 2,
                '#' => {
                    while let Some(c) = self.peek(0) {
                        if c == '\n' {
                            break;
                        }
                        self.i += 1;
                    }
                }
                '\n' => {
                    self.i += 1;
                    self.toks.push(Tok::Newline);
                    self.read_heredocs()?;
                }
                _ => {
                    // fd number before a redirection
                    let mut j = self.i;
                    while j < self.s.len() && self.s[j].is_ascii_digit() {
                        j += 1;
                    }
                    if j > self.i && j - self.i < 4 && matches!(self.s.get(j), Some('<' | '>')) {
                        let fd: u32 = self.s[self.i..j].iter().collect::<String>().parse().unwrap_or(1);
                        self.i = j;
                        self.op(Some(fd))?;
                        continue;
                    }
                    if is_meta(c) {
                        self.op(None)?;
                    } else {
                        let start = self.i;
                        let (word, plain) = self.word(false)?;
                        let raw: String = self.s[start..self.i].iter().collect();
                        self.toks.push(Tok::Word { word, raw, plain });
                    }
                }
            }
        }
        if !self.pending.is_empty() {
            // here-document at end of input without trailing newline: body is empty
            self.read_heredocs()?;
        }
        self.toks.push(Tok::Eof);
        Ok((self.toks, self.heredocs))
    }

    fn op(&mut self, fd: Option<u32>) -> Result<(), ParseError> {
        for op in OPS {
            let n = op.chars().count();
            if self.s.len() >= self.i + n && self.s[self.i..self.i + n].iter().copied().eq(op.chars()) {
                self.i += n;
                return self.push_op(op, fd);
            }
        }
        let c = self.s[self.i];
        self.i += 1;
        let op = match c {
            ';' => ";",
            '&' => "&",
            '|' => "|",
            '<' => "<",
            '>' => ">",
            '(' => "(",
            ')' => ")",
            _ => return Err(ParseError(format!("syntax error near unexpected token `{c}'"))),
        };
        self.push_op(op, fd)
    }

    fn push_op(&mut self, op: &'static str, fd: Option<u32>) -> Result<(), ParseError> {
        match op {
            "<" | ">" | ">>" | "&>" | "&>>" | ">&" | "<&" | ">|" | "<>" | "<<<" => {
                let op = match op {
                    ">|" => ">",
                    "<>" => "<",
                    o => o,
                };
                self.toks.push(Tok::Redir { fd, op, heredoc: None });
            }
            "<<" | "<<-" => {
                // read the delimiter word now
                while matches!(self.peek(0), Some(' ' | '\t')) {
                    self.i += 1;
                }
                let start = self.i;
                if self.peek(0).is_none_or(is_meta) {
                    return Err(ParseError("syntax error near unexpected token `newline'".into()));
                }
                let (_w, _plain) = self.word(false)?;
                let raw: String = self.s[start..self.i].iter().collect();
                let quoted = raw.contains(['\'', '"', '\\']);
                let delim: String = raw.chars().filter(|c| !matches!(c, '\'' | '"' | '\\')).collect();
                let idx = self.heredocs.len();
                self.heredocs.push((String::new(), !quoted));
                self.pending.push((delim, op == "<<-", quoted, idx));
                self.toks.push(Tok::Redir { fd, op: "<<", heredoc: Some(idx) });
            }
            "|&" => {
                // cmd |& cmd  ==  cmd 2>&1 | cmd
                self.toks.push(Tok::Redir { fd: Some(2), op: ">&", heredoc: None });
                self.toks.push(Tok::Word { word: Word::lit("1"), raw: "1".into(), plain: true });
                self.toks.push(Tok::Op("|"));
            }
            _ => {
                if fd.is_some() {
                    return Err(ParseError(format!("syntax error near unexpected token `{op}'")));
                }
                self.toks.push(Tok::Op(op));
            }
        }
        Ok(())
    }

    fn read_heredocs(&mut self) -> Result<(), ParseError> {
        let pending = std::mem::take(&mut self.pending);
        for (delim, strip, _quoted, idx) in pending {
            let mut body = String::new();
            loop {
                if self.i >= self.s.len() {
                    break; // bash warns; we accept
                }
                let mut line = String::new();
                while let Some(c) = self.peek(0) {
                    self.i += 1;
                    if c == '\n' {
                        break;
                    }
                    line.push(c);
                }
                let l = if strip { line.trim_start_matches('\t') } else { &line[..] };
                if l == delim || l.trim_end_matches('\r') == delim {
                    break;
                }
                body.push_str(l);
                body.push('\n');
            }
            self.heredocs[idx].0 = body;
        }
        Ok(())
    }

    /// Read a word. Returns the word and whether it is plain (no quoting or expansions at all).
    fn word(&mut self, in_brace: bool) -> Result<(Word, bool), ParseError> {
        let mut parts: Vec<Part> = Vec::new();
        let mut lit = String::new();
        let mut plain = true;
        let first = self.i;
        while let Some(c) = self.peek(0) {
            if in_brace {
                if c == '}' {
                    break;
                }
            } else if is_meta(c) {
                break;
            }
            match c {
                '\\' => {
                    plain = false;
                    match self.peek(1) {
                        Some('\n') => self.i += 2,
                        Some(n) => {
                            flush(&mut lit, &mut parts);
                            parts.push(Part::Quoted(n.to_string()));
                            self.i += 2;
                        }
                        None => {
                            lit.push('\\');
                            self.i += 1;
                        }
                    }
                }
                '\'' => {
                    plain = false;
                    flush(&mut lit, &mut parts);
                    self.i += 1;
                    let mut q = String::new();
                    loop {
                        match self.peek(0) {
                            None => return Err(self.err_eof("'")),
                            Some('\'') => {
                                self.i += 1;
                                break;
                            }
                            Some(c) => {
                                q.push(c);
                                self.i += 1;
                            }
                        }
                    }
                    parts.push(Part::Quoted(q));
                }
                '"' => {
                    plain = false;
                    flush(&mut lit, &mut parts);
                    self.i += 1;
                    let inner = self.dquoted()?;
                    parts.push(Part::Dq(inner));
                }
                '$' => {
                    if let Some(p) = self.dollar()? {
                        plain = false;
                        flush(&mut lit, &mut parts);
                        parts.push(p);
                    } else {
                        lit.push('$');
                        self.i += 1;
                    }
                }
                '`' => {
                    plain = false;
                    flush(&mut lit, &mut parts);
                    let src = self.backtick()?;
                    parts.push(Part::Cmd(src));
                }
                '~' if self.i == first && !in_brace => {
                    self.i += 1;
                    if self.peek(0).is_none_or(|c| c == '/' || is_meta(c)) {
                        plain = false;
                        parts.push(Part::Tilde);
                    } else {
                        lit.push('~');
                    }
                }
                _ => {
                    lit.push(c);
                    self.i += 1;
                }
            }
        }
        flush(&mut lit, &mut parts);
        Ok((Word(parts), plain))
    }

    fn dquoted(&mut self) -> Result<Vec<Part>, ParseError> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        loop {
            let Some(c) = self.peek(0) else { return Err(self.err_eof("\"")) };
            match c {
                '"' => {
                    self.i += 1;
                    break;
                }
                '\\' => match self.peek(1) {
                    Some(n @ ('$' | '`' | '"' | '\\')) => {
                        lit.push(n);
                        self.i += 2;
                    }
                    Some('\n') => self.i += 2,
                    _ => {
                        lit.push('\\');
                        self.i += 1;
                    }
                },
                '$' => {
                    if let Some(p) = self.dollar()? {
                        flush(&mut lit, &mut parts);
                        parts.push(p);
                    } else {
                        lit.push('$');
                        self.i += 1;
                    }
                }
                '`' => {
                    flush(&mut lit, &mut parts);
                    let src = self.backtick()?;
                    parts.push(Part::Cmd(src));
                }
                _ => {
                    lit.push(c);
                    self.i += 1;
                }
            }
        }
        flush(&mut lit, &mut parts);
        Ok(parts)
    }

    fn backtick(&mut self) -> Result<String, ParseError> {
        self.i += 1;
        let mut src = String::new();
        loop {
            match self.peek(0) {
                None => return Err(self.err_eof("`")),
                Some('`') => {
                    self.i += 1;
                    return Ok(src);
                }
                Some('\\') if matches!(self.peek(1), Some('`' | '\\' | '$')) => {
                    src.push(self.s[self.i + 1]);
                    self.i += 2;
                }
                Some(c) => {
                    src.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// Scan from just after an opening paren to its matching `)`; returns the inner text.
    fn balanced(&mut self, open: char, close: char) -> Result<String, ParseError> {
        let start = self.i;
        let mut depth = 1usize;
        while let Some(c) = self.peek(0) {
            match c {
                '\\' => {
                    self.i += 2;
                    continue;
                }
                '\'' => {
                    self.i += 1;
                    while let Some(c) = self.peek(0) {
                        self.i += 1;
                        if c == '\'' {
                            break;
                        }
                    }
                    continue;
                }
                '"' => {
                    self.i += 1;
                    while let Some(c) = self.peek(0) {
                        if c == '\\' {
                            self.i += 2;
                            continue;
                        }
                        self.i += 1;
                        if c == '"' {
                            break;
                        }
                    }
                    continue;
                }
                c if c == open => depth += 1,
                c if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        let inner: String = self.s[start..self.i].iter().collect();
                        self.i += 1;
                        return Ok(inner);
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
        Err(self.err_eof(&close.to_string()))
    }

    /// At a `$`: parse an expansion, or None when the `$` is literal.
    fn dollar(&mut self) -> Result<Option<Part>, ParseError> {
        let n = self.peek(1);
        match n {
            Some('(') if self.peek(2) == Some('(') => {
                let save = self.i;
                self.i += 3;
                let inner = self.balanced('(', ')')?;
                if self.peek(0) == Some(')') {
                    self.i += 1;
                    return Ok(Some(Part::Arith(inner)));
                }
                // not arithmetic after all: `$( (a) )`
                self.i = save + 2;
                let inner = self.balanced('(', ')')?;
                Ok(Some(Part::Cmd(inner)))
            }
            Some('(') => {
                self.i += 2;
                let inner = self.balanced('(', ')')?;
                Ok(Some(Part::Cmd(inner)))
            }
            Some('{') => {
                self.i += 2;
                let inner = self.balanced('{', '}')?;
                Ok(Some(parse_brace_param(&inner)?))
            }
            Some(c) if is_name_start(c) => {
                self.i += 1;
                let mut name = String::new();
                while let Some(c) = self.peek(0) {
                    if !is_name_char(c) {
                        break;
                    }
                    name.push(c);
                    self.i += 1;
                }
                Ok(Some(Part::Param { name, op: None }))
            }
            Some(c) if c.is_ascii_digit() || matches!(c, '?' | '#' | '@' | '*' | '$' | '!' | '-') => {
                self.i += 2;
                Ok(Some(Part::Param { name: c.to_string(), op: None }))
            }
            _ => Ok(None),
        }
    }
}

fn parse_brace_param(inner: &str) -> Result<Part, ParseError> {
    let bad = || ParseError(format!("${{{inner}}}: bad substitution"));
    if let Some(rest) = inner.strip_prefix('#')
        && !rest.is_empty()
        && (is_name(rest) || rest.chars().all(|c| c.is_ascii_digit()) || rest == "@" || rest == "*")
    {
        return Ok(Part::Param { name: rest.to_string(), op: Some(("len".into(), String::new())) });
    }
    let chars: Vec<char> = inner.chars().collect();
    let mut i = 0;
    if chars.first().is_some_and(|c| matches!(c, '?' | '#' | '@' | '*' | '$' | '!' | '-')) {
        i = 1;
    } else {
        while i < chars.len() && (is_name_char(chars[i])) {
            i += 1;
        }
    }
    if i == 0 {
        return Err(bad());
    }
    let name: String = chars[..i].iter().collect();
    let rest: String = chars[i..].iter().collect();
    if rest.is_empty() {
        return Ok(Part::Param { name, op: None });
    }
    for op in
        [":-", ":=", ":+", ":?", "##", "%%", "//", "/#", "/%", "-", "=", "+", "?", "#", "%", "/", "^^", ",,", "^", ","]
    {
        if let Some(arg) = rest.strip_prefix(op) {
            return Ok(Part::Param { name, op: Some((op.to_string(), arg.to_string())) });
        }
    }
    if let Some(arg) = rest.strip_prefix(':') {
        return Ok(Part::Param { name, op: Some((":".into(), arg.to_string())) });
    }
    Err(bad())
}

fn flush(lit: &mut String, parts: &mut Vec<Part>) {
    if !lit.is_empty() {
        parts.push(Part::Lit(std::mem::take(lit)));
    }
}

/// Lex a string as the inside of one word (spaces are literal), e.g. the argument of `${x:-...}` or a here-doc.
pub fn word_from_str(s: &str, dquote_mode: bool) -> Word {
    let chars: Vec<char> = s.chars().collect();
    let mut lx = Lexer { s: &chars, i: 0, toks: vec![], pending: vec![], heredocs: vec![] };
    if dquote_mode {
        // here-doc body: like double quotes but `"` is literal
        let mut parts = Vec::new();
        let mut lit = String::new();
        while let Some(c) = lx.peek(0) {
            match c {
                '\\' if matches!(lx.peek(1), Some('$' | '`' | '\\')) => {
                    lit.push(chars[lx.i + 1]);
                    lx.i += 2;
                }
                '\\' if lx.peek(1) == Some('\n') => lx.i += 2,
                '$' => match lx.dollar() {
                    Ok(Some(p)) => {
                        flush(&mut lit, &mut parts);
                        parts.push(p);
                    }
                    _ => {
                        lit.push('$');
                        lx.i += 1;
                    }
                },
                '`' => match lx.backtick() {
                    Ok(src) => {
                        flush(&mut lit, &mut parts);
                        parts.push(Part::Cmd(src));
                    }
                    Err(_) => {
                        lit.push('`');
                    }
                },
                _ => {
                    lit.push(c);
                    lx.i += 1;
                }
            }
        }
        flush(&mut lit, &mut parts);
        return Word(vec![Part::Dq(parts)]);
    }
    let mut parts = Vec::new();
    while lx.i < chars.len() {
        match lx.word(true) {
            Ok((w, _)) => parts.extend(w.0),
            Err(_) => {
                parts.push(Part::Lit(chars[lx.i..].iter().collect()));
                break;
            }
        }
        if lx.i < chars.len() {
            // a stray '}' inside: keep literally
            parts.push(Part::Lit(chars[lx.i].to_string()));
            lx.i += 1;
        }
    }
    Word(parts)
}

struct Parser {
    toks: Vec<Tok>,
    i: usize,
    heredocs: Vec<(String, bool)>,
}

const RESERVED_END: [&str; 8] = ["then", "fi", "do", "done", "else", "elif", "esac", "}"];

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn unexpected(&self) -> ParseError {
        match self.peek() {
            Tok::Eof => ParseError("syntax error: unexpected end of file".into()),
            Tok::Newline => ParseError("syntax error near unexpected token `newline'".into()),
            Tok::Op(o) => ParseError(format!("syntax error near unexpected token `{o}'")),
            Tok::Redir { op, .. } => ParseError(format!("syntax error near unexpected token `{op}'")),
            Tok::Word { raw, .. } => ParseError(format!("syntax error near unexpected token `{raw}'")),
        }
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Word { raw, plain: true, .. } if raw == w)
    }

    fn expect_word(&mut self, w: &str) -> Result<(), ParseError> {
        if self.is_word(w) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn skip_newlines(&mut self) {
        while matches!(self.peek(), Tok::Newline) {
            self.i += 1;
        }
    }

    fn at_list_end(&self) -> bool {
        match self.peek() {
            Tok::Eof => true,
            Tok::Op(")") | Tok::Op(";;") => true,
            Tok::Word { raw, plain: true, .. } => RESERVED_END.contains(&raw.as_str()),
            _ => false,
        }
    }

    fn list(&mut self) -> Result<List, ParseError> {
        let mut list = Vec::new();
        loop {
            while matches!(self.peek(), Tok::Newline) {
                self.i += 1;
            }
            if self.at_list_end() {
                break;
            }
            list.push(self.and_or()?);
            match self.peek() {
                Tok::Op(";") | Tok::Op("&") | Tok::Newline => {
                    self.i += 1;
                }
                _ => {
                    if !self.at_list_end() {
                        return Err(self.unexpected());
                    }
                    break;
                }
            }
        }
        Ok(list)
    }

    fn and_or(&mut self) -> Result<AndOr, ParseError> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        loop {
            let is_and = match self.peek() {
                Tok::Op("&&") => true,
                Tok::Op("||") => false,
                _ => break,
            };
            self.i += 1;
            self.skip_newlines();
            rest.push((is_and, self.pipeline()?));
        }
        Ok(AndOr { first, rest })
    }

    fn pipeline(&mut self) -> Result<Pipeline, ParseError> {
        let mut negate = false;
        while self.is_word("!") {
            negate = !negate;
            self.i += 1;
        }
        let mut cmds = vec![self.command()?];
        while matches!(self.peek(), Tok::Op("|")) {
            self.i += 1;
            self.skip_newlines();
            cmds.push(self.command()?);
        }
        Ok(Pipeline { negate, cmds })
    }

    fn redirs(&mut self, redirs: &mut Vec<Redir>) -> Result<bool, ParseError> {
        let Tok::Redir { fd, op, heredoc } = self.peek().clone() else { return Ok(false) };
        self.i += 1;
        let (dfd, rop) = match op {
            ">" => (1, RedirOp::Out),
            ">>" => (1, RedirOp::Append),
            "<" => (0, RedirOp::In),
            ">&" => (1, RedirOp::Dup),
            "<&" => (0, RedirOp::Dup),
            "&>" => (1, RedirOp::OutErr),
            "&>>" => (1, RedirOp::AppendErr),
            "<<<" => (0, RedirOp::HereStr),
            "<<" => {
                let (body, expand) = heredoc.and_then(|i| self.heredocs.get(i).cloned()).unwrap_or_default();
                redirs.push(Redir {
                    fd: fd.unwrap_or(0),
                    op: RedirOp::HereDoc { body, expand },
                    target: Word::default(),
                });
                return Ok(true);
            }
            _ => return Err(self.unexpected()),
        };
        match self.next() {
            Tok::Word { word, .. } => {
                // `>&file` (no fd digits) means `&>file`
                let rop = if rop == RedirOp::Dup && fd.is_none() && op == ">&" && !is_fd_word(&word) {
                    RedirOp::OutErr
                } else {
                    rop
                };
                redirs.push(Redir { fd: fd.unwrap_or(dfd), op: rop, target: word });
                Ok(true)
            }
            Tok::Eof => Err(ParseError("syntax error near unexpected token `newline'".into())),
            _ => {
                self.i -= 1;
                Err(self.unexpected())
            }
        }
    }

    fn command(&mut self) -> Result<Command, ParseError> {
        let (raw, plain) = match self.peek() {
            Tok::Word { raw, plain, .. } => (raw.clone(), *plain),
            Tok::Op("(") => {
                self.i += 1;
                let body = self.list()?;
                if !matches!(self.next(), Tok::Op(")")) {
                    self.i -= 1;
                    return Err(self.unexpected());
                }
                return self.compound_tail(Compound::Subshell(body));
            }
            Tok::Redir { .. } => (String::new(), false),
            _ => return Err(self.unexpected()),
        };
        if plain {
            match raw.as_str() {
                "{" => {
                    self.i += 1;
                    let body = self.list()?;
                    self.expect_word("}")?;
                    return self.compound_tail(Compound::Group(body));
                }
                "if" => {
                    self.i += 1;
                    let mut branches = Vec::new();
                    let mut otherwise = None;
                    loop {
                        let cond = self.list()?;
                        self.expect_word("then")?;
                        let body = self.list()?;
                        branches.push((cond, body));
                        if self.is_word("elif") {
                            self.i += 1;
                            continue;
                        }
                        if self.is_word("else") {
                            self.i += 1;
                            otherwise = Some(self.list()?);
                        }
                        self.expect_word("fi")?;
                        break;
                    }
                    return self.compound_tail(Compound::If { branches, otherwise });
                }
                "while" | "until" => {
                    self.i += 1;
                    let cond = self.list()?;
                    self.expect_word("do")?;
                    let body = self.list()?;
                    self.expect_word("done")?;
                    return self.compound_tail(Compound::While { cond, body, until: raw == "until" });
                }
                "for" => {
                    self.i += 1;
                    let var = match self.next() {
                        Tok::Word { raw, .. } if is_name(&raw) => raw,
                        _ => {
                            self.i -= 1;
                            return Err(self.unexpected());
                        }
                    };
                    while matches!(self.peek(), Tok::Newline) {
                        self.i += 1;
                    }
                    let mut items = None;
                    if self.is_word("in") {
                        self.i += 1;
                        let mut v = Vec::new();
                        while let Tok::Word { word, .. } = self.peek().clone() {
                            v.push(word);
                            self.i += 1;
                        }
                        items = Some(v);
                    }
                    if matches!(self.peek(), Tok::Op(";") | Tok::Newline) {
                        self.i += 1;
                    }
                    self.skip_newlines();
                    self.expect_word("do")?;
                    let body = self.list()?;
                    self.expect_word("done")?;
                    return self.compound_tail(Compound::For { var, items, body });
                }
                "case" => {
                    self.i += 1;
                    let word = match self.next() {
                        Tok::Word { word, .. } => word,
                        _ => {
                            self.i -= 1;
                            return Err(self.unexpected());
                        }
                    };
                    self.skip_newlines();
                    self.expect_word("in")?;
                    let mut arms = Vec::new();
                    loop {
                        self.skip_newlines();
                        if self.is_word("esac") {
                            self.i += 1;
                            break;
                        }
                        if matches!(self.peek(), Tok::Op("(")) {
                            self.i += 1;
                        }
                        let mut pats = Vec::new();
                        loop {
                            match self.next() {
                                Tok::Word { word, .. } => pats.push(word),
                                _ => {
                                    self.i -= 1;
                                    return Err(self.unexpected());
                                }
                            }
                            match self.next() {
                                Tok::Op("|") => continue,
                                Tok::Op(")") => break,
                                _ => {
                                    self.i -= 1;
                                    return Err(self.unexpected());
                                }
                            }
                        }
                        let body = self.list()?;
                        arms.push((pats, body));
                        if matches!(self.peek(), Tok::Op(";;")) {
                            self.i += 1;
                        } else {
                            self.skip_newlines();
                            self.expect_word("esac")?;
                            break;
                        }
                    }
                    return self.compound_tail(Compound::Case { word, arms });
                }
                "function" => {
                    self.i += 1;
                    let name = match self.next() {
                        Tok::Word { raw, .. } => raw,
                        _ => {
                            self.i -= 1;
                            return Err(self.unexpected());
                        }
                    };
                    if matches!(self.peek(), Tok::Op("(")) {
                        self.i += 1;
                        if !matches!(self.next(), Tok::Op(")")) {
                            self.i -= 1;
                            return Err(self.unexpected());
                        }
                    }
                    self.skip_newlines();
                    let body = self.command()?;
                    return Ok(Command::FuncDef { name, body: std::sync::Arc::new(body) });
                }
                w if RESERVED_END.contains(&w) || w == "in" => return Err(self.unexpected()),
                _ => {}
            }
            // function definition: name ( )
            if matches!(self.toks.get(self.i + 1), Some(Tok::Op("(")))
                && matches!(self.toks.get(self.i + 2), Some(Tok::Op(")")))
            {
                self.i += 3;
                self.skip_newlines();
                let body = self.command()?;
                return Ok(Command::FuncDef { name: raw, body: std::sync::Arc::new(body) });
            }
        }
        // simple command
        let mut assigns = Vec::new();
        let mut words = Vec::new();
        let mut redirs = Vec::new();
        loop {
            if self.redirs(&mut redirs)? {
                continue;
            }
            match self.peek().clone() {
                Tok::Word { word, .. } => {
                    self.i += 1;
                    if words.is_empty()
                        && let Some((name, value)) = split_assign(&word)
                    {
                        assigns.push((name, value));
                        continue;
                    }
                    words.push(word);
                }
                Tok::Op("(") if !words.is_empty() => return Err(self.unexpected()),
                _ => break,
            }
        }
        if assigns.is_empty() && words.is_empty() && redirs.is_empty() {
            return Err(self.unexpected());
        }
        Ok(Command::Simple { assigns, words, redirs })
    }

    fn compound_tail(&mut self, body: Compound) -> Result<Command, ParseError> {
        let mut redirs = Vec::new();
        while self.redirs(&mut redirs)? {}
        Ok(Command::Compound { body, redirs })
    }
}

fn is_fd_word(w: &Word) -> bool {
    matches!(&w.0[..], [Part::Lit(s)] if s == "-" || (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit())))
}

/// `NAME=value` at the start of a simple command.
fn split_assign(w: &Word) -> Option<(String, Word)> {
    let Some(Part::Lit(first)) = w.0.first() else { return None };
    let eq = first.find('=')?;
    let name = &first[..eq];
    let (name, append) = match name.strip_suffix('+') {
        Some(n) => (n, true),
        None => (name, false),
    };
    if !is_name(name) {
        return None;
    }
    let mut parts = Vec::new();
    let rest = &first[eq + 1..];
    if !rest.is_empty() {
        parts.push(Part::Lit(rest.to_string()));
    }
    parts.extend(w.0[1..].iter().cloned());
    let name = if append { format!("{name}+") } else { name.to_string() };
    Some((name, Word(parts)))
}

pub fn parse(src: &str) -> Result<List, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let lx = Lexer { s: &chars, i: 0, toks: vec![], pending: vec![], heredocs: vec![] };
    let (toks, heredocs) = lx.run()?;
    let mut p = Parser { toks, i: 0, heredocs };
    let list = p.list()?;
    if !matches!(p.peek(), Tok::Eof) {
        return Err(p.unexpected());
    }
    Ok(list)
}
