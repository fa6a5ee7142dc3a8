//! Path resolution, glob matching, error messages, sizes and dates.

use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Join `p` onto `base` (if relative) and resolve `.`/`..` lexically.
pub fn normalize(base: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
        }
    }
    out
}

/// Human message for an I/O error, like strerror.
pub fn errmsg(e: &io::Error) -> String {
    use io::ErrorKind::*;
    match e.kind() {
        NotFound => "No such file or directory".into(),
        PermissionDenied => "Permission denied".into(),
        AlreadyExists => "File exists".into(),
        IsADirectory => "Is a directory".into(),
        NotADirectory => "Not a directory".into(),
        DirectoryNotEmpty => "Directory not empty".into(),
        ReadOnlyFilesystem => "Read-only file system".into(),
        StorageFull => "No space left on device".into(),
        InvalidFilename => "File name too long".into(),
        CrossesDevices => "Invalid cross-device link".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}

/// fnmatch-style matching: `*`, `?`, `[abc]`, `[!a-z]`, `[[:alpha:]]`, backslash escapes.
pub fn fnmatch(pat: &str, s: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let t: Vec<char> = s.chars().collect();
    fnm(&p, &t, false)
}

pub fn fnmatch_ci(pat: &str, s: &str) -> bool {
    let p: Vec<char> = pat.to_lowercase().chars().collect();
    let t: Vec<char> = s.to_lowercase().chars().collect();
    fnm(&p, &t, false)
}

fn class_match(name: &str, c: char) -> bool {
    match name {
        "alpha" => c.is_alphabetic(),
        "digit" => c.is_ascii_digit(),
        "alnum" => c.is_alphanumeric(),
        "upper" => c.is_uppercase(),
        "lower" => c.is_lowercase(),
        "space" => c.is_whitespace(),
        "blank" => c == ' ' || c == '\t',
        "punct" => c.is_ascii_punctuation(),
        "xdigit" => c.is_ascii_hexdigit(),
        "cntrl" => c.is_control(),
        "print" => !c.is_control(),
        "graph" => !c.is_control() && c != ' ',
        _ => false,
    }
}

/// Try to match a bracket expression at p[0] == '['. Returns (matched, length of the bracket expr) or None if
/// the bracket is not closed (then '[' is literal).
fn bracket(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let neg = matches!(p.get(i), Some('!' | '^'));
    if neg {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let ch = *p.get(i)?;
        if ch == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        if ch == '[' && p.get(i + 1) == Some(&':') {
            let rest: String = p[i + 2..].iter().collect();
            if let Some(end) = rest.find(":]") {
                let name = &rest[..end];
                if class_match(name, c) {
                    matched = true;
                }
                i += 2 + name.chars().count() + 2;
                continue;
            }
        }
        let (lo, adv) = if ch == '\\' && i + 1 < p.len() { (p[i + 1], 2) } else { (ch, 1) };
        i += adv;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|&x| x != ']') {
            let hi = p[i + 1];
            i += 2;
            if lo <= c && c <= hi {
                matched = true;
            }
        } else if lo == c {
            matched = true;
        }
    }
    Some((matched != neg, i))
}

