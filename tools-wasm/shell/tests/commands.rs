//! Table-driven tests: each case runs in a fresh temp dir used as $HOME. Expected outputs were produced by running the
//! same command lines with GNU bash/coreutils (LC_ALL=C) in a temp dir; paths under the temp dir print as `$HOME`.

use std::path::Path;

use fathom_shell::{Host, HttpRequest, HttpResponse, Output, Shell};

mod cases;
use cases::CASES;

/// Test host: python echoes its arguments, stdin, cwd and an env var; fetch serves canned responses.
#[derive(Default)]
struct TestHost {
    requests: Vec<HttpRequest>,
}

impl Host for TestHost {
    fn python(&mut self, args: &[String], stdin: &[u8], cwd: &Path, env: &[(String, String)]) -> Output {
        let foo = env.iter().find(|(k, _)| k == "FOO").map(|(_, v)| v.as_str()).unwrap_or("-");
        let cwd_name = cwd.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Output {
            stdout: format!("py args={args:?} stdin={:?} cwd={cwd_name} FOO={foo}\n", String::from_utf8_lossy(stdin))
                .into_bytes(),
            stderr: Vec::new(),
            exit_code: if args.first().map(String::as_str) == Some("fail.py") { 1 } else { 0 },
        }
    }

    fn fetch(&mut self, req: HttpRequest) -> Result<HttpResponse, String> {
        self.requests.push(req.clone());
        let url = req.url.clone();
        if url.contains("blocked.example") {
            return Err("blocked.example is not in the network allowlist".into());
        }
        let (status, body, ctype) = if url.ends_with("/missing") {
            (404, b"not found\n".to_vec(), "text/plain")
        } else if url.ends_with("/data.json") {
            (200, b"{\"ok\": true}\n".to_vec(), "application/json")
        } else if url.ends_with("/echo") {
            (200, req.body.clone().unwrap_or_default(), "text/plain")
        } else if url.ends_with("/big.bin") {
            // What the network layer returns for a body over the cap.
            return Ok(HttpResponse {
                status: 200,
                url,
                headers: vec![("Content-Type".into(), "application/octet-stream".into())],
                body: vec![b'x'; 1024],
                truncated: true,
            });
        } else {
            (200, b"<html>hi</html>\n".to_vec(), "text/html")
        };
        Ok(HttpResponse {
            status,
            url: url.replace("/redirect", ""),
            headers: vec![("Content-Type".into(), ctype.into()), ("Content-Length".into(), body.len().to_string())],
            body,
            truncated: false,
        })
    }
}

fn setup(files: &[(&str, Option<&str>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (p, c) in files {
        let full = dir.path().join(p);
        match c {
            None => std::fs::create_dir_all(&full).expect("mkdir"),
            Some(c) => {
                std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
                std::fs::write(&full, c).expect("write");
            }
        }
    }
    dir
}

fn run_in(dir: &Path, cmd: &str) -> (String, String, i32) {
    let mut sh = Shell::new(dir);
    let mut host = TestHost::default();
    let o = sh.run(cmd, &mut host);
    let home = dir.to_string_lossy().into_owned();
    (
        String::from_utf8_lossy(&o.stdout).replace(&home, "$HOME"),
        String::from_utf8_lossy(&o.stderr).replace(&home, "$HOME"),
        o.exit_code,
    )
}

#[test]
fn table() {
    let mut failures = Vec::new();
    for c in CASES {
        let dir = setup(c.files);
        let (out, err, code) = run_in(dir.path(), c.cmd);
        if out != c.out || code != c.code {
            failures.push(format!(
                "--- {}\ncmd: {}\nexpected (code {}):\n{}\ngot (code {code}):\n{out}\nstderr:\n{err}",
                c.name, c.cmd, c.code, c.out
            ));
        }
    }
    if !failures.is_empty() {
        panic!("{} of {} cases failed:\n{}", failures.len(), CASES.len(), failures.join("\n"));
    }
}

/// Run one command line in a fresh home with files; returns (stdout, stderr, code).
fn run(files: &[(&str, Option<&str>)], cmd: &str) -> (String, String, i32) {
    let dir = setup(files);
    run_in(dir.path(), cmd)
}

#[test]
fn state_persists_across_runs() {
    let dir = setup(&[("sub/inner/f.txt", Some("x\n"))]);
    let mut sh = Shell::new(dir.path());
    let mut host = TestHost::default();
    let o = sh.run("cd sub && pwd", &mut host);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), dir.path().join("sub").to_string_lossy());
    assert_eq!(sh.cwd(), dir.path().join("sub"));
    let o = sh.run("ls; export KEEP=1; X=2", &mut host);
    assert_eq!(o.stdout, b"inner\n");
    let o = sh.run("echo $KEEP$X; false", &mut host);
    assert_eq!(o.stdout, b"12\n");
    assert_eq!(o.exit_code, 1);
    let o = sh.run("echo $?; cd inner; cd ../..; pwd", &mut host);
    assert_eq!(String::from_utf8_lossy(&o.stdout), format!("1\n{}\n", dir.path().display()));
    let o = sh.run("cd sub; cd; pwd; cd -", &mut host);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("{}\n{}\n", dir.path().display(), dir.path().join("sub").display())
    );
    // `..` resolves lexically, even above home
    let o = sh.run("cd /tmp/../tmp/./; pwd", &mut host);
    assert_eq!(o.stdout, b"/tmp\n");
    let o = sh.run("cd nope", &mut host);
    assert_eq!(o.exit_code, 1);
    assert_eq!(String::from_utf8_lossy(&o.stderr), "sh: cd: nope: No such file or directory\n");
}

