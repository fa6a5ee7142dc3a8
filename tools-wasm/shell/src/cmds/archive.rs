//! tar, zip, unzip, gzip, gunzip, zcat.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::Ctx;
use crate::fsutil::{self, errmsg, q};

fn gunzip_bytes(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    MultiGzDecoder::new(data).read_to_end(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn gzip_bytes(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::new(level));
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

/// A relative path made safe for extraction (no root, no `..` escaping), after stripping `strip` components.
fn safe_rel(name: &str, strip: usize) -> Option<PathBuf> {
    let mut parts: Vec<String> = Vec::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop()?;
            }
            _ => {}
        }
    }
    if parts.len() <= strip {
        return None;
    }
    Some(parts[strip..].iter().collect())
}

// ---------------------------------------------------------------- tar

struct TarOpts {
    mode: Option<char>,
    file: Option<String>,
    dir: Option<String>,
    gzip: bool,
    verbose: bool,
    to_stdout: bool,
    strip: usize,
    excludes: Vec<String>,
    names: Vec<String>,
}

fn tar_args(args: &[String]) -> Result<TarOpts, String> {
    let mut o = TarOpts {
        mode: None,
        file: None,
        dir: None,
        gzip: false,
        verbose: false,
        to_stdout: false,
        strip: 0,
        excludes: vec![],
        names: vec![],
    };
    let mut i = 0;
    let mut pending: Vec<char> = Vec::new();
    let flag = |o: &mut TarOpts, c: char, pending: &mut Vec<char>| -> Result<(), String> {
        match c {
            'c' | 'x' | 't' | 'r' | 'u' => {
                if o.mode.is_some_and(|m| m != c) {
                    return Err(
                        "tar: You may not specify more than one '-Acdtrux', '--delete' or  '--test-label' option"
                            .into(),
                    );
                }
                o.mode = Some(if c == 'r' || c == 'u' { 'c' } else { c });
            }
            'z' => o.gzip = true,
            'v' => o.verbose = true,
            'O' => o.to_stdout = true,
            'f' | 'C' => pending.push(c),
            'p' | 'm' | 'o' | 'h' | 'a' | 'k' | 'P' | 'S' | 'W' | 'w' | 'B' | 'i' | 's' => {}
            'j' | 'J' | 'Z' => {
                return Err(format!("tar: -{c}: compression format not supported in this sandbox (only gzip: -z)"));
            }
            other => return Err(format!("tar: invalid option -- '{other}'")),
        }
        Ok(())
    };
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let bundled_first =
            i == 1 && !a.starts_with('-') && !a.is_empty() && a.chars().all(|c| c.is_ascii_alphabetic());
        if let Some(long) = a.strip_prefix("--") {
            let (k, v) = match long.split_once('=') {
                Some((k, v)) => (k, Some(v.to_string())),
                None => (long, None),
            };
            let val = |i: &mut usize| -> Result<String, String> {
                match &v {
                    Some(v) => Ok(v.clone()),
                    None => {
                        let r = args.get(*i).cloned().ok_or(format!("tar: option '--{k}' requires an argument"));
                        *i += 1;
                        r
                    }
                }
            };
            match k {
                "create" => flag(&mut o, 'c', &mut pending)?,
                "extract" | "get" => flag(&mut o, 'x', &mut pending)?,
                "list" => flag(&mut o, 't', &mut pending)?,
                "gzip" | "gunzip" | "ungzip" => o.gzip = true,
                "verbose" => o.verbose = true,
                "to-stdout" => o.to_stdout = true,
                "file" => o.file = Some(val(&mut i)?),
                "directory" => o.dir = Some(val(&mut i)?),
                "exclude" => o.excludes.push(val(&mut i)?),
                "strip-components" => {
                    o.strip = val(&mut i)?.parse().map_err(|_| "tar: invalid number of elements".to_string())?
                }
                "no-same-owner"
                | "no-same-permissions"
                | "overwrite"
                | "preserve-permissions"
                | "same-owner"
                | "totals" => {}
                _ => return Err(format!("tar: unrecognized option '--{k}'")),
            }
            continue;
        }
        if a.starts_with('-') && a.len() > 1 || bundled_first {
            let chars: Vec<char> = a.trim_start_matches('-').chars().collect();
            let dashed = a.starts_with('-');
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                flag(&mut o, c, &mut pending)?;
                if dashed && (c == 'f' || c == 'C') && j + 1 < chars.len() {
                    // -fFILE
                    let v: String = chars[j + 1..].iter().collect();
                    pending.pop();
                    if c == 'f' {
                        o.file = Some(v);
                    } else {
                        o.dir = Some(v);
                    }
                    break;
                }
                j += 1;
            }
            for p in std::mem::take(&mut pending) {
                let v = args.get(i).cloned().ok_or(format!("tar: option requires an argument -- '{p}'"))?;
                i += 1;
                if p == 'f' {
                    o.file = Some(v);
                } else {
                    o.dir = Some(v);
                }
            }
            continue;
        }
        o.names.push(a.clone());
    }
    Ok(o)
}

