//! Shell benchmark: `cargo bench --bench shell`.
//!
//! `run_command("ls")` through the real component (warm sandbox, and a new
//! sandbox's first command), and `grep -r` over 100 MB of text in the
//! sandbox, side by side with GNU grep on the same files.

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use fathom::runtime::{Session, SessionOptions};
use serde_json::json;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rt = common::runtime().await;
    let policy = common::policy(|p| {
        p.sandbox.max_sandboxes = 10_000;
        p.sandbox.call_timeout_secs = 300.0;
    });
    // The same limits without a fuel budget (`sandbox.call_fuel = 0`: the
    // engine that does not meter, bounded by the deadline alone).
    let mut unmetered = policy.clone();
    unmetered.sandbox.call_fuel = 0;
    let session = Session::new(rt.clone(), SessionOptions::new(policy)).unwrap();
    let no_fuel = Session::new(rt, SessionOptions::new(unmetered)).unwrap();
    let new_sandbox = async || {
        let out = session.call("tool-python", "create_sandbox", "{}").await.output;
        out.rsplit(' ').next().unwrap().to_owned()
    };
    let run = async |sb: &str, cmd: &str| {
        let out =
            session.call("tool-python", "run_command", &json!({"command": cmd, "sandbox_id": sb}).to_string()).await;
        assert!(out.ok && out.output.ends_with("[exit code] 0"), "{cmd}: {}", out.output);
        out.output
    };

    // ls in a workspace of 20 files.
    let sb = new_sandbox().await;
    let ws = session.sandbox(&sb).unwrap().workspace.clone();
    for i in 0..20 {
        std::fs::write(ws.join(format!("file{i:02}.txt")), "x\n").unwrap();
    }
    for _ in 0..50 {
        run(&sb, "ls").await;
    }
    let mut warm = Vec::new();
    for _ in 0..1000 {
        let t = Instant::now();
        run(&sb, "ls").await;
        warm.push(t.elapsed());
    }
    let mut cold = Vec::new();
    for _ in 0..50 {
        let fresh = new_sandbox().await;
        let t = Instant::now();
        run(&fresh, "ls").await;
        cold.push(t.elapsed());
    }
    println!("run_command(\"ls\"), 20 files, warm sandbox:      median {}", ms(median(warm)));
    println!("run_command(\"ls\"), first command of a sandbox: median {}", ms(median(cold)));

    // grep -r over 100 MB: 100 files of 1 MB of log-like lines; the pattern
    // is on one line in ten thousand.
    let sb = new_sandbox().await;
    let ws = session.sandbox(&sb).unwrap().workspace.clone();
    let corpus = ws.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    let mut line_no = 0u64;
    for f in 0..100 {
        let mut text = String::with_capacity(1 << 20);
        while text.len() < (1 << 20) - 100 {
            line_no += 1;
            if line_no % 10_000 == 0 {
                text.push_str(&format!("{line_no} ERROR disk quota exceeded on volume {}\n", line_no % 7));
            } else {
                text.push_str(&format!(
                    "{line_no} INFO request served in {} ms by worker {}\n",
                    line_no % 97,
                    line_no % 13
                ));
            }
        }
        std::fs::write(corpus.join(format!("log{f:03}.txt")), text).unwrap();
    }
    let expected: u64 = line_no / 10_000;
    // The same files in two more sandboxes: one of the unmetered session
    // (its own workspace, the corpus hard-linked in), and one of this
    // session over the first sandbox's folder given as a user's folder,
    // whose file operations go through tokio's blocking pool
    // (`Mounts::only_own_folders`).
    let sb_no_fuel = no_fuel.create_sandbox(Duration::from_secs(600), None).unwrap();
    std::fs::create_dir_all(sb_no_fuel.workspace.join("corpus")).unwrap();
    for f in std::fs::read_dir(&corpus).unwrap() {
        let f = f.unwrap();
        std::fs::hard_link(f.path(), sb_no_fuel.workspace.join("corpus").join(f.file_name())).unwrap();
    }
    let sb_user = session.create_sandbox(Duration::from_secs(600), Some(ws.clone())).unwrap().id.clone();
    let grep = "grep -r 'quota exceeded' corpus | wc -l";
    let no_fuel_args = json!({"command": grep, "sandbox_id": sb_no_fuel.id}).to_string();
    let (mut wasm, mut wasm_no_fuel, mut wasm_user, mut gnu) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let found = |out: &str| assert!(out.contains(&format!("[stdout]\n{expected}")), "{out}");
    for _ in 0..5 {
        let t = Instant::now();
        found(&run(&sb, grep).await);
        wasm.push(t.elapsed());
        let t = Instant::now();
        let out = no_fuel.call("tool-python", "run_command", &no_fuel_args).await;
        wasm_no_fuel.push(t.elapsed());
        assert!(out.ok, "{}", out.output);
        found(&out.output);
        let t = Instant::now();
        found(&run(&sb_user, grep).await);
        wasm_user.push(t.elapsed());
        let t = Instant::now();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("grep -r 'quota exceeded' corpus | wc -l")
            .current_dir(&ws)
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        gnu.push(t.elapsed());
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), expected.to_string());
    }
    let (w, u, f, g) = (median(wasm), median(wasm_no_fuel), median(wasm_user), median(gnu));
    let ratio = |d: Duration| d.as_secs_f64() / g.as_secs_f64();
    println!("grep -r over 100 MB (100 files), {expected} matches:");
    println!("  run_command in the sandbox: median {} ({:.2}x GNU grep)", ms(w), ratio(w));
    println!("  the same without fuel metering (sandbox.call_fuel = 0): median {} ({:.2}x)", ms(u), ratio(u));
    println!(
        "  the same over a user's folder (file operations on the blocking pool): median {} ({:.2}x)",
        ms(f),
        ratio(f)
    );
    println!("  GNU grep (process, LC_ALL=C): median {}", ms(g));
}
