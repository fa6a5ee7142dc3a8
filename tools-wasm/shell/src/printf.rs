//! printf-style formatting shared by `printf` and awk.

pub enum Val {
    S(String),
    I(i64),
    F(f64),
}

/// Process backslash escapes (`\n`, `\t`, `\\`, `\0NNN`, `\xHH`, ...). Returns (text, stop) where stop is set by `\c`.
pub fn escapes(s: &str, octal_needs_zero: bool) -> (String, bool) {
    let c: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < c.len() {
        if c[i] != '\\' || i + 1 >= c.len() {
            out.push(c[i]);
            i += 1;
            continue;
        }
        i += 1;
        match c[i] {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            'e' | 'E' => out.push('\x1b'),
            '\\' => out.push('\\'),
            'c' => return (out, true),
            'x' => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 && i + 1 < c.len() && c[i + 1].is_ascii_hexdigit() {
                    v = v * 16 + c[i + 1].to_digit(16).unwrap_or(0);
                    i += 1;
                    n += 1;
                }
                if n == 0 {
                    out.push_str("\\x");
                } else {
                    out.push(char::from_u32(v).unwrap_or('?'));
                }
            }
            'u' | 'U' => {
                let max = if c[i] == 'u' { 4 } else { 8 };
                let mut v = 0u32;
                let mut n = 0;
                while n < max && i + 1 < c.len() && c[i + 1].is_ascii_hexdigit() {
                    v = v.wrapping_mul(16).wrapping_add(c[i + 1].to_digit(16).unwrap_or(0));
                    i += 1;
                    n += 1;
                }
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            d if d.is_digit(8) && (d == '0' || !octal_needs_zero) => {
                let mut v = 0u32;
                let mut n = 0;
                let max = if d == '0' && octal_needs_zero { 4 } else { 3 };
                while n < max && i < c.len() && c[i].is_digit(8) {
                    v = v * 8 + c[i].to_digit(8).unwrap_or(0);
                    i += 1;
                    n += 1;
                }
                i -= 1;
                out.push(char::from_u32(v & 0xff).unwrap_or('?'));
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
        i += 1;
    }
    (out, false)
}

fn fix_exp(s: &str, upper: bool) -> String {
    // Rust "1.5e2" -> "1.5e+02"
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            let e = if upper { 'E' } else { 'e' };
            format!("{m}{e}{sign}{digits:0>2}")
        }
        None => s.to_string(),
    }
}

pub fn fmt_e(v: f64, prec: usize, upper: bool) -> String {
    if !v.is_finite() {
        return nonfinite(v, upper);
    }
    fix_exp(&format!("{v:.prec$e}"), upper)
}

fn nonfinite(v: f64, upper: bool) -> String {
    let s = if v.is_nan() {
        "nan"
    } else if v > 0.0 {
        "inf"
    } else {
        "-inf"
    };
    if upper { s.to_uppercase() } else { s.to_string() }
}

pub fn fmt_g(v: f64, prec: usize, upper: bool, alt: bool) -> String {
    if !v.is_finite() {
        return nonfinite(v, upper);
    }
    let p = if prec == 0 { 1 } else { prec };
    if v == 0.0 {
        return if alt { format!("{:.*}", p - 1, 0.0) } else { "0".into() };
    }
    let e = format!("{v:.*e}", p - 1);
    let x: i32 = e.split_once('e').and_then(|(_, x)| x.parse().ok()).unwrap_or(0);
    let s = if x < -4 || x >= p as i32 {
        let m = e.split_once('e').map(|(m, _)| m.to_string()).unwrap_or_default();
        let m = if alt { m } else { strip_zeros(&m) };
        fix_exp(&format!("{m}e{x}"), upper)
    } else {
        let f = format!("{v:.*}", (p as i32 - 1 - x).max(0) as usize);
        if alt { f } else { strip_zeros(&f) }
    };
    s
}

fn strip_zeros(s: &str) -> String {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s.to_string() }
}

struct Spec {
    minus: bool,
    plus: bool,
    space: bool,
    alt: bool,
    zero: bool,
    width: usize,
    prec: Option<usize>,
}