fn mode_str(is_dir: bool, mode: u32) -> String {
    let mut s = String::from(if is_dir { "d" } else { "-" });
    for (i, c) in "rwxrwxrwx".chars().enumerate() {
        s.push(if mode & (1 << (8 - i)) != 0 { c } else { '-' });
    }
    s
}

fn tar_time(secs: u64) -> String {
    let t = fsutil::gmtime(secs as i64, 0);
    format!("{}-{:02}-{:02} {:02}:{:02}", t.year, t.mon, t.day, t.hour, t.min)
}

#[allow(clippy::too_many_arguments)]
fn tar_add(
    ctx: &mut Ctx,
    b: &mut tar::Builder<Vec<u8>>,
    real: &Path,
    name: &str,
    o: &TarOpts,
    out: &mut Vec<String>,
    archive_path: &Path,
    depth: u32,
) -> Result<(), String> {
    if depth > 128 {
        return Ok(());
    }
    let base = name.trim_end_matches('/').rsplit('/').next().unwrap_or(name);
    if o.excludes.iter().any(|e| fsutil::fnmatch(e, base) || fsutil::fnmatch(e, name)) {
        return Ok(());
    }
    if real == archive_path {
        ctx.errln(format!("tar: {name}: file is the archive; not dumped"));
        return Ok(());
    }
    let md = std::fs::symlink_metadata(real).map_err(|e| format!("tar: {name}: Cannot stat: {}", errmsg(&e)))?;
    let mtime = fsutil::mtime(&md).0.max(0) as u64;
    let mut h = tar::Header::new_gnu();
    h.set_mtime(mtime);
    h.set_uid(1000);
    h.set_gid(1000);
    let _ = h.set_username("user");
    let _ = h.set_groupname("user");
    if md.is_dir() {
        let dname = if name.ends_with('/') { name.to_string() } else { format!("{name}/") };
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, &dname, std::io::empty()).map_err(|e| format!("tar: {dname}: {e}"))?;
        out.push(dname.clone());
        let mut ents: Vec<String> = std::fs::read_dir(real)
            .map_err(|e| format!("tar: {name}: Cannot open: {}", errmsg(&e)))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        ents.sort();
        for e in ents {
            tar_add(ctx, b, &real.join(&e), &format!("{dname}{e}"), o, out, archive_path, depth + 1)?;
        }
    } else if md.is_file() {
        let data = std::fs::read(real).map_err(|e| format!("tar: {name}: Cannot open: {}", errmsg(&e)))?;
        h.set_entry_type(tar::EntryType::Regular);
        let exec = {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                md.permissions().mode() & 0o111 != 0
            }
            #[cfg(not(unix))]
            {
                false
            }
        };
        h.set_mode(if exec { 0o755 } else { 0o644 });
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, &data[..]).map_err(|e| format!("tar: {name}: {e}"))?;
        out.push(name.to_string());
    }
    Ok(())
}

