//! Python tool benchmark, side by side with CPython on the same machine:
//! `cargo bench --bench python`.
//!
//! Prints: new sandbox → first `print(1)` result vs a `python3 -I -S -c
//! 'print(1)'` process; a warm `print(1)`; memory per live idle session
//! (private, proportional and resident) and the time to create 1,000
//! sessions; and compute workloads
//! timed inside each interpreter (execution only), as ratios to CPython with
//! their geometric mean.

#[path = "../common/mod.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use fathom::runtime::{Runtime, Session, SessionOptions};
use serde_json::json;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// (Rss, Pss, Private_Dirty) of this process in kB. Rss counts a page of
/// the shared snapshot image once per session that maps it; Pss splits it
/// among them; Private_Dirty is what a session has copied for itself.
fn memory_kb() -> (u64, u64, u64) {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap();
    let field = |name: &str| -> u64 {
        let line = rollup.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (field("Rss:"), field("Pss:"), field("Private_Dirty:"))
}

/// The real CPython binary (`python3` on the PATH may be a slow shim).
fn cpython() -> Option<String> {
    let out = Command::new("python3").args(["-c", "import sys; print(sys.executable)"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

const WORKLOADS: &[(&str, &str)] = &[
    ("loops", "s = 0\nfor i in range(300000):\n    s += i * i % 7"),
    (
        "json",
        "import json\ndoc = {'items': [{'id': i, 'name': 'item%d' % i, 'tags': ['a', 'b'], 'price': i * 1.5} for i in range(300)]}\nfor _ in range(20):\n    doc = json.loads(json.dumps(doc))",
    ),
    (
        "re",
        "import re\ntext = 'alpha 123 beta 4567 gamma 89 delta ' * 2000\nfor _ in range(5):\n    n = len(re.findall(r'[a-z]+ (\\d+)', text))",
    ),
    (
        "strings",
        "parts = []\nfor i in range(50000):\n    parts.append(f'{i}:{i * 2};')\ns = ''.join(parts).upper().replace(';', ',')",
    ),
    (
        "fractions_decimal",
        "from fractions import Fraction\nfrom decimal import Decimal, getcontext\ngetcontext().prec = 50\nf = sum(Fraction(1, n) for n in range(1, 300))\nd = sum(Decimal(1) / Decimal(n) for n in range(1, 3000))",
    ),
    (
        "sort_dict",
        "import random\nr = random.Random(1)\nxs = [r.random() for _ in range(50000)]\nxs.sort()\ncounts = {}\nfor x in xs:\n    k = int(x * 100)\n    counts[k] = counts.get(k, 0) + 1",
    ),
];

/// Wrap a workload so it prints its own execution time in milliseconds.
fn timed(code: &str) -> String {
    format!("import time as _t\n_t0 = _t.perf_counter()\nexec({code:?})\nprint((_t.perf_counter() - _t0) * 1e3)")
}

fn main() {
    let python = cpython();
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    tokio.block_on(async {
        let rt = Runtime::new(common::options(common::shared_cache())).await.unwrap();
        let policy = common::policy(|p| p.sandbox.max_sandboxes = 2000);
        let session = Session::new(rt.clone(), SessionOptions::new(policy.clone())).unwrap();
        let new_sandbox = async |s: &Session| {
            let out = s.call("tool-python", "create_sandbox", "{}").await.output;
            out.rsplit(' ').next().unwrap().to_owned()
        };
        let run = async |s: &Session, sb: &str, code: &str| {
            let out = s
                .call("tool-python", "run_python_code", &json!({"sandbox_id": sb, "code_block": code}).to_string())
                .await;
            assert!(out.ok, "{}", out.output);
            out.output
        };

        // Cold: a new sandbox to its first result. (`-- cold` repeats only
        // this, for profiling.)
        let profile_cold = std::env::args().any(|a| a == "cold");
        let mut cold = Vec::new();
        for _ in 0..if profile_cold { 400 } else { 60 } {
            let t = Instant::now();
            let sb = new_sandbox(&session).await;
            assert_eq!(run(&session, &sb, "print(1)").await, "[stdout]\n1");
            cold.push(ms(t.elapsed()));
        }
        if profile_cold {
            println!("cold median {:.2} ms", median(cold));
            return;
        }
        // Free them again.
        drop(session);
        let session = Session::new(rt.clone(), SessionOptions::new(policy.clone())).unwrap();
        let mut native = Vec::new();
        if let Some(py) = &python {
            for _ in 0..30 {
                let t = Instant::now();
                let out = Command::new(py).args(["-I", "-S", "-c", "print(1)"]).output().unwrap();
                native.push(ms(t.elapsed()));
                assert_eq!(out.stdout, b"1\n");
            }
        }
        let cold_m = median(cold);
        println!(
            "new sandbox -> first print(1)      fathom {cold_m:8.2} ms   cpython process {:8.2} ms   ratio {:.2}",
            median(native.clone()),
            cold_m / median(native.clone())
        );

        let sb = new_sandbox(&session).await;
        run(&session, &sb, "x = 1").await;
        let mut warm = Vec::new();
        for _ in 0..1000 {
            let t = Instant::now();
            run(&session, &sb, "print(1)").await;
            warm.push(ms(t.elapsed()));
        }
        println!("warm print(1)                      fathom {:8.3} ms", median(warm));

        // Memory: live idle sessions.
        let before = memory_kb();
        let mut live = Vec::new();
        for i in 0..100 {
            let sb = new_sandbox(&session).await;
            run(&session, &sb, &format!("v = {i}")).await;
            live.push(sb);
        }
        let after = memory_kb();
        let per = |a: u64, b: u64| (a - b) as f64 / 1024.0 / 100.0;
        println!(
            "memory per idle session (100 live) private {:.2} MB   pss {:.2} MB   rss {:.2} MB",
            per(after.2, before.2),
            per(after.1, before.1),
            per(after.0, before.0)
        );
        drop(session);

        let session = Session::new(rt.clone(), SessionOptions::new(policy.clone())).unwrap();
        let t = Instant::now();
        for _ in 0..1000 {
            let sb = new_sandbox(&session).await;
            run(&session, &sb, "print(1)").await;
        }
        println!("create 1,000 sessions (to first result)  {:8.0} ms", ms(t.elapsed()));
        drop(session);

        // Compute, execution only, median of 5, side by side: under a fuel
        // budget (the default policy) and without one (`call_fuel = 0`, the
        // engine that does not meter fuel), runs interleaved.
        let metered = Session::new(rt.clone(), SessionOptions::new(common::policy(|_| {}))).unwrap();
        let unmetered =
            Session::new(rt.clone(), SessionOptions::new(common::policy(|p| p.sandbox.call_fuel = 0))).unwrap();
        let (sb_fuel, sb_free) = (new_sandbox(&metered).await, new_sandbox(&unmetered).await);
        run(&unmetered, &sb_free, "pass").await; // builds the second engine's instance outside the timing
        let mut ratios = (Vec::new(), Vec::new());
        println!(
            "{:<20} {:>12} {:>14} {:>12} {:>8} {:>10}",
            "workload", "fathom ms", "no-fuel ms", "cpython ms", "ratio", "no-fuel"
        );
        let ms_of = |out: String| out.trim_start_matches("[stdout]\n").trim().parse::<f64>().unwrap();
        for (name, code) in WORKLOADS {
            let (mut fuel, mut free) = (Vec::new(), Vec::new());
            for _ in 0..5 {
                fuel.push(ms_of(run(&metered, &sb_fuel, &timed(code)).await));
                free.push(ms_of(run(&unmetered, &sb_free, &timed(code)).await));
            }
            let (fuel, free) = (median(fuel), median(free));
            if let Some(py) = &python {
                let mut theirs = Vec::new();
                for _ in 0..5 {
                    let out = Command::new(py).args(["-I", "-S", "-c", &timed(code)]).output().unwrap();
                    theirs.push(String::from_utf8_lossy(&out.stdout).trim().parse::<f64>().unwrap());
                }
                let theirs = median(theirs);
                ratios.0.push(fuel / theirs);
                ratios.1.push(free / theirs);
                println!(
                    "{name:<20} {fuel:>12.2} {free:>14.2} {theirs:>12.2} {:>7.1}x {:>9.1}x",
                    fuel / theirs,
                    free / theirs
                );
            } else {
                println!("{name:<20} {fuel:>12.2} {free:>14.2} {:>12} {:>8} {:>10}", "n/a", "n/a", "n/a");
            }
        }
        let geo = |r: &[f64]| (r.iter().map(|r| r.ln()).sum::<f64>() / r.len() as f64).exp();
        if !ratios.0.is_empty() {
            println!(
                "geometric mean of ratios: {:.2}x slower than CPython with fuel, {:.2}x without",
                geo(&ratios.0),
                geo(&ratios.1)
            );
        }
    });
}
