//! The `fathom` command line. See `fathom --help` and `interface.md`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use fathom::policy::{Policy, PolicyStore};
use fathom::runtime::{Runtime, RuntimeOptions, Session, SessionOptions};

#[derive(Parser)]
#[command(name = "fathom", version, about = "A research agent whose tools run in WebAssembly sandboxes")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List, call, scaffold and install tools.
    #[command(subcommand)]
    Tool(ToolCmd),
    /// Validate and show resource policies.
    #[command(subcommand)]
    Policy(PolicyCmd),
}

#[derive(Subcommand)]
enum ToolCmd {
    /// The installed tools: server, name, description, input JSON Schema.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Call one tool in a fresh sandbox.
    Call {
        /// The tool, as SERVER.TOOL (e.g. tool-python.run_python_code).
        tool: String,
        /// The arguments, a JSON object.
        #[arg(long, default_value = "{}")]
        args: String,
        /// Policy name or .toml file.
        #[arg(long, default_value = "default")]
        policy: String,
        /// Use DIR as the sandbox workspace (default: a new temporary folder).
        #[arg(long, value_name = "DIR")]
        workspace: Option<PathBuf>,
        /// Print {"ok", "output", "error", "fuel", "wall_ms"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Scaffold a new tool component crate in ./NAME.
    New {
        /// Crate name: lowercase letters, digits, `-` and `_`.
        name: String,
    },
    /// Install a tool: a built .wasm component, or a tool crate folder
    /// (built for wasm32-wasip2 first).
    Install { path: PathBuf },
}

#[derive(Subcommand)]
enum PolicyCmd {
    /// Validate a policy file; errors name the key and the line.
    Check { file: String },
    /// Print the effective policy (after `extends`) as TOML.
    Show { policy: String },
}

/// A failure to report: message, and whether it was the user's input (exit 2)
/// or the work itself (exit 1).
struct Failure(String, u8);

fn usage(msg: impl Into<String>) -> Failure {
    Failure(msg.into(), 2)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg, code)) => {
            eprintln!("fathom: {msg}");
            ExitCode::from(code)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Tool(ToolCmd::List { json }) => tool_list(json).await,
        Command::Tool(ToolCmd::Call { tool, args, policy, workspace, json }) => {
            tool_call(&tool, &args, &policy, workspace, json).await
        }
        Command::Tool(ToolCmd::New { name }) => fathom::scaffold::new_tool(Path::new("."), &name)
            .map(|dir| {
                println!("Created tool crate {}.", dir.display());
                println!("Next: cd {name} && cargo test && fathom tool install .");
            })
            .map_err(usage),
        Command::Tool(ToolCmd::Install { path }) => tool_install(&path).await,
        Command::Policy(PolicyCmd::Check { file }) => {
            let p = load_policy(&file)?;
            println!("{file}: ok (policy `{}`)", p.name);
            Ok(())
        }
        Command::Policy(PolicyCmd::Show { policy }) => {
            let p = load_policy(&policy)?;
            print!("{}", toml::to_string(&p).map_err(|e| Failure(e.to_string(), 1))?);
            Ok(())
        }
    }
}

fn load_policy(spec: &str) -> Result<Policy, Failure> {
    PolicyStore::from_env().load(spec).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        usage(format!("invalid policy:\n  {}", lines.join("\n  ")))
    })
}

async fn runtime() -> Result<Arc<Runtime>, Failure> {
    let mut opts = RuntimeOptions::from_env();
    opts.progress = Some(Arc::new(|msg: &str| eprintln!("fathom: {msg}")));
    let rt = Runtime::new(opts).await.map_err(|e| Failure(format!("cannot start the tool runtime: {e:#}"), 2))?;
    for e in rt.load_errors() {
        eprintln!("fathom: warning: skipped tool component {}: {}", e.path.display(), e.message);
    }
    Ok(rt)
}

async fn tool_list(json: bool) -> Result<(), Failure> {
    let rt = runtime().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(rt.tools()).unwrap());
        return Ok(());
    }
    for t in rt.tools() {
        let first = t.description.lines().next().unwrap_or("");
        println!("{}.{}\n    {first}", t.server, t.name);
        let props = t.input_schema.get("properties").and_then(|p| p.as_object());
        let required: Vec<&str> = t
            .input_schema
            .get("required")
            .and_then(|r| r.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        if let Some(props) = props {
            let args: Vec<String> = props
                .keys()
                .map(|k| if required.contains(&k.as_str()) { k.clone() } else { format!("{k}?") })
                .collect();
            println!("    args: {}", args.join(", "));
        }
    }
    Ok(())
}

async fn tool_call(
    tool: &str,
    args: &str,
    policy: &str,
    workspace: Option<PathBuf>,
    json: bool,
) -> Result<(), Failure> {
    let Some((server, name)) = tool.rsplit_once('.') else {
        return Err(usage(format!("name the tool as SERVER.TOOL, e.g. tool-python.create_sandbox, not `{tool}`")));
    };
    let policy = load_policy(policy)?;
    if let Some(w) = &workspace {
        if !w.is_dir() {
            return Err(usage(format!("--workspace {}: no such folder", w.display())));
        }
    }
    let rt = runtime().await?;
    let outputs = fathom::state_dir().join("outputs");
    let mut opts = SessionOptions::new(policy);
    opts.outputs = Some(outputs);
    let session = Session::new(rt.clone(), opts).map_err(|e| Failure(format!("cannot create a session: {e}"), 2))?;

    // One fresh sandbox; a `sandbox_id` that is absent or unknown means it.
    let mut args = args.to_owned();
    let takes_sandbox = rt
        .tools()
        .iter()
        .any(|t| t.server == server && t.name == name && t.input_schema.pointer("/properties/sandbox_id").is_some());
    if takes_sandbox {
        let sandbox = session
            .create_sandbox(Duration::from_secs(3600), workspace)
            .map_err(|e| Failure(format!("cannot create a sandbox: {e}"), 2))?;
        if let Ok(serde_json::Value::Object(mut map)) = serde_json::from_str(&args) {
            map.insert("sandbox_id".into(), sandbox.id.clone().into());
            args = serde_json::Value::Object(map).to_string();
        }
    }
    let outcome = session.call(server, name, &args).await;
    if json {
        println!("{}", serde_json::to_string(&outcome).unwrap());
    } else {
        println!("{}", outcome.output);
    }
    Ok(())
}

async fn tool_install(path: &Path) -> Result<(), Failure> {
    let wasm = if path.is_dir() {
        fathom::scaffold::build_tool_crate(path).map_err(|e| Failure(e, 1))?
    } else {
        path.to_path_buf()
    };
    let dest_dir = fathom::state_dir().join("tools");
    let installed = fathom::scaffold::install(&wasm, &dest_dir).await.map_err(|e| Failure(e, 1))?;
    println!("{installed}");
    Ok(())
}
