//! The daemon's logs: `tracing` events and spans (one span per task, per
//! session and per tool call, each carrying its ids), written to stderr
//! in a human format on a terminal and as one JSON object per line under
//! systemd (which `journalctl -o json` and log shippers read) or with
//! `--log-format json`.
//!
//! What is logged is chosen so that no secret can reach a log: requests
//! are logged by method, path and status, never their headers (a bearer
//! token) or bodies (a task's policy may name secrets, never their values);
//! model requests by replica URL, never the API key; tool calls by server,
//! tool and outcome, never their arguments. `FATHOM_LOG` sets the filter
//! (`RUST_LOG` syntax, default `info`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// JSON under systemd (stderr connected to the journal), else text.
    Auto,
    /// One human line per event.
    Text,
    /// One JSON object per event, with the enclosing spans' fields.
    Json,
}

impl LogFormat {
    /// `Auto` resolved for this process.
    fn resolve(self) -> LogFormat {
        match self {
            // systemd sets JOURNAL_STREAM when stderr goes to the journal.
            LogFormat::Auto if std::env::var_os("JOURNAL_STREAM").is_some() => LogFormat::Json,
            LogFormat::Auto => LogFormat::Text,
            f => f,
        }
    }
}

/// Install the process's subscriber. A `FATHOM_LOG` that does not parse is
/// an error naming it, not a silent default.
pub fn init(format: LogFormat) -> Result<(), String> {
    let filter = match std::env::var("FATHOM_LOG") {
        Ok(spec) if !spec.trim().is_empty() => {
            EnvFilter::try_new(&spec).map_err(|e| format!("FATHOM_LOG={spec:?} is not a log filter: {e}"))?
        }
        _ => EnvFilter::new("info"),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let installed = match format.resolve() {
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(true).try_init(),
        _ => builder.with_ansi(std::io::stderr().is_terminal()).with_target(false).try_init(),
    };
    // Already installed (a test that starts two daemons in one process).
    let _ = installed;
    Ok(())
}
