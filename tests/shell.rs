//! `tool-python.run_command` for real: the shell's table of cases (expected
//! outputs recorded from GNU bash and coreutils) run through the real Python
//! component, each in a sandbox of its own, plus what only the component can
//! show: `python3` running in the sandbox's own interpreter, state kept
//! between calls, files shared with `run_python_code`, and `wget`/`curl`
//! through the host's network layer.

#[path = "../tools-wasm/shell/tests/cases.rs"]
mod cases;
mod common;

use common::web::Web;
use fathom::runtime::{Session, SessionOptions};
use serde_json::json;

/// stdout and exit code of a `run_command` observation.
fn parse(observation: &str) -> (String, i32) {
    let (body, code) = observation.rsplit_once("[exit code] ").expect(observation);
    let code: i32 = code.trim().parse().expect(observation);
    let stdout = body
        .strip_prefix("[stdout]\n")
        .map(|s| s.split("\n[stderr]\n").next().unwrap().trim_end_matches('\n').to_owned())
        .unwrap_or_default();
    (stdout, code)
}

async fn command(session: &Session, sandbox: &str, cmd: &str) -> String {
    let out =
        session.call("tool-python", "run_command", &json!({"command": cmd, "sandbox_id": sandbox}).to_string()).await;
    assert!(out.ok, "{cmd}: {}", out.output);
    out.output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_of_commands_through_the_component() {
    let rt = common::runtime().await;
    let session = Session::new(rt, SessionOptions::new(common::policy(|p| p.sandbox.max_sandboxes = 100_000))).unwrap();
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in cases::CASES {
        // Cases that script the host (a stand-in Python, canned HTTP) belong
        // to the library's own suite; the real ones are tested below.
        // A sandbox has no `/` to `cd` to, only /home/user and /tmp.
        let scripts_host = ["python3 ", "python ", "wget ", "curl "].iter().any(|w| case.cmd.contains(w));
        if scripts_host || case.cmd.contains("cd /;") {
            continue;
        }
        let created = session.call("tool-python", "create_sandbox", "{}").await;
        let id = created.output.strip_prefix("Sandbox created with sandbox_id: ").expect(&created.output).to_owned();
        let workspace = session.sandbox(&id).unwrap().workspace.clone();
        for (path, content) in case.files {
            let full = workspace.join(path);
            match content {
                None => std::fs::create_dir_all(&full).unwrap(),
                Some(c) => {
                    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
                    std::fs::write(&full, c).unwrap();
                }
            }
        }
        let observation = command(&session, &id, case.cmd).await;
        let (stdout, code) = parse(&observation.replace("/home/user", "$HOME"));
        ran += 1;
        if stdout != case.out.trim_end_matches('\n') || code != case.code {
            failures.push(format!(
                "--- {}\n$ {}\nexpected (exit {}):\n{}\ngot:\n{observation}",
                case.name, case.cmd, case.code, case.out
            ));
        }
    }
    assert!(ran > 200, "only {ran} cases ran");
    assert!(failures.is_empty(), "{} of {ran} cases failed:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_state_and_files_are_the_sandboxs_own() {
    let f = common::Fixture::new(common::policy(|_| {})).await;
    let sb = f.sandbox.clone();
    let out =
        command(&f.session, &sb, "mkdir -p work && cd work && printf 'a,1\\nb,2\\nc,3\\n' > t.csv && export MODE=sum")
            .await;
    assert_eq!(parse(&out), (String::new(), 0));
    // cwd and exported variables persist; python3 sees both, and stdin.
    let script = "import os, sys\nrows = [l.split(',') for l in sys.stdin.read().split()]\nprint(os.getcwd(), os.environ['MODE'], sum(int(r[1]) for r in rows), sys.argv[1:])\n";
    std::fs::write(f.workspace.join("work/s.py"), script).unwrap();
    let out = command(&f.session, &sb, "cat t.csv | python3 s.py x && pwd").await;
    assert_eq!(parse(&out), ("/home/user/work sum 6 ['x']\n/home/user/work".into(), 0));
    // A script's globals are its own: the notebook does not see them, nor they it.
    let cell = f.call("tool-python.run_python_code", json!({"code_block": "secret = 41"})).await;
    assert!(cell.ok);
    let out =
        command(&f.session, &sb, "python3 -c 'print(\"secret\" in globals())'; python3 -c 'import sys; sys.exit(3)'")
            .await;
    assert_eq!(parse(&out), ("False".into(), 3));
    // Files written by the shell are there for Python, and the other way round.
    let cell = f
        .call(
            "tool-python.run_python_code",
            json!({"code_block": "open('work/from_py.txt','w').write('hi\\n'); open('work/t.csv').read().count(',')"}),
        )
        .await;
    assert!(cell.output.contains("[result]\n3"), "{}", cell.output);
    let out = command(&f.session, &sb, "cat from_py.txt; python3 missing.py").await;
    let (stdout, code) = parse(&out);
    assert_eq!((stdout.as_str(), code), ("hi", 2));
    assert!(out.contains("can't open file '/home/user/work/missing.py': [Errno 2] No such file or directory"), "{out}");
    // An uncaught exception: the traceback on stderr, exit 1; the session lives on.
    let out = command(&f.session, &sb, "echo 'print(1/0)' | python3").await;
    assert!(out.contains("ZeroDivisionError: division by zero") && out.ends_with("[exit code] 1"), "{out}");
    let cell = f.call("tool-python.run_python_code", json!({"code_block": "secret + 1"})).await;
    assert!(cell.output.contains("[result]\n42"), "{}", cell.output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shell_is_contained() {
    let f = common::Fixture::new(common::policy(|_| {})).await;
    let sb = f.sandbox.clone();
    for (cmd, expect) in [
        ("cat /etc/passwd", "No such file or directory"),
        ("ls ../..", "No such file or directory"),
        ("cd / && ls", "No such file or directory"),
        ("cat ../../../../etc/hostname", "No such file or directory"),
        ("find / -name passwd", "No such file or directory"),
        ("pip install numpy", "packages cannot be installed"),
        ("apt-get install curl", "packages cannot be installed"),
        ("wget http://127.0.0.1:9/x", "network.allow_hosts"),
        ("curl -sS http://169.254.169.254/latest/meta-data/", "refused"),
        ("frobnicate", "command not found"),
    ] {
        let out = command(&f.session, &sb, cmd).await;
        assert!(out.contains(expect) && !out.ends_with("[exit code] 0"), "{cmd}: {out}");
    }
    // A symlink made on the host, pointing out of the workspace, leads nowhere.
    std::os::unix::fs::symlink("/etc", f.workspace.join("escape")).unwrap();
    let out = command(&f.session, &sb, "cat escape/passwd").await;
    assert!(!out.contains("root:") && !out.ends_with("[exit code] 0"), "{out}");
    let out = command(&f.session, &sb, "ls escape/").await;
    let listed = parse(&out).0;
    assert!(!listed.contains("passwd") && !listed.contains("hostname"), "nothing of /etc is shown: {out}");
    // Loops and floods are stopped by the call's limits, not by luck.
    let spin = f
        .session
        .call("tool-python", "run_command", &json!({"command": "while true; do :; done", "sandbox_id": sb}).to_string())
        .await;
    assert!(!spin.ok || spin.output.contains("100000"), "{}", spin.output);
    let flood = command(&f.session, &sb, "seq 1 200000").await;
    assert!(flood.contains("[Result truncated due to length limit]\n[exit code] 0"), "{}", &flood[flood.len() - 300..]);
    assert!(flood.len() <= 20_000, "{} bytes", flood.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wget_and_curl_go_through_the_network_layer() {
    unsafe { std::env::set_var("FATHOM_TEST_SHELL_KEY", "k-123") };
    let web = Web::start(|path| match path {
        "/data.json" => Some((
            200,
            vec![("Content-Type".into(), "application/json".into())],
            br#"{"items":[{"n":2,"name":"b"},{"n":1,"name":"a"}]}"#.to_vec(),
        )),
        "/key" => Some((200, vec![], b"checked".to_vec())),
        _ => None,
    })
    .await;
    let policy = common::policy(|p| {
        p.network.allow_hosts = vec!["localhost:*".into()];
        p.network.allow_private = true;
        p.secrets.insert("FATHOM_TEST_SHELL_KEY".into(), fathom::policy::Secret { hosts: vec!["localhost:*".into()] });
    });
    let f = common::Fixture::new(policy).await;
    let sb = f.sandbox.clone();
    let url = web.url("localhost", "/data.json");
    let out =
        command(&f.session, &sb, &format!("wget -q {url} && jq -r '.items[] | select(.n > 1) | .name' data.json"))
            .await;
    assert_eq!(parse(&out), ("b".into(), 0));
    let out = command(&f.session, &sb, &format!("curl -s {url} | jq '.items | length'")).await;
    assert_eq!(parse(&out), ("2".into(), 0));
    let key = web.url("localhost", "/key");
    let out =
        command(&f.session, &sb, &format!("curl -s -H 'X-Key: {{{{secrets.FATHOM_TEST_SHELL_KEY}}}}' {key}")).await;
    assert_eq!(parse(&out), ("checked".into(), 0));
    let sent = web.headers_of("/key");
    assert!(sent[0].iter().any(|(k, v)| k == "x-key" && v == "k-123"), "{sent:?}");
    // Not allowed: a precise refusal, a failing exit code.
    let out = command(&f.session, &sb, &format!("curl -sSf {}", web.url("127.0.0.1", "/key"))).await;
    assert!(out.contains("request to 127.0.0.1 refused") && !out.ends_with("[exit code] 0"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_imports_its_neighbours_and_sees_them_change() {
    let f = common::Fixture::new(common::policy(|_| {})).await;
    let sb = f.sandbox.clone();
    std::fs::create_dir_all(f.workspace.join("proj")).unwrap();
    std::fs::write(f.workspace.join("proj/helper.py"), "VALUE = 1\n").unwrap();
    std::fs::write(f.workspace.join("proj/main.py"), "import helper, sys\nprint(helper.VALUE, sys.path[0])\n").unwrap();
    // Run from elsewhere: the script's own folder is searched first, as in CPython.
    let out = command(&f.session, &sb, "python3 proj/main.py").await;
    assert_eq!(parse(&out), ("1 /home/user/proj".into(), 0));
    // An edited helper is read afresh, as by a new process; `python` is python3.
    std::fs::write(f.workspace.join("proj/helper.py"), "VALUE = 2\n").unwrap();
    let out = command(&f.session, &sb, "cd proj && python main.py && ls").await;
    assert_eq!(parse(&out), ("2 /home/user/proj\nhelper.py\nmain.py".into(), 0), "no __pycache__ either");
    // -c imports from the working directory.
    let out = command(&f.session, &sb, "python3 -c 'import helper; print(helper.VALUE)'").await;
    assert_eq!(parse(&out), ("2".into(), 0));
    // The notebook is not affected by what scripts imported.
    let cell =
        f.call("tool-python.run_python_code", json!({"code_block": "import sys; 'helper' in sys.modules"})).await;
    assert!(cell.output.contains("[result]\nFalse"), "{}", cell.output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sandbox_keeps_its_own_directory_and_variables() {
    let f = common::Fixture::new(common::policy(|_| {})).await;
    let (a, b) = (f.sandbox.clone(), {
        let out = f.session.call("tool-python", "create_sandbox", "{}").await;
        out.output.strip_prefix("Sandbox created with sandbox_id: ").expect(&out.output).to_owned()
    });
    assert_eq!(parse(&command(&f.session, &a, "mkdir -p x && cd x && export WHO=a").await), (String::new(), 0));
    assert_eq!(parse(&command(&f.session, &b, "export WHO=b").await), (String::new(), 0));
    assert_eq!(parse(&command(&f.session, &a, "pwd; echo $WHO; ls ..").await), ("/home/user/x\na\nx".into(), 0));
    assert_eq!(parse(&command(&f.session, &b, "pwd; echo $WHO; ls").await), ("/home/user\nb".into(), 0));
}
