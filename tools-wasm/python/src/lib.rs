//! `tool-python.run_python_code` and `tool-python.run_command`: a
//! notebook-style Python session and a shell per sandbox, on RustPython and
//! `fathom-shell` compiled to WebAssembly. They share one component so that
//! `python3 script.py` in the shell runs in the sandbox's own interpreter.
//!
//! The component is stateful (the host keeps one instance per sandbox, so
//! globals persist between calls) and asks to be snapshotted: building the
//! interpreter, loading the frozen standard library and importing the common
//! modules happens once, in `init`, and every session starts from that
//! memory image. What must differ per sandbox is redone on the first call
//! (see `Session::refresh`).

use fathom_sdk::{JsonSchema, SandboxId, ToolError, Toolbox};
use fathom_shell::{HttpRequest, HttpResponse, Output, Shell};
use rustpython_vm::{Interpreter, PyObjectRef, PyResult, Settings, VirtualMachine, builtins::PyStrRef};
use serde::Deserialize;

const PRELUDE: &str = include_str!("prelude.py");

unsafe extern "C" {
    /// wasi-libc caches the preopened directories when it first needs them.
    /// In a snapshot that cache describes the instance the snapshot was made
    /// in; this drops it so the next path lookup asks the host again.
    fn __wasilibc_reset_preopens();
}

const WORKSPACE: &str = "/home/user";
/// What `run_command` shows of each stream, as for Python cells.
const OUT_LIMIT: usize = 20_000;
const ERR_LIMIT: usize = 4_000;

struct Session {
    py: Python,
    /// The user's globals, kept between cells.
    globals: PyObjectRef,
    /// The sandbox's shell: working directory and variables persist.
    shell: Shell,
}

struct Python {
    interp: Interpreter,
    /// The prelude module (`run`, `script`, `refresh`, `new_globals`).
    driver: PyObjectRef,
    /// Set in `init` (possibly before a snapshot), cleared by the first call.
    needs_refresh: bool,
}

fn py_err(vm: &VirtualMachine, e: rustpython_vm::builtins::PyBaseExceptionRef) -> String {
    let mut s = String::new();
    let _ = vm.write_exception(&mut s, &e);
    s
}

impl Session {
    fn new() -> Session {
        let settings = Settings::default();
        let builder = Interpreter::builder(settings);
        let defs = rustpython_stdlib::stdlib_module_defs(&builder.ctx);
        let interp = builder.add_native_modules(&defs).add_frozen_modules(rustpython_pylib::FROZEN_STDLIB).build();
        let (driver, globals) = interp.enter(|vm| {
            let load = || -> PyResult<(PyObjectRef, PyObjectRef)> {
                let code = vm
                    .compile(PRELUDE, rustpython_vm::compiler::Mode::Exec, "<fathom-prelude>".to_owned())
                    .unwrap_or_else(|e| panic!("the Python prelude does not compile: {e}"));
                let module = vm.new_module("_fathom", vm.ctx.new_dict(), None);
                let dict = module.dict();
                dict.set_item("__builtins__", vm.builtins.clone().into(), vm)?;
                vm.run_code_obj(code, rustpython_vm::scope::Scope::with_builtins(None, dict.clone(), vm))?;
                let module: PyObjectRef = module.into();
                let globals = vm.call_method(&module, "new_globals", ())?;
                Ok((module, globals))
            };
            load().unwrap_or_else(|e| panic!("the Python prelude failed: {}", py_err(vm, e)))
        });
        let mut session =
            Session { py: Python { interp, driver, needs_refresh: true }, globals, shell: Shell::new(WORKSPACE) };
        // Once here, so the snapshot holds what a first cell builds lazily.
        session.warm_up();
        session
    }

