//! The bundled small model for `fathom run --local-model`: starts
//! `scripts/local-model.sh` (Qwen2.5-Coder-0.5B served by llama-cpp-python on
//! loopback) on a free port and stops it when dropped, so a fresh machine can
//! run a real research task without a model server of its own.

use std::path::PathBuf;
use std::process::Command;

/// The model alias the script serves.
pub const MODEL: &str = "qwen0.5b";

/// A running local model server, stopped on drop.
pub struct LocalModel {
    script: PathBuf,
    port: u16,
    pub base_url: String,
}

/// `FATHOM_LOCAL_MODEL_SCRIPT`, else the script of the source tree this
/// binary was built from.
fn script() -> PathBuf {
    std::env::var_os("FATHOM_LOCAL_MODEL_SCRIPT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/local-model.sh")))
}

impl LocalModel {
    /// Install (the first time: a venv, a llama-cpp-python build of about
    /// ten minutes, a 491 MB model) and start the server; its log goes to
    /// this process's stderr.
    pub fn start() -> Result<LocalModel, String> {
        let script = script();
        if !script.is_file() {
            return Err(format!(
                "the local model's script {} is not there (set FATHOM_LOCAL_MODEL_SCRIPT to scripts/local-model.sh of a Fathom checkout)",
                script.display()
            ));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port for the local model: {e}"))?
            .port();
        let out = Command::new("bash")
            .arg(&script)
            .arg(port.to_string())
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        let base_url = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or("").trim().to_owned();
        if !out.status.success() || !base_url.starts_with("http") {
            return Err(format!("the local model did not start ({}); see the lines above", out.status));
        }
        Ok(LocalModel { script, port, base_url })
    }
}

impl Drop for LocalModel {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(&self.script).args(["stop", &self.port.to_string()]).status();
    }
}
