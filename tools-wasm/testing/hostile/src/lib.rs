//! A component that misbehaves on request, for the runtime's adversarial
//! tests. Never installed with Fathom.

use std::hint::black_box;
use std::io::Write;

use fathom_sdk::{JsonSchema, SandboxId, ToolError, Toolbox};
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct Text {
    text: String,
}
#[derive(Deserialize, JsonSchema)]
struct Nothing {}
#[derive(Deserialize, JsonSchema)]
struct Millis {
    ms: u64,
}
#[derive(Deserialize, JsonSchema)]
struct Size {
    /// Bytes or megabytes, per tool; 0 means forever.
    n: u64,
}
#[derive(Deserialize, JsonSchema)]
struct FsPath {
    #[allow(dead_code)] // resolved by the host
    sandbox_id: SandboxId,
    path: String,
}
#[derive(Deserialize, JsonSchema)]
struct FsWrite {
    #[allow(dead_code)] // resolved by the host
    sandbox_id: SandboxId,
    path: String,
    content: String,
}
#[derive(Deserialize, JsonSchema)]
struct FsFill {
    #[allow(dead_code)] // resolved by the host
    sandbox_id: SandboxId,
    path: String,
    /// Megabytes (or files, or levels).
    n: u64,
}
#[derive(Deserialize, JsonSchema)]
struct Addr {
    addr: String,
}

#[derive(Deserialize, JsonSchema)]
struct Fetch {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: Vec<(String, String)>,
}

fn err(e: impl std::fmt::Display) -> ToolError {
    ToolError::failed(e.to_string())
}

pub fn toolbox() -> Toolbox {
    Toolbox::new("hostile")
        .tool("echo", "Return the text.", |a: Text| Ok(a.text))
        .tool("spin", "Loop forever.", |_: Nothing| {
            let mut x = 0u64;
            loop {
                x = black_box(x.wrapping_add(1));
            }
        })
        .tool("sleep", "Sleep in the host.", |a: Millis| {
            std::thread::sleep(std::time::Duration::from_millis(a.ms));
            Ok("slept".into())
        })
        .tool("alloc", "Allocate and keep n MB in 1 MB pieces (0: forever).", |a: Size| {
            let mut keep: Vec<Vec<u8>> = Vec::new();
            while a.n == 0 || (keep.len() as u64) < a.n {
                keep.push(black_box(vec![1u8; 1 << 20]));
            }
            Ok(format!("allocated {} MB", keep.len()))
        })
        .tool("try_alloc", "Try one allocation of n MB and report, without aborting.", |a: Size| {
            let mut v: Vec<u8> = Vec::new();
            match v.try_reserve_exact((a.n as usize) << 20) {
                Ok(()) => Ok("allocated".into()),
                Err(_) => Ok("allocation refused".into()),
            }
        })
        .tool("flood", "Print n bytes to stdout (0: forever), then return.", |a: Size| {
            let line = [b'x'; 1023];
            let mut out = std::io::stdout().lock();
            let mut written = 0u64;
            while a.n == 0 || written < a.n {
                out.write_all(&line).map_err(err)?;
                out.write_all(b"\n").map_err(err)?;
                written += 1024;
            }
            Ok("flooded".into())
        })
        .tool("big_result", "Return n bytes of text.", |a: Size| Ok("y".repeat(a.n as usize)))
        .tool("panic", "Panic with the text.", |a: Text| -> Result<String, ToolError> { panic!("{}", a.text) })
        .tool("read", "Read a file.", |a: FsPath| std::fs::read_to_string(&a.path).map_err(err))
        .tool("write", "Write a file.", |a: FsWrite| {
            std::fs::write(&a.path, a.content).map(|_| "written".into()).map_err(err)
        })
        .tool("fill", "Append 1 MB at a time to a file, n times; report how far it got.", |a: FsFill| {
            let mut f = std::fs::File::create(&a.path).map_err(err)?;
            let chunk = vec![b'z'; 1 << 20];
            for i in 0..a.n {
                if let Err(e) = f.write_all(&chunk) {
                    return Ok(format!("stopped after {i} MB: {e}"));
                }
            }
            Ok(format!("wrote {} MB", a.n))
        })
        .tool("sparse", "Make a file n MB long without writing it.", |a: FsFill| {
            let f = std::fs::File::create(&a.path).map_err(err)?;
            f.set_len(a.n << 20).map(|_| "extended".into()).map_err(err)
        })
        .tool("many", "Create n empty files in a folder; report how many it made.", |a: FsFill| {
            std::fs::create_dir_all(&a.path).map_err(err)?;
            for i in 0..a.n {
                if let Err(e) = std::fs::write(format!("{}/f{i}", a.path), b"") {
                    return Ok(format!("stopped after {i} files: {e}"));
                }
            }
            Ok(format!("made {} files", a.n))
        })
        .tool("nest", "Nest n folders below path, one level at a time.", |a: FsFill| {
            let mut p = std::path::PathBuf::from(&a.path);
            for i in 0..a.n {
                p.push("d");
                if let Err(e) = std::fs::create_dir(&p) {
                    return Ok(format!("stopped after {i} levels: {e}"));
                }
            }
            Ok(format!("nested {} levels", a.n))
        })
        .tool("orphans", "n times: write 1 MB to a file, delete it, keep it open.", |a: FsFill| {
            let chunk = vec![b'o'; 1 << 20];
            for i in 0..a.n {
                let path = format!("{}-{i}", a.path);
                let mut f = std::fs::File::create(&path).map_err(err)?;
                if let Err(e) = f.write_all(&chunk) {
                    return Ok(format!("stopped after {i}: {e}"));
                }
                std::fs::remove_file(&path).map_err(err)?;
                std::mem::forget(f);
            }
            Ok(format!("kept {} open", a.n))
        })
        .tool("list", "List a folder.", |a: FsPath| {
            let mut names: Vec<String> = std::fs::read_dir(&a.path)
                .map_err(err)?
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<Result<_, _>>()
                .map_err(err)?;
            names.sort();
            Ok(names.join("\n"))
        })
        .tool("env", "All environment variables as JSON.", |_: Nothing| {
            let vars: std::collections::BTreeMap<String, String> = std::env::vars().collect();
            Ok(serde_json::to_string(&vars).unwrap())
        })
        .tool("connect", "Open a TCP connection.", |a: Addr| {
            std::net::TcpStream::connect(&a.addr).map(|_| "connected".into()).map_err(err)
        })
        .tool("resolve", "Resolve a host name.", |a: Addr| {
            use std::net::ToSocketAddrs;
            a.addr.to_socket_addrs().map(|it| format!("{:?}", it.collect::<Vec<_>>())).map_err(err)
        })
        .tool("fetch", "Any HTTP request through the host: status, final URL, size, truncation, body.", |a: Fetch| {
            let request = fathom_sdk::http::Request {
                method: a.method.unwrap_or_else(|| "GET".into()),
                url: a.url,
                headers: a.headers,
                body: None,
            };
            let r = fathom_sdk::http::fetch(&request).map_err(err)?;
            Ok(format!("{} {} {} {}\n{}", r.status, r.url, r.body.len(), r.truncated, String::from_utf8_lossy(&r.body)))
        })
}

fathom_sdk::export!(toolbox);