fn pad(s: String, sp: &Spec, numeric: bool) -> String {
    let len = s.chars().count();
    if len >= sp.width {
        return s;
    }
    let n = sp.width - len;
    if sp.minus {
        format!("{s}{}", " ".repeat(n))
    } else if sp.zero && numeric {
        // zeros after sign / 0x prefix
        let (pre, rest) = if s.starts_with(['-', '+', ' ']) { s.split_at(1) } else { ("", &s[..]) };
        let (pre2, rest) = if rest.starts_with("0x") || rest.starts_with("0X") { rest.split_at(2) } else { ("", rest) };
        format!("{pre}{pre2}{}{rest}", "0".repeat(n))
    } else {
        format!("{}{s}", " ".repeat(n))
    }
}

fn sign(neg: bool, sp: &Spec) -> &'static str {
    if neg {
        "-"
    } else if sp.plus {
        "+"
    } else if sp.space {
        " "
    } else {
        ""
    }
}

/// Format one conversion.
fn conv(c: char, sp: &Spec, v: Val) -> String {
    match c {
        'd' | 'i' => {
            let n = match v {
                Val::I(i) => i,
                Val::F(f) => f as i64,
                Val::S(s) => s.trim().parse().unwrap_or(0),
            };
            let mut digits = n.unsigned_abs().to_string();
            if let Some(p) = sp.prec {
                if p == 0 && n == 0 {
                    digits.clear();
                }
                while digits.len() < p {
                    digits.insert(0, '0');
                }
            }
            let s = format!("{}{digits}", sign(n < 0, sp));
            let sp2 = Spec { zero: sp.zero && sp.prec.is_none(), ..*sp };
            pad(s, &sp2, true)
        }
        'o' | 'u' | 'x' | 'X' => {
            let n = match v {
                Val::I(i) => i as u64,
                Val::F(f) => (f as i64) as u64,
                Val::S(s) => s.trim().parse::<i64>().map(|i| i as u64).unwrap_or(0),
            };
            let mut digits = match c {
                'o' => format!("{n:o}"),
                'u' => n.to_string(),
                'x' => format!("{n:x}"),
                _ => format!("{n:X}"),
            };
            if let Some(p) = sp.prec {
                while digits.len() < p {
                    digits.insert(0, '0');
                }
            }
            if sp.alt && n != 0 {
                digits = match c {
                    'o' => format!("0{digits}"),
                    'x' => format!("0x{digits}"),
                    'X' => format!("0X{digits}"),
                    _ => digits,
                };
            }
            let sp2 = Spec { zero: sp.zero && sp.prec.is_none(), ..*sp };
            pad(digits, &sp2, true)
        }
        'f' | 'F' | 'e' | 'E' | 'g' | 'G' => {
            let f = match v {
                Val::I(i) => i as f64,
                Val::F(f) => f,
                Val::S(s) => s.trim().parse().unwrap_or(0.0),
            };
            let p = sp.prec.unwrap_or(6);
            let body = match c {
                'f' | 'F' => {
                    if f.is_finite() {
                        let s = format!("{:.p$}", f.abs());
                        if sp.alt && p == 0 { s + "." } else { s }
                    } else {
                        nonfinite(f.abs(), c == 'F')
                    }
                }
                'e' | 'E' => fmt_e(f.abs(), p, c == 'E'),
                _ => fmt_g(f.abs(), p, c == 'G', sp.alt),
            };
            let neg = f.is_sign_negative() && !f.is_nan();
            let s = format!("{}{body}", sign(neg, sp));
            pad(s, sp, f.is_finite())
        }
        'c' => {
            let s = match v {
                Val::S(s) => s.chars().next().map(|c| c.to_string()).unwrap_or_default(),
                Val::I(i) => char::from_u32(i as u32).map(|c| c.to_string()).unwrap_or_default(),
                Val::F(f) => char::from_u32(f as u32).map(|c| c.to_string()).unwrap_or_default(),
            };
            pad(s, sp, false)
        }
        _ => {
            let mut s = match v {
                Val::S(s) => s,
                Val::I(i) => i.to_string(),
                Val::F(f) => f.to_string(),
            };
            if let Some(p) = sp.prec {
                s = s.chars().take(p).collect();
            }
            pad(s, sp, false)
        }
    }
}

