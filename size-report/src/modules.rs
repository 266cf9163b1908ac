//! Building the probe modules (cargo, one build per variant and kind) and
//! shrinking them (wasm-opt -Oz, cached by content).

use crate::tools;
use crate::variants::{Kind, Profile, Variant};
use crate::Result;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Where everything lives.
pub struct Paths {
    /// The repository root.
    pub root: PathBuf,
    /// `size-report/`.
    pub here: PathBuf,
    /// `size-report/module/Cargo.toml`.
    pub manifest: PathBuf,
    /// `target/size-report/`: the module builds' target dir and our outputs.
    pub target: PathBuf,
}

impl Paths {
    pub fn new() -> Result<Paths> {
        let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let root = here.parent().ok_or("size-report has no parent folder")?.to_path_buf();
        let target = root.join("target").join("size-report");
        for dir in ["wasm", "opt-cache"] {
            fs::create_dir_all(target.join(dir)).map_err(|e| format!("create {target:?}: {e}"))?;
        }
        Ok(Paths { manifest: here.join("module").join("Cargo.toml"), root, here, target })
    }

    /// The file a build's raw module is kept in (size modules are built at
    /// "z" only and keep their old names; programs modules have a profile
    /// of their own).
    pub fn raw(&self, v: &Variant, kind: Kind, profile: Profile) -> PathBuf {
        let name = match profile {
            _ if kind == Kind::Programs => format!("{}-{}.wasm", v.name, kind.name()),
            Profile::Z => format!("{}-{}.wasm", v.name, kind.name()),
            p => format!("{}-{}-{}.wasm", v.name, kind.name(), p.name()),
        };
        self.target.join("wasm").join(name)
    }
}

/// Builds one module; returns the path of its copy under `target/size-report/wasm`.
pub fn build(paths: &Paths, v: &Variant, kind: Kind, profile: Profile) -> Result<PathBuf> {
    let mut cmd = Command::new(tools::cargo());
    cmd.current_dir(&paths.root)
        .args(["build", "--profile", kind.cargo_profile(profile)])
        .args(["--target", "wasm32-unknown-unknown"])
        .arg("--manifest-path")
        .arg(&paths.manifest)
        .arg("--target-dir")
        .arg(&paths.target)
        .args(["--no-default-features", "--features"])
        .arg(format!("{},{}", v.feature, kind.feature()))
        .args(["--message-format", "short"])
        // Our own RUSTFLAGS (for the host) must not leak into wasm builds.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    tools::run(&mut cmd, &format!("building {} {} ({})", v.name, kind.name(), profile.name()))?;
    let built = paths
        .target
        .join("wasm32-unknown-unknown")
        .join(kind.cargo_profile(profile))
        .join("size_module.wasm");
    let kept = paths.raw(v, kind, profile);
    fs::copy(&built, &kept).map_err(|e| format!("copy {built:?} to {kept:?}: {e}"))?;
    Ok(kept)
}

/// Runs `wasm-opt -Oz` (`-g` too with `names`) on `input`, writing `output`;
/// returns its size. Results are cached under `target/size-report/opt-cache`
/// by the input's bytes, so unchanged modules cost nothing on a warm run.
pub fn optimise(
    paths: &Paths,
    wasm_opt: &Path,
    input: &Path,
    output: &Path,
    names: bool,
) -> Result<u64> {
    let bytes = fs::read(input).map_err(|e| format!("read {input:?}: {e}"))?;
    let flags: &[&str] = if names { &["-Oz", "-g"] } else { &["-Oz"] };
    let key = format!(
        "{:016x}-{}-{}{}",
        fnv64(&bytes),
        bytes.len(),
        tools::BINARYEN_VERSION,
        if names { "-g" } else { "" }
    );
    let cached_in = paths.target.join("opt-cache").join(format!("{key}.in.wasm"));
    let cached_out = paths.target.join("opt-cache").join(format!("{key}.out.wasm"));
    let hit = fs::read(&cached_in).is_ok_and(|c| c == bytes) && cached_out.is_file();
    if !hit {
        let started = Instant::now();
        tools::run(
            Command::new(wasm_opt).args(flags).arg(input).arg("-o").arg(&cached_out),
            &format!("wasm-opt {} {input:?}", flags.join(" ")),
        )?;
        fs::write(&cached_in, &bytes).map_err(|e| format!("write {cached_in:?}: {e}"))?;
        eprintln!(
            "  wasm-opt {} {} ({:.1} s)",
            flags.join(" "),
            file_name(input),
            started.elapsed().as_secs_f64()
        );
    }
    fs::copy(&cached_out, output).map_err(|e| format!("copy {cached_out:?} to {output:?}: {e}"))?;
    size_of(output)
}

pub fn size_of(path: &Path) -> Result<u64> {
    fs::metadata(path).map(|m| m.len()).map_err(|e| format!("stat {path:?}: {e}"))
}

pub fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The version of each package in the module crate's lock file.
pub fn locked_versions(paths: &Paths) -> Vec<(String, String)> {
    let lock = fs::read_to_string(paths.here.join("module").join("Cargo.lock")).unwrap_or_default();
    let mut out = Vec::new();
    let mut name: Option<String> = None;
    for line in lock.lines() {
        let quoted = |l: &str, key: &str| {
            l.strip_prefix(key)
                .map(|r| r.trim().trim_start_matches('=').trim().trim_matches('"').to_string())
        };
        if let Some(n) = quoted(line, "name ") {
            name = Some(n);
        } else if let Some(v) = quoted(line, "version ") {
            if let Some(n) = name.take() {
                out.push((n, v));
            }
        }
    }
    out
}

/// FNV-1a, 64 bits: a cache key, not a security measure.
fn fnv64(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}