#[test]
fn exit_ends_script_and_sets_code() {
    let (out, _, code) = run(&[], "echo a; exit 7; echo b");
    assert_eq!((out.as_str(), code), ("a\n", 7));
    let (out, _, code) = run(&[], "for i in 1 2; do exit 4; done; echo no");
    assert_eq!((out.as_str(), code), ("", 4));
}

#[test]
fn python_reaches_host() {
    let (out, _, code) = run(&[], "python3 -c 'print(1)'");
    assert_eq!(
        out,
        "py args=[\"-c\", \"print(1)\"] stdin=\"\" cwd=tmp FOO=-\n"
            .replace("tmp", &out[out.find("cwd=").map(|i| i + 4).unwrap_or(0)..].split(' ').next().unwrap_or(""))
    );
    assert_eq!(code, 0);
    let (out, _, _) = run(&[("d/", None)], "cd d; echo data | FOO=bar python3 x.py a 'b c'");
    assert_eq!(out, "py args=[\"x.py\", \"a\", \"b c\"] stdin=\"data\\n\" cwd=d FOO=bar\n");
    let (out, _, _) = run(&[], "export FOO=exp; printf 'print(2)' | python");
    assert!(out.starts_with("py args=[] stdin=\"print(2)\""), "{out}");
    assert!(out.ends_with("FOO=exp\n"), "{out}");
    let (_, _, code) = run(&[], "python3 fail.py");
    assert_eq!(code, 1);
    // shebang scripts run through the host too
    let (out, _, _) = run(&[("s.py", Some("#!/usr/bin/env python3\nprint(1)\n"))], "./s.py arg");
    assert!(out.starts_with("py args=[\"./s.py\", \"arg\"]"), "{out}");
    // shell scripts run in the shell
    let (out, _, code) = run(
        &[("s.sh", Some("#!/bin/bash\necho \"script $1\"\nexit 3\n"))],
        "./s.sh one; echo $?; bash s.sh two; sh -c 'echo $0 $1' x y",
    );
    assert_eq!(out, "script one\n3\nscript two\nsh y\n");
    assert_eq!(code, 0);
}

#[test]
fn package_managers_refused() {
    for cmd in [
        "pip install numpy",
        "pip3 install x",
        "python3 -m pip install requests",
        "python -m pip list",
        "apt-get install jq",
        "sudo apt install x",
        "conda install x",
        "npm i x",
        "brew install x",
        "yum install x",
        "apk add x",
        "apt update",
    ] {
        let (out, err, code) = run(&[], cmd);
        assert_eq!(code, 1, "{cmd}");
        assert_eq!(out, "", "{cmd}");
        assert!(err.contains("packages cannot be installed in this sandbox"), "{cmd}: {err}");
        assert!(err.contains("standard library"), "{cmd}: {err}");
        assert!(err.contains("wget or curl"), "{cmd}: {err}");
    }
}