fn fnm(p: &[char], t: &[char], _inner: bool) -> bool {
    // iterative with backtracking on the last star
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((m, len)) = bracket(&p[pi..], t[ti]) {
                        if m {
                            pi += len;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() => {
                    if p[pi + 1] == t[ti] {
                        pi += 2;
                        ti += 1;
                        continue;
                    }
                }
                c => {
                    if c == t[ti] {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Does the (escaped) pattern contain active glob characters?
pub fn has_glob(pat: &str) -> bool {
    let mut esc = false;
    for c in pat.chars() {
        if esc {
            esc = false;
            continue;
        }
        match c {
            '\\' => esc = true,
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

fn unescape(pat: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in pat.chars() {
        if !esc && c == '\\' {
            esc = true;
            continue;
        }
        esc = false;
        out.push(c);
    }
    out
}

/// Expand a glob pattern (escaped with backslashes for literal characters) relative to `cwd`.
/// Returns matches as they should be displayed (relative if the pattern was relative), sorted.
pub fn glob(cwd: &Path, pat: &str) -> Vec<String> {
    let absolute = pat.starts_with('/');
    let comps: Vec<&str> = pat.split('/').filter(|c| !c.is_empty()).collect();
    let trailing_slash = pat.ends_with('/') && pat.len() > 1;
    // (display, real path)
    let mut cur: Vec<(String, PathBuf)> =
        vec![if absolute { ("/".to_string(), PathBuf::from("/")) } else { (String::new(), cwd.to_path_buf()) }];
    for (ci, comp) in comps.iter().enumerate() {
        let last = ci + 1 == comps.len();
        let mut next = Vec::new();
        for (disp, real) in &cur {
            let join = |name: &str| -> String {
                if disp.is_empty() {
                    name.to_string()
                } else if disp.ends_with('/') {
                    format!("{disp}{name}")
                } else {
                    format!("{disp}/{name}")
                }
            };
            if has_glob(comp) {
                let Ok(rd) = std::fs::read_dir(real) else { continue };
                let mut names: Vec<String> =
                    rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
                names.sort();
                for name in names {
                    if name.starts_with('.') && !comp.starts_with('.') && !comp.starts_with("\\.") {
                        continue;
                    }
                    if fnmatch(comp, &name) {
                        let rp = real.join(&name);
                        if (!last || trailing_slash) && !rp.is_dir() {
                            continue;
                        }
                        next.push((join(&name), rp));
                    }
                }
            } else {
                let name = unescape(comp);
                let rp = if name == ".." {
                    real.parent().map(|p| p.to_path_buf()).unwrap_or_else(|| real.clone())
                } else {
                    real.join(&name)
                };
                if std::fs::symlink_metadata(&rp).is_ok() {
                    next.push((join(&name), rp));
                }
            }
        }
        cur = next;
        if cur.is_empty() {
            break;
        }
    }
    let mut out: Vec<String> = cur.into_iter().map(|(d, _)| if trailing_slash { format!("{d}/") } else { d }).collect();
    out.sort();
    out
}

/// GNU `-h` style sizes: 1023, 1.0K, 9.9K, 10K, 1.5M.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    if n < 1024 {
        return n.to_string();
    }
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if v < 10.0 {
        let r = (v * 10.0).ceil() / 10.0;
        if r >= 10.0 { format!("{}{}", r as u64, UNITS[u]) } else { format!("{r:.1}{}", UNITS[u]) }
    } else {
        let r = v.ceil();
        if r >= 1024.0 && u < UNITS.len() - 1 {
            format!("1.0{}", UNITS[u + 1])
        } else {
            format!("{}{}", r as u64, UNITS[u])
        }
    }
}

pub fn unix_secs(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => (-(e.duration().as_secs() as i64), 0),
    }
}

pub fn now() -> (i64, u32) {
    unix_secs(SystemTime::now())
}

/// Broken-down UTC time.
#[derive(Debug, Clone, Copy)]
pub struct Tm {
    pub year: i64,
    pub mon: u32, // 1..=12
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    pub wday: u32, // 0 = Sunday
    pub yday: u32, // 0-based
    pub nanos: u32,
    pub secs: i64,
}

pub fn gmtime(secs: i64, nanos: u32) -> Tm {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // civil from days (Howard Hinnant)
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = if m <= 2 { y + 1 } else { y };
    let wday = (days + 4).rem_euclid(7) as u32;
    let yday = (days - days_from_civil(year, 1, 1)) as u32;
    Tm {
        year,
        mon: m,
        day: d,
        hour: (rem / 3600) as u32,
        min: (rem % 3600 / 60) as u32,
        sec: (rem % 60) as u32,
        wday,
        yday,
        nanos,
        secs,
    }
}

pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

pub const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
pub const MONTHS_LONG: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
pub const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
pub const DAYS_LONG: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// strftime subset (UTC).
pub fn strftime(fmt: &str, t: &Tm) -> String {
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        // flags: '-' (no pad), '_' (space pad), '0'
        let mut pad: Option<char> = None;
        while let Some(&f) = it.peek() {
            if matches!(f, '-' | '_' | '0' | '^') {
                pad = Some(f);
                it.next();
            } else {
                break;
            }
        }
        let Some(spec) = it.next() else {
            out.push('%');
            break;
        };
        let num = |v: i64, w: usize, def: char| -> String {
            match pad.unwrap_or(def) {
                '-' => v.to_string(),
                '_' | ' ' => format!("{v:>w$}"),
                _ => format!("{v:0w$}"),
            }
        };
        let h12 = if t.hour % 12 == 0 { 12 } else { t.hour % 12 };
        let s = match spec {
            'Y' => t.year.to_string(),
            'C' => num(t.year.div_euclid(100), 2, '0'),
            'y' => num(t.year.rem_euclid(100), 2, '0'),
            'm' => num(t.mon as i64, 2, '0'),
            'd' => num(t.day as i64, 2, '0'),
            'e' => num(t.day as i64, 2, '_'),
            'H' => num(t.hour as i64, 2, '0'),
            'k' => num(t.hour as i64, 2, '_'),
            'I' => num(h12 as i64, 2, '0'),
            'l' => num(h12 as i64, 2, '_'),
            'M' => num(t.min as i64, 2, '0'),
            'S' => num(t.sec as i64, 2, '0'),
            'N' => format!("{:09}", t.nanos),
            'j' => num(t.yday as i64 + 1, 3, '0'),
            's' => t.secs.to_string(),
            'a' => DAYS[t.wday as usize % 7].to_string(),
            'A' => DAYS_LONG[t.wday as usize % 7].to_string(),
            'b' | 'h' => MONTHS[(t.mon as usize + 11) % 12].to_string(),
            'B' => MONTHS_LONG[(t.mon as usize + 11) % 12].to_string(),
            'p' => (if t.hour < 12 { "AM" } else { "PM" }).to_string(),
            'P' => (if t.hour < 12 { "am" } else { "pm" }).to_string(),
            'u' => (if t.wday == 0 { 7 } else { t.wday }).to_string(),
            'w' => t.wday.to_string(),
            'Z' => "UTC".into(),
            'z' => "+0000".into(),
            'F' => format!("{}-{:02}-{:02}", t.year, t.mon, t.day),
            'T' => format!("{:02}:{:02}:{:02}", t.hour, t.min, t.sec),
            'R' => format!("{:02}:{:02}", t.hour, t.min),
            'D' => format!("{:02}/{:02}/{:02}", t.mon, t.day, t.year.rem_euclid(100)),
            'c' => format!(
                "{} {} {:>2} {:02}:{:02}:{:02} {}",
                DAYS[t.wday as usize % 7],
                MONTHS[(t.mon as usize + 11) % 12],
                t.day,
                t.hour,
                t.min,
                t.sec,
                t.year
            ),
            'x' => format!("{:02}/{:02}/{:02}", t.mon, t.day, t.year.rem_euclid(100)),
            'X' => format!("{:02}:{:02}:{:02}", t.hour, t.min, t.sec),
            'U' => num(((t.yday + 7 - t.wday) / 7) as i64, 2, '0'),
            'W' => num(((t.yday + 7 - (t.wday + 6) % 7) / 7) as i64, 2, '0'),
            'n' => "\n".into(),
            't' => "\t".into(),
            '%' => "%".into(),
            other => format!("%{other}"),
        };
        if pad == Some('^') {
            out.push_str(&s.to_uppercase());
        } else {
            out.push_str(&s);
        }
    }
    out
}

/// `ls -l` style timestamp: "Jan  2 15:04" within ~6 months of now, else "Jan  2  2006".
pub fn ls_time(secs: i64) -> String {
    let t = gmtime(secs, 0);
    let (now, _) = now();
    let m = MONTHS[(t.mon as usize + 11) % 12];
    if secs <= now + 3600 && now - secs < 182 * 86400 {
        format!("{m} {:>2} {:02}:{:02}", t.day, t.hour, t.min)
    } else {
        format!("{m} {:>2}  {}", t.day, t.year)
    }
}

/// "2024-01-02 15:04:05.000000000 +0000"
pub fn full_time(secs: i64, nanos: u32) -> String {
    let t = gmtime(secs, nanos);
    format!("{}-{:02}-{:02} {:02}:{:02}:{:02}.{:09} +0000", t.year, t.mon, t.day, t.hour, t.min, t.sec, nanos)
}

pub fn mtime(md: &std::fs::Metadata) -> (i64, u32) {
    md.modified().map(unix_secs).unwrap_or((0, 0))
}

/// Split into lines keeping content without the trailing newline; a final line without newline is included.
pub fn lines(data: &[u8]) -> Vec<&[u8]> {
    if data.is_empty() {
        return Vec::new();
    }
    let mut v: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if data.ends_with(b"\n") {
        v.pop();
    }
    v
}

/// Quote a name for error messages like GNU (`'name'`).
pub fn q(s: &str) -> String {
    if s.contains('\'') { format!("\"{s}\"") } else { format!("'{s}'") }
}
