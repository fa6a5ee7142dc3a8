//! Python tool benchmark, side by side with CPython on the same machine:
//! `cargo bench --bench python`.
//!
//! Prints: new sandbox → first `print(1)` result vs a `python3 -I -S -c
//! 'print(1)'` process; a warm `print(1)`; memory per live idle session
//! (private, proportional and resident) and the time to create 1,000
//! sessions; and compute workloads
//! timed inside each interpreter (execution only), as ratios to CPython with
//! their geometric mean. `-- cold` profiles pooled first results alone;
//! `-- micro` times the interpreter's primitives one by one against
//! CPython.

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

/// The `q` quantile (0.99: p99), nearest rank.
fn percentile(mut v: Vec<f64>, q: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1]
}

/// Minor page faults of this thread so far (copy-on-write copies of the
/// snapshot's pages among them).
fn minflt() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    rest.split(' ').nth(7).unwrap().parse().unwrap()
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
    ("float_loops", "s = 0.0\nfor i in range(200000):\n    x = i * 0.5\n    s += x * x / (x + 1.0)"),
    (
        "objects_recursion",
        "class Node:\n    __slots__ = ('value', 'left', 'right')\n    def __init__(self, value, left=None, right=None):\n        self.value, self.left, self.right = value, left, right\n    def total(self):\n        return self.value + (self.left.total() + self.right.total() if self.left else 0)\ndef build(d):\n    return Node(d) if d == 0 else Node(d, build(d - 1), build(d - 1))\nt = build(15).total()",
    ),
    (
        "big_ints",
        "x = 1\nfor i in range(1, 6000):\n    x *= i\ns = str(x % 10**4000)\ny = int(s) % 1000003\nz = [pow(3, 10**5 + k, 10**40 + 7) for k in range(20)]",
    ),
];

/// `-- micro`: the interpreter's primitives one by one, each 100,000 times
/// inside a function (fast locals, as real code runs), best of three, in
/// milliseconds: where RustPython's floor is, operation by operation.
const MICRO: &str = r#"
import time
from contextvars import ContextVar
cv = ContextVar('x'); cv.set(1)
class S:
    __slots__ = ('a', 'b')
class P:
    def m(self): return 1
def f0(): pass
def f3(a, b, c=None): return a
s = S(); s.a = 1; s.b = 'x'
p = P()
N = 100000
def t_empty_loop():
    for i in range(N): pass
def t_int_arith():
    x = 0
    for i in range(N): x = (x + i * 3) % 1000003
def t_float_arith():
    x = 0.5
    for i in range(N): x = x * 1.0000001 + 0.1
def t_call():
    for i in range(N): f0()
def t_call_keyword():
    for i in range(N): f3(1, 2, c=3)
def t_method_call():
    for i in range(N): p.m()
def t_builtin_method():
    l = []
    for i in range(N): l.append(i)
def t_new_object():
    for i in range(N): o = object.__new__(S); o.a = i; o.b = None
def t_attribute_get():
    for i in range(N): x = s.a; y = s.b
def t_global_get():
    for i in range(N): N; N; N
def t_isinstance():
    for i in range(N): isinstance(s, S)
def t_dict_get_set():
    d = {}
    for i in range(N): d[i & 1023] = d.get(i & 1023, 0) + 1
def t_tuple_unpack():
    for i in range(N): a, b = i, 2
def t_str_compare():
    a = 'abc'
    for i in range(N): a == 'abc'
def t_str_slice_len():
    x = '1234567890123456789012345678901234567890'
    for i in range(N): len(x[:20])
def t_str_format():
    for i in range(N): '%s:%d' % ('a', i)
def t_int_to_str():
    for i in range(N): str(123456789012345678901234567890)
def t_str_to_int():
    for i in range(N): int('123456789012345678901234567890')
def t_big_int_mul_div():
    a = 10 ** 50
    for i in range(N): b = a * 7 // 3
def t_try_except():
    for i in range(N):
        try: pass
        except LookupError: pass
def t_contextvar_get():
    for i in range(N): cv.get()
def t_keyword_dict():
    for i in range(N): dict(a=1)