#[test]
fn command_not_found() {
    let (out, err, code) = run(&[], "frobnicate --x");
    assert_eq!(out, "");
    assert_eq!(code, 127);
    let mut lines = err.lines();
    assert_eq!(lines.next(), Some("sh: frobnicate: command not found"));
    let list = lines.next().unwrap_or("");
    assert!(list.starts_with("Available commands: "), "{list}");
    for c in ["awk", "cat", "curl", "grep", "jq", "ls", "python3", "sed", "tar", "wget", "zip"] {
        assert!(list.contains(&format!(" {c},")) || list.ends_with(&format!(" {c}")), "{c} missing from {list}");
    }
    assert!(!list.contains(" yes,"));
    let (_, _, code) = run(&[], "yes | head -1");
    assert_eq!(code, 0); // head succeeds, yes is not found (127 is not the pipeline status)
}

#[test]
fn syntax_errors() {
    for (cmd, msg) in [
        ("echo )", "sh: syntax error near unexpected token `)'"),
        ("if true; then echo x", "sh: syntax error: unexpected end of file"),
        ("echo 'unterminated", "sh: unexpected EOF while looking for matching `''"),
        ("| ls", "sh: syntax error near unexpected token `|'"),
        ("ls &&", "sh: syntax error: unexpected end of file"),
        ("for x in a; echo; done", "sh: syntax error near unexpected token `echo'"),
        ("echo >", "sh: syntax error near unexpected token `newline'"),
    ] {
        let (out, err, code) = run(&[], cmd);
        assert_eq!((out.as_str(), code), ("", 2), "{cmd}");
        assert_eq!(err.trim_end(), msg, "{cmd}");
    }
}

#[test]
fn no_panics_on_garbage() {
    let inputs = [
        "$(",
        "${",
        "${}",
        "${#}",
        "$((",
        "$((1/0))",
        "$((1+))",
        "`",
        "\"",
        "((",
        "))",
        "|",
        "&&",
        ";;",
        "<<",
        "<<EOF",
        "{",
        "}",
        "]",
        "[",
        "[ ",
        "[ -f ]",
        "test -eq 1",
        "[ a -eq b ]",
        "case",
        "case x in",
        "for",
        "while",
        "if",
        "fi",
        "done",
        "${x:?boom}",
        "echo ${x/",
        "echo $((2**64))",
        "echo $((-9223372036854775807-1))",
        "echo $(( (-9223372036854775807-1) / -1 ))",
        "a=(1 2)",
        "echo {1..3..0}",
        "echo {z..a}",
        "echo {1..999999999}",
        "f() { f; }; f",
        "eval eval eval",
        "cd ''",
        "source nope",
        ": > ''",
        "echo \u{0} \u{ff}",
        "printf '%*d' 99999999999 1",
        "printf '%.99999d' 1",
        "seq 1e300",
        "seq 0 0.0000000001 1",
        "awk 'BEGIN{while(1){}}'",
        "awk '{'",
        "awk 'BEGIN{x[1]=1; x=2}'",
        "awk 'BEGIN{printf \"%c%c\", 256, -1}'",
        "sed 's/a/b'",
        "sed -n '/[/p'",
        "sed 'b loop'",
        "grep '['",
        "grep -E '(' x",
        "jq '.[' ",
        "echo '{' | jq .",
        "tr",
        "tr -d",
        "cut -f0",
        "cut -c 3-1",
        "sort -k 0",
        "head -n -x",
        "tail -c +0",
        "find -maxdepth x",
        "xargs -n",
        "diff",
        "tar",
        "tar xf nope",
        "unzip",
        "zip",
        "gzip -d nope",
        "base64 -d <<< '!!!'",
        "date -d garbage",
        "expr 1 / 0",
        "sleep x",
        "printf",
        "echo $((x=))",
        "x=1; echo ${x:5:-9}",
        "echo ${x:-${y:-${z}}}",
        "read",
        "shift 9",
        "cat /dev/null | awk '{print $-1}'",
        "echo a | awk '{print $1000000000}'",
        "echo a | sed 's/a/\\9/'",
    ];
    for cmd in inputs {
        let dir = setup(&[("x", Some("a\nb\n"))]);
        let mut sh = Shell::new(dir.path());
        let mut host = TestHost::default();
        let o = sh.run(cmd, &mut host);
        assert!(o.stdout.len() < 100 << 20, "{cmd}");
    }
}

