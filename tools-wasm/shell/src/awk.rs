//! A small but real awk: patterns, actions, fields, associative arrays, user functions, printf, getline from files,
//! output redirection, and the common builtins.

use std::collections::HashMap;

use regex::Regex;

use crate::printf::{self, Val};

// ---------------------------------------------------------------- lexer

#[derive(Debug, Clone, PartialEq)]
enum T {
    Num(f64),
    Str(String),
    Re(String),
    Name(String),
    FuncName(String),
    Builtin(String),
    Kw(&'static str),
    P(&'static str),
    Nl,
    Eof,
}

const KWS: [&str; 19] = [
    "BEGIN", "END", "function", "func", "if", "else", "while", "for", "do", "break", "continue", "next", "nextfile",
    "exit", "return", "delete", "in", "getline", "print",
];
const BUILTINS: [&str; 23] = [
    "length", "substr", "index", "split", "sub", "gsub", "match", "sprintf", "sin", "cos", "atan2", "exp", "log",
    "sqrt", "int", "rand", "srand", "tolower", "toupper", "system", "close", "fflush", "systime",
];
const PUNCT: [&str; 42] = [
    "**=", "+=", "-=", "*=", "/=", "%=", "^=", "==", "<=", ">=", "!=", "++", "--", "&&", "||", ">>", "!~", "**", "{",
    "}", "(", ")", "[", "]", ";", ",", "+", "-", "*", "/", "%", "^", "!", ">", "<", "|", "?", ":", "~", "$", "=", "\\",
];

fn lex(src: &str) -> Result<Vec<(T, usize)>, String> {
    let c: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut line = 1;
    let mut out: Vec<(T, usize)> = Vec::new();
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            out.push((T::Nl, line));
            line += 1;
            i += 1;
            continue;
        }
        if ch == ' ' || ch == '\t' || ch == '\r' {
            i += 1;
            continue;
        }
        if ch == '\\' && c.get(i + 1) == Some(&'\n') {
            i += 2;
            line += 1;
            continue;
        }
        if ch == '\\' && c.get(i + 1) == Some(&'\r') && c.get(i + 2) == Some(&'\n') {
            i += 3;
            line += 1;
            continue;
        }
        if ch == '#' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if ch.is_ascii_digit() || (ch == '.' && c.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let st = i;
            if ch == '0'
                && matches!(c.get(i + 1), Some('x' | 'X'))
                && c.get(i + 2).is_some_and(|d| d.is_ascii_hexdigit())
            {
                i += 2;
                while i < c.len() && c[i].is_ascii_hexdigit() {
                    i += 1;
                }
                let s: String = c[st + 2..i].iter().collect();
                out.push((T::Num(i64::from_str_radix(&s, 16).unwrap_or(0) as f64), line));
                continue;
            }
            while i < c.len() && (c[i].is_ascii_digit() || c[i] == '.') {
                i += 1;
            }
            if i < c.len() && (c[i] == 'e' || c[i] == 'E') {
                let save = i;
                i += 1;
                if i < c.len() && (c[i] == '+' || c[i] == '-') {
                    i += 1;
                }
                if i < c.len() && c[i].is_ascii_digit() {
                    while i < c.len() && c[i].is_ascii_digit() {
                        i += 1;
                    }
                } else {
                    i = save;
                }
            }
            let s: String = c[st..i].iter().collect();
            out.push((T::Num(to_num(&s)), line));
            continue;
        }
        if ch == '_' || ch.is_ascii_alphabetic() {
            let st = i;
            while i < c.len() && (c[i] == '_' || c[i].is_ascii_alphanumeric()) {
                i += 1;
            }
            let w: String = c[st..i].iter().collect();
            let t = if w == "printf" {
                T::Kw("printf")
            } else if let Some(k) = KWS.iter().find(|k| **k == w) {
                T::Kw(k)
            } else if BUILTINS.contains(&w.as_str()) {
                T::Builtin(w)
            } else if c.get(i) == Some(&'(') {
                T::FuncName(w)
            } else {
                T::Name(w)
            };
            out.push((t, line));
            continue;
        }
        if ch == '"' {
            i += 1;
            let mut s = String::new();
            loop {
                let Some(&x) = c.get(i) else { return Err(format!("runaway string constant at source line {line}")) };
                i += 1;
                match x {
                    '"' => break,
                    '\n' => return Err(format!("newline in string at source line {line}")),
                    '\\' => {
                        let Some(&e) = c.get(i) else { break };
                        i += 1;
                        match e {
                            'n' => s.push('\n'),
                            't' => s.push('\t'),
                            'r' => s.push('\r'),
                            '\\' => s.push('\\'),
                            '"' => s.push('"'),
                            '/' => s.push('/'),
                            'a' => s.push('\x07'),
                            'b' => s.push('\x08'),
                            'f' => s.push('\x0c'),
                            'v' => s.push('\x0b'),
                            '\n' => line += 1,
                            d if d.is_digit(8) => {
                                let mut v = d.to_digit(8).unwrap_or(0);
                                let mut n = 1;
                                while n < 3 && c.get(i).is_some_and(|x| x.is_digit(8)) {
                                    v = v * 8 + c[i].to_digit(8).unwrap_or(0);
                                    i += 1;
                                    n += 1;
                                }
                                s.push(char::from_u32(v).unwrap_or('?'));
                            }
                            other => {
                                // keep unknown escapes (so "\." works as a dynamic regex)
                                s.push('\\');
                                s.push(other);
                            }
                        }
                    }
                    x => s.push(x),
                }
            }
            out.push((T::Str(s), line));
            continue;
        }
        if ch == '/' && regex_allowed(out.last().map(|t| &t.0)) {
            i += 1;
            let mut s = String::new();
            let mut in_br = false;
            loop {
                let Some(&x) = c.get(i) else { return Err(format!("unterminated regexp at source line {line}")) };
                i += 1;
                if x == '\n' {
                    return Err(format!("newline in regex at source line {line}"));
                }
                if x == '\\' {
                    if let Some(&n) = c.get(i) {
                        i += 1;
                        if n == '/' {
                            s.push('/');
                        } else {
                            s.push('\\');
                            s.push(n);
                        }
                    }
                    continue;
                }
                if x == '[' && !in_br {
                    in_br = true;
                    s.push(x);
                    if c.get(i) == Some(&'^') {
                        s.push('^');
                        i += 1;
                    }
                    if c.get(i) == Some(&']') {
                        s.push(']');
                        i += 1;
                    }
                    continue;
                }
                if x == ']' && in_br {
                    in_br = false;
                }
                if x == '/' && !in_br {
                    break;
                }
                s.push(x);
            }
            out.push((T::Re(s), line));
            continue;
        }
        let rest: String = c[i..(i + 3).min(c.len())].iter().collect();
        match PUNCT.iter().find(|p| rest.starts_with(**p)) {
            Some(p) => {
                let p: &'static str = if *p == "**" {
                    "^"
                } else if *p == "**=" {
                    "^="
                } else {
                    p
                };
                i += if p == "^" && rest.starts_with("**") {
                    2
                } else if p == "^=" && rest.starts_with("**=") {
                    3
                } else {
                    p.len()
                };
                out.push((T::P(p), line));
            }
            None => return Err(format!("syntax error at source line {line}: unexpected character '{ch}'")),
        }
    }
    out.push((T::Eof, line));
    Ok(out)
}

fn regex_allowed(prev: Option<&T>) -> bool {
    !matches!(
        prev,
        Some(T::Num(_))
            | Some(T::Str(_))
            | Some(T::Name(_))
            | Some(T::Builtin(_))
            | Some(T::P(")"))
            | Some(T::P("]"))
            | Some(T::P("$"))
            | Some(T::P("++"))
            | Some(T::P("--"))
    )
}

// ---------------------------------------------------------------- AST

