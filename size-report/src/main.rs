//! `cargo size-report`: the size and speed of talcum against dlmalloc,
//! talc, rlsf and lol_alloc on `wasm32-unknown-unknown`.
//!
//! 1. Size: builds `size-report/module` once per allocator and module kind
//!    (`minimal`, `app`) with a size profile, runs `wasm-opt -Oz`, and
//!    compares each with the null-allocator baseline; twiggy lists talcum's
//!    largest functions.
//! 2. Speed: builds the bench module per allocator and times its workloads
//!    in Node (`bench.mjs`), checking every block's contents.
//! 3. Prints a Markdown report, writes it to `size-report/REPORT.md`, and
//!    draws `size-report/chart.svg`.
//!
//! `--check` builds the minimal modules of the baseline, talcum and
//! dlmalloc only, and fails when talcum adds more than `budget.toml` allows
//! or as much as dlmalloc does. `--size-only` reports sizes without timing.

mod budget;
mod modules;
mod report;
mod speed;
mod tools;
mod variants;

use modules::Paths;
use report::{Point, Report, SizeRow, Sizes};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::{mpsc, Mutex};
use std::time::Instant;
use variants::{Kind, Variant, DLMALLOC_CRATE, DLMALLOC_STD, TALCUM, VARIANTS};

/// Errors are messages for the terminal.
pub type Result<T> = std::result::Result<T, String>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Full,
    SizeOnly,
    Check,
}

struct Args {
    mode: Mode,
    runs: usize,
}

const USAGE: &str = "\
usage: cargo size-report [--check | --size-only] [--runs N]

  (no flag)    sizes and speed; writes size-report/REPORT.md and chart.svg
  --size-only  sizes only (stdout; REPORT.md is left alone)
  --check      the CI gate: minimal-module sizes of the baseline, talcum and
               dlmalloc; exits 1 when talcum adds more bytes over the baseline
               than size-report/budget.toml allows, or as many as dlmalloc
  --runs N     timed runs per allocator and workload (default 31)

Tools go to $TALCUM_TOOLS or $HOME/.cache/talcum-tools (installed when missing).";

fn parse_args() -> Result<Option<Args>> {
    let mut args = Args { mode: Mode::Full, runs: 31 };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--check" => args.mode = Mode::Check,
            "--size-only" => args.mode = Mode::SizeOnly,
            "--runs" => {
                let n = it.next().ok_or("--runs needs a number")?;
                args.runs = n
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("--runs: not a positive number: {n}"))?;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(Some(args))
}