pub fn tar(ctx: &mut Ctx, args: &[String]) -> i32 {
    let o = match tar_args(args) {
        Ok(o) => o,
        Err(m) => {
            ctx.errln(m);
            ctx.errln("Try 'tar --help' or 'tar --usage' for more information.");
            return 2;
        }
    };
    let Some(mode) = o.mode else {
        ctx.errln("tar: You must specify one of the '-Acdtrux', '--delete' or '--test-label' options");
        ctx.errln("Try 'tar --help' or 'tar --usage' for more information.");
        return 2;
    };
    let base = o.dir.as_ref().map(|d| ctx.path(d)).unwrap_or_else(|| ctx.sh.cwd.clone());
    if let Some(d) = &o.dir
        && !base.is_dir()
    {
        ctx.errln(format!("tar: {d}: Cannot open: No such file or directory"));
        ctx.errln("tar: Error is not recoverable: exiting now");
        return 2;
    }
    let archive = o.file.clone().unwrap_or_else(|| "-".into());
    match mode {
        'c' => {
            if o.names.is_empty() {
                ctx.errln("tar: Cowardly refusing to create an empty archive");
                ctx.errln("Try 'tar --help' or 'tar --usage' for more information.");
                return 2;
            }
            let apath = if archive == "-" { PathBuf::new() } else { ctx.path(&archive) };
            let mut b = tar::Builder::new(Vec::new());
            let mut listed = Vec::new();
            let mut st = 0;
            for n in &o.names {
                let real = fsutil::normalize(&base, Path::new(n));
                let mut name = n.clone();
                if name.starts_with('/') {
                    if !listed.iter().any(|_: &String| true) {
                        ctx.errln("tar: Removing leading `/' from member names");
                    }
                    name = name.trim_start_matches('/').to_string();
                }
                if let Err(m) = tar_add(ctx, &mut b, &real, &name, &o, &mut listed, &apath, 0) {
                    ctx.errln(m);
                    st = 2;
                }
            }
            let data = match b.into_inner() {
                Ok(d) => d,
                Err(e) => {
                    ctx.errln(format!("tar: {e}"));
                    return 2;
                }
            };
            let gz = o.gzip || archive.ends_with(".tgz") || archive.ends_with(".gz");
            let data = if gz { gzip_bytes(&data, 6) } else { data };
            if o.verbose {
                for l in &listed {
                    if archive == "-" {
                        ctx.errln(l);
                    } else {
                        ctx.outs(format!("{l}\n"));
                    }
                }
            }
            if archive == "-" {
                ctx.out.extend_from_slice(&data);
            } else if let Err(e) = std::fs::write(&apath, &data) {
                ctx.errln(format!("tar: {archive}: Cannot open: {}", errmsg(&e)));
                return 2;
            }
            if st != 0 {
                ctx.errln("tar: Exiting with failure status due to previous errors");
            }
            st
        }
        _ => {
            let raw = if archive == "-" {
                ctx.stdin()
            } else {
                match std::fs::read(ctx.path(&archive)) {
                    Ok(d) => d,
                    Err(e) => {
                        ctx.errln(format!("tar: {archive}: Cannot open: {}", errmsg(&e)));
                        ctx.errln("tar: Error is not recoverable: exiting now");
                        return 2;
                    }
                }
            };
            let data = if raw.starts_with(&[0x1f, 0x8b]) {
                match gunzip_bytes(&raw) {
                    Ok(d) => d,
                    Err(e) => {
                        ctx.errln(format!("gzip: stdin: {e}"));
                        ctx.errln("tar: Child returned status 1");
                        ctx.errln("tar: Error is not recoverable: exiting now");
                        return 2;
                    }
                }
            } else if o.gzip {
                ctx.errln("gzip: stdin: not in gzip format");
                ctx.errln("tar: Child returned status 1");
                ctx.errln("tar: Error is not recoverable: exiting now");
                return 2;
            } else {
                raw
            };
            if data.len() < 512 {
                ctx.errln("tar: This does not look like a tar archive");
                ctx.errln("tar: Exiting with failure status due to previous errors");
                return 2;
            }
            let mut ar = tar::Archive::new(&data[..]);
            let entries = match ar.entries() {
                Ok(e) => e,
                Err(e) => {
                    ctx.errln(format!("tar: {e}"));
                    return 2;
                }
            };
            let mut st = 0;
            let mut seen = vec![false; o.names.len()];
            for ent in entries {
                let mut ent = match ent {
                    Ok(e) => e,
                    Err(e) => {
                        ctx.errln(format!("tar: This does not look like a tar archive ({e})"));
                        ctx.errln("tar: Exiting with failure status due to previous errors");
                        return 2;
                    }
                };
                let name = String::from_utf8_lossy(&ent.path_bytes()).into_owned();
                if !o.names.is_empty() {
                    let hit = o.names.iter().position(|n| {
                        let n = n.trim_end_matches('/');
                        name.trim_end_matches('/') == n
                            || name.starts_with(&format!("{n}/"))
                            || fsutil::fnmatch(n, name.trim_end_matches('/'))
                    });
                    match hit {
                        Some(k) => seen[k] = true,
                        None => continue,
                    }
                }
                let base_name = name.trim_end_matches('/').rsplit('/').next().unwrap_or("");
                if o.excludes.iter().any(|e| fsutil::fnmatch(e, base_name) || fsutil::fnmatch(e, &name)) {
                    continue;
                }
                let h = ent.header();
                let et = h.entry_type();
                let size = h.size().unwrap_or(0);
                let mtime = h.mtime().unwrap_or(0);
                let fmode = h.mode().unwrap_or(0o644);
                if mode == 't' {
                    if o.verbose {
                        let owner = format!(
                            "{}/{}",
                            h.username().ok().flatten().unwrap_or("user"),
                            h.groupname().ok().flatten().unwrap_or("user")
                        );
                        ctx.outs(format!(
                            "{} {owner} {size:>8} {} {name}\n",
                            mode_str(et.is_dir(), fmode),
                            tar_time(mtime)
                        ));
                    } else {
                        ctx.outs(format!("{name}\n"));
                    }
                    continue;
                }
                // extract
                if o.verbose && !o.to_stdout {
                    ctx.outs(format!("{name}\n"));
                }
                let Some(rel) = safe_rel(&name, o.strip) else { continue };
                let dest = base.join(&rel);
                if et.is_dir() {
                    if !o.to_stdout
                        && let Err(e) = std::fs::create_dir_all(&dest)
                    {
                        ctx.errln(format!("tar: {name}: Cannot mkdir: {}", errmsg(&e)));
                        st = 2;
                    }
                } else if et.is_file() || et == tar::EntryType::Continuous || et == tar::EntryType::GNUSparse {
                    let mut buf = Vec::new();
                    if let Err(e) = ent.read_to_end(&mut buf) {
                        ctx.errln(format!("tar: {name}: {e}"));
                        st = 2;
                        continue;
                    }
                    if o.to_stdout {
                        ctx.out.extend_from_slice(&buf);
                        continue;
                    }
                    if let Some(p) = dest.parent() {
                        let _ = std::fs::create_dir_all(p);
                    }
                    if dest.is_dir() {
                        let _ = std::fs::remove_dir_all(&dest);
                    }
                    if let Err(e) = std::fs::write(&dest, &buf) {
                        ctx.errln(format!("tar: {name}: Cannot open: {}", errmsg(&e)));
                        st = 2;
                    }
                } else if et.is_symlink() || et.is_hard_link() {
                    ctx.errln(format!("tar: {name}: links are not supported in this sandbox; skipped"));
                }
            }
            for (k, s) in seen.iter().enumerate() {
                if !s {
                    ctx.errln(format!("tar: {}: Not found in archive", o.names[k]));
                    st = 2;
                }
            }
            if st != 0 {
                ctx.errln("tar: Exiting with failure status due to previous errors");
            }
            st
        }
    }
}

