//! Information leaks: nothing of the host (its environment, its paths, other
//! tasks' files) reaches a guest or the text it gets back.

use super::Sbx;

/// Attack: read the host's environment (keys, tokens, paths) from Python.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sees_none_of_the_hosts_environment() {
    let s = Sbx::new(|_| {}).await;
    let out = s.py("import os\nprint(sorted(os.environ))").await;
    for host_var in ["CARGO", "PATH", "USER", "RUST", "SSH"] {
        assert!(!out.output.contains(&format!("'{host_var}")), "{host_var}: {}", out.output);
    }
}

/// Attack: the same through the shell's `env`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shell_sees_none_of_the_hosts_environment() {
    let s = Sbx::new(|_| {}).await;
    let out = s.sh("env").await;
    assert!(out.ok, "{}", out.output);
    assert!(!out.output.contains("CARGO") && !out.output.contains("/root"), "{}", out.output);
}

/// Attack: provoke errors to learn where the sandbox lives on the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_do_not_show_host_paths() {
    let s = Sbx::new(|_| {}).await;
    let host = s.workspace.to_string_lossy().into_owned();
    for out in [
        s.py("open('/home/user/missing/x')").await,
        s.py("import os\nprint(os.path.realpath('.'), os.getcwd())").await,
        s.sh("cat nothing; ls /nowhere; realpath .").await,
        s.call("tool-python.download_file_from_sandbox_to_local", serde_json::json!({"sandbox_file_path": "nope"}))
            .await,
    ] {
        assert!(!out.output.contains(&host), "{}", out.output);
        assert!(!out.output.contains("fathom-session-"), "{}", out.output);
    }
}

/// Attack: read another task's workspace by its host path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tasks_files_are_out_of_reach() {
    let a = Sbx::new(|_| {}).await;
    let b = Sbx::new(|_| {}).await;
    a.py("open('private.txt', 'w').write('task A only')").await;
    let path = a.workspace.join("private.txt").to_string_lossy().into_owned();
    let out = b.py(&format!("print(open({path:?}).read())")).await;
    assert!(!out.output.contains("task A only"), "{}", out.output);
    let out = b.sh(&format!("cat {path}; ls /home")).await;
    assert!(!out.output.contains("task A only"), "{}", out.output);
}

/// Attack: read the host's process information through /proc.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proc_and_sys_are_not_there() {
    let s = Sbx::new(|_| {}).await;
    let out = s.py("for p in ['/proc/self/environ', '/proc/1/cmdline', '/sys/class/net']:\n    try:\n        open(p).read()\n        print('READ', p)\n    except OSError:\n        pass\nprint('done')").await;
    assert!(out.output.contains("done") && !out.output.contains("READ"), "{}", out.output);
}

/// Attack: list the root to find what else is mounted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_holds_only_the_sandboxs_mounts() {
    let s = Sbx::new(|_| {}).await;
    let out = s.sh("ls / ; ls /etc").await;
    for host in ["etc\n", "usr", "root", "var"] {
        assert!(!out.output.contains(host), "{host}: {}", out.output);
    }
}

/// Attack: leave a file in /tmp for another sandbox of the same task to pick up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sandbox_has_its_own_tmp() {
    let s = Sbx::new(|_| {}).await;
    s.py("open('/tmp/drop.txt', 'w').write('left here')").await;
    let other = s.session.call("tool-python", "create_sandbox", "{}").await.output;
    let other = other.rsplit(' ').next().unwrap().to_owned();
    let args = serde_json::json!({"code_block": "print(open('/tmp/drop.txt').read())", "sandbox_id": other});
    let out = s.session.call("tool-python", "run_python_code", &args.to_string()).await;
    assert!(!out.output.contains("left here"), "{}", out.output);
}
