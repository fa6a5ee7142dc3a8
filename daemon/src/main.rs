//! The `fathom` command line. See `fathom --help` and `interface.md`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use fathom::agent::llm::LlmConfig;
use fathom::agent::run::ToolFormat;
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
    /// Run one research task to its answer (in-process). Progress on stderr,
    /// the answer alone on stdout.
    Run {
        /// The task, in words.
        question: String,
        /// Policy name or .toml file.
        #[arg(long, default_value = "default")]
        policy: String,
        /// Attach a file (repeatable): its text goes into the first message
        /// and the tools may upload it into a sandbox.
        #[arg(long = "file", value_name = "PATH")]
        files: Vec<PathBuf>,
        /// Print the task record as JSON instead of the answer.
        #[arg(long)]
        json: bool,
        /// Write the full trajectory (MiroThinker task-log format) to FILE.
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
    },
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
        Command::Run { question, policy, files, json, trace } => {
            run_task(&question, &policy, &files, json, trace).await
        }
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
    let takes_sandbox = rt.tools().iter().any(|t| t.server == server && t.name == name && t.takes_sandbox);
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

/// The model endpoints from the environment (`interface.md`): the main
/// model, and the summary model (`FATHOM_SUMMARY_LLM_*`, each variable
/// defaulting to the main model's).
fn llm_configs(policy: &Policy) -> Result<(LlmConfig, LlmConfig), Failure> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let base = var("FATHOM_LLM_BASE_URL").ok_or_else(|| {
        usage("no model server: set FATHOM_LLM_BASE_URL to its OpenAI-compatible base URL (e.g. http://127.0.0.1:8000/v1)")
    })?;
    let timeout = Duration::from_secs_f64(policy.agent.task_timeout_secs.min(600.0));
    let endpoint = |prefix: &str, fallback: Option<&LlmConfig>| -> Result<LlmConfig, Failure> {
        let base = var(&format!("{prefix}_BASE_URL"))
            .or_else(|| fallback.map(|f| f.base_url.clone()))
            .unwrap_or_else(|| base.clone());
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(usage(format!("{prefix}_BASE_URL={base:?} is not an http(s) URL")));
        }
        let model = var(&format!("{prefix}_MODEL"))
            .or_else(|| fallback.map(|f| f.model.clone()))
            .unwrap_or_else(|| "default".into());
        let mut cfg = LlmConfig::new(base, model);
        cfg.api_key = var(&format!("{prefix}_API_KEY")).or_else(|| fallback.and_then(|f| f.api_key.clone()));
        cfg.timeout = timeout;
        Ok(cfg)
    };
    let main = endpoint("FATHOM_LLM", None)?;
    let summary = endpoint("FATHOM_SUMMARY_LLM", Some(&main))?;
    Ok((main, summary))
}

/// `FATHOM_TOOL_FORMAT`: `mcp-xml` (default) or `openai`.
fn tool_format() -> Result<ToolFormat, Failure> {
    match std::env::var("FATHOM_TOOL_FORMAT") {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map_err(|e| usage(format!("FATHOM_TOOL_FORMAT: {e}"))),
        _ => Ok(ToolFormat::McpXml),
    }
}

/// An attachment as text for the first message: UTF-8 files as they are;
/// anything else described, to be uploaded and processed in a sandbox.
fn attachment_text(path: &Path) -> Result<String, Failure> {
    let bytes = std::fs::read(path).map_err(|e| usage(format!("--file {}: {e}", path.display())))?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => format!(
            "[binary file of {} bytes: not shown here; upload it to a sandbox and read it with Python]",
            e.as_bytes().len()
        ),
    })
}

