//! Isolation benchmark: `cargo bench --bench isolation`.
//!
//! One task runs a resource bomb after another (CPU in Python and in the
//! shell, memory, output, disk, many files, a zip bomb) while a second task
//! makes small Python calls; prints the second task's call latency idle and
//! under each bomb, side by side in one run, and the ratio. The promise is
//! that a misbehaving tool costs its neighbours at most 2x.

#[path = "../common/mod.rs"]
mod common;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fathom::runtime::{Runtime, Session, SessionOptions};
use serde_json::json;

const SAMPLES: usize = 200;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn sandbox(session: &Session) -> String {
    let out = session.call("tool-python", "create_sandbox", "{}").await.output;
    out.rsplit(' ').next().unwrap().to_owned()
}

/// Median latency of a small call in `session`'s sandbox `sbx`.
async fn probe(session: &Session, sbx: &str) -> Duration {
    let args = json!({"code_block": "x = sum(range(100))\nprint(x)", "sandbox_id": sbx}).to_string();
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let t = Instant::now();
        let out = session.call("tool-python", "run_python_code", &args).await;
        samples.push(t.elapsed());
        assert!(out.output.contains("4950"), "{}", out.output);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    median(samples)
}

fn zip_bomb() -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("zeros", options).unwrap();
    zip.write_all(&vec![0u8; 256 << 20]).unwrap();
    zip.finish().unwrap().into_inner()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let rt: Arc<Runtime> = common::runtime().await;
    let victim = Session::new(rt.clone(), SessionOptions::new(common::policy(|_| {}))).unwrap();
    let vsbx = sandbox(&victim).await;
    probe(&victim, &vsbx).await; // warm
    let idle = probe(&victim, &vsbx).await;
    println!("{:<44} median {:>8.2} ms", "idle", idle.as_secs_f64() * 1e3);

    let bombs: Vec<(&str, &str, String)> = vec![
        ("CPU: Python busy loop", "run_python_code", "while True:\n    pass".into()),
        ("CPU: shell loop", "run_command", "while true; do i=$((i+1)); done".into()),
        ("memory: Python grows to its cap", "run_python_code", "k = []\nwhile True:\n    k.append(bytearray(1 << 20))".into()),
        ("output: Python prints without end", "run_python_code", "while True:\n    print('x' * 10000)".into()),
        ("disk: Python fills its quota", "run_python_code", "import os\nfor i in range(1000000):\n    with open('f', 'wb') as f:\n        f.write(b'0' * (8 << 20))\n    os.remove('f')".into()),
        ("files: Python makes files to max_files", "run_python_code", "import os\nfor i in range(10**6):\n    open(f'f{i % 5000}', 'w').close()\n    if i % 5000 == 4999:\n        [os.remove(f'f{j}') for j in range(5000)]".into()),
        ("zip bomb: unzip in the shell", "run_command", "while true; do rm -rf out; unzip -q -d out bomb.zip; done".into()),
    ];
    let bomb_zip = zip_bomb();
    for (what, tool, code) in bombs {
        let attacker = Arc::new(
            Session::new(
                rt.clone(),
                SessionOptions::new(common::policy(|p| {
                    p.sandbox.call_timeout_secs = 2.0;
                    p.sandbox.disk_quota_mb = 64;
                    p.sandbox.max_files = 5000;
                })),
            )
            .unwrap(),
        );
        let asbx = sandbox(&attacker).await;
        let ws = attacker.sandbox(&asbx).unwrap().workspace.clone();
        std::fs::write(ws.join("bomb.zip"), &bomb_zip).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let key = if tool == "run_command" { "command" } else { "code_block" };
        let args = json!({ key: code, "sandbox_id": asbx }).to_string();
        let (a, s, tool) = (attacker.clone(), stop.clone(), tool.to_owned());
        let bomb = tokio::spawn(async move {
            let mut limits = 0;
            while !s.load(Ordering::SeqCst) {
                let out = a.call("tool-python", &tool, &args).await;
                limits += usize::from(out.limit.is_some());
            }
            limits
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let under = probe(&victim, &vsbx).await;
        stop.store(true, Ordering::SeqCst);
        let limits = bomb.await.unwrap();
        println!(
            "{what:<44} median {:>8.2} ms   {:>5.2}x idle   (bomb stopped by a limit {limits} times)",
            under.as_secs_f64() * 1e3,
            under.as_secs_f64() / idle.as_secs_f64()
        );
    }
}