/// Format `fmt` once. `next(conv)` supplies the argument for each conversion (None = missing).
/// Returns (output, stop) where stop is set when `\c` was met in a `%b` argument or the format.
pub fn sprintf(fmt: &str, next: &mut dyn FnMut(char) -> Option<Val>, shell_escapes: bool) -> (String, bool) {
    let c: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut lit = String::new();
    let flush = |lit: &mut String, out: &mut String| -> bool {
        if lit.is_empty() {
            return false;
        }
        if shell_escapes {
            let (s, stop) = escapes(lit, false);
            out.push_str(&s);
            lit.clear();
            stop
        } else {
            out.push_str(lit);
            lit.clear();
            false
        }
    };
    while i < c.len() {
        if c[i] != '%' {
            if c[i] == '\\' && i + 1 < c.len() {
                lit.push(c[i]);
                lit.push(c[i + 1]);
                i += 2;
                continue;
            }
            lit.push(c[i]);
            i += 1;
            continue;
        }
        if flush(&mut lit, &mut out) {
            return (out, true);
        }
        i += 1;
        if i >= c.len() {
            out.push('%');
            break;
        }
        if c[i] == '%' {
            out.push('%');
            i += 1;
            continue;
        }
        let mut sp = Spec { minus: false, plus: false, space: false, alt: false, zero: false, width: 0, prec: None };
        while i < c.len() {
            match c[i] {
                '-' => sp.minus = true,
                '+' => sp.plus = true,
                ' ' => sp.space = true,
                '#' => sp.alt = true,
                '0' => sp.zero = true,
                '\'' => {}
                _ => break,
            }
            i += 1;
        }
        if i < c.len() && c[i] == '*' {
            let w = match next('d') {
                Some(Val::I(n)) => n,
                Some(Val::F(f)) => f as i64,
                Some(Val::S(s)) => s.trim().parse().unwrap_or(0),
                None => 0,
            };
            if w < 0 {
                sp.minus = true;
            }
            sp.width = (w.unsigned_abs() as usize).min(4096);
            i += 1;
        } else {
            while i < c.len() && c[i].is_ascii_digit() {
                sp.width = (sp.width * 10 + c[i].to_digit(10).unwrap_or(0) as usize).min(4096);
                i += 1;
            }
        }
        if i < c.len() && c[i] == '.' {
            i += 1;
            let mut p = 0usize;
            if i < c.len() && c[i] == '*' {
                p = match next('d') {
                    Some(Val::I(n)) => n.max(0) as usize,
                    Some(Val::F(f)) => f.max(0.0) as usize,
                    Some(Val::S(s)) => s.trim().parse().unwrap_or(0),
                    None => 0,
                };
                i += 1;
            } else {
                while i < c.len() && c[i].is_ascii_digit() {
                    p = (p * 10 + c[i].to_digit(10).unwrap_or(0) as usize).min(4096);
                    i += 1;
                }
            }
            sp.prec = Some(p.min(4096));
        }
        // length modifiers
        while i < c.len() && matches!(c[i], 'l' | 'h' | 'L' | 'q' | 'j' | 'z' | 't') {
            i += 1;
        }
        let Some(&cv) = c.get(i) else {
            break;
        };
        i += 1;
        match cv {
            'b' => {
                let s = match next('s') {
                    Some(Val::S(s)) => s,
                    Some(Val::I(n)) => n.to_string(),
                    Some(Val::F(f)) => f.to_string(),
                    None => String::new(),
                };
                let (s, stop) = escapes(&s, true);
                out.push_str(&pad(s, &sp, false));
                if stop {
                    return (out, true);
                }
            }
            'd' | 'i' | 'o' | 'u' | 'x' | 'X' | 'f' | 'F' | 'e' | 'E' | 'g' | 'G' | 'c' | 's' => {
                let v = next(cv).unwrap_or(match cv {
                    's' | 'c' => Val::S(String::new()),
                    'f' | 'F' | 'e' | 'E' | 'g' | 'G' => Val::F(0.0),
                    _ => Val::I(0),
                });
                out.push_str(&conv(cv, &sp, v));
            }
            other => {
                out.push('%');
                out.push(other);
            }
        }
    }
    let stop = flush(&mut lit, &mut out);
    (out, stop)
}
