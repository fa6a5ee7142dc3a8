//! Resource bombs: CPU, memory, output, disk and file-count exhaustion
//! through every tool a guest has, each stopped while it happens by the
//! limit its policy sets, and the sandbox left usable.

use std::io::Write;

use serde_json::json;

use super::{Sbx, limit};

/// Megabytes the bombs below expand to.
const BOMB_MB: usize = 64;

fn small(p: &mut fathom::policy::Policy) {
    p.sandbox.call_timeout_secs = 3.0;
    p.sandbox.memory_mb = 128;
    p.sandbox.disk_quota_mb = 16;
    p.sandbox.max_files = 200;
}

fn assert_stopped(out: &fathom::runtime::CallOutcome) {
    assert!(
        matches!(limit(out), Some("sandbox.call_timeout_secs" | "sandbox.call_fuel" | "sandbox.memory_mb")),
        "not stopped by a limit: {}",
        out.output
    );
}

fn disk_within_quota(s: &Sbx) {
    let (bytes, files) = s.session.disk_used();
    assert!(bytes <= 16 << 20 && files <= 200, "{bytes} bytes, {files} files");
    // The bombs were put in place by the host, beside the quota.
    let bombs: u64 = ["bomb.gz", "bomb.tgz", "bomb.zip"]
        .iter()
        .filter_map(|b| std::fs::metadata(s.workspace.join(b)).ok())
        .map(|m| m.len())
        .sum();
    let on_disk = dir_bytes(&s.workspace) - bombs;
    assert!(on_disk <= 16 << 20, "{on_disk} bytes on disk");
}

/// Stopped by a policy limit, or by the shell's own cap on loop iterations.
fn assert_stopped_or_capped(out: &fathom::runtime::CallOutcome) {
    if !out.output.contains("(iteration cap)") && !out.output.contains("maximum function nesting level") {
        assert_stopped(out);
    }
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let m = e.metadata().unwrap();
                    if m.is_dir() { dir_bytes(&e.path()) } else { m.len() }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Attack: an endless loop in Python.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_busy_loop_is_stopped() {
    let s = Sbx::new(small).await;
    assert_stopped(&s.py("while True:\n    pass").await);
    assert!(s.py("print(6 * 7)").await.output.contains("42"), "the sandbox is usable afterwards");
}

/// Attack: an endless loop in the shell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shell_busy_loop_is_stopped() {
    let s = Sbx::new(small).await;
    assert_stopped_or_capped(&s.sh("while true; do :; done").await);
    assert_stopped_or_capped(&s.sh("f() { f; }; f").await);
}

/// Attack: an endless loop in awk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_awk_busy_loop_is_stopped() {
    let s = Sbx::new(small).await;
    assert_stopped(&s.sh("awk 'BEGIN { while (1) { x++ } }'").await);
}

/// Attack: an endless branch loop in sed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sed_branch_loop_is_stopped() {
    let s = Sbx::new(small).await;
    // The shell's sed quits a script after ten million jumps; either way the
    // call ends within its deadline.
    let out = s.sh("echo x | sed -e ':a' -e 'ba'").await;
    assert!(limit(&out).is_some() || out.output.contains("[exit code]"), "{}", out.output);
    assert!(out.wall_ms < 5_000.0, "{} ms", out.wall_ms);
}

/// Attack: catastrophic backtracking in Python's `re`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regex_that_backtracks_forever_is_stopped() {
    let s = Sbx::new(small).await;
    assert_stopped(&s.py("import re\nre.match(r'(a+)+$', 'a' * 64 + 'b')").await);
}

/// Attack: the same pattern through grep, whose engine is linear: it just answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grep_does_not_backtrack_on_the_same_pattern() {
    let s = Sbx::new(small).await;
    let line = format!("{}b", "a".repeat(5000));
    let out = s.sh(&format!("echo {line} | grep -cE '(a+)+$'; echo done")).await;
    assert!(out.ok && out.output.contains("done") && limit(&out).is_none(), "{}", out.output);
}