fn main() -> ExitCode {
    let started = Instant::now();
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("size-report: error: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => {
            eprintln!("size-report: done in {:.1} s", started.elapsed().as_secs_f64());
            ExitCode::SUCCESS
        }
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("size-report: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// A module waiting for wasm-opt.
struct Job {
    variant: &'static Variant,
    kind: Kind,
    raw: PathBuf,
    names: bool,
}

/// wasm-opt's answer for a job.
struct Optimised {
    variant: &'static str,
    kind: Kind,
    names: bool,
    raw: u64,
    path: PathBuf,
    result: Result<u64>,
}

/// What the build phase produced.
struct Built {
    optimised: Vec<Optimised>,
    bench: Vec<(&'static str, PathBuf)>,
    talcum_broken: Option<String>,
}

/// The first `error` line of a failed build, for the notes.
fn first_error(message: &str) -> String {
    message
        .lines()
        .find(|l| l.contains("error"))
        .unwrap_or_else(|| message.lines().next().unwrap_or(""))
        .trim()
        .to_string()
}

/// Builds every module, handing size modules to two wasm-opt workers as they
/// come, so optimising overlaps building.
fn build_all(
    paths: &Paths,
    wasm_opt: &Path,
    variants: &[&'static Variant],
    mode: Mode,
) -> Result<Built> {
    let size_kinds: &[Kind] =
        if mode == Mode::Check { &[Kind::Minimal] } else { &[Kind::Minimal, Kind::App] };
    let mut plan: Vec<(&'static Variant, Kind)> = Vec::new();
    for v in variants {
        for &k in size_kinds {
            plan.push((v, k));
        }
    }
    if mode == Mode::Full {
        plan.extend(variants.iter().filter(|v| v.speed).map(|v| (*v, Kind::Bench)));
    }

    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Mutex::new(rx);
    let done = Mutex::new(Vec::new());
    let mut bench = Vec::new();
    let mut talcum_broken: Option<String> = None;
    let outcome = std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let job = match rx.lock() {
                    Ok(r) => match r.recv() {
                        Ok(job) => job,
                        Err(_) => break,
                    },
                    Err(_) => break,
                };
                let suffix = if job.names { "names.wasm" } else { "oz.wasm" };
                let path = paths.target.join("wasm").join(format!(
                    "{}-{}.{suffix}",
                    job.variant.name,
                    job.kind.name()
                ));
                let result = modules::optimise(paths, wasm_opt, &job.raw, &path, job.names);
                let raw = modules::size_of(&job.raw).unwrap_or(0);
                if let Ok(mut d) = done.lock() {
                    d.push(Optimised {
                        variant: job.variant.name,
                        kind: job.kind,
                        names: job.names,
                        raw,
                        path,
                        result,
                    });
                }
            });
        }
        let outcome = (|| {
            for (i, &(v, kind)) in plan.iter().enumerate() {
                let step = format!("[{}/{}]", i + 1, plan.len());
                if v.talcum && talcum_broken.is_some() {
                    eprintln!("{step} skip  {} {} (talcum does not build)", v.name, kind.name());
                    continue;
                }
                let t = Instant::now();
                match modules::build(paths, v, kind) {
                    Ok(raw) => {
                        eprintln!(
                            "{step} built {} {}: {} B raw ({:.1} s)",
                            v.name,
                            kind.name(),
                            modules::size_of(&raw)?,
                            t.elapsed().as_secs_f64()
                        );
                        if kind == Kind::Bench {
                            bench.push((v.name, raw));
                            continue;
                        }
                        let names = mode == Mode::Full && v.name == TALCUM && kind == Kind::Minimal;
                        if names {
                            let job = Job { variant: v, kind, raw: raw.clone(), names: true };
                            tx.send(job).map_err(|_| "wasm-opt workers stopped")?;
                        }
                        let job = Job { variant: v, kind, raw, names: false };
                        tx.send(job).map_err(|_| "wasm-opt workers stopped")?;
                    }
                    Err(e) if v.talcum && mode != Mode::Check => {
                        eprintln!("{step} FAILED {} {}: talcum skipped\n{e}", v.name, kind.name());
                        talcum_broken = Some(first_error(&e));
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })();
        drop(tx);
        outcome
    });
    outcome?;
    let optimised = done.into_inner().map_err(|_| "a wasm-opt worker panicked")?;
    Ok(Built { optimised, bench, talcum_broken })
}

fn git(paths: &Paths, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(&paths.root).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Strips a symbol's `::h<16 hex>` hash.
fn unhash(name: &str) -> &str {
    match name.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            head
        }
        _ => name,
    }
}

/// Splits one CSV line (fields may be quoted, `""` escapes a quote).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

/// Whether a twiggy 0.8 item names a function (rather than a section,
/// header, type, export, data segment or name subsection).
fn is_function(item: &str) -> bool {
    const NOT: [&str; 11] = [
        "type[",
        "table[",
        "memory[",
        "global[",
        "elem[",
        "data[",
        "export \"",
        "import ",
        "custom section ",
        "data segment ",
        "\"",
    ];
    !NOT.iter().any(|p| item.starts_with(p))
        && !item.ends_with(" headers")
        && item != "wasm magic bytes"
        && item != "start function"
}

/// twiggy's ten largest functions of a module built with names.
fn largest_functions(twiggy: &Path, module: &Path) -> Result<Vec<report::FunctionSize>> {
    let out =
        tools::run(Command::new(twiggy).args(["top", "-f", "csv"]).arg(module), "twiggy top")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut rows = Vec::new();
    for line in text.lines().skip(1) {
        let f = csv_fields(line);
        let (Some(name), Some(size), Some(share)) = (f.first(), f.get(1), f.get(2)) else {
            continue;
        };
        if !is_function(name) {
            continue;
        }
        let (Ok(size), Ok(share)) = (size.parse::<u64>(), share.parse::<f64>()) else {
            continue;
        };
        rows.push((size, format!("{share:.1}%"), unhash(name).to_string()));
        if rows.len() == 10 {
            break;
        }
    }
    if rows.is_empty() {
        return Err(format!("twiggy found no functions in {module:?}"));
    }
    Ok(rows)
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The 1-minute load average, for the report (Linux only).
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next().map(str::to_string)
}

fn run(args: &Args) -> Result<bool> {
    let paths = Paths::new()?;
    tools::ensure_wasm32()?;
    let (wasm_opt, wasm_opt_version) = tools::wasm_opt()?;
    let full = args.mode == Mode::Full;
    let node_version = if full { Some(tools::node()?) } else { None };
    let twiggy = if full { Some(tools::twiggy()?) } else { None };

    let variants: Vec<&'static Variant> =
        VARIANTS.iter().filter(|v| args.mode != Mode::Check || v.gate).collect();
    let built = build_all(&paths, &wasm_opt, &variants, args.mode)?;

    let mut notes = Vec::new();
    if let Some(e) = &built.talcum_broken {
        notes.push(format!(
            "**talcum was skipped**: its module does not build yet (`{}`).",
            e.replace('`', "'")
        ));
    }
    let mut opt: BTreeMap<(&str, Kind), Sizes> = BTreeMap::new();
    let mut names_module = None;
    for o in built.optimised {
        let size = o.result?;
        if o.names {
            names_module = Some(o.path);
        } else {
            opt.insert((o.variant, o.kind), Sizes { raw: o.raw, opt: size });
        }
    }

    let versions = modules::locked_versions(&paths);
    let sizes: Vec<SizeRow> = variants
        .iter()
        .map(|v| SizeRow {
            variant: v,
            version: v.krate.and_then(|k| {
                versions.iter().find(|(n, _)| n == k).map(|(n, ver)| format!("{n} {ver}"))
            }),
            minimal: opt.get(&(v.name, Kind::Minimal)).copied(),
            app: opt.get(&(v.name, Kind::App)).copied(),
        })
        .collect();

    let commit = git(&paths, &["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = git(&paths, &["status", "--porcelain", "--", "src", "Cargo.toml"])
        .is_some_and(|s| !s.is_empty());
    let rustc = tools::version_of(Path::new("rustc"), &["-V"]).unwrap_or_default();
    let mut header = vec![
        "Generated by `cargo size-report` (regenerate with the same command).\n".to_string(),
        format!(
            "- talcum: commit {commit}{}",
            if dirty { " with uncommitted changes" } else { "" }
        ),
        format!("- Rust: {rustc}, target `wasm32-unknown-unknown`, the stable toolchain's prebuilt std"),
        "- Profile: opt-level \"z\", fat LTO, codegen-units 1, panic \"abort\", strip \"debuginfo\"".into(),
        format!(
            "- wasm-opt: binaryen {} (npm; `{wasm_opt_version}`), `-Oz`",
            tools::BINARYEN_VERSION
        ),
    ];
    if let Some(n) = &node_version {
        header.push(format!("- Node: {n}"));
    }
    if let Some(load) = load_average() {
        header.push(format!("- Load average (1 min) at the start: {load} on {} CPUs", cpus()));
    }

    let mut report =
        Report { header, sizes, budget_line: None, largest: None, speeds: None, notes };

    // The gate (reported in every mode, enforced by --check).
    let budget = budget::read(&paths.here.join("budget.toml"));
    let talcum_over = report.minimal_over(TALCUM);
    let dl_over =
        [DLMALLOC_STD, DLMALLOC_CRATE].iter().filter_map(|n| report.minimal_over(n)).min();
    let gate_ok = match (&budget, talcum_over, dl_over) {
        (Ok(b), Some(t), Some(d)) => {
            let within = t <= *b as i64 && t < d;
            report.budget_line = Some(format!(
                "Gate: talcum's minimal module adds **{t} B** over the baseline; the budget \
                 (`size-report/budget.toml`) is {b} B and the smaller dlmalloc adds {d} B: {}.",
                if within { "within budget" } else { "**OVER BUDGET**" }
            ));
            within
        }
        (Err(e), _, _) => {
            report.notes.push(format!("No budget: {e}"));
            false
        }
        _ => false,
    };

    if full {
        if let (Some(tw), Some(m)) = (&twiggy, &names_module) {
            let rows = largest_functions(tw, m)?;
            report.largest = Some((
                format!(
                    "twiggy {} `top`, functions only, on talcum's minimal module after \
                     `wasm-opt -Oz -g` (names kept; hashes dropped):",
                    tools::TWIGGY_VERSION
                ),
                rows,
            ));
        }
        eprintln!("size-report: timing {} allocators in Node", built.bench.len());
        let speeds = speed::run(&paths, &built.bench, args.runs)?;
        let points: Vec<Point> = report
            .sizes
            .iter()
            .filter_map(|row| {
                let x = report.minimal_over(row.variant.name)?;
                let y = speeds.get(row.variant.name)?.get("random")?.per_us();
                Some(Point {
                    label: row.variant.name.to_string(),
                    x: x as f64,
                    y,
                    talcum: row.variant.talcum,
                })
            })
            .collect();
        report.speeds = Some((speeds, args.runs));
        let svg = report::chart(&points);
        let md = report::markdown(&report);
        print!("{md}");
        for (file, text) in [("REPORT.md", &md), ("chart.svg", &svg)] {
            let path = paths.here.join(file);
            std::fs::write(&path, text).map_err(|e| format!("write {path:?}: {e}"))?;
        }
        eprintln!("size-report: wrote size-report/REPORT.md and size-report/chart.svg");
    } else {
        print!("{}", report::markdown(&report));
    }

    if args.mode == Mode::Check {
        if let Some(e) = &built.talcum_broken {
            return Err(format!("talcum does not build: {e}"));
        }
        match (talcum_over, &budget) {
            (Some(t), Ok(b)) if gate_ok => {
                eprintln!("size-report: gate passed: talcum adds {t} B (budget {b} B)");
            }
            _ => {
                eprintln!("size-report: gate FAILED (see the Gate line above)");
                return Ok(false);
            }
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes() {
        assert_eq!(
            csv_fields(r#""""function names"" subsection",799,21.6,,"#),
            ["\"function names\" subsection", "799", "21.6", "", ""]
        );
        assert_eq!(csv_fields("a<b, c>::f,10,1"), ["a<b", " c>::f", "10", "1"]);
    }

    #[test]
    fn functions_and_others() {
        assert!(is_function("talcum::talc::Talc<O>::malloc::h68ef284cef6b1b76"));
        assert!(is_function("realloc"));
        assert!(is_function("<T as core::any::Any>::type_id"));
        assert!(!is_function("\"function names\" subsection"));
        assert!(!is_function("custom section 'producers'"));
        assert!(!is_function("data segment \".rodata\""));
        assert!(!is_function("type[5]: (i32, i32, i32, i32) -> i32"));
        assert!(!is_function("code section headers"));
        assert!(!is_function("export \"alloc\""));
    }

    #[test]
    fn hashes_go() {
        assert_eq!(unhash("a::b::h68ef284cef6b1b76"), "a::b");
        assert_eq!(unhash("a::hello"), "a::hello");
    }
}
