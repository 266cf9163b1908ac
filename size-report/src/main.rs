//! `cargo size-report`: the size, speed and memory of talcum against
//! dlmalloc, talc, rlsf, lol_alloc and wasmalloc on `wasm32-unknown-unknown`.
//!
//! 1. Size: builds `size-report/module` once per allocator and module kind
//!    (`minimal`, `app`) with a size profile, runs `wasm-opt -Oz`, and
//!    compares each with the null-allocator baseline; twiggy lists talcum's
//!    largest functions.
//! 2. Speed: builds the bench module per allocator at opt-level 3 and "z",
//!    verifies every workload's blocks byte by byte, then times the
//!    workloads in Node (`bench.mjs`) against a floor (a bump allocator) and
//!    records the memory each allocator grew. Zeroed allocation is timed at
//!    first touch: one call per brand-new instance.
//! 3. Memory: the same verification runs track `memory.grow` calls and the
//!    heap at the peak of live bytes; the memory patterns of issue 14 run
//!    there, untimed. The programs module (real programs on well-known
//!    crates, one build per allocator) runs each program ten times on a
//!    fresh instance.
//! 4. Prints a Markdown report, writes it to `size-report/REPORT.md`, and
//!    draws `size-report/chart.svg` (size against speed) and
//!    `size-report/memory.svg` (the programs' memory against dlmalloc's).
//!
//! `--check` builds the minimal modules of the baseline, talcum and
//! dlmalloc only, and fails when talcum adds more than `budget.toml` allows
//! or as much as dlmalloc does. `--size-only` reports sizes without timing.
//! `--only`, `--alloc` and `--profile` narrow a run for quick iteration; a
//! narrowed run prints its report and writes no file.

mod budget;
mod modules;
mod programs;
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
use variants::{
    Kind, Profile, Variant, BASELINE, DLMALLOC_CRATE, DLMALLOC_STD, FAST, FLOOR, TALCUM, TINY,
    VARIANTS,
};

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
    rounds: usize,
    reps: usize,
    /// Workload and program names (`--only`).
    only: Option<Vec<String>>,
    /// Allocator names (`--alloc`); the floor and dlmalloc are added.
    allocs: Option<Vec<String>>,
    profiles: Vec<Profile>,
}

impl Args {
    /// A narrowed run: prints its report, writes no file.
    fn partial(&self) -> bool {
        self.only.is_some() || self.allocs.is_some() || self.profiles.len() < Profile::ALL.len()
    }

    /// Whether a workload or program named `name` runs.
    fn runs(&self, name: &str) -> bool {
        self.only.as_ref().is_none_or(|o| o.iter().any(|n| n == name))
    }

    /// The workloads this run times or verifies.
    fn workloads(&self) -> Vec<&'static speed::Workload> {
        speed::WORKLOADS.iter().filter(|w| self.runs(w.name)).collect()
    }

    /// The programs this run runs.
    fn programs(&self) -> Vec<&'static programs::Program> {
        programs::PROGRAMS.iter().filter(|p| self.runs(p.name)).collect()
    }

    fn wants(&self, v: &Variant) -> bool {
        match &self.allocs {
            None => true,
            Some(names) => {
                names.iter().any(|n| n == v.name)
                    || [BASELINE, FLOOR, DLMALLOC_CRATE].contains(&v.name)
            }
        }
    }
}

const USAGE: &str = "\
usage: cargo size-report [--check | --size-only] [--runs N] [--reps K]
                         [--only W,..] [--alloc A,..] [--profile z|o3]

  (no flag)    sizes, speed and memory; writes size-report/REPORT.md and chart.svg
  --size-only  sizes only (stdout; REPORT.md is left alone)
  --check      the CI gate: minimal-module sizes of the baseline, talcum and
               dlmalloc; exits 1 when talcum adds more bytes over the baseline
               than size-report/budget.toml allows, or as many as dlmalloc
  --runs N     timing rounds (default 9): each round runs every workload on a
               fresh instance per allocator, two untimed calls, then K timed
               batches of calls (each batch at least 10 ms of CPU); a
               first-touch workload (zeroed) instead K brand-new instances
               with one timed call each
  --reps K     timed batches per instance and round (default 3), or
               first-touch instances per round
  --only W,..  these workloads and programs only (names as in the report)
  --alloc A,.. these allocators only (the floor and dlmalloc come too)
  --profile P  time the bench modules built at opt-level P only (z or o3)

