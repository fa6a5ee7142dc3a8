//! Running Fathom as a service: the example config passes `fathom config
//! check`, bad configs are reported with key and line, `config show` masks
//! secrets, the systemd unit passes `systemd-analyze verify`, and the daemon
//! tells systemd it is ready (`NOTIFY_SOCKET`) only once its socket answers.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::daemon::{Daemon, FATHOM, free_port};

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn fathom(state: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(FATHOM);
    cmd.args(args)
        .env("FATHOM_STATE_DIR", state)
        .env("XDG_CONFIG_HOME", state.join("no-config"))
        .env_remove("FATHOM_LLM_BASE_URL")
        .env_remove("FATHOM_SERVER_TOKEN")
        .env_remove("FATHOM_LLM_API_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn the_example_config_is_valid_and_bad_ones_name_key_and_line() {
    let state = tempfile::tempdir().unwrap();
    let example = repo().join("packaging/config.toml");
    let out = fathom(state.path(), &["config", "check", example.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(": ok"));

    let bad = state.path().join("bad.toml");
    std::fs::write(&bad, "[server]\nconcurrency = 4\nqueue = \"many\"\n").unwrap();
    let out = fathom(state.path(), &["config", "check", bad.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("bad.toml:3: `server.queue`"), "{err}");
    std::fs::write(&bad, "[llm]\nbase_url = \"http://x/v1\"\nmodle = \"m\"\n").unwrap();
    let err = text(&fathom(state.path(), &["config", "check", bad.to_str().unwrap()], &[]).stderr);
    assert!(err.contains("bad.toml:3: `llm.modle`") && err.contains("unknown key `modle`"), "{err}");
    std::fs::write(&bad, "[secrets]\nK = { env = \"K\", hosts = [] }\n").unwrap();
    let err = text(&fathom(state.path(), &["config", "check", bad.to_str().unwrap()], &[]).stderr);
    assert!(err.contains("secrets.K.hosts is empty"), "{err}");
    std::fs::write(&bad, "[summary_llm]\nmax_in_flight = 0\n").unwrap();
    let err = text(&fathom(state.path(), &["config", "check", bad.to_str().unwrap()], &[]).stderr);
    assert!(err.contains("summary_llm.max_in_flight must be at least 1"), "{err}");
    // The environment is checked too, and wins.
    let out = fathom(state.path(), &["config", "check", example.to_str().unwrap()], &[("FATHOM_SERVER_QUEUE", "lots")]);
    assert!(text(&out.stderr).contains("FATHOM_SERVER_QUEUE"), "{}", text(&out.stderr));
}

#[test]
fn config_show_prints_the_effective_config_with_secrets_masked() {
    let state = tempfile::tempdir().unwrap();
    let cfg = state.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[server]\ntoken = \"file-token-0123456789\"\n[llm]\nbase_url = \"http://127.0.0.1:8000/v1\"\n",
    )
    .unwrap();
    let out = fathom(
        state.path(),
        &["config", "show", "--config", cfg.to_str().unwrap()],
        &[("FATHOM_LLM_API_KEY", "sk-env-key-abcdef"), ("FATHOM_SERVER_CONCURRENCY", "9")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    let parsed: toml::Table = toml::from_str(&shown).unwrap();
    assert_eq!(parsed["server"]["concurrency"].as_integer(), Some(9), "the environment wins: {shown}");
    assert_eq!(parsed["llm"]["base_url"].as_str(), Some("http://127.0.0.1:8000/v1"));
    assert!(!shown.contains("file-token-0123456789") && !shown.contains("sk-env-key-abcdef"), "{shown}");
    assert_eq!(parsed["server"]["token"].as_str(), Some("********"));
}

#[test]
fn the_systemd_unit_verifies() {
    let unit = std::fs::read_to_string(repo().join("packaging/fathom.service")).unwrap();
    for key in [
        "Type=notify",
        "User=fathom",
        "StateDirectory=fathom",
        "RuntimeDirectory=fathom",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "Restart=on-failure",
    ] {
        assert!(unit.lines().any(|l| l.trim() == key), "the unit lacks {key}");
    }
    // `verify` wants the binary it names to exist: point it at this build.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fathom.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/fathom", FATHOM)).unwrap();
    // The optional socket unit, verified with the service it activates.
    let socket_unit = std::fs::read_to_string(repo().join("packaging/fathom.socket")).unwrap();
    assert!(socket_unit.lines().any(|l| l.trim() == "ListenStream=/run/fathom/fathom.sock"));
    let socket = dir.path().join("fathom.socket");
    std::fs::write(&socket, socket_unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .arg(&socket)
        .output()
        .expect("systemd-analyze (Debian's systemd)");
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stderr).trim().is_empty(), "warnings: {}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_sent_once_the_socket_answers() {
    let state = tempfile::tempdir().unwrap();
    let notify = state.path().join("notify.sock");
    let listener = std::os::unix::net::UnixDatagram::bind(&notify).unwrap();
    listener.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let socket = notify.to_str().unwrap().to_owned();
    let waiter = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let n = listener.recv(&mut buf).expect("no readiness notification");
        (String::from_utf8_lossy(&buf[..n]).into_owned(), listener)
    });
    let mut d = Daemon::start(
        state.path(),
        &[("FATHOM_LLM_BASE_URL", "http://127.0.0.1:9/v1"), ("NOTIFY_SOCKET", &socket)],
        &[],
    )
    .await;
    let (message, listener) = waiter.join().unwrap();
    assert!(message.lines().any(|l| l == "READY=1"), "{message}");
    assert!(message.contains("STATUS=listening on"), "{message}");
    // It answers (Daemon::start waited for that too), and says when it stops.
    assert_eq!(d.get("/healthz").await.status, 200);
    assert!(d.terminate().success());
    let mut buf = [0u8; 4096];
    let n = listener.recv(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1"));
}

fn mcp_call(server: &str, tool: &str, args: serde_json::Value) -> String {
    format!(
        "<use_mcp_tool>\n<server_name>{server}</server_name>\n<tool_name>{tool}</tool_name>\n<arguments>\n{args}\n</arguments>\n</use_mcp_tool>"
    )
}

/// A run that used all three kinds of secret — the API's bearer token, the
/// model server's API key and the search API key — logs JSON lines whose
/// spans carry the task's id and each tool call's name, at the trace level,
/// and not one of the secrets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_json_lines_with_ids_and_never_hold_a_secret() {
    use common::scripted::{Scripted, completion};
    use common::web::Web;
    use serde_json::{Value, json};
    const TOKEN: &str = "tok-3f9a1c7e5b2d4086aa71";
    const LLM_KEY: &str = "sk-llm-8c41f02e9d7b46a3";
    const SERPER_KEY: &str = "serper-51d7e0b29c4a8f36";

    let answer = json!({"organic": [{"title": "Tides", "link": "https://tides.example/brest", "snippet": "7.2 m", "position": 1}]});
    let serper = Web::start(move |path| {
        (path == "/search")
            .then(|| (200, vec![("Content-Type".into(), "application/json".into())], answer.to_string().into_bytes()))
    })
    .await;
    let main = Scripted::responder(|body| {
        let msgs = body["messages"].as_array().cloned().unwrap_or_default();
        let turn = msgs.iter().filter(|m| m["role"] == "assistant").count();
        let reply = if turn == 0 {
            mcp_call("search_and_scrape_webpage", "google_search", json!({"q": "brest tide"}))
        } else {
            "The range is \\boxed{7.2 m}.".to_owned()
        };
        completion(&reply, "stop")
    })
    .await;
    let state = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let serper_url = serper.url("127.0.0.1", "");
    let env = [
        ("FATHOM_LLM_BASE_URL", main.url.as_str()),
        ("FATHOM_LLM_MODEL", "scripted"),
        ("FATHOM_LLM_API_KEY", LLM_KEY),
        ("FATHOM_SERVER_TOKEN", TOKEN),
        ("FATHOM_SEARCH_BACKEND", "serper"),
        ("SERPER_BASE_URL", serper_url.as_str()),
        ("SERPER_API_KEY", SERPER_KEY),
        ("FATHOM_LOG", "trace"),
    ];
    let mut d = Daemon::start(state.path(), &env, &["--listen", &listen, "--log-format", "json"]).await;

    // The task goes in over TCP, with the token; a wrong token is refused.
    let http = reqwest::Client::new();
    let base = format!("http://{listen}");
    let policy = json!({"extends": "research", "network": {"allow_hosts": ["127.0.0.1:*"], "allow_private": true}});
    let r = http
        .post(format!("{base}/v1/tasks"))
        .bearer_auth(TOKEN)
        .json(&json!({"question": "What is the tidal range in Brest?", "policy": policy}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let wrong = http.get(format!("{base}/v1/tasks")).bearer_auth("not-the-token-at-all").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let record = d.wait_for(&id, &["succeeded", "failed"], Duration::from_secs(60)).await;
    assert_eq!(record["status"], "succeeded", "{record}\n{}", d.log());

    // Each secret was used where it belongs...
    let llm_headers = main.requests.lock().unwrap()[0].headers.clone();
    assert!(llm_headers.contains(&("authorization".into(), format!("Bearer {LLM_KEY}"))), "{llm_headers:?}");
    let searched = serper.headers_of("/search");
    assert!(
        searched.first().is_some_and(|h| h.contains(&("x-api-key".into(), SERPER_KEY.into()))),
        "{searched:?}\n{:?}",
        d.events(&id, None).await
    );
    d.terminate();

    // ...and none reached the log, which is JSON, one object per line.
    let log = d.log();
    for secret in [TOKEN, LLM_KEY, SERPER_KEY] {
        assert!(!log.contains(secret), "{secret} is in the log:\n{log}");
    }
    let lines: Vec<Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))).collect();
    let in_span = |name: &str, key: &str, value: &str| {
        lines
            .iter()
            .any(|l| l["spans"].as_array().is_some_and(|s| s.iter().any(|s| s["name"] == name && s[key] == value)))
    };
    assert!(in_span("task", "task_id", &id), "no line in the task's span:\n{log}");
    assert!(in_span("tool_call", "tool", "google_search"), "no line in the tool call's span:\n{log}");
    let ended = lines.iter().find(|l| l["fields"]["message"] == "task ended").expect("a line for the task's end");
    assert_eq!(ended["fields"]["status"], "succeeded");
    assert!(lines.iter().any(|l| l["fields"]["message"] == "model request answered"), "{log}");
    assert!(lines.iter().any(|l| l["fields"]["path"] == "/v1/tasks" && l["fields"]["status"] == 401), "{log}");
}

/// The venv with the real clients (`scripts/test-clients.sh`): its `bin/`.
fn client_bin() -> std::path::PathBuf {
    let out = Command::new("bash").arg(repo().join("scripts/test-clients.sh")).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    Path::new(text(&out.stdout).trim()).parent().unwrap().to_path_buf()
}

/// `GET /openapi.json` passes openapi-spec-validator, and schemathesis,
/// driven by it over TCP with the bearer token (and without, for its auth
/// check), finds no 5xx, no undocumented status or content type and no
/// response that breaks its schema. Its `positive_data_acceptance` check is
/// left out: the daemon validates more than a schema can say (a policy's
/// keys and ranges, a path's characters) and answers those with a 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_validates_and_schemathesis_finds_no_fault() {
    use common::scripted::{Scripted, completion};
    const TOKEN: &str = "tok-5e0c2b7a91d34f68";
    let model = Scripted::responder(|_| completion("Done: \\boxed{42}", "stop")).await;
    let state = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let env = [("FATHOM_LLM_BASE_URL", model.url.as_str()), ("FATHOM_LLM_MODEL", "m"), ("FATHOM_SERVER_TOKEN", TOKEN)];
    let mut d = Daemon::start(state.path(), &env, &["--listen", &listen]).await;
    let doc = d.get("/openapi.json").await;
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    for path in ["/v1/tasks", "/v1/tasks/{id}/events", "/v1/sessions/{id}/calls", "/v1/tasks/{id}/files/{path}"] {
        assert!(doc.body["paths"].get(path).is_some(), "{path} is documented");
    }
    let file = state.path().join("openapi.json");
    std::fs::write(&file, &doc.text).unwrap();

    let bin = client_bin();
    let out = Command::new(bin.join("openapi-spec-validator")).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));

    let out = Command::new(bin.join("schemathesis"))
        .args(["run", "--checks", "all", "--exclude-checks", "positive_data_acceptance"])
        .args(["--url", &format!("http://{listen}")])
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--max-examples", "20", "--seed", "1", "--request-timeout", "20", "--no-color"])
        .arg(&file)
        .env("SCHEMATHESIS_HOOKS", "")
        .current_dir(state.path())
        .output()
        .unwrap();
    let report = text(&out.stdout);
    let cases = report.lines().skip_while(|l| !l.starts_with("Test cases:")).nth(1).unwrap_or("").trim().to_owned();
    eprintln!("schemathesis: {cases}");
    assert!(out.status.success(), "schemathesis found faults:\n{report}{}\n{}", text(&out.stderr), d.log());
    assert!(cases.contains("generated"), "{report}");
    d.terminate();
}