def t_list_comprehension():
    for i in range(N // 100): [j for j in range(100)]
for name, fn in list(globals().items()):
    if name.startswith('t_'):
        fn()
        best = min((lambda t: (fn(), time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(3))
        print(name[2:], '%.3f' % (best * 1e3))
"#;

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

        // Cold: a new sandbox to its first result, without a warm pool and
        // with one (`runtime::pool`, the daemon's default size): given time
        // to refill between sandboxes, and back to back, which drains it.
        // (`-- cold` repeats only the first, for profiling.)
        let profile_cold = std::env::args().any(|a| a == "cold");
        let runtime_with_pool = async |size: usize| {
            let opts = fathom::runtime::RuntimeOptions { warm_pool: size, ..common::options(common::shared_cache()) };
            Runtime::new(opts).await.unwrap()
        };
        // First-call times of `n` new sandboxes made `pause` apart by each
        // of `at_once` makers, the page faults each first call took (on its
        // thread: the call runs on it), the sandboxes per second all of
        // them made, and the share that started in a warm instance.
        let first_results = async |rt: &std::sync::Arc<Runtime>, n: usize, pause: Duration, at_once: usize| {
            let session = Session::new(rt.clone(), SessionOptions::new(policy.clone())).unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await; // the pool fills
            let taken = rt.warm_pool().taken;
            let start = Instant::now();
            let maker = async || {
                let (mut times, mut faults) = (Vec::new(), Vec::new());
                for _ in 0..n {
                    tokio::time::sleep(pause).await;
                    let t = Instant::now();
                    let sb = new_sandbox(&session).await;
                    let f = minflt();
                    assert_eq!(run(&session, &sb, "print(1)").await, "[stdout]\n1");
                    faults.push((minflt() - f) as f64);
                    times.push(ms(t.elapsed()));
                }
                (times, faults)
            };
            let runs = futures_util::future::join_all((0..at_once).map(|_| maker())).await;
            let rate = (n * at_once) as f64 / start.elapsed().as_secs_f64();
            let warm = (rt.warm_pool().taken - taken) as f64 / (n * at_once) as f64;
            let (times, faults): (Vec<_>, Vec<_>) = runs.into_iter().unzip();
            (times.concat(), median(faults.concat()), rate, warm)
        };
        if profile_cold {
            // Pooled first calls only: the pool holds all 400 before they
            // start (so `perf record -D` can skip the filling).
            let pooled = runtime_with_pool(400).await;
            let t = Instant::now();
            while pooled.warm_pool().ready < 400 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            eprintln!("pool filled in {:.1} s", t.elapsed().as_secs_f64());
            // The two halves of a first result: making the sandbox (its
            // folders), then its first call.
            let session = Session::new(pooled.clone(), SessionOptions::new(policy.clone())).unwrap();
            let (mut made, mut called) = (Vec::new(), Vec::new());
            for _ in 0..400 {
                let t = Instant::now();
                let sb = new_sandbox(&session).await;
                made.push(ms(t.elapsed()));
                let t = Instant::now();
                run(&session, &sb, "print(1)").await;
                called.push(ms(t.elapsed()));
            }
            println!("cold median: make the sandbox {:.3} ms, its first call {:.3} ms", median(made), median(called));
            return;
        }
        if std::env::args().any(|a| a == "micro") {
            let Some(py) = &python else { return println!("no CPython on the PATH to compare with") };
            let unmetered =
                Session::new(rt.clone(), SessionOptions::new(common::policy(|p| p.sandbox.call_fuel = 0))).unwrap();
            let sb = new_sandbox(&unmetered).await;
            let ours = run(&unmetered, &sb, MICRO).await;
            let out = Command::new(py).args(["-I", "-S", "-c", MICRO]).output().unwrap();
            let theirs = String::from_utf8_lossy(&out.stdout).into_owned();
            let parse = |text: &str| -> Vec<(String, f64)> {
                let rows = text.lines().filter_map(|l| l.split_once(' '));
                rows.filter_map(|(n, t)| Some((n.to_owned(), t.parse().ok()?))).collect()
            };
            let (ours, theirs) = (parse(&ours), parse(&theirs));
            println!("{:<22} {:>12} {:>12} {:>8}", "primitive (100,000x)", "no-fuel ms", "cpython ms", "ratio");
            let mut ratios = Vec::new();
            assert_eq!(ours.len(), theirs.len(), "{ours:?} vs {theirs:?}");
            for ((name, a), (their_name, b)) in ours.iter().zip(&theirs) {
                assert_eq!(name, their_name);
                ratios.push(a / b);
                println!("{name:<22} {a:>12.2} {b:>12.2} {:>7.1}x", a / b);
            }
            let geo = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
            println!("geometric mean of the primitives: {geo:.2}x CPython, without fuel");
            return;
        }
        let unpooled = runtime_with_pool(0).await;
        let (cold, ..) = first_results(&unpooled, 60, Duration::ZERO, 1).await;
        let pooled = runtime_with_pool(fathom::config::Server::default().warm_pool).await;
        let apart = Duration::from_millis(20);
        let mut rows = Vec::new();
        for (label, rt, pause, at_once) in [
            ("no pool, 20 ms apart", &unpooled, apart, 1),
            ("warm pool, 20 ms apart", &pooled, apart, 1),
            ("no pool, back to back", &unpooled, Duration::ZERO, 1),
            ("warm pool, back to back", &pooled, Duration::ZERO, 1),
            ("warm pool, 4 makers at once", &pooled, Duration::ZERO, 4),
            ("no pool, 4 makers at once", &unpooled, Duration::ZERO, 4),
        ] {
            let (times, faults, rate, warm) = first_results(rt, 60, pause, at_once).await;
            rows.push((label, median(times.clone()), percentile(times, 0.99), faults, rate, warm));
        }
        for (label, p50, p99, faults, rate, warm) in &rows {
            println!(
                "new sandbox -> first print(1), {label:<28} p50 {p50:6.2} ms  p99 {p99:6.2} ms  {faults:4.0} page faults  {rate:4.0} sandboxes/s  {:3.0}% warm",
                warm * 100.0
            );
        }
        println!(
            "warm pool / no pool: 20 ms apart {:.2}x, back to back {:.2}x, 4 at once {:.2}x",
            rows[1].1 / rows[0].1,
            rows[3].1 / rows[2].1,
            rows[4].1 / rows[5].1
        );
        drop((unpooled, pooled));
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
        let cold_m = median(cold.clone());
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
