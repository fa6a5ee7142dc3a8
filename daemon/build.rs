//! Builds the tool components in `tools-wasm/` for `wasm32-wasip2` as part of
//! the normal cargo flow, so `cargo build` / `cargo test` on a fresh machine
//! produce a `fathom` binary and the tools it runs, with nothing to do by hand.
//!
//! The components live in their own cargo workspace (a host build must never
//! try to compile them natively) and are built into their own target folder,
//! so this nested cargo never waits on the outer one's lock. Missing target:
//! installed with rustup, or the build stops with a one-line instruction.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Components shipped with Fathom: (artifact stem, installed name).
const TOOLS: &[(&str, &str)] = &[
    ("fathom_tool_files", "files"),
    ("fathom_tool_python", "python"),
    ("fathom_tool_reading", "reading"),
    ("fathom_tool_search", "search"),
    ("fathom_tool_scrape", "scrape"),
];
/// Components only the test suite loads.
const TEST_TOOLS: &[(&str, &str)] = &[("fathom_test_hostile", "hostile"), ("fathom_test_counter", "counter")];

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let repo = manifest_dir.parent().unwrap();
    let tools_ws = repo.join("tools-wasm");
    for p in [tools_ws.clone(), repo.join("sdk/src"), repo.join("sdk/wit"), repo.join("sdk/Cargo.toml")] {
        println!("cargo:rerun-if-changed={}", p.display());
    }

    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    // OUT_DIR is <target>/[<triple>/]<profile>/build/<pkg>-<hash>/out.
    let profile_dir = out_dir.ancestors().find(|p| p.file_name().is_some_and(|n| n == "build")).and_then(Path::parent);
    let target_root = profile_dir.and_then(Path::parent).unwrap_or(&out_dir);
    let wasm_target_dir = target_root.join("tools-wasm");

    ensure_target();

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Only the components that ship or that tests load: library crates of
    // the workspace are built as their dependencies.
    let packages = TOOLS.iter().chain(TEST_TOOLS).flat_map(|(stem, _)| ["-p".to_owned(), stem.replace('_', "-")]);
    let output = Command::new(cargo)
        // RustPython's parser crates declare a newer Rust than they need.
        .args(["build", "--release", "--ignore-rust-version", "--target", TARGET])
        .args(packages)
        .arg("--manifest-path")
        .arg(tools_ws.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&wasm_target_dir)
        // Flags meant for the host build must not leak into the guest build.
        // The guests' own: Wasm SIMD, which memchr and regex use on wasm32
        // (grep -r over 100 MB 1.8x faster; Python compute unchanged).
        .env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+simd128")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .stderr(Stdio::inherit())
        .stdout(Stdio::piped())
        .output()
        .expect("failed to run cargo to build the tool components");
    if !output.status.success() {
        panic!("building the tool components in tools-wasm/ for {TARGET} failed (see the cargo output above)");
    }

    let built = wasm_target_dir.join(TARGET).join("release");
    let dist = wasm_target_dir.join("dist");
    let dist_test = wasm_target_dir.join("dist-test");
    install(&built, &dist, TOOLS);
    install(&built, &dist_test, TEST_TOOLS);
    println!("cargo:rustc-env=FATHOM_BUILTIN_TOOLS_DIR={}", dist.display());
    println!("cargo:rustc-env=FATHOM_TEST_TOOLS_DIR={}", dist_test.display());
}

fn install(built: &Path, dest: &Path, list: &[(&str, &str)]) {
    std::fs::create_dir_all(dest).unwrap();
    for (stem, name) in list {
        let from = built.join(format!("{stem}.wasm"));
        let to = dest.join(format!("{name}.wasm"));
        let bytes = std::fs::read(&from).unwrap_or_else(|e| panic!("missing component {}: {e}", from.display()));
        if std::fs::read(&to).ok().as_deref() != Some(&bytes[..]) {
            std::fs::write(&to, &bytes).unwrap();
        }
    }
}

/// Make sure the standard library for wasm32-wasip2 is installed.
fn ensure_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = |root: &Option<PathBuf>| root.as_ref().is_some_and(|r| r.join("lib/rustlib").join(TARGET).is_dir());
    if installed(&sysroot) {
        return;
    }
    let added = Command::new("rustup")
        .args(["target", "add", TARGET])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !added || !installed(&sysroot) {
        panic!("the Rust target {TARGET} is missing and could not be installed: run `rustup target add {TARGET}`");
    }
}
