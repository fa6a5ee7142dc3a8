//! Filesystem escapes: every path a guest can name stays inside the mounts
//! its policy grants, and every file the host touches for it is resolved
//! beneath a directory handle.

use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use fathom::policy::PolicyStore;
use fathom::runtime::SessionOptions;
use serde_json::json;

use super::Sbx;

fn no_passwd(out: &fathom::runtime::CallOutcome) {
    assert!(!out.output.contains("root:x:0"), "host file leaked: {}", out.output);
}

/// Attack: climb out of the workspace with `..` to read a host file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_dot_climbs_no_higher_than_the_workspace() {
    let s = Sbx::new(|_| {}).await;
    let out = s.py("print(open('/home/user/../../../../etc/passwd').read())").await;
    no_passwd(&out);
    assert!(out.output.contains("Error"), "{}", out.output);
}

/// Attack: open a host file by its absolute path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absolute_host_paths_do_not_exist_inside() {
    let s = Sbx::new(|_| {}).await;
    let out = s.py("print(open('/etc/passwd').read())").await;
    no_passwd(&out);
    assert!(out.output.contains("FileNotFoundError") || out.output.contains("Error"), "{}", out.output);
}

/// Attack: the guest makes a symbolic link to a host file and reads through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_symlink_to_the_host_leads_nowhere() {
    let s = Sbx::new(|_| {}).await;
    let out = s.py("import os\nos.symlink('/etc/passwd', 'l')\nprint(open('l').read())").await;
    no_passwd(&out);
    assert!(out.output.contains("Error"), "{}", out.output);
}

/// Attack: a relative symlink that climbs out with `..`, then listing through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_symlink_climbing_with_dot_dot_leads_nowhere() {
    let s = Sbx::new(|_| {}).await;
    let out = s.py("import os\nos.symlink('../../../../../etc', 'up')\nprint(os.listdir('up'))").await;
    assert!(!out.output.contains("passwd"), "{}", out.output);
    assert!(out.output.contains("Error"), "{}", out.output);
}

/// Attack: the host (or another process) plants a symlink in the workspace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_planted_on_the_host_is_not_followed() {
    let s = Sbx::new(|_| {}).await;
    std::os::unix::fs::symlink("/etc/passwd", s.workspace.join("planted")).unwrap();
    let out = s.py("print(open('planted').read())").await;
    no_passwd(&out);
    let out = s.sh("cat planted").await;
    no_passwd(&out);
}

/// Attack: hard-link a host file into the workspace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hard_link_to_a_host_file_cannot_be_made() {
    let s = Sbx::new(|_| {}).await;
    let out = s.py("import os\nos.link('/etc/passwd', 'h')\nprint(open('h').read())").await;
    no_passwd(&out);
    assert!(!s.workspace.join("h").exists());
}

/// Attack: a FIFO in a local root, which would block whoever opens it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_in_a_local_root_is_refused_without_blocking() {
    let local = tempfile::tempdir().unwrap();
    let root = local.path().canonicalize().unwrap();
    assert!(std::process::Command::new("mkfifo").arg(root.join("pipe")).status().unwrap().success());
    let s = Sbx::new(|p| p.files.local_roots = vec![root.clone()]).await;
    let path = root.join("pipe").to_string_lossy().into_owned();
    let call = s.call("tool-python.upload_file_from_local_to_sandbox", json!({ "local_file_path": path }));
    let out = tokio::time::timeout(Duration::from_secs(30), call).await.expect("the call blocked on the FIFO");
    assert!(!out.ok, "{}", out.output);
}