    /// Do ahead what a first call does that needs no sandbox (the driver's
    /// `warm`: a throwaway cell in globals of its own, `refresh`'s steps but
    /// the working directory), so the interpreter's lazily built parts exist
    /// and the memory a first call writes is this instance's own before it.
    /// The user's globals and `sys.modules` are left as they were, and the
    /// per-sandbox `refresh` still runs at the first call.
    fn warm_up(&mut self) {
        const CELL: &str = "_w = [str(i) for i in range(8)]\nprint(len(_w))\n_w[0]";
        let split = cell_split(CELL);
        let driver = &self.py.driver;
        self.py.interp.enter(|vm| {
            if let Err(e) = vm.call_method(driver, "warm", (vm.ctx.new_str(CELL), vm.ctx.new_int(split))) {
                panic!("the Python warm-up failed: {}", py_err(vm, e));
            }
        });
    }

    fn run(&mut self, code: &str) -> Result<String, ToolError> {
        let globals = self.globals.clone();
        self.py.enter(|vm, driver| {
            let split = vm.ctx.new_int(cell_split(code));
            let out = vm
                .call_method(driver, "run", (vm.ctx.new_str(code), split, globals))
                .map_err(|e| ToolError::failed(format!("the Python driver failed: {}", py_err(vm, e))))?;
            let text: PyStrRef = out.downcast().map_err(|_| ToolError::failed("the Python driver returned no text"))?;
            Ok(text.to_string_lossy().into_owned())
        })
    }

    fn command(&mut self, command: &str) -> Result<String, ToolError> {
        if command.trim().is_empty() {
            return Err(ToolError::invalid("`command` is empty"));
        }
        // The first call of a sandbox may be a command: make the sandbox's
        // own preopens and working directory current before the shell looks.
        self.py.enter(|_, _| Ok(()))?;
        let out = self.shell.run(command, &mut SandboxHost { py: &mut self.py });
        Ok(render_command(&out))
    }
}

impl Python {
    /// Enter the interpreter, first redoing what is per sandbox when this is
    /// the first call since `init` (or the snapshot).
    fn enter<R>(
        &mut self,
        f: impl FnOnce(&VirtualMachine, &PyObjectRef) -> Result<R, ToolError>,
    ) -> Result<R, ToolError> {
        if self.needs_refresh {
            // SAFETY: a plain wasi-libc function with no preconditions.
            unsafe { __wasilibc_reset_preopens() };
        }
        let refresh = std::mem::take(&mut self.needs_refresh);
        let driver = &self.driver;
        self.interp.enter(|vm| {
            if refresh {
                vm.call_method(driver, "refresh", ())
                    .map_err(|e| ToolError::failed(format!("the Python session could not start: {}", py_err(vm, e))))?;
            }
            f(vm, driver)
        })
    }
}

/// What the shell reaches outside itself: this sandbox's interpreter for
/// `python3`, and the host's network layer for `wget` and `curl`.
struct SandboxHost<'a> {
    py: &'a mut Python,
}