/// Attack: grow Python's memory without bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_memory_growth_is_stopped() {
    let s = Sbx::new(small).await;
    let out = s.py("keep = []\nwhile True:\n    keep.append(bytearray(1 << 20))").await;
    assert_eq!(limit(&out), Some("sandbox.memory_mb"), "{}", out.output);
    assert!(out.output.contains("MemoryError"), "{}", out.output);
    // The session holds what it kept; freeing it (or, if even that cannot
    // run, the instance starting afresh) gives a usable sandbox back.
    let freed = s.py("del keep\nprint(6 * 7)").await;
    if !freed.output.contains("42") {
        assert!(s.py("print(6 * 7)").await.output.contains("42"));
    }
}

/// Attack: make the shell hold an ever longer string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_memory_growth_is_stopped() {
    let s = Sbx::new(small).await;
    let out = s.sh("x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done").await;
    assert_stopped_or_capped(&out);
}

/// Attack: print without end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_flood_is_cut_at_the_cap() {
    let s = Sbx::new(small).await;
    let out = s.py("while True:\n    print('x' * 10000)").await;
    let cap = fathom::policy::Policy::default().sandbox.output_bytes as usize;
    assert!(out.output.len() < cap + 2_000, "{} bytes came back", out.output.len());
}

/// Attack: return a 50 MB result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_result_is_cut_at_the_cap() {
    let s = Sbx::new(small).await;
    let out = s.call("hostile.big_result", json!({ "n": 50 << 20 })).await;
    assert!(out.output.len() < 30_000, "{} bytes came back", out.output.len());
}

/// Attack: fill the disk from Python in one call (1,500 MB against 128 MB before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filling_the_disk_from_python_stops_at_the_quota() {
    let s = Sbx::new(small).await;
    let out = s.py("f = open('fill', 'wb')\nfor i in range(1500):\n    f.write(b'\\0' * (1 << 20))").await;
    assert_eq!(limit(&out), Some("sandbox.disk_quota_mb"), "{}", out.output);
    assert!(out.output.contains("quota"), "{}", out.output);
    disk_within_quota(&s);
    // And the next call cannot add to it.
    let out = s.py("open('more', 'wb').write(b'\\0' * (4 << 20))").await;
    assert_eq!(limit(&out), Some("sandbox.disk_quota_mb"), "{}", out.output);
    disk_within_quota(&s);
}

/// Attack: fill the disk through /tmp, which is outside the workspace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filling_tmp_counts_against_the_same_quota() {
    let s = Sbx::new(small).await;
    s.py("open('half', 'wb').write(b'\\0' * (10 << 20))").await;
    let out = s.sh("i=0; while true; do cat half > /tmp/copy$i || break; i=$((i+1)); done").await;
    assert_eq!(limit(&out), Some("sandbox.disk_quota_mb"), "{}", out.output);
    assert!(s.session.disk_used().0 <= 16 << 20);
}

/// Attack: fill the disk through saved outputs (six saves of 100 MB left 601 MB before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filling_the_disk_through_outputs_stops_at_the_quota() {
    let s = Sbx::new(small).await;
    s.py("open('r.bin', 'wb').write(b'\\1' * (3 << 20))").await;
    let mut refused = 0;
    for i in 0..6 {
        let args = json!({ "sandbox_file_path": "r.bin", "local_filename": format!("r{i}.bin") });
        let out = s.call("tool-python.download_file_from_sandbox_to_local", args).await;
        refused += usize::from(limit(&out) == Some("sandbox.disk_quota_mb"));
    }
    assert!(refused >= 2, "{refused} saves refused");
    assert!(dir_bytes(s.session.outputs_dir()) + dir_bytes(&s.workspace) <= 16 << 20);
}

/// Attack: a sparse file (one block on disk, gigabytes long), by truncating
/// up and by seeking far and writing a byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sparse_file_counts_its_whole_length() {
    let s = Sbx::new(small).await;
    let out = s.py("f = open('sparse', 'wb')\nf.truncate(2 << 30)").await;
    assert_eq!(limit(&out), Some("sandbox.disk_quota_mb"), "{}", out.output);
    let out = s.py("f = open('sparse2', 'wb')\nf.seek(2 << 30)\nf.write(b'x')\nf.close()").await;
    assert_eq!(limit(&out), Some("sandbox.disk_quota_mb"), "{}", out.output);
    disk_within_quota(&s);
}

