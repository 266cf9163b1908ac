//! The external tools: cargo, rustup's wasm32 target, wasm-opt (npm package
//! `binaryen`, pinned), twiggy (pinned), Node. Each is found, checked by
//! `--version`, and installed into the tools folder when missing.

use crate::Result;
use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The pinned binaryen (wasm-opt) release, from npm.
pub const BINARYEN_VERSION: &str = "132.0.0";
/// What `wasm-opt --version` prints for it.
const BINARYEN_VERSION_TEXT: &str = "version 132 ";
/// The pinned twiggy release, from crates.io.
pub const TWIGGY_VERSION: &str = "0.8.0";

/// The folder tools are installed into: `$TALCUM_TOOLS`, else
/// `$HOME/.cache/talcum-tools` (shared with `.ci/parts/size.sh`).
pub fn tools_dir() -> Result<PathBuf> {
    if let Some(dir) = env::var_os("TALCUM_TOOLS").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    match env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".cache").join("talcum-tools")),
        None => Err("neither TALCUM_TOOLS nor HOME is set: nowhere to keep tools".into()),
    }
}

/// The cargo that runs us (so the same toolchain builds the modules).
pub fn cargo() -> PathBuf {
    env::var_os("CARGO").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("cargo"))
}

/// Runs `cmd`, capturing its output; fails with the tail of its stderr.
pub fn run(cmd: &mut Command, what: &str) -> Result<Output> {
    let out =
        cmd.output().map_err(|e| format!("{what}: cannot start {:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{what} failed ({}):\n{}",
            out.status,
            tail(&String::from_utf8_lossy(&out.stderr), 30)
        ))
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The first line of `program args...`'s stdout, if it runs and succeeds.
pub fn version_of(program: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().next().map(|l| l.trim().to_string())
}

/// Makes sure the wasm32-unknown-unknown standard library is installed for
/// the toolchain in use, adding it through rustup when it is not.
pub fn ensure_wasm32() -> Result<()> {
    let rustc = env::var_os("RUSTC").map_or_else(|| PathBuf::from("rustc"), PathBuf::from);
    let out = run(Command::new(&rustc).args(["--print", "sysroot"]), "rustc --print sysroot")?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let lib = sysroot.join("lib/rustlib/wasm32-unknown-unknown/lib");
    if lib.is_dir() {
        return Ok(());
    }
    eprintln!("size-report: installing the wasm32-unknown-unknown target (rustup)");
    run(
        Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]),
        "rustup target add wasm32-unknown-unknown",
    )?;
    Ok(())
}

/// npm needs the system CA bundle on machines behind a TLS proxy.
fn npm_command() -> Command {
    let mut cmd = Command::new("npm");
    let bundle = Path::new("/etc/ssl/certs/ca-certificates.crt");
    if env::var_os("NODE_EXTRA_CA_CERTS").is_none() && bundle.is_file() {
        cmd.env("NODE_EXTRA_CA_CERTS", bundle);
    }
    cmd
}

/// The pinned wasm-opt, installed with npm when missing or of another version.
pub fn wasm_opt() -> Result<(PathBuf, String)> {
    let prefix = tools_dir()?.join(format!("binaryen-{BINARYEN_VERSION}"));
    let bin = prefix.join("node_modules/.bin/wasm-opt");
    let good = |v: &Option<String>| {
        v.as_deref().is_some_and(|v| format!("{v} ").contains(BINARYEN_VERSION_TEXT))
    };
    let mut version = version_of(&bin, &["--version"]);
    if !good(&version) {
        eprintln!("size-report: installing binaryen {BINARYEN_VERSION} (npm) into {prefix:?}");
        std::fs::create_dir_all(&prefix).map_err(|e| format!("create {prefix:?}: {e}"))?;
        run(
            npm_command()
                .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
                .arg("--prefix")
                .arg(&prefix)
                .arg(format!("binaryen@{BINARYEN_VERSION}")),
            "npm install binaryen",
        )?;
        version = version_of(&bin, &["--version"]);
        if !good(&version) {
            return Err(format!(
                "wasm-opt at {bin:?} reports {version:?}, expected binaryen {BINARYEN_VERSION}"
            ));
        }
    }
    Ok((bin, version.unwrap_or_default()))
}

/// The pinned twiggy, installed with `cargo install` when missing.
pub fn twiggy() -> Result<PathBuf> {
    let root = tools_dir()?;
    let bin = root.join("bin/twiggy");
    let good = |v: Option<String>| v.is_some_and(|v| v.ends_with(TWIGGY_VERSION));
    if !good(version_of(&bin, &["--version"])) {
        eprintln!("size-report: installing twiggy {TWIGGY_VERSION} (cargo install) into {root:?}");
        run(
            Command::new(cargo())
                .args(["install", "twiggy", "--locked", "--version", TWIGGY_VERSION])
                .arg("--root")
                .arg(&root),
            "cargo install twiggy",
        )?;
        if !good(version_of(&bin, &["--version"])) {
            return Err(format!("twiggy at {bin:?} is not version {TWIGGY_VERSION}"));
        }
    }
    Ok(bin)
}

/// Node's version, or an error saying the speed half needs it.
pub fn node() -> Result<String> {
    version_of(Path::new("node"), &["--version"]).ok_or_else(|| {
        "Node.js (`node`) is needed for the speed benchmark; install it or pass --size-only"
            .to_string()
    })
}
