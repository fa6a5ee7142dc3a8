//! Density benchmark: `cargo bench --bench density [-- N]`.
//!
//! Opens N (default 5,000) live Python sandboxes in this one process, each
//! with a variable set and a file written by its first call, then calls
//! every one of them once more (reading both back). Prints the private and
//! proportional memory per idle sandbox and the process's resident total,
//! read from `/proc/self/smaps_rollup` before and after, and the p50/p99
//! latency of the first and of the second call. A sandbox that cannot be
//! opened ends the run early with the count reached and why (the run also
//! stops, rather than let the kernel kill it, when the machine's available
//! memory falls under 1 GiB).

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use fathom::runtime::{Session, SessionOptions};
use serde_json::json;

/// (Rss, Pss, Private_Dirty + Private_Clean) of this process in kB.
fn memory_kb() -> (u64, u64, u64) {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap();
    let field = |name: &str| -> u64 {
        let line = rollup.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (field("Rss:"), field("Pss:"), field("Private_Dirty:") + field("Private_Clean:"))
}

/// MemAvailable of the machine in kB.
fn available_kb() -> u64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = info.lines().find(|l| l.starts_with("MemAvailable:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn summary(name: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "{name:<34} p50 {:7.2} ms   p99 {:7.2} ms   max {:7.2} ms",
        percentile(&v, 0.5),
        percentile(&v, 0.99),
        percentile(&v, 1.0)
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(5_000);
    let rt = common::runtime().await;
    let policy = common::policy(|p| {
        p.sandbox.max_sandboxes = n as u64 + 1; // and the warm-up one
        p.sandbox.call_timeout_secs = 600.0;
    });
    let session = Session::new(rt.clone(), SessionOptions::new(policy)).unwrap();
    let call = async |code: String, sandbox: &str| {
        let args = json!({"code_block": code, "sandbox_id": sandbox}).to_string();
        let t = Instant::now();
        let out = session.call("tool-python", "run_python_code", &args).await;
        (t.elapsed(), out)
    };
    // One sandbox first, so the engine's lazily built state is not counted.
    let (_, out) = call("print(1)".into(), "warm").await;
    assert!(out.ok, "{}", out.output);
    let before = memory_kb();

    let started = Instant::now();
    let mut first = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    let mut stopped = None;
    for i in 0..n {
        if i % 100 == 0 && available_kb() < 1 << 20 {
            stopped = Some("less than 1 GiB of the machine's memory is left".to_owned());
            break;
        }
        let id = format!("s{i}");
        let code = format!("v = {i}\nopen('note.txt', 'w').write('sandbox {i}')");
        let (took, out) = call(code, &id).await;
        if !out.ok {
            stopped = Some(out.output);
            break;
        }
        first.push(took);
        ids.push(id);
        if (i + 1) % 1000 == 0 {
            eprintln!("{} sandboxes open, {:.0} s", i + 1, started.elapsed().as_secs_f64());
        }
    }
    let open = ids.len();
    let opened_in = started.elapsed();
    let idle = memory_kb();

    let mut second = Vec::with_capacity(open);
    for (i, id) in ids.iter().enumerate() {
        let (took, out) = call("print(v, open('note.txt').read())".into(), id).await;
        assert!(out.output.contains(&format!("{i} sandbox {i}")), "{id}: {}", out.output);
        second.push(took);
    }
    let after = memory_kb();

    if let Some(why) = &stopped {
        println!("stopped after {open} of {n} sandboxes: {why}");
    }
    let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / 1024.0 / open as f64;
    println!("live sandboxes                     {open} (opened in {:.1} s)", opened_in.as_secs_f64());
    println!(
        "memory per idle sandbox            private {:.2} MB   pss {:.2} MB   rss {:.2} MB",
        per(idle.2, before.2),
        per(idle.1, before.1),
        per(idle.0, before.0)
    );
    // Rss counts a page of the shared snapshot once per sandbox mapping it;
    // Pss is the process's real share of memory.
    println!(
        "process memory                     pss {:.0} MB, rss {:.0} MB with {open} idle; pss {:.0} MB after the second calls",
        idle.1 as f64 / 1024.0,
        idle.0 as f64 / 1024.0,
        after.1 as f64 / 1024.0
    );
    summary("first call (new sandbox)", first);
    summary("second call (live sandbox)", second);
}