#[derive(Debug, Clone)]
enum E {
    Num(f64),
    Str(String),
    Re(String),
    Var(String),
    Field(Box<E>),
    Index(String, Vec<E>),
    Assign(Option<&'static str>, Box<E>, Box<E>),
    Cond(Box<E>, Box<E>, Box<E>),
    And(Box<E>, Box<E>),
    Or(Box<E>, Box<E>),
    Not(Box<E>),
    Bin(&'static str, Box<E>, Box<E>),
    Cmp(&'static str, Box<E>, Box<E>),
    Match(bool, Box<E>, Box<E>),
    Concat(Box<E>, Box<E>),
    Neg(Box<E>),
    Plus(Box<E>),
    Incr(bool, f64, Box<E>),
    In(Vec<E>, String),
    Call(String, Vec<E>),
    Builtin(String, Vec<E>),
    Getline { var: Option<Box<E>>, file: Option<Box<E>>, cmd: Option<Box<E>> },
    Group(Vec<E>),
}

#[derive(Debug, Clone)]
enum Redir {
    File(E),
    Append(E),
    Pipe(E),
}

#[derive(Debug, Clone)]
enum S {
    Expr(E),
    Print(Vec<E>, Option<Redir>),
    Printf(Vec<E>, Option<Redir>),
    If(E, Box<S>, Option<Box<S>>),
    While(E, Box<S>),
    Do(Box<S>, E),
    For(Option<Box<S>>, Option<E>, Option<Box<S>>, Box<S>),
    ForIn(String, String, Box<S>),
    Block(Vec<S>),
    Next,
    NextFile,
    Exit(Option<E>),
    Return(Option<E>),
    Break,
    Continue,
    Delete(String, Option<Vec<E>>),
}

#[derive(Debug, Clone)]
enum Pat {
    Begin,
    End,
    All,
    Expr(E),
    Range(E, E, usize),
}

struct Func {
    params: Vec<String>,
    body: Vec<S>,
}

struct Parser {
    t: Vec<(T, usize)>,
    i: usize,
    no_gt: bool,
    no_in: bool,
    ranges: usize,
}

impl Parser {
    fn peek(&self) -> &T {
        &self.t[self.i.min(self.t.len() - 1)].0
    }
    fn peek2(&self) -> &T {
        &self.t[(self.i + 1).min(self.t.len() - 1)].0
    }
    fn line(&self) -> usize {
        self.t[self.i.min(self.t.len() - 1)].1
    }
    fn next(&mut self) -> T {
        let t = self.peek().clone();
        self.i += 1;
        t
    }
    fn err<X>(&self) -> Result<X, String> {
        let near = match self.peek() {
            T::Eof => "end of file".to_string(),
            T::Nl => "newline".to_string(),
            T::Num(n) => fmt_num(*n, "%.6g"),
            T::Str(s) => format!("\"{s}\""),
            T::Re(r) => format!("/{r}/"),
            T::Name(n) | T::FuncName(n) | T::Builtin(n) => n.clone(),
            T::Kw(k) => k.to_string(),
            T::P(p) => p.to_string(),
        };
        Err(format!("syntax error at source line {} near '{near}'", self.line()))
    }
    fn is(&self, p: &str) -> bool {
        matches!(self.peek(), T::P(x) if *x == p)
    }
    fn eat(&mut self, p: &str) -> bool {
        if self.is(p) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, p: &str) -> Result<(), String> {
        if self.eat(p) { Ok(()) } else { self.err() }
    }
    fn nls(&mut self) {
        while matches!(self.peek(), T::Nl) {
            self.i += 1;
        }
    }
    fn terms(&mut self) {
        while matches!(self.peek(), T::Nl) || self.is(";") {
            self.i += 1;
        }
    }

    fn program(&mut self) -> Result<(Vec<(Pat, Option<Vec<S>>)>, HashMap<String, Func>), String> {
        let mut items = Vec::new();
        let mut funcs = HashMap::new();
        loop {
            self.terms();
            match self.peek().clone() {
                T::Eof => break,
                T::Kw("BEGIN") => {
                    self.i += 1;
                    self.nls();
                    items.push((Pat::Begin, Some(self.block()?)));
                }
                T::Kw("END") => {
                    self.i += 1;
                    self.nls();
                    items.push((Pat::End, Some(self.block()?)));
                }
                T::Kw("function") | T::Kw("func") => {
                    self.i += 1;
                    let name = match self.next() {
                        T::Name(n) | T::FuncName(n) => n,
                        _ => return self.err(),
                    };
                    self.expect("(")?;
                    let mut params = Vec::new();
                    while !self.is(")") {
                        match self.next() {
                            T::Name(n) => params.push(n),
                            _ => return self.err(),
                        }
                        self.nls();
                        if !self.eat(",") {
                            break;
                        }
                        self.nls();
                    }
                    self.expect(")")?;
                    self.nls();
                    let body = self.block()?;
                    funcs.insert(name, Func { params, body });
                }
                T::P("{") => items.push((Pat::All, Some(self.block()?))),
                _ => {
                    let e = self.expr()?;
                    let pat = if self.eat(",") {
                        self.nls();
                        let e2 = self.expr()?;
                        self.ranges += 1;
                        Pat::Range(e, e2, self.ranges - 1)
                    } else {
                        Pat::Expr(e)
                    };
                    if self.is("{") {
                        items.push((pat, Some(self.block()?)));
                    } else {
                        items.push((pat, None));
                    }
                }
            }
        }
        Ok((items, funcs))
    }

    fn block(&mut self) -> Result<Vec<S>, String> {
        self.expect("{")?;
        let mut v = Vec::new();
        loop {
            self.terms();
            if self.eat("}") {
                break;
            }
            if matches!(self.peek(), T::Eof) {
                return self.err();
            }
            v.push(self.stmt()?);
        }
        Ok(v)
    }

    fn simple_end(&mut self) -> Result<(), String> {
        if self.eat(";") || matches!(self.peek(), T::Nl) {
            if matches!(self.peek(), T::Nl) {
                self.i += 1;
            }
            return Ok(());
        }
        if self.is("}") || matches!(self.peek(), T::Eof) {
            return Ok(());
        }
        self.err()
    }

    fn stmt(&mut self) -> Result<S, String> {
        let s = match self.peek().clone() {
            T::P("{") => return Ok(S::Block(self.block()?)),
            T::P(";") => {
                self.i += 1;
                return Ok(S::Block(vec![]));
            }
            T::Kw("if") => {
                self.i += 1;
                self.expect("(")?;
                let c = self.expr()?;
                self.expect(")")?;
                self.terms_nl();
                let a = self.stmt()?;
                // look past newlines/semicolons for else
                let save = self.i;
                self.terms();
                let b = if matches!(self.peek(), T::Kw("else")) {
                    self.i += 1;
                    self.terms_nl();
                    Some(Box::new(self.stmt()?))
                } else {
                    self.i = save;
                    None
                };
                return Ok(S::If(c, Box::new(a), b));
            }
            T::Kw("while") => {
                self.i += 1;
                self.expect("(")?;
                let c = self.expr()?;
                self.expect(")")?;
                if self.eat(";") {
                    return Ok(S::While(c, Box::new(S::Block(vec![]))));
                }
                self.terms_nl();
                return Ok(S::While(c, Box::new(self.stmt()?)));
            }
            T::Kw("do") => {
                self.i += 1;
                self.terms_nl();
                let body = self.stmt()?;
                self.terms();
                if !matches!(self.next(), T::Kw("while")) {
                    self.i -= 1;
                    return self.err();
                }
                self.expect("(")?;
                let c = self.expr()?;
                self.expect(")")?;
                self.simple_end()?;
                return Ok(S::Do(Box::new(body), c));
            }
            T::Kw("for") => {
                self.i += 1;
                self.expect("(")?;
                if let (T::Name(v), T::Kw("in")) = (self.peek().clone(), self.peek2().clone()) {
                    let save = self.i;
                    self.i += 2;
                    if let T::Name(arr) = self.peek().clone() {
                        self.i += 1;
                        if self.eat(")") {
                            self.terms_nl();
                            return Ok(S::ForIn(v, arr, Box::new(self.stmt()?)));
                        }
                    }
                    self.i = save;
                }
                let init = if self.is(";") { None } else { Some(Box::new(self.simple_stmt()?)) };
                self.expect(";")?;
                self.nls();
                let cond = if self.is(";") { None } else { Some(self.expr()?) };
                self.expect(";")?;
                self.nls();
                let step = if self.is(")") { None } else { Some(Box::new(self.simple_stmt()?)) };
                self.expect(")")?;
                if self.eat(";") {
                    return Ok(S::For(init, cond, step, Box::new(S::Block(vec![]))));
                }
                self.terms_nl();
                return Ok(S::For(init, cond, step, Box::new(self.stmt()?)));
            }
            _ => self.simple_stmt()?,
        };
        self.simple_end()?;
        Ok(s)
    }

    fn terms_nl(&mut self) {
        while matches!(self.peek(), T::Nl) {
            self.i += 1;
        }
    }

    fn redir(&mut self) -> Result<Option<Redir>, String> {
        let r = if self.eat(">") {
            Some(Redir::File(self.concat_noin()?))
        } else if self.eat(">>") {
            Some(Redir::Append(self.concat_noin()?))
        } else if self.eat("|") {
            Some(Redir::Pipe(self.concat_noin()?))
        } else {
            None
        };
        Ok(r)
    }

    fn concat_noin(&mut self) -> Result<E, String> {
        let save = self.no_gt;
        self.no_gt = true;
        let r = self.concat();
        self.no_gt = save;
        r
    }

    fn simple_stmt(&mut self) -> Result<S, String> {
        Ok(match self.peek().clone() {
            T::Kw("print") | T::Kw("printf") => {
                let is_printf = matches!(self.next(), T::Kw("printf"));
                let mut args = Vec::new();
                let save = self.no_gt;
                self.no_gt = true;
                if !(self.is(";")
                    || self.is("}")
                    || self.is(">")
                    || self.is(">>")
                    || self.is("|")
                    || matches!(self.peek(), T::Nl | T::Eof))
                {
                    args.push(self.expr()?);
                    while self.eat(",") {
                        self.nls();
                        args.push(self.expr()?);
                    }
                }
                self.no_gt = save;
                if args.len() == 1
                    && let E::Group(g) = &args[0]
                {
                    args = g.clone();
                }
                let r = self.redir()?;
                if is_printf {
                    if args.is_empty() {
                        return self.err();
                    }
                    S::Printf(args, r)
                } else {
                    S::Print(args, r)
                }
            }
            T::Kw("next") => {
                self.i += 1;
                S::Next
            }
            T::Kw("nextfile") => {
                self.i += 1;
                S::NextFile
            }
            T::Kw("break") => {
                self.i += 1;
                S::Break
            }
            T::Kw("continue") => {
                self.i += 1;
                S::Continue
            }
            T::Kw("exit") => {
                self.i += 1;
                if self.is(";") || self.is("}") || matches!(self.peek(), T::Nl | T::Eof) {
                    S::Exit(None)
                } else {
                    S::Exit(Some(self.expr()?))
                }
            }
            T::Kw("return") => {
                self.i += 1;
                if self.is(";") || self.is("}") || matches!(self.peek(), T::Nl | T::Eof) {
                    S::Return(None)
                } else {
                    S::Return(Some(self.expr()?))
                }
            }
            T::Kw("delete") => {
                self.i += 1;
                let name = match self.next() {
                    T::Name(n) => n,
                    _ => return self.err(),
                };
                if self.eat("[") {
                    let subs = self.subscripts()?;
                    S::Delete(name, Some(subs))
                } else {
                    S::Delete(name, None)
                }
            }
            _ => S::Expr(self.expr()?),
        })
    }

    fn subscripts(&mut self) -> Result<Vec<E>, String> {
        let mut v = vec![self.expr()?];
        while self.eat(",") {
            self.nls();
            v.push(self.expr()?);
        }
        self.expect("]")?;
        Ok(v)
    }

    fn expr(&mut self) -> Result<E, String> {
        self.ternary()
    }

    fn is_lvalue(e: &E) -> bool {
        matches!(e, E::Var(_) | E::Field(_) | E::Index(..))
    }

    fn ternary(&mut self) -> Result<E, String> {
        let c = self.or()?;
        if self.eat("?") {
            self.nls();
            let a = self.ternary()?;
            self.nls();
            self.expect(":")?;
            self.nls();
            let b = self.ternary()?;
            return Ok(E::Cond(Box::new(c), Box::new(a), Box::new(b)));
        }
        if Self::is_lvalue(&c) {
            let op = match self.peek() {
                T::P("=") => Some(None),
                T::P("+=") => Some(Some("+")),
                T::P("-=") => Some(Some("-")),
                T::P("*=") => Some(Some("*")),
                T::P("/=") => Some(Some("/")),
                T::P("%=") => Some(Some("%")),
                T::P("^=") => Some(Some("^")),
                _ => None,
            };
            if let Some(op) = op {
                self.i += 1;
                self.nls();
                let r = self.ternary()?;
                return Ok(E::Assign(op, Box::new(c), Box::new(r)));
            }
        }
        Ok(c)
    }

    fn or(&mut self) -> Result<E, String> {
        let mut l = self.and()?;
        while self.eat("||") {
            self.nls();
            let r = self.and()?;
            l = E::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<E, String> {
        let mut l = self.in_()?;
        while self.eat("&&") {
            self.nls();
            let r = self.in_()?;
            l = E::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn in_(&mut self) -> Result<E, String> {
        let mut l = self.matching()?;
        while !self.no_in && matches!(self.peek(), T::Kw("in")) {
            self.i += 1;
            let arr = match self.next() {
                T::Name(n) => n,
                _ => return self.err(),
            };
            let subs = match l {
                E::Group(g) => g,
                other => vec![other],
            };
            l = E::In(subs, arr);
        }
        Ok(l)
    }

    fn matching(&mut self) -> Result<E, String> {
        let mut l = self.comparison()?;
        loop {
            let neg = if self.eat("~") {
                false
            } else if self.eat("!~") {
                true
            } else {
                break;
            };
            let r = self.comparison()?;
            l = E::Match(neg, Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn comparison(&mut self) -> Result<E, String> {
        let mut l = self.concat()?;
        loop {
            let op = match self.peek() {
                T::P("<") => "<",
                T::P("<=") => "<=",
                T::P("==") => "==",
                T::P("!=") => "!=",
                T::P(">=") => ">=",
                T::P(">") if !self.no_gt => ">",
                T::P("|") if matches!(self.peek2(), T::Kw("getline")) => {
                    self.i += 2;
                    let var = self.getline_var()?;
                    l = E::Getline { var, file: None, cmd: Some(Box::new(l)) };
                    continue;
                }
                _ => break,
            };
            self.i += 1;
            let r = self.concat()?;
            l = E::Cmp(op, Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn starts_operand(&self) -> bool {
        match self.peek() {
            T::Num(_) | T::Str(_) | T::Name(_) | T::FuncName(_) | T::Builtin(_) | T::Re(_) => true,
            T::P("$") | T::P("(") | T::P("!") | T::P("++") | T::P("--") | T::P("-") | T::P("+") => false,
            T::Kw("in") => false,
            _ => false,
        }
    }

    fn concat(&mut self) -> Result<E, String> {
        let mut l = self.additive()?;
        loop {
            let ok = self.starts_operand() || self.is("$") || self.is("(") || self.is("++") || self.is("--");
            if !ok || (self.no_in && matches!(self.peek(), T::Kw("in"))) {
                break;
            }
            if matches!(self.peek(), T::Kw("getline")) {
                break;
            }
            let r = self.additive()?;
            l = E::Concat(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn additive(&mut self) -> Result<E, String> {
        let mut l = self.mul()?;
        loop {
            let op = if self.is("+") {
                "+"
            } else if self.is("-") {
                "-"
            } else {
                break;
            };
            self.i += 1;
            let r = self.mul()?;
            l = E::Bin(op, Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn mul(&mut self) -> Result<E, String> {
        let mut l = self.unary()?;
        loop {
            let op = if self.is("*") {
                "*"
            } else if self.is("/") {
                "/"
            } else if self.is("%") {
                "%"
            } else {
                break;
            };
            self.i += 1;
            let r = self.unary()?;
            l = E::Bin(op, Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn unary(&mut self) -> Result<E, String> {
        if self.eat("!") {
            return Ok(E::Not(Box::new(self.unary()?)));
        }
        if self.eat("-") {
            return Ok(E::Neg(Box::new(self.unary()?)));
        }
        if self.eat("+") {
            return Ok(E::Plus(Box::new(self.unary()?)));
        }
        self.power()
    }

    fn power(&mut self) -> Result<E, String> {
        let base = self.postfix()?;
        if self.eat("^") {
            // right associative, exponent may be unary
            let exp = if self.is("-") || self.is("+") || self.is("!") { self.unary()? } else { self.power()? };
            return Ok(E::Bin("^", Box::new(base), Box::new(exp)));
        }
        Ok(base)
    }

    fn postfix(&mut self) -> Result<E, String> {
        if self.eat("++") {
            let t = self.postfix()?;
            return Ok(E::Incr(true, 1.0, Box::new(t)));
        }
        if self.eat("--") {
            let t = self.postfix()?;
            return Ok(E::Incr(true, -1.0, Box::new(t)));
        }
        let e = self.primary()?;
        if Self::is_lvalue(&e) {
            if self.eat("++") {
                return Ok(E::Incr(false, 1.0, Box::new(e)));
            }
            if self.eat("--") {
                return Ok(E::Incr(false, -1.0, Box::new(e)));
            }
        }
        Ok(e)
    }

    fn getline_var(&mut self) -> Result<Option<Box<E>>, String> {
        Ok(match self.peek() {
            T::Name(_) | T::P("$") => Some(Box::new(self.primary()?)),
            _ => None,
        })
    }

    fn args(&mut self) -> Result<Vec<E>, String> {
        self.expect("(")?;
        let mut v = Vec::new();
        self.nls();
        let save_gt = self.no_gt;
        let save_in = self.no_in;
        self.no_gt = false;
        self.no_in = false;
        if !self.is(")") {
            v.push(self.expr()?);
            self.nls();
            while self.eat(",") {
                self.nls();
                v.push(self.expr()?);
                self.nls();
            }
        }
        self.no_gt = save_gt;
        self.no_in = save_in;
        self.expect(")")?;
        Ok(v)
    }

    fn primary(&mut self) -> Result<E, String> {
        match self.next() {
            T::Num(n) => Ok(E::Num(n)),
            T::Str(s) => Ok(E::Str(s)),
            T::Re(r) => Ok(E::Re(r)),
            T::P("$") => {
                let e = if self.is("++") || self.is("--") {
                    self.postfix()?
                } else if self.eat("-") {
                    E::Neg(Box::new(self.primary()?))
                } else {
                    self.primary()?
                };
                Ok(E::Field(Box::new(e)))
            }
            T::P("(") => {
                let save_gt = self.no_gt;
                let save_in = self.no_in;
                self.no_gt = false;
                self.no_in = false;
                self.nls();
                let e = self.expr()?;
                self.nls();
                let r = if self.eat(",") {
                    let mut v = vec![e];
                    loop {
                        self.nls();
                        v.push(self.expr()?);
                        self.nls();
                        if !self.eat(",") {
                            break;
                        }
                    }
                    self.expect(")")?;
                    E::Group(v)
                } else {
                    self.expect(")")?;
                    e
                };
                self.no_gt = save_gt;
                self.no_in = save_in;
                Ok(r)
            }
            T::Name(n) => {
                if self.eat("[") {
                    let save_gt = self.no_gt;
                    self.no_gt = false;
                    let subs = self.subscripts()?;
                    self.no_gt = save_gt;
                    Ok(E::Index(n, subs))
                } else {
                    Ok(E::Var(n))
                }
            }
            T::FuncName(n) => {
                let a = self.args()?;
                Ok(E::Call(n, a))
            }
            T::Builtin(b) => {
                if b == "length" && !self.is("(") {
                    return Ok(E::Builtin(b, vec![]));
                }
                let a = self.args()?;
                Ok(E::Builtin(b, a))
            }
            T::Kw("getline") => {
                let var = self.getline_var()?;
                let file = if self.eat("<") { Some(Box::new(self.primary()?)) } else { None };
                Ok(E::Getline { var, file, cmd: None })
            }
            _ => {
                self.i -= 1;
                self.err()
            }
        }
    }
}

// ---------------------------------------------------------------- values

#[derive(Debug, Clone)]
enum V {
    Num(f64),
    Str(String),
    /// input-derived string: numeric if it looks numeric
    StrNum(String),
    Uninit,
}

fn to_num(s: &str) -> f64 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let b = t.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let ds = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i == ds || (i == ds + 1 && b.get(ds) == Some(&b'.')) {
        // maybe inf/nan
        let l = t[ds..].to_ascii_lowercase();
        if l.starts_with("inf") || l.starts_with("nan") {
            let v = if l.starts_with("inf") { f64::INFINITY } else { f64::NAN };
            return if b.first() == Some(&b'-') {
                -v
            } else if ds > 0 {
                v
            } else {
                0.0
            };
        }
        return 0.0;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let save = i;
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if i < b.len() && b[i].is_ascii_digit() {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        } else {
            i = save;
        }
    }
    t[..i].parse().unwrap_or(0.0)
}

fn looks_numeric(s: &str) -> bool {
    let t = s.trim_matches([' ', '\t', '\n', '\r']);
    if t.is_empty() {
        return false;
    }
    let b = t.as_bytes();
    let mut i = 0;
    if b[0] == b'+' || b[0] == b'-' {
        i += 1;
    }
    let mut digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if st == i {
            return false;
        }
    }
    i == b.len()
}

fn fmt_num(n: f64, convfmt: &str) -> String {
    if n == n.trunc() && n.abs() < 1e16 {
        if n == 0.0 {
            return "0".into();
        }
        return format!("{}", n as i64);
    }
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan".into() } else { "nan".into() };
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf".into() } else { "-inf".into() };
    }
    printf::sprintf(convfmt, &mut |_| Some(Val::F(n)), false).0
}

// ---------------------------------------------------------------- interpreter

#[derive(Clone)]
enum Cell {
    Val(V),
    Arr(usize),
}

enum Ctl {
    Normal,
    Next,
    NextFile,
    Exit,
    Break,
    Continue,
    Return(V),
}

/// Callback used to run shell commands for `system()`, `print | "cmd"` and `"cmd" | getline`:
/// (command, stdin) → (stdout, exit status).
pub type RunCmd<'a> = &'a mut dyn FnMut(&str, Vec<u8>) -> (Vec<u8>, i32);

pub struct Awk<'a> {
    globals: HashMap<String, Cell>,
    arrays: Vec<HashMap<String, V>>,
    frames: Vec<HashMap<String, Cell>>,
    funcs: HashMap<String, Func>,
    record: String,
    fields: Vec<String>,
    split_done: bool,
    pub out: Vec<u8>,
    pub err: Vec<u8>,
    files: Vec<(String, Vec<u8>, bool)>,
    pipes: Vec<(String, Vec<u8>)>,
    readers: HashMap<String, (Vec<u8>, usize)>,
    cmd_readers: HashMap<String, (Vec<u8>, usize)>,
    re_cache: HashMap<String, Regex>,
    range_on: Vec<bool>,
    rand: u64,
    prev_seed: f64,
    exit_code: i32,
    inputs: Vec<(String, Vec<u8>)>,
    cur_input: usize,
    cur_pos: usize,
    nr: f64,
    fnr: f64,
    run: RunCmd<'a>,
    read_file: &'a dyn Fn(&str) -> Result<Vec<u8>, String>,
    depth: u32,
    steps: u64,
}

pub struct Program {
    items: Vec<(Pat, Option<Vec<S>>)>,
    funcs: HashMap<String, Func>,
    ranges: usize,
}

pub fn compile(src: &str) -> Result<Program, String> {
    let toks = lex(src)?;
    let mut p = Parser { t: toks, i: 0, no_gt: false, no_in: false, ranges: 0 };
    let (items, funcs) = p.program()?;
    Ok(Program { items, funcs, ranges: p.ranges })
}

const MAX_STEPS: u64 = 200_000_000;

impl<'a> Awk<'a> {
    /// `inputs`: (FILENAME, data) in order; `assigns`: -v assignments; `env`: ENVIRON; `argv`: ARGV.
    pub fn new(
        prog: &mut Program,
        assigns: &[(String, String)],
        env: &[(String, String)],
        argv: &[String],
        inputs: Vec<(String, Vec<u8>)>,
        run: RunCmd<'a>,
        read_file: &'a dyn Fn(&str) -> Result<Vec<u8>, String>,
    ) -> Awk<'a> {
        let mut a = Awk {
            globals: HashMap::new(),
            arrays: Vec::new(),
            frames: Vec::new(),
            funcs: std::mem::take(&mut prog.funcs),
            record: String::new(),
            fields: Vec::new(),
            split_done: true,
            out: Vec::new(),
            err: Vec::new(),
            files: Vec::new(),
            pipes: Vec::new(),
            readers: HashMap::new(),
            cmd_readers: HashMap::new(),
            re_cache: HashMap::new(),
            range_on: vec![false; prog.ranges],
            rand: 0x2545F4914F6CDD1D,
            prev_seed: 0.0,
            exit_code: 0,
            inputs,
            cur_input: 0,
            cur_pos: 0,
            nr: 0.0,
            fnr: 0.0,
            run,
            read_file,
            depth: 0,
            steps: 0,
        };
        for (k, v) in [
            ("FS", " "),
            ("OFS", " "),
            ("ORS", "\n"),
            ("RS", "\n"),
            ("SUBSEP", "\x1c"),
            ("CONVFMT", "%.6g"),
            ("OFMT", "%.6g"),
            ("FILENAME", ""),
        ] {
            a.globals.insert(k.into(), Cell::Val(V::Str(v.into())));
        }
        for (k, v) in [("RSTART", 0.0), ("RLENGTH", -1.0)] {
            a.globals.insert(k.into(), Cell::Val(V::Num(v)));
        }
        let envi = a.new_array();
        for (k, v) in env {
            a.arrays[envi].insert(k.clone(), V::StrNum(v.clone()));
        }
        a.globals.insert("ENVIRON".into(), Cell::Arr(envi));
        let argvi = a.new_array();
        for (i, v) in argv.iter().enumerate() {
            a.arrays[argvi].insert(i.to_string(), V::StrNum(v.clone()));
        }
        a.globals.insert("ARGV".into(), Cell::Arr(argvi));
        a.globals.insert("ARGC".into(), Cell::Val(V::Num(argv.len() as f64)));
        for (k, v) in assigns {
            a.globals.insert(k.clone(), Cell::Val(V::StrNum(v.clone())));
        }
        a
    }

    fn new_array(&mut self) -> usize {
        self.arrays.push(HashMap::new());
        self.arrays.len() - 1
    }

    fn rt<X>(&mut self, msg: String) -> Result<X, String> {
        Err(msg)
    }

    // ---- variables

    fn get_cell(&mut self, name: &str) -> Option<Cell> {
        if let Some(f) = self.frames.last()
            && let Some(c) = f.get(name)
        {
            return Some(c.clone());
        }
        self.globals.get(name).cloned()
    }

    fn get_var(&mut self, name: &str) -> Result<V, String> {
        match name {
            "NF" => {
                self.split();
                return Ok(V::Num(self.fields.len() as f64));
            }
            "NR" => return Ok(V::Num(self.nr)),
            "FNR" => return Ok(V::Num(self.fnr)),
            _ => {}
        }
        match self.get_cell(name) {
            Some(Cell::Val(v)) => Ok(v),
            Some(Cell::Arr(_)) => self.rt(format!("attempt to use array `{name}' in a scalar context")),
            None => Ok(V::Uninit),
        }
    }

    fn set_var(&mut self, name: &str, v: V) -> Result<(), String> {
        match name {
            "NF" => {
                self.split();
                let n = self.num(&v).max(0.0) as usize;
                self.fields.resize(n.min(1_000_000), String::new());
                self.rebuild();
                return Ok(());
            }
            "NR" => {
                self.nr = self.num(&v);
                return Ok(());
            }
            "FNR" => {
                self.fnr = self.num(&v);
                return Ok(());
            }
            _ => {}
        }
        if let Some(f) = self.frames.last_mut()
            && let Some(c) = f.get_mut(name)
        {
            if matches!(c, Cell::Arr(_)) {
                return Err(format!("attempt to use array `{name}' in a scalar context"));
            }
            *c = Cell::Val(v);
            return Ok(());
        }
        if matches!(self.globals.get(name), Some(Cell::Arr(_))) {
            return Err(format!("attempt to use array `{name}' in a scalar context"));
        }
        self.globals.insert(name.to_string(), Cell::Val(v));
        Ok(())
    }

    fn array(&mut self, name: &str) -> Result<usize, String> {
        if let Some(f) = self.frames.last_mut()
            && let Some(c) = f.get(name).cloned()
        {
            return match c {
                Cell::Arr(i) => Ok(i),
                Cell::Val(V::Uninit) => {
                    self.arrays.push(HashMap::new());
                    let i = self.arrays.len() - 1;
                    if let Some(f) = self.frames.last_mut() {
                        f.insert(name.to_string(), Cell::Arr(i));
                    }
                    Ok(i)
                }
                Cell::Val(_) => Err(format!("attempt to use scalar `{name}' as an array")),
            };
        }
        match self.globals.get(name) {
            Some(Cell::Arr(i)) => Ok(*i),
            Some(Cell::Val(V::Uninit)) | None => {
                let i = self.new_array();
                self.globals.insert(name.to_string(), Cell::Arr(i));
                Ok(i)
            }
            Some(Cell::Val(_)) => Err(format!("can't use scalar `{name}' as array")),
        }
    }

    fn gstr(&self, name: &str) -> String {
        match self.globals.get(name) {
            Some(Cell::Val(v)) => self.str_of(v),
            _ => String::new(),
        }
    }

    // ---- conversions

    fn num(&self, v: &V) -> f64 {
        match v {
            V::Num(n) => *n,
            V::Str(s) | V::StrNum(s) => to_num(s),
            V::Uninit => 0.0,
        }
    }

    fn str_of(&self, v: &V) -> String {
        match v {
            V::Num(n) => {
                let conv = match self.globals.get("CONVFMT") {
                    Some(Cell::Val(V::Str(s))) | Some(Cell::Val(V::StrNum(s))) => s.clone(),
                    _ => "%.6g".into(),
                };
                fmt_num(*n, &conv)
            }
            V::Str(s) | V::StrNum(s) => s.clone(),
            V::Uninit => String::new(),
        }
    }

    fn out_str(&self, v: &V) -> String {
        match v {
            V::Num(n) => {
                let f = self.gstr("OFMT");
                fmt_num(*n, if f.is_empty() { "%.6g" } else { &f })
            }
            other => self.str_of(other),
        }
    }

    fn truthy(&self, v: &V) -> bool {
        match v {
            V::Num(n) => *n != 0.0,
            V::Str(s) => !s.is_empty(),
            V::StrNum(s) => {
                if looks_numeric(s) {
                    to_num(s) != 0.0
                } else {
                    !s.is_empty()
                }
            }
            V::Uninit => false,
        }
    }

    fn regex(&mut self, src: &str) -> Result<Regex, String> {
        if let Some(r) = self.re_cache.get(src) {
            return Ok(r.clone());
        }
        let t = crate::sed::translate(src, true).map_err(|e| format!("regular expression /{src}/: {e}"))?;
        let r = regex::RegexBuilder::new(&t).size_limit(20 << 20).build().map_err(|e| {
            format!("regular expression /{src}/: {}", e.to_string().lines().last().unwrap_or("").trim())
        })?;
        if self.re_cache.len() > 1000 {
            self.re_cache.clear();
        }
        self.re_cache.insert(src.to_string(), r.clone());
        Ok(r)
    }

    fn regex_of(&mut self, e: &E) -> Result<Regex, String> {
        match e {
            E::Re(r) => self.regex(r),
            other => {
                let v = self.eval(other)?;
                let s = self.str_of(&v);
                self.regex(&s)
            }
        }
    }

    // ---- fields

    fn set_record(&mut self, s: String) {
        self.record = s;
        self.split_done = false;
    }

    fn split(&mut self) {
        if self.split_done {
            return;
        }
        self.split_done = true;
        let fs = self.gstr("FS");
        let rec = std::mem::take(&mut self.record);
        self.fields = self.split_str(&rec, &fs);
        self.record = rec;
    }

    fn split_str(&mut self, s: &str, fs: &str) -> Vec<String> {
        let paragraph = self.gstr("RS").is_empty();
        if fs == " " {
            return s.split([' ', '\t', '\n']).filter(|x| !x.is_empty()).map(str::to_string).collect();
        }
        if s.is_empty() {
            return Vec::new();
        }
        let mut v: Vec<String> = if fs.is_empty() {
            s.chars().map(|c| c.to_string()).collect()
        } else if fs.chars().count() == 1 && fs != "\\" {
            s.split(fs).map(str::to_string).collect()
        } else {
            match self.regex(fs) {
                Ok(r) => r.split(s).map(str::to_string).collect(),
                Err(_) => s.split(fs).map(str::to_string).collect(),
            }
        };
        if paragraph && fs != " " {
            v = v.into_iter().flat_map(|x| x.split('\n').map(str::to_string).collect::<Vec<_>>()).collect();
        }
        v
    }

    fn rebuild(&mut self) {
        let ofs = self.gstr("OFS");
        self.record = self.fields.join(&ofs);
    }

    fn get_field(&mut self, i: f64) -> Result<V, String> {
        if i < 0.0 {
            return Err(format!("trying to access out of range field {}", i as i64));
        }
        let i = i as usize;
        if i == 0 {
            return Ok(V::StrNum(self.record.clone()));
        }
        self.split();
        Ok(self.fields.get(i - 1).map(|s| V::StrNum(s.clone())).unwrap_or(V::Uninit))
    }

    fn set_field(&mut self, i: f64, s: String) -> Result<(), String> {
        if i < 0.0 || i > 1_000_000.0 {
            return Err(format!("trying to access out of range field {}", i as i64));
        }
        let i = i as usize;
        if i == 0 {
            self.set_record(s);
            return Ok(());
        }
        self.split();
        if self.fields.len() < i {
            self.fields.resize(i, String::new());
        }
        self.fields[i - 1] = s;
        self.rebuild();
        Ok(())
    }

    // ---- input

    fn read_record_from(data: &[u8], pos: &mut usize, rs: &str) -> Option<String> {
        if *pos >= data.len() {
            return None;
        }
        let rest = &data[*pos..];
        if rs.is_empty() {
            // paragraph mode: skip leading newlines, record ends at blank line(s)
            let mut st = 0;
            while st < rest.len() && rest[st] == b'\n' {
                st += 1;
            }
            if st >= rest.len() {
                *pos = data.len();
                return None;
            }
            let body = &rest[st..];
            let mut end = body.len();
            let mut adv = body.len();
            let mut k = 0;
            while k + 1 < body.len() {
                if body[k] == b'\n' && body[k + 1] == b'\n' {
                    end = k;
                    let mut j = k;
                    while j < body.len() && body[j] == b'\n' {
                        j += 1;
                    }
                    adv = j;
                    break;
                }
                k += 1;
            }
            let rec = body[..end].strip_suffix(b"\n").unwrap_or(&body[..end]);
            *pos += st + adv;
            return Some(String::from_utf8_lossy(rec).into_owned());
        }
        let sep = rs.as_bytes();
        let (rec, adv) = if sep.len() == 1 {
            match rest.iter().position(|&b| b == sep[0]) {
                Some(i) => (&rest[..i], i + 1),
                None => (rest, rest.len()),
            }
        } else {
            match rest.windows(sep.len()).position(|w| w == sep) {
                Some(i) => (&rest[..i], i + sep.len()),
                None => (rest, rest.len()),
            }
        };
        *pos += adv;
        Some(String::from_utf8_lossy(rec).into_owned())
    }

    fn next_main_record(&mut self) -> Option<String> {
        let rs = self.gstr("RS");
        while self.cur_input < self.inputs.len() {
            let name = self.inputs[self.cur_input].0.clone();
            if self.cur_pos == 0 {
                self.globals.insert("FILENAME".into(), Cell::Val(V::Str(name)));
            }
            let mut pos = self.cur_pos;
            let r = Self::read_record_from(&self.inputs[self.cur_input].1, &mut pos, &rs);
            self.cur_pos = pos;
            match r {
                Some(rec) => {
                    self.nr += 1.0;
                    self.fnr += 1.0;
                    return Some(rec);
                }
                None => {
                    self.cur_input += 1;
                    self.cur_pos = 0;
                    self.fnr = 0.0;
                }
            }
        }
        None
    }

    // ---- evaluation

    fn assign_to(&mut self, target: &E, v: V) -> Result<V, String> {
        match target {
            E::Var(n) => self.set_var(n, v.clone())?,
            E::Field(i) => {
                let iv = self.eval(i)?;
                let idx = self.num(&iv);
                let s = self.str_of(&v);
                self.set_field(idx, s)?;
            }
            E::Index(n, subs) => {
                let k = self.key(subs)?;
                let a = self.array(n)?;
                self.arrays[a].insert(k, v.clone());
            }
            _ => return Err("assignment to non-lvalue".into()),
        }
        Ok(v)
    }

    fn key(&mut self, subs: &[E]) -> Result<String, String> {
        let mut parts = Vec::new();
        for s in subs {
            let v = self.eval(s)?;
            parts.push(self.str_of(&v));
        }
        if parts.len() == 1 {
            return Ok(parts.pop().unwrap_or_default());
        }
        let sep = self.gstr("SUBSEP");
        Ok(parts.join(&sep))
    }

    fn compare(&self, a: &V, b: &V) -> std::cmp::Ordering {
        let numeric = |v: &V| match v {
            V::Num(_) | V::Uninit => true,
            V::StrNum(s) => looks_numeric(s),
            V::Str(_) => false,
        };
        if numeric(a) && numeric(b) {
            self.num(a).partial_cmp(&self.num(b)).unwrap_or(std::cmp::Ordering::Equal)
        } else {
            self.str_of(a).cmp(&self.str_of(b))
        }
    }

    fn eval(&mut self, e: &E) -> Result<V, String> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err("program ran too long (step limit)".into());
        }
        Ok(match e {
            E::Num(n) => V::Num(*n),
            E::Str(s) => V::Str(s.clone()),
            E::Re(r) => {
                let re = self.regex(r)?;
                V::Num(re.is_match(&self.record) as i32 as f64)
            }
            E::Group(g) => {
                // (a, b) outside print/in: evaluate as concatenation with SUBSEP
                let k = self.key(g)?;
                V::Str(k)
            }
            E::Var(n) => self.get_var(n)?,
            E::Field(i) => {
                let iv = self.eval(i)?;
                let idx = self.num(&iv);
                self.get_field(idx)?
            }
            E::Index(n, subs) => {
                let k = self.key(subs)?;
                let a = self.array(n)?;
                self.arrays[a].entry(k).or_insert(V::Uninit).clone()
            }
            E::Assign(op, t, r) => {
                let rv = self.eval(r)?;
                let v = match op {
                    None => match rv {
                        V::Uninit => V::Uninit,
                        other => other,
                    },
                    Some(o) => {
                        let cur = self.eval(t)?;
                        V::Num(self.arith(o, self.num(&cur), self.num(&rv))?)
                    }
                };
                self.assign_to(t, v)?
            }
            E::Cond(c, a, b) => {
                let cv = self.eval(c)?;
                if self.truthy(&cv) { self.eval(a)? } else { self.eval(b)? }
            }
            E::And(a, b) => {
                let av = self.eval(a)?;
                let r = self.truthy(&av) && {
                    let bv = self.eval(b)?;
                    self.truthy(&bv)
                };
                V::Num(r as i32 as f64)
            }
            E::Or(a, b) => {
                let av = self.eval(a)?;
                let r = self.truthy(&av) || {
                    let bv = self.eval(b)?;
                    self.truthy(&bv)
                };
                V::Num(r as i32 as f64)
            }
            E::Not(a) => {
                let v = self.eval(a)?;
                V::Num(!self.truthy(&v) as i32 as f64)
            }
            E::Bin(op, a, b) => {
                let av = self.eval(a)?;
                let bv = self.eval(b)?;
                V::Num(self.arith(op, self.num(&av), self.num(&bv))?)
            }
            E::Cmp(op, a, b) => {
                let av = self.eval(a)?;
                let bv = self.eval(b)?;
                let o = self.compare(&av, &bv);
                use std::cmp::Ordering::*;
                let r = match *op {
                    "<" => o == Less,
                    "<=" => o != Greater,
                    ">" => o == Greater,
                    ">=" => o != Less,
                    "==" => o == Equal,
                    _ => o != Equal,
                };
                V::Num(r as i32 as f64)
            }
            E::Match(neg, a, b) => {
                let av = self.eval(a)?;
                let s = self.str_of(&av);
                let re = self.regex_of(b)?;
                V::Num((re.is_match(&s) != *neg) as i32 as f64)
            }
            E::Concat(a, b) => {
                let av = self.eval(a)?;
                let bv = self.eval(b)?;
                let mut s = self.str_of(&av);
                s.push_str(&self.str_of(&bv));
                if s.len() > crate::exec::MAX_BUF {
                    return Err("string too long".into());
                }
                V::Str(s)
            }
            E::Neg(a) => {
                let v = self.eval(a)?;
                V::Num(-self.num(&v))
            }
            E::Plus(a) => {
                let v = self.eval(a)?;
                V::Num(self.num(&v))
            }
            E::Incr(pre, d, t) => {
                let cur = self.eval(t)?;
                let n = self.num(&cur);
                self.assign_to(t, V::Num(n + d))?;
                V::Num(if *pre { n + d } else { n })
            }
            E::In(subs, arr) => {
                let k = self.key(subs)?;
                let a = self.array(arr)?;
                V::Num(self.arrays[a].contains_key(&k) as i32 as f64)
            }
            E::Call(name, args) => self.call(name, args)?,
            E::Builtin(name, args) => self.builtin(name, args)?,
            E::Getline { var, file, cmd } => self.getline(var.as_deref(), file.as_deref(), cmd.as_deref())?,
        })
    }

    fn arith(&self, op: &str, a: f64, b: f64) -> Result<f64, String> {
        Ok(match op {
            "+" => a + b,
            "-" => a - b,
            "*" => a * b,
            "/" => {
                if b == 0.0 {
                    return Err("division by zero".into());
                }
                a / b
            }
            "%" => {
                if b == 0.0 {
                    return Err("division by zero in %".into());
                }
                a % b
            }
            _ => a.powf(b),
        })
    }

    fn getline(&mut self, var: Option<&E>, file: Option<&E>, cmd: Option<&E>) -> Result<V, String> {
        let rs = self.gstr("RS");
        let rec = if let Some(f) = file {
            let fv = self.eval(f)?;
            let name = self.str_of(&fv);
            if !self.readers.contains_key(&name) {
                let data = if name == "-" || name == "/dev/stdin" {
                    Vec::new()
                } else {
                    match (self.read_file)(&name) {
                        Ok(d) => d,
                        Err(_) => return Ok(V::Num(-1.0)),
                    }
                };
                self.readers.insert(name.clone(), (data, 0));
            }
            let Some((data, pos)) = self.readers.get_mut(&name) else { return Ok(V::Num(-1.0)) };
            let r = Self::read_record_from(data, pos, &rs);
            match r {
                Some(r) => {
                    if var.is_none() {
                        self.nr += 0.0;
                    }
                    r
                }
                None => return Ok(V::Num(0.0)),
            }
        } else if let Some(c) = cmd {
            let cv = self.eval(c)?;
            let name = self.str_of(&cv);
            if !self.cmd_readers.contains_key(&name) {
                self.flush_out_to_err_order();
                let (o, _) = (self.run)(&name, Vec::new());
                self.cmd_readers.insert(name.clone(), (o, 0));
            }
            let Some((data, pos)) = self.cmd_readers.get_mut(&name) else { return Ok(V::Num(-1.0)) };
            match Self::read_record_from(data, pos, &rs) {
                Some(r) => {
                    self.nr += 1.0;
                    r
                }
                None => return Ok(V::Num(0.0)),
            }
        } else {
            match self.next_main_record() {
                Some(r) => r,
                None => return Ok(V::Num(0.0)),
            }
        };
        match var {
            Some(t) => {
                self.assign_to(t, V::StrNum(rec))?;
            }
            None => self.set_record(rec),
        }
        Ok(V::Num(1.0))
    }

    fn flush_out_to_err_order(&mut self) {}

    fn call(&mut self, name: &str, args: &[E]) -> Result<V, String> {
        let Some(f) = self.funcs.get(name) else { return Err(format!("function `{name}' not defined")) };
        let params = f.params.clone();
        if args.len() > params.len() {
            return Err(format!("function `{name}' called with more arguments than declared"));
        }
        if self.depth > 1000 {
            return Err("function call nesting too deep".into());
        }
        let mut frame = HashMap::new();
        for (i, p) in params.iter().enumerate() {
            let cell = match args.get(i) {
                Some(E::Var(n)) => match self.get_cell(n) {
                    Some(Cell::Arr(a)) => Cell::Arr(a),
                    Some(Cell::Val(V::Uninit)) | None => {
                        // could become an array inside: pass a fresh array bound to the caller's name lazily
                        // (simplification: if the callee uses it as array, the caller sees it too)
                        let is_array_use = self.funcs.get(name).is_some_and(|f| uses_as_array(&f.body, p));
                        if is_array_use {
                            let a = self.array(n)?;
                            Cell::Arr(a)
                        } else {
                            Cell::Val(V::Uninit)
                        }
                    }
                    Some(Cell::Val(v)) => Cell::Val(v),
                },
                Some(e) => {
                    let v = self.eval(e)?;
                    Cell::Val(v)
                }
                None => Cell::Val(V::Uninit),
            };
            frame.insert(p.clone(), cell);
        }
        // take the body out to avoid borrowing self.funcs during execution
        let body = match self.funcs.get(name) {
            Some(f) => f.body.clone(),
            None => return Ok(V::Uninit),
        };
        self.frames.push(frame);
        self.depth += 1;
        let r = self.exec_block(&body);
        self.depth -= 1;
        self.frames.pop();
        match r? {
            Ctl::Return(v) => Ok(v),
            Ctl::Exit => Err("\u{0}exit".into()),
            Ctl::Next => Err("\u{0}next".into()),
            _ => Ok(V::Uninit),
        }
    }

    fn builtin(&mut self, name: &str, args: &[E]) -> Result<V, String> {
        let nargs = args.len();
        let arg = |s: &mut Self, i: usize| -> Result<V, String> {
            match args.get(i) {
                Some(e) => s.eval(e),
                None => Ok(V::Uninit),
            }
        };
        Ok(match name {
            "length" => {
                if nargs == 0 {
                    V::Num(self.record.chars().count() as f64)
                } else {
                    if let E::Var(n) = &args[0]
                        && let Some(Cell::Arr(a)) = self.get_cell(n)
                    {
                        return Ok(V::Num(self.arrays[a].len() as f64));
                    }
                    let v = arg(self, 0)?;
                    V::Num(self.str_of(&v).chars().count() as f64)
                }
            }
            "substr" => {
                let sv = arg(self, 0)?;
                let s: Vec<char> = self.str_of(&sv).chars().collect();
                let mv = arg(self, 1)?;
                let m = self.num(&mv);
                let m = if m.is_nan() { 0.0 } else { m.round() };
                let len = s.len() as f64;
                let (start, end) = if nargs > 2 {
                    let nv = arg(self, 2)?;
                    let n = self.num(&nv);
                    let n = if n.is_nan() { -1.0 } else { n.round() };
                    (m, m + n)
                } else {
                    (m, len + 1.0)
                };
                let start = start.max(1.0);
                let end = end.min(len + 1.0);
                if end <= start {
                    V::Str(String::new())
                } else {
                    V::Str(s[(start as usize - 1)..(end as usize - 1)].iter().collect())
                }
            }
            "index" => {
                let a = arg(self, 0)?;
                let b = arg(self, 1)?;
                let (s, t) = (self.str_of(&a), self.str_of(&b));
                V::Num(match s.find(&t) {
                    Some(i) => (s[..i].chars().count() + 1) as f64,
                    None => 0.0,
                })
            }
            "split" => {
                let sv = arg(self, 0)?;
                let s = self.str_of(&sv);
                let Some(E::Var(an)) = args.get(1) else {
                    return Err("split: second argument must be an array".into());
                };
                let parts = if nargs > 2 {
                    match &args[2] {
                        E::Re(r) => {
                            let re = self.regex(r)?;
                            if s.is_empty() { vec![] } else { re.split(&s).map(str::to_string).collect() }
                        }
                        e => {
                            let fv = self.eval(e)?;
                            let fs = self.str_of(&fv);
                            self.split_str(&s, &fs)
                        }
                    }
                } else {
                    let fs = self.gstr("FS");
                    self.split_str(&s, &fs)
                };
                let a = self.array(an)?;
                self.arrays[a].clear();
                for (i, p) in parts.iter().enumerate() {
                    self.arrays[a].insert((i + 1).to_string(), V::StrNum(p.clone()));
                }
                V::Num(parts.len() as f64)
            }
            "sub" | "gsub" => {
                if nargs < 2 {
                    return Err(format!("{name}: requires at least 2 arguments"));
                }
                let re = self.regex_of(&args[0])?;
                let rv = arg(self, 1)?;
                let rep = self.str_of(&rv);
                let target = args.get(2).cloned().unwrap_or(E::Field(Box::new(E::Num(0.0))));
                let tv = self.eval(&target)?;
                let s = self.str_of(&tv);
                let mut out = String::new();
                let mut last = 0;
                let mut n = 0;
                let mut prev_end: Option<usize> = None;
                for m in re.find_iter(&s) {
                    if m.start() == m.end() && prev_end == Some(m.start()) {
                        continue;
                    }
                    out.push_str(&s[last..m.start()]);
                    // & = match, \& = literal &
                    let rc: Vec<char> = rep.chars().collect();
                    let mut k = 0;
                    while k < rc.len() {
                        if rc[k] == '\\' && k + 1 < rc.len() && (rc[k + 1] == '&' || rc[k + 1] == '\\') {
                            out.push(rc[k + 1]);
                            k += 2;
                            continue;
                        }
                        if rc[k] == '&' {
                            out.push_str(m.as_str());
                        } else {
                            out.push(rc[k]);
                        }
                        k += 1;
                    }
                    last = m.end();
                    prev_end = Some(m.end());
                    n += 1;
                    if name == "sub" {
                        break;
                    }
                }
                if n > 0 {
                    out.push_str(&s[last..]);
                    self.assign_to(&target, V::Str(out))?;
                }
                V::Num(n as f64)
            }
            "match" => {
                let sv = arg(self, 0)?;
                let s = self.str_of(&sv);
                let re = match args.get(1) {
                    Some(e) => self.regex_of(e)?,
                    None => return Err("match: requires 2 arguments".into()),
                };
                let (start, len) = match re.find(&s) {
                    Some(m) => ((s[..m.start()].chars().count() + 1) as f64, m.as_str().chars().count() as f64),
                    None => (0.0, -1.0),
                };
                if let Some(E::Var(an)) = args.get(2)
                    && let Some(c) = re.captures(&s)
                {
                    let a = self.array(an)?;
                    self.arrays[a].clear();
                    for (i, g) in c.iter().enumerate() {
                        if let Some(g) = g {
                            self.arrays[a].insert(i.to_string(), V::StrNum(g.as_str().to_string()));
                        }
                    }
                }
                self.globals.insert("RSTART".into(), Cell::Val(V::Num(start)));
                self.globals.insert("RLENGTH".into(), Cell::Val(V::Num(len)));
                V::Num(start)
            }
            "sprintf" => {
                if nargs == 0 {
                    return Err("sprintf: no format".into());
                }
                let mut vals = Vec::new();
                for a in args {
                    vals.push(self.eval(a)?);
                }
                V::Str(self.format(&vals))
            }
            "sin" | "cos" | "exp" | "log" | "sqrt" | "int" => {
                let v = arg(self, 0)?;
                let x = self.num(&v);
                V::Num(match name {
                    "sin" => x.sin(),
                    "cos" => x.cos(),
                    "exp" => x.exp(),
                    "log" => x.ln(),
                    "sqrt" => x.sqrt(),
                    _ => x.trunc(),
                })
            }
            "atan2" => {
                let a = arg(self, 0)?;
                let b = arg(self, 1)?;
                V::Num(self.num(&a).atan2(self.num(&b)))
            }
            "rand" => {
                self.rand ^= self.rand << 13;
                self.rand ^= self.rand >> 7;
                self.rand ^= self.rand << 17;
                V::Num((self.rand >> 11) as f64 / (1u64 << 53) as f64)
            }
            "srand" => {
                let prev = self.prev_seed;
                let seed = if nargs > 0 {
                    let v = arg(self, 0)?;
                    self.num(&v)
                } else {
                    crate::fsutil::now().0 as f64
                };
                self.prev_seed = seed;
                self.rand =
                    (seed as i64 as u64).wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
                V::Num(prev)
            }
            "tolower" | "toupper" => {
                let v = arg(self, 0)?;
                let s = self.str_of(&v);
                V::Str(if name == "tolower" { s.to_lowercase() } else { s.to_uppercase() })
            }
            "system" => {
                let v = arg(self, 0)?;
                let c = self.str_of(&v);
                self.flush_pipes();
                let (o, st) = (self.run)(&c, Vec::new());
                self.out.extend_from_slice(&o);
                V::Num(st as f64)
            }
            "close" => {
                let v = arg(self, 0)?;
                let n = self.str_of(&v);
                self.readers.remove(&n);
                self.cmd_readers.remove(&n);
                if let Some(i) = self.pipes.iter().position(|(c, _)| *c == n) {
                    let (c, data) = self.pipes.remove(i);
                    let (o, st) = (self.run)(&c, data);
                    self.out.extend_from_slice(&o);
                    return Ok(V::Num(st as f64));
                }
                V::Num(0.0)
            }
            "fflush" => V::Num(0.0),
            "systime" => V::Num(crate::fsutil::now().0 as f64),
            _ => return Err(format!("function {name} not supported")),
        })
    }

    fn format(&mut self, vals: &[V]) -> String {
        let fmt = self.str_of(&vals[0]);
        let mut i = 1;
        let me = &*self;
        printf::sprintf(
            &fmt,
            &mut |c| {
                let v = vals.get(i)?;
                i += 1;
                Some(match c {
                    'd' | 'i' | 'o' | 'u' | 'x' | 'X' => Val::F(me.num(v)),
                    'f' | 'F' | 'e' | 'E' | 'g' | 'G' => Val::F(me.num(v)),
                    'c' => match v {
                        V::Num(n) => Val::I(*n as i64),
                        other => Val::S(me.str_of(other)),
                    },
                    _ => Val::S(me.str_of(v)),
                })
            },
            false,
        )
        .0
    }

    fn flush_pipes(&mut self) {
        let pipes = std::mem::take(&mut self.pipes);
        for (c, data) in pipes {
            let (o, _) = (self.run)(&c, data);
            self.out.extend_from_slice(&o);
        }
    }

    fn emit(&mut self, data: String, r: &Option<Redir>) -> Result<(), String> {
        match r {
            None => self.out.extend_from_slice(data.as_bytes()),
            Some(Redir::File(e)) | Some(Redir::Append(e)) => {
                let v = self.eval(e)?;
                let name = self.str_of(&v);
                match name.as_str() {
                    "/dev/stdout" | "-" => self.out.extend_from_slice(data.as_bytes()),
                    "/dev/stderr" => self.err.extend_from_slice(data.as_bytes()),
                    _ => {
                        let append = matches!(r, Some(Redir::Append(_)));
                        match self.files.iter_mut().find(|(n, _, _)| *n == name) {
                            Some((_, buf, _)) => buf.extend_from_slice(data.as_bytes()),
                            None => self.files.push((name, data.into_bytes(), append)),
                        }
                    }
                }
            }
            Some(Redir::Pipe(e)) => {
                let v = self.eval(e)?;
                let name = self.str_of(&v);
                match self.pipes.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, buf)) => buf.extend_from_slice(data.as_bytes()),
                    None => self.pipes.push((name, data.into_bytes())),
                }
            }
        }
        if self.out.len() > crate::exec::MAX_BUF {
            return Err("output too large".into());
        }
        Ok(())
    }

    fn exec_block(&mut self, b: &[S]) -> Result<Ctl, String> {
        for s in b {
            match self.exec(s)? {
                Ctl::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Ctl::Normal)
    }

    fn exec(&mut self, s: &S) -> Result<Ctl, String> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err("program ran too long (step limit)".into());
        }
        match s {
            S::Expr(e) => {
                self.eval(e)?;
            }
            S::Print(args, r) => {
                let mut parts = Vec::new();
                if args.is_empty() {
                    parts.push(self.record.clone());
                } else {
                    for a in args {
                        let v = self.eval(a)?;
                        parts.push(self.out_str(&v));
                    }
                }
                let ofs = self.gstr("OFS");
                let ors = self.gstr("ORS");
                let line = parts.join(&ofs) + &ors;
                self.emit(line, r)?;
            }
            S::Printf(args, r) => {
                let mut vals = Vec::new();
                for a in args {
                    vals.push(self.eval(a)?);
                }
                let s = self.format(&vals);
                self.emit(s, r)?;
            }
            S::If(c, a, b) => {
                let v = self.eval(c)?;
                if self.truthy(&v) {
                    return self.exec(a);
                } else if let Some(b) = b {
                    return self.exec(b);
                }
            }
            S::While(c, body) => loop {
                let v = self.eval(c)?;
                if !self.truthy(&v) {
                    break;
                }
                match self.exec(body)? {
                    Ctl::Break => break,
                    Ctl::Continue | Ctl::Normal => {}
                    other => return Ok(other),
                }
            },
            S::Do(body, c) => loop {
                match self.exec(body)? {
                    Ctl::Break => break,
                    Ctl::Continue | Ctl::Normal => {}
                    other => return Ok(other),
                }
                let v = self.eval(c)?;
                if !self.truthy(&v) {
                    break;
                }
            },
            S::For(init, cond, step, body) => {
                if let Some(i) = init {
                    self.exec(i)?;
                }
                loop {
                    if let Some(c) = cond {
                        let v = self.eval(c)?;
                        if !self.truthy(&v) {
                            break;
                        }
                    }
                    match self.exec(body)? {
                        Ctl::Break => break,
                        Ctl::Continue | Ctl::Normal => {}
                        other => return Ok(other),
                    }
                    if let Some(st) = step {
                        self.exec(st)?;
                    }
                }
            }
            S::ForIn(var, arr, body) => {
                let a = self.array(arr)?;
                let mut keys: Vec<String> = self.arrays[a].keys().cloned().collect();
                // deterministic order: numeric keys numerically, then strings
                keys.sort_by(|x, y| match (looks_numeric(x), looks_numeric(y)) {
                    (true, true) => to_num(x).partial_cmp(&to_num(y)).unwrap_or(std::cmp::Ordering::Equal),
                    (true, false) => std::cmp::Ordering::Less,
                    (false, true) => std::cmp::Ordering::Greater,
                    _ => x.cmp(y),
                });
                for k in keys {
                    if !self.arrays[a].contains_key(&k) {
                        continue;
                    }
                    self.set_var(var, V::StrNum(k))?;
                    match self.exec(body)? {
                        Ctl::Break => break,
                        Ctl::Continue | Ctl::Normal => {}
                        other => return Ok(other),
                    }
                }
            }
            S::Block(b) => return self.exec_block(b),
            S::Next => return Ok(Ctl::Next),
            S::NextFile => return Ok(Ctl::NextFile),
            S::Exit(e) => {
                if let Some(e) = e {
                    let v = self.eval(e)?;
                    self.exit_code = self.num(&v) as i32;
                }
                return Ok(Ctl::Exit);
            }
            S::Return(e) => {
                let v = match e {
                    Some(e) => self.eval(e)?,
                    None => V::Uninit,
                };
                return Ok(Ctl::Return(v));
            }
            S::Break => return Ok(Ctl::Break),
            S::Continue => return Ok(Ctl::Continue),
            S::Delete(n, subs) => {
                let a = self.array(n)?;
                match subs {
                    Some(s) => {
                        let k = self.key(s)?;
                        self.arrays[a].remove(&k);
                    }
                    None => self.arrays[a].clear(),
                }
            }
        }
        Ok(Ctl::Normal)
    }

    fn matches(&mut self, p: &Pat) -> Result<bool, String> {
        Ok(match p {
            Pat::All => true,
            Pat::Begin | Pat::End => false,
            Pat::Expr(e) => {
                let v = self.eval(e)?;
                self.truthy(&v)
            }
            Pat::Range(a, b, id) => {
                if self.range_on[*id] {
                    let v = self.eval(b)?;
                    if self.truthy(&v) {
                        self.range_on[*id] = false;
                    }
                    true
                } else {
                    let v = self.eval(a)?;
                    if self.truthy(&v) {
                        let v2 = self.eval(b)?;
                        if !self.truthy(&v2) {
                            self.range_on[*id] = true;
                        }
                        true
                    } else {
                        false
                    }
                }
            }
        })
    }

    fn run_action(&mut self, act: &Option<Vec<S>>) -> Result<Ctl, String> {
        match act {
            Some(b) => self.exec_block(b),
            None => {
                let line = self.record.clone() + &self.gstr("ORS");
                self.emit(line, &None)?;
                Ok(Ctl::Normal)
            }
        }
    }

    /// Run the whole program. Returns the exit code; output is in `out`/`err`, files via `files()`.
    pub fn run(&mut self, prog: &Program) -> i32 {
        match self.run_inner(prog) {
            Ok(()) => {}
            Err(e) => {
                if !e.starts_with('\u{0}') {
                    self.err.extend_from_slice(format!("awk: {e}\n").as_bytes());
                    self.exit_code = 2;
                }
            }
        }
        self.flush_pipes();
        self.exit_code
    }

    fn run_inner(&mut self, prog: &Program) -> Result<(), String> {
        let mut exiting = false;
        for (p, a) in &prog.items {
            if matches!(p, Pat::Begin) {
                match self.run_action(a) {
                    Ok(Ctl::Exit) => {
                        exiting = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(e) if e == "\u{0}exit" => {
                        exiting = true;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let has_main = prog.items.iter().any(|(p, _)| !matches!(p, Pat::Begin));
        if !exiting && has_main {
            'records: while let Some(rec) = self.next_main_record() {
                self.set_record(rec);
                for (p, a) in &prog.items {
                    if matches!(p, Pat::Begin | Pat::End) {
                        continue;
                    }
                    let r = if self.matches(p)? { self.run_action(a) } else { Ok(Ctl::Normal) };
                    match r {
                        Ok(Ctl::Next) => continue 'records,
                        Ok(Ctl::NextFile) => {
                            self.cur_input += 1;
                            self.cur_pos = 0;
                            self.fnr = 0.0;
                            continue 'records;
                        }
                        Ok(Ctl::Exit) => {
                            exiting = true;
                            break 'records;
                        }
                        Ok(_) => {}
                        Err(e) if e == "\u{0}next" => continue 'records,
                        Err(e) if e == "\u{0}exit" => {
                            exiting = true;
                            break 'records;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        let _ = exiting;
        for (p, a) in &prog.items {
            if matches!(p, Pat::End) {
                match self.run_action(a) {
                    Ok(Ctl::Exit) => break,
                    Ok(_) => {}
                    Err(e) if e == "\u{0}exit" => break,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Files written with `>`/`>>`: (name, data, append).
    pub fn files(&mut self) -> Vec<(String, Vec<u8>, bool)> {
        std::mem::take(&mut self.files)
    }
}

fn uses_as_array(body: &[S], name: &str) -> bool {
    fn e_uses(e: &E, n: &str) -> bool {
        match e {
            E::Index(a, subs) => a == n || subs.iter().any(|s| e_uses(s, n)),
            E::In(subs, a) => a == n || subs.iter().any(|s| e_uses(s, n)),
            E::Builtin(b, args) => {
                (b == "split" && matches!(args.get(1), Some(E::Var(x)) if x == n))
                    || (b == "match" && matches!(args.get(2), Some(E::Var(x)) if x == n))
                    || args.iter().any(|a| e_uses(a, n))
            }
            E::Field(a) | E::Not(a) | E::Neg(a) | E::Plus(a) | E::Incr(_, _, a) => e_uses(a, n),
            E::Assign(_, a, b)
            | E::And(a, b)
            | E::Or(a, b)
            | E::Bin(_, a, b)
            | E::Cmp(_, a, b)
            | E::Match(_, a, b)
            | E::Concat(a, b) => e_uses(a, n) || e_uses(b, n),
            E::Cond(a, b, c) => e_uses(a, n) || e_uses(b, n) || e_uses(c, n),
            E::Call(_, args) | E::Group(args) => args.iter().any(|a| e_uses(a, n)),
            _ => false,
        }
    }
    fn s_uses(s: &S, n: &str) -> bool {
        match s {
            S::Expr(e) => e_uses(e, n),
            S::Print(a, _) | S::Printf(a, _) => a.iter().any(|e| e_uses(e, n)),
            S::If(c, a, b) => e_uses(c, n) || s_uses(a, n) || b.as_ref().is_some_and(|b| s_uses(b, n)),
            S::While(c, b) | S::Do(b, c) => e_uses(c, n) || s_uses(b, n),
            S::For(i, c, st, b) => {
                i.as_ref().is_some_and(|i| s_uses(i, n))
                    || c.as_ref().is_some_and(|c| e_uses(c, n))
                    || st.as_ref().is_some_and(|s| s_uses(s, n))
                    || s_uses(b, n)
            }
            S::ForIn(_, a, b) => a == n || s_uses(b, n),
            S::Block(b) => b.iter().any(|s| s_uses(s, n)),
            S::Delete(a, _) => a == n,
            S::Exit(e) | S::Return(e) => e.as_ref().is_some_and(|e| e_uses(e, n)),
            _ => false,
        }
    }
    body.iter().any(|s| s_uses(s, name))
}