A run narrowed by --only, --alloc or --profile prints its report and writes
no file. Node's raw output is kept in target/size-report/bench-out.txt.
Tools go to $TALCUM_TOOLS or $HOME/.cache/talcum-tools (installed when missing).";

fn number(it: &mut impl Iterator<Item = String>, flag: &str) -> Result<usize> {
    let n = it.next().ok_or_else(|| format!("{flag} needs a number"))?;
    n.parse().ok().filter(|&n| n > 0).ok_or_else(|| format!("{flag}: not a positive number: {n}"))
}

fn names(it: &mut impl Iterator<Item = String>, flag: &str, known: &[&str]) -> Result<Vec<String>> {
    let list = it.next().ok_or_else(|| format!("{flag} needs a comma-separated list"))?;
    let names: Vec<String> = list.split(',').map(str::trim).map(String::from).collect();
    if let Some(bad) = names.iter().find(|n| !known.contains(&n.as_str())) {
        return Err(format!("{flag}: unknown name {bad:?}; known: {}", known.join(", ")));
    }
    Ok(names)
}

fn parse_args() -> Result<Option<Args>> {
    let mut args = Args {
        mode: Mode::Full,
        rounds: 9,
        reps: 3,
        only: None,
        allocs: None,
        profiles: Profile::ALL.to_vec(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--check" => args.mode = Mode::Check,
            "--size-only" => args.mode = Mode::SizeOnly,
            "--runs" => args.rounds = number(&mut it, "--runs")?,
            "--reps" => args.reps = number(&mut it, "--reps")?,
            "--only" => {
                let known: Vec<&str> = speed::WORKLOADS
                    .iter()
                    .map(|w| w.name)
                    .chain(programs::PROGRAMS.iter().map(|p| p.name))
                    .collect();
                args.only = Some(names(&mut it, "--only", &known)?);
            }
            "--alloc" => {
                let known: Vec<&str> = VARIANTS.iter().map(|v| v.name).collect();
                args.allocs = Some(names(&mut it, "--alloc", &known)?);
            }
            "--profile" => {
                let p = it.next().ok_or("--profile needs z or o3")?;
                args.profiles =
                    vec![Profile::parse(&p)
                        .ok_or_else(|| format!("--profile: z or o3, not {p:?}"))?];
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
    bench: Vec<(&'static str, Profile, PathBuf)>,
    programs: Vec<(&'static str, PathBuf)>,
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
    args: &Args,
) -> Result<Built> {
    let mode = args.mode;
    let size_kinds: &[Kind] =
        if mode == Mode::Check { &[Kind::Minimal] } else { &[Kind::Minimal, Kind::App] };
    let mut plan: Vec<(&'static Variant, Kind, Profile)> = Vec::new();
    for v in variants.iter().filter(|v| v.sizes) {
        for &k in size_kinds {
            plan.push((v, k, Profile::Z));
        }
    }
    if mode == Mode::Full && !args.programs().is_empty() {
        // The programs modules first: no LTO, seconds each.
        plan.extend(
            variants.iter().filter(|v| v.programs).map(|v| (*v, Kind::Programs, Profile::Z)),
        );
    }
    if mode == Mode::Full && !args.workloads().is_empty() {
        for &p in &args.profiles {
            plan.extend(
                variants
                    .iter()
                    .filter(|v| v.speed && (p == Profile::Z || v.o3))
                    .map(|v| (*v, Kind::Bench, p)),
            );
        }
    }

    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Mutex::new(rx);
    let done = Mutex::new(Vec::new());
    let mut bench = Vec::new();
    let mut programs = Vec::new();
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
            for (i, &(v, kind, profile)) in plan.iter().enumerate() {
                let step = format!("[{}/{}]", i + 1, plan.len());
                if v.talcum && talcum_broken.is_some() {
                    eprintln!("{step} skip  {} {} (talcum does not build)", v.name, kind.name());
                    continue;
                }
                let t = Instant::now();
                match modules::build(paths, v, kind, profile) {
                    Ok(raw) => {
                        eprintln!(
                            "{step} built {} {} ({}): {} B raw ({:.1} s)",
                            v.name,
                            kind.name(),
                            profile.name(),
                            modules::size_of(&raw)?,
                            t.elapsed().as_secs_f64()
                        );
                        if kind == Kind::Bench {
                            bench.push((v.name, profile, raw));
                            continue;
                        }
                        if kind == Kind::Programs {
                            programs.push((v.name, raw));
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
    Ok(Built { optimised, bench, programs, talcum_broken })
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

/// Clock ticks since boot: (busy, total) over all CPUs, from /proc/stat.
fn machine_ticks() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0);
    Some((total - idle, total))
}

/// CPU ticks of this process's waited-for children (user + system), from
/// /proc/self/stat.
fn children_ticks() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces): state is field
    // 3, cutime and cstime are fields 16 and 17.
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(13)?.parse::<u64>().ok()? + f.get(14)?.parse::<u64>().ok()?)
}

/// How many CPUs other processes kept busy, on average, between two
/// readings of (machine ticks, children's ticks) around the timing.
fn others_busy(before: Option<((u64, u64), u64)>, after: Option<((u64, u64), u64)>) -> Option<f64> {
    let (((b0, t0), c0), ((b1, t1), c1)) = (before?, after?);
    let elapsed = (t1 - t0) as f64 / cpus() as f64;
    (elapsed > 0.0).then(|| (b1 - b0).saturating_sub(c1 - c0) as f64 / elapsed)
}

fn snapshot() -> Option<((u64, u64), u64)> {
    Some((machine_ticks()?, children_ticks()?))
}

fn run(args: &Args) -> Result<bool> {
    let load_at_start = load_average();
    let paths = Paths::new()?;
    tools::ensure_wasm32()?;
    let (wasm_opt, wasm_opt_version) = tools::wasm_opt()?;
    let full = args.mode == Mode::Full;
    let node_version = if full { Some(tools::node()?) } else { None };
    let twiggy = if full { Some(tools::twiggy()?) } else { None };

    let variants: Vec<&'static Variant> = VARIANTS
        .iter()
        .filter(|v| if args.mode == Mode::Check { v.gate } else { args.wants(v) })
        .collect();
    let built = build_all(&paths, &wasm_opt, &variants, args)?;

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
        .filter(|v| v.sizes)
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
    if let Some(load) = &load_at_start {
        header.push(format!("- Load average (1 min) at the start: {load} on {} CPUs", cpus()));
    }
    if full {
        header.push(
            "- Bench modules: opt-level 3 (wasm-pack's default: fat LTO, codegen-units 1) and \
             opt-level \"z\", no wasm-opt"
                .into(),
        );
    }

    let mut report = Report { header, sizes, budget_line: None, largest: None, speed: None, notes };

    // The gate (reported in every mode, enforced by --check).
    let budget = budget::read(&paths.here.join("budget.toml"));
    let talcum_over = report.minimal_over(TALCUM);
    let dl_over =
        [DLMALLOC_STD, DLMALLOC_CRATE].iter().filter_map(|n| report.minimal_over(n)).min();
    let tiny_over = report.minimal_over(TINY);
    let fast_over = report.minimal_over(FAST);
    let gate_ok = match (&budget, talcum_over, dl_over, tiny_over, fast_over) {
        (Ok(b), Some(t), Some(d), Some(tt), Some(tf)) => {
            let within = t <= b.default as i64 && t < d;
            let tiny_within = tt <= b.tiny as i64;
            let fast_within = tf <= b.fast as i64;
            let verdict = |ok: bool| if ok { "within budget" } else { "**OVER BUDGET**" };
            report.budget_line = Some(format!(
                "Gate: talcum's minimal module adds **{t} B** over the baseline; the budget \
                 (`size-report/budget.toml`) is {} B and the smaller dlmalloc adds {d} B: {}. \
                 With feature `tiny`: **{tt} B**, budget {} B: {}. With feature `fast`: \
                 **{tf} B**, budget {} B: {}.",
                b.default,
                verdict(within),
                b.tiny,
                verdict(tiny_within),
                b.fast,
                verdict(fast_within),
            ));
            within && tiny_within && fast_within
        }
        (Err(e), ..) => {
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
        eprintln!(
            "size-report: running {} programs modules and timing {} bench modules in Node",
            built.programs.len(),
            built.bench.len()
        );
        let plan = speed::Plan {
            rounds: args.rounds,
            reps: args.reps,
            cap_us: 500_000,
            batch_us: 10_000,
            limit_ms: 8_000,
            program_limit_ms: 30_000,
            workloads: args.workloads(),
            programs: args.programs(),
            runs: programs::RUNS,
        };
        let before = snapshot();
        let timing_started = Instant::now();
        let (speeds, progs) = speed::run(&paths, &built.bench, &built.programs, &plan)?;
        let others = others_busy(before, snapshot());
        eprintln!(
            "size-report: timed in {:.0} s; other processes kept {} CPUs busy meanwhile",
            timing_started.elapsed().as_secs_f64(),
            others.map_or("an unknown number of".into(), |o| format!("{o:.2}"))
        );
        let load_at_end = load_average();
        if let Some(load) = &load_at_end {
            report.header.push(format!("- Load average (1 min) at the end: {load}"));
        }
        if let Some(o) = others {
            report.header.push(format!(
                "- While the bench ran, other processes kept {o:.2} of the {} CPUs busy on average",
                cpus()
            ));
        }
        // Busy: others took a quarter of a CPU or more (the bench itself
        // needs one, and V8 a little more).
        let busy = others
            .filter(|&o| o >= 0.25)
            .map(|o| format!("other processes kept {o:.2} of {} CPUs busy while it ran", cpus()));
        let z = speeds.get(&Profile::Z).or_else(|| speeds.values().next());
        let points: Vec<Point> = report
            .sizes
            .iter()
            .filter_map(|row| {
                let x = report.minimal_over(row.variant.name)?;
                let y = z?.get(row.variant.name)?.get("random")?.per_us()?;
                Some(Point {
                    label: row.variant.name.to_string(),
                    x: x as f64,
                    y,
                    talcum: row.variant.talcum,
                })
            })
            .collect();
        report.speed = Some(report::SpeedRun {
            speeds,
            rounds: plan.rounds,
            reps: plan.reps,
            cap_us: plan.cap_us,
            batch_us: plan.batch_us,
            limit_ms: plan.limit_ms,
            program_limit_ms: plan.program_limit_ms,
            workloads: plan.workloads,
            programs: progs,
            program_list: plan.programs,
            runs: plan.runs,
            busy,
        });
        let md = report::markdown(&report);
        print!("{md}");
        if args.partial() {
            eprintln!("size-report: a narrowed run: REPORT.md and the charts left alone");
        } else {
            let svg = report::chart(&points);
            let memory_svg = report.speed.as_ref().map(report::memory_chart).unwrap_or_default();
            for (file, text) in
                [("REPORT.md", &md), ("chart.svg", &svg), ("memory.svg", &memory_svg)]
            {
                if text.is_empty() {
                    continue;
                }
                let path = paths.here.join(file);
                std::fs::write(&path, text).map_err(|e| format!("write {path:?}: {e}"))?;
            }
            eprintln!("size-report: wrote size-report/REPORT.md, chart.svg and memory.svg");
        }
    } else {
        print!("{}", report::markdown(&report));
    }

    if args.mode == Mode::Check {
        if let Some(e) = &built.talcum_broken {
            return Err(format!("talcum does not build: {e}"));
        }
        match (talcum_over, tiny_over, fast_over, &budget) {
            (Some(t), Some(tt), Some(tf), Ok(b)) if gate_ok => {
                eprintln!(
                    "size-report: gate passed: talcum adds {t} B (budget {} B), tiny {tt} B \
                     (budget {} B), fast {tf} B (budget {} B)",
                    b.default, b.tiny, b.fast
                );
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