/// Attack: a FIFO in a folder a user gave as a sandbox's workspace, opened
/// from Python. File operations in folders the runtime did not make run on
/// tokio's blocking pool (`Mounts::only_own_folders`), so the open blocks a
/// pool thread, not the thread that runs calls: the call still ends at its
/// wall-clock limit and the next call runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_in_a_users_workspace_blocks_only_its_call_until_the_deadline() {
    let folder = tempfile::tempdir().unwrap();
    let pipe = folder.path().join("pipe");
    assert!(std::process::Command::new("mkfifo").arg(&pipe).status().unwrap().success());
    // A writer end, opened without waiting, unblocks whoever waits in `open`.
    let unblock = |pipe: &std::path::Path| {
        let _ = std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(pipe);
    };
    // Should the open block this very thread, a watchdog ends it, so the
    // test fails on the time below rather than hanging.
    let watched = pipe.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(20));
        unblock(&watched);
    });
    let s = Sbx::new(|p| p.sandbox.call_timeout_secs = 1.0).await;
    let theirs = s.session.create_sandbox(Duration::from_secs(60), Some(folder.path().to_path_buf())).unwrap();
    let args = json!({ "code_block": "open('pipe').read()", "sandbox_id": theirs.id }).to_string();
    let t = std::time::Instant::now();
    let out = s.session.call("tool-python", "run_python_code", &args).await;
    assert!(t.elapsed() < Duration::from_secs(15), "the call blocked on the FIFO for {:?}", t.elapsed());
    assert_eq!(super::limit(&out), Some("sandbox.call_timeout_secs"), "{}", out.output);
    assert_eq!(s.py("print(6 * 7)").await.output, "[stdout]\n42");
    unblock(&pipe); // the pool thread still in `open`
}

/// Attack: a Unix socket in a local root passed off as a file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_in_a_local_root_is_refused() {
    let local = tempfile::tempdir().unwrap();
    let root = local.path().canonicalize().unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();
    let s = Sbx::new(|p| p.files.local_roots = vec![root.clone()]).await;
    let path = root.join("sock").to_string_lossy().into_owned();
    let out = s.call("tool-python.upload_file_from_local_to_sandbox", json!({ "local_file_path": path })).await;
    assert!(!out.ok, "{}", out.output);
}

/// Attack: a symlink in a local root pointing at a device (`/dev/zero`, endless).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_behind_a_symlink_in_a_local_root_is_refused() {
    let local = tempfile::tempdir().unwrap();
    let root = local.path().canonicalize().unwrap();
    std::os::unix::fs::symlink("/dev/zero", root.join("zero")).unwrap();
    let s = Sbx::new(|p| p.files.local_roots = vec![root.clone()]).await;
    let path = root.join("zero").to_string_lossy().into_owned();
    let out = s.call("tool-python.upload_file_from_local_to_sandbox", json!({ "local_file_path": path })).await;
    assert!(!out.ok, "{}", out.output);
    assert_eq!(s.session.disk_used().0, 0);
}

/// Attack: a path far longer than the host's PATH_MAX.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_longer_than_path_max_is_refused() {
    let s = Sbx::new(|_| {}).await;
    let out = s.py("import os\nos.makedirs('/home/user/' + '/'.join(['n' * 200] * 30))").await;
    assert!(out.output.contains("Error"), "{}", out.output);
    let (_, files) = s.session.disk_used();
    assert!(files <= 6, "{files} folders made");
}

/// Attack: nest folders one level at a time through directory descriptors,
/// so no single path is long (30,000 levels took 3.6 s before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nesting_through_directory_descriptors_stops_at_the_bound() {
    let s = Sbx::new(|_| {}).await;
    let out = s
        .py("import os\nfd = os.open('.', os.O_RDONLY)\nn = 0\ntry:\n    for i in range(30000):\n        os.mkdir('d', dir_fd=fd)\n        fd = os.open('d', os.O_RDONLY, dir_fd=fd)\n        n += 1\nexcept OSError as e:\n    print(n, e)")
        .await;
    assert!(out.output.contains("64 nested folders"), "{}", out.output);
    let ws = s.workspace.clone();
    drop(s);
    assert!(!ws.exists(), "the tree was left behind");
}

/// Attack: odd names (newlines, escapes, NUL, non-ASCII) to confuse the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_names_stay_inside_the_workspace() {
    let s = Sbx::new(|_| {}).await;
    let out = s
        .py("import os\nfor n in ['a\\nb', '\\x1b[31mred', 'ünï', ' ', '-rf']:\n    open(n, 'w').write('x')\ntry:\n    open('a\\x00b', 'w')\nexcept ValueError as e:\n    print('nul refused')\nprint(len(os.listdir('.')))")
        .await;
    assert!(out.output.contains("nul refused") && out.output.contains("5"), "{}", out.output);
    assert_eq!(std::fs::read_dir(&s.workspace).unwrap().count(), 5);
}

