//! The tool runtime under attack: limits, escapes, faults and isolation,
//! exercised with real components compiled from `tools-wasm/`.

mod common;

use std::time::{Duration, Instant};

use common::{Fixture, policy, runtime};
use fathom::runtime::{Runtime, Session, SessionOptions};
use serde_json::json;

fn assert_within(elapsed: Duration, bound: Duration) {
    let slack = bound.mul_f64(0.10) + Duration::from_millis(100);
    assert!(elapsed >= bound, "stopped early: {elapsed:?} < {bound:?}");
    assert!(elapsed <= bound + slack, "stopped late: {elapsed:?} > {bound:?} + {slack:?}");
}

// ---- CPU and time --------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn fuel_stops_an_infinite_loop_at_its_budget() {
    let budget = 2_000_000_000;
    let f = Fixture::new(policy(|p| {
        p.sandbox.call_fuel = budget;
        p.sandbox.call_timeout_secs = 60.0;
    }))
    .await;
    let out = f.call("hostile.spin", json!({})).await;
    assert!(!out.ok);
    assert_eq!(out.limit.as_ref().unwrap().key, "sandbox.call_fuel", "{}", out.output);
    assert!(out.output.starts_with("[ERROR]: ") && out.output.contains("sandbox.call_fuel"), "{}", out.output);
    let used = out.fuel as f64;
    assert!((used - budget as f64).abs() <= budget as f64 * 0.10, "fuel used {used} vs budget {budget}");
}

#[tokio::test(flavor = "multi_thread")]
async fn deadline_stops_an_infinite_loop_on_time() {
    let f = Fixture::new(policy(|p| {
        p.sandbox.call_fuel = u64::MAX;
        p.sandbox.call_timeout_secs = 1.0;
    }))
    .await;
    let start = Instant::now();
    let out = f.call("hostile.spin", json!({})).await;
    assert_within(start.elapsed(), Duration::from_secs(1));
    assert_eq!(out.limit.as_ref().unwrap().key, "sandbox.call_timeout_secs", "{}", out.output);
}