#[test]
fn binary_input_is_safe() {
    let dir = setup(&[]);
    let data: Vec<u8> = (0..=255u8).chain([0xff, 0xfe, b'\n', 0xc3, b'a', b'\n']).collect();
    std::fs::write(dir.path().join("bin"), &data).expect("write");
    for cmd in [
        "cat bin | wc -c",
        "grep -c a bin",
        "grep -a a bin | wc -l",
        "sort bin | wc -l",
        "uniq bin | wc -l",
        "sed 's/a/b/' bin | wc -c",
        "awk '{print NF}' bin",
        "tr a-z A-Z < bin | wc -c",
        "head -c 10 bin | wc -c",
        "tail -n 1 bin",
        "cut -c1-3 bin | wc -l",
        "base64 bin | base64 -d | cmp - bin 2>/dev/null; base64 bin | base64 -d | md5sum",
        "md5sum bin",
        "file bin",
        "rev bin | wc -l",
        "gzip -c bin | gunzip -c | wc -c",
        "jq . bin",
        "nl bin | wc -l",
        "tac bin | wc -c",
        "diff bin bin; echo $?",
        "strings bin",
    ] {
        let o = Shell::new(dir.path()).run(cmd, &mut TestHost::default());
        assert!(o.exit_code >= 0, "{cmd}");
    }
    let (out, _, _) = run_in(dir.path(), "cat bin | wc -c; gzip -c bin | gunzip -c | wc -c; diff bin bin; echo $?");
    assert_eq!(out, "262\n262\n0\n");
    let (out, err, code) = run_in(dir.path(), "grep a bin");
    assert_eq!((out.as_str(), err.as_str(), code), ("", "grep: bin: binary file matches\n", 0));
}

#[test]
fn while_loop_cap() {
    let (out, err, code) = run(&[], "while true; do :; done; echo after");
    assert!(err.contains("100000 iterations"), "{err}");
    assert_eq!((out.as_str(), code), ("after\n", 0));
}

#[test]
fn error_messages() {
    let cases: &[(&str, &str, i32)] = &[
        ("ls nope", "ls: cannot access 'nope': No such file or directory\n", 2),
        ("cat nope", "cat: nope: No such file or directory\n", 1),
        ("cat d", "cat: d: Is a directory\n", 1),
        ("grep x nope", "grep: nope: No such file or directory\n", 2),
        ("grep x d", "grep: d: Is a directory\n", 2),
        ("rm d", "rm: cannot remove 'd': Is a directory\n", 1),
        ("rm nope", "rm: cannot remove 'nope': No such file or directory\n", 1),
        ("rmdir d", "rmdir: failed to remove 'd': Directory not empty\n", 1),
        ("mkdir d", "mkdir: cannot create directory 'd': File exists\n", 1),
        ("cp d e", "cp: -r not specified; omitting directory 'd'\n", 1),
        ("cp nope e", "cp: cannot stat 'nope': No such file or directory\n", 1),
        ("mv nope e", "mv: cannot stat 'nope': No such file or directory\n", 1),
        ("head nope", "head: nope: No such file or directory\n", 1),
        ("wc nope", "wc: nope: No such file or directory\n", 1),
        ("sort nope", "sort: nope: No such file or directory\n", 2),
        ("diff nope d/f", "diff: nope: No such file or directory\n", 2),
        ("cd d/f", "sh: cd: d/f: Not a directory\n", 1),
        ("cat < nope", "sh: nope: No such file or directory\n", 1),
        ("ls -Z", "ls: invalid option -- 'Z'\nTry 'ls --help' for more information.\n", 2),
        ("sed 's/a/b' d/f", "sed: -e expression #1, char 0: unterminated `s' command\n", 1),
        (
            "tar xf nope.tar",
            "tar: nope.tar: Cannot open: No such file or directory\ntar: Error is not recoverable: exiting now\n",
            2,
        ),
        ("unzip nope.zip", "unzip:  cannot find or open nope.zip, nope.zip.zip or nope.zip.ZIP.\n", 9),
        ("jq . nope.json", "jq: nope.json: No such file or directory\n", 2),
        ("[ 1 -eq x ]", "sh: [: x: integer expression expected\n", 2),
        ("[ 1 = 1", "sh: [: missing `]'\n", 2),
        ("touch nodir/f", "touch: cannot touch 'nodir/f': No such file or directory\n", 1),
        ("echo x > nodir/f", "sh: nodir/f: No such file or directory\n", 1),
        ("seq", "seq: missing operand\n", 1),
        ("find nope", "find: 'nope': No such file or directory\n", 1),
        ("awk '{print' d/f", "awk: syntax error at source line 1 near 'end of file'\nawk: source line: {print\n", 2),
        ("gunzip d/f", "gunzip: d/f: unknown suffix -- ignored\n", 2),
        ("python3 -m pip install x", "", 1),
    ];
    for (cmd, err_exp, code_exp) in cases {
        let (_, err, code) = run(&[("d/f", Some("x\n"))], cmd);
        if !err_exp.is_empty() {
            assert_eq!(err, *err_exp, "{cmd}");
        }
        assert_eq!(code, *code_exp, "{cmd}");
    }
}