/// Attack: save an output under a name that climbs out of the outputs folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_filename_cannot_climb_out_of_the_outputs() {
    let outputs = tempfile::tempdir().unwrap();
    let mut opts = SessionOptions::new(common_policy());
    opts.outputs = Some(outputs.path().join("out"));
    let s = Sbx::with(opts).await;
    s.py("open('r.txt', 'w').write('report')").await;
    for name in ["../escape.txt", "../../escape.txt", "/tmp/escape.txt", "a/../../escape.txt"] {
        let args = json!({ "sandbox_file_path": "r.txt", "local_filename": name });
        let out = s.call("tool-python.download_file_from_sandbox_to_local", args).await;
        assert!(!out.ok, "{name}: {}", out.output);
    }
    assert!(!outputs.path().join("escape.txt").exists());
    assert!(!std::path::Path::new("/tmp/escape.txt").exists());
}

/// Attack: upload a host file from outside every local root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_from_outside_the_local_roots_is_refused() {
    let s = Sbx::new(|_| {}).await;
    let out =
        s.call("tool-python.upload_file_from_local_to_sandbox", json!({ "local_file_path": "/etc/passwd" })).await;
    assert!(!out.ok, "{}", out.output);
    assert!(!s.workspace.join("passwd").exists());
}

/// Attack: write into a local root, which is read-only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_roots_cannot_be_written() {
    let local = tempfile::tempdir().unwrap();
    let root = local.path().canonicalize().unwrap();
    let s = Sbx::new(|p| {
        p.files.local_roots = vec![root.clone()];
        p.tools.local_files.push("hostile".into());
    })
    .await;
    let path = root.join("planted.txt").to_string_lossy().into_owned();
    let out = s.call("hostile.write", json!({ "path": path, "content": "x" })).await;
    assert!(!out.ok, "{}", out.output);
    assert!(!root.join("planted.txt").exists());
}

/// Attack: read back files an earlier call saved (another call's outputs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn earlier_outputs_cannot_be_read_back() {
    let s = Sbx::new(|p| p.tools.local_files.push("hostile".into())).await;
    s.py("open('r.txt', 'w').write('secret report')").await;
    let args = json!({ "sandbox_file_path": "r.txt", "local_filename": "r.txt" });
    assert!(s.call("tool-python.download_file_from_sandbox_to_local", args).await.ok);
    let outputs = s.session.outputs_dir().to_string_lossy().into_owned();
    let out = s.call("hostile.list", json!({ "path": outputs })).await;
    assert!(!out.output.contains("r.txt"), "{}", out.output);
}

/// Attack: a policy whose local root is the temporary folder, where every
/// sandbox of the machine lives.
#[test]
fn a_local_root_over_fathoms_folders_is_refused_at_load() {
    let errors = PolicyStore::default().load_text("test", "[files]\nlocal_roots = [\"/tmp\"]\n").unwrap_err();
    let text = format!("{errors:?}");
    assert!(text.contains("local_roots") && text.contains("temporary folder"), "{text}");
}

fn common_policy() -> fathom::policy::Policy {
    super::common::policy(|_| {})
}

/// Attack: a made-up sandbox id that is a path, to place a workspace elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_made_up_sandbox_id_cannot_be_a_path() {
    let s = Sbx::new(|_| {}).await;
    for id in ["../../escape", "/tmp/x", "a/b", ".hidden", "-rf", &"x".repeat(65)] {
        let out = s.call("tool-python.run_python_code", json!({ "code_block": "print(1)", "sandbox_id": id })).await;
        assert!(!out.ok && out.output.contains("does not exist"), "{id}: {}", out.output);
    }
    assert_eq!(s.session.sandbox_ids().len(), 1);
}

/// Attack: made-up sandbox ids to get past sandbox.max_sandboxes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_sandbox_ids_stop_at_max_sandboxes() {
    let s = Sbx::new(|p| p.sandbox.max_sandboxes = 2).await;
    assert!(s.call("tool-python.run_python_code", json!({ "code_block": "print(1)", "sandbox_id": "mine" })).await.ok);
    let out = s.call("tool-python.run_python_code", json!({ "code_block": "print(1)", "sandbox_id": "another" })).await;
    assert!(!out.ok && out.output.contains("sandbox.max_sandboxes") && out.output.contains("mine"), "{}", out.output);
}
