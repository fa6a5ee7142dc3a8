//! jq, backed by jaq.

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx as JCtx, Vars, data, unwrap_valr};
use jaq_json::Val;

use super::Ctx;

fn write_val(out: &mut Vec<u8>, v: &Val, raw: bool, indent: Option<String>, sort_keys: bool) {
    if raw && let Val::TStr(b) = v {
        out.extend_from_slice(b);
        return;
    }
    let sep_space = indent.is_some();
    let pp = jaq_json::write::Pp { indent, sort_keys, styles: Default::default(), sep_space };
    let mut buf = Vec::new();
    let _ = jaq_json::write::write(&mut buf, &pp, 0, v);
    out.extend_from_slice(&fix_empty(&buf));
}

/// jaq pretty-prints empty containers as "[\n]"; jq prints "[]".
fn fix_empty(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let mut in_str = false;
    while i < b.len() {
        let c = b[i];
        if in_str {
            out.push(c);
            if c == b'\\' && i + 1 < b.len() {
                out.push(b[i + 1]);
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        if c == b'"' {
            in_str = true;
        }
        if (c == b'[' || c == b'{') && i + 1 < b.len() && b[i + 1] == b'\n' {
            let close = if c == b'[' { b']' } else { b'}' };
            let mut j = i + 1;
            while j < b.len() && (b[j] == b'\n' || b[j] == b' ' || b[j] == b'\t') {
                j += 1;
            }
            if j < b.len() && b[j] == close {
                out.push(c);
                out.push(close);
                i = j + 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

fn parse_json(s: &[u8]) -> Result<Vec<Val>, String> {
    let mut v = Vec::new();
    for r in jaq_json::read::parse_many(s) {
        v.push(r.map_err(|e| e.to_string())?);
    }
    Ok(v)
}

pub fn jq(ctx: &mut Ctx, args: &[String]) -> i32 {
    let mut raw = false;
    let mut join = false;
    let mut compact = false;
    let mut slurp = false;
    let mut null_input = false;
    let mut exit_status = false;
    let mut sort_keys = false;
    let mut raw_input = false;
    let mut tab = false;
    let mut indent_n = 2usize;
    let mut vars: Vec<(String, Val)> = Vec::new();
    let mut pos = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        match a.as_str() {
            "-r" | "--raw-output" => raw = true,
            "-j" | "--join-output" => {
                raw = true;
                join = true;
            }
            "-c" | "--compact-output" => compact = true,
            "-s" | "--slurp" => slurp = true,
            "-n" | "--null-input" => null_input = true,
            "-e" | "--exit-status" => exit_status = true,
            "-S" | "--sort-keys" => sort_keys = true,
            "-R" | "--raw-input" => raw_input = true,
            "-M" | "-C" | "--monochrome-output" | "--color-output" | "-a" | "--ascii-output" | "--unbuffered" => {}
            "--tab" => tab = true,
            "--indent" => {
                indent_n = args.get(i).and_then(|v| v.parse().ok()).unwrap_or(2).min(7);
                i += 1;
            }
            "--arg" | "--argjson" | "--slurpfile" | "--rawfile" => {
                let (Some(name), Some(val)) = (args.get(i).cloned(), args.get(i + 1).cloned()) else {
                    ctx.errln(format!("jq: error: {a} takes two parameters (e.g. {a} varname value)"));
                    return 2;
                };
                i += 2;
                let v = match a.as_str() {
                    "--arg" => Val::from(val),
                    "--argjson" => match parse_json(val.as_bytes()) {
                        Ok(mut v) if v.len() == 1 => v.remove(0),
                        _ => {
                            ctx.errln(format!("jq: Invalid JSON text passed to --argjson"));
                            return 2;
                        }
                    },
                    _ => {
                        let Some(d) = ctx.read_input("jq", &val) else { return 2 };
                        if a == "--rawfile" {
                            Val::from(String::from_utf8_lossy(&d).into_owned())
                        } else {
                            match parse_json(&d) {
                                Ok(v) => Val::Arr(v.into()),
                                Err(e) => {
                                    ctx.errln(format!("jq: Bad JSON in --slurpfile {name} {val}: {e}"));
                                    return 2;
                                }
                            }
                        }
                    }
                };
                vars.push((format!("${name}"), v));
            }
            s if s.starts_with('-')
                && s.len() > 1
                && !s.starts_with("--")
                && s[1..].chars().all(|c| "rjcsneSRMCa".contains(c)) =>
            {
                for c in s[1..].chars() {
                    match c {
                        'r' => raw = true,
                        'j' => {
                            raw = true;
                            join = true
                        }
                        'c' => compact = true,
                        's' => slurp = true,
                        'n' => null_input = true,
                        'e' => exit_status = true,
                        'S' => sort_keys = true,
                        'R' => raw_input = true,
                        _ => {}
                    }
                }
            }
            s if s.starts_with('-') && s.len() > 1 => {
                ctx.errln(format!("jq: Unknown option: {s}"));
                return 2;
            }
            _ => pos.push(a.clone()),
        }
    }
    if pos.is_empty() {
        ctx.errln("Usage:\tjq [OPTIONS] FILTER [FILES...]");
        return 2;
    }
    let filter_src = pos.remove(0);
    // $ENV
    let env_obj = {
        let pairs: Vec<String> =
            ctx.sh.env().into_iter().map(|(k, v)| format!("{}:{}", json_str(&k), json_str(&v))).collect();
        parse_json(format!("{{{}}}", pairs.join(",")).as_bytes()).ok().and_then(|mut v| v.pop()).unwrap_or_default()
    };
    vars.push(("$ENV".into(), env_obj));
    let named: Vec<(String, Val)> =
        vars.iter().filter(|(n, _)| n != "$ENV").map(|(n, v)| (n[1..].to_string(), v.clone())).collect();
    let named_obj = {
        let mut s = String::from("{");
        for (k, (n, _)) in named.iter().enumerate() {
            if k > 0 {
                s.push(',');
            }
            s.push_str(&format!("{}:null", json_str(n)));
        }
        s.push('}');
        s
    };
    let _ = named_obj;

    // inputs
    let mut inputs: Vec<Val> = Vec::new();
    if !null_input || slurp || raw_input {
        let mut data = Vec::new();
        if pos.is_empty() {
            data = ctx.stdin();
        } else {
            for f in &pos {
                match ctx.read_input("jq", f) {
                    Some(d) => {
                        data.extend_from_slice(&d);
                        data.push(b'\n');
                    }
                    None => return 2,
                }
            }
        }
        if raw_input {
            let text = String::from_utf8_lossy(&data).into_owned();
            if slurp {
                inputs.push(Val::from(text));
            } else {
                for l in text.lines() {
                    inputs.push(Val::from(l.to_string()));
                }
            }
        } else {
            match parse_json(&data) {
                Ok(v) => {
                    if slurp {
                        inputs.push(Val::Arr(v.into()));
                    } else {
                        inputs = v;
                    }
                }
                Err(e) => {
                    ctx.errln(format!("jq: error (at <stdin>:0): Cannot parse input: {e}"));
                    return 2;
                }
            }
        }
    }
    if null_input {
        inputs = vec![Val::Null];
    }

    let defs = jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs());
    let funs = jaq_core::funs().chain(jaq_std::funs()).chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let program = File { code: filter_src.as_str(), path: () };
    let modules = match loader.load(&arena, program) {
        Ok(m) => m,
        Err(errs) => {
            for (_, e) in errs {
                ctx.errln(format!("jq: error: {}", load_err(&e)));
            }
            ctx.errln("jq: 1 compile error");
            return 3;
        }
    };
    let names: Vec<String> = vars.iter().map(|(n, _)| n.clone()).collect();
    let filter =
        match Compiler::default().with_funs(funs).with_global_vars(names.iter().map(|s| s.as_str())).compile(modules) {
            Ok(f) => f,
            Err(errs) => {
                for (_, e) in errs {
                    for (name, kind) in e {
                        ctx.errln(format!("jq: error: {kind:?} {name} is not defined"));
                    }
                }
                ctx.errln("jq: 1 compile error");
                return 3;
            }
        };
    let values: Vec<Val> = vars.into_iter().map(|(_, v)| v).collect();
    let jctx = JCtx::<data::JustLut<Val>>::new(&filter.lut, Vars::new(values));
    let indent = if compact {
        None
    } else if tab {
        Some("\t".to_string())
    } else {
        Some(" ".repeat(indent_n))
    };
    let indent = if indent.as_deref() == Some("") { None } else { indent };
    let mut last: Option<Val> = None;
    let mut st = 0;
    let mut count = 0u64;
    'outer: for input in inputs {
        for r in filter.id.run((jctx.clone(), input)).map(unwrap_valr) {
            count += 1;
            if count > 10_000_000 || ctx.out.len() > crate::exec::MAX_BUF {
                ctx.errln("jq: error: too much output");
                st = 5;
                break 'outer;
            }
            match r {
                Ok(v) => {
                    write_val(ctx.out, &v, raw, indent.clone(), sort_keys);
                    if !join {
                        ctx.out.push(b'\n');
                    }
                    last = Some(v);
                }
                Err(e) => {
                    ctx.errln(format!("jq: error (at <stdin>:0): {e}"));
                    st = 5;
                    break;
                }
            }
        }
    }
    if st != 0 {
        return st;
    }
    if exit_status {
        return match last {
            None => 4,
            Some(Val::Null) | Some(Val::Bool(false)) => 1,
            _ => 0,
        };
    }
    0
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn load_err<S: std::fmt::Debug>(e: &jaq_core::load::Error<S>) -> String {
    match e {
        jaq_core::load::Error::Io(errs) => format!("{errs:?}"),
        jaq_core::load::Error::Lex(errs) => {
            let v: Vec<String> = errs.iter().map(|(expect, _)| format!("lexing error: expected {expect:?}")).collect();
            format!("syntax error: {}", v.join("; "))
        }
        jaq_core::load::Error::Parse(errs) => {
            let v: Vec<String> =
                errs.iter().map(|(expect, found)| format!("expected {expect:?} near {found:?}")).collect();
            format!("syntax error: {}", v.join("; "))
        }
    }
}