#[test]
fn ls_long_format() {
    let (out, _, code) = run(&[("f", Some("hello")), ("d/x", Some(""))], "ls -l; ls -la d | head -1; ls -lh f");
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "total 8");
    assert!(lines[1].starts_with("drwxr-xr-x 2 user user "), "{}", lines[1]);
    assert!(lines[1].ends_with(" d"));
    assert!(lines[2].starts_with("-rw-r--r-- 1 user user     5 "), "{}", lines[2]);
    assert!(lines[2].ends_with(" f"));
    assert_eq!(lines[3], "total 8");
    assert!(lines[4].starts_with("-rw-r--r-- 1 user user     5 "), "{}", lines[4]);
    let (out, _, _) =
        run(&[("big", Some(&"x".repeat(2048)))], "ls -lh big; ls -s big 2>&1 | head -1; du -sh big; du -h big");
    assert!(out.starts_with("-rw-r--r-- 1 user user  2.0K "), "{out}");
    let (out, _, code) = run(
        &[("d/a", Some(&"x".repeat(10_000))), ("d/e/b", Some(&"y".repeat(3000)))],
        "du -sh d; du -sb d/a; du -h d | sort -k2; du -sh --apparent-size d/a; du -sch d/a d/e; du -s --apparent-size d/a",
    );
    assert_eq!(code, 0);
    assert_eq!(out, DU_EXPECTED, "du");
}

/// GNU du 9.1 (LC_ALL=C) on ext4, 4 KiB blocks, for the files above.
const DU_EXPECTED: &str =
    "24K\td\n10000\td/a\n24K\td\n8.0K\td/e\n9.8K\td/a\n12K\td/a\n8.0K\td/e\n20K\ttotal\n10\td/a\n";

#[test]
fn a_cut_download_is_an_error_naming_the_policy_key() {
    let (_, err, code) = run(&[], "wget -q https://x.example/big.bin; echo $? >> st; ls -l big.bin | cut -d' ' -f5");
    assert!(err.contains("cut off after 1024 bytes") && err.contains("network.max_download_mb"), "{err}");
    assert!(err.contains("'big.bin' is incomplete"), "{err}");
    assert_eq!(code, 0);
    let (out, err, code) =
        run(&[], "curl -s https://x.example/big.bin | wc -c; curl -so big.bin https://x.example/big.bin");
    assert_eq!(out.trim(), "1024");
    assert_eq!(code, 63, "{err}");
    assert!(err.contains("curl: (63) Maximum file size exceeded") && err.contains("network.max_download_mb"), "{err}");
    let (out, _, code) = run(&[], "wget -q https://x.example/big.bin || echo failed $?");
    assert_eq!((out.as_str(), code), ("failed 8\n", 0));
}