// ---------------------------------------------------------------- zip / unzip

fn zip_time(md: &std::fs::Metadata) -> zip::DateTime {
    let (s, _) = fsutil::mtime(md);
    let t = fsutil::gmtime(s, 0);
    zip::DateTime::from_date_and_time(
        t.year.clamp(1980, 2107) as u16,
        t.mon as u8,
        t.day as u8,
        t.hour as u8,
        t.min as u8,
        t.sec as u8,
    )
    .unwrap_or_default()
}

pub fn zip(ctx: &mut Ctx, args: &[String]) -> i32 {
    let mut recursive = false;
    let mut quiet = false;
    let mut junk = false;
    let mut level = 6u32;
    let mut excludes = Vec::new();
    let mut pos = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "-x" || a == "--exclude" {
            while i < args.len() && !args[i].starts_with('-') {
                excludes.push(args[i].clone());
                i += 1;
            }
            continue;
        }
        if a.starts_with('-') && a.len() > 1 {
            for c in a[1..].chars() {
                match c {
                    'r' | 'R' => recursive = true,
                    'q' => quiet = true,
                    'j' => junk = true,
                    'v' | 'y' | 'X' | 'o' | 'D' | 'T' => {}
                    d if d.is_ascii_digit() => level = d.to_digit(10).unwrap_or(6),
                    other => {
                        ctx.errln(format!(
                            "zip error: Invalid command arguments (short option '{other}' not supported)"
                        ));
                        return 16;
                    }
                }
            }
            continue;
        }
        pos.push(a.clone());
    }
    if pos.is_empty() {
        ctx.errln("zip error: Invalid command arguments (nothing to select from)");
        return 16;
    }
    let mut archive = pos.remove(0);
    if !Path::new(&archive).file_name().is_some_and(|n| n.to_string_lossy().contains('.')) {
        archive.push_str(".zip");
    }
    if pos.is_empty() {
        ctx.errln("zip error: Nothing to do! (".to_string() + &archive + ")");
        return 12;
    }
    let apath = ctx.path(&archive);
    // (name in archive, real path or None for directories)
    let mut entries: Vec<(String, Option<PathBuf>)> = Vec::new();
    let mut st = 0;
    fn walk(
        real: &Path,
        name: &str,
        recursive: bool,
        junk: bool,
        out: &mut Vec<(String, Option<PathBuf>)>,
        depth: u32,
    ) {
        if depth > 128 {
            return;
        }
        if real.is_dir() {
            if !junk {
                out.push((format!("{}/", name.trim_end_matches('/')), None));
            }
            if recursive && let Ok(rd) = std::fs::read_dir(real) {
                let mut names: Vec<String> =
                    rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
                names.sort();
                for n in names {
                    walk(
                        &real.join(&n),
                        &format!("{}/{n}", name.trim_end_matches('/')),
                        recursive,
                        junk,
                        out,
                        depth + 1,
                    );
                }
            }
        } else {
            let nm = if junk { name.rsplit('/').next().unwrap_or(name).to_string() } else { name.to_string() };
            out.push((nm, Some(real.to_path_buf())));
        }
    }
    for p in &pos {
        let real = ctx.path(p);
        if !real.exists() {
            ctx.errln(format!("\tzip warning: name not matched: {p}"));
            st = 12;
            continue;
        }
        let name = p.trim_start_matches("./").trim_start_matches('/').to_string();
        let name = if name.is_empty() || name == "." { String::new() } else { name };
        if name.is_empty() {
            // "zip -r a.zip ." : add contents
            if let Ok(rd) = std::fs::read_dir(&real) {
                let mut names: Vec<String> =
                    rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
                names.sort();
                for n in names {
                    walk(&real.join(&n), &n, recursive, junk, &mut entries, 0);
                }
            }
        } else {
            walk(&real, &name, recursive, junk, &mut entries, 0);
        }
    }
    entries.retain(|(n, p)| p.as_ref() != Some(&apath) && !excludes.iter().any(|e| fsutil::fnmatch(e, n)));
    if entries.is_empty() {
        ctx.errln("zip error: Nothing to do! (".to_string() + &archive + ")");
        return 12;
    }
    // existing archive: keep entries not being replaced
    let old = std::fs::read(&apath).ok();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    if let Some(old) = &old
        && let Ok(mut za) = zip::ZipArchive::new(std::io::Cursor::new(&old[..]))
    {
        for k in 0..za.len() {
            if let Ok(f) = za.by_index(k) {
                let n = f.name().map(|n| n.to_string()).unwrap_or_default();
                if entries.iter().any(|(e, _)| *e == n) {
                    continue;
                }
                let _ = w.raw_copy_file(f);
            }
        }
    }
    let updating = old.is_some();
    for (name, real) in &entries {
        match real {
            None => {
                let md = real.as_ref().and_then(|r| std::fs::metadata(r).ok());
                let mut opts = zip::write::SimpleFileOptions::default();
                if let Some(md) = md {
                    opts = opts.last_modified_time(zip_time(&md));
                }
                if let Err(e) = w.add_directory(name.trim_end_matches('/'), opts) {
                    ctx.errln(format!("zip error: {e}"));
                    return 15;
                }
                if !quiet {
                    ctx.outs(format!("  {}: {name} (stored 0%)\n", if updating { "updating" } else { "adding" }));
                }
            }
            Some(rp) => {
                let data = match std::fs::read(rp) {
                    Ok(d) => d,
                    Err(e) => {
                        ctx.errln(format!("\tzip warning: could not open for reading: {name} ({})", errmsg(&e)));
                        st = 18;
                        continue;
                    }
                };
                let md = std::fs::metadata(rp).ok();
                let deflated = if data.is_empty() || level == 0 {
                    None
                } else {
                    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), Compression::new(level));
                    let _ = e.write_all(&data);
                    let c = e.finish().unwrap_or_default();
                    if c.len() < data.len() { Some(c.len()) } else { None }
                };
                let method =
                    if deflated.is_some() { zip::CompressionMethod::Deflated } else { zip::CompressionMethod::Stored };
                let mut opts = zip::write::SimpleFileOptions::default().compression_method(method);
                if deflated.is_some() {
                    opts = opts.compression_level(Some(level as i64));
                }
                if let Some(md) = &md {
                    opts = opts.last_modified_time(zip_time(md));
                }
                if data.len() as u64 >= u32::MAX as u64 {
                    opts = opts.large_file(true);
                }
                if let Err(e) = w.start_file(name.as_str(), opts).and_then(|_| w.write_all(&data).map_err(Into::into)) {
                    ctx.errln(format!("zip error: {e}"));
                    return 15;
                }
                if !quiet {
                    let verb = if updating { "updating" } else { "adding" };
                    match deflated {
                        Some(c) => {
                            let pct = 100 - (c * 100 / data.len().max(1)).min(100);
                            ctx.outs(format!("  {verb}: {name} (deflated {pct}%)\n"));
                        }
                        None => ctx.outs(format!("  {verb}: {name} (stored 0%)\n")),
                    }
                }
            }
        }
    }
    match w.finish() {
        Ok(c) => {
            if let Err(e) = std::fs::write(&apath, c.into_inner()) {
                ctx.errln(format!("zip I/O error: {}", errmsg(&e)));
                return 15;
            }
        }
        Err(e) => {
            ctx.errln(format!("zip error: {e}"));
            return 15;
        }
    }
    st
}