/// Attack: many small files (40,000 against max_files = 1000 before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_small_files_stop_at_max_files() {
    let s = Sbx::new(small).await;
    let out = s.py("for i in range(40000):\n    open(f'f{i}', 'w').close()").await;
    assert_eq!(limit(&out), Some("sandbox.max_files"), "{}", out.output);
    let out = s.sh("mkdir more && touch more/x").await;
    assert_eq!(limit(&out), Some("sandbox.max_files"), "{}", out.output);
    assert!(std::fs::read_dir(&s.workspace).unwrap().count() <= 200);
}

/// Attack: unbounded recursion in Python.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_recursion_is_an_error_not_a_crash() {
    let s = Sbx::new(small).await;
    let out = s.py("import sys\nsys.setrecursionlimit(10**9)\ndef f(n):\n    return f(n + 1)\nf(0)").await;
    assert!(
        out.output.contains("Recursion") || limit(&out).is_some() || out.output.contains("stack"),
        "{}",
        out.output
    );
    assert!(s.py("print(6 * 7)").await.output.contains("42"));
}

/// Attack: nest folders a thousand deep in one path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_nesting_in_one_path_is_refused() {
    let s = Sbx::new(small).await;
    let out = s.py("import os\nos.makedirs('/'.join(['d'] * 1000))").await;
    assert!(out.output.contains("Error"), "{}", out.output);
    assert!(s.session.disk_used().1 <= 64);
}

/// Attack: create sandboxes until the host runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandboxes_stop_at_max_sandboxes() {
    let s = Sbx::new(small).await;
    let mut last = String::new();
    for _ in 0..50 {
        last = s.call("tool-python.create_sandbox", json!({})).await.output;
    }
    assert!(last.contains("sandbox.max_sandboxes"), "{last}");
    assert!(s.session.sandbox_ids().len() as u64 <= fathom::policy::Policy::default().sandbox.max_sandboxes);
}

// ---- archive bombs ----------------------------------------------------------

fn zeros() -> Vec<u8> {
    vec![0u8; BOMB_MB << 20]
}

fn gzip_bomb() -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&zeros()).unwrap();
    gz.finish().unwrap()
}

fn tar_gz_bomb() -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size((BOMB_MB << 20) as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "zeros", &zeros()[..]).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&tar.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

fn zip_bomb() -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for name in ["a", "b"] {
        zip.start_file(name, options).unwrap();
        zip.write_all(&zeros()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

async fn expand(bomb: Vec<u8>, name: &str, how: &str) -> (Sbx, fathom::runtime::CallOutcome) {
    let s = Sbx::new(|p| {
        small(p);
        p.sandbox.call_timeout_secs = 30.0;
        // Room to inflate in memory: the disk quota is what must hold.
        p.sandbox.memory_mb = 1024;
    })
    .await;
    std::fs::write(s.workspace.join(name), bomb).unwrap();
    let out = if let Some(code) = how.strip_prefix("python:") { s.py(code).await } else { s.sh(how).await };
    (s, out)
}

/// Attack: a gzip bomb through the shell's gunzip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_stops_at_the_quota() {
    let (s, out) = expand(gzip_bomb(), "bomb.gz", "gunzip bomb.gz").await;
    assert_eq!(limit(&out), Some("sandbox.disk_quota_mb"), "{}", out.output);
    disk_within_quota(&s);
}

/// Attack: a tar bomb through the shell's tar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tar_bomb_stops_at_the_quota() {
    let (s, out) = expand(tar_gz_bomb(), "bomb.tgz", "tar xzf bomb.tgz").await;
    assert_eq!(limit(&out), Some("sandbox.disk_quota_mb"), "{}", out.output);
    disk_within_quota(&s);
}

/// Attack: a zip bomb through the shell's unzip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_bomb_stops_at_the_quota() {
    let (s, out) = expand(zip_bomb(), "bomb.zip", "unzip bomb.zip").await;
    assert_eq!(limit(&out), Some("sandbox.disk_quota_mb"), "{}", out.output);
    disk_within_quota(&s);
}

/// Attack: a zip bomb through Python's `zipfile.extractall` (1,860 MB before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_bomb_in_python_stops_at_the_quota() {
    let (s, out) =
        expand(zip_bomb(), "bomb.zip", "python:import zipfile\nzipfile.ZipFile('bomb.zip').extractall('out')").await;
    assert!(limit(&out).is_some(), "{}", out.output);
    disk_within_quota(&s);
}