#[test]
fn net_wget() {
    let dir = setup(&[]);
    let mut sh = Shell::new(dir.path());
    let mut host = TestHost::default();
    let o = sh.run("wget https://x.example/files/data.json", &mut host);
    assert_eq!(o.exit_code, 0);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("HTTP request sent, awaiting response... 200 OK"), "{err}");
    assert!(err.contains("Saving to: 'data.json'"), "{err}");
    assert!(err.contains("'data.json' saved [13/13]"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.path().join("data.json")).unwrap_or_default(), "{\"ok\": true}\n");
    assert_eq!(host.requests[0].method, "GET");
    // second download of the same name gets a suffix, like wget
    let o = sh.run("wget -q https://x.example/files/data.json && ls", &mut host);
    assert_eq!(o.stdout, b"data.json\ndata.json.1\n");
    assert_eq!(o.stderr, b"");
    let o = sh.run("wget -qO- https://x.example/", &mut host);
    assert_eq!(o.stdout, b"<html>hi</html>\n");
    let o = sh.run(
        "wget -q https://x.example/ && cat index.html && wget -O page.html -q https://x.example/p && cat page.html",
        &mut host,
    );
    assert_eq!(o.stdout, b"<html>hi</html>\n<html>hi</html>\n");
    let o = sh.run("wget https://blocked.example/x", &mut host);
    assert_eq!(o.exit_code, 4);
    assert!(String::from_utf8_lossy(&o.stderr).contains("wget: blocked.example is not in the network allowlist"));
    let o = sh.run("wget -q https://x.example/missing", &mut host);
    assert_eq!(o.exit_code, 8);
    assert!(String::from_utf8_lossy(&o.stderr).contains("ERROR 404: Not Found."));
    let o = sh.run("wget -q --post-data 'a=1' -O - https://x.example/echo", &mut host);
    assert_eq!(o.stdout, b"a=1");
    assert_eq!(host.requests.last().map(|r| r.method.as_str()), Some("POST"));
}

#[test]
fn net_curl() {
    let dir = setup(&[]);
    let mut sh = Shell::new(dir.path());
    let mut host = TestHost::default();
    let o = sh.run("curl https://x.example/data.json", &mut host);
    assert_eq!((o.stdout.as_slice(), o.exit_code), (&b"{\"ok\": true}\n"[..], 0));
    let o = sh.run("curl -sL https://x.example/data.json | jq .ok", &mut host);
    assert_eq!(o.stdout, b"true\n");
    let o = sh.run(
        "curl -s -o out.json https://x.example/data.json; cat out.json; curl -sO https://x.example/d/data.json; ls",
        &mut host,
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "{\"ok\": true}\ndata.json\nout.json\n");
    let o = sh.run("curl -I https://x.example/data.json", &mut host);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n"
    );
    assert_eq!(host.requests.last().map(|r| r.method.as_str()), Some("HEAD"));
    let o = sh.run("curl -i -s https://x.example/missing", &mut host);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("HTTP/1.1 404 Not Found\r\n"));
    assert_eq!(o.exit_code, 0);
    let o = sh.run("curl -f https://x.example/missing", &mut host);
    assert_eq!(o.exit_code, 22);
    assert_eq!(String::from_utf8_lossy(&o.stderr), "curl: (22) The requested URL returned error: 404\n");
    let o = sh.run("curl -sf https://x.example/missing", &mut host);
    assert_eq!((o.exit_code, o.stderr.len()), (22, 0));
    let o = sh.run("curl https://blocked.example/", &mut host);
    assert_eq!(o.exit_code, 6);
    assert_eq!(String::from_utf8_lossy(&o.stderr), "curl: (6) blocked.example is not in the network allowlist\n");
    let o = sh.run("curl -s -X PUT -H 'X-Key: v' -d 'a=1' -d b=2 https://x.example/echo", &mut host);
    assert_eq!(o.stdout, b"a=1&b=2");
    let req = host.requests.last().cloned().expect("request");
    assert_eq!(req.method, "PUT");
    assert!(req.headers.contains(&("X-Key".to_string(), "v".to_string())));
    let o = sh.run("curl -s -o /dev/null -w '%{http_code}\\n' https://x.example/missing", &mut host);
    assert_eq!(o.stdout, b"404\n");
    let o = sh.run("curl -s --json '{\"a\":1}' https://x.example/echo", &mut host);
    assert_eq!(o.stdout, b"{\"a\":1}");
}

