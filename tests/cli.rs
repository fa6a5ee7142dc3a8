//! The `fathom` binary as a user runs it: `tool list`, `tool call`,
//! `tool new` → `cargo test` → `tool install`, and `policy check/show`.

use std::path::Path;
use std::process::{Command, Output};

const FATHOM: &str = env!("CARGO_BIN_EXE_fathom");

/// The compile cache the other test binaries share, so the Python component
/// is compiled once per machine, not once per command.
fn shared_cache() -> std::path::PathBuf {
    std::env::temp_dir().join("fathom-test-cache")
}

fn fathom(state: &Path, args: &[&str]) -> Output {
    Command::new(FATHOM)
        .args(args)
        .env("FATHOM_STATE_DIR", state)
        .env("FATHOM_CACHE_DIR", shared_cache())
        .env_remove("FATHOM_TOOLS_DIR")
        .env_remove("FATHOM_POLICY_DIR")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn tool_list_shows_installed_tools_with_schemas() {
    let state = tempfile::tempdir().unwrap();
    let out = fathom(state.path(), &["tool", "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tools: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<String> =
        tools.iter().map(|t| format!("{}.{}", t["server"].as_str().unwrap(), t["name"].as_str().unwrap())).collect();
    for expected in [
        "tool-python.create_sandbox",
        "tool-python.upload_file_from_local_to_sandbox",
        "tool-python.download_file_from_sandbox_to_local",
    ] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    assert!(!names.iter().any(|n| n.starts_with("hostile.")), "test components must not be installed");
    assert!(
        tools
            .iter()
            .all(|t| t["input_schema"]["type"] == "object" && t["description"].as_str().is_some_and(|d| !d.is_empty()))
    );
    let out = fathom(state.path(), &["tool", "list"]);
    assert!(text(&out.stdout).contains("tool-python.upload_file_from_local_to_sandbox\n    Upload a local file"));
}

#[test]
fn tool_call_round_trips_a_file_through_a_sandbox() {
    let state = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("notes.txt"), "fathom").unwrap();
    let policy = state.path().join("p.toml");
    std::fs::write(&policy, format!("extends = \"default\"\n[files]\nlocal_roots = [{:?}]\n", data.path())).unwrap();
    let args =
        serde_json::json!({"local_file_path": data.path().join("notes.txt"), "sandbox_file_path": "in/"}).to_string();
    let out = fathom(
        state.path(),
        &[
            "tool",
            "call",
            "tool-python.upload_file_from_local_to_sandbox",
            "--args",
            &args,
            "--policy",
            policy.to_str().unwrap(),
            "--workspace",
            ws.path().to_str().unwrap(),
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["output"], "File uploaded to /home/user/in/notes.txt (6 bytes)");
    assert!(v["error"].is_null() && v["fuel"].as_u64().unwrap() > 0 && v["wall_ms"].as_f64().unwrap() > 0.0, "{v}");
    assert_eq!(std::fs::read_to_string(ws.path().join("in/notes.txt")).unwrap(), "fathom");

    // A tool error is still a call carried out: exit 0, ok false.
    let out = fathom(
        state.path(),
        &[
            "tool",
            "call",
            "tool-python.upload_file_from_local_to_sandbox",
            "--args",
            r#"{"local_file_path": "/etc/passwd"}"#,
            "--json",
        ],
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert!(v["error"].as_str().unwrap().contains("files.local_roots"), "{v}");

    // Where a download says it saved the file (`... to: PATH (N bytes)`).
    let download = || {
        let out = fathom(
            state.path(),
            &[
                "tool",
                "call",
                "tool-python.download_file_from_sandbox_to_local",
                "--args",
                r#"{"sandbox_file_path": "in/notes.txt"}"#,
                "--workspace",
                ws.path().to_str().unwrap(),
            ],
        );
        let said = text(&out.stdout);
        let rest = said.strip_prefix("File downloaded successfully to: ").expect(&said);
        rest.rsplit_once(" (").expect(rest).0.to_owned()
    };
    let saved = download();
    assert!(saved.starts_with(state.path().join("outputs/call-").to_str().unwrap()), "{saved}");
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), "fathom");
    // A second call saves into a folder of its own: nothing is overwritten.
    let second = download();
    assert_ne!(second, saved);
    assert!(std::path::Path::new(&saved).exists() && std::path::Path::new(&second).exists());
}

#[test]
fn usage_and_setup_errors_exit_2_with_one_clear_line() {
    let state = tempfile::tempdir().unwrap();
    let out = fathom(state.path(), &["tool", "call", "create_sandbox"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("name the tool as SERVER.TOOL"), "{}", text(&out.stderr));
    let out = fathom(state.path(), &["tool", "call", "tool-python.create_sandbox", "--policy", "nonexistent"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "known policies: default, local-model, mirothinker-1.0, mirothinker-1.7, offline, research, strict"
        ),
        "{}",
        text(&out.stderr)
    );
    let out = fathom(state.path(), &["tool", "call", "tool-python.create_sandbox", "--workspace", "/no/such/dir"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn policy_check_names_key_and_line() {
    let state = tempfile::tempdir().unwrap();
    let bad = state.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"bad\"\n\n[sandbox]\nmemory_mb = 0\ncall_fuel = 10\n[network]\nallow_hosts = [\"https://x.org/\"]\n",
    )
    .unwrap();
    let out = fathom(state.path(), &["policy", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("bad.toml:4: `sandbox.memory_mb`: 0 is out of range"), "{err}");
    assert!(err.contains("bad.toml:7: `network.allow_hosts`"), "{err}");
    std::fs::write(&bad, "[sandbox]\ncall_timeout = 3\n").unwrap();
    let err = text(&fathom(state.path(), &["policy", "check", bad.to_str().unwrap()]).stderr);
    assert!(err.contains(":2: `sandbox.call_timeout`: unknown key `call_timeout`"), "{err}");

    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/strict.toml");
    let out = fathom(state.path(), &["policy", "check", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = fathom(state.path(), &["policy", "show", "strict"]);
    let shown = text(&out.stdout);
    assert!(
        shown.contains("memory_mb = 128")
            && shown.contains("max_turns = 100")
            && shown.contains("output_bytes = 10000"),
        "{shown}"
    );
}

/// `fathom tool new` makes a crate that passes its own test, builds, installs
/// and is then callable: the whole path a tool author takes.
#[test]
fn scaffolded_tool_tests_builds_installs_and_runs() {
    let state = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(FATHOM)
        .args(["tool", "new", "wordy"])
        .current_dir(work.path())
        .env("FATHOM_STATE_DIR", state.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let krate = work.path().join("wordy");
    // Pin dependency versions to the ones the project already builds with.
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools-wasm/Cargo.lock"), krate.join("Cargo.lock"))
        .unwrap();
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffold-target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());

    let test = Command::new(&cargo)
        .args(["test", "--quiet"])
        .current_dir(&krate)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "cargo test in the scaffold failed:\n{}\n{}",
        text(&test.stdout),
        text(&test.stderr)
    );

    let install = Command::new(FATHOM)
        .args(["tool", "install", "."])
        .current_dir(&krate)
        .env("FATHOM_STATE_DIR", state.path())
        .env("FATHOM_CACHE_DIR", shared_cache())
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(install.status.success(), "{}", text(&install.stderr));
    assert!(text(&install.stdout).contains("with tools: wordy.count_words"), "{}", text(&install.stdout));

    let out = fathom(state.path(), &["tool", "call", "wordy.count_words", "--args", r#"{"text": "to be or not"}"#]);
    assert_eq!(text(&out.stdout).trim(), "4", "{}", text(&out.stderr));

    let again = Command::new(FATHOM).args(["tool", "new", "wordy"]).current_dir(work.path()).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    let bad = Command::new(FATHOM).args(["tool", "new", "Bad Name"]).current_dir(work.path()).output().unwrap();
    assert!(text(&bad.stderr).contains("not a usable tool name"));
}