/// `call_fuel = 0`: no fuel budget, so the call runs on the engine that does
/// not meter fuel (it reports none used), and the deadline still stops a
/// busy loop on time; Python keeps its state there as on the metered engine.
#[tokio::test(flavor = "multi_thread")]
async fn without_a_fuel_budget_the_deadline_alone_stops_an_infinite_loop() {
    let f = Fixture::new(policy(|p| {
        p.sandbox.call_fuel = 0;
        p.sandbox.call_timeout_secs = 1.0;
    }))
    .await;
    let start = Instant::now();
    let out = f.call("hostile.spin", json!({})).await;
    assert_within(start.elapsed(), Duration::from_secs(1));
    assert_eq!(out.limit.as_ref().unwrap().key, "sandbox.call_timeout_secs", "{}", out.output);
    assert_eq!(out.fuel, 0, "no fuel is metered");
    let set = f.call("tool-python.run_python_code", json!({"code_block": "x = 6 * 7"})).await;
    assert!(set.ok, "{}", set.output);
    let read = f.call("tool-python.run_python_code", json!({"code_block": "print(x)"})).await;
    assert_eq!(read.output, "[stdout]\n42");
    assert_eq!(read.fuel, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn deadline_stops_a_call_blocked_in_the_host() {
    let f = Fixture::new(policy(|p| p.sandbox.call_timeout_secs = 0.5)).await;
    let start = Instant::now();
    let out = f.call("hostile.sleep", json!({"ms": 20_000})).await;
    assert_within(start.elapsed(), Duration::from_millis(500));
    assert_eq!(out.limit.as_ref().unwrap().key, "sandbox.call_timeout_secs", "{}", out.output);
}

// ---- memory and output ---------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn memory_bomb_is_stopped_by_the_cap() {
    let f = Fixture::new(policy(|p| p.sandbox.memory_mb = 64)).await;
    let out = f.call("hostile.alloc", json!({"n": 0})).await;
    assert!(!out.ok);
    assert_eq!(out.limit.as_ref().unwrap().key, "sandbox.memory_mb", "{}", out.output);
    assert!(out.output.contains("64 MB"), "{}", out.output);
    // Under the cap, allocation works; a single oversized request is
    // refused to the guest, which can carry on.
    assert_eq!(f.call("hostile.alloc", json!({"n": 32})).await.output, "allocated 32 MB");
    // The result says which limit refused it.
    let out = f.call("hostile.try_alloc", json!({"n": 1000})).await;
    assert!(out.output.starts_with("allocation refused\n[ERROR]: an allocation was refused"), "{}", out.output);
    assert_eq!(out.limit.as_ref().map(|l| l.key), Some("sandbox.memory_mb"));
}

#[tokio::test(flavor = "multi_thread")]
async fn output_flood_is_cut_at_the_cap_with_a_marker() {
    let f = Fixture::new(policy(|p| p.sandbox.output_bytes = 4096)).await;
    let out = f.call("hostile.flood", json!({"n": 10_000_000})).await;
    assert!(out.ok, "{}", out.output);
    assert!(out.output.starts_with("flooded\n[stdout]\nxxx"), "{}", &out.output[..40]);
    assert!(out.output.contains("[output truncated:") && out.output.contains("sandbox.output_bytes"));
    assert!(out.output.len() < 4096 * 2 + 200, "{}", out.output.len());

    let out = f.call("hostile.big_result", json!({"n": 1_000_000})).await;
    assert!(out.ok);
    assert!(out.output.starts_with("yyyy"));
    assert!(out.output.ends_with("limit (sandbox.output_bytes)]"), "{}", &out.output[4000..]);
    assert!(out.output.len() < 4096 + 200);
}

// ---- escapes ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn filesystem_escapes_are_refused() {
    let f = Fixture::new(policy(|_| {})).await;
    std::fs::write(f.workspace.join("inside.txt"), "inside").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", f.workspace.join("link")).unwrap();
    std::os::unix::fs::symlink("/etc", f.workspace.join("dirlink")).unwrap();
    std::os::unix::fs::symlink("../../../../../../etc/passwd", f.workspace.join("rellink")).unwrap();

    // The control: the workspace itself is readable.
    let ok = f.call("hostile.read", json!({"path": "/home/user/inside.txt"})).await;
    assert_eq!(ok.output, "inside");

    for path in [
        "../etc/passwd",
        "../../../../etc/passwd",
        "/etc/passwd",
        "/home/user/../../etc/passwd",
        "/home/user/link",
        "/home/user/dirlink/passwd",
        "/home/user/rellink",
        "/proc/self/environ",
        "/proc/self/status",
        std::env::current_dir().unwrap().join("Cargo.toml").to_str().unwrap(),
    ] {
        let out = f.call("hostile.read", json!({"path": path})).await;
        assert!(!out.ok && !out.output.contains("root:"), "read {path}: {}", out.output);
    }
    for path in ["/", "/home", "/home/user/dirlink", "/proc"] {
        let out = f.call("hostile.list", json!({"path": path})).await;
        assert!(!out.ok, "list {path}: {}", out.output);
    }
    for path in ["/home/user/../escape", "/home/user/dirlink/escape", "/tmp/../escape", "/etc/fathom-escape"] {
        let out = f.call("hostile.write", json!({"path": path, "content": "x"})).await;
        assert!(!out.ok, "write {path}: {}", out.output);
    }
    // The sandbox's /tmp is its own, not the host's.
    let out = f.call("hostile.write", json!({"path": "/tmp/fathom-escape", "content": "x"})).await;
    assert!(out.ok, "{}", out.output);
    assert!(!std::path::Path::new("/tmp/fathom-escape").exists());
    assert!(f.session.sandbox(&f.sandbox).unwrap().tmp.join("fathom-escape").exists());
    assert!(!f.workspace.parent().unwrap().join("escape").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn host_environment_is_invisible() {
    // SAFETY: set before any sandbox is built; no other thread reads it.
    unsafe { std::env::set_var("FATHOM_TEST_SECRET", "hunter2") };
    let f = Fixture::new(policy(|_| {})).await;
    let out = f.call("hostile.env", json!({})).await;
    let vars: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&out.output).unwrap();
    let keys: Vec<&str> = vars.keys().map(String::as_str).collect();
    assert_eq!(keys, ["HOME", "PWD", "TMPDIR"], "{}", out.output);
    assert!(!out.output.contains("hunter2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sockets_are_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let f = Fixture::new(policy(|_| {})).await;
    let out = f.call("hostile.connect", json!({"addr": addr})).await;
    assert!(!out.ok, "{}", out.output);
    assert!(listener.accept().is_err(), "the guest reached the listener");
    let out = f.call("hostile.resolve", json!({"addr": "localhost:80"})).await;
    assert!(!out.ok, "{}", out.output);
}

// ---- faults and isolation --------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_trap_leaves_later_and_concurrent_calls_unaffected() {
    let f = Fixture::new(policy(|p| p.sandbox.call_timeout_secs = 1.0)).await;
    let out = f.call("hostile.panic", json!({"text": "boom"})).await;
    assert!(!out.ok);
    assert!(out.output.contains("crashed") && out.output.contains("boom"), "{}", out.output);
    assert_eq!(f.call("hostile.echo", json!({"text": "after"})).await.output, "after");

    let f = std::sync::Arc::new(f);
    let mut tasks = Vec::new();
    for i in 0..24 {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let (tool, args) = match i % 4 {
                0 => ("hostile.panic", json!({"text": "boom"})),
                1 => ("hostile.spin", json!({})),
                2 => ("hostile.alloc", json!({"n": 0})),
                _ => ("hostile.echo", json!({"text": format!("echo {i}")})),
            };
            (i, f.call(tool, args).await)
        }));
    }
    for t in tasks {
        let (i, out) = t.await.unwrap();
        if i % 4 == 3 {
            assert!(out.ok && out.output == format!("echo {i}"), "{i}: {}", out.output);
        } else {
            assert!(!out.ok, "{i}: {}", out.output);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_calls_get_clear_errors() {
    let f = Fixture::new(policy(|_| {})).await;
    let s = &f.session;
    let out = s.call("hostile", "echo", r#"{"text": "unterminated"#).await;
    assert!(out.output.starts_with("[ERROR]: arguments of `hostile.echo` are not valid JSON"), "{}", out.output);
    let out = s.call("hostile", "echo", "[1, 2]").await;
    assert!(out.output.contains("must be a JSON object"), "{}", out.output);
    let out = s.call("hostile", "echo", r#"{"txt": "x"}"#).await;
    assert!(out.output.contains("invalid arguments for `hostile.echo`: missing field `text`"), "{}", out.output);
    let out = s.call("hostile", "ech0", "{}").await;
    assert!(
        out.output.contains("server `hostile` has no tool `ech0`; its tools: ") && out.output.contains("echo"),
        "{}",
        out.output
    );
    // A host-built message quoting what it was sent stays short.
    let out = s.call("hostile", &"x".repeat(240_000), "{}").await;
    assert!(out.output.len() < 4_200 && out.output.contains("has no tool"), "{} bytes", out.output.len());
    let out = s.call("nosuch", "echo", "{}").await;
    assert!(out.output.contains("there is no tool server `nosuch`"), "{}", out.output);
    // An id that is no plain name is refused, naming the live sandboxes; a
    // plain one the model made up gets a sandbox of its own (made known
    // beside the result, not in it).
    let out = s.call("counter", "incr", r#"{"sandbox_id": "sbx/nope"}"#).await;
    assert!(
        out.output.contains("sandbox 'sbx/nope' does not exist") && out.output.contains(&f.sandbox),
        "{}",
        out.output
    );
    let other = Session::new(f.rt.clone(), SessionOptions::new(policy(|_| {}))).unwrap();
    let out = other.call("counter", "incr", r#"{"sandbox_id": "sbx-nope"}"#).await;
    assert!(out.ok && out.sandbox_created.as_deref() == Some("sbx-nope"), "{}", out.output);
    assert_eq!(other.call("counter", "incr", r#"{"sandbox_id": "sbx-nope"}"#).await.output.trim(), "2");
    // No sandbox_id: the only live sandbox is meant; with two, the call is ambiguous.
    let out = s.call("counter", "incr", "{}").await;
    assert!(out.ok, "{}", out.output);
    let again = s.call("counter", "incr", &json!({"sandbox_id": f.sandbox}).to_string()).await;
    assert_eq!(again.output.trim(), format!("{}", out.output.trim().parse::<u64>().unwrap() + 1), "same sandbox");
    let second = s.call("tool-python", "create_sandbox", "{}").await;
    assert!(second.ok);
    let out = s.call("counter", "incr", "{}").await;
    assert!(out.output.contains("`sandbox_id` is missing and this task has several sandboxes"), "{}", out.output);
    // None live: one is created and reported beside the result, which
    // stays the tool's own text; later calls keep using it.
    let fresh = Session::new(f.rt.clone(), SessionOptions::new(policy(|_| {}))).unwrap();
    let out = fresh.call("counter", "incr", "{}").await;
    assert_eq!((out.ok, out.output.trim()), (true, "1"));
    assert_eq!(fresh.sandbox_ids(), vec![out.sandbox_created.clone().expect("a sandbox was made")]);
    let next = fresh.call("counter", "incr", "{}").await;
    assert_eq!((next.output.trim(), next.sandbox_created), ("2", None));
    // Still healthy.
    assert_eq!(s.call("hostile", "echo", r#"{"text": "ok"}"#).await.output, "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_component_is_reported_and_the_rest_work() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fathom::test_tools_dir()).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.path().join("corrupt.wasm"), b"\0asm\x0d\0\x01\0garbage").unwrap();
    let mut half = std::fs::read(fathom::test_tools_dir().join("hostile.wasm")).unwrap();
    half.truncate(half.len() / 2);
    std::fs::write(dir.path().join("truncated.wasm"), half).unwrap();
    let mut opts = common::options(common::shared_cache());
    opts.tools_dirs = vec![dir.path().to_path_buf()];
    let rt = Runtime::new(opts).await.unwrap();
    let mut bad: Vec<String> =
        rt.load_errors().iter().map(|e| e.path.file_name().unwrap().to_string_lossy().into_owned()).collect();
    bad.sort();
    // hostile.wasm loads; its truncated copy fails; so does the garbage.
    assert_eq!(bad, ["corrupt.wasm", "truncated.wasm"], "{:?}", rt.load_errors());
    assert!(
        rt.load_errors().iter().all(|e| e.message.contains("not a valid WebAssembly component")),
        "{:?}",
        rt.load_errors()
    );
    let s = Session::new(rt, SessionOptions::new(policy(|_| {}))).unwrap();
    assert_eq!(s.call("hostile", "echo", r#"{"text": "fine"}"#).await.output, "fine");
}

#[tokio::test(flavor = "multi_thread")]
async fn compile_cache_is_hit_on_restart_and_invalidated_by_engine_changes() {
    use std::sync::atomic::Ordering::Relaxed;
    let cache = tempfile::tempdir().unwrap();
    // The small components only: the Python one takes seconds per compile
    // (its caching, snapshot included, is checked in tests/python.rs).
    let options = |cache: &std::path::Path| {
        let mut o = common::options(cache.to_path_buf());
        o.tools_dirs = vec![fathom::test_tools_dir()];
        o
    };
    let first = Runtime::new(options(cache.path())).await.unwrap();
    let n = first.components().len() as u64;
    assert!(n >= 2);
    assert_eq!((first.cache().stats.hits.load(Relaxed), first.cache().stats.misses.load(Relaxed)), (0, n));
    assert!(first.components().iter().all(|c| !c.cached));

    let second = Runtime::new(options(cache.path())).await.unwrap();
    assert_eq!((second.cache().stats.hits.load(Relaxed), second.cache().stats.misses.load(Relaxed)), (n, 0));
    assert!(second.components().iter().all(|c| c.cached));

    let mut changed = options(cache.path());
    changed.opt_level = wasmtime::OptLevel::None;
    let third = Runtime::new(changed).await.unwrap();
    assert_eq!((third.cache().stats.hits.load(Relaxed), third.cache().stats.misses.load(Relaxed)), (0, n));
    let artifacts = || -> Vec<std::path::PathBuf> {
        let all = std::fs::read_dir(cache.path()).unwrap().map(|e| e.unwrap().path());
        all.filter(|p| p.extension().is_some_and(|x| x == "cwasm")).collect()
    };
    assert_eq!(artifacts().len() as u64, 2 * n);

    // A damaged artifact is recompiled, not trusted. (Replaced, not
    // rewritten in place: live engines have the old ones mapped.)
    drop((first, second, third));
    for p in artifacts() {
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, b"not an artifact").unwrap();
    }
    let fourth = Runtime::new(options(cache.path())).await.unwrap();
    assert_eq!(fourth.cache().stats.misses.load(Relaxed), n);
    assert!(fourth.load_errors().is_empty());
}

// ---- sandboxes and state -------------------------------------------------

/// What a Python sandbox's first cell sees of its interpreter: names,
/// modules, folders, and whether the warm-up's traces show anywhere.
const FRESHNESS_PROBE: &str = r#"
import sys, os, random, gc
print(sorted(k for k in globals() if k not in ("sys", "os", "random", "gc")))
print(sorted(sys.modules))
print(os.getcwd(), sorted(os.listdir(".")), sorted(os.listdir("/tmp")), os.environ.get("TMPDIR"))
print(any("_w" in vars(m) for m in list(sys.modules.values()) if hasattr(m, "__dict__")))
print(gc.get_freeze_count() > 0, len(gc.get_objects()) < 10_000_000)
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_sandbox_from_the_warm_pool_is_as_fresh_as_a_new_one() {
    let runtime_with = async |warm_pool: usize| {
        let opts = fathom::runtime::RuntimeOptions { warm_pool, ..common::options(common::shared_cache()) };
        Runtime::new(opts).await.unwrap()
    };
    let (pooled, unpooled) = (runtime_with(2).await, runtime_with(0).await);
    common::wait_for_warm_pool(&pooled, 2).await;
    assert_eq!(unpooled.warm_pool().ready, 0);

    let first_cell = async |rt: &std::sync::Arc<Runtime>, code: &str| {
        let session = Session::new(rt.clone(), SessionOptions::new(policy(|_| {}))).unwrap();
        let out = session.call("tool-python", "run_python_code", &json!({ "code_block": code }).to_string()).await;
        assert!(out.ok, "{}", out.output);
        out.output
    };
    let taken = pooled.warm_pool().taken;
    let warm = first_cell(&pooled, FRESHNESS_PROBE).await;
    assert_eq!(pooled.warm_pool().taken, taken + 1, "the first call did not take a warm instance");
    let fresh = first_cell(&unpooled, FRESHNESS_PROBE).await;
    assert_eq!(warm, fresh);
    assert!(warm.contains("/home/user [] [] /tmp\nFalse\nTrue True"), "{warm}");

    // Each sandbox draws its own seed at its first call: not the warm-up's
    // `seed(0)`, and not another pooled sandbox's.
    let draw = "import random\nrandom.random()";
    let seeded_zero = "[result]\n0.8444218515250481";
    let (a, b) = (first_cell(&pooled, draw).await, first_cell(&pooled, draw).await);
    assert!(a != b && a != seeded_zero && b != seeded_zero, "{a} / {b}");
    assert_eq!(pooled.warm_pool().taken, taken + 3);

    // A policy whose memory cap a warm instance exceeds gets none (and
    // leaves the pool as it was): its sandbox starts as without a pool.
    common::wait_for_warm_pool(&pooled, 2).await;
    let tiny = Session::new(pooled.clone(), SessionOptions::new(policy(|p| p.sandbox.memory_mb = 1))).unwrap();
    let out = tiny.call("tool-python", "run_python_code", &json!({ "code_block": "print(1)" }).to_string()).await;
    assert!(!out.ok, "{}", out.output);
    assert_eq!(out.limit.map(|l| l.key), Some("sandbox.memory_mb"), "{}", out.output);
    assert_eq!(pooled.warm_pool(), fathom::runtime::WarmPoolStats { ready: 2, taken: taken + 3 });
}

#[tokio::test(flavor = "multi_thread")]
async fn stateful_instances_keep_state_per_sandbox_and_reset_after_a_trap() {
    let f = Fixture::new(policy(|p| p.sandbox.call_timeout_secs = 0.5)).await;
    assert_eq!(f.call("counter.incr", json!({})).await.output, "1");
    assert_eq!(f.call("counter.incr", json!({})).await.output, "2");
    let other = f.session.call("tool-python", "create_sandbox", "{}").await.output;
    let other = other.rsplit(' ').next().unwrap().to_owned();
    assert_eq!(f.call("counter.incr", json!({"sandbox_id": other})).await.output, "1");

    let out = f.call("counter.crash", json!({})).await;
    assert!(out.output.contains("instance was discarded") && out.output.contains("state"), "{}", out.output);
    assert_eq!(f.call("counter.incr", json!({})).await.output, "1");

    let out = f.call("counter.spin", json!({})).await;
    assert_eq!(out.limit.unwrap().key, "sandbox.call_timeout_secs");
    assert_eq!(f.call("counter.incr", json!({})).await.output, "1");
    // The other sandbox never noticed.
    assert_eq!(f.call("counter.incr", json!({"sandbox_id": other})).await.output, "2");
}

#[tokio::test(flavor = "multi_thread")]
async fn sandboxes_are_bounded_expire_and_are_freed() {
    let f = Fixture::new(policy(|p| p.sandbox.max_sandboxes = 2)).await;
    let out = f.session.call("tool-python", "create_sandbox", r#"{"timeout": 1}"#).await;
    let short = out.output.rsplit(' ').next().unwrap().to_owned();
    let short_ws = f.session.sandbox(&short).unwrap().workspace.clone();
    let out = f.session.call("tool-python", "create_sandbox", "{}").await;
    assert!(out.output.contains("sandbox.max_sandboxes"), "{}", out.output);
    let out = f.session.call("tool-python", "create_sandbox", r#"{"timeout": -3}"#).await;
    assert!(out.output.contains("`timeout` must be a whole number"), "{}", out.output);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let out = f.call("counter.incr", json!({"sandbox_id": short})).await;
    assert!(out.output.contains("has expired"), "{}", out.output);
    assert!(!short_ws.exists(), "expired workspace not freed");
    assert_eq!(f.session.sandbox_ids(), [f.sandbox.clone()]);

    let ws = f.workspace.clone();
    drop(f);
    assert!(!ws.exists(), "session's workspaces not freed");
}

#[tokio::test(flavor = "multi_thread")]
async fn workspace_quota_and_file_count_are_enforced_as_writes_happen() {
    let f = Fixture::new(policy(|p| {
        p.sandbox.disk_quota_mb = 2;
        p.sandbox.max_files = 5;
    }))
    .await;
    // The write that would pass the quota fails inside the guest, as a full
    // disk quota does; the result names the policy key.
    let out = f.call("hostile.fill", json!({"path": "/home/user/big", "n": 10})).await;
    assert!(out.output.contains("stopped after 2 MB") && out.output.contains("uota"), "{}", out.output);
    assert_eq!(out.limit.as_ref().map(|l| l.key), Some("sandbox.disk_quota_mb"), "{}", out.output);
    assert_eq!(std::fs::metadata(f.workspace.join("big")).unwrap().len(), 2 << 20);
    // The next call cannot add more, through /tmp either, or by extending.
    let out = f.call("hostile.fill", json!({"path": "/tmp/more", "n": 1})).await;
    assert!(out.output.contains("stopped after 0 MB"), "{}", out.output);
    let out = f.call("hostile.sparse", json!({"path": "/home/user/sparse", "n": 2048})).await;
    assert_eq!(out.limit.as_ref().map(|l| l.key), Some("sandbox.disk_quota_mb"), "{}", out.output);
    // Deleting frees the space.
    let out = f.call("hostile.fill", json!({"path": "/home/user/big", "n": 1})).await;
    assert!(out.ok && out.limit.is_none(), "{}", out.output);

    // Files and folders count against max_files as they are made.
    let out = f.call("hostile.many", json!({"path": "/home/user/d", "n": 100})).await;
    assert!(out.output.contains("stopped after"), "{}", out.output);
    assert_eq!(out.limit.as_ref().map(|l| l.key), Some("sandbox.max_files"), "{}", out.output);
    assert_eq!(f.session.disk_used().1, 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn files_removed_while_open_count_until_closed() {
    let f = Fixture::new(policy(|p| p.sandbox.disk_quota_mb = 3)).await;
    // Each removed file keeps its blocks while the guest holds it open: the
    // fourth megabyte does not fit.
    let out = f.call("hostile.orphans", json!({"path": "/home/user/o", "n": 10})).await;
    assert!(out.output.contains("stopped after 3"), "{}", out.output);
    assert_eq!(out.limit.as_ref().map(|l| l.key), Some("sandbox.disk_quota_mb"));
}

#[tokio::test(flavor = "multi_thread")]
async fn folders_nest_only_so_deep() {
    let f = Fixture::new(policy(|_| {})).await;
    let out = f.call("hostile.nest", json!({"path": "/home/user", "n": 1000})).await;
    let levels = fathom::caps::disk::MAX_DEPTH;
    assert!(out.output.starts_with(&format!("stopped after {levels} levels")), "{}", out.output);
    assert!(out.output.contains("64 nested folders"), "{}", out.output);
    let ws = f.workspace.clone();
    drop(f);
    assert!(!ws.exists());
}

#[tokio::test]
async fn any_tree_is_removed_however_deep() {
    // Deeper than PATH_MAX and than a descriptor per level would allow.
    let top = tempfile::tempdir().unwrap();
    let root = top.path().join("t");
    std::fs::create_dir(&root).unwrap();
    let mut dir = cap_std::fs::Dir::open_ambient_dir(&root, cap_std::ambient_authority()).unwrap();
    let name = "n".repeat(200);
    for _ in 0..40 {
        dir.create_dir(&name).unwrap();
        dir.write("f", b"x").unwrap();
        dir = dir.open_dir(&name).unwrap();
    }
    drop(dir);
    fathom::caps::disk::remove_tree(&root).unwrap();
    assert!(!root.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_disabled_by_policy_are_refused() {
    let f = Fixture::new(policy(|p| p.tools.disabled = vec!["hostile.*".into()])).await;
    let out = f.call("hostile.echo", json!({"text": "x"})).await;
    assert!(
        out.output.contains("not allowed by this task's policy") && out.output.contains("tools.disabled"),
        "{}",
        out.output
    );
}

// ---- file tools --------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn saved_outputs_share_the_task_quota() {
    let outputs = tempfile::tempdir().unwrap();
    let mut opts = SessionOptions::new(policy(|p| p.sandbox.disk_quota_mb = 2));
    opts.outputs = Some(outputs.path().to_path_buf());
    let f = Fixture::with_options(opts).await;
    f.call("hostile.write", json!({"path": "/home/user/big.txt", "content": "x".repeat(700_000)})).await;
    let save = |name: &str| json!({"sandbox_file_path": "big.txt", "local_filename": name});
    let first = f.call("tool-python.download_file_from_sandbox_to_local", save("one.txt")).await;
    assert!(first.ok, "{}", first.output);
    // A second copy would pass the quota: refused as it is written, named.
    let second = f.call("tool-python.download_file_from_sandbox_to_local", save("two.txt")).await;
    assert!(!second.ok, "{}", second.output);
    assert_eq!(second.limit.as_ref().map(|l| l.key), Some("sandbox.disk_quota_mb"), "{}", second.output);
    let saved: Vec<String> = std::fs::read_dir(outputs.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(saved, ["one.txt"]);
    // The saved copy stays booked with the workspace file.
    let (bytes, _) = f.session.disk_used();
    assert!((1_400_000..1_500_000).contains(&bytes), "{bytes}");
}

#[tokio::test(flavor = "multi_thread")]
async fn local_files_are_granted_by_the_policy_not_the_manifest() {
    let local = tempfile::tempdir().unwrap();
    let local_root = local.path().canonicalize().unwrap();
    std::fs::write(local_root.join("report.csv"), "a,b\n").unwrap();
    let f = Fixture::new(policy(|p| {
        p.files.local_roots = vec![local_root.clone()];
        p.tools.local_files = vec![];
    }))
    .await;
    let path = local_root.join("report.csv").to_string_lossy().into_owned();
    let out = f.call("tool-python.upload_file_from_local_to_sandbox", json!({"local_file_path": path})).await;
    assert!(!out.ok, "the files component asks for local files, but the policy grants none: {}", out.output);
    assert!(!f.workspace.join("report.csv").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn files_move_between_local_roots_sandbox_and_outputs() {
    let local = tempfile::tempdir().unwrap();
    let local_root = local.path().canonicalize().unwrap();
    std::fs::write(local_root.join("report.csv"), "a,b\n1,2\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", local_root.join("evil")).unwrap();
    // A FIFO would block whoever opens it until a writer comes.
    assert!(std::process::Command::new("mkfifo").arg(local_root.join("pipe")).status().unwrap().success());
    let outputs = tempfile::tempdir().unwrap();
    std::fs::write(outputs.path().join("earlier.txt"), "secret output").unwrap();
    let mut opts = SessionOptions::new(policy(|p| p.files.local_roots = vec![local_root.clone()]));
    opts.outputs = Some(outputs.path().to_path_buf());
    let f = Fixture::with_options(opts).await;
    let path = |p: &str| local_root.join(p).to_string_lossy().into_owned();

    let out =
        f.call("tool-python.upload_file_from_local_to_sandbox", json!({"local_file_path": path("report.csv")})).await;
    assert_eq!(out.output, "File uploaded to /home/user/report.csv (8 bytes)");
    assert_eq!(std::fs::read_to_string(f.workspace.join("report.csv")).unwrap(), "a,b\n1,2\n");
    let out = f
        .call(
            "tool-python.upload_file_from_local_to_sandbox",
            json!({"local_file_path": path("report.csv"), "sandbox_file_path": "data/copy.csv"}),
        )
        .await;
    assert_eq!(out.output, "File uploaded to /home/user/data/copy.csv (8 bytes)");

    // Files written in the sandbox by another tool can be downloaded.
    f.call("hostile.write", json!({"path": "/home/user/result.txt", "content": "42"})).await;
    let out =
        f.call("tool-python.download_file_from_sandbox_to_local", json!({"sandbox_file_path": "result.txt"})).await;
    let saved = outputs.path().canonicalize().unwrap().join("result.txt");
    assert_eq!(out.output, format!("File downloaded successfully to: {} (2 bytes)", saved.display()));
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), "42");

    for (args, expect) in [
        (json!({"local_file_path": "/etc/passwd"}), "outside the local folders this task may read"),
        (json!({"local_file_path": path("../../etc/passwd")}), "outside the local folders"),
        (json!({"local_file_path": path("evil")}), "leads outside the folders"),
        (json!({"local_file_path": path("pipe")}), "not a regular file"),
        (json!({"local_file_path": path("missing.txt")}), "no such file"),
        (json!({"local_file_path": "relative.txt"}), "must be an absolute path"),
        (json!({"local_file_path": outputs.path().join("earlier.txt").to_string_lossy()}), "outside the local folders"),
        (
            json!({"local_file_path": path("report.csv"), "sandbox_file_path": "/etc/x"}),
            "outside the sandbox workspace",
        ),
        (json!({"local_file_path": path("report.csv"), "sandbox_file_path": "../x"}), "outside the sandbox workspace"),
    ] {
        let out = f.call("tool-python.upload_file_from_local_to_sandbox", args.clone()).await;
        assert!(out.output.starts_with("[ERROR]: ") && out.output.contains(expect), "{args}: {}", out.output);
    }
    for (args, expect) in [
        (json!({"sandbox_file_path": "../../etc/passwd"}), "outside the sandbox workspace"),
        (json!({"sandbox_file_path": "result.txt", "local_filename": "../x"}), "plain file name"),
        (json!({"sandbox_file_path": "nope.txt"}), "no such file"),
        (json!({"sandbox_file_path": "data"}), "is a folder"),
    ] {
        let out = f.call("tool-python.download_file_from_sandbox_to_local", args.clone()).await;
        assert!(out.output.starts_with("[ERROR]: ") && out.output.contains(expect), "{args}: {}", out.output);
    }
    // Without local roots, nothing local is readable.
    let g = Fixture::new(policy(|_| {})).await;
    let out =
        g.call("tool-python.upload_file_from_local_to_sandbox", json!({"local_file_path": path("report.csv")})).await;
    assert!(out.output.contains("allows no local folders (files.local_roots)"), "{}", out.output);
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_list_has_schemas() {
    let rt = runtime().await;
    let upload = rt.tools().iter().find(|t| t.name == "upload_file_from_local_to_sandbox").unwrap();
    assert_eq!(upload.server, "tool-python");
    assert_eq!(upload.input_schema["required"], json!(["sandbox_id", "local_file_path"]));
    assert_eq!(upload.input_schema["properties"]["sandbox_file_path"]["default"], "/home/user");
}