#[test]
fn misc_system_commands() {
    let (out, _, _) = run(&[], "whoami; hostname; nproc; uname; uname -a; history; clear; sleep 0; echo ok");
    assert_eq!(out, "user\nsandbox\n1\nWASI\nWASI sandbox 0.2 #1 wasm32 WASI\nok\n");
    let (out, _, _) = run(&[], "date");
    assert!(out.ends_with('\n') && out.contains(" UTC "), "{out}");
    let (out, _, _) = run(&[], "env | grep -c ^HOME=; printenv USER; echo $HOME | grep -c /");
    assert_eq!(out, "1\nuser\n1\n");
    let (out, _, _) = run(&[], "type ls; type cd; command -v python3; which python3 grep");
    assert_eq!(out, "ls is /usr/bin/ls\ncd is a shell builtin\n/usr/bin/python3\n/usr/bin/python3\n/usr/bin/grep\n");
    let (out, _, _) = run(&[("f", Some("x"))], "stat f | head -2; df -h | head -1");
    assert!(out.starts_with("  File: f\n  Size: 1 "), "{out}");
}

#[test]
fn file_magic() {
    let dir = setup(&[
        ("t.csv", Some("a,b\n1,2\n3,4\n")),
        ("u.txt", Some("héllo\n")),
        ("s.py", Some("#!/usr/bin/env python3\nprint(1)\n")),
    ]);
    let files: &[(&str, &[u8])] = &[
        ("p.png", b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x10\0\0\0\x20\x08\x06\0\0\0"),
        ("j.jpg", b"\xff\xd8\xff\xe0\0\x10JFIF"),
        ("g.gif", b"GIF89a\x02\0\x03\0"),
        ("d.pdf", b"%PDF-1.7\n"),
        ("e.elf", b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0"),
        ("w.wasm", b"\0asm\x01\0\0\0"),
        ("r.bin", b"\x01\x02\x03\x00"),
    ];
    for (n, d) in files {
        std::fs::write(dir.path().join(n), d).expect("write");
    }
    let (out, _, _) = run_in(
        dir.path(),
        "echo x > a; gzip -k a; tar cf a.tar a; zip -q a.zip a; for f in t.csv u.txt s.py p.png j.jpg g.gif d.pdf e.elf w.wasm r.bin a.gz a.tar a.zip; do file $f; done",
    );
    assert_eq!(
        out,
        "t.csv: CSV text\n\
         u.txt: Unicode text, UTF-8 text\n\
         s.py: Python script, a /usr/bin/env python3 script, ASCII text executable\n\
         p.png: PNG image data, 16 x 32, 8-bit/color RGBA, non-interlaced\n\
         j.jpg: JPEG image data\n\
         g.gif: GIF image data, version 89a, 2 x 3\n\
         d.pdf: PDF document, version 1.7\n\
         e.elf: ELF 64-bit LSB executable\n\
         w.wasm: WebAssembly (wasm) binary module version 0x1 (MVP)\n\
         r.bin: data\n\
         a.gz: gzip compressed data\n\
         a.tar: POSIX tar archive\n\
         a.zip: Zip archive data, at least v2.0 to extract\n"
    );
}

#[test]
fn archives_more() {
    let (out, err, code) = run(
        &[("d/a.txt", Some("hello\n")), ("d/s/b.txt", Some("b\n"))],
        "zip -r a.zip d; unzip -l a.zip; mkdir o; cd o; unzip ../a.zip; unzip -o ../a.zip d/a.txt | tail -1; cat d/s/b.txt",
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        &lines[..4],
        &[
            "  adding: d/ (stored 0%)",
            "  adding: d/a.txt (stored 0%)",
            "  adding: d/s/ (stored 0%)",
            "  adding: d/s/b.txt (stored 0%)"
        ]
    );
    assert_eq!(lines[4], "Archive:  a.zip");
    assert!(lines.contains(&"   creating: d/s/"), "{out}");
    assert!(lines.contains(&" extracting: d/s/b.txt"), "{out}");
    assert_eq!(lines.last(), Some(&"b"));
    let (out, _, _) =
        run(&[("big.txt", Some(&"abcabcabc\n".repeat(100)))], "zip z.zip big.txt; unzip -p z.zip | wc -l");
    assert!(out.starts_with("  adding: big.txt (deflated 9") && out.ends_with("%)\n100\n"), "{out}");
    let (out, err, code) = run(
        &[("d/a", Some("1\n"))],
        "tar -cvzf x.tar.gz d; tar -tvzf x.tar.gz | wc -l; mkdir o; tar -xvf x.tar.gz -C o; tar -xzf x.tar.gz -O d/a; tar --strip-components=1 -xzf x.tar.gz -C o; ls o",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "d/\nd/a\n2\nd/\nd/a\n1\na\nd\n");
}

#[test]
fn xargs_runs_shell_commands() {
    let (out, _, code) = run(
        &[("a.txt", Some("1\n2\n")), ("b.txt", Some("3\n"))],
        "ls *.txt | xargs cat | wc -l; ls | xargs -I{} sh -c 'echo f:{}'; echo | xargs -r echo none; echo a b | xargs -n1 | wc -l",
    );
    assert_eq!((out.as_str(), code), ("3\nf:a.txt\nf:b.txt\n2\n", 0));
}

#[test]
fn glob_absolute_and_escape() {
    let dir = setup(&[("x1.log", Some("")), ("x2.log", Some(""))]);
    let home = dir.path().to_string_lossy().into_owned();
    let (out, _, _) = run_in(dir.path(), &format!("echo {home}/*.log; echo '*.log' \"*\" \\*"));
    assert_eq!(out, "$HOME/x1.log $HOME/x2.log\n*.log * *\n");
}

#[test]
fn set_e_and_prefix_commands() {
    let (out, _, code) = run(&[], "set -e; echo a; false; echo no");
    assert_eq!((out.as_str(), code), ("a\n", 1));
    let (out, _, code) = run(
        &[],
        "set -e; if false; then :; fi; false || echo handled; false && echo x; ! false; while false; do :; done; echo after",
    );
    assert_eq!((out.as_str(), code), ("handled\nafter\n", 0));
    let (out, _, code) = run(&[], "set -euo pipefail; x=$(false; echo sub); echo \"$x\"; set +e; false; echo cont");
    assert_eq!((out.as_str(), code), ("sub\ncont\n", 0));
    let (out, err, code) =
        run(&[], "time echo hi; timeout 5 echo t; nohup echo n; nice -n 5 echo m; trap 'echo bye' EXIT; wait");
    assert_eq!((out.as_str(), code), ("hi\nt\nn\nm\n", 0));
    assert!(err.contains("real\t0m0."), "{err}");
}

/// grep finds matching lines with one scan of the whole input; line
/// semantics must survive it (anchors, patterns that could span a newline).
#[test]
fn grep_whole_input_scan_keeps_line_semantics() {
    let f = "a\nfoo\n a foo\nb\nba\nab\nxfoo\n\nx\n";
    let cases: &[(&str, &str)] = &[
        ("grep '^b' f", "b\nba\n"),
        ("grep 'a$' f", "a\nba\n"),
        ("grep -n '\\sfoo' f", "3: a foo\n"),
        ("grep -c '[^a]foo' f", "2\n"),
        ("grep -x 'b' f", "b\n"),
        ("grep -in '^A' f", "1:a\n6:ab\n"),
        ("grep -n '^$' f", "8:\n"),
        ("grep -v 'o' f | head -2", "a\nb\n"),
        ("grep -n 'foo' f f | tail -1", "f:7:xfoo\n"),
        ("grep -o 'fo*' f | sort | uniq -c | tr -s ' '", " 3 foo\n"),
    ];
    for (cmd, expect) in cases {
        let (out, err, _) = run(&[("f", Some(f))], cmd);
        assert_eq!(out, *expect, "{cmd}: {err}");
    }
}