pub fn unzip(ctx: &mut Ctx, args: &[String]) -> i32 {
    let mut list = false;
    let mut quiet = false;
    let mut never = false;
    let mut pipe = false;
    let mut dest: Option<String> = None;
    let mut pos = Vec::new();
    let mut excludes = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "-d" {
            dest = args.get(i).cloned();
            i += 1;
            continue;
        }
        if a == "-x" {
            while i < args.len() && !args[i].starts_with('-') {
                excludes.push(args[i].clone());
                i += 1;
            }
            continue;
        }
        if a.starts_with('-') && a.len() > 1 {
            for c in a[1..].chars() {
                match c {
                    'l' | 'v' | 'Z' => list = true,
                    'q' => quiet = true,
                    'o' | 'u' | 'f' | 'j' | 'a' | 'b' | 'C' | 'L' | 'X' => {}
                    'n' => never = true,
                    'p' | 'c' => pipe = true,
                    other => {
                        ctx.errln(format!("unzip:  unknown option ({other})"));
                        return 10;
                    }
                }
            }
            continue;
        }
        pos.push(a.clone());
    }
    if pos.is_empty() {
        ctx.errln("UnZip: missing archive name (usage: unzip [-l|-o|-q|-d DIR] file[.zip] [list])");
        return 10;
    }
    let mut archive = pos.remove(0);
    let mut apath = ctx.path(&archive);
    if !apath.exists() && !archive.ends_with(".zip") && ctx.path(&format!("{archive}.zip")).exists() {
        archive.push_str(".zip");
        apath = ctx.path(&archive);
    }
    let data = match std::fs::read(&apath) {
        Ok(d) => d,
        Err(_) => {
            ctx.errln(format!("unzip:  cannot find or open {archive}, {archive}.zip or {archive}.ZIP."));
            return 9;
        }
    };
    let mut za = match zip::ZipArchive::new(std::io::Cursor::new(&data[..])) {
        Ok(z) => z,
        Err(_) => {
            ctx.errln(format!("Archive:  {archive}"));
            ctx.errln("  End-of-central-directory signature not found.  Either this file is not");
            ctx.errln("  a zipfile, or it constitutes one disk of a multi-part archive.");
            ctx.errln(format!("unzip:  cannot find zipfile directory in {archive}"));
            return 9;
        }
    };
    let selected = |n: &str| -> bool {
        (pos.is_empty()
            || pos.iter().any(|p| fsutil::fnmatch(p, n) || n.starts_with(&format!("{}/", p.trim_end_matches('/')))))
            && !excludes.iter().any(|e| fsutil::fnmatch(e, n))
    };
    if list {
        ctx.outs(format!(
            "Archive:  {archive}\n  Length      Date    Time    Name\n---------  ---------- -----   ----\n"
        ));
        let (mut total, mut count) = (0u64, 0usize);
        for k in 0..za.len() {
            let Ok(f) = za.by_index(k) else { continue };
            let name = f.name().map(|n| n.to_string()).unwrap_or_default();
            if !selected(&name) {
                continue;
            }
            let t = f.last_modified().unwrap_or_default();
            ctx.outs(format!(
                "{:>9}  {:04}-{:02}-{:02} {:02}:{:02}   {name}\n",
                f.size(),
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute()
            ));
            total += f.size();
            count += 1;
        }
        ctx.outs(format!(
            "---------                     -------\n{total:>9}                     {count} file{}\n",
            if count == 1 { "" } else { "s" }
        ));
        return 0;
    }
    let base = match &dest {
        Some(d) => {
            let p = ctx.path(d);
            if let Err(e) = std::fs::create_dir_all(&p) {
                ctx.errln(format!("checkdir:  cannot create extraction directory: {d} ({})", errmsg(&e)));
                return 3;
            }
            p
        }
        None => ctx.sh.cwd.clone(),
    };
    if !quiet && !pipe {
        ctx.outs(format!("Archive:  {archive}\n"));
    }
    let mut st = 0;
    let mut matched = false;
    for k in 0..za.len() {
        let Ok(mut f) = za.by_index(k) else {
            st = 2;
            continue;
        };
        let name = f.name().map(|n| n.to_string()).unwrap_or_default();
        if !selected(&name) {
            continue;
        }
        matched = true;
        let Some(rel) = safe_rel(&name, 0) else {
            ctx.errln(format!("warning:  skipped \"{name}\": unsafe path"));
            st = 1;
            continue;
        };
        let out = base.join(&rel);
        let disp = match &dest {
            Some(d) => format!("{}/{}", d.trim_end_matches('/'), rel.to_string_lossy()),
            None => rel.to_string_lossy().into_owned(),
        };
        if f.is_dir() {
            if pipe {
                continue;
            }
            if !quiet {
                ctx.outs(format!("   creating: {disp}/\n"));
            }
            if let Err(e) = std::fs::create_dir_all(&out) {
                ctx.errln(format!("checkdir error:  cannot create {disp}: {}", errmsg(&e)));
                st = 1;
            }
            continue;
        }
        let mut buf = Vec::new();
        if let Err(e) = f.read_to_end(&mut buf) {
            ctx.errln(format!("  error:  invalid compressed data to inflate {name} ({e})"));
            st = 2;
            continue;
        }
        if pipe {
            ctx.out.extend_from_slice(&buf);
            continue;
        }
        if never && out.exists() {
            continue;
        }
        if let Some(p) = out.parent() {
            let _ = std::fs::create_dir_all(p);
        }
        let verb = if f.compression() == zip::CompressionMethod::Stored { " extracting" } else { "  inflating" };
        match std::fs::write(&out, &buf) {
            Ok(()) => {
                if !quiet {
                    ctx.outs(format!("{verb}: {disp}\n"));
                }
            }
            Err(e) => {
                ctx.errln(format!("error:  cannot create {disp}\n        {}", errmsg(&e)));
                st = 1;
            }
        }
    }
    if !matched && !pos.is_empty() {
        for p in &pos {
            ctx.errln(format!("caution: filename not matched:  {p}"));
        }
        return 11;
    }
    st
}