impl fathom_shell::Host for SandboxHost<'_> {
    fn python(&mut self, args: &[String], stdin: &[u8], cwd: &std::path::Path, env: &[(String, String)]) -> Output {
        let mut invocation = match python_invocation(args) {
            Ok(i) => i,
            Err(done) => return done,
        };
        let mut stdin = String::from_utf8_lossy(stdin).into_owned();
        if invocation.mode == "stdin" {
            // `python3 < prog.py`, `echo ... | python3`: the program is the input.
            invocation = Invocation { mode: "c", target: std::mem::take(&mut stdin), argv: vec!["-".into()] };
        }
        let cwd = cwd.to_string_lossy().into_owned();
        let result = self.py.enter(|vm, driver| {
            let environ = vm.ctx.new_dict();
            for (k, v) in env {
                let _ = environ.set_item(k.as_str(), vm.ctx.new_str(v.as_str()).into(), vm);
            }
            let argv: Vec<PyObjectRef> = invocation.argv.iter().map(|a| vm.ctx.new_str(a.as_str()).into()).collect();
            let call = (
                vm.ctx.new_str(invocation.mode),
                vm.ctx.new_str(invocation.target.as_str()),
                vm.ctx.new_list(argv),
                vm.ctx.new_str(stdin),
                vm.ctx.new_str(cwd),
                environ,
            );
            let res = vm
                .call_method(driver, "script", call)
                .map_err(|e| ToolError::failed(format!("the Python driver failed: {}", py_err(vm, e))))?;
            let (out, err, code): (String, String, i64) = (|| -> PyResult<_> {
                let t = res.downcast_ref::<rustpython_vm::builtins::PyTuple>().expect("script returns a tuple");
                let s = |i: usize| -> PyResult<String> {
                    Ok(t.as_slice()[i]
                        .clone()
                        .downcast::<rustpython_vm::builtins::PyStr>()
                        .map_err(|_| vm.new_type_error("str expected"))?
                        .to_string_lossy()
                        .into_owned())
                };
                let code: i64 = t.as_slice()[2].try_to_value(vm)?;
                Ok((s(0)?, s(1)?, code))
            })()
            .map_err(|e| ToolError::failed(py_err(vm, e)))?;
            Ok((out, err, code))
        });
        match result {
            Ok((stdout, stderr, code)) => Output {
                stdout: stdout.into_bytes(),
                stderr: stderr.into_bytes(),
                exit_code: code.clamp(0, 255) as i32,
            },
            Err(e) => Output { stdout: Vec::new(), stderr: format!("python3: {e}\n").into_bytes(), exit_code: 1 },
        }
    }

    fn fetch(&mut self, req: HttpRequest) -> Result<HttpResponse, String> {
        let request =
            fathom_sdk::http::Request { method: req.method, url: req.url, headers: req.headers, body: req.body };
        let r = fathom_sdk::http::fetch(&request)?;
        Ok(HttpResponse { status: r.status, url: r.url, headers: r.headers, body: r.body, truncated: r.truncated })
    }
}

/// How `python3 ARGS` asked to run: what and with which `sys.argv`.
struct Invocation {
    mode: &'static str,
    target: String,
    argv: Vec<String>,
}

/// CPython's command line, the parts scripts use: `-c CODE`, `-m MODULE`,
/// `FILE`, `-` or nothing (the program from stdin), `-V`; flags that change
/// nothing here (`-u -B -E -I -O -q -s -S`) are accepted.
fn python_invocation(args: &[String]) -> Result<Invocation, Output> {
    let message = |text: String, code: i32| Output { stdout: Vec::new(), stderr: text.into_bytes(), exit_code: code };
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-c" | "-m" => {
                let Some(target) = args.get(i + 1) else {
                    return Err(message(format!("Argument expected for the {a} option\n"), 2));
                };
                let (mode, argv0) = if a == "-c" { ("c", "-c".to_owned()) } else { ("m", target.clone()) };
                let mut argv = vec![argv0];
                argv.extend(args[i + 2..].iter().cloned());
                return Ok(Invocation { mode, target: target.clone(), argv });
            }
            "-V" | "--version" => {
                return Err(Output {
                    stdout: b"Python 3.14.0 (RustPython, WebAssembly)\n".to_vec(),
                    ..Output::default()
                });
            }
            "-" => break,
            _ if a.starts_with('-') && a.len() > 1 && a[1..].chars().all(|c| "uBEIOqsSd".contains(c)) => i += 1,
            _ if a.starts_with('-') => {
                return Err(message(
                    format!("unknown option {a}\nusage: python3 [-c cmd | -m mod | file | -] [arg] ...\n"),
                    2,
                ));
            }
            _ => {
                return Ok(Invocation { mode: "file", target: a.to_owned(), argv: args[i..].to_vec() });
            }
        }
    }
    Ok(Invocation { mode: "stdin", target: String::new(), argv: vec!["-".into()] })
}

