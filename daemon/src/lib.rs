//! Fathom: a research-agent daemon whose tools run as WebAssembly components.
//!
//! See `ARCHITECTURE.md` at the repository root for the map of the code.

pub mod agent;
pub mod caps;
pub mod client;
pub mod config;
pub mod eval;
pub mod hostfs;
pub mod llm;
pub mod local_model;
pub mod logging;
pub mod mcp;
pub mod metrics;
pub mod net;
pub mod policy;
pub mod runtime;
pub mod scaffold;
pub mod search;
pub mod server;
pub mod tasks;
pub mod ui;
pub mod wit;

use std::path::PathBuf;

/// Where Fathom keeps its state (compile cache, installed tools, outputs):
/// `FATHOM_STATE_DIR`, else `$STATE_DIRECTORY` (systemd), else
/// `$XDG_STATE_HOME/fathom`, else `~/.local/state/fathom`.
pub fn state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("FATHOM_STATE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("STATE_DIRECTORY") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(d).join("fathom");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/state/fathom")
}

/// The tool components built together with this binary (see `build.rs`).
pub fn builtin_tools_dir() -> PathBuf {
    // Installed layout first: `tools/` next to the executable.
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent().map(|d| d.join("tools")) {
            if dir.is_dir() {
                return dir;
            }
        }
    }
    PathBuf::from(env!("FATHOM_BUILTIN_TOOLS_DIR"))
}

/// Hostile and helper components used only by the test suite.
#[doc(hidden)]
pub fn test_tools_dir() -> PathBuf {
    PathBuf::from(env!("FATHOM_TEST_TOOLS_DIR"))
}
