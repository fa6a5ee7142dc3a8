//! Runtime benchmark: `cargo bench --bench runtime`.
//!
//! Prints medians (and p90) of: first-time compile of a component, loading
//! a cached compiled component, a stateless instantiate + call of a trivial
//! tool (on-demand and pooling allocators side by side), and a warm call into
//! a stateful instance. A harness of our own rather than criterion: the
//! figures we need are plain medians over many runs of async code, and this
//! keeps the build light.

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use fathom::runtime::{Runtime, Session, SessionOptions};

fn stats(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() * 9 / 10])
}

fn fmt(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    }
}

fn report(what: &str, samples: Vec<Duration>) {
    let n = samples.len();
    let (median, p90) = stats(samples);
    println!("{what:<58} median {:>10}   p90 {:>10}   (n={n})", fmt(median), fmt(p90));
}

async fn call_bench(pooling: bool) {
    let mut opts = common::options(common::shared_cache());
    opts.pooling = pooling;
    let rt = Runtime::new(opts).await.unwrap();
    let session = Session::new(rt, SessionOptions::new(common::policy(|_| {}))).unwrap();
    let sandbox = session.call("tool-python", "create_sandbox", "{}").await.output;
    let sandbox = sandbox.rsplit(' ').next().unwrap().to_owned();
    let alloc = if pooling { "pooling" } else { "on-demand" };

    let args = r#"{"text": "hi"}"#;
    for _ in 0..200 {
        assert_eq!(session.call("hostile", "echo", args).await.output, "hi");
    }
    let mut samples = Vec::new();
    for _ in 0..3000 {
        let t = Instant::now();
        let out = session.call("hostile", "echo", args).await;
        samples.push(t.elapsed());
        assert!(out.ok);
    }
    report(&format!("stateless instantiate + call, trivial tool ({alloc})"), samples);

    let args = format!(r#"{{"sandbox_id": "{sandbox}"}}"#);
    session.call("counter", "incr", &args).await;
    let mut samples = Vec::new();
    for _ in 0..3000 {
        let t = Instant::now();
        let out = session.call("counter", "incr", &args).await;
        samples.push(t.elapsed());
        assert!(out.ok);
    }
    report(&format!("warm call into a stateful instance ({alloc})"), samples);
    // The state really was kept: one warm-up call plus 3000 timed ones.
    assert_eq!(session.call("counter", "incr", &args).await.output, "3002");
}

fn main() {
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    // `cargo bench --bench runtime -- calls` runs only the call benchmarks.
    let only_calls = std::env::args().any(|a| a == "calls");
    tokio.block_on(async {
        let rt = Runtime::new(common::options(common::shared_cache())).await.unwrap();
        let components = if only_calls { &[][..] } else { &["files.wasm", "hostile.wasm", "python.wasm"][..] };
        for &name in components {
            let dir = if name == "hostile.wasm" { fathom::test_tools_dir() } else { fathom::builtin_tools_dir() };
            let bytes = std::fs::read(dir.join(name)).unwrap();
            let mut samples = Vec::new();
            // The Python component takes many seconds per compile.
            let runs = if bytes.len() > 5 << 20 { 3 } else { 5 };
            for _ in 0..runs {
                let t = Instant::now();
                rt.engine().precompile_component(&bytes).unwrap();
                samples.push(t.elapsed());
            }
            report(&format!("first-time compile of {name} ({} KB)", bytes.len() / 1024), samples);

            let path = dir.join(name);
            rt.cache().load(rt.engine(), &mut rt.cache().source(&path).unwrap()).unwrap();
            let mut samples = Vec::new();
            for _ in 0..200 {
                let t = Instant::now();
                let mut source = rt.cache().source(&path).unwrap();
                let (_, origin) = rt.cache().load(rt.engine(), &mut source).unwrap();
                samples.push(t.elapsed());
                assert_eq!(origin, fathom::runtime::Origin::Cached);
            }
            report(&format!("cached load of {name} (index lookup + mmap)"), samples);
        }
        call_bench(false).await;
        call_bench(true).await;
    });
}