/// A command's observation: its streams (cut like a cell's) and exit code.
/// The whole stays within the output limit, so the host never has to cut
/// it (and the exit code is never what gets lost).
fn render_command(out: &Output) -> String {
    const OUT_MARK: &str = "\n... [Result truncated due to length limit]";
    const ERR_MARK: &str = "\n... [Error truncated due to length limit]";
    fn cut(bytes: &[u8], limit: usize, mark: &str) -> String {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_end_matches('\n');
        if text.len() <= limit {
            return text.to_owned();
        }
        let mut end = limit.saturating_sub(mark.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}{mark}", &text[..end])
    }
    let exit = format!("[exit code] {}", out.exit_code);
    let stderr = (!out.stderr.is_empty()).then(|| format!("[stderr]\n{}", cut(&out.stderr, ERR_LIMIT, ERR_MARK)));
    let room = OUT_LIMIT - exit.len() - stderr.as_ref().map_or(0, |s| s.len() + 1) - "[stdout]\n\n".len();
    let stdout = (!out.stdout.is_empty()).then(|| format!("[stdout]\n{}", cut(&out.stdout, room, OUT_MARK)));
    [stdout, stderr, Some(exit)].into_iter().flatten().collect::<Vec<_>>().join("\n")
}

/// The driver's `split` argument: [`trailing_expression`], or -1.
fn cell_split(code: &str) -> i64 {
    trailing_expression(code).unwrap_or(-1)
}

/// Where the cell's last statement starts, in characters, if that statement
/// is an expression (whose value a notebook shows); `None` otherwise, or if
/// the cell does not parse (Python then reports the syntax error itself).
fn trailing_expression(code: &str) -> Option<i64> {
    use ruff_text_size::Ranged;
    let parsed = ruff_python_parser::parse_module(code).ok()?;
    let last = parsed.syntax().body.last()?;
    if !matches!(last, ruff_python_ast::Stmt::Expr(_)) {
        return None;
    }
    let start = usize::from(last.range().start());
    Some(code.get(..start)?.chars().count() as i64)
}

#[derive(Deserialize, JsonSchema)]
struct CommandArgs {
    /// A shell command line: pipes, redirections, `&&`, `||`, `;`, variables,
    /// globbing, `cd` (kept between calls). Coreutils, grep, find, sed, awk,
    /// jq, tar/zip, wget/curl and `python3` are available.
    command: String,
    #[allow(dead_code)] // resolved by the host to this session's sandbox
    sandbox_id: SandboxId,
}

#[derive(Deserialize, JsonSchema)]
struct RunArgs {
    /// Python code to run. Variables, functions and imports persist between
    /// calls in the same sandbox, like cells of a notebook; a trailing
    /// expression's value is shown.
    code_block: String,
    #[allow(dead_code)] // resolved by the host to this session's sandbox
    sandbox_id: SandboxId,
}

fn toolbox() -> Toolbox<Session> {
    Toolbox::stateful("tool-python", Session::new())
        .with_snapshot()
        .with_warm_up(Session::warm_up)
        .tool_with_state(
            "run_command",
            "Run a shell command in the sandbox, in /home/user at first; the working directory and exported \
             variables persist across calls. A Linux-like shell with ls, cat, head, tail, wc, grep, find, sort, \
             uniq, cut, tr, sed, awk, jq, diff, tar, zip/unzip, gzip, md5sum/sha256sum, base64, wget/curl (only \
             the hosts the task's policy allows) and python3 (this sandbox's interpreter, files under /home/user \
             are shared with run_python_code). Returns stdout, stderr and the exit code. Packages cannot be \
             installed.",
            |session: &mut Session, args: CommandArgs| session.command(&args.command),
        )
        .tool_with_state(
            "run_python_code",
            "Run Python code in the sandbox's persistent Python session (like a Jupyter notebook cell): \
         variables, functions and imports persist across calls; the working directory is /home/user, \
         shared with the other tools of the sandbox. Returns stdout, stderr, the value of a trailing \
         expression, or the error with its traceback. Python standard library only: no pip packages, \
         no network.",
            |session: &mut Session, args: RunArgs| session.run(&args.code_block),
        )
}

fathom_sdk::export!(toolbox);