/// Socket activation as `fathom.socket` does it, with systemd's own
/// `systemd-socket-activate`: the socket exists before the daemon, the
/// first connection starts it, and that connection is answered once the
/// daemon is ready instead of being refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_passed_by_systemd_is_served_and_holds_early_connections() {
    let state = tempfile::tempdir().unwrap();
    let socket = state.path().join("activated.sock");
    let log = std::fs::File::create(state.path().join("daemon.log")).unwrap();
    let mut activator = Command::new("systemd-socket-activate")
        .arg("-l")
        .arg(&socket)
        .args([FATHOM, "serve"])
        .env("FATHOM_STATE_DIR", state.path())
        .env("FATHOM_CACHE_DIR", common::shared_cache())
        .env("XDG_CONFIG_HOME", state.path().join("no-config"))
        .env("FATHOM_LLM_BASE_URL", "http://127.0.0.1:9/v1")
        .env_remove("FATHOM_SERVER_SOCKET")
        .stdin(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("systemd-socket-activate (Debian's systemd)");
    let started = std::time::Instant::now();
    while !socket.exists() {
        assert!(started.elapsed() < Duration::from_secs(10), "systemd-socket-activate did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The daemon is not running yet: this request starts it and waits.
    let http = fathom::client::unix_http(&socket);
    let r = http.get("http://d/healthz").timeout(Duration::from_secs(240)).send().await;
    let log = std::fs::read_to_string(state.path().join("daemon.log")).unwrap();
    let _ = activator.kill();
    let _ = activator.wait();
    let r = r.unwrap_or_else(|e| panic!("the early connection failed: {e}\n{log}"));
    assert_eq!(r.status(), 200, "{log}");
    assert!(log.contains(&format!("listening on {}", socket.display())), "{log}");
}
