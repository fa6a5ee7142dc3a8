//! `fathom tool new` and `fathom tool install`: from nothing to an installed
//! tool in three commands.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::runtime::{Runtime, RuntimeOptions};

/// The SDK this binary was built with; scaffolded crates depend on it by path
/// until it is published.
fn sdk_dir() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    p.canonicalize().unwrap_or(p)
}

fn valid_crate_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Create `parent/name`, a tool crate that builds, tests and installs as is.
pub fn new_tool(parent: &Path, name: &str) -> Result<PathBuf, String> {
    if !valid_crate_name(name) {
        return Err(format!(
            "`{name}` is not a usable tool name: use lowercase letters, digits, `-` and `_`, starting with a letter"
        ));
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(format!("{} already exists; choose another name or remove it", dir.display()));
    }
    let sdk = sdk_dir();
    let files: [(&str, String); 4] = [
        (
            "Cargo.toml",
            format!(
                r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

[lib]
# cdylib: the WebAssembly component; rlib: so `cargo test` runs natively.
crate-type = ["cdylib", "rlib"]

[dependencies]
fathom-sdk = {{ path = "{sdk}" }}
serde = {{ version = "1", features = ["derive"] }}
schemars = "1.2"

[profile.release]
opt-level = "s"
strip = "debuginfo"

# A tool crate is its own workspace.
[workspace]
"#,
                sdk = sdk.display()
            ),
        ),
        (
            "src/lib.rs",
            format!(
                r##"//! The `{name}` tool server for Fathom.

use fathom_sdk::{{JsonSchema, ToolError, Toolbox}};
use serde::Deserialize;

/// Arguments of `count_words`. Doc comments become the descriptions the
/// model reads in the JSON Schema.
#[derive(Deserialize, JsonSchema)]
struct CountWordsArgs {{
    /// The text whose words to count.
    text: String,
}}

fn count_words(args: CountWordsArgs) -> Result<String, ToolError> {{
    if args.text.trim().is_empty() {{
        return Err(ToolError::invalid("`text` is empty"));
    }}
    Ok(args.text.split_whitespace().count().to_string())
}}

pub fn toolbox() -> Toolbox {{
    Toolbox::new("{name}").tool("count_words", "Count the words in a text.", count_words)
}}

fathom_sdk::export!(toolbox);

#[cfg(test)]
mod tests {{
    #[test]
    fn counts_words() {{
        let mut tb = super::toolbox();
        assert_eq!(tb.call("count_words", r#"{{"text": "one two  three"}}"#).unwrap(), "3");
        assert!(tb.call("count_words", r#"{{"text": " "}}"#).is_err());
        assert!(tb.call("count_words", r#"{{}}"#).is_err());
    }}
}}
"##
            ),
        ),
        (".gitignore", "target/\n".into()),
        (
            "README.md",
            format!(
                "# {name}\n\nA Fathom tool server.\n\n```sh\ncargo test                 # the tool's own tests, natively\nfathom tool install .      # build for wasm32-wasip2 and install\nfathom tool call {name}.count_words --args '{{\"text\": \"a b c\"}}'\n```\n\nAdd tools in `src/lib.rs`: a function over a `serde` + `schemars` argument\nstruct, registered with `.tool(name, description, function)`.\n"
            ),
        ),
    ];
    for (rel, text) in files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| format!("{}: {e}", path.display()))?;
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(dir)
}

/// Build a tool crate for wasm32-wasip2; returns the component's path.
pub fn build_tool_crate(dir: &Path) -> Result<PathBuf, String> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(format!("{} has no Cargo.toml: pass a tool crate folder or a .wasm file", dir.display()));
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let meta = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--manifest-path"])
        .arg(&manifest)
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !meta.status.success() {
        return Err(format!("cargo metadata failed: {}", String::from_utf8_lossy(&meta.stderr).trim()));
    }
    let meta: serde_json::Value = serde_json::from_slice(&meta.stdout).map_err(|e| e.to_string())?;
    let target_dir = PathBuf::from(meta["target_directory"].as_str().unwrap_or("target"));
    let name = meta["packages"][0]["name"].as_str().ok_or("cargo metadata names no package")?.replace('-', "_");
    let status = Command::new(&cargo)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(&manifest)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building {} for wasm32-wasip2 failed (see above; is the target installed? `rustup target add wasm32-wasip2`)",
            dir.display()
        ));
    }
    let wasm = target_dir.join("wasm32-wasip2/release").join(format!("{name}.wasm"));
    if !wasm.is_file() {
        return Err(format!("the build produced no {}", wasm.display()));
    }
    Ok(wasm)
}

/// Check that `wasm` loads as a Fathom tool, then copy it into `dest_dir`.
pub async fn install(wasm: &Path, dest_dir: &Path) -> Result<String, String> {
    let name = wasm.file_name().ok_or("no file name")?.to_owned();
    if wasm.extension().is_none_or(|x| x != "wasm") {
        return Err(format!("{} is not a .wasm file", wasm.display()));
    }
    let probe = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::copy(wasm, probe.path().join(&name)).map_err(|e| format!("{}: {e}", wasm.display()))?;
    let mut opts = RuntimeOptions::from_env();
    opts.tools_dirs = vec![probe.path().to_path_buf()];
    opts.warm_pool = 0;
    opts.progress = Some(std::sync::Arc::new(|msg: &str| eprintln!("fathom: {msg}")));
    let rt = Runtime::new(opts).await.map_err(|e| format!("{e:#}"))?;
    if let Some(e) = rt.load_errors().first() {
        return Err(format!("{} is not a usable tool: {}", wasm.display(), e.message));
    }
    std::fs::create_dir_all(dest_dir).map_err(|e| format!("{}: {e}", dest_dir.display()))?;
    let dest = dest_dir.join(&name);
    std::fs::copy(wasm, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    let tools: Vec<String> =
        rt.tools().iter().filter(|t| t.name != "create_sandbox").map(|t| format!("{}.{}", t.server, t.name)).collect();
    Ok(format!("Installed {} with tools: {}", dest.display(), tools.join(", ")))
}