async fn run_task(
    question: &str,
    policy_spec: &str,
    files: &[PathBuf],
    json: bool,
    trace: Option<PathBuf>,
) -> Result<(), Failure> {
    use fathom::agent::record::Finished;
    use fathom::agent::run::{Agent, AgentConfig, Event};
    use std::time::{Instant, SystemTime};

    let policy = load_policy(policy_spec)?;
    let (llm_cfg, _summary_cfg) = llm_configs(&policy)?;
    let format = tool_format()?;
    let llm = fathom::agent::llm::LlmClient::new(llm_cfg).map_err(|e| Failure(e, 2))?;
    let rt = runtime().await?;
    let id = format!("task-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let state = fathom::state_dir();
    let attachments = state.join("attachments").join(&id);
    let mut attached = Vec::new();
    let mut names = Vec::new();
    for f in files {
        let text = attachment_text(f)?;
        let name = f.file_name().ok_or_else(|| usage(format!("--file {}: not a file", f.display())))?;
        std::fs::create_dir_all(&attachments).map_err(|e| Failure(e.to_string(), 2))?;
        let copy = attachments.join(name);
        std::fs::copy(f, &copy).map_err(|e| usage(format!("--file {}: {e}", f.display())))?;
        attached.push((copy.display().to_string(), text));
        names.push(name.to_string_lossy().into_owned());
    }
    let mut opts = SessionOptions::new(policy.clone());
    opts.outputs = Some(state.join("outputs").join(&id));
    opts.attachments = (!attached.is_empty()).then_some(attachments.clone());
    let session = Session::new(rt, opts).map_err(|e| Failure(format!("cannot create the task's session: {e}"), 2))?;

    let started = Instant::now();
    let created_at = SystemTime::now();
    let events: std::sync::Mutex<Vec<(SystemTime, Event)>> = std::sync::Mutex::default();
    let show = |s: &str, n: usize| -> String {
        let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if one.chars().count() > n { format!("{}…", one.chars().take(n).collect::<String>()) } else { one }
    };
    let progress = |e: &Event| {
        let t = started.elapsed().as_secs_f64();
        let line = match e {
            Event::Turn { turn } => format!("turn {turn}"),
            Event::Rollback { reason, .. } => format!("  reply rolled back ({reason})"),
            Event::ToolCall { server, tool, arguments, .. } => {
                format!("  -> {server}.{tool} {}", show(&arguments.to_string(), 90))
            }
            Event::ToolResult { ok, output, .. } => {
                format!("  <- {} {}", if *ok { "ok" } else { "failed" }, show(output, 90))
            }
            Event::Intervention { message, .. } => format!("  !! {}", show(message, 110)),
            Event::Limit { message, .. } => format!("  limit: {message}"),
            Event::Answer { answer } => format!("answer: {}", show(answer, 110)),
            Event::Error { message } => format!("error: {message}"),
        };
        eprintln!("[{t:7.1}s] {line}");
        events.lock().unwrap().push((SystemTime::now(), e.clone()));
    };
    let mut config = AgentConfig::from_policy(&policy);
    config.tool_format = format;
    let agent = Agent { llm: &llm, session: &session, config, on_event: Some(&progress) };
    let date = humantime::format_rfc3339(SystemTime::now()).to_string()[..10].to_owned();
    let outcome = agent.run_with_files(&id, question, &attached, &date).await;
    let events = events.into_inner().unwrap();
    let finished = Finished {
        id: &id,
        question,
        policy: &policy.name,
        file_names: &names,
        created_at,
        finished_at: SystemTime::now(),
        outcome: &outcome,
        events: &events,
    };
    if let Some(path) = trace {
        let text = serde_json::to_string_pretty(&finished.trace()).unwrap();
        std::fs::write(&path, text)
            .map_err(|e| Failure(format!("cannot write the trace {}: {e}", path.display()), 1))?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&finished.task_record()).unwrap());
    }
    match &outcome.error {
        None => {
            if !json {
                println!("{}", outcome.answer);
            }
            Ok(())
        }
        Some(e) => Err(Failure(format!("the task failed: {e}"), 1)),
    }
}