// ---------------------------------------------------------------- gzip

fn gzip_impl(ctx: &mut Ctx, args: &[String], mut decompress: bool, mut to_stdout: bool) -> i32 {
    let cmd = if decompress && !to_stdout { "gunzip" } else { "gzip" };
    let mut keep = false;
    let mut force = false;
    let mut level = 6u32;
    let mut files = Vec::new();
    let mut list = false;
    let mut test = false;
    let mut verbose = false;
    for a in args {
        if a.starts_with("--") {
            match a.as_str() {
                "--decompress" | "--uncompress" => decompress = true,
                "--stdout" | "--to-stdout" => to_stdout = true,
                "--keep" => keep = true,
                "--force" => force = true,
                "--list" => list = true,
                "--test" => test = true,
                "--verbose" => verbose = true,
                "--quiet" | "--best" | "--fast" | "--no-name" | "--name" => {}
                _ => {
                    ctx.errln(format!("{cmd}: unrecognized option '{a}'"));
                    return 1;
                }
            }
            continue;
        }
        if a.starts_with('-') && a.len() > 1 {
            for c in a[1..].chars() {
                match c {
                    'd' => decompress = true,
                    'c' => to_stdout = true,
                    'k' => keep = true,
                    'f' => force = true,
                    'l' => list = true,
                    't' => test = true,
                    'v' => verbose = true,
                    'q' | 'n' | 'N' | 'r' => {}
                    d if d.is_ascii_digit() => level = d.to_digit(10).unwrap_or(6).max(1),
                    other => {
                        ctx.errln(format!("{cmd}: invalid option -- '{other}'"));
                        return 1;
                    }
                }
            }
            continue;
        }
        files.push(a.clone());
    }
    let _ = verbose;
    if files.is_empty() {
        let d = ctx.stdin();
        if decompress || test {
            match gunzip_bytes(&d) {
                Ok(o) => {
                    if !test {
                        ctx.out.extend_from_slice(&o)
                    }
                }
                Err(_) => {
                    ctx.errln(format!("{cmd}: stdin: not in gzip format"));
                    return 1;
                }
            }
        } else {
            ctx.out.extend_from_slice(&gzip_bytes(&d, level));
        }
        return 0;
    }
    let mut st = 0;
    if list {
        ctx.outs("         compressed        uncompressed  ratio uncompressed_name\n");
    }
    for f in &files {
        let p = ctx.path(f);
        if p.is_dir() {
            ctx.errln(format!("{cmd}: {f} is a directory -- ignored"));
            st = 2.max(st);
            continue;
        }
        let data = match std::fs::read(&p) {
            Ok(d) => d,
            Err(e) => {
                ctx.errln(format!("{cmd}: {f}: {}", errmsg(&e)));
                st = 1;
                continue;
            }
        };
        if decompress || list || test {
            let target = if let Some(s) = f.strip_suffix(".gz") {
                s.to_string()
            } else if let Some(s) = f.strip_suffix(".tgz") {
                format!("{s}.tar")
            } else if let Some(s) = f.strip_suffix(".z") {
                s.to_string()
            } else if to_stdout || test {
                f.clone()
            } else {
                ctx.errln(format!("{cmd}: {f}: unknown suffix -- ignored"));
                st = 2.max(st);
                continue;
            };
            let out = match gunzip_bytes(&data) {
                Ok(o) => o,
                Err(_) => {
                    ctx.errln(format!("{cmd}: {f}: not in gzip format"));
                    st = 1;
                    continue;
                }
            };
            if test {
                continue;
            }
            if list {
                let ratio = if out.is_empty() { 0.0 } else { 100.0 - data.len() as f64 * 100.0 / out.len() as f64 };
                ctx.outs(format!("{:>19} {:>19} {:>5.1}% {target}\n", data.len(), out.len(), ratio));
                continue;
            }
            if to_stdout {
                ctx.out.extend_from_slice(&out);
                continue;
            }
            let tp = ctx.path(&target);
            if tp.exists() && !force {
                ctx.errln(format!("{cmd}: {target} already exists; not overwritten"));
                st = 2.max(st);
                continue;
            }
            if let Err(e) = std::fs::write(&tp, &out) {
                ctx.errln(format!("{cmd}: {target}: {}", errmsg(&e)));
                st = 1;
                continue;
            }
            if !keep {
                let _ = std::fs::remove_file(&p);
            }
        } else {
            if f.ends_with(".gz") && !force && !to_stdout {
                ctx.errln(format!("gzip: {f} already has .gz suffix -- unchanged"));
                st = 2.max(st);
                continue;
            }
            let out = gzip_bytes(&data, level);
            if to_stdout {
                ctx.out.extend_from_slice(&out);
                continue;
            }
            let target = format!("{f}.gz");
            let tp = ctx.path(&target);
            if tp.exists() && !force {
                ctx.errln(format!("gzip: {target} already exists; not overwritten"));
                st = 2.max(st);
                continue;
            }
            if let Err(e) = std::fs::write(&tp, &out) {
                ctx.errln(format!("gzip: {target}: {}", errmsg(&e)));
                st = 1;
                continue;
            }
            if !keep {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
    let _ = q;
    st
}

pub fn gzip(ctx: &mut Ctx, args: &[String]) -> i32 {
    gzip_impl(ctx, args, false, false)
}

pub fn gunzip(ctx: &mut Ctx, args: &[String]) -> i32 {
    gzip_impl(ctx, args, true, false)
}

pub fn zcat(ctx: &mut Ctx, args: &[String]) -> i32 {
    gzip_impl(ctx, args, true, true)
}
