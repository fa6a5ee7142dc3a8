//! `tool-python.run_python_code`: a notebook-style Python session per
//! sandbox, on RustPython compiled to WebAssembly.
//!
//! The component is stateful (the host keeps one instance per sandbox, so
//! globals persist between calls) and asks to be snapshotted: building the
//! interpreter, loading the frozen standard library and importing the common
//! modules happens once, in `init`, and every session starts from that
//! memory image. What must differ per sandbox is redone on the first call
//! (see `Session::refresh`).

use fathom_sdk::{JsonSchema, SandboxId, ToolError, Toolbox};
use rustpython_vm::{Interpreter, PyObjectRef, PyResult, Settings, VirtualMachine, builtins::PyStrRef};
use serde::Deserialize;

const PRELUDE: &str = include_str!("prelude.py");

unsafe extern "C" {
    /// wasi-libc caches the preopened directories when it first needs them.
    /// In a snapshot that cache describes the instance the snapshot was made
    /// in; this drops it so the next path lookup asks the host again.
    fn __wasilibc_reset_preopens();
}

struct Session {
    interp: Interpreter,
    /// The prelude module (`run`, `refresh`, `new_globals`).
    driver: PyObjectRef,
    /// The user's globals, kept between cells.
    globals: PyObjectRef,
    /// Set in `init` (possibly before a snapshot), cleared by the first cell.
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
        Session { interp, driver, globals, needs_refresh: true }
    }

    fn run(&mut self, code: &str) -> Result<String, ToolError> {
        if self.needs_refresh {
            // SAFETY: a plain wasi-libc function with no preconditions.
            unsafe { __wasilibc_reset_preopens() };
        }
        let refresh = std::mem::take(&mut self.needs_refresh);
        self.interp.enter(|vm| {
            if refresh {
                vm.call_method(&self.driver, "refresh", ())
                    .map_err(|e| ToolError::failed(format!("the Python session could not start: {}", py_err(vm, e))))?;
            }
            let split = vm.ctx.new_int(trailing_expression(code).unwrap_or(-1));
            let out = vm
                .call_method(&self.driver, "run", (vm.ctx.new_str(code), split, self.globals.clone()))
                .map_err(|e| ToolError::failed(format!("the Python driver failed: {}", py_err(vm, e))))?;
            let text: PyStrRef = out.downcast().map_err(|_| ToolError::failed("the Python driver returned no text"))?;
            Ok(text.to_string_lossy().into_owned())
        })
    }
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
struct RunArgs {
    /// Python code to run. Variables, functions and imports persist between
    /// calls in the same sandbox, like cells of a notebook; a trailing
    /// expression's value is shown.
    code_block: String,
    #[allow(dead_code)] // resolved by the host to this session's sandbox
    sandbox_id: SandboxId,
}

fn toolbox() -> Toolbox<Session> {
    Toolbox::stateful("tool-python", Session::new()).with_snapshot().tool_with_state(
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
